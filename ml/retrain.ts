/**
 * Self-learning, safely: the appliance keeps a bounded sample of recent
 * flows that raised no alert ({@link FlowReservoir}) and periodically
 * retrains the anomaly model on it ({@link ModelRetrainer}). A candidate
 * replaces the model in use only when {@link acceptNewModel} accepts it
 * against held-out known anomalies (the probes, see probes.ts); the
 * previous model is kept, files are replaced atomically, and every model
 * change, accepted or refused, is logged with its numbers.
 *
 * The rule detectors never depend on the model: poisoning "normal" can at
 * worst blunt the anomaly detector, which the gate guards.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../common/logger.ts";
import { parseAddr } from "../decode/mod.ts";
import type { Flow, FlowObserver } from "../flows/mod.ts";
import { FEATURE_COUNT } from "./features.ts";
import {
  type AnomalyModel,
  MODEL_FILE,
  modelText,
  SHIPPED_MODEL_URL,
  type TrainModelOptions,
} from "./model.ts";
import { readProbesFile, SHIPPED_PROBES_URL } from "./probes.ts";
import { Prng } from "./prng.ts";
import { acceptNewModel, type AcceptOptions } from "./scorer.ts";
import { trainModelOffThread } from "./train_off_thread.ts";

/** Rows the reservoir keeps by default (20,000 × 27 numbers, 4.3 MB). */
export const DEFAULT_RESERVOIR_ROWS = 20_000;
/** Default wait before a finished flow may enter the reservoir, seconds. */
export const DEFAULT_HOLD_S = 600;
/** Default least number of rows a retrain needs. */
export const DEFAULT_MIN_ROWS = 2_000;
/** File name of the previous model in the data directory. */
export const PREVIOUS_MODEL_FILE = "model.prev.json";

/** Options of {@link FlowReservoir}. */
export interface ReservoirOptions {
  /** Rows kept (default {@link DEFAULT_RESERVOIR_ROWS}). */
  capacity?: number;
  /**
   * Flows waiting out the hold at once (default 4,096); when full, newly
   * picked flows are dropped (counted) until the oldest are decided.
   */
  pending?: number;
  /**
   * Seconds a finished flow waits before it may enter (default
   * {@link DEFAULT_HOLD_S}): longer than the longest detector window, so
   * an alert about a slow scan still reaches the flows that made it.
   */
  holdS?: number;
  /** Seed of the sampling (default 1). */
  seed?: number;
  /** Alerted addresses remembered at once (default 65,536). */
  maxAlerted?: number;
}

/** What a {@link FlowReservoir} did with the flows it was offered. */
export interface ReservoirCounters {
  /** Finished flows offered (every flow the anomaly detector scored). */
  offered: number;
  /** Offered flows the model in force flagged: never sampled. */
  flagged: number;
  /** Flows picked by the sampling to wait out the hold. */
  picked: number;
  /** Picked flows that entered the sample. */
  added: number;
  /** Picked flows left out: an address of theirs was part of an alert. */
  excluded: number;
  /** Picked flows dropped because the hold queue was full. */
  dropped: number;
}

/** A detection as the reservoir needs it (alerts/ Detection fits). */
export interface DetectionLike {
  readonly type: string;
  /** Packet time, µs. */
  readonly tsUs: number;
  readonly src: string;
  readonly dest?: string;
}

