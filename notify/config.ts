/**
 * The `notify` section of the config: channels (generic webhook with
 * Slack, Discord, Mattermost and Matrix presets, ntfy, Gotify, Telegram,
 * email over SMTP, syslog), each with its routing (minimum severity, alert
 * types, sources or home devices, appliance events) and its spam controls
 * (rate limit, digest window, quiet hours, daily summary). Values come from
 * a file or the dashboard: everything is validated with messages naming the
 * field, control characters are refused (no header or line injection), and
 * secrets are masked for every view ({@link maskChannel}).
 *
 * @module
 */
import { ALERT_TYPES, type AlertType } from "../alerts/mod.ts";
import {
  APPLIANCE_EVENT_TYPES,
  type ApplianceEventType,
} from "../common/appliance_event.ts";
import { ConfigError } from "../common/errors.ts";
import {
  bool,
  cidr,
  duration,
  int,
  isRecord,
  list,
  oneOf,
  record,
  show,
  text,
} from "../common/validate.ts";
import type { Cidr } from "../decode/mod.ts";

/** Channel kinds. */
export const CHANNEL_KINDS = [
  "webhook",
  "ntfy",
  "gotify",
  "telegram",
  "email",
  "syslog",
] as const;

/** One channel kind. */
export type ChannelKind = typeof CHANNEL_KINDS[number];

/** Body shapes of the generic webhook. */
export const WEBHOOK_PRESETS = [
  "generic",
  "slack",
  "discord",
  "mattermost",
  "matrix",
] as const;

/** One webhook preset. */
export type WebhookPreset = typeof WEBHOOK_PRESETS[number];

/** What the mask of a set secret looks like in every view. */
export const SECRET_MASK = "********";

/** Most channels in a config. */
export const MAX_CHANNELS = 32;

/** Which alerts and events a channel gets. */
export interface ChannelRoute {
  /** Alerts of this severity or more severe (1 high … 4 info). */
  min_severity: 1 | 2 | 3 | 4;
  /** Only these alert types; empty: every type. */
  types: AlertType[];
  /** Only alerts whose source is in one of these; empty: any. */
  sources: Cidr[];
  /** Only alerts whose source or target is one of these devices; empty: any. */
  devices: Cidr[];
  /** Appliance events this channel gets. */
  events: ApplianceEventType[];
}

/** How a channel stays quiet. */
export interface ChannelPacing {
  /** At most this many messages … */
  rate_messages: number;
  /** … per this many seconds. */
  rate_per_s: number;
  /** Alerts within this many seconds become one message (0: at once). */
  digest_s: number;
  /** Quiet hours in local time, minutes after midnight; null: none. */
  quiet:
    | { from_min: number; to_min: number; min_severity: 1 | 2 | 3 | 4 }
    | null;
  /** Hour (local, 0–23) of the daily summary; null: none. */
  summary_hour: number | null;
  /** Send only the daily summary, no single alerts or events. */
  summary_only: boolean;
}

/** Kind-specific settings (secrets included: mask before showing). */
export type ChannelTarget =
  | {
    kind: "webhook";
    url: string;
    preset: WebhookPreset;
    /** HMAC-SHA256 key of `X-NetSentinel-Signature`; null: unsigned. */
    secret: string | null;
  }
  | { kind: "ntfy"; url: string; topic: string; token: string | null }
  | { kind: "gotify"; url: string; token: string }
  | { kind: "telegram"; url: string; token: string; chat_id: string }
  | {
    kind: "email";
    host: string;
    port: number;
    /** "starttls" (port 587), "tls" (implicit, port 465) or "none". */
    security: "starttls" | "tls" | "none";
    username: string | null;
    password: string | null;
    from: string;
    to: string[];
    /** PEM file of a private CA to trust; null: the system's. */
    ca: string | null;
  }
  | {
    kind: "syslog";
    host: string;
    port: number;
    transport: "udp" | "tcp" | "tls";
    /** RFC 5424 facility number (0–23; default 4, security). */
    facility: number;
    app_name: string;
    ca: string | null;
  };

/** One validated channel. */
export interface ChannelConfig {
  /** Stable id ([a-z0-9_-], up to 32), names it in the API and KV. */
  id: string;
  name: string;
  enabled: boolean;
  target: ChannelTarget;
  route: ChannelRoute;
  pacing: ChannelPacing;
}

/** The validated `notify` section. */
export interface NotifyConfig {
  /** The dashboard's address as users reach it, for links in messages; null: no links. */
  public_url: string | null;
  /** Warn (disk_almost_full) when the data directory's free space falls below this percent. */
  disk_free_percent: number;
  channels: ChannelConfig[];
}

