/**
 * The anomaly model: an Isolation Forest over {@link FEATURES}, the training
 * distribution of every feature (for explanations), a score threshold set
 * from a target false-positive rate, and a training summary. Saved as
 * versioned JSON; parsed strictly (a {@link ModelError} names the field).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ModelError, readJsonFile } from "./errors.ts";
import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURES,
  fromModelSpace,
  toModelSpace,
} from "./features.ts";
import {
  DEFAULT_SAMPLE_SIZE,
  DEFAULT_SEED,
  DEFAULT_TREES,
  type ForestJson,
  type IsolationForest,
  parseForest,
  trainForestOutOfBag,
} from "./isolation_forest.ts";
import { quantileSorted } from "./metrics.ts";
import { isRecord, show } from "../common/validate.ts";

/** The `format` tag of a model file. */
export const MODEL_FORMAT = "netsentinel-anomaly-model";
/** The model file version this build reads and writes. */
export const MODEL_VERSION = 1;
/** Quantile levels kept per feature (model space). */
export const QUANTILES: readonly number[] = [
  0,
  0.01,
  0.05,
  0.25,
  0.5,
  0.75,
  0.95,
  0.99,
  1,
];
const Q01 = 1, Q25 = 3, Q50 = 4, Q75 = 5, Q99 = 7;

/** The scoring a model file declares: the forest's range-aware score. */
export const SCORING = "range-aware";

/** Default target false-positive rate on the training flows. */
export const DEFAULT_CONTAMINATION = 0.01;

/** A category seen in less than this share of training flows is unusual. */
const RARE = 0.01;
/** Most category values kept per feature. */
const MAX_CATEGORIES = 32;

/** Training distribution of one feature. */
export interface FeatureStats {
  /** Values at {@link QUANTILES}, in model space (log1p where the feature is logged). */
  q: number[];
  /** For categories: share of training flows per value (top 32). */
  categories?: Record<string, number>;
}

/** What a model records about its training. */
export interface TrainingSummary {
  /** Flows (rows) trained on. */
  rows: number;
  seed: number;
  trees: number;
  /** Subsample size ψ actually used. */
  sampleSize: number;
  /** Target false-positive rate the threshold was set for. */
  contamination: number;
  /** Training rows scored out of bag (by trees that never saw them) for the threshold. */
  outOfBagRows: number;
  /** Capture files (base names) the flows came from. */
  sources: string[];
  /** Packet time of the first and newest training flow (ISO 8601), or null. */
  dataFrom: string | null;
  dataTo: string | null;
  /** Training-score distribution (out of bag): median, 90th, 99th percentile, maximum. */
  scores: { p50: number; p90: number; p99: number; max: number };
}

/** A model file. */
export interface ModelJson {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_VERSION;
  /** Feature names in vector order; must equal this build's {@link FEATURE_NAMES}. */
  features: string[];
  /** How vectors are scored: the forest's range-aware score (see ml/isolation_forest.ts). */
  scoring: typeof SCORING;
  /** Flows scoring at or above this are anomalies. */
  threshold: number;
  normalisation: { quantiles: number[]; features: FeatureStats[] };
  training: TrainingSummary;
  forest: ForestJson;
}

/** One reason a vector looks anomalous. */
export interface Reason {
  feature: string;
  /** Observed value, human units. */
  value: number;
  /** The 1st–99th percentile of training flows, human units (numeric features). */
  normalLow: number;
  normalHigh: number;
  /**
   * How far outside the normal range, in robust spreads (categories: 1 to 3
   * by rarity); 0 or below inside it (minus the distance from the median).
   */
  deviation: number;
  /** The reason in words, e.g. "412 distinct destination ports in 10 s (normal ≤ 6)". */
  text: string;
}

/** A model ready to score flows. */
export class AnomalyModel {
  readonly forest: IsolationForest;
  readonly threshold: number;
  readonly stats: readonly FeatureStats[];
  readonly training: TrainingSummary;
  #x = new Float64Array(FEATURE_COUNT);
  /**
   * Per feature, the largest value scored as itself (model space): the
   * training maximum for session features ({@link FeatureSpec.session}),
   * else +Infinity.
   */
  #cap = new Float64Array(FEATURE_COUNT);

