/**
 * The blocker: turns alerts into nftables blocks by policy, never blocking
 * what {@link Guard} protects, capping blocks per minute, escalating repeat
 * offenders, recording refusals, and keeping nftables equal to KV (the
 * source of truth) by re-syncing on start and on an interval.
 *
 * Life of an automatic block: `onAlert` decides synchronously (and marks
 * the alert `action: "blocked"`, so call it before the other sinks), the
 * element goes to nft in the next microtask together with any others
 * decided in the same tick (one `nft -f -` transaction), then the block and
 * offender records are committed to KV. Manual changes (`block`,
 * `unblock`, `allow`, `disallow`, for the CLI and the API) write KV first,
 * then make nft match KV.
 *
 * When nft is missing or the process lacks CAP_NET_ADMIN, the blocker is
 * "unavailable": detection goes on, decisions are recorded as refused
 * ("blocker_unavailable"), {@link Blocker.state} says why for `/health` and
 * the dashboard, and set-up is retried every 30 s.
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";
import { type Logger, silentLogger } from "../common/logger.ts";
import { cidrContains } from "../decode/mod.ts";
import {
  type AllowRecord,
  blockHeadKey,
  blockKey,
  type BlockRecord,
  type BlockSource,
  decisionKey,
  type DecisionRecord,
  deleteAllow,
  deleteBlocks,
  getBlockHeadVersion,
  isExpired,
  listAllow,
  listBlocks,
  offenderKey,
  type OffenderRecord,
  parseOffenderRecord,
  parseTarget,
  putAllow,
  putBlock,
  type RecordedOutcome,
  type Store,
  type StoreWriter,
  type Target,
} from "../store/mod.ts";
import { Nft, type NftElement, NftError } from "./nft.ts";
import {
  type BlockPolicy,
  DEFAULT_BLOCK_POLICY,
  escalatedDuration,
} from "./policy.ts";
import {
  cidrOverlaps,
  Guard,
  readSessionPeers,
  readSystemFacts,
  type RefusalReason,
  type SystemFacts,
} from "./protected.ts";

/** Why an alert did not lead to a block without being refused. */
export type SkipReason =
  | "disabled"
  | "type"
  | "category"
  | "severity"
  | "already_blocked"
  | "no_target";

/** What the blocker did with an alert. */
export type BlockDecision =
  | {
    readonly outcome: "blocked";
    readonly target: string;
    /** Seconds. */
    readonly duration: number;
    /** Escalation level (0: first offence in the window). */
    readonly level: number;
    readonly until: string;
  }
  | {
    readonly outcome: "would_block";
    readonly target: string;
    readonly duration: number;
    readonly level: number;
  }
  | {
    readonly outcome: "refused";
    readonly target: string;
    readonly reason: RefusalReason;
    readonly detail: string;
  }
  | {
    readonly outcome: "skipped";
    readonly target: string;
    readonly reason: SkipReason;
  };

/** Result of a manual block. */
export type ManualBlockResult =
  | {
    readonly ok: true;
    readonly record: BlockRecord;
    /** True when nftables now holds the block. */
    readonly applied: boolean;
    /** Why it is not in nftables yet (blocker unavailable, nft error). */
    readonly error: string | null;
  }
  | {
    readonly ok: false;
    readonly reason: RefusalReason;
    readonly detail: string;
  };

/** The blocker's state for `/health`, `/metrics` and the dashboard. */
export interface BlockerState {
  /** True when nftables can be changed. */
  available: boolean;
  /** What happens to alerts now (dry-run works without nftables). */
  mode: "active" | "dry_run" | "disabled" | "unavailable";
  /** Why it is unavailable (one line with the fix), else null. */
  reason: string | null;
  nft_version: string | null;
  /** The nft command line in use. */
  nft_command: string;
  active_blocks: number;
  blocked_total: number;
  would_block_total: number;
  refused_total: number;
  refused_by_reason: Record<string, number>;
  /** Refusals not written to KV because of the per-minute cap on records. */
  decisions_unrecorded: number;
  nft_errors: number;
  last_error: string | null;
  /** Time of the last re-sync from KV (ISO 8601), or null. */
  last_resync: string | null;
  /** Alert → nft transaction done, over the last 1,000 automatic blocks. */
  latency_ms: { p50: number | null; p99: number | null; samples: number };
  /** Peers of SSH sessions to this host, protected from automatic blocks (policy `ssh_ports`). */
  ssh_sessions: number;
}

/** What a re-sync changed in nftables. */
export interface ResyncResult {
  /** False when KV had not changed and no full comparison was due. */
  checked: boolean;
  added: number;
  removed: number;
  refreshed: number;
}

