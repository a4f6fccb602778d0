/**
 * Reading alerts back: by id, filtered pages (source, type, time) with
 * cursors, and following new and updated alerts as they are committed.
 *
 * Live delivery: every commit of the {@link StoreWriter} that carries
 * alerts takes the next sequence number, writes `["alert_log", seq]` (the
 * ids, new and updated) and sets `["alert_head"]` in the same atomic commit.
 * A follower keeps the last sequence it delivered and reads the log entries
 * after it, so nothing committed is skipped even when alert ids are not
 * committed in id order (the aggregator may create an alert early and emit
 * it later).
 *
 * What sees the head change: inside one process, KV `watch` on the head
 * key wakes a follower within milliseconds of the commit. Another process
 * (the CLI following a running appliance) gets nothing from `watch` on a
 * local database — measured on Deno 2.9.6: a watcher saw only its initial
 * value while a second process changed the key three times over 4 s, while
 * a plain `get` in the watching process returned each new value at once
 * (SQLite readers see committed data). So followers in another process poll
 * the head key ({@link followAlerts} with `mode: "poll"`, one small read a
 * second).
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";
import { isRecord } from "../common/validate.ts";
import {
  alertBySrcPrefix,
  alertByTimeKey,
  alertByTimePrefix,
  alertByTypePrefix,
  alertHeadKey,
  alertKey,
  alertLogKey,
  alertPrefix,
} from "./keys.ts";
import type { Store } from "./store.ts";

/** The head of the alert log: changes with every committed batch. */
export interface AlertHead {
  /** Sequence number of the last committed batch (0: none yet). */
  seq: number;
  /** Id of the last new alert committed, or null. */
  last_id: string | null;
  /** Commit time, ms since the epoch. */
  at: number;
  /** New alerts committed since the database was created. */
  total: number;
}

/** One committed batch in the alert log. */
export interface AlertLogEntry {
  seq: number;
  /** Commit time, ms since the epoch. */
  at: number;
  /** Ids of alerts that were new in this batch. */
  new: string[];
  /** Ids of alerts that were updated (count, last_seen, …). */
  updated: string[];
}

/** The head of an empty database. */
export const EMPTY_HEAD: AlertHead = { seq: 0, last_id: null, at: 0, total: 0 };

/** Validates a stored head; an absent or malformed one reads as empty. */
export function parseAlertHead(v: unknown): AlertHead {
  if (
    !isRecord(v) || typeof v.seq !== "number" || typeof v.at !== "number" ||
    typeof v.total !== "number" ||
    (v.last_id !== null && typeof v.last_id !== "string")
  ) {
    return EMPTY_HEAD;
  }
  return { seq: v.seq, last_id: v.last_id, at: v.at, total: v.total };
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
}

/** Validates a stored log entry; null when malformed. */
export function parseAlertLogEntry(v: unknown): AlertLogEntry | null {
  if (!isRecord(v) || typeof v.seq !== "number") return null;
  return {
    seq: v.seq,
    at: typeof v.at === "number" ? v.at : 0,
    new: stringList(v.new),
    updated: stringList(v.updated),
  };
}

/**
 * Checks that a stored value looks like an {@link Alert} (the fields every
 * reader relies on) and returns it typed, or null.
 */
export function parseStoredAlert(v: unknown): Alert | null {
  if (!isRecord(v) || v.event_type !== "alert") return null;
  if (typeof v.src_ip !== "string" || typeof v.timestamp !== "string") {
    return null;
  }
  const a = v.alert, ns = v.netsentinel;
  if (!isRecord(a) || typeof a.severity !== "number") return null;
  if (
    !isRecord(ns) || typeof ns.id !== "string" || typeof ns.type !== "string"
  ) {
    return null;
  }
  return v as unknown as Alert;
}

/** Milliseconds since the epoch of an alert's `timestamp` (0 when unreadable). */
export function alertTimeMs(a: Alert): number {
  const t = Date.parse(a.timestamp);
  return Number.isFinite(t) ? t : 0;
}

/** Reads the head and its versionstamp. */
export async function getAlertHead(
  store: Store,
): Promise<{ head: AlertHead; versionstamp: string | null }> {
  const e = await store.kv.get(alertHeadKey());
  return { head: parseAlertHead(e.value), versionstamp: e.versionstamp };
}