  /** Wraps checked parts (use {@link trainModel} or {@link parseModel}). */
  constructor(
    parts: {
      forest: IsolationForest;
      threshold: number;
      stats: FeatureStats[];
      training: TrainingSummary;
    },
  ) {
    this.forest = parts.forest;
    this.threshold = parts.threshold;
    this.stats = parts.stats;
    this.training = parts.training;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const q = this.stats[i]!.q;
      this.#cap[i] = FEATURES[i]!.session ? q[q.length - 1]! : Infinity;
    }
  }

  /**
   * Anomaly score in (0, 1] of a feature vector in human units
   * ({@link FEATURES} order); higher is more anomalous. Allocation-free.
   */
  score(raw: ArrayLike<number>): number {
    const x = this.#x, cap = this.#cap;
    toModelSpace(raw, x);
    for (let i = 0; i < FEATURE_COUNT; i++) if (x[i]! > cap[i]!) x[i] = cap[i]!;
    return this.forest.scoreRangeAware(x);
  }

  /**
   * The features of `raw` that deviate most from the training distribution,
   * most deviant first (at most `top`, default 3). When no single feature is
   * outside its normal range, the ones furthest from the median are given as
   * an unusual combination. Allocates (call only for anomalies).
   */
  explain(raw: ArrayLike<number>, top = 3): Reason[] {
    const dev = new Float64Array(FEATURE_COUNT);
    const order: number[] = [];
    let outside = 0;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      dev[i] = this.#deviation(i, raw[i]!);
      if (dev[i]! > 0) outside++;
      order.push(i);
    }
    // Most deviant first; when nothing is outside its normal range, the
    // features furthest from their median (an unusual combination).
    order.sort((a, b) => dev[b]! - dev[a]! || a - b);
    const n = outside > 0 ? Math.min(top, outside) : Math.min(top, 2);
    return order.slice(0, n).map((i) => this.#reason(i, raw[i]!, dev[i]!));
  }

  /** Share of training flows with category value `v` of feature `i`. */
  #share(i: number, v: number): number {
    return this.stats[i]!.categories?.[String(v)] ?? 0;
  }

  /**
   * How far `v` lies outside the normal range of feature `i`, in robust
   * spreads (categories: 1 to 3 by rarity); inside it, minus the distance
   * from the median, so it still ranks combination anomalies.
   */
  #deviation(i: number, v: number): number {
    const spec = FEATURES[i]!;
    if (spec.kind === "category") {
      const share = this.#share(i, v);
      return share >= RARE ? 0 : share === 0 ? 3 : 1 + Math.log10(RARE / share);
    }
    const x = spec.log ? Math.log1p(Math.max(0, v)) : v;
    const q = this.stats[i]!.q;
    const scale = Math.max(
      q[Q75]! - q[Q25]!,
      (q[Q99]! - q[Q01]!) / 4,
      spec.minScale,
    );
    // Quantiles are stored to 7 significant digits: ignore what rounding moved.
    const eps = 1e-6 * (1 + Math.abs(x));
    if (x > q[Q99]! + eps) return (x - q[Q99]!) / scale;
    if (x < q[Q01]! - eps) return (q[Q01]! - x) / scale;
    return -Math.abs(x - q[Q50]!) / scale - 1e-9;
  }

  #reason(i: number, v: number, deviation: number): Reason {
    const spec = FEATURES[i]!;
    const st = this.stats[i]!;
    if (spec.kind === "category") {
      const share = this.#share(i, v);
      const usual = Object.entries(st.categories ?? {})
        .filter(([, s]) => s >= RARE)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([k]) => spec.format(Number(k)));
      const seen = share === 0
        ? "never seen in normal traffic"
        : `${pct(share)} of normal flows`;
      return {
        feature: spec.name,
        value: v,
        normalLow: NaN,
        normalHigh: NaN,
        deviation,
        text: `${spec.phrase(spec.format(v))} (${seen}${
          usual.length > 0 && deviation > 0
            ? `; usual: ${usual.join(", ")}`
            : ""
        })`,
      };
    }
    const q = st.q;
    let lo = fromModelSpace(i, q[Q01]!), hi = fromModelSpace(i, q[Q99]!);
    if (spec.kind === "count") {
      lo = Math.max(0, Math.floor(lo + 1e-9));
      hi = Math.max(0, Math.ceil(hi - 1e-9));
    }
    const fLo = spec.format(lo), fHi = spec.format(hi);
    const above = (spec.log ? Math.log1p(Math.max(0, v)) : v) > q[Q99]!;
    let range: string;
    if (deviation <= 0) {
      range = `typical ${spec.format(fromModelSpace(i, q[Q50]!))}`;
    } else if (fLo === fHi) {
      range = `normal ${fLo}`;
    } else if (lo <= 0 && above) {
      range = `normal ≤ ${fHi}`;
    } else {
      range = `normal ${fLo}–${fHi}`;
    }
    return {
      feature: spec.name,
      value: v,
      normalLow: lo,
      normalHigh: hi,
      deviation,
      text: `${spec.phrase(spec.format(v))} (${range})`,
    };
  }

  /** The model as plain JSON (see {@link ModelJson}). */
  toJSON(): ModelJson {
    return {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      features: [...FEATURE_NAMES],
      scoring: SCORING,
      threshold: this.threshold,
      normalisation: {
        quantiles: [...QUANTILES],
        features: this.stats.map((s) => ({ ...s, q: [...s.q] })),
      },
      training: structuredClone(this.training),
      forest: this.forest.toJSON(),
    };
  }
}

