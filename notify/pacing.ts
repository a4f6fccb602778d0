/**
 * Keeping a channel quiet, as pure functions over its {@link Digest}: what
 * it routes ({@link routesAlert}, {@link routesEvent}), quiet hours (only
 * the most severe pass), the digest window (everything within it becomes
 * one message listing the first items and counting the rest) and the rate
 * limit (at most N messages per period: while it is spent, items keep
 * gathering, and the next message stands for all of them). Times are ms
 * since the epoch; hours are the appliance's local time.
 *
 * @module
 */
import type { Alert } from "../alerts/mod.ts";
import type { ApplianceEvent } from "../common/appliance_event.ts";
import { anyCidrContains, parseAddr } from "../decode/mod.ts";
import type { ChannelConfig, ChannelPacing } from "./config.ts";
import {
  itemLine,
  MAX_ITEMS,
  type Message,
  type MessageItem,
  severityName,
} from "./message.ts";

/** What a channel is gathering, and its recent sends (kept in KV). */
export interface Digest {
  /** When the first item arrived, ms (0: empty). */
  first_at: number;
  /** Items it stands for. */
  count: number;
  /** The first {@link MAX_ITEMS}. */
  items: MessageItem[];
  /** The others, counted by type. */
  rest: Record<string, number>;
  /** The most severe so far (4 when empty). */
  severity: 1 | 2 | 3 | 4;
  /** Times of the sends within the rate period, ms, oldest first. */
  sends: number[];
  /** Local day ("2026-12-07") of the last daily summary. */
  summary_day: string | null;
}

/** A digest with nothing in it. */
export function emptyDigest(): Digest {
  return {
    first_at: 0,
    count: 0,
    items: [],
    rest: {},
    severity: 4,
    sends: [],
    summary_day: null,
  };
}

/** A digest read back from KV (anything malformed gives an empty one). */
export function parseDigest(v: unknown): Digest {
  const d = emptyDigest();
  if (typeof v !== "object" || v === null) return d;
  const o = v as Record<string, unknown>;
  if (typeof o.first_at === "number") d.first_at = o.first_at;
  if (typeof o.count === "number") d.count = o.count;
  if (Array.isArray(o.items)) d.items = o.items as MessageItem[];
  if (typeof o.rest === "object" && o.rest !== null) {
    d.rest = o.rest as Record<string, number>;
  }
  if ([1, 2, 3, 4].includes(o.severity as number)) {
    d.severity = o.severity as 1 | 2 | 3 | 4;
  }
  if (Array.isArray(o.sends)) {
    d.sends = o.sends.filter((x): x is number => typeof x === "number");
  }
  if (typeof o.summary_day === "string") d.summary_day = o.summary_day;
  return d;
}

function addrIn(c: ChannelConfig["route"]["sources"], ip: string | undefined) {
  if (ip === undefined) return false;
  const a = parseAddr(ip);
  return a !== null && anyCidrContains(c, a.version, a.words);
}

/**
 * True when channel `c` takes alert `a`: enabled, not summary-only, severe
 * enough, of a listed type, from a listed source, about a listed device.
 * `new_host` alerts go as `new_device` events instead.
 */
export function routesAlert(c: ChannelConfig, a: Alert): boolean {
  const r = c.route;
  if (!c.enabled || c.pacing.summary_only) return false;
  if (a.netsentinel.type === "new_host") return false;
  if (a.alert.severity > r.min_severity) return false;
  if (r.types.length > 0 && !r.types.includes(a.netsentinel.type)) {
    return false;
  }
  if (r.sources.length > 0 && !addrIn(r.sources, a.src_ip)) return false;
  if (
    r.devices.length > 0 && !addrIn(r.devices, a.src_ip) &&
    !addrIn(r.devices, a.dest_ip)
  ) {
    return false;
  }
  return true;
}

/** True when channel `c` takes appliance event `e`. */
export function routesEvent(c: ChannelConfig, e: ApplianceEvent): boolean {
  return c.enabled && !c.pacing.summary_only && c.route.events.includes(e.type);
}

/** Minutes after local midnight of `now`. */
function localMinutes(now: number): number {
  const d = new Date(now);
  return d.getHours() * 60 + d.getMinutes();
}

/** The local day of `now` as "YYYY-MM-DD". */
export function localDay(now: number): string {
  const d = new Date(now);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** True within the quiet hours (a span across midnight when from > to). */
export function inQuietHours(p: ChannelPacing, now: number): boolean {
  if (p.quiet === null) return false;
  const m = localMinutes(now);
  const { from_min: a, to_min: b } = p.quiet;
  return a <= b ? m >= a && m < b : m >= a || m < b;
}

/** True when an item of `severity` may go now (quiet hours let only the most severe pass). */
export function passesQuiet(
  p: ChannelPacing,
  severity: number,
  now: number,
): boolean {
  return !inQuietHours(p, now) || severity <= p.quiet!.min_severity;
}

/** Adds an item to the digest (listed while there is room, else counted). */
export function addItem(d: Digest, it: MessageItem, now: number): void {
  if (d.count === 0) d.first_at = now;
  d.count++;
  if (d.items.length < MAX_ITEMS) d.items.push(it);
  else d.rest[it.type] = (d.rest[it.type] ?? 0) + 1;
  if (it.severity < d.severity) d.severity = it.severity;
}

/**
 * When the digest may be sent, ms: the end of its window, or later when
 * the rate limit is spent (when the oldest send in the period ages out);
 * null when empty.
 */
export function dueAt(d: Digest, p: ChannelPacing, now: number): number | null {
  if (d.count === 0) return null;
  const perMs = p.rate_per_s * 1000;
  const recent = d.sends.filter((t) => t > now - perMs);
  const free = recent.length < p.rate_messages
    ? 0
    : recent[recent.length - p.rate_messages]! + perMs;
  return Math.max(d.first_at + p.digest_s * 1000, free);
}

function countTitle(d: Digest): string {
  const by = new Map<string, number>();
  for (const it of d.items) by.set(it.type, (by.get(it.type) ?? 0) + 1);
  for (const [t, n] of Object.entries(d.rest)) by.set(t, (by.get(t) ?? 0) + n);
  const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([t, n]) => `${t} ×${n}`).join(", ");
  return `${d.count} alerts and events (${top})`;
}

/**
 * Takes the digest as a message with delivery id `id` and empties it,
 * noting the send for the rate limit.
 */
export function takeMessage(
  d: Digest,
  p: ChannelPacing,
  o: { id: string; now: number; publicUrl: string | null },
): Message {
  const single = d.count === 1 ? d.items[0] : undefined;
  const m: Message = {
    id: o.id,
    kind: "alerts",
    title: single
      ? `${severityName(single.severity)}: ${
        itemLine(single).replace(/^\[\w+\] /, "")
      }`
      : countTitle(d),
    severity: d.severity,
    count: d.count,
    items: d.items,
    rest: d.rest,
    lines: [],
    created: new Date(o.now).toISOString(),
    link: single?.link ??
      (o.publicUrl === null ? null : new URL(
        "alerts",
        o.publicUrl.endsWith("/") ? o.publicUrl : o.publicUrl + "/",
      ).href),
  };
  const perMs = p.rate_per_s * 1000;
  const sends = d.sends.filter((t) => t > o.now - perMs);
  sends.push(o.now);
  Object.assign(d, emptyDigest(), { sends, summary_day: d.summary_day });
  return m;
}
