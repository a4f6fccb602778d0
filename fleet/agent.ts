/**
 * The fleet agent: this appliance's membership in a fleet of sensors that
 * share one Redis (the user's own: a server with replicas, or Sentinels
 * naming the primary). Redis does the replication and failover; the fleet
 * only writes and reads plain keys under a prefix `P`:
 *
 * - `P:sensors` (hash, sensor → JSON heartbeat): name, time, health
 *   summary; written every `fleet.heartbeat`. A sensor silent for
 *   `fleet.stale_after` is shown stale.
 * - `P:alerts` (stream, `XADD MAXLEN ~ N * eve <record>`): every EVE
 *   record of every sensor with `host` naming it, shipped from the EVE
 *   file by {@link EveRedisShipper} (exactly once, across outages).
 * - `P:decisions` (hash, target → JSON decision): the fleet's blocks with
 *   their expiry and the sensor that made them, as CrowdSec's local API
 *   keeps decisions; `P:lifted` (hash, target → JSON): when and where a
 *   block was lifted (a tombstone, kept a day), so a sensor that was away
 *   lifts it too instead of publishing it again; `P:refusals` (hash,
 *   `sensor|target` → JSON): decisions a sensor's own guards refused;
 *   `P:version` (counter): bumped with every change, polled to notice
 *   them; `P:epoch`: set once, so an emptied Redis (restarted without
 *   persistence) is told apart from "every block was lifted".
 *
 * Every sensor reconciles its KV blocks (the blocker's source of truth)
 * with the decisions: its own blocks are published, others' decisions are
 * applied through {@link Blocker.block} with `source: "fleet"` (so every
 * guard of the appliance applies, and a refusal is reported in
 * `P:refusals`), and a block that disappears from KV before its expiry
 * (unblocked by hand, by the CLI, the API or the dashboard, or lifted by
 * an allowlist entry) is lifted in the fleet. A lift made while Redis is
 * away waits in KV (`["fleet","lift",target]`) until it returns; blocks
 * made meanwhile are in KV anyway and are published on return. Detection
 * and blocking never wait for Redis.
 *
 * @module
 */
import { type Logger, silentLogger } from "../common/logger.ts";
import type { Blocker } from "../respond/mod.ts";
import {
  type BlockRecord,
  getBlockHeadVersion,
  listBlocks,
  type Store,
} from "../store/mod.ts";
import { EveRedisShipper, type EveRedisState } from "./eve_redis.ts";
import type { FleetConfig } from "./config.ts";
import {
  jsonObject,
  RedisConn,
  RedisError,
  type RedisReply,
  replyStrings,
} from "./resp.ts";

/** A block shared with the fleet. */
export interface FleetDecision {
  target: string;
  /** The sensor that made it. */
  sensor: string;
  reason: string;
  alert_type: string | null;
  /** ISO 8601. */
  since: string;
  until: string;
}

/** A decision a sensor refused (its own guards). */
export interface FleetRefusal {
  sensor: string;
  target: string;
  /** The decision's sensor. */
  from: string;
  reason: string;
  detail: string;
  at: string;
}

/** A sensor as its last heartbeat described it. */
export interface FleetSensor {
  sensor: string;
  /** Time of the last heartbeat (ISO 8601). */
  at: string;
  /** True when no heartbeat came within `stale_after`. */
  stale: boolean;
  /** Seconds since the last heartbeat. */
  age_s: number;
  health: Record<string, unknown>;
}

/** What the dashboard shows of the fleet. */
export interface FleetView {
  sensor: string;
  connected: boolean;
  down_since: string | null;
  last_error: string | null;
  /** When the view was read from Redis (ISO 8601), null before the first time. */
  read_at: string | null;
  sensors: FleetSensor[];
  decisions: FleetDecision[];
  refusals: FleetRefusal[];
}

/** A fleet alert: an EVE record and its sensor. */
export interface FleetAlert {
  /** Stream entry id. */
  id: string;
  sensor: string;
  eve: Record<string, unknown>;
}

/** The agent's counters and state for `/metrics` and `/health`. */
export interface FleetState {
  enabled: true;
  sensor: string;
  connected: boolean;
  down_since: string | null;
  last_error: string | null;
  published: number;
  applied: number;
  refused: number;
  lifted_here: number;
  lifted_from_fleet: number;
  /** Lifts waiting for Redis. */
  pending_lifts: number;
  last_sync: string | null;
  alerts: EveRedisState;
}

