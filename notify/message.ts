/**
 * What a channel sends: a {@link Message} standing for one or more alerts
 * and appliance events (a digest lists the first {@link MAX_ITEMS} and
 * counts the rest by type), a daily summary, or a test. Messages are plain
 * JSON, kept in the outbox until delivered. {@link messageText} renders the
 * plain text every channel shows; {@link alertItem} and {@link eventItem}
 * turn alerts and events into the items a message lists.
 *
 * @module
 */
import type { Alert } from "../alerts/mod.ts";
import type { ApplianceEvent } from "../common/appliance_event.ts";

/** Items a message lists in full; the rest are counted by type. */
export const MAX_ITEMS = 20;

/** One alert or event a message lists. */
export interface MessageItem {
  kind: "alert" | "event";
  /** Alert type or appliance event type. */
  type: string;
  severity: 1 | 2 | 3 | 4;
  /** One line: signature and addresses, or the event's title. */
  title: string;
  /** The explanation or the event's detail. */
  detail: string;
  /** When, ISO 8601. */
  at: string;
  /** The alert id, when an alert. */
  id?: string;
  src?: string;
  dest?: string;
  /** What was blocked because of it, for example `203.0.113.9 for 1h`. */
  blocked?: string;
  /** The alert's page on the dashboard (when `notify.public_url` is set). */
  link?: string;
}

/** A message as queued and sent. */
export interface Message {
  /** Delivery id: stable across retries (receivers may de-duplicate on it). */
  id: string;
  /** "alerts" (alerts and events), "summary" or "test". */
  kind: "alerts" | "summary" | "test";
  /** One line. */
  title: string;
  /** The most severe of what it stands for. */
  severity: 1 | 2 | 3 | 4;
  /** How many alerts and events it stands for. */
  count: number;
  /** The first {@link MAX_ITEMS} of them. */
  items: MessageItem[];
  /** The ones not listed, by type. */
  rest: Record<string, number>;
  /** Extra lines (the daily summary's tables). */
  lines: string[];
  /** Made at, ISO 8601. */
  created: string;
  /** The page to open: the alert (one alert) or the alert list. */
  link: string | null;
}

const SEV_NAME: Record<number, string> = {
  1: "high",
  2: "medium",
  3: "low",
  4: "info",
};

/** "high", "medium", "low" or "info". */
export function severityName(s: number): string {
  return SEV_NAME[s] ?? "info";
}

/** A duration in seconds as "45s", "10m", "4h", "2d". */
export function shortDuration(s: number): string {
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** The link of an alert's page, or undefined without a public URL. */
export function alertLink(
  publicUrl: string | null,
  id: string,
): string | undefined {
  // publicUrl is a normalised URL (config); string joining keeps this cheap.
  if (publicUrl === null) return undefined;
  return `${withSlash(publicUrl)}alerts/${encodeURIComponent(id)}`;
}
function withSlash(u: string): string {
  return u.endsWith("/") ? u : u + "/";
}

/**
 * A device name as notifications show it: names come off the wire (DHCP,
 * mDNS, NetBIOS), so only letters, digits, spaces and `._'-` are kept (no
 * chat markup such as Slack's `<!channel>` or Markdown), at most 40.
 */
export function plainDeviceName(name: string | undefined): string {
  if (!name) return "";
  return name.replace(/[^\p{L}\p{N} ._'’-]/gu, "").trim().slice(0, 40);
}

/** An alert as an item of a message. */
export function alertItem(
  a: Alert,
  publicUrl: string | null,
  blocked?: string,
): MessageItem {
  const named = (name: string | undefined) => {
    const n = plainDeviceName(name);
    return n ? ` (${n})` : "";
  };
  const dest = a.dest_ip
    ? ` → ${a.dest_ip}${a.dest_port !== undefined ? `:${a.dest_port}` : ""}${
      named(a.netsentinel.dest_device?.name)
    }`
    : "";
  const link = alertLink(publicUrl, a.netsentinel.id);
  return {
    kind: "alert",
    type: a.netsentinel.type,
    severity: a.alert.severity,
    title: `${a.alert.signature}: ${a.src_ip}${
      named(a.netsentinel.src_device?.name)
    }${dest}`,
    detail: a.netsentinel.explanation,
    at: a.timestamp,
    id: a.netsentinel.id,
    src: a.src_ip,
    ...(a.dest_ip ? { dest: a.dest_ip } : {}),
    ...(blocked ? { blocked } : {}),
    ...(link ? { link } : {}),
  };
}

/** An appliance event as an item of a message. */
export function eventItem(
  e: ApplianceEvent,
  publicUrl: string | null,
): MessageItem {
  const link = e.alert_id ? alertLink(publicUrl, e.alert_id) : undefined;
  return {
    kind: "event",
    type: e.type,
    severity: e.severity,
    title: e.title,
    detail: e.detail,
    at: new Date(e.at).toISOString(),
    ...(e.ip ? { src: e.ip } : {}),
    ...(e.alert_id ? { id: e.alert_id } : {}),
    ...(link ? { link } : {}),
  };
}

/** "port_scan ×12, host_sweep ×3". */
function restText(rest: Record<string, number>): string {
  return Object.entries(rest)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${t} ×${n}`)
    .join(", ");
}

/** One line of an item. */
export function itemLine(it: MessageItem): string {
  const blocked = it.blocked ? ` [blocked ${it.blocked}]` : "";
  return `[${severityName(it.severity)}] ${it.type}: ${it.title}${blocked}`;
}

/**
 * The plain text of a message: what it stands for, each listed item (its
 * line, explanation and link), the rest counted by type, and the extra
 * lines. Channels with a length limit cut it with {@link cut}.
 */
export function messageText(m: Message): string {
  const out: string[] = [];
  if (m.kind === "alerts") {
    out.push(
      m.count === 1
        ? "Stands for 1 alert or event."
        : `Stands for ${m.count} alerts and events.`,
    );
  }
  for (const it of m.items) {
    out.push(`• ${itemLine(it)}`);
    if (it.detail) out.push(`  ${it.detail}`);
    if (it.link) out.push(`  ${it.link}`);
  }
  const restN = Object.values(m.rest).reduce((s, n) => s + n, 0);
  if (restN > 0) out.push(`… and ${restN} more: ${restText(m.rest)}`);
  out.push(...m.lines);
  if (m.link && !m.items.some((it) => it.link === m.link)) out.push(m.link);
  return out.join("\n");
}

/** Cuts text to at most `max` characters, ending with "…" when cut. */
export function cut(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + "…";
}