function pct(share: number): string {
  const p = share * 100;
  return `${p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toFixed(2)}%`;
}

/** Joins reasons into one explanation sentence. */
export function explanationText(reasons: readonly Reason[]): string {
  if (reasons.length === 0) return "Unusual flow for this network";
  const combo = reasons.every((r) => r.deviation <= 0);
  const body = reasons.map((r) => r.text).join("; ");
  const text = combo ? `Unusual combination: ${body}` : body;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Options of {@link trainModel}. */
export interface TrainModelOptions {
  /** Target false-positive rate on the training flows, in (0, 0.5] (default 0.01). */
  contamination?: number;
  seed?: number;
  trees?: number;
  /**
   * Subsample size ψ (default 256, at most half the rows, so every row is
   * out of bag for about half the trees and the threshold can be set on
   * scores of rows the trees did not see).
   */
  sampleSize?: number;
  /** Capture files the rows came from (base names are kept). */
  sources?: readonly string[];
  /** Packet time of the first and last training flow, µs. */
  dataFromUs?: number;
  dataToUs?: number;
}

/**
 * Picks the threshold that flags at most `contamination` of the training
 * scores: halfway between the highest score left normal and the lowest one
 * flagged, moved up past ties so a run of equal scores never pushes the
 * flagged share over the target.
 */
export function thresholdFor(
  scores: ArrayLike<number>,
  contamination: number,
): number {
  const a = Float64Array.from(scores).sort();
  const n = a.length;
  const k = Math.floor(contamination * n + 1e-9);
  let j = n - k; // first index of the flagged top-k
  if (k === 0 || j <= 0) {
    const max = a[n - 1]!;
    return max + (1 - max) / 2;
  }
  while (j < n && a[j] === a[j - 1]) j++;
  if (j >= n) {
    const max = a[n - 1]!;
    return max + (1 - max) / 2;
  }
  return (a[j - 1]! + a[j]!) / 2;
}

function featureStats(rows: Float64Array, n: number, i: number): FeatureStats {
  const col = new Float64Array(n);
  for (let r = 0; r < n; r++) col[r] = rows[r * FEATURE_COUNT + i]!;
  const spec = FEATURES[i]!;
  const st: FeatureStats = { q: [] };
  if (spec.kind === "category") {
    const counts = new Map<number, number>();
    for (const v of col) counts.set(v, (counts.get(v) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, MAX_CATEGORIES)
      .sort((a, b) => a[0] - b[0]);
    st.categories = Object.fromEntries(
      top.map(([v, c]) => [String(v), round6(c / n)]),
    );
  }
  if (spec.log) {
    for (let r = 0; r < n; r++) col[r] = Math.log1p(Math.max(0, col[r]!));
  }
  col.sort();
  st.q = QUANTILES.map((q) => Number(quantileSorted(col, q).toPrecision(7)));
  return st;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * Trains a model on feature vectors of normal flows (human units,
 * `rows × FEATURE_COUNT` values row after row). Deterministic for the same
 * rows and options. Throws a RangeError on fewer than 2 rows or bad options.
 *
 * @example
 * ```ts
 * const model = trainModel(rows, { contamination: 0.01, seed: 1 });
 * model.score(vector) >= model.threshold; // anomalous?
 * ```
 */
export function trainModel(
  rows: Float64Array,
  opts: TrainModelOptions = {},
): AnomalyModel {
  const contamination = opts.contamination ?? DEFAULT_CONTAMINATION;
  if (!(contamination > 0 && contamination <= 0.5)) {
    throw new RangeError(
      `Invalid contamination ${contamination}: expected a share in (0, 0.5]`,
    );
  }
  if (rows.length % FEATURE_COUNT !== 0) {
    throw new RangeError(
      `Cannot train: ${rows.length} values is not a whole number of ${FEATURE_COUNT}-feature rows`,
    );
  }
  const n = rows.length / FEATURE_COUNT;
  const x = new Float64Array(rows.length);
  for (let r = 0; r < n; r++) {
    toModelSpace(
      rows.subarray(r * FEATURE_COUNT),
      x.subarray(r * FEATURE_COUNT),
    );
  }
  const m = { data: x, rows: n, cols: FEATURE_COUNT };
  const oob = trainForestOutOfBag(m, {
    seed: opts.seed ?? DEFAULT_SEED,
    trees: opts.trees ?? DEFAULT_TREES,
    sampleSize: opts.sampleSize ??
      Math.min(DEFAULT_SAMPLE_SIZE, Math.max(2, Math.floor(n / 2))),
  });
  const forest = oob.forest;
  // Calibrate on out-of-bag scores: what flows the forest never saw score.
  const scores = oob.scores;
  let outOfBagRows = 0;
  for (let r = 0; r < n; r++) {
    if (Number.isNaN(scores[r]!)) {
      scores[r] = forest.scoreRangeAware(x, r * FEATURE_COUNT);
    } else outOfBagRows++;
  }
  const threshold = thresholdFor(scores, contamination);
  const sorted = Float64Array.from(scores).sort();
  const stats: FeatureStats[] = [];
  for (let i = 0; i < FEATURE_COUNT; i++) stats.push(featureStats(rows, n, i));
  const iso = (us: number | undefined) =>
    us === undefined ? null : new Date(Math.floor(us / 1000)).toISOString();
  return new AnomalyModel({
    forest,
    threshold,
    stats,
    training: {
      rows: n,
      seed: forest.seed,
      trees: forest.trees,
      sampleSize: forest.sampleSize,
      contamination,
      outOfBagRows,
      sources: (opts.sources ?? []).map((s) => s.replace(/^.*[\\/]/, "")),
      dataFrom: iso(opts.dataFromUs),
      dataTo: iso(opts.dataToUs),
      scores: {
        p50: quantileSorted(sorted, 0.5),
        p90: quantileSorted(sorted, 0.9),
        p99: quantileSorted(sorted, 0.99),
        max: sorted[n - 1]!,
      },
    },
  });
}

// ------------------------------------------------------------------ parsing

function onlyKeys(
  obj: Record<string, unknown>,
  path: string,
  keys: readonly string[],
): void {
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) {
      throw new ModelError(path === "" ? k : `${path}.${k}`, "unknown field");
    }
  }
}

function record(v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) {
    throw new ModelError(path, `expected an object, got ${show(v)}`);
  }
  return v;
}