/** Options of {@link FleetAgent}. */
export interface FleetAgentOptions {
  config: FleetConfig;
  store: Store;
  blocker: Blocker;
  /** The EVE file whose records go to the fleet's alert stream (null: none). */
  eve: { path: string; rotatedFiles: number; cursorPath: string } | null;
  /** A small summary of this appliance's health for the heartbeat. */
  health: () => Record<string, unknown>;
  /** How often to look for changes, ms (default 200). */
  syncMs?: number;
  logger?: Logger;
}

const LIFT_KEY = "lift";
const TOMBSTONE_MS = 86_400_000;
const FULL_SYNC_MS = 5000;
/** Longest wait between two attempts to reach Redis, ms. */
const RETRY_MAX_MS = 5000;

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** Validates a decision read from Redis (another sensor wrote it: hostile until checked). */
export function parseDecision(
  target: string,
  v: unknown,
): FleetDecision | null {
  const o = typeof v === "string" ? jsonObject(v) : null;
  if (o === null) return null;
  const sensor = str(o.sensor);
  const since = str(o.since);
  const until = str(o.until);
  if (
    sensor === null || since === null || until === null ||
    !Number.isFinite(Date.parse(since)) ||
    !Number.isFinite(Date.parse(until)) ||
    o.target !== target || sensor.length > 64
  ) return null;
  return {
    target,
    sensor,
    reason: (str(o.reason) ?? "").slice(0, 300),
    alert_type: str(o.alert_type)?.slice(0, 64) ?? null,
    since,
    until,
  };
}

function pairs(r: RedisReply): [string, string][] {
  const s = replyStrings(r);
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < s.length; i += 2) out.push([s[i]!, s[i + 1]!]);
  return out;
}

/**
 * The fleet agent (see the module doc).
 *
 * @example
 * ```ts
 * const agent = new FleetAgent({ config, store, blocker, eve, health });
 * agent.start();
 * const view = await agent.view();
 * await agent.stop();
 * ```
 */
