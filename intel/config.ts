/**
 * The `intel` section of the config: the feeds (name, URL or local path,
 * format, indicator kind, severity, whether a match may block, update
 * interval) and the limits every update respects. Without a `feeds` key the
 * suggested defaults below are in force (a first start has them); `"feeds":
 * []` turns them all off.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import {
  bool,
  duration,
  int,
  isRecord,
  list,
  oneOf,
  optText,
  record,
  show,
  text,
} from "../common/validate.ts";
import {
  FEED_FORMATS,
  type FeedFormat,
  FORMAT_KIND,
  INDICATOR_KINDS,
  type IndicatorKind,
} from "./formats.ts";

/** One feed as configured. */
export interface FeedConfig {
  /** Short name: file name in the data directory, label in alerts and metrics. */
  readonly name: string;
  /** Where it is downloaded from (http or https), or null for a local file. */
  readonly url: string | null;
  /** A local file read instead of a URL, or null. */
  readonly path: string | null;
  readonly format: FeedFormat;
  readonly kind: IndicatorKind;
  /** `csv`: the 1-based column of the indicator. */
  readonly column: number;
  /** Severity of an outbound match (1 high … 4); inbound is one lower. */
  readonly severity: 1 | 2 | 3 | 4;
  /** True: a match may block the listed remote address (per `blocking`). */
  readonly block: boolean;
  /** Seconds between updates. */
  readonly interval_s: number;
  /** False: configured but not loaded. */
  readonly enabled: boolean;
  /** The publisher's page (shown on alerts and the Intel page). */
  readonly link: string | null;
  /** The licence of the data, as the publisher states it. */
  readonly licence: string | null;
}

/** The validated `intel` section. */
export interface IntelConfig {
  /** False: no feed is loaded or matched. */
  readonly enabled: boolean;
  /** False: feeds are never downloaded on their schedule (`intel update` still works). */
  readonly update: boolean;
  readonly feeds: readonly FeedConfig[];
  /** Largest download accepted, bytes. */
  readonly max_bytes: number;
  /** Most indicators kept a feed. */
  readonly max_entries: number;
  /** Longest a download may take, seconds. */
  readonly timeout_s: number;
}

const ABUSE_CH = "CC0 1.0 (abuse.ch, no restrictions)";

/** The suggested feeds, on unless `intel.feeds` says otherwise. */
export const DEFAULT_FEEDS: readonly FeedConfig[] = [
  {
    name: "spamhaus_drop",
    url: "https://www.spamhaus.org/drop/drop_v4.json",
    path: null,
    format: "spamhaus_drop",
    kind: "ip",
    column: 1,
    severity: 1,
    block: true,
    interval_s: 12 * 3600,
    enabled: true,
    link: "https://www.spamhaus.org/blocklists/do-not-route-or-peer/",
    licence:
      "Spamhaus DROP terms of use: free for any use, not for resale (https://www.spamhaus.org/drop/terms/)",
  },
  {
    name: "feodo",
    url: "https://feodotracker.abuse.ch/downloads/ipblocklist.txt",
    path: null,
    format: "feodo",
    kind: "ip",
    column: 1,
    severity: 1,
    block: true,
    interval_s: 6 * 3600,
    enabled: true,
    link: "https://feodotracker.abuse.ch/blocklist/",
    licence: ABUSE_CH,
  },
  {
    name: "sslbl_ja3",
    url: "https://sslbl.abuse.ch/blacklist/ja3_fingerprints.csv",
    path: null,
    format: "sslbl_ja3",
    kind: "ja3",
    column: 1,
    severity: 1,
    block: false,
    interval_s: 6 * 3600,
    enabled: true,
    link: "https://sslbl.abuse.ch/ja3-fingerprints/",
    licence: ABUSE_CH,
  },
  {
    name: "sslbl_certs",
    url: "https://sslbl.abuse.ch/blacklist/sslblacklist.csv",
    path: null,
    format: "sslbl_cert",
    kind: "cert_sha1",
    column: 1,
    severity: 1,
    block: true,
    interval_s: 6 * 3600,
    enabled: true,
    link: "https://sslbl.abuse.ch/ssl-certificates/",
    licence: ABUSE_CH,
  },
  {
    name: "urlhaus_hosts",
    url: "https://urlhaus.abuse.ch/downloads/hostfile/",
    path: null,
    format: "urlhaus_hosts",
    kind: "domain",
    column: 1,
    severity: 1,
    block: false,
    interval_s: 6 * 3600,
    enabled: true,
    link: "https://urlhaus.abuse.ch/api/#hostfile",
    licence: ABUSE_CH,
  },
];