/** Secret fields of each kind (masked in views, never logged). */
export const SECRET_FIELDS: Readonly<Record<ChannelKind, readonly string[]>> = {
  webhook: ["secret", "url"],
  ntfy: ["token"],
  gotify: ["token"],
  telegram: ["token"],
  email: ["password"],
  syslog: [],
};

const KIND_FIELDS: Readonly<Record<ChannelKind, readonly string[]>> = {
  webhook: ["url", "preset", "secret"],
  ntfy: ["url", "topic", "token"],
  gotify: ["url", "token"],
  telegram: ["url", "token", "chat_id"],
  email: [
    "host",
    "port",
    "security",
    "username",
    "password",
    "from",
    "to",
    "ca",
  ],
  syslog: ["host", "port", "transport", "facility", "app_name", "ca"],
};

const COMMON_FIELDS = [
  "id",
  "name",
  "kind",
  "enabled",
  "route",
  "rate_limit",
  "digest",
  "quiet_hours",
  "daily_summary",
] as const;

/** Text without control characters (CR, LF, NUL …): no header or line injection. */
function clean(
  v: unknown,
  field: string,
  fallback?: string,
  max = 256,
): string {
  const s = text(v, field, fallback, max);
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) {
    throw new ConfigError(field, "must not hold control characters");
  }
  return s;
}

function optClean(v: unknown, field: string, max = 256): string | null {
  if (v === undefined || v === null || v === "") return null;
  return clean(v, field, undefined, max);
}