/** Hash of an address (version and words); equal addresses, equal keys. */
function addrKey(version: number, w: ArrayLike<number>): number {
  let h = Math.imul(0x811c9dc5 ^ version, 0x01000193);
  h = Math.imul(h ^ (w[0]! >>> 0), 0x01000193);
  if (version === 6) {
    h = Math.imul(h ^ (w[1]! >>> 0), 0x01000193);
    h = Math.imul(h ^ (w[2]! >>> 0), 0x01000193);
    h = Math.imul(h ^ (w[3]! >>> 0), 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/**
 * A fixed-size uniform sample (reservoir sampling, Vitter's Algorithm R) of
 * the feature vectors of finished flows that raised no alert.
 *
 * Whether a flow raised an alert is known only later: a port scan is
 * reported when its fifteenth port is probed, long after the first probes
 * ended, and many detections are about addresses, not one flow. So a
 * flow picked by the sampling waits `holdS` seconds (packet time) in a
 * bounded queue and enters only if neither of its addresses was named by a
 * rule detection from `holdS` before the flow began until it left the
 * queue. Flows the model itself flags are never offered. Addresses are
 * kept as 32-bit hashes: a collision only leaves out an innocent flow.
 *
 * Memory is fixed at construction (capacity × 27 numbers, plus the queue);
 * offering a flow allocates nothing. After a retrain, {@link age} makes the
 * old rows count as one capacity's worth of flows, so the sample leans to
 * the traffic since then.
 */
export class FlowReservoir {
  /** Rows kept at most. */
  readonly capacity: number;
  /** Hold, µs. */
  readonly holdUs: number;
  /** What happened to the offered flows. */
  readonly counters: ReservoirCounters = {
    offered: 0,
    flagged: 0,
    picked: 0,
    added: 0,
    excluded: 0,
    dropped: 0,
  };
  #rows: Float64Array;
  #rowUs: Float64Array;
  #size = 0;
  #seen = 0;
  #rng: Prng;
  // The hold queue, a ring.
  #qVec: Float64Array;
  #qFirst: Float64Array;
  #qLast: Float64Array;
  #qDue: Float64Array;
  #qSrc: Uint32Array;
  #qDst: Uint32Array;
  #qHead = 0;
  #qLen = 0;
  // Packet time: latest seen (drives the queue) and latest of flows and
  // detections only (ages the alerted addresses; ticks may be wall time).
  #now = -Infinity;
  #packetNow = -Infinity;
  // Alerted address key → packet time of its latest detection, µs.
  #alerted = new Map<number, number>();
  #maxAlerted: number;
  /** Latest detection that could not be remembered (table full): excludes all. */
  #overflowUs = -Infinity;
  #prunedAt = -Infinity;

  /** Allocates the sample and the hold queue. */
  constructor(opts: ReservoirOptions = {}) {
    this.capacity = Math.max(
      1,
      Math.floor(opts.capacity ?? DEFAULT_RESERVOIR_ROWS),
    );
    const q = Math.max(1, Math.floor(opts.pending ?? 4096));
    this.holdUs = Math.max(0, opts.holdS ?? DEFAULT_HOLD_S) * 1e6;
    this.#rng = new Prng(opts.seed ?? 1);
    this.#maxAlerted = Math.max(1, opts.maxAlerted ?? 65_536);
    this.#rows = new Float64Array(this.capacity * FEATURE_COUNT);
    this.#rowUs = new Float64Array(this.capacity);
    this.#qVec = new Float64Array(q * FEATURE_COUNT);
    this.#qFirst = new Float64Array(q);
    this.#qLast = new Float64Array(q);
    this.#qDue = new Float64Array(q);
    this.#qSrc = new Uint32Array(q);
    this.#qDst = new Uint32Array(q);
  }

  /** Rows in the sample. */
  get size(): number {
    return this.#size;
  }

  /** Flows waiting out the hold. */
  get pending(): number {
    return this.#qLen;
  }

  /** Flows the sample stands for (offered, minus what {@link age} forgot). */
  get seen(): number {
    return this.#seen;
  }

  /** Addresses remembered as part of an alert. */
  get alertedAddresses(): number {
    return this.#alerted.size;
  }

  /**
   * Offers a finished flow and its feature vector (human units; copied).
   * Allocation-free. Pass `flagged` when the model in use flagged it: it is
   * counted and left out.
   */
  offer(f: Flow, vec: ArrayLike<number>, flagged = false): void {
    this.counters.offered++;
    if (f.lastUs > this.#packetNow) this.#packetNow = f.lastUs;
    if (f.lastUs > this.#now) this.#now = f.lastUs;
    this.#drain();
    if (flagged) {
      this.counters.flagged++;
      return;
    }
    const n = ++this.#seen;
    const qCap = this.#qDue.length;
    if (
      this.#size + this.#qLen >= this.capacity &&
      this.#rng.next() * n >= this.capacity
    ) return;
    this.counters.picked++;
    if (this.#qLen === qCap) {
      this.counters.dropped++;
      return;
    }
    const i = (this.#qHead + this.#qLen) % qCap;
    this.#qLen++;
    const o = i * FEATURE_COUNT;
    for (let k = 0; k < FEATURE_COUNT; k++) this.#qVec[o + k] = vec[k]!;
    this.#qFirst[i] = f.firstUs;
    this.#qLast[i] = f.lastUs;
    this.#qDue[i] = this.#now + this.holdUs;
    this.#qSrc[i] = addrKey(f.version, f.srcAddr);
    this.#qDst[i] = addrKey(f.version, f.dstAddr);
  }

  /**
   * Remembers the addresses a rule detection names (source and target), so
   * their flows around it stay out of the sample. Anomaly detections name
   * only their own flow, which the scorer already leaves out. Allocates a
   * little (detections are rare).
   */
  onDetection(d: DetectionLike): void {
    if (d.type === "anomaly") return;
    if (d.tsUs > this.#packetNow) this.#packetNow = d.tsUs;
    this.#remember(d.src, d.tsUs);
    if (d.dest !== undefined) this.#remember(d.dest, d.tsUs);
  }

  #remember(text: string, tsUs: number): void {
    const a = parseAddr(text);
    if (a === null) return;
    const key = addrKey(a.version, a.words);
    const prev = this.#alerted.get(key);
    if (prev !== undefined) {
      if (tsUs > prev) this.#alerted.set(key, tsUs);
      return;
    }
    if (this.#alerted.size >= this.#maxAlerted) this.#prune();
    if (this.#alerted.size >= this.#maxAlerted) {
      if (tsUs > this.#overflowUs) this.#overflowUs = tsUs;
      return;
    }
    this.#alerted.set(key, tsUs);
  }

  /** Forgets addresses alerted on more than an hour plus the hold ago. */
  #prune(): void {
    const before = this.#packetNow - this.holdUs - 3600e6;
    for (const [k, t] of this.#alerted) {
      if (t < before) this.#alerted.delete(k);
    }
  }

  /** Moves packet time to `nowUs` and decides the flows whose hold is over. */
  advance(nowUs: number): void {
    if (nowUs > this.#now) this.#now = nowUs;
    this.#drain();
    if (this.#alerted.size > 0 && this.#packetNow - this.#prunedAt > 60e6) {
      this.#prunedAt = this.#packetNow;
      this.#prune();
    }
  }

  #drain(): void {
    const qCap = this.#qDue.length;
    while (this.#qLen > 0 && this.#qDue[this.#qHead]! <= this.#now) {
      const i = this.#qHead;
      this.#qHead = (i + 1) % qCap;
      this.#qLen--;
      const since = this.#qFirst[i]! - this.holdUs;
      const s = this.#alerted.get(this.#qSrc[i]!);
      const d = this.#alerted.get(this.#qDst[i]!);
      if (
        this.#overflowUs >= since || (s !== undefined && s >= since) ||
        (d !== undefined && d >= since)
      ) {
        this.counters.excluded++;
        continue;
      }
      const slot = this.#size < this.capacity
        ? this.#size++
        : this.#rng.int(this.capacity);
      const from = i * FEATURE_COUNT, to = slot * FEATURE_COUNT;
      for (let k = 0; k < FEATURE_COUNT; k++) {
        this.#rows[to + k] = this.#qVec[from + k]!;
      }
      this.#rowUs[slot] = this.#qLast[i]!;
      this.counters.added++;
    }
  }

  /** A copy of the sample, row after row (human units), for training. */
  rows(): Float64Array {
    return this.#rows.slice(0, this.#size * FEATURE_COUNT);
  }

  /** Packet time of the oldest and newest flow in the sample, µs (null when empty). */
  timeRange(): { fromUs: number; toUs: number } | null {
    if (this.#size === 0) return null;
    let lo = Infinity, hi = -Infinity;
    for (let r = 0; r < this.#size; r++) {
      const t = this.#rowUs[r]!;
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    return { fromUs: lo, toUs: hi };
  }

  /**
   * Lets the sample lean to what comes next: the rows kept count as
   * `capacity` flows from now on, so after m more flows about
   * capacity / (capacity + m) of them are still old ones.
   */
  age(): void {
    if (this.#seen > this.capacity) this.#seen = this.capacity;
  }
}

/**
 * How long flows wait before they may enter the sample, seconds: the
 * longest `window_s` of the policy's detectors plus a minute, at least
 * {@link DEFAULT_HOLD_S}. Takes the policy as plain data.
 */
export function holdForPolicy(
  policy: { readonly detectors: Readonly<Record<string, object>> },
): number {
  let max = 0;
  for (const d of Object.values(policy.detectors)) {
    const w = (d as { window_s?: unknown }).window_s;
    if (typeof w === "number" && Number.isFinite(w) && w > max) max = w;
  }
  return Math.max(DEFAULT_HOLD_S, max + 60);
}

/** How one retrain attempt ended. */
export interface RetrainOutcome {
  /** accepted: in force; refused: by the gate; skipped: too few rows; failed: an error. */
  outcome: "accepted" | "refused" | "skipped" | "failed";
  /** Wall time of the attempt (ISO 8601). */
  at: string;
  /** Why, in words ("" when accepted). */
  reason: string;
  /** Rows trained on (or available, when skipped). */
  rows: number;
  /** Thresholds and probe recall of the model in use and the candidate (absent when skipped). */
  oldThreshold?: number;
  newThreshold?: number;
  oldRecall?: number;
  newRecall?: number;
  /** Training time, ms. */
  trainMs?: number;
}

/** Options of {@link ModelRetrainer}. */
export interface RetrainerOptions {
  /** The model in force and the file it came from. */
  model: AnomalyModel;
  modelPath: string;
  /** Data directory: where model.json and model.prev.json are written. */
  dataDir: string;
  /** Held-out known anomalies (human units), see {@link readProbesFile}. */
  probes: readonly ArrayLike<number>[];
  log: Logger;
  /** Time between attempts, seconds (default 86,400). */
  intervalS?: number;
  /** Least rows a retrain needs (default {@link DEFAULT_MIN_ROWS}). */
  minRows?: number;
  /** Seed of every candidate (default 1): same sample, same model. */
  seed?: number;
  reservoir?: ReservoirOptions;
  /** Limits of the gate (see {@link acceptNewModel}). */
  accept?: AcceptOptions;
  /** Wall clock, ms (default `Date.now`). */
  now?: () => number;
  /**
   * Trains a candidate (default {@link trainModelOffThread}: in a worker,
   * so a retrain never stalls capture or the dashboard).
   */
  train?: (
    rows: Float64Array,
    opts: TrainModelOptions,
  ) => Promise<AnomalyModel>;
}

/** The retraining state for `/health` (merged into the detector part). */
export interface RetrainHealth {
  /** The model file in force. */
  model: string;
  /** When the model in force was trained by this process (ISO), or null for a model loaded from a file. */
  model_trained_at: string | null;
  /** Packet time of the newest flow it was trained on (ISO), or null. */
  model_data_to: string | null;
  model_threshold: number;
  retrain: {
    enabled: true;
    interval_s: number;
    next_at: string;
    rows: number;
    capacity: number;
    min_rows: number;
    pending: number;
    counters: ReservoirCounters;
    last: RetrainOutcome | null;
  };
}

/** Writes `text` to `path` through a temporary file and a rename. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    using f = await Deno.open(tmp, {
      write: true,
      create: true,
      truncate: true,
    });
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.rename(tmp, path);
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * Periodic, gated retraining of the anomaly model (see the module doc).
 * Wire it: `onScored` as the anomaly detector's feature tap,
 * `onDetection` beside the alert pipeline's emit, `observer` in the
 * pipeline (ticks decide held flows), {@link maybeRetrain} from a timer,
 * and {@link onModelChange} to swap the detector.
 *
 * @example
 * ```ts
 * const r = await ModelRetrainer.open({ model, modelPath, dataDir, log });
 * r.onModelChange((m) => detectors.setExtra([anomalyDetector(m, { onScored: r.onScored })]));
 * setInterval(() => void r.maybeRetrain(), 1000);
 * ```
 */
export class ModelRetrainer {
  /** The sample of recent unalerted flows. */
  readonly reservoir: FlowReservoir;
  /** Ticks the reservoir (add to the pipeline's observers). */
  readonly observer: FlowObserver;
  readonly intervalMs: number;
  readonly minRows: number;
  #o: RetrainerOptions;
  #model: AnomalyModel;
  #path: string;
  #trainedAt: string | null = null;
  #last: RetrainOutcome | null = null;
  #nextAt: number;
  #running: Promise<RetrainOutcome> | null = null;
  #listeners: ((m: AnomalyModel) => void)[] = [];
  #now: () => number;

  /** Builds the retrainer; the first attempt is one interval from now. */
  constructor(o: RetrainerOptions) {
    this.#o = o;
    this.#model = o.model;
    this.#path = o.modelPath;
    this.#now = o.now ?? Date.now;
    this.intervalMs = (o.intervalS ?? 86_400) * 1000;
    this.minRows = o.minRows ?? DEFAULT_MIN_ROWS;
    this.reservoir = new FlowReservoir(o.reservoir);
    this.#nextAt = this.#now() + this.intervalMs;
    const r = this.reservoir;
    this.observer = { onTick: (nowUs: number) => r.advance(nowUs) };
  }

  /**
   * Reads the probes (default: the shipped ones) and builds the retrainer.
   * Throws a ProbesError when they are unusable (retraining must stay off:
   * nothing could check a candidate).
   */
  static async open(
    o: Omit<RetrainerOptions, "probes"> & { probesPath?: string | URL },
  ): Promise<ModelRetrainer> {
    const probes = await readProbesFile(o.probesPath ?? SHIPPED_PROBES_URL);
    return new ModelRetrainer({ ...o, probes });
  }

  /** The model in force. */
  get model(): AnomalyModel {
    return this.#model;
  }

  /** The file of the model in force. */
  get modelPath(): string {
    return this.#path;
  }

  /** The last attempt, or null before the first. */
  get last(): RetrainOutcome | null {
    return this.#last;
  }

  /** Calls `fn` with every model put in force after an accepted retrain. */
  onModelChange(fn: (m: AnomalyModel) => void): void {
    this.#listeners.push(fn);
  }

  /**
   * The anomaly detector's feature tap: every scored flow with its vector
   * (human units, reused by the caller) and score. Allocation-free.
   */
  readonly onScored = (f: Flow, vec: Float64Array, score: number): void => {
    this.reservoir.offer(f, vec, score >= this.#model.threshold);
  };

  /** Every detection of the detectors, before the alert pipeline. */
  readonly onDetection = (d: DetectionLike): void => {
    this.reservoir.onDetection(d);
  };

  /**
   * Starts a retrain when one is due (every interval) and none is running;
   * returns its outcome, else null.
   */
  maybeRetrain(nowMs: number = this.#now()): Promise<RetrainOutcome> | null {
    if (this.#running !== null || nowMs < this.#nextAt) return null;
    this.#nextAt = nowMs + this.intervalMs;
    return this.retrain();
  }

  /** Resolves when no retrain is running (await it before closing files). */
  async idle(): Promise<void> {
    await this.#running?.catch(() => {});
  }

  /**
   * One attempt now: trains a candidate on the sample (fixed seed), gates
   * it, and on acceptance keeps the model in force as model.prev.json,
   * writes the candidate to model.json (atomically) and puts it in force.
   * Logs the outcome; never throws (a failure is an outcome).
   */
  retrain(): Promise<RetrainOutcome> {
    this.#running ??= this.#retrain()
      .catch((e) =>
        this.#failed(
          new Date(this.#now()).toISOString(),
          this.reservoir.size,
          "retrain failed",
          e,
        )
      )
      .finally(() => {
        this.#running = null;
      });
    return this.#running;
  }

  async #retrain(): Promise<RetrainOutcome> {
    const log = this.#o.log;
    const at = new Date(this.#now()).toISOString();
    const rows = this.reservoir.size;
    if (rows < this.minRows) {
      const out: RetrainOutcome = {
        outcome: "skipped",
        at,
        reason: `${rows} flows in the sample, ${this.minRows} needed`,
        rows,
      };
      log.info("model retrain skipped", { reason: out.reason, rows });
      return this.#last = out;
    }
    const old = this.#model;
    let candidate: AnomalyModel;
    const t0 = performance.now();
    try {
      const range = this.reservoir.timeRange();
      const train = this.#o.train ?? trainModelOffThread;
      candidate = await train(this.reservoir.rows(), {
        seed: this.#o.seed ?? 1,
        trees: old.training.trees,
        contamination: old.training.contamination,
        sources: ["reservoir"],
        ...(range ? { dataFromUs: range.fromUs, dataToUs: range.toUs } : {}),
      });
    } catch (e) {
      return this.#failed(at, rows, "training failed", e);
    }
    const trainMs = Math.round(performance.now() - t0);
    this.reservoir.age();
    // The shipped model describes the lab, not this network: the first model
    // trained here may move the threshold as far as it must. The probes gate
    // still applies, and later models are held to the threshold limit.
    const bootstrap = this.#path === fileURLToPath(SHIPPED_MODEL_URL);
    const d = acceptNewModel(
      old,
      candidate,
      this.#o.probes,
      bootstrap
        ? { ...this.#o.accept, maxThresholdShift: Infinity }
        : this.#o.accept,
    );
    const numbers = {
      rows,
      oldThreshold: round4(old.threshold),
      newThreshold: round4(candidate.threshold),
      oldRecall: round4(d.oldRecall),
      newRecall: round4(d.newRecall),
      trainMs,
    };
    const fields = {
      rows,
      old_threshold: numbers.oldThreshold,
      new_threshold: numbers.newThreshold,
      threshold_shift: round4(d.thresholdShift),
      bootstrap,
      old_probe_recall: numbers.oldRecall,
      new_probe_recall: numbers.newRecall,
      probes: this.#o.probes.length,
      train_ms: trainMs,
    };
    if (!d.accept) {
      const reason = d.reasons.join("; ");
      log.warn("model refused", { reason, ...fields, kept: this.#path });
      return this.#last = { outcome: "refused", at, reason, ...numbers };
    }
    const path = join(this.#o.dataDir, MODEL_FILE);
    const prev = join(this.#o.dataDir, PREVIOUS_MODEL_FILE);
    try {
      await writeAtomic(prev, modelText(old));
      await writeAtomic(path, modelText(candidate));
    } catch (e) {
      return this.#failed(at, rows, `cannot save the model in "${path}"`, e);
    }
    const previous = this.#path;
    this.#model = candidate;
    this.#path = path;
    this.#trainedAt = at;
    for (const fn of this.#listeners) fn(candidate);
    log.info("model replaced", { ...fields, path, previous, kept_as: prev });
    return this.#last = { outcome: "accepted", at, reason: "", ...numbers };
  }

  #failed(
    at: string,
    rows: number,
    what: string,
    e: unknown,
  ): RetrainOutcome {
    const reason = `${what}: ${e instanceof Error ? e.message : String(e)}`;
    this.#o.log.error("model retrain failed", { reason, rows });
    return this.#last = { outcome: "failed", at, reason, rows };
  }

  /** The retraining state for `/health`. */
  health(): RetrainHealth {
    const r = this.reservoir;
    return {
      model: this.#path,
      model_trained_at: this.#trainedAt,
      model_data_to: this.#model.training.dataTo,
      model_threshold: round4(this.#model.threshold),
      retrain: {
        enabled: true,
        interval_s: this.intervalMs / 1000,
        next_at: new Date(this.#nextAt).toISOString(),
        rows: r.size,
        capacity: r.capacity,
        min_rows: this.minRows,
        pending: r.pending,
        counters: { ...r.counters },
        last: this.#last,
      },
    };
  }
}