/** Options of {@link Blocker}. */
export interface BlockerOptions {
  /** The block policy (default {@link DEFAULT_BLOCK_POLICY}). */
  policy?: BlockPolicy;
  /**
   * Work inside this network namespace: nft runs through
   * `ip netns exec NS nft` and the system facts are read there.
   */
  netns?: string;
  /** The nft command line (default `["nft"]`, or the netns form). */
  nftCommand?: readonly string[];
  /** Table name (default "netsentinel"). */
  table?: string;
  /**
   * False: never run nft (a replay without `--block`: it only records what
   * it would block, and must not touch a table a live instance keeps).
   * Blocks then stay in KV and the state says why (default true).
   */
  nftables?: boolean;
  /** Decision records go through this writer (batched) when given. */
  writer?: StoreWriter;
  /** Addresses of signed-in admin sessions; asked on every decision, keep it cheap. */
  protectedAddrs?: () => Iterable<string>;
  /** Reads the own addresses, gateways, DNS servers (default {@link readSystemFacts}). */
  systemFacts?: () => Promise<SystemFacts>;
  /**
   * Reads the peers of established sessions to these local ports, the
   * policy's `ssh_ports` (default {@link readSessionPeers}); asked at start
   * and with every resync.
   */
  sessionPeers?: (ports: readonly number[]) => Promise<string[]>;
  /** How often to look for changes in KV, ms (default 5000). */
  resyncIntervalMs?: number;
  /** How often to compare nftables with KV even without changes, ms (default 60,000). */
  fullResyncMs?: number;
  logger?: Logger;
}

interface PendingBlock {
  rec: BlockRecord;
  offender: OffenderRecord | null;
  t0: number;
}

const FACTS_REFRESH_MS = 60_000;
const SETUP_RETRY_MS = 30_000;
const DECISION_REWRITE_MS = 600_000;
const MAX_DECIDED = 10_000;
/** Most decision records written in any 60 s; more are only counted. */
const MAX_RECORDS_PER_MIN = 120;
/** nft timeouts may drift from KV by this much before an element is refreshed, s. */
const DRIFT_S = 10;

/**
 * True when an alert's source is believed to be real:
 * `netsentinel.evidence.confirmed_source` when it is a boolean, else false
 * for the policy's flood types and true for the others.
 */
export function isConfirmedSource(alert: Alert, policy: BlockPolicy): boolean {
  const v = alert.netsentinel.evidence?.confirmed_source;
  if (typeof v === "boolean") return v;
  return !policy.flood_types.includes(alert.netsentinel.type);
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)]! * 10) / 10;
}

/**
 * Why `t` is too broad for the allowlist, or null: an entry may be as
 * wide as a block and no wider (/8 for IPv4, /32 for IPv6), so one entry
 * cannot switch all blocking off (`0.0.0.0/0` would refuse every block
 * and lift all).
 */
export function allowWidthError(t: Target): string | null {
  const widest = t.cidr.version === 4 ? 8 : 32;
  if (t.cidr.bits >= widest) return null;
  return `"${t.text}" is too broad (at most /${widest} for ${
    t.cidr.version === 4 ? "IPv4" : "IPv6"
  }, as for blocks; add narrower prefixes)`;
}

/**
 * The blocker. `start()` for the appliance (re-creates the table from KV,
 * re-syncs on an interval); `connect()` for one-shot use by the CLI.
 *
 * @example
 * ```ts
 * const blocker = new Blocker(store, { policy, writer, protectedAddrs });
 * await blocker.start();
 * aggregator.addSink((alert, isNew) => blocker.onAlert(alert, isNew));
 * ```
 */
export class Blocker implements AsyncDisposable {
  readonly #store: Store;
  readonly #nft: Nft;
  /** Why nft is never run, or null when it is used. */
  readonly #nftOff: string | null;
  readonly #writer?: StoreWriter;
  readonly #log: Logger;
  readonly #guard: Guard;
  readonly #facts: () => Promise<SystemFacts>;
  readonly #resyncMs: number;
  readonly #fullMs: number;
  #policy: BlockPolicy;
  #available = false;
  #reason: string | null = "not started";
  #nftVersion: string | null = null;
  #active = new Map<string, BlockRecord>();
  #dry = new Map<string, number>();
  #offenders = new Map<string, OffenderRecord>();
  #kvAllow: string[] = [];
  #recent: number[] = [];
  #decided = new Map<
    string,
    {
      outcome: RecordedOutcome;
      reason: string;
      count: number;
      writtenAt: number;
    }
  >();
  #pending: PendingBlock[] = [];
  #applyQueued = false;
  #chain: Promise<unknown> = Promise.resolve();
  #inflight = new Set<Promise<unknown>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #headVs: string | null | undefined = undefined;
  #lastFull = 0;
  #lastFacts = 0;
  #sessionPeers: (ports: readonly number[]) => Promise<string[]>;
  #lastSetup = 0;
  #lastResync: number | null = null;
  #latencies: number[] = [];
  #counts = { blocked: 0, would: 0, refused: 0, nftErrors: 0, unrecorded: 0 };
  #recordTimes: number[] = [];
  #refusedBy: Record<string, number> = {};
  #lastError: string | null = null;
  #stopped = false;