/** An http(s) URL without credentials in it; returned normalised. */
export function httpUrl(v: unknown, field: string, fallback?: string): string {
  const s = clean(v, field, fallback, 2048).trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(field, `${show(s)} is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError(
      field,
      `expected an http or https URL, got ${show(s)}`,
    );
  }
  if (u.username !== "" || u.password !== "") {
    throw new ConfigError(
      field,
      "must not hold a user name or password (use the channel's token field)",
    );
  }
  return u.href;
}

function hostName(v: unknown, field: string): string {
  const s = clean(v, field, undefined, 253).trim();
  if (
    !/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*\.?$|^\[?[0-9A-Fa-f:.]+\]?$/
      .test(s)
  ) {
    throw new ConfigError(field, `${show(s)} is not a host name or address`);
  }
  return s.replace(/^\[|\]$/g, "");
}

function mailAddr(v: unknown, field: string): string {
  const s = clean(v, field, undefined, 254).trim();
  if (!/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/.test(s)) {
    throw new ConfigError(field, `${show(s)} is not an email address`);
  }
  return s;
}

function severity(
  v: unknown,
  field: string,
  fallback: 1 | 2 | 3 | 4,
): 1 | 2 | 3 | 4 {
  return int(v, field, fallback, { min: 1, max: 4 }) as 1 | 2 | 3 | 4;
}

/** "HH:MM" as minutes after midnight. */
function clock(v: unknown, field: string): number {
  const s = clean(v, field, undefined, 5);
  const m = /^(\d{1,2}):(\d{2})$/.exec(s);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) {
    throw new ConfigError(
      field,
      `expected a time "HH:MM" such as "22:00", got ${show(s)}`,
    );
  }
  return Number(m[1]) * 60 + Number(m[2]);
}

function parseTarget(
  kind: ChannelKind,
  o: Record<string, unknown>,
  f: string,
): ChannelTarget {
  switch (kind) {
    case "webhook":
      return {
        kind,
        url: httpUrl(o.url, `${f}.url`),
        preset: oneOf(o.preset, `${f}.preset`, WEBHOOK_PRESETS, "generic"),
        secret: optClean(o.secret, `${f}.secret`, 512),
      };
    case "ntfy": {
      const topic = clean(o.topic, `${f}.topic`, undefined, 64);
      if (!/^[\w-]{1,64}$/.test(topic)) {
        throw new ConfigError(
          `${f}.topic`,
          "may hold letters, digits, - and _ (1 to 64)",
        );
      }
      return {
        kind,
        url: httpUrl(o.url, `${f}.url`, "https://ntfy.sh/"),
        topic,
        token: optClean(o.token, `${f}.token`, 512),
      };
    }
    case "gotify":
      return {
        kind,
        url: httpUrl(o.url, `${f}.url`),
        token: clean(o.token, `${f}.token`, undefined, 512),
      };
    case "telegram": {
      const token = clean(o.token, `${f}.token`, undefined, 256);
      if (!/^\d{1,20}:[\w-]{10,200}$/.test(token)) {
        throw new ConfigError(
          `${f}.token`,
          'expected a bot token such as "123456:ABC-DEF…"',
        );
      }
      const chat =
        typeof o.chat_id === "number" && Number.isSafeInteger(o.chat_id)
          ? String(o.chat_id)
          : clean(o.chat_id, `${f}.chat_id`, undefined, 64);
      if (!/^(-?\d{1,20}|@\w{4,60})$/.test(chat)) {
        throw new ConfigError(
          `${f}.chat_id`,
          'expected a chat id (a number) or "@channelname"',
        );
      }
      return {
        kind,
        url: httpUrl(o.url, `${f}.url`, "https://api.telegram.org/"),
        token,
        chat_id: chat,
      };
    }
    case "email": {
      const security = oneOf(
        o.security,
        `${f}.security`,
        ["starttls", "tls", "none"] as const,
        "starttls",
      );
      return {
        kind,
        host: hostName(o.host, `${f}.host`),
        port: int(o.port, `${f}.port`, security === "tls" ? 465 : 587, {
          min: 1,
          max: 65535,
        }),
        security,
        username: optClean(o.username, `${f}.username`),
        password: optClean(o.password, `${f}.password`, 512),
        from: mailAddr(o.from, `${f}.from`),
        to: list(o.to, `${f}.to`, undefined, mailAddr, 20),
        ca: optClean(o.ca, `${f}.ca`, 1024),
      };
    }
    case "syslog": {
      const app = clean(o.app_name, `${f}.app_name`, "netsentinel", 48);
      if (!/^[\x21-\x7e]{1,48}$/.test(app)) {
        throw new ConfigError(
          `${f}.app_name`,
          "may hold printable ASCII without spaces (RFC 5424 APP-NAME)",
        );
      }
      const transport = oneOf(
        o.transport,
        `${f}.transport`,
        ["udp", "tcp", "tls"] as const,
        "udp",
      );
      return {
        kind,
        host: hostName(o.host, `${f}.host`),
        port: int(o.port, `${f}.port`, transport === "tls" ? 6514 : 514, {
          min: 1,
          max: 65535,
        }),
        transport,
        facility: int(o.facility, `${f}.facility`, 4, { min: 0, max: 23 }),
        app_name: app,
        ca: optClean(o.ca, `${f}.ca`, 1024),
      };
    }
    default: {
      const never: never = kind;
      throw new ConfigError(`${f}.kind`, `unknown kind ${show(never)}`);
    }
  }
}

function parseRoute(v: unknown, f: string): ChannelRoute {
  const r = record(v, f, [
    "min_severity",
    "types",
    "sources",
    "devices",
    "events",
  ]);
  return {
    min_severity: severity(r.min_severity, `${f}.min_severity`, 2),
    types: list(
      r.types,
      `${f}.types`,
      [],
      (x, at) => oneOf(x, at, ALERT_TYPES),
      64,
    ),
    sources: list(r.sources, `${f}.sources`, [], cidr, 256),
    devices: list(r.devices, `${f}.devices`, [], cidr, 256),
    events: list(
      r.events,
      `${f}.events`,
      [...APPLIANCE_EVENT_TYPES],
      (x, at) => oneOf(x, at, APPLIANCE_EVENT_TYPES),
      16,
    ),
  };
}

function parsePacing(o: Record<string, unknown>, f: string): ChannelPacing {
  const rl = record(o.rate_limit, `${f}.rate_limit`, ["messages", "per"]);
  let quiet: ChannelPacing["quiet"] = null;
  if (o.quiet_hours !== undefined && o.quiet_hours !== null) {
    const q = record(o.quiet_hours, `${f}.quiet_hours`, [
      "from",
      "to",
      "min_severity",
    ]);
    quiet = {
      from_min: clock(q.from, `${f}.quiet_hours.from`),
      to_min: clock(q.to, `${f}.quiet_hours.to`),
      min_severity: severity(
        q.min_severity,
        `${f}.quiet_hours.min_severity`,
        1,
      ),
    };
  }
  let summaryHour: number | null = null;
  let summaryOnly = false;
  if (o.daily_summary !== undefined && o.daily_summary !== null) {
    const d = record(o.daily_summary, `${f}.daily_summary`, ["hour", "only"]);
    summaryHour = int(d.hour, `${f}.daily_summary.hour`, 8, {
      min: 0,
      max: 23,
    });
    summaryOnly = bool(d.only, `${f}.daily_summary.only`, false);
  }
  return {
    rate_messages: int(rl.messages, `${f}.rate_limit.messages`, 12, {
      min: 1,
      max: 1000,
    }),
    rate_per_s: duration(rl.per, `${f}.rate_limit.per`, 3600, {
      min: 60,
      max: 86400,
    }),
    digest_s: duration(o.digest, `${f}.digest`, 60, { min: 0, max: 86400 }),
    quiet,
    summary_hour: summaryHour,
    summary_only: summaryOnly,
  };
}

/**
 * Validates one channel (`f` is its field path, such as `notify.channels[0]`).
 * Throws a ConfigError naming the field.
 */
export function parseChannel(input: unknown, f: string): ChannelConfig {
  if (!isRecord(input)) {
    throw new ConfigError(f, `expected an object, got ${show(input)}`);
  }
  const kind = oneOf(input.kind, `${f}.kind`, CHANNEL_KINDS);
  const o = record(input, f, [...COMMON_FIELDS, ...KIND_FIELDS[kind]]);
  const id = clean(o.id, `${f}.id`, undefined, 32);
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(id)) {
    throw new ConfigError(
      `${f}.id`,
      "may hold a-z, 0-9, - and _ (1 to 32, starting with a letter or digit)",
    );
  }
  return {
    id,
    name: clean(o.name, `${f}.name`, id, 64),
    enabled: bool(o.enabled, `${f}.enabled`, true),
    target: parseTarget(kind, o, f),
    route: parseRoute(o.route, `${f}.route`),
    pacing: parsePacing(o, f),
  };
}

/**
 * Validates the `notify` section (absent: no channels). Channel ids must be
 * unique.
 */
export function parseNotifyConfig(input: unknown): NotifyConfig {
  const o = record(input, "notify", [
    "public_url",
    "disk_free_percent",
    "channels",
  ]);
  const channels = list(
    o.channels,
    "notify.channels",
    [],
    parseChannel,
    MAX_CHANNELS,
  );
  const seen = new Set<string>();
  channels.forEach((c, i) => {
    if (seen.has(c.id)) {
      throw new ConfigError(
        `notify.channels[${i}].id`,
        `"${c.id}" is used by another channel`,
      );
    }
    seen.add(c.id);
  });
  return {
    public_url: publicUrl(o.public_url),
    disk_free_percent: int(
      o.disk_free_percent,
      "notify.disk_free_percent",
      10,
      { min: 0, max: 90 },
    ),
    channels,
  };
}

/** The dashboard's public address: an http(s) URL without query or fragment. */
function publicUrl(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const u = httpUrl(v, "notify.public_url");
  if (u.includes("?") || u.includes("#")) {
    throw new ConfigError(
      "notify.public_url",
      'expected the dashboard\'s address such as "https://box:8080/", without ? or #',
    );
  }
  return u;
}

/** The secrets of a channel as written (to redact from errors and logs). */
export function channelSecrets(c: ChannelConfig): string[] {
  const t = c.target as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const k of SECRET_FIELDS[c.target.kind]) {
    const v = t[k];
    if (typeof v === "string" && v !== "") {
      out.push(v);
      if (k === "url") {
        const u = new URL(v);
        if (u.pathname.length > 1) out.push(u.pathname.slice(1));
      }
    }
  }
  return out;
}

function secretFields(kind: unknown): readonly string[] {
  return typeof kind === "string" && Object.hasOwn(SECRET_FIELDS, kind)
    ? SECRET_FIELDS[kind as ChannelKind]
    : [];
}

/** How a secret is shown: the mask, or for a URL its origin and the mask. */
export function maskValue(field: string, v: string): string {
  if (field === "url") {
    try {
      const u = new URL(v);
      return u.pathname.length > 1 || u.search !== ""
        ? `${u.origin}/${SECRET_MASK}`
        : u.href;
    } catch {
      return SECRET_MASK;
    }
  }
  return SECRET_MASK;
}

/**
 * A channel document (as written in the config file) with its secrets
 * masked: what the API and the dashboard show.
 */
export function maskChannel(
  doc: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...doc };
  for (const k of secretFields(doc.kind)) {
    const v = out[k];
    if (typeof v === "string" && v !== "") out[k] = maskValue(k, v);
  }
  return out;
}

/**
 * A channel document from the dashboard merged with the stored one: a
 * secret field sent back masked (or left out) keeps the stored value, so
 * editing a channel never needs its secrets again.
 */
export function keepSecrets(
  input: Record<string, unknown>,
  stored: Record<string, unknown> | null,
): Record<string, unknown> {
  if (stored === null || stored.kind !== input.kind) return input;
  const out = { ...input };
  for (const k of secretFields(input.kind)) {
    const old = stored[k];
    if (typeof old !== "string") continue;
    if (out[k] === undefined || out[k] === maskValue(k, old)) out[k] = old;
  }
  return out;
}