function finite(
  v: unknown,
  path: string,
  min = -Infinity,
  max = Infinity,
): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new ModelError(
      path,
      `expected a number in [${min}, ${max}], got ${show(v)}`,
    );
  }
  return v;
}

function integer(v: unknown, path: string, min: number, max: number): number {
  const n = finite(v, path, min, max);
  if (!Number.isInteger(n)) {
    throw new ModelError(path, `expected an integer, got ${n}`);
  }
  return n;
}

function isoOrNull(v: unknown, path: string): string | null {
  if (v === null) return null;
  if (typeof v !== "string" || Number.isNaN(Date.parse(v))) {
    throw new ModelError(
      path,
      `expected an ISO 8601 time or null, got ${show(v)}`,
    );
  }
  return v;
}

function parseStats(
  v: unknown,
  path: string,
  spec: typeof FEATURES[number],
): FeatureStats {
  const o = record(v, path);
  onlyKeys(o, path, ["q", "categories"]);
  if (!Array.isArray(o.q) || o.q.length !== QUANTILES.length) {
    throw new ModelError(`${path}.q`, `expected ${QUANTILES.length} quantiles`);
  }
  const q = o.q.map((x, k) => finite(x, `${path}.q[${k}]`));
  for (let k = 1; k < q.length; k++) {
    if (q[k]! < q[k - 1]!) {
      throw new ModelError(`${path}.q[${k}]`, "quantiles must not decrease");
    }
  }
  const st: FeatureStats = { q };
  if (spec.kind === "category") {
    const c = record(o.categories, `${path}.categories`);
    const cats: Record<string, number> = {};
    for (const [k, share] of Object.entries(c)) {
      if (!Number.isFinite(Number(k)) || k.trim() === "") {
        throw new ModelError(`${path}.categories`, `"${k}" is not a number`);
      }
      cats[k] = finite(share, `${path}.categories.${k}`, 0, 1);
    }
    st.categories = cats;
  } else if (o.categories !== undefined) {
    throw new ModelError(
      `${path}.categories`,
      `"${spec.name}" is not a category`,
    );
  }
  return st;
}