  /** Creates a blocker; nothing runs until {@link start} or {@link connect}. */
  constructor(store: Store, opts: BlockerOptions = {}) {
    this.#store = store;
    this.#policy = opts.policy ?? DEFAULT_BLOCK_POLICY;
    this.#nft = new Nft({
      command: opts.nftCommand ??
        (opts.netns !== undefined
          ? ["ip", "netns", "exec", opts.netns, "nft"]
          : ["nft"]),
      table: opts.table,
    });
    this.#nftOff = opts.nftables === false
      ? "nftables not used: a replay only records what it would block (--block enforces)"
      : null;
    this.#writer = opts.writer;
    this.#log = opts.logger ?? silentLogger;
    this.#guard = new Guard(undefined, opts.protectedAddrs);
    const netns = opts.netns;
    this.#facts = opts.systemFacts ?? (() => readSystemFacts({ netns }));
    this.#sessionPeers = opts.sessionPeers ??
      ((ports) => readSessionPeers(ports, netns));
    this.#resyncMs = opts.resyncIntervalMs ?? 5000;
    this.#fullMs = opts.fullResyncMs ?? 60_000;
    this.#guard.setAllow(this.#policy.allow);
  }

  /** The policy in effect. */
  get policy(): BlockPolicy {
    return this.#policy;
  }

  /** Replaces the policy (a config change); takes effect with the next alert. */
  setPolicy(policy: BlockPolicy): void {
    this.#policy = policy;
    this.#guard.setAllow([...policy.allow, ...this.#kvAllow]);
  }

  /** The nft runner (for tests and `doctor`). */
  get nft(): Nft {
    return this.#nft;
  }

  /**
   * Starts the appliance's blocker: reads the system facts and KV,
   * re-creates the table with the active blocks from KV (expired ones
   * dropped, stray elements gone) in one transaction, then re-syncs every
   * `resyncIntervalMs`. Resolves to the state; an unavailable nft is not an
   * error (see {@link BlockerState.reason}).
   */
  async start(): Promise<BlockerState> {
    await this.#refreshFacts();
    await this.#refreshSessions();
    await this.#loadFromStore(true);
    await this.#serial(() => this.#setup("install"));
    this.#lastResync = Date.now();
    this.#timer = setInterval(() => {
      if (this.#stopped) return;
      this.#track(this.#refreshSessions());
      this.#track(
        this.resyncFromStore().catch((e) => {
          this.#lastError = (e as Error).message;
          this.#log.error("block resync failed", { error: e });
        }),
      );
    }, this.#resyncMs);
    return this.state();
  }

  /**
   * Prepares one-shot use (CLI): reads facts and KV, creates the table
   * when it is missing (never re-creates an existing one). No timers.
   */
  async connect(): Promise<BlockerState> {
    await this.#refreshFacts();
    await this.#refreshSessions();
    await this.#loadFromStore(true);
    await this.#serial(() => this.#setup("ensure"));
    return this.state();
  }

  async #refreshFacts(): Promise<void> {
    try {
      this.#guard.setFacts(await this.#facts());
      this.#lastFacts = Date.now();
    } catch (e) {
      this.#lastError = `Cannot read the system addresses: ${
        (e as Error).message
      }`;
      this.#log.warn("cannot read system facts", { error: e });
    }
  }

  /** Re-reads who is logged in over SSH (policy `ssh_ports`); never throws. */
  async #refreshSessions(): Promise<void> {
    try {
      this.#guard.setSessions(await this.#sessionPeers(this.#policy.ssh_ports));
    } catch (e) {
      this.#log.warn("cannot read the SSH sessions", { error: e });
    }
  }

  async #setup(mode: "install" | "ensure"): Promise<void> {
    this.#lastSetup = Date.now();
    if (this.#nftOff !== null) {
      this.#available = false;
      this.#reason = this.#nftOff;
      return;
    }
    try {
      this.#nftVersion = await this.#nft.version();
      if (mode === "install" || !(await this.#nft.tableOk())) {
        await this.#nft.install(this.#desired(Date.now()));
      }
      if (!this.#available) {
        this.#log.info("blocker available", { nft: this.#nftVersion });
      }
      this.#available = true;
      this.#reason = null;
    } catch (e) {
      if (!(e instanceof NftError)) throw e;
      if (this.#available || this.#reason !== e.message) {
        this.#log.warn("blocker unavailable", { reason: e.message });
      }
      this.#available = false;
      this.#reason = e.message;
    }
  }

  async #loadFromStore(withOffenders: boolean): Promise<void> {
    const vs = await getBlockHeadVersion(this.#store);
    const [blocks, allow] = await Promise.all([
      listBlocks(this.#store),
      listAllow(this.#store),
    ]);
    this.#active = new Map(blocks.map((b) => [b.target, b]));
    for (const p of this.#pending) this.#active.set(p.rec.target, p.rec);
    this.#kvAllow = allow.map((a) => a.cidr);
    this.#guard.setAllow([...this.#policy.allow, ...this.#kvAllow]);
    if (withOffenders) {
      const offenders = new Map<string, OffenderRecord>();
      for await (const e of this.#store.kv.list({ prefix: ["offender"] })) {
        const o = parseOffenderRecord(e.value);
        if (o) offenders.set(o.ip, o);
      }
      this.#offenders = offenders;
    }
    this.#headVs = vs;
  }

  /** Elements nftables should hold: active blocks not inside a larger active block. */
  #desired(nowMs: number): NftElement[] {
    const blocks = [...this.#active.values()].filter((b) =>
      !isExpired(b, nowMs)
    );
    const targets = blocks.map((b) => parseTarget(b.target));
    // Only prefixes can cover other blocks.
    const prefixes = targets.filter((t): t is Target =>
      t !== null && !t.single
    );
    const out: NftElement[] = [];
    for (let i = 0; i < blocks.length; i++) {
      const t = targets[i];
      if (!t) continue;
      const covered = prefixes.some((o) =>
        o.version === t.version && o.cidr.bits < t.cidr.bits &&
        cidrContains(o.cidr, t.version, t.cidr.words)
      );
      if (covered) continue;
      const left = Math.ceil((Date.parse(blocks[i]!.until) - nowMs) / 1000);
      if (left > 0) {
        out.push({ target: t.text, version: t.version, timeout: left });
      }
    }
    return out;
  }

  #coveredBy(t: Target): BlockRecord | null {
    const now = Date.now();
    const exact = this.#active.get(t.text);
    if (exact && !isExpired(exact, now)) return exact;
    for (const b of this.#active.values()) {
      // Only prefixes can cover another target.
      if (!b.target.includes("/") || isExpired(b, now)) continue;
      const bt = parseTarget(b.target);
      if (
        bt && bt.version === t.version && bt.cidr.bits <= t.cidr.bits &&
        cidrContains(bt.cidr, t.version, t.cidr.words)
      ) {
        return b;
      }
    }
    return null;
  }

  /**
   * Decides on an alert (new or updated) and acts: blocks (setting
   * `alert.alert.action` to "blocked"), records a refusal or a dry-run, or
   * skips. Synchronous; the nft and KV work follows in the background
   * (see {@link idle}).
   */
  onAlert(alert: Alert, _isNew = true): BlockDecision {
    const d = this.#decide(alert);
    switch (d.outcome) {
      case "blocked":
        alert.alert.action = "blocked";
        break;
      case "would_block":
        this.#counts.would++;
        this.#log.info("would block (dry run)", {
          ip: d.target,
          duration_s: d.duration,
          alert_id: alert.netsentinel.id,
          type: alert.netsentinel.type,
        });
        this.#record(
          d.target,
          "would_block",
          "dry_run",
          `Would block "${d.target}" for ${d.duration} s (dry run)`,
          alert,
        );
        break;
      case "refused":
        this.#countRefusal(d.reason);
        this.#record(d.target, "refused", d.reason, d.detail, alert);
        break;
      case "skipped":
        break;
      default: {
        const never: never = d;
        throw new Error(`Unknown decision ${JSON.stringify(never)}`);
      }
    }
    return d;
  }

  #countRefusal(reason: string): void {
    this.#counts.refused++;
    this.#refusedBy[reason] = (this.#refusedBy[reason] ?? 0) + 1;
  }

  #decide(alert: Alert): BlockDecision {
    const p = this.#policy;
    // The address to block: the source, unless the detector names another
    // (a threat-feed match blocks the listed remote side, which for an
    // outbound connection is the destination) or none (null).
    const named = alert.netsentinel.evidence.block_target;
    if (named === null) {
      return { outcome: "skipped", target: alert.src_ip, reason: "no_target" };
    }
    const ip = typeof named === "string" ? named : alert.src_ip;
    if (!p.enabled) {
      return { outcome: "skipped", target: ip, reason: "disabled" };
    }
    if (alert.netsentinel.type === "signature") {
      // A signature blocks only when the policy lists its category.
      const cls = alert.netsentinel.evidence.classtype;
      const cats = p.signature_categories;
      if (
        !cats.includes(alert.alert.category) &&
        !(typeof cls === "string" && cats.includes(cls))
      ) {
        return { outcome: "skipped", target: ip, reason: "category" };
      }
    } else if (
      !p.types.includes(alert.netsentinel.type) &&
      // A signature attached to a rule alert (one incident, one alert)
      // blocks as it would have alone.
      !(alert.netsentinel.signatures ?? []).some((s) =>
        p.signature_categories.includes(s.category) ||
        (s.classtype !== undefined &&
          p.signature_categories.includes(s.classtype))
      )
    ) {
      return { outcome: "skipped", target: ip, reason: "type" };
    }
    if (!p.severities.includes(alert.alert.severity)) {
      return { outcome: "skipped", target: ip, reason: "severity" };
    }
    const t = parseTarget(ip);
    if (t === null || !t.single) {
      return {
        outcome: "refused",
        target: ip,
        reason: "invalid",
        detail: `"${ip}" is not an address`,
      };
    }
    const refusal = this.#guard.check(t);
    if (refusal) return { outcome: "refused", target: t.text, ...refusal };
    const now = Date.now();
    if (this.#coveredBy(t) || (this.#dry.get(t.text) ?? 0) > now) {
      return { outcome: "skipped", target: t.text, reason: "already_blocked" };
    }
    if (!isConfirmedSource(alert, p)) {
      return {
        outcome: "refused",
        target: t.text,
        reason: "unconfirmed_source",
        detail:
          `"${t.text}" may be spoofed: the ${alert.netsentinel.type} alert does not confirm its source`,
      };
    }
    while (this.#recent.length > 0 && this.#recent[0]! <= now - 60_000) {
      this.#recent.shift();
    }
    if (this.#recent.length >= p.max_blocks_per_minute) {
      return {
        outcome: "refused",
        target: t.text,
        reason: "rate_limited",
        detail:
          `Not blocking "${t.text}": ${p.max_blocks_per_minute} blocks in the last minute already (max_blocks_per_minute)`,
      };
    }
    const off = this.#offenders.get(t.text);
    const inWindow = off !== undefined &&
      Date.parse(off.last_block) > now - p.repeat_window * 1000;
    const previous = inWindow ? off.blocks : 0;
    const duration = escalatedDuration(p, previous);
    const level = Math.min(previous, p.durations.length - 1);
    if (p.dry_run) {
      this.#recent.push(now);
      this.#dry.set(t.text, now + duration * 1000);
      return { outcome: "would_block", target: t.text, duration, level };
    }
    if (!this.#available) {
      return {
        outcome: "refused",
        target: t.text,
        reason: "blocker_unavailable",
        detail: `Cannot block "${t.text}": ${
          this.#reason ?? "nftables unavailable"
        }`,
      };
    }
    this.#recent.push(now);
    const since = new Date(now).toISOString();
    const until = new Date(now + duration * 1000).toISOString();
    const rec: BlockRecord = {
      target: t.text,
      version: t.version,
      reason: `${alert.alert.signature} (${alert.netsentinel.type})`,
      source: "auto",
      alert_id: alert.netsentinel.id,
      alert_type: alert.netsentinel.type,
      since,
      until,
      duration_s: duration,
      level,
      by: null,
    };
    const offender: OffenderRecord = {
      ip: t.text,
      blocks: previous + 1,
      last_block: since,
    };
    this.#active.set(t.text, rec);
    this.#offenders.set(t.text, offender);
    this.#pending.push({ rec, offender, t0: performance.now() });
    this.#counts.blocked++;
    if (!this.#applyQueued) {
      this.#applyQueued = true;
      queueMicrotask(() =>
        this.#track(this.#serial(() => this.#applyPending()))
      );
    }
    return { outcome: "blocked", target: t.text, duration, level, until };
  }

  #record(
    ip: string,
    outcome: RecordedOutcome,
    reason: string,
    detail: string,
    alert: Alert | null,
  ): void {
    const now = Date.now();
    const prev = this.#decided.get(ip);
    const same = prev !== undefined && prev.outcome === outcome &&
      prev.reason === reason;
    if (same && now - prev.writtenAt < DECISION_REWRITE_MS) {
      prev.count++;
      return;
    }
    while (
      this.#recordTimes.length > 0 && this.#recordTimes[0]! <= now - 60_000
    ) {
      this.#recordTimes.shift();
    }
    if (this.#recordTimes.length >= MAX_RECORDS_PER_MIN) {
      // A flood of distinct sources must not become a flood of writes.
      this.#counts.unrecorded++;
      return;
    }
    this.#recordTimes.push(now);
    const count = same ? prev.count + 1 : 1;
    this.#decided.delete(ip);
    this.#decided.set(ip, { outcome, reason, count, writtenAt: now });
    if (this.#decided.size > MAX_DECIDED) {
      const oldest = this.#decided.keys().next().value;
      if (oldest !== undefined) this.#decided.delete(oldest);
    }
    const rec: DecisionRecord = {
      ip,
      outcome,
      reason,
      detail,
      alert_id: alert?.netsentinel.id ?? null,
      alert_type: alert?.netsentinel.type ?? null,
      at: new Date(now).toISOString(),
      count,
    };
    if (outcome === "refused") {
      this.#log.info("block refused", { ip, reason, detail, count });
    }
    const expireIn = this.#store.retention.decisionMs;
    if (this.#writer) this.#writer.queueSet(decisionKey(ip), rec, { expireIn });
    else {
      this.#track(
        this.#store.kv.set(decisionKey(ip), rec, { expireIn }).catch((e) => {
          this.#lastError = (e as Error).message;
          this.#log.error("cannot record a block decision", { error: e });
        }),
      );
    }
  }

  /** Runs `fn` after every nft/KV change queued before it (one at a time). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn);
    this.#chain = p.then(() => {}, () => {});
    return p;
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch((e) => {
      this.#lastError = (e as Error).message;
      this.#log.error("blocker task failed", { error: e });
    });
    this.#inflight.add(q);
    q.finally(() => this.#inflight.delete(q));
  }

  async #applyPending(): Promise<void> {
    this.#applyQueued = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const now = Date.now();
    const add: NftElement[] = [];
    for (const b of batch) {
      const t = parseTarget(b.rec.target);
      if (t === null) continue;
      const left = Math.ceil((Date.parse(b.rec.until) - now) / 1000);
      add.push({
        target: t.text,
        version: t.version,
        timeout: Math.max(1, left),
      });
    }
    if (this.#available) {
      try {
        await this.#nft.apply({ add });
      } catch (e) {
        await this.#nftFailed(e, { add });
      }
      const t1 = performance.now();
      for (const b of batch) this.#sample(t1 - b.t0);
    }
    await this.#commitBlocks(batch);
  }

  /**
   * Counts a failed nft call (anything but an NftError is rethrown). True
   * when nft cannot be used at all (missing, no permission): the blocker is
   * then unavailable until the next setup.
   */
  #nftUnusable(e: unknown): boolean {
    if (!(e instanceof NftError)) throw e;
    this.#counts.nftErrors++;
    this.#lastError = e.message;
    if (e.kind === "failed") return false;
    this.#available = false;
    this.#reason = e.message;
    this.#log.warn("blocker unavailable", { reason: e.message });
    return true;
  }

  async #nftFailed(
    e: unknown,
    changes: { add?: NftElement[]; remove?: NftElement[] },
  ): Promise<void> {
    if (this.#nftUnusable(e)) return;
    this.#log.warn("nft batch failed, applying one by one", { error: e });
    const errors = await this.#nft.applyEach(changes);
    for (const err of errors) {
      this.#counts.nftErrors++;
      this.#lastError = err.message;
      this.#log.error("nft change failed", { error: err });
    }
  }

  #sample(ms: number): void {
    this.#latencies.push(ms);
    if (this.#latencies.length > 1000) this.#latencies.shift();
  }

  async #commitBlocks(batch: PendingBlock[]): Promise<void> {
    const kv = this.#store.kv;
    const ttl = this.#policy.repeat_window * 1000;
    for (let i = 0; i < batch.length; i += 300) {
      const atomic = kv.atomic();
      const now = Date.now();
      for (const b of batch.slice(i, i + 300)) {
        atomic.set(blockKey(b.rec.target), b.rec, {
          expireIn: Math.max(1000, Date.parse(b.rec.until) - now + 60_000),
        });
        if (b.offender) {
          atomic.set(offenderKey(b.offender.ip), b.offender, {
            expireIn: Math.max(1000, ttl),
          });
        }
      }
      atomic.set(blockHeadKey(), { at: now });
      const res = await atomic.commit();
      if (res.ok) this.#headVs = res.versionstamp;
    }
  }

  /**
   * Re-reads blocks and the allowlist from KV when they changed (one small
   * read when not) and makes nftables match: expired entries dropped,
   * missing ones added, stray ones removed, drifted timeouts refreshed.
   * `full` forces the comparison with nftables. Runs on the appliance's
   * interval; call it after changing KV from elsewhere.
   */
  resyncFromStore(opts: { full?: boolean } = {}): Promise<ResyncResult> {
    return this.#serial(async () => {
      const now = Date.now();
      if (now - this.#lastFacts > FACTS_REFRESH_MS) await this.#refreshFacts();
      if (!this.#available && now - this.#lastSetup > SETUP_RETRY_MS) {
        await this.#setup("ensure");
      }
      const vs = await getBlockHeadVersion(this.#store);
      const full = opts.full === true || now - this.#lastFull >= this.#fullMs;
      for (const [k, b] of this.#active) {
        if (isExpired(b, now)) this.#active.delete(k);
      }
      if (!full && vs === this.#headVs) {
        return { checked: false, added: 0, removed: 0, refreshed: 0 };
      }
      await this.#loadFromStore(full);
      const res = await this.#syncNft();
      if (full) this.#lastFull = now;
      this.#lastResync = now;
      return res;
    });
  }

  async #syncNft(): Promise<ResyncResult> {
    const none = { checked: true, added: 0, removed: 0, refreshed: 0 };
    if (!this.#available) return none;
    const now = Date.now();
    const want = new Map(this.#desired(now).map((e) => [e.target, e]));
    let have: NftElement[];
    try {
      have = await this.#nft.listElements();
    } catch (e) {
      if (this.#nftUnusable(e)) return none;
      // The table is gone or broken: put it back as KV says.
      this.#log.warn("nft table missing, re-creating it", { error: e });
      await this.#setup("install");
      return { ...none, added: want.size };
    }
    const add: NftElement[] = [], remove: NftElement[] = [];
    let refreshed = 0;
    const seen = new Set<string>();
    for (const h of have) {
      const t = parseTarget(h.target);
      const key = t?.text ?? h.target;
      seen.add(key);
      const w = want.get(key);
      if (w === undefined) {
        remove.push(h);
      } else if (
        h.expires !== undefined && Math.abs(h.expires - w.timeout) > DRIFT_S
      ) {
        remove.push(h);
        add.push(w);
        refreshed++;
      }
    }
    for (const [k, w] of want) if (!seen.has(k)) add.push(w);
    if (add.length + remove.length === 0) return none;
    try {
      await this.#nft.apply({ add, remove });
    } catch (e) {
      await this.#nftFailed(e, { add, remove });
    }
    if (add.length + remove.length > 0) {
      this.#log.info("blocks resynced", {
        added: add.length - refreshed,
        removed: remove.length - refreshed,
        refreshed,
      });
    }
    return {
      checked: true,
      added: add.length - refreshed,
      removed: remove.length - refreshed,
      refreshed,
    };
  }

  /**
   * Blocks an address or CIDR by hand (CLI, API): refused for anything the
   * guard protects but SSH sessions (also recorded), else written to KV and applied to
   * nftables. Replaces an existing block of the same target. Manual changes
   * run one at a time with the automatic ones, so none of them sees the
   * other half done.
   */
  async block(
    text: string,
    opts: {
      duration?: number;
      reason?: string;
      by?: string | null;
      source?: BlockSource;
    } = {},
  ): Promise<ManualBlockResult> {
    const t = parseTarget(text);
    if (t === null) {
      return {
        ok: false,
        reason: "invalid",
        detail: `"${text}" is not an address or CIDR`,
      };
    }
    return await this.#serial(async (): Promise<ManualBlockResult> => {
      await this.#loadFromStore(false);
      const refusal = this.#guard.check(t, false);
      if (refusal) {
        this.#countRefusal(refusal.reason);
        this.#record(t.text, "refused", refusal.reason, refusal.detail, null);
        return { ok: false, ...refusal };
      }
      const now = Date.now();
      const duration = opts.duration ?? this.#policy.manual_duration;
      const rec: BlockRecord = {
        target: t.text,
        version: t.version,
        reason: opts.reason ?? "manual block",
        source: opts.source ?? "cli",
        alert_id: null,
        alert_type: null,
        since: new Date(now).toISOString(),
        until: new Date(now + duration * 1000).toISOString(),
        duration_s: duration,
        level: 0,
        by: opts.by ?? null,
      };
      await putBlock(this.#store, rec);
      this.#active.set(rec.target, rec);
      const err = await this.#syncAfterChange();
      return { ok: true, record: rec, applied: err === null, error: err };
    });
  }

  /**
   * Lifts the block of exactly this address or CIDR (and forgets its
   * offences). Resolves to whether one existed and which other blocks
   * still cover the address.
   */
  async unblock(
    text: string,
  ): Promise<{ removed: boolean; coveredBy: string[]; error: string | null }> {
    const t = parseTarget(text);
    if (t === null) {
      return {
        removed: false,
        coveredBy: [],
        error: `"${text}" is not an address or CIDR`,
      };
    }
    return await this.#serial(async () => {
      const existed = await deleteBlocks(this.#store, [t.text]);
      await this.#store.kv.delete(offenderKey(t.text));
      this.#offenders.delete(t.text);
      await this.#loadFromStore(false);
      const coveredBy = [...this.#active.values()]
        .filter((b) => {
          const bt = parseTarget(b.target);
          return bt !== null && bt.version === t.version &&
            cidrContains(bt.cidr, t.version, t.cidr.words);
        })
        .map((b) => b.target);
      const err = await this.#syncAfterChange();
      return { removed: existed.length > 0, coveredBy, error: err };
    });
  }

  /**
   * Adds an allowlist entry and lifts the blocks that overlap it (an
   * allowlisted address is never blocked). `duration` in seconds, absent
   * for no end. Prefixes wider than /8 (IPv4) or /32 (IPv6) are refused,
   * like blocks: the error says so and nothing changes.
   */
  async allow(
    text: string,
    opts: { note?: string; duration?: number; by?: string | null } = {},
  ): Promise<
    { record: AllowRecord | null; lifted: string[]; error: string | null }
  > {
    const t = parseTarget(text);
    if (t === null) {
      return {
        record: null,
        lifted: [],
        error: `"${text}" is not an address or CIDR`,
      };
    }
    const wide = allowWidthError(t);
    if (wide !== null) return { record: null, lifted: [], error: wide };
    const now = Date.now();
    const rec: AllowRecord = {
      cidr: t.text,
      note: opts.note ?? "",
      added_by: opts.by ?? null,
      since: new Date(now).toISOString(),
      until: opts.duration === undefined
        ? null
        : new Date(now + opts.duration * 1000).toISOString(),
    };
    return await this.#serial(async () => {
      await putAllow(this.#store, rec);
      await this.#loadFromStore(false);
      const lifted = [...this.#active.values()]
        .filter((b) => {
          const bt = parseTarget(b.target);
          return bt !== null && cidrOverlaps(bt.cidr, t.cidr);
        })
        .map((b) => b.target);
      if (lifted.length > 0) {
        await deleteBlocks(this.#store, lifted);
        for (const l of lifted) this.#active.delete(l);
      }
      const err = await this.#syncAfterChange();
      return { record: rec, lifted, error: err };
    });
  }

  /** Removes an allowlist entry; resolves to whether it existed. */
  async disallow(text: string): Promise<boolean> {
    const t = parseTarget(text);
    if (t === null) return false;
    return await this.#serial(async () => {
      const existed = await deleteAllow(this.#store, t.text);
      await this.#loadFromStore(false);
      return existed;
    });
  }

  /** Makes nftables match the active blocks; runs inside `#serial`. */
  async #syncAfterChange(): Promise<string | null> {
    if (!this.#available) return this.#reason ?? "nftables unavailable";
    const errors = this.#counts.nftErrors;
    await this.#syncNft();
    return this.#counts.nftErrors > errors ? this.#lastError : null;
  }

  /** Active blocks as this blocker knows them (KV plus its own pending ones). */
  activeBlocks(): BlockRecord[] {
    const now = Date.now();
    return [...this.#active.values()].filter((b) => !isExpired(b, now));
  }

  /** Resolves when all queued nft and KV work is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0 || this.#pending.length > 0) {
      await Promise.all([...this.#inflight]);
      await this.#chain;
    }
    await this.#chain;
  }

  /** The state for `/health` and the dashboard. */
  state(): BlockerState {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const p = this.#policy;
    return {
      available: this.#available,
      mode: !p.enabled
        ? "disabled"
        : p.dry_run
        ? "dry_run"
        : this.#available
        ? "active"
        : "unavailable",
      reason: this.#reason,
      nft_version: this.#nftVersion,
      nft_command: this.#nft.command.join(" "),
      active_blocks: this.activeBlocks().length,
      blocked_total: this.#counts.blocked,
      would_block_total: this.#counts.would,
      refused_total: this.#counts.refused,
      refused_by_reason: { ...this.#refusedBy },
      decisions_unrecorded: this.#counts.unrecorded,
      nft_errors: this.#counts.nftErrors,
      last_error: this.#lastError,
      last_resync: this.#lastResync === null
        ? null
        : new Date(this.#lastResync).toISOString(),
      latency_ms: {
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        samples: sorted.length,
      },
      ssh_sessions: this.#guard.sessions,
    };
  }

  /** Stops the interval and waits for queued work. Leaves nftables as it is. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.idle();
  }

  /** Stops the blocker (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