export class FleetAgent {
  readonly #c: FleetConfig;
  readonly #store: Store;
  readonly #blocker: Blocker;
  readonly #health: () => Record<string, unknown>;
  readonly #log: Logger;
  readonly #syncMs: number;
  readonly #alerts: EveRedisShipper | null;
  readonly #k: (s: string) => string;
  #conn: RedisConn | null = null;
  #stopped = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #downSince: number | null = Date.now();
  #lastError: string | null = "not connected yet";
  #epoch: string | null = null;
  #version: string | null = null;
  #head: string | null | undefined = undefined;
  #syncedHead: string | null | undefined = undefined;
  #lastFull = 0;
  #lastBeat = 0;
  /** Until then, a decision absent from Redis is not lifted (Redis was emptied; sensors republish). */
  #graceUntil = 0;
  /** Local blocks at the last look (target → until ms). */
  #local = new Map<string, number>();
  /** Targets this agent unblocked because the fleet lifted them. */
  #selfLifted = new Set<string>();
  /** Decisions applied here (target|since). */
  #appliedHere = new Set<string>();
  /** Decisions refused here (target|since), not tried again. */
  #refusedHere = new Set<string>();
  #view: FleetView;
  #counts = {
    published: 0,
    applied: 0,
    refused: 0,
    liftedHere: 0,
    liftedFromFleet: 0,
  };
  #pendingLifts = 0;
  #lastSync: number | null = null;

  /** Creates the agent; nothing runs until {@link start}. */
  constructor(opts: FleetAgentOptions) {
    this.#c = opts.config;
    this.#store = opts.store;
    this.#blocker = opts.blocker;
    this.#health = opts.health;
    this.#log = opts.logger ?? silentLogger;
    this.#syncMs = opts.syncMs ?? 200;
    const p = this.#c.prefix;
    this.#k = (s) => `${p}:${s}`;
    this.#alerts = opts.eve === null ? null : new EveRedisShipper({
      ...opts.eve,
      target: this.#c.target,
      mode: "xadd",
      key: this.#k("alerts"),
      streamMaxlen: this.#c.alerts_maxlen,
      streamTrimExact: false,
      batchSize: 200,
      host: this.#c.sensor,
      logger: this.#log,
    });
    this.#view = {
      sensor: this.#c.sensor,
      connected: false,
      down_since: null,
      last_error: null,
      read_at: null,
      sensors: [],
      decisions: [],
      refusals: [],
    };
  }

  /** The sensor's name. */
  get sensor(): string {
    return this.#c.sensor;
  }

  /** Starts the agent and its alert shipper in the background. */
  start(): void {
    if (this.#loop !== null) return;
    this.#alerts?.start();
    this.#loop = this.#run();
  }

  /** Stops both; local blocks stay as they are. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    await this.#alerts?.stop();
    this.#conn?.close();
    this.#conn = null;
  }

  /** Looks for changes now (a block made or lifted here). */
  poke(): void {
    this.#wake?.();
    this.#alerts?.poke();
  }

  /** The agent's state for `/metrics` and `/health`. */
  state(): FleetState {
    // A connection the server closed counts as down at once, not only when
    // the loop next uses it.
    if (this.#conn !== null && !this.#conn.open) {
      this.#fail(this.#conn.closedBy);
    }
    return {
      enabled: true,
      sensor: this.#c.sensor,
      connected: this.#conn?.open ?? false,
      down_since: this.#downSince === null
        ? null
        : new Date(this.#downSince).toISOString(),
      last_error: this.#lastError,
      published: this.#counts.published,
      applied: this.#counts.applied,
      refused: this.#counts.refused,
      lifted_here: this.#counts.liftedHere,
      lifted_from_fleet: this.#counts.liftedFromFleet,
      pending_lifts: this.#pendingLifts,
      last_sync: this.#lastSync === null
        ? null
        : new Date(this.#lastSync).toISOString(),
      alerts: this.#alerts?.state() ?? {
        connected: false,
        server: null,
        down_since: null,
        last_error: "the EVE log is disabled (eve.enabled)",
        sent: 0,
        batches: 0,
        resends_avoided: 0,
        reconnects: 0,
        pending_bytes: 0,
        lost_files: 0,
        skipped_lines: 0,
      },
    };
  }

  /**
   * The fleet as last read from Redis (sensors with their staleness
   * worked out now, decisions, refusals), with whether Redis is reachable.
   */
  view(): FleetView {
    const now = Date.now();
    const st = this.state();
    return {
      ...this.#view,
      connected: st.connected,
      down_since: st.down_since,
      last_error: st.last_error,
      sensors: this.#view.sensors.map((s) => {
        // This sensor is alive whatever Redis says: its health is read now.
        if (s.sensor === this.#c.sensor) {
          return {
            ...s,
            at: new Date(now).toISOString(),
            age_s: 0,
            stale: false,
            health: this.#health(),
          };
        }
        const age = Math.max(0, (now - Date.parse(s.at)) / 1000);
        return {
          ...s,
          age_s: Math.round(age * 10) / 10,
          stale: age > this.#c.stale_after_s,
        };
      }),
      decisions: this.#view.decisions.filter((d) => Date.parse(d.until) > now),
    };
  }

  /**
   * The newest fleet alerts (EVE records of every sensor; the last
   * entries of the stream, newest alert first);
   * `sensor` keeps one sensor's. Reads up to `limit` × 10 entries when
   * filtering. Throws when Redis is unreachable.
   */
  async alerts(
    opts: { sensor?: string; limit?: number } = {},
  ): Promise<FleetAlert[]> {
    const limit = opts.limit ?? 100;
    const c = this.#conn;
    if (c === null || !c.open) {
      throw new Error(
        `Redis is unreachable${this.#lastError ? `: ${this.#lastError}` : ""}`,
      );
    }
    const r = await c.send([
      "XREVRANGE",
      this.#k("alerts"),
      "+",
      "-",
      "COUNT",
      opts.sensor === undefined ? limit : limit * 10,
    ]);
    if (r instanceof RedisError) throw r;
    const out: FleetAlert[] = [];
    const seen = new Set<string>();
    if (!Array.isArray(r)) return out;
    for (const e of r as RedisReply[]) {
      if (!Array.isArray(e)) continue;
      const id = e[0];
      const fields = replyStrings(e[1] ?? null);
      const i = fields.indexOf("eve");
      const eve = i >= 0 ? jsonObject(fields[i + 1]) : null;
      if (typeof id !== "string" || eve === null) continue;
      const sensor = typeof eve.host === "string" ? eve.host : "";
      if (opts.sensor !== undefined && sensor !== opts.sensor) continue;
      // An updated alert is written again: the newest record of an id wins.
      const ns = eve.netsentinel;
      const aid = typeof ns === "object" && ns !== null && "id" in ns
        ? `${sensor}|${String(ns.id)}`
        : null;
      if (aid !== null) {
        if (seen.has(aid)) continue;
        seen.add(aid);
      }
      out.push({ id, sensor, eve });
      if (out.length >= limit) break;
    }
    // The stream is in arrival order (a sensor back from an outage sends
    // late): shown newest alert first.
    const ts = (a: FleetAlert) =>
      typeof a.eve.timestamp === "string" ? a.eve.timestamp : "";
    return out.sort((a, b) => ts(b).localeCompare(ts(a)));
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#stopped) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = null;
  }

  async #run(): Promise<void> {
    await this.#lookLocal(true).catch((e) => this.#fail(e));
    let backoff = 250;
    let nextTry = 0;
    while (!this.#stopped) {
      // KV is looked at whether Redis is there or not: a lift made while it
      // is away is kept for its return.
      await this.#lookLocal(false).catch((e) =>
        this.#log.warn("fleet local look failed", {
          error: (e as Error).message,
        })
      );
      try {
        if (
          (this.#conn === null || !this.#conn.open) && Date.now() >= nextTry
        ) {
          this.#conn = null;
          this.#conn = await RedisConn.open(this.#c.target);
          this.#epoch = null;
          this.#version = null;
          this.#lastBeat = 0;
          if (this.#downSince !== null) {
            this.#log.info("fleet redis connected", {
              server: this.#conn.address,
              down_ms: Date.now() - this.#downSince,
            });
          }
          this.#downSince = null;
          this.#lastError = null;
        }
        if (this.#conn !== null && this.#conn.open) {
          await this.#tick();
          backoff = 250;
        }
      } catch (e) {
        this.#fail(e);
        nextTry = Date.now() + backoff;
        backoff = Math.min(RETRY_MAX_MS, backoff * 2);
      }
      await this.#sleep(this.#syncMs);
    }
  }

  #fail(e: unknown): void {
    this.#conn?.close();
    this.#conn = null;
    const msg = (e as Error).message;
    if (this.#downSince === null) {
      this.#downSince = Date.now();
      this.#log.warn("fleet redis down", { error: msg });
    }
    this.#lastError = msg;
  }

  /**
   * Compares KV's blocks with the last look: a block gone before its
   * expiry, not lifted by this agent, becomes a pending lift in KV.
   */
  async #lookLocal(first: boolean): Promise<void> {
    const head = await getBlockHeadVersion(this.#store);
    if (!first && head === this.#head) return;
    this.#head = head;
    const now = Date.now();
    const blocks = (await listBlocks(this.#store)).filter((b) =>
      Date.parse(b.until) > now
    );
    const next = new Map(blocks.map((b) => [b.target, Date.parse(b.until)]));
    this.#log.debug("fleet local look", {
      before: [...this.#local.keys()],
      now: [...next.keys()],
    });
    if (!first) {
      for (const [t, until] of this.#local) {
        if (next.has(t) || until <= now + 1000) continue;
        if (this.#selfLifted.delete(t)) continue;
        await this.#recordLift(t, now);
      }
    }
    this.#local = next;
  }

  /** One round with Redis: heartbeat, lifts, then decisions when anything changed. */
  async #tick(): Promise<void> {
    const c = this.#conn!;
    const now = Date.now();
    if (now - this.#lastBeat >= this.#c.heartbeat_s * 1000) {
      await this.#beat(c, now);
    }
    const lifts = await this.#sendLifts(c);
    const [epoch, version] = await c.batch([
      ["GET", this.#k("epoch")],
      ["GET", this.#k("version")],
    ]);
    let fresh = false;
    if (typeof epoch !== "string") {
      // A new or emptied Redis: name it; nothing is lifted for being absent
      // until every sensor had time to publish its blocks again.
      await c.send(["SET", this.#k("epoch"), crypto.randomUUID(), "NX"]);
      fresh = true;
    } else if (epoch !== this.#epoch) {
      fresh = this.#epoch !== null;
      this.#epoch = epoch;
    }
    if (fresh) this.#graceUntil = now + this.#c.heartbeat_s * 2000 + 2000;
    fresh ||= now < this.#graceUntil;
    const changed = lifts || fresh || version !== this.#version ||
      this.#head !== this.#syncedHead || now - this.#lastFull >= FULL_SYNC_MS;
    if (!changed) return;
    this.#version = typeof version === "string" ? version : null;
    this.#syncedHead = this.#head;
    this.#lastFull = now;
    await this.#reconcile(c, fresh);
    this.#lastSync = Date.now();
  }

  async #beat(c: RedisConn, now: number): Promise<void> {
    const beat = {
      sensor: this.#c.sensor,
      at: new Date(now).toISOString(),
      health: this.#health(),
    };
    const [, sensors] = await c.batch([
      ["HSET", this.#k("sensors"), this.#c.sensor, JSON.stringify(beat)],
      ["HGETALL", this.#k("sensors")],
    ]);
    const list: FleetSensor[] = [];
    for (const [name, json] of pairs(sensors ?? null)) {
      const o = jsonObject(json);
      const at = str(o?.at);
      if (o === null || at === null || !Number.isFinite(Date.parse(at))) {
        continue;
      }
      const health = o.health;
      list.push({
        sensor: name.slice(0, 64),
        at,
        stale: false,
        age_s: 0,
        health: typeof health === "object" && health !== null &&
            !Array.isArray(health)
          ? health as Record<string, unknown>
          : {},
      });
    }
    list.sort((a, b) => a.sensor.localeCompare(b.sensor));
    this.#view = { ...this.#view, sensors: list, read_at: beat.at };
    this.#lastBeat = now;
  }

  /** Keeps a lift made here in KV until Redis has it. */
  async #recordLift(target: string, at: number): Promise<void> {
    const k = ["fleet", LIFT_KEY, target];
    if ((await this.#store.kv.get(k)).versionstamp !== null) return;
    await this.#store.kv.set(k, at);
    this.#counts.liftedHere++;
    this.#pendingLifts++;
  }

  /** Sends the lifts waiting in KV; true when any was sent. */
  async #sendLifts(c: RedisConn): Promise<boolean> {
    const waiting: [string, number][] = [];
    for await (
      const e of this.#store.kv.list<number>({
        prefix: ["fleet", LIFT_KEY],
      })
    ) {
      const t = e.key[2];
      if (typeof t === "string" && typeof e.value === "number") {
        waiting.push([t, e.value]);
      }
    }
    this.#pendingLifts = waiting.length;
    if (waiting.length === 0) return false;
    const got = await c.batch(
      waiting.map(([t]) => ["HGET", this.#k("decisions"), t]),
    );
    const cmds: (string | number)[][] = [];
    for (let i = 0; i < waiting.length; i++) {
      const [t, at] = waiting[i]!;
      const d = parseDecision(t, got[i]);
      // A decision made after the lift (a new offence) stays.
      if (d !== null && Date.parse(d.since) > at) continue;
      cmds.push(["HDEL", this.#k("decisions"), t]);
      cmds.push([
        "HSET",
        this.#k("lifted"),
        t,
        JSON.stringify({
          target: t,
          sensor: this.#c.sensor,
          at: new Date(at).toISOString(),
        }),
      ]);
    }
    cmds.push(["INCR", this.#k("version")]);
    await c.batch(cmds);
    for (const [t] of waiting) {
      await this.#store.kv.delete(["fleet", LIFT_KEY, t]);
    }
    this.#pendingLifts = 0;
    this.#log.info("fleet lifts sent", { count: waiting.length });
    return true;
  }

  async #reconcile(c: RedisConn, fresh: boolean): Promise<void> {
    const now = Date.now();
    const [dr, lr, rr] = await c.batch([
      ["HGETALL", this.#k("decisions")],
      ["HGETALL", this.#k("lifted")],
      ["HGETALL", this.#k("refusals")],
    ]);
    const decisions = new Map<string, FleetDecision>();
    const cmds: (string | number)[][] = [];
    for (const [t, json] of pairs(dr ?? null)) {
      const d = parseDecision(t, json);
      if (d === null || Date.parse(d.until) < now - 60_000) {
        cmds.push(["HDEL", this.#k("decisions"), t]);
        continue;
      }
      decisions.set(t, d);
    }
    const lifted = new Map<string, number>();
    for (const [t, json] of pairs(lr ?? null)) {
      const at = Date.parse(str(jsonObject(json)?.at) ?? "");
      if (!Number.isFinite(at) || at < now - TOMBSTONE_MS) {
        cmds.push(["HDEL", this.#k("lifted"), t]);
        continue;
      }
      lifted.set(t, at);
    }
    const blocks = (await listBlocks(this.#store)).filter((b) =>
      Date.parse(b.until) > now
    );
    const local = new Map<string, BlockRecord>(
      blocks.map((b) => [b.target, b]),
    );
    let publish = 0;
    const toLift: string[] = [];
    for (const b of blocks) {
      const d = decisions.get(b.target);
      if (b.source === "fleet") {
        // Applied from the fleet: lifted there (not merely an emptied Redis)?
        if (d === undefined && !fresh) toLift.push(b.target);
        continue;
      }
      const liftedAt = lifted.get(b.target);
      if (
        d === undefined && liftedAt !== undefined &&
        liftedAt >= Date.parse(b.since)
      ) {
        toLift.push(b.target);
        continue;
      }
      if (d === undefined || Date.parse(d.until) < Date.parse(b.until)) {
        const nd: FleetDecision = {
          target: b.target,
          sensor: this.#c.sensor,
          reason: b.reason,
          alert_type: b.alert_type,
          since: b.since,
          until: b.until,
        };
        cmds.push([
          "HSET",
          this.#k("decisions"),
          b.target,
          JSON.stringify(nd),
        ], ["HDEL", this.#k("lifted"), b.target]);
        decisions.set(b.target, nd);
        publish++;
      }
    }
    // Others' decisions not in force here yet.
    const refusals: FleetRefusal[] = [];
    for (const [k, json] of pairs(rr ?? null)) {
      const o = jsonObject(json);
      const [sensor, target] = k.split("|");
      if (o === null || sensor === undefined || target === undefined) continue;
      if (!decisions.has(target)) {
        cmds.push(["HDEL", this.#k("refusals"), k]);
        continue;
      }
      refusals.push({
        sensor,
        target,
        from: str(o.from) ?? "",
        reason: str(o.reason) ?? "",
        detail: (str(o.detail) ?? "").slice(0, 300),
        at: str(o.at) ?? "",
      });
    }
    for (const d of decisions.values()) {
      if (local.has(d.target) || Date.parse(d.until) <= now + 1000) continue;
      if (d.sensor === this.#c.sensor) {
        // Ours, yet no longer here: lifted here while this agent was not
        // looking (a restart): lifted in the fleet.
        if (!fresh) await this.#recordLift(d.target, now);
        continue;
      }
      const rk = `${d.target}|${d.since}`;
      if (this.#refusedHere.has(rk)) continue;
      if (this.#appliedHere.has(rk)) {
        // Applied here before and gone before its end: lifted here (maybe
        // between two looks at KV), so lifted in the fleet, not re-applied.
        await this.#recordLift(d.target, now);
        continue;
      }
      const r = await this.#blocker.block(d.target, {
        duration: Math.ceil((Date.parse(d.until) - now) / 1000),
        reason: `fleet (${d.sensor}): ${d.reason}`.slice(0, 300),
        source: "fleet",
        by: d.sensor,
      });
      if (r.ok) {
        // Known as local at once: a lift right after is a removal, however
        // soon it comes.
        this.#local.set(d.target, Date.parse(r.record.until));
        this.#appliedHere.add(rk);
        this.#counts.applied++;
        continue;
      }
      this.#refusedHere.add(rk);
      this.#counts.refused++;
      const ref: FleetRefusal = {
        sensor: this.#c.sensor,
        target: d.target,
        from: d.sensor,
        reason: r.reason,
        detail: r.detail,
        at: new Date(now).toISOString(),
      };
      refusals.push(ref);
      cmds.push([
        "HSET",
        this.#k("refusals"),
        `${this.#c.sensor}|${d.target}`,
        JSON.stringify(ref),
      ]);
      this.#log.warn("fleet decision refused", {
        target: d.target,
        from: d.sensor,
        reason: r.reason,
      });
    }
    for (const t of toLift) {
      this.#selfLifted.add(t);
      await this.#blocker.unblock(t);
      this.#counts.liftedFromFleet++;
    }
    if (cmds.length > 0) {
      if (publish > 0) cmds.push(["INCR", this.#k("version")]);
      await c.batch(cmds);
      this.#counts.published += publish;
    }
    if (toLift.length > 0) await this.#lookLocal(false);
    this.#view = {
      ...this.#view,
      read_at: new Date().toISOString(),
      decisions: [...decisions.values()].sort((a, b) =>
        b.since.localeCompare(a.since)
      ),
      refusals,
    };
  }
}
