/**
 * Batched writes: alerts (new and updated), hosts, stats rollups and other
 * records queue in memory and go to KV at most about once per interval
 * (default 1 s: SD cards wear out), in as few atomic commits as KV's limits
 * allow. Each commit that carries alerts advances the alert log head, which
 * drives live delivery ({@link followAlerts}).
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";
import { type Logger, silentLogger } from "../common/logger.ts";
import { type AlertHead, alertTimeMs, getAlertHead } from "./alerts.ts";
import {
  applyAlertsToGroups,
  catchUpGroups,
  setGroupedThrough,
} from "./inbox.ts";
import type { HostRecord } from "./hosts.ts";
import {
  alertBySrcKey,
  alertByTimeKey,
  alertByTypeKey,
  alertHeadKey,
  alertKey,
  alertLogKey,
  hostKey,
  statsKey,
} from "./keys.ts";
import {
  addOps,
  fitAlert,
  fitValue,
  keySize,
  KV_MAX_KEY_BYTES,
  KV_MAX_VALUE_BYTES,
  type KvOp,
  planCommits,
  valueSize,
} from "./limits.ts";
import { type Store, StoreError } from "./store.ts";

/** What one atomic commit wrote; passed to `onCommit`. */
export interface CommitInfo {
  /** Alert log sequence of this commit, or null when it carried no alerts. */
  seq: number | null;
  /** Ids of alerts new in this commit. */
  newIds: string[];
  /** Ids of alerts updated in this commit. */
  updatedIds: string[];
  /** Mutations in the commit. */
  mutations: number;
  /** Commit time, ms since the epoch. */
  at: number;
  /**
   * When the flush this commit belongs to started (`performance.now()`, ms):
   * flushes are scheduled from their starts, commits end when KV is done.
   */
  flushStart: number;
}

/** Options of {@link StoreWriter}. */
export interface StoreWriterOptions {
  /** Least time between the starts of two flushes, ms (default 1000). */
  intervalMs?: number;
  /**
   * Least time between flushes when a new alert waits, ms (default 100):
   * new alerts are rare (rate-capped upstream) and live delivery follows the
   * commit, so they do not wait for the full interval.
   */
  urgentMs?: number;
  /** Most queued items; more are dropped and counted (default 50,000). */
  maxPending?: number;
  /**
   * Most host records, stats rollups and other records one scheduled
   * flush commits (default 1,000; alerts always all): a backlog (every
   * host of a busy network saved at once) goes out over several intervals
   * instead of blocking the event loop while thousands of values are
   * serialised. {@link StoreWriter.flush} and close still commit everything.
   */
  maxPerFlush?: number;
  /** Where commit failures are logged. */
  logger?: Logger;
  /** Called after every successful atomic commit (acknowledgements). */
  onCommit?: (info: CommitInfo) => void;
}

/** Counters for `/metrics` and `/health`. */
export interface WriterMetrics {
  /** Flushes that committed something. */
  flushes: number;
  /** Atomic commits (a flush may need several under KV's limits). */
  commits: number;
  /** Mutations committed. */
  mutations: number;
  /** Key plus value bytes committed (approximate). */
  bytes: number;
  /** Alerts written (new or updated). */
  alerts: number;
  hosts: number;
  stats: number;
  records: number;
  /** Values trimmed to fit 64 KiB. */
  trimmed: number;
  /** Failed commits (their items were queued again). */
  errors: number;
  /**
   * Failed updates of the inbox's alert groups (store/inbox.ts), made in a
   * commit of their own right after the alerts' (the alerts stand).
   */
  groupErrors: number;
  /** Items dropped because the queue was full. */
  dropped: number;
  /** Items waiting. */
  pending: number;
  /** Time of the last successful commit, ms since the epoch (0: never). */
  lastCommitAt: number;
  /** Duration of the last flush, ms. */
  lastFlushMs: number;
}

interface QueuedAlert {
  alert: Alert;
  isNew: boolean;
}

interface QueuedRecord {
  key: Deno.KvKey;
  value: unknown;
  expireIn?: number;
}

type Group =
  | {
    kind: "alert";
    ops: KvOp[];
    id: string;
    isNew: boolean;
    item: QueuedAlert;
  }
  | { kind: "host"; ops: KvOp[]; item: HostRecord }
  | { kind: "stats"; ops: KvOp[]; mapKey: string; item: StatsItem }
  | { kind: "record"; ops: KvOp[]; mapKey: string; item: QueuedRecord };

interface StatsItem {
  resolution: string;
  bucket: number;
  rollup: Record<string, unknown>;
}