function parseTraining(v: unknown): TrainingSummary {
  const p = "training";
  const o = record(v, p);
  onlyKeys(o, p, [
    "rows",
    "seed",
    "trees",
    "sampleSize",
    "contamination",
    "outOfBagRows",
    "sources",
    "dataFrom",
    "dataTo",
    "scores",
  ]);
  if (
    !Array.isArray(o.sources) || o.sources.some((s) => typeof s !== "string")
  ) {
    throw new ModelError(`${p}.sources`, "expected an array of file names");
  }
  const s = record(o.scores, `${p}.scores`);
  onlyKeys(s, `${p}.scores`, ["p50", "p90", "p99", "max"]);
  return {
    rows: integer(o.rows, `${p}.rows`, 2, Number.MAX_SAFE_INTEGER),
    seed: integer(o.seed, `${p}.seed`, 0, 0xffffffff),
    trees: integer(o.trees, `${p}.trees`, 1, 10_000),
    sampleSize: integer(o.sampleSize, `${p}.sampleSize`, 2, 1 << 20),
    contamination: finite(o.contamination, `${p}.contamination`, 0, 0.5),
    outOfBagRows: integer(
      o.outOfBagRows,
      `${p}.outOfBagRows`,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    sources: o.sources as string[],
    dataFrom: isoOrNull(o.dataFrom, `${p}.dataFrom`),
    dataTo: isoOrNull(o.dataTo, `${p}.dataTo`),
    scores: {
      p50: finite(s.p50, `${p}.scores.p50`, 0, 1),
      p90: finite(s.p90, `${p}.scores.p90`, 0, 1),
      p99: finite(s.p99, `${p}.scores.p99`, 0, 1),
      max: finite(s.max, `${p}.scores.max`, 0, 1),
    },
  };
}

/**
 * Validates a model file's JSON and builds the model. Refuses another
 * format or version, a feature list other than this build's, and any
 * malformed field, with a {@link ModelError} naming it.
 *
 * @example
 * ```ts
 * const model = parseModel(JSON.parse(await Deno.readTextFile(path)));
 * ```
 */
export function parseModel(input: unknown): AnomalyModel {
  const o = record(input, "");
  onlyKeys(o, "", [
    "format",
    "version",
    "features",
    "scoring",
    "threshold",
    "normalisation",
    "training",
    "forest",
  ]);
  if (o.format !== MODEL_FORMAT) {
    throw new ModelError(
      "format",
      `expected "${MODEL_FORMAT}", got ${show(o.format)}`,
    );
  }
  if (o.version !== MODEL_VERSION) {
    throw new ModelError(
      "version",
      `version ${
        show(o.version)
      } is not supported (this build reads version ${MODEL_VERSION}; retrain with "netsentinel train")`,
    );
  }
  const names = o.features;
  if (!Array.isArray(names) || names.some((n) => typeof n !== "string")) {
    throw new ModelError("features", "expected an array of feature names");
  }
  if (
    names.length !== FEATURE_COUNT ||
    names.some((n, i) => n !== FEATURE_NAMES[i])
  ) {
    const missing = FEATURE_NAMES.filter((n) => !names.includes(n));
    const extra = (names as string[]).filter((n) => !FEATURE_NAMES.includes(n));
    throw new ModelError(
      "features",
      `the model's features differ from this build's (${
        missing.length ? `missing ${missing.join(", ")}` : ""
      }${missing.length && extra.length ? "; " : ""}${
        extra.length ? `unknown ${extra.join(", ")}` : ""
      }${
        !missing.length && !extra.length ? "different order" : ""
      }); retrain with "netsentinel train"`,
    );
  }
  if (o.scoring !== SCORING) {
    throw new ModelError(
      "scoring",
      `expected "${SCORING}", got ${show(o.scoring)}`,
    );
  }
  const threshold = finite(o.threshold, "threshold", 0, 1);
  const norm = record(o.normalisation, "normalisation");
  onlyKeys(norm, "normalisation", ["quantiles", "features"]);
  if (
    !Array.isArray(norm.quantiles) ||
    norm.quantiles.length !== QUANTILES.length ||
    norm.quantiles.some((q, i) => q !== QUANTILES[i])
  ) {
    throw new ModelError(
      "normalisation.quantiles",
      `expected ${JSON.stringify(QUANTILES)}`,
    );
  }
  if (!Array.isArray(norm.features) || norm.features.length !== FEATURE_COUNT) {
    throw new ModelError(
      "normalisation.features",
      `expected ${FEATURE_COUNT} entries`,
    );
  }
  const stats = norm.features.map((s, i) =>
    parseStats(s, `normalisation.features[${i}]`, FEATURES[i]!)
  );
  const training = parseTraining(o.training);
  const forest = parseForest(o.forest, "forest");
  if (forest.features !== FEATURE_COUNT) {
    throw new ModelError(
      "forest.features",
      `the forest scores ${forest.features} features, the model lists ${FEATURE_COUNT}`,
    );
  }
  return new AnomalyModel({ forest, threshold, stats, training });
}

// ------------------------------------------------------------------ files

/** Where the model that ships with the program lives. */
export const SHIPPED_MODEL_URL: URL = new URL(
  "../data/model.json",
  import.meta.url,
);

/** A loaded model and where it came from. */
export interface LoadedModel {
  model: AnomalyModel;
  /** The file actually used. */
  path: string;
  /** Why the requested file was not used (null when it was). */
  fallback: string | null;
}

/** Reads and parses one model file; wraps read and JSON errors in a ModelError. */
export async function readModelFile(path: string | URL): Promise<AnomalyModel> {
  return parseModel(await readJsonFile(path, ModelError));
}

/**
 * Loads the model at `path`, or the shipped one when `path` is absent. When
 * the file is missing, corrupt or incompatible, falls back to the shipped
 * model and says why in `fallback` (log it). Throws a {@link ModelError} only
 * when the shipped model cannot be used either.
 *
 * @example
 * ```ts
 * const { model, fallback } = await loadModel(flags.model);
 * if (fallback) log.warn("model fallback", { reason: fallback });
 * ```
 */
export async function loadModel(path?: string): Promise<LoadedModel> {
  const shipped = SHIPPED_MODEL_URL;
  if (path !== undefined) {
    try {
      return { model: await readModelFile(path), path, fallback: null };
    } catch (e) {
      if (!(e instanceof ModelError)) throw e;
      let model: AnomalyModel;
      try {
        model = await readModelFile(shipped);
      } catch (e2) {
        if (!(e2 instanceof ModelError)) throw e2;
        const strip = (m: string) =>
          m.replace(/^Invalid model( field "[^"]*")?: /, "");
        const where = e.message.includes(`"${path}"`) ? "" : ` (in "${path}")`;
        throw new ModelError(
          e.field,
          `${strip(e.message)}${where}; the shipped model is unusable too: ${
            strip(e2.message)
          }`,
          { cause: e },
        );
      }
      return {
        model,
        path: fileURLToPath(shipped),
        fallback:
          `Cannot use model "${path}": ${e.message}; using the shipped model`,
      };
    }
  }
  return {
    model: await readModelFile(shipped),
    path: fileURLToPath(shipped),
    fallback: null,
  };
}

/** File name of the model in the data directory. */
export const MODEL_FILE = "model.json";

/**
 * Finds the model to use: `path` when given (see {@link loadModel} for the
 * fallback), else `<dataDir>/model.json` when it exists, else the shipped
 * model.
 *
 * @example
 * ```ts
 * const { model, path, fallback } = await resolveModel({
 *   path: str(flags, "model"),
 *   dataDir: await resolveDataDir(str(flags, "data")),
 * });
 * ```
 */
export async function resolveModel(
  opts: { path?: string; dataDir?: string },
): Promise<LoadedModel> {
  if (opts.path !== undefined) return await loadModel(opts.path);
  if (opts.dataDir !== undefined) {
    const p = join(opts.dataDir, MODEL_FILE);
    try {
      await Deno.stat(p);
      return await loadModel(p);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return await loadModel();
}

/** Writes a model file (one line of JSON, deterministic for the same model). */
export async function saveModel(
  model: AnomalyModel,
  path: string,
): Promise<void> {
  await Deno.writeTextFile(path, modelText(model));
}

/** The text of a model file: deterministic for the same model. */
export function modelText(model: AnomalyModel): string {
  return JSON.stringify(model.toJSON()) + "\n";
}