/** Reads one alert by id, or null. */
export async function getAlert(
  store: Store,
  id: string,
): Promise<Alert | null> {
  const e = await store.kv.get(alertKey(id));
  return parseStoredAlert(e.value);
}

/** Reads alerts by id (10 per KV read), in the order given; missing ones are left out. */
export async function getAlerts(
  store: Store,
  ids: readonly string[],
): Promise<Alert[]> {
  const out: Alert[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    const entries = await store.kv.getMany(
      ids.slice(i, i + 10).map((id) => alertKey(id)),
    );
    for (const e of entries) {
      const a = parseStoredAlert(e.value);
      if (a) out.push(a);
    }
  }
  return out;
}

/** Filters of {@link listAlerts}. */
export interface AlertQuery {
  /** Only alerts whose `timestamp` is at or after this (ms since the epoch). */
  since?: number;
  /** Only alerts whose `timestamp` is before this (ms since the epoch). */
  until?: number;
  /** Only this `netsentinel.type`. */
  type?: string;
  /** Only this source address (exact text, as in `src_ip`). */
  src?: string;
  /** Most alerts returned (default 100, at most 10,000). */
  limit?: number;
  /** "newest" first (default) or "oldest" first. */
  order?: "newest" | "oldest";
  /** Continue after a previous page (its `cursor`, same filters). */
  cursor?: string;
}

/** One page of alerts. */
export interface AlertPage {
  alerts: Alert[];
  /** Pass as `cursor` for the next page; null when this was the last. */
  cursor: string | null;
}

/**
 * Lists alerts matching the filters, newest first by default. Uses the
 * source index when `src` is given, else the type index, else the time
 * index when a time range is given, else the alerts themselves; the other
 * filters are applied to each alert read.
 *
 * @example
 * ```ts
 * const page = await listAlerts(store, { src: "10.0.0.66", limit: 20 });
 * ```
 */
export async function listAlerts(
  store: Store,
  query: AlertQuery = {},
): Promise<AlertPage> {
  const limit = Math.max(1, Math.min(10_000, Math.floor(query.limit ?? 100)));
  const reverse = (query.order ?? "newest") === "newest";
  const match = (a: Alert): boolean => {
    if (query.src !== undefined && a.src_ip !== query.src) return false;
    if (query.type !== undefined && a.netsentinel.type !== query.type) {
      return false;
    }
    if (query.since !== undefined || query.until !== undefined) {
      const t = alertTimeMs(a);
      if (query.since !== undefined && t < query.since) return false;
      if (query.until !== undefined && t >= query.until) return false;
    }
    return true;
  };
  const opts: Deno.KvListOptions = {
    reverse,
    cursor: query.cursor,
    batchSize: Math.min(500, limit + 1),
  };
  const out: Alert[] = [];
  if (
    query.src === undefined && query.type === undefined &&
    query.since === undefined && query.until === undefined
  ) {
    const iter = store.kv.list({ prefix: alertPrefix() }, opts);
    for await (const e of iter) {
      const a = parseStoredAlert(e.value);
      if (a === null) continue;
      out.push(a);
      if (out.length === limit) {
        return { alerts: out, cursor: await moreAfter(iter) };
      }
    }
    return { alerts: out, cursor: null };
  }
  let selector: Deno.KvListSelector;
  if (query.src !== undefined) {
    selector = { prefix: alertBySrcPrefix(query.src) };
  } else if (query.type !== undefined) {
    selector = { prefix: alertByTypePrefix(query.type) };
  } else {
    selector = {
      start: alertByTimeKey(query.since ?? 0, ""),
      end: [...alertByTimePrefix(), query.until ?? Number.MAX_SAFE_INTEGER],
    };
  }
  const iter = store.kv.list(selector, opts);
  let chunk: { id: string; cursor: string }[] = [];
  const drain = async (): Promise<string | null> => {
    const alerts = await getAlerts(store, chunk.map((c) => c.id));
    const byId = new Map(alerts.map((a) => [a.netsentinel.id, a]));
    for (const c of chunk) {
      const a = byId.get(c.id);
      if (a === undefined || !match(a)) continue;
      out.push(a);
      if (out.length === limit) return c.cursor;
    }
    chunk = [];
    return null;
  };
  for await (const e of iter) {
    const id = e.key[e.key.length - 1];
    if (typeof id !== "string") continue;
    chunk.push({ id, cursor: iter.cursor });
    if (chunk.length === 10) {
      const stop = await drain();
      if (stop !== null) return { alerts: out, cursor: stop };
    }
  }
  if (chunk.length > 0) {
    const stop = await drain();
    if (stop !== null) return { alerts: out, cursor: stop };
  }
  return { alerts: out, cursor: null };
}