const COUNTER = {
  alert: "alerts",
  host: "hosts",
  stats: "stats",
  record: "records",
} as const;

/** Longest alert id accepted (ids are 26 characters). */
const MAX_ID = 200;

/** Room kept in every commit for the head and log entries. */
const HEAD_RESERVE = { mutations: 2, bytes: 40_000, keyBytes: 200 };

/**
 * Queues writes and commits them in batches. Call {@link flush} (or
 * {@link close}) at shutdown; acknowledge alerts through `onCommit`.
 *
 * @example
 * ```ts
 * const writer = new StoreWriter(store, { intervalMs: 1000 });
 * aggregator.addSink((alert, isNew) => writer.queueAlert(alert, isNew));
 * // … at shutdown:
 * await writer.close();
 * ```
 */
export class StoreWriter implements AsyncDisposable {
  readonly #store: Store;
  readonly #intervalMs: number;
  readonly #urgentMs: number;
  /** When the scheduled flush fires (performance.now() time). */
  #timerDue = 0;
  readonly #maxPending: number;
  readonly #maxPerFlush: number;
  readonly #log: Logger;
  readonly #onCommit?: (info: CommitInfo) => void;
  #alerts = new Map<string, QueuedAlert>();
  #hosts = new Map<string, HostRecord>();
  #stats = new Map<string, StatsItem>();
  #records = new Map<string, QueuedRecord>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #lastStart = -Infinity;
  /** Start of the last flush that carried new alerts (the urgent gap counts from it). */
  #lastAlertStart = -Infinity;
  #closed = false;
  #head: AlertHead | null = null;
  #sizes = new Map<Group, number>();
  #headVs: string | null = null;
  /** The alert log batch the inbox's groups are known to be folded through (null: to be caught up). */
  #groupedThrough: number | null = null;
  #m: Omit<WriterMetrics, "pending"> = {
    flushes: 0,
    commits: 0,
    mutations: 0,
    bytes: 0,
    alerts: 0,
    hosts: 0,
    stats: 0,
    records: 0,
    trimmed: 0,
    errors: 0,
    groupErrors: 0,
    dropped: 0,
    lastCommitAt: 0,
    lastFlushMs: 0,
  };

  /** Creates a writer for `store`; nothing is written until something is queued. */
  constructor(store: Store, opts: StoreWriterOptions = {}) {
    this.#store = store;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#urgentMs = Math.min(opts.urgentMs ?? 100, this.#intervalMs);
    this.#maxPending = opts.maxPending ?? 50_000;
    this.#maxPerFlush = opts.maxPerFlush ?? 1000;
    this.#log = opts.logger ?? silentLogger;
    this.#onCommit = opts.onCommit;
  }

  /** Items waiting to be committed. */
  get pending(): number {
    return this.#alerts.size + this.#hosts.size + this.#stats.size +
      this.#records.size;
  }

  /** A snapshot of the counters. */
  get metrics(): WriterMetrics {
    return { ...this.#m, pending: this.pending };
  }

  #admit(map: Map<string, unknown>, key: string): boolean {
    if (this.#closed) {
      throw new StoreError("Cannot queue a write: the writer is closed");
    }
    if (map.has(key) || this.pending < this.#maxPending) return true;
    this.#m.dropped++;
    return false;
  }

  /**
   * Queues an alert, new or updated; a later call for the same id replaces
   * the queued version (an update of a still-queued new alert stays new).
   * Usable directly as an aggregator sink.
   */
  queueAlert(alert: Alert, isNew: boolean): void {
    const id = alert.netsentinel.id;
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID) {
      throw new RangeError(
        `Cannot queue an alert with id "${String(id).slice(0, 40)}"`,
      );
    }
    if (!this.#admit(this.#alerts, id)) return;
    const prev = this.#alerts.get(id);
    this.#alerts.set(id, { alert, isNew: isNew || (prev?.isNew ?? false) });
    this.#schedule(isNew);
  }

  /** Queues a host record (the full record: see {@link mergeHost}); the latest per address wins. */
  queueHost(rec: HostRecord): void {
    if (!this.#admit(this.#hosts, rec.ip)) return;
    this.#hosts.set(rec.ip, rec);
    this.#schedule();
  }

  /**
   * Queues a stats rollup for the bucket starting at `bucketMs` (for "1m",
   * {@link minuteBucket}); the latest per bucket wins.
   */
  queueStats(
    resolution: string,
    bucketMs: number,
    rollup: Record<string, unknown>,
  ): void {
    const k = `${resolution}\u0000${bucketMs}`;
    if (!this.#admit(this.#stats, k)) return;
    this.#stats.set(k, { resolution, bucket: bucketMs, rollup });
    this.#schedule();
  }

  /**
   * Queues any other record (block decisions, counters); the latest per key
   * wins. The value must fit one KV value (64 KiB).
   */
  queueSet(
    key: Deno.KvKey,
    value: unknown,
    opts: { expireIn?: number } = {},
  ): void {
    if (keySize(key) > KV_MAX_KEY_BYTES) {
      throw new RangeError(
        `Cannot queue a record: its key is over ${KV_MAX_KEY_BYTES} bytes`,
      );
    }
    const size = valueSize(value);
    if (size > KV_MAX_VALUE_BYTES) {
      throw new RangeError(
        `Cannot queue a record of ${size} bytes: a KV value holds at most ${KV_MAX_VALUE_BYTES}`,
      );
    }
    const k = JSON.stringify(
      key,
      (_, v) => typeof v === "bigint" ? `${v}n` : v,
    );
    if (!this.#admit(this.#records, k)) return;
    this.#records.set(k, { key, value, expireIn: opts.expireIn });
    this.#schedule();
  }

  #schedule(urgent = false): void {
    if (this.#running || this.#closed || this.pending === 0) return;
    const now = performance.now();
    // New alerts wait at most urgentMs after the last flush that carried
    // alerts; everything else the full interval after any flush.
    const wait = urgent || this.#hasNewAlert()
      ? Math.max(0, this.#lastAlertStart + this.#urgentMs - now)
      : Math.max(0, this.#lastStart + this.#intervalMs - now);
    if (this.#timer !== undefined) {
      if (now + wait >= this.#timerDue) return;
      clearTimeout(this.#timer); // a new alert moves the flush earlier
    }
    this.#timerDue = now + wait;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#run().catch((e) => {
        this.#log.error("store write failed", {
          error: e,
          pending: this.pending,
        });
      });
    }, wait);
  }

  async #run(all = false): Promise<void> {
    if (this.#running) return await this.#running;
    const p = this.#commitAll(all ? Infinity : this.#maxPerFlush);
    this.#running = p;
    try {
      await p;
    } finally {
      this.#running = null;
      this.#schedule();
    }
  }

  #hasNewAlert(): boolean {
    for (const q of this.#alerts.values()) if (q.isNew) return true;
    return false;
  }

  /**
   * Commits everything queued so far (waiting for a commit in progress
   * first). Rejects with a {@link StoreError} when KV refuses a commit; the
   * items stay queued.
   */
  async flush(): Promise<void> {
    while (this.#running) {
      try {
        await this.#running;
      } catch {
        // That flush's failure was logged by its caller; this one retries.
      }
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.pending > 0) await this.#run(true);
  }

  /**
   * Flushes and stops; later queue calls throw. Rejects when the last
   * flush failed (what was queued is then lost), but stops either way.
   */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Closes the writer (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #groups(
    alerts: Map<string, QueuedAlert>,
    hosts: Map<string, HostRecord>,
    stats: Map<string, StatsItem>,
    records: Map<string, QueuedRecord>,
  ): Group[] {
    const r = this.#store.retention;
    const groups: Group[] = [];
    for (const item of alerts.values()) {
      const fit = fitAlert(item.alert);
      if (fit.trimmed) this.#m.trimmed++;
      const a = fit.value;
      const id = a.netsentinel.id;
      const expireIn = r.alertMs;
      groups.push({
        kind: "alert",
        id,
        isNew: item.isNew,
        item,
        ops: [
          { key: alertKey(id), value: a, expireIn },
          { key: alertBySrcKey(a.src_ip, id), value: null, expireIn },
          {
            key: alertByTypeKey(a.netsentinel.type, id),
            value: null,
            expireIn,
          },
          { key: alertByTimeKey(alertTimeMs(a), id), value: null, expireIn },
        ],
      });
    }
    for (const item of hosts.values()) {
      const fit = fitValue(item);
      if (fit.trimmed) this.#m.trimmed++;
      groups.push({
        kind: "host",
        item,
        ops: [{ key: hostKey(item.ip), value: fit.value, expireIn: r.hostMs }],
      });
    }
    for (const [mapKey, item] of stats) {
      const fit = fitValue(item.rollup);
      if (fit.trimmed) this.#m.trimmed++;
      groups.push({
        kind: "stats",
        mapKey,
        item,
        ops: [{
          key: statsKey(item.resolution, item.bucket),
          value: fit.value,
          expireIn: this.#store.statsRetentionMs(item.resolution),
        }],
      });
    }
    for (const [mapKey, item] of records) {
      groups.push({
        kind: "record",
        mapKey,
        item,
        ops: [{ key: item.key, value: item.value, expireIn: item.expireIn }],
      });
    }
    return groups;
  }

  async #commitAll(limit: number): Promise<void> {
    if (this.pending === 0) return;
    const t0 = performance.now();
    this.#lastStart = t0;
    const alerts = this.#alerts;
    for (const q of alerts.values()) {
      if (q.isNew) {
        this.#lastAlertStart = t0;
        break;
      }
    }
    this.#alerts = new Map();
    // Stats rollups (a few a minute) before records, records before hosts.
    let room = limit;
    const stats = takeSome(this.#stats, room);
    room -= stats.size;
    const records = takeSome(this.#records, room);
    room -= records.size;
    const hosts = takeSome(this.#hosts, room);
    if (stats === this.#stats) this.#stats = new Map();
    if (records === this.#records) this.#records = new Map();
    if (hosts === this.#hosts) this.#hosts = new Map();
    let parts: Group[][];
    try {
      parts = planCommits(
        this.#groups(alerts, hosts, stats, records),
        HEAD_RESERVE,
        undefined,
        this.#sizes,
      );
    } catch (e) {
      // A single record too large for any commit cannot ever be written.
      this.#sizes.clear();
      this.#m.errors++;
      throw new StoreError(`Cannot plan the write: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      for (let i = 0; i < parts.length; i++) {
        try {
          await this.#commitPart(parts[i]!, t0);
        } catch (e) {
          this.#m.errors++;
          this.#requeue(parts.slice(i).flat());
          throw new StoreError(
            `Cannot write to the database "${this.#store.path}": ${
              (e as Error).message
            }`,
            { cause: e },
          );
        }
      }
    } finally {
      this.#sizes.clear();
    }
    this.#m.flushes++;
    this.#m.lastFlushMs = performance.now() - t0;
  }

  async #commitPart(part: Group[], flushStart: number): Promise<void> {
    const ops: KvOp[] = [];
    const newIds: string[] = [], updatedIds: string[] = [];
    for (const g of part) {
      ops.push(...g.ops);
      if (g.kind === "alert") (g.isNew ? newIds : updatedIds).push(g.id);
    }
    const hasAlerts = newIds.length + updatedIds.length > 0;
    // An alert id already stored (a capture replayed again gives the same
    // ids) is new to the log but not to its group.
    const stored = await this.#stored(newIds);
    if (hasAlerts && this.#groupedThrough === null) await this.groupPending();
    for (let attempt = 0;; attempt++) {
      const at = this.#store.now();
      const atomic = this.#store.kv.atomic();
      addOps(atomic, ops);
      let seq: number | null = null;
      let head: AlertHead | null = null;
      if (hasAlerts) {
        if (this.#head === null) {
          const h = await getAlertHead(this.#store);
          this.#head = h.head;
          this.#headVs = h.versionstamp;
        }
        const prev = this.#head;
        seq = prev.seq + 1;
        let lastId = prev.last_id;
        for (const id of newIds) {
          if (lastId === null || id > lastId) lastId = id;
        }
        head = { seq, last_id: lastId, at, total: prev.total + newIds.length };
        atomic.check({ key: alertHeadKey(), versionstamp: this.#headVs });
        atomic.set(alertLogKey(seq), {
          seq,
          at,
          new: newIds,
          updated: updatedIds,
        }, { expireIn: this.#store.retention.alertLogMs });
        atomic.set(alertHeadKey(), head);
      }
      const res = await atomic.commit();
      if (!res.ok) {
        // Another writer moved the head: read it again and retry.
        this.#head = null;
        if (attempt >= 20) throw new Error("the alert head keeps changing");
        continue;
      }
      if (head !== null) {
        this.#head = head;
        this.#headVs = res.versionstamp;
      }
      const mutations = ops.length + (hasAlerts ? 2 : 0);
      this.#m.commits++;
      this.#m.mutations += mutations;
      for (const g of part) this.#m.bytes += this.#sizes.get(g) ?? 0;
      for (const g of part) this.#m[COUNTER[g.kind]]++;
      this.#m.lastCommitAt = at;
      if (hasAlerts) await this.#group(part, stored, seq!);
      try {
        this.#onCommit?.({
          seq,
          newIds,
          updatedIds,
          mutations,
          at,
          flushStart,
        });
      } catch (e) {
        // The commit stands; a failing listener must not make it look failed.
        this.#log.error("onCommit listener failed", { error: e });
      }
      return;
    }
  }

  /**
   * Folds the committed alerts of `part` (alert log batch `seq`) into the
   * inbox's groups; a failure is logged and counted, and the next commit
   * catches up from the alert log ({@link groupPending}).
   */
  async #group(
    part: Group[],
    stored: ReadonlySet<string>,
    seq: number,
  ): Promise<void> {
    const items: { alert: Alert; isNew: boolean }[] = [];
    for (const g of part) {
      if (g.kind === "alert") {
        items.push({
          alert: g.ops[0]!.value as Alert,
          isNew: g.isNew && !stored.has(g.id),
        });
      }
    }
    if (this.#groupedThrough !== seq - 1) {
      // Another writer committed in between, or catching up failed: the
      // next commit catches up from the log, this batch included.
      this.#groupedThrough = null;
      return;
    }
    try {
      await applyAlertsToGroups(this.#store, items, seq);
      await setGroupedThrough(this.#store, seq);
      this.#groupedThrough = seq;
    } catch (e) {
      this.#groupedThrough = null;
      this.#m.groupErrors++;
      this.#log.error("alert group update failed", {
        error: e,
        alerts: items.length,
      });
    }
  }

  /**
   * Folds into the inbox's groups every committed alert batch they miss: a
   * crash between an earlier run's two commits (the alerts', then their
   * groups'), a failed group write, or a database written before the inbox
   * (grouped from all its alerts once). Runs before the first commit with
   * alerts; the appliance also calls it at start, before queuing anything,
   * so old alerts show in the inbox at once. Failures are logged and
   * counted, never thrown.
   */
  async groupPending(): Promise<void> {
    try {
      const { head } = await getAlertHead(this.#store);
      const n = await catchUpGroups(this.#store, head.seq);
      if (n > 0) {
        this.#log.info("alert groups caught up", { through: head.seq, n });
      }
      this.#groupedThrough = head.seq;
    } catch (e) {
      this.#groupedThrough = null;
      this.#m.groupErrors++;
      this.#log.error("catching up alert groups failed", { error: e });
    }
  }

  /** Which of `ids` are already stored (10 per KV read); none when the read fails. */
  async #stored(ids: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    try {
      for (let i = 0; i < ids.length; i += 10) {
        const part = ids.slice(i, i + 10);
        const es = await this.#store.kv.getMany(part.map((id) => alertKey(id)));
        es.forEach((e, j) => {
          if (e.versionstamp !== null) out.add(part[j]!);
        });
      }
    } catch (e) {
      this.#log.error("reading stored alert ids failed", { error: e });
    }
    return out;
  }

  /** Puts failed items back in front of anything queued since (newer versions win). */
  #requeue(groups: Group[]): void {
    const alerts = new Map<string, QueuedAlert>();
    const hosts = new Map<string, HostRecord>();
    const stats = new Map<string, StatsItem>();
    const records = new Map<string, QueuedRecord>();
    for (const g of groups) {
      switch (g.kind) {
        case "alert":
          alerts.set(g.id, g.item);
          break;
        case "host":
          hosts.set(g.item.ip, g.item);
          break;
        case "stats":
          stats.set(g.mapKey, g.item);
          break;
        case "record":
          records.set(g.mapKey, g.item);
          break;
        default: {
          const never: never = g;
          throw new Error(`Unknown group ${JSON.stringify(never)}`);
        }
      }
    }
    for (const [id, q] of this.#alerts) {
      const old = alerts.get(id);
      alerts.set(id, {
        alert: q.alert,
        isNew: q.isNew || (old?.isNew ?? false),
      });
    }
    for (const [k, v] of this.#hosts) hosts.set(k, v);
    for (const [k, v] of this.#stats) stats.set(k, v);
    for (const [k, v] of this.#records) records.set(k, v);
    this.#alerts = alerts;
    this.#hosts = hosts;
    this.#stats = stats;
    this.#records = records;
    this.#head = null;
  }
}

/**
 * Takes at most `n` entries, oldest first, out of `map`: the map itself
 * when it has no more (the caller replaces it), else a new map.
 */
function takeSome<V>(map: Map<string, V>, n: number): Map<string, V> {
  if (map.size <= n) return map;
  const out = new Map<string, V>();
  for (const [k, v] of map) {
    if (out.size >= n) break;
    out.set(k, v);
  }
  for (const k of out.keys()) map.delete(k);
  return out;
}
