/**
 * Known hosts and stats rollups as stored: the record shapes, merging of
 * new traffic into a host record, and reads. Writes go through the
 * {@link StoreWriter} (batched).
 *
 * @module
 */
import type { AlertGeo } from "../alerts/alert.ts";
import { isRecord } from "../common/validate.ts";
import { hostKey, hostPrefix, statsKey, statsPrefix } from "./keys.ts";
import type { Store } from "./store.ts";

/**
 * What NetSentinel remembers about an address. The appliance may add more
 * fields (kept as they are); geo and reverse name are filled when known.
 */
export interface HostRecord {
  ip: string;
  /** First and last time seen (ISO 8601). */
  first_seen: string;
  last_seen: string;
  /** Totals, both directions. */
  bytes: number;
  packets: number;
  bytes_in?: number;
  bytes_out?: number;
  packets_in?: number;
  packets_out?: number;
  /** Alerts with this address as source. */
  alerts?: number;
  geo?: AlertGeo;
  /** Reverse DNS name, null when looked up and absent. */
  rdns?: string | null;
  /** More facts from the appliance (MAC, vendor, …). */
  [field: string]: unknown;
}

/** Validates a stored host record; null when malformed. */
export function parseHostRecord(v: unknown): HostRecord | null {
  if (
    !isRecord(v) || typeof v.ip !== "string" ||
    typeof v.first_seen !== "string" || typeof v.last_seen !== "string" ||
    typeof v.bytes !== "number" || typeof v.packets !== "number"
  ) {
    return null;
  }
  return v as HostRecord;
}

const SUMMED = [
  "bytes",
  "packets",
  "bytes_in",
  "bytes_out",
  "packets_in",
  "packets_out",
  "alerts",
] as const;

/**
 * Merges newly seen traffic (`delta`, counters since the last merge) into
 * the stored record `prev`: counters add up, first_seen keeps the earlier
 * time, last_seen the later, other fields of `delta` replace those of
 * `prev`. Pure.
 *
 * @example
 * ```ts
 * writer.queueHost(mergeHost(await getHost(store, ip), delta));
 * ```
 */
export function mergeHost(
  prev: HostRecord | null,
  delta: HostRecord,
): HostRecord {
  if (prev === null) return { ...delta };
  const out: HostRecord = { ...prev, ...delta };
  for (const k of SUMMED) {
    const a = prev[k], b = delta[k];
    if (typeof a === "number" || typeof b === "number") {
      out[k] = (typeof a === "number" ? a : 0) +
        (typeof b === "number" ? b : 0);
    }
  }
  out.first_seen = prev.first_seen < delta.first_seen
    ? prev.first_seen
    : delta.first_seen;
  out.last_seen = prev.last_seen > delta.last_seen
    ? prev.last_seen
    : delta.last_seen;
  return out;
}

/** Reads one host, or null. */
export async function getHost(
  store: Store,
  ip: string,
): Promise<HostRecord | null> {
  return parseHostRecord((await store.kv.get(hostKey(ip))).value);
}

/** Lists known hosts in key order, at most `limit` (default 1000). */
export async function listHosts(
  store: Store,
  opts: { limit?: number; cursor?: string } = {},
): Promise<{ hosts: HostRecord[]; cursor: string | null }> {
  const limit = Math.max(1, Math.min(10_000, opts.limit ?? 1000));
  const iter = store.kv.list({ prefix: hostPrefix() }, {
    cursor: opts.cursor,
    batchSize: Math.min(500, limit + 1),
  });
  const hosts: HostRecord[] = [];
  for await (const e of iter) {
    const h = parseHostRecord(e.value);
    if (h === null) continue;
    hosts.push(h);
    if (hosts.length === limit) {
      const cursor = iter.cursor;
      return { hosts, cursor: (await iter.next()).done ? null : cursor };
    }
  }
  return { hosts, cursor: null };
}

/** One stored rollup: its bucket start and the object the appliance computed. */
export interface StatsEntry {
  /** Bucket start, ms since the epoch. */
  bucket: number;
  rollup: Record<string, unknown>;
}

/** Start of the minute containing `ms` (the "1m" bucket). */
export function minuteBucket(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

/**
 * Reads rollups of `resolution` with bucket starts in [from, to), oldest
 * first, at most `limit` (default 10,000).
 */
export async function listStats(
  store: Store,
  resolution: string,
  range: { from: number; to: number; limit?: number },
): Promise<StatsEntry[]> {
  const out: StatsEntry[] = [];
  const iter = store.kv.list({
    start: statsKey(resolution, range.from),
    end: statsKey(resolution, range.to),
  }, { limit: range.limit ?? 10_000 });
  for await (const e of iter) {
    const bucket = e.key[e.key.length - 1];
    if (typeof bucket === "number" && isRecord(e.value)) {
      out.push({ bucket, rollup: e.value });
    }
  }
  return out;
}

/** The newest rollup of `resolution`, or null. */
export async function latestStats(
  store: Store,
  resolution: string,
): Promise<StatsEntry | null> {
  const iter = store.kv.list({ prefix: statsPrefix(resolution) }, {
    reverse: true,
    limit: 1,
  });
  for await (const e of iter) {
    const bucket = e.key[e.key.length - 1];
    if (typeof bucket === "number" && isRecord(e.value)) {
      return { bucket, rollup: e.value };
    }
  }
  return null;
}