async function moreAfter(
  iter: Deno.KvListIterator<unknown>,
): Promise<string | null> {
  const cursor = iter.cursor;
  const next = await iter.next();
  return next.done ? null : cursor;
}

/** An alert delivered by {@link followAlerts}. */
export interface FollowedAlert {
  alert: Alert;
  /** True when the alert was new in its batch, false for an update. */
  isNew: boolean;
  /** The batch sequence it was committed in (resume with `from: seq`). */
  seq: number;
}

/** Options of {@link followAlerts}. */
export interface FollowOptions {
  /**
   * Deliver batches after this sequence number (default: the current head,
   * so only what is committed from now on).
   */
  from?: number;
  /**
   * "watch": KV watch on the head key (same process only); "poll": read
   * the head every `intervalMs` (works across processes). Default "watch".
   */
  mode?: "watch" | "poll";
  /** Poll interval in ms (default 1000). */
  intervalMs?: number;
  /** Stops the iteration. */
  signal?: AbortSignal;
}

/**
 * Yields alerts as batches are committed, new and updated, in commit
 * order, until `signal` aborts or the consumer stops. Each alert is read
 * when delivered, so it may already include a later update. Batches older
 * than the log retention (1 day) are skipped.
 *
 * @example
 * ```ts
 * for await (const { alert, isNew } of followAlerts(store, { signal })) {
 *   hub.send(alert, isNew);
 * }
 * ```
 */
export async function* followAlerts(
  store: Store,
  opts: FollowOptions = {},
): AsyncGenerator<FollowedAlert, void, undefined> {
  const signal = opts.signal;
  let cursor = opts.from ?? (await getAlertHead(store)).head.seq;
  const heads = (opts.mode ?? "watch") === "watch"
    ? watchHead(store, signal)
    : pollHead(store, opts.intervalMs ?? 1000, signal);
  try {
    for await (const head of heads) {
      if (head.seq <= cursor) continue;
      const iter = store.kv.list({
        start: alertLogKey(cursor + 1),
        end: alertLogKey(head.seq + 1),
      });
      for await (const e of iter) {
        const entry = parseAlertLogEntry(e.value);
        if (entry === null) continue;
        const updated = new Set(entry.updated);
        const ids = [...entry.new, ...entry.updated];
        for (const alert of await getAlerts(store, ids)) {
          if (signal?.aborted) return;
          yield {
            alert,
            isNew: !updated.has(alert.netsentinel.id),
            seq: entry.seq,
          };
        }
        cursor = entry.seq;
      }
      cursor = Math.max(cursor, head.seq);
    }
  } finally {
    await heads.return(undefined);
  }
}

/**
 * Like {@link followAlerts} with `mode: "watch"`: live delivery inside the
 * appliance process, woken by KV watch on the head key.
 */
export function watchAlerts(
  store: Store,
  opts: Omit<FollowOptions, "mode"> = {},
): AsyncGenerator<FollowedAlert, void, undefined> {
  return followAlerts(store, { ...opts, mode: "watch" });
}

async function* watchHead(
  store: Store,
  signal?: AbortSignal,
): AsyncGenerator<AlertHead, void, undefined> {
  if (signal?.aborted) return;
  const reader = store.kv.watch([alertHeadKey()]).getReader();
  // Cancelling ends the pending read; a stream that already ended has
  // nothing left to cancel, so its rejection carries no information.
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      const r = await reader.read();
      if (r.done || signal?.aborted) return;
      const entry = r.value[0];
      if (entry) yield parseAlertHead(entry.value);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
  }
}

async function* pollHead(
  store: Store,
  intervalMs: number,
  signal?: AbortSignal,
): AsyncGenerator<AlertHead, void, undefined> {
  while (!signal?.aborted) {
    yield (await getAlertHead(store)).head;
    await sleep(intervalMs, signal);
  }
}

/** Waits `ms`, or less when `signal` aborts; never leaves a timer behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