const FEED_KEYS = [
  "name",
  "url",
  "path",
  "format",
  "kind",
  "column",
  "severity",
  "block",
  "interval",
  "enabled",
  "link",
  "licence",
];

/** A feed name: lower-case letters, digits, `_` and `-`, 1 to 32. */
export const FEED_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

function httpUrl(v: unknown, field: string): string | null {
  const u = optText(v, field, 2048);
  if (u === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new ConfigError(field, `expected an http(s) URL, got ${show(u)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError(field, `expected an http(s) URL, got ${show(u)}`);
  }
  return u;
}

/** Validates one feed (`field` is its path in the config, for messages). */
export function parseFeedConfig(v: unknown, field: string): FeedConfig {
  const r = record(v, field, FEED_KEYS);
  if (!isRecord(v)) throw new ConfigError(field, "expected an object");
  const name = text(r.name, `${field}.name`, undefined, 32);
  if (!FEED_NAME.test(name)) {
    throw new ConfigError(
      `${field}.name`,
      `expected lower-case letters, digits, "_" or "-" (up to 32), got ${
        show(name)
      }`,
    );
  }
  const url = httpUrl(r.url, `${field}.url`);
  const path = optText(r.path, `${field}.path`, 1024);
  if ((url === null) === (path === null)) {
    throw new ConfigError(field, "needs exactly one of url and path");
  }
  const format = oneOf(r.format, `${field}.format`, FEED_FORMATS, "plain");
  const fixed = FORMAT_KIND[format];
  const kind = oneOf(
    r.kind,
    `${field}.kind`,
    INDICATOR_KINDS,
    fixed ?? undefined,
  );
  if (fixed !== null && kind !== fixed) {
    throw new ConfigError(
      `${field}.kind`,
      `format "${format}" lists ${fixed} indicators, got "${kind}"`,
    );
  }
  const severity = int(r.severity, `${field}.severity`, 1, { min: 1, max: 4 });
  return {
    name,
    url,
    path,
    format,
    kind,
    column: int(r.column, `${field}.column`, 1, { min: 1, max: 100 }),
    severity: severity as 1 | 2 | 3 | 4,
    block: bool(r.block, `${field}.block`, false),
    interval_s: duration(r.interval, `${field}.interval`, 6 * 3600, {
      min: 300,
      max: 30 * 86400,
    }),
    enabled: bool(r.enabled, `${field}.enabled`, true),
    link: httpUrl(r.link, `${field}.link`) ?? url,
    licence: optText(r.licence, `${field}.licence`, 512),
  };
}

/** Validates the `intel` section (`unknown` from JSON; absent: the defaults). */
export function parseIntelConfig(input: unknown, field = "intel"): IntelConfig {
  const r = record(input, field, [
    "enabled",
    "update",
    "feeds",
    "max_mb",
    "max_entries",
    "timeout",
  ]);
  const feeds = list(
    r.feeds,
    `${field}.feeds`,
    DEFAULT_FEEDS,
    parseFeedConfig,
    64,
  );
  const seen = new Set<string>();
  feeds.forEach((f, i) => {
    if (seen.has(f.name)) {
      throw new ConfigError(
        `${field}.feeds[${i}].name`,
        `"${f.name}" names two feeds`,
      );
    }
    seen.add(f.name);
  });
  return {
    enabled: bool(r.enabled, `${field}.enabled`, true),
    update: bool(r.update, `${field}.update`, true),
    feeds,
    max_bytes: int(r.max_mb, `${field}.max_mb`, 64, { min: 1, max: 1024 }) *
      1_000_000,
    max_entries: int(r.max_entries, `${field}.max_entries`, 2_000_000, {
      min: 1,
      max: 20_000_000,
    }),
    timeout_s: duration(r.timeout, `${field}.timeout`, 60, {
      min: 1,
      max: 3600,
    }),
  };
}
