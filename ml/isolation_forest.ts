/**
 * Isolation Forest (Liu, Ting and Zhou, 2008): an ensemble of random trees
 * grown on small subsamples; points that are isolated after few splits are
 * anomalies.
 *
 * - Each tree sees ψ rows drawn without replacement (default 256) and grows
 *   to at most ceil(log2 ψ) levels. A node splits on a random feature among
 *   those that are not constant in the node, at a uniform value between the
 *   node's minimum and maximum (as scikit-learn does).
 * - The path length h(x) counts edges to the external node plus c(n) for the
 *   n training rows left there; the score is s(x) = 2^(-E[h(x)] / c(ψ)),
 *   in (0, 1], higher meaning more anomalous (about 0.5 and below: normal).
 * - Training uses a seeded generator: the same data, options and seed give
 *   the same trees, bit for bit.
 * - Trees are stored flat in typed arrays (feature index, split value or leaf
 *   size, index of the left child; the right child follows it, and the
 *   range of the split feature in the node), so scoring a vector walks
 *   arrays and allocates nothing.
 * - {@link IsolationForest.scoreRangeAware} extends the paper's scoring to
 *   values beyond what a node saw in training. The paper's path length only
 *   depends on the order of values, so a point far beyond the training
 *   maximum of a feature is isolated no sooner than the largest training
 *   point (a scan touching 1,000 ports in 10 s looks like a host touching
 *   the usual 3). Range-aware scoring asks what the tree would have done had
 *   the point been in its sample: at a node whose split feature spans
 *   [lo, hi] in training, a value v > hi is cut off alone with probability
 *   (v - hi) / (v - lo) (a split drawn uniformly over [lo, v]), likewise
 *   below lo. Features constant in a tree's sample are never split on, so
 *   a point that differs in m of them would, had it been sampled, have
 *   made them candidates: at each node it is cut off with probability
 *   m / (k + m) first (k: the features that vary in the sample). The
 *   expected path length follows. For points inside every range and equal
 *   to every constant it equals the paper's.
 *
 * @module
 */
import { ModelError } from "./errors.ts";
import { Prng } from "./prng.ts";
import { isRecord, show } from "../common/validate.ts";

/** The Euler–Mascheroni constant. */
export const EULER_GAMMA = 0.5772156649015329;

/** The `format` tag of a serialised forest. */
export const FOREST_FORMAT = "netsentinel-iforest";
/** The version of the serialised forest layout this code reads and writes. */
export const FOREST_VERSION = 1;

/** Default number of trees. */
export const DEFAULT_TREES = 100;
/** Default subsample size ψ. */
export const DEFAULT_SAMPLE_SIZE = 256;
/** Default seed of the training generator. */
export const DEFAULT_SEED = 1;

/** Upper bounds accepted for training options and serialised forests. */
const MAX_TREES = 10_000;
const MAX_SAMPLE_SIZE = 1 << 20;

/**
 * c(n): the average path length of an unsuccessful search in a binary search
 * tree of n items, 2H(n-1) - 2(n-1)/n with H(i) = ln(i) + γ; c(2) = 1,
 * c(1) = c(0) = 0. It normalises path lengths and accounts for the rows
 * left in an external node.
 *
 * @example
 * ```ts
 * averagePathLength(256); // ≈ 10.2448
 * ```
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/** A dense row-major matrix of feature vectors. */
export interface Matrix {
  /** `rows * cols` values, row after row. */
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Builds a {@link Matrix} from an array of equally long rows.
 * Throws a RangeError when the rows differ in length.
 */
export function matrixFromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * cols);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    if (row.length !== cols) {
      throw new RangeError(
        `Cannot build a matrix: row ${r} has ${row.length} values, expected ${cols}`,
      );
    }
    data.set(row, r * cols);
  }
  return { data, rows: rows.length, cols };
}

/** Options of {@link trainForest}. */
export interface ForestOptions {
  /** Number of trees t (default 100). */
  trees?: number;
  /** Subsample size ψ per tree (default 256; capped at the row count). */
  sampleSize?: number;
  /** Seed of the generator (default 1). */
  seed?: number;
}

/** A forest as plain JSON: arrays of numbers, versioned. */
export interface ForestJson {
  format: typeof FOREST_FORMAT;
  version: typeof FOREST_VERSION;
  /** Length of the feature vectors the forest scores. */
  features: number;
  /** Subsample size ψ actually used (the normaliser is c(ψ)). */
  sampleSize: number;
  /** Height limit ceil(log2 ψ). */
  heightLimit: number;
  /** Seed the forest was trained with. */
  seed: number;
  /** Index of each tree's root node; the last tree ends at the node count. */
  roots: number[];
  /** Per node: split feature, or -1 for an external node. */
  feature: number[];
  /** Per node: split value (go left when x < value), or the leaf's row count. */
  value: number[];
  /** Per node: index of the left child (right = left + 1), 0 for a leaf. */
  left: number[];
  /** Per node: least and greatest value of the split feature in the node's rows (0 for a leaf). */
  low: number[];
  high: number[];
  /**
   * Features constant in each tree's whole subsample: tree t lists
   * `constFeature[constOffsets[t] .. constOffsets[t + 1])` (increasing) with
   * their values in `constValue`.
   */
  constOffsets: number[];
  constFeature: number[];
  constValue: number[];
}

/** The typed arrays and parameters a forest is made of. */
export interface ForestParts {
  features: number;
  sampleSize: number;
  heightLimit: number;
  seed: number;
  roots: Int32Array;
  feature: Int32Array;
  value: Float64Array;
  left: Int32Array;
  low: Float64Array;
  high: Float64Array;
  constOffsets: Int32Array;
  constFeature: Int32Array;
  constValue: Float64Array;
}

/**
 * A trained Isolation Forest. Build one with {@link trainForest} or
 * {@link parseForest}; score vectors with {@link IsolationForest.score}.
 */
export class IsolationForest {
  /** Length of the vectors this forest scores. */
  readonly features: number;
  /** Subsample size ψ used in training. */
  readonly sampleSize: number;
  /** Height limit of the trees. */
  readonly heightLimit: number;
  /** Seed used in training. */
  readonly seed: number;
  /** Number of trees. */
  readonly trees: number;
  #roots: Int32Array;
  #feature: Int32Array;
  #value: Float64Array;
  #left: Int32Array;
  #low: Float64Array;
  #high: Float64Array;
  #constOffsets: Int32Array;
  #constFeature: Int32Array;
  #constValue: Float64Array;
  /** Per external node: its depth plus c(rows left there). */
  #leafPath: Float64Array;
  /** trees × c(ψ): the sum of path lengths divided by this is E[h]/c(ψ). */
  #norm: number;

  /**
   * Wraps checked parts (use {@link trainForest} or {@link parseForest}).
   * Children must come after their parent; external-node path lengths are
   * computed here once.
   */
  constructor(parts: ForestParts) {
    this.features = parts.features;
    this.sampleSize = parts.sampleSize;
    this.heightLimit = parts.heightLimit;
    this.seed = parts.seed;
    this.trees = parts.roots.length;
    this.#roots = parts.roots;
    this.#feature = parts.feature;
    this.#value = parts.value;
    this.#left = parts.left;
    this.#low = parts.low;
    this.#high = parts.high;
    this.#constOffsets = parts.constOffsets;
    this.#constFeature = parts.constFeature;
    this.#constValue = parts.constValue;
    const n = parts.feature.length;
    const depth = new Int32Array(n);
    const leafPath = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (parts.feature[i]! < 0) {
        leafPath[i] = depth[i]! + averagePathLength(parts.value[i]!);
      } else {
        const l = parts.left[i]!;
        depth[l] = depth[l + 1] = depth[i]! + 1;
      }
    }
    this.#leafPath = leafPath;
    this.#norm = this.trees * averagePathLength(parts.sampleSize);
  }

  /** Total number of nodes in all trees. */
  get nodeCount(): number {
    return this.#feature.length;
  }

  /**
   * Mean path length E[h(x)] of the vector starting at `x[offset]`, whose
   * next `features` values are read. Allocation-free.
   */
  meanPathLength(x: ArrayLike<number>, offset = 0): number {
    return this.#pathSum(x, offset) / this.trees;
  }

  /**
   * Anomaly score s(x) = 2^(-E[h(x)]/c(ψ)) in (0, 1] of the vector starting at
   * `x[offset]`; higher is more anomalous. Allocation-free: safe per flow on
   * the live path.
   *
   * @example
   * ```ts
   * const forest = trainForest(matrixFromRows(rows), { seed: 7 });
   * forest.score([1.2, 3.4]); // ≈ 0.4 for a typical row, → 1 for an outlier
   * ```
   */
  score(x: ArrayLike<number>, offset = 0): number {
    return Math.pow(2, -this.#pathSum(x, offset) / this.#norm);
  }

  /**
   * Range-aware anomaly score of the vector starting at `x[offset]` (see the
   * module notes): the paper's score for values inside the ranges the trees
   * saw, higher the further a value lies beyond them. Allocation-free.
   */
  scoreRangeAware(x: ArrayLike<number>, offset = 0): number {
    return Math.pow(2, -this.#pathSumRangeAware(x, offset) / this.#norm);
  }

  /** Scores every row of a matrix (`rangeAware`: see {@link scoreRangeAware}). */
  scoreMatrix(m: Matrix, rangeAware = false): Float64Array {
    if (m.cols !== this.features) {
      throw new RangeError(
        `Cannot score rows of ${m.cols} features with a forest of ${this.features}`,
      );
    }
    const out = new Float64Array(m.rows);
    for (let r = 0; r < m.rows; r++) {
      out[r] = rangeAware
        ? this.scoreRangeAware(m.data, r * m.cols)
        : this.score(m.data, r * m.cols);
    }
    return out;
  }

  #pathSum(x: ArrayLike<number>, offset: number): number {
    const roots = this.#roots, feat = this.#feature, val = this.#value;
    const left = this.#left, leafPath = this.#leafPath;
    let sum = 0;
    for (let t = 0; t < roots.length; t++) {
      let n = roots[t]!;
      let f = feat[n]!;
      while (f >= 0) {
        n = x[offset + f]! < val[n]! ? left[n]! : left[n]! + 1;
        f = feat[n]!;
      }
      sum += leafPath[n]!;
    }
    return sum;
  }

  #pathSumRangeAware(x: ArrayLike<number>, offset: number): number {
    let sum = 0;
    for (let t = 0; t < this.trees; t++) {
      sum += this.treePathRangeAware(t, x, offset);
    }
    return sum;
  }

  /**
   * Expected range-aware path length of the vector at `x[offset]` in tree
   * `t` alone (for out-of-bag estimates). Allocation-free.
   */
  treePathRangeAware(t: number, x: ArrayLike<number>, offset = 0): number {
    const feat = this.#feature, val = this.#value, left = this.#left;
    const low = this.#low, high = this.#high;
    // Constants of this tree's sample that the point does not share.
    const c0 = this.#constOffsets[t]!, c1 = this.#constOffsets[t + 1]!;
    let m = 0;
    for (let c = c0; c < c1; c++) {
      if (x[offset + this.#constFeature[c]!] !== this.#constValue[c]) m++;
    }
    const varying = this.features - (c1 - c0);
    const pc = m === 0 ? 0 : m / (varying + m);
    let n = this.#roots[t]!;
    let f = feat[n]!;
    let depth = 0, reach = 1, e = 0;
    if (f < 0 && pc > 0) return 1; // a root leaf: the differing constant splits first
    while (f >= 0) {
      const v = x[offset + f]!;
      const lo = low[n]!, hi = high[n]!;
      const gap = v > hi ? v - hi : v < lo ? lo - v : 0;
      // Cut off alone here: by a differing constant, else by a split drawn
      // over the range widened to reach v (probability gap / (range + gap)).
      const p = gap > 0 ? pc + (1 - pc) * (gap / (hi - lo + gap)) : pc;
      if (p > 0) {
        e += reach * p * (depth + 1);
        reach *= 1 - p;
      }
      n = v < val[n]! ? left[n]! : left[n]! + 1;
      f = feat[n]!;
      depth++;
    }
    return e + reach * this.#leafPath[n]!;
  }

  /** Turns a mean path length into a score, 2^(-h/c(ψ)). */
  scoreOfPath(meanPath: number): number {
    return Math.pow(2, (-meanPath * this.trees) / this.#norm);
  }

  /** The forest as plain JSON (see {@link ForestJson}). */
  toJSON(): ForestJson {
    return {
      format: FOREST_FORMAT,
      version: FOREST_VERSION,
      features: this.features,
      sampleSize: this.sampleSize,
      heightLimit: this.heightLimit,
      seed: this.seed,
      roots: Array.from(this.#roots),
      feature: Array.from(this.#feature),
      value: Array.from(this.#value),
      left: Array.from(this.#left),
      low: Array.from(this.#low),
      high: Array.from(this.#high),
      constOffsets: Array.from(this.#constOffsets),
      constFeature: Array.from(this.#constFeature),
      constValue: Array.from(this.#constValue),
    };
  }
}

function checkInt(
  name: string,
  v: number,
  min: number,
  max: number,
): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Invalid isolation forest option "${name}": ${v} (expected an integer in [${min}, ${max}])`,
    );
  }
}

/**
 * Trains a forest on the rows of `m` (every value must be finite).
 * Deterministic: the same matrix, options and seed give identical trees.
 * Throws a RangeError on fewer than 2 rows, no columns, a non-finite value
 * or an option out of range.
 *
 * @example
 * ```ts
 * const forest = trainForest(matrixFromRows([[0, 1], [0.1, 1.1], [5, 9]]), {
 *   trees: 100, sampleSize: 256, seed: 42,
 * });
 * ```
 */
export function trainForest(
  m: Matrix,
  opts: ForestOptions = {},
): IsolationForest {
  return grow(m, opts, null);
}

/** A forest with the out-of-bag scores of its training rows. */
export interface OutOfBag {
  forest: IsolationForest;
  /**
   * Per training row: the range-aware score from only the trees whose
   * subsample left the row out, as a new row would score; NaN when every
   * tree sampled it.
   */
  scores: Float64Array;
  /** Per training row: how many trees left it out. */
  trees: Uint16Array;
}

/**
 * Trains a forest like {@link trainForest} (same trees for the same input)
 * and scores every training row with the trees that did not sample it, so
 * a threshold set on these scores holds for traffic the forest never saw.
 */
export function trainForestOutOfBag(
  m: Matrix,
  opts: ForestOptions = {},
): OutOfBag {
  const trees = opts.trees ?? DEFAULT_TREES;
  const words = Math.ceil(m.rows / 32);
  const inBag = new Uint32Array(Math.max(0, trees) * words);
  const forest = grow(m, opts, inBag);
  const scores = new Float64Array(m.rows);
  const count = new Uint16Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let sum = 0, k = 0;
    for (let t = 0; t < forest.trees; t++) {
      if (inBag[t * words + (r >>> 5)]! & (1 << (r & 31))) continue;
      sum += forest.treePathRangeAware(t, m.data, r * m.cols);
      k++;
    }
    count[r] = k;
    scores[r] = k === 0 ? NaN : forest.scoreOfPath(sum / k);
  }
  return { forest, scores, trees: count };
}

function grow(
  m: Matrix,
  opts: ForestOptions,
  inBag: Uint32Array | null,
): IsolationForest {
  const trees = opts.trees ?? DEFAULT_TREES;
  const psiWanted = opts.sampleSize ?? DEFAULT_SAMPLE_SIZE;
  const seed = opts.seed ?? DEFAULT_SEED;
  checkInt("trees", trees, 1, MAX_TREES);
  checkInt("sampleSize", psiWanted, 2, MAX_SAMPLE_SIZE);
  checkInt("seed", seed, 0, 0xffffffff);
  const { data, rows, cols } = m;
  if (rows < 2) {
    throw new RangeError(
      `Cannot train an isolation forest on ${rows} row(s): need at least 2`,
    );
  }
  if (cols < 1 || data.length !== rows * cols) {
    throw new RangeError(
      `Cannot train an isolation forest: matrix of ${rows}×${cols} holds ${data.length} values`,
    );
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new RangeError(
        `Cannot train an isolation forest: row ${Math.floor(i / cols)} column ${
          i % cols
        } is ${data[i]}`,
      );
    }
  }
  const psi = Math.min(psiWanted, rows);
  const heightLimit = Math.ceil(Math.log2(psi));
  const maxNodes = 2 * psi - 1;
  const feature = new Int32Array(trees * maxNodes);
  const value = new Float64Array(trees * maxNodes);
  const left = new Int32Array(trees * maxNodes);
  const low = new Float64Array(trees * maxNodes);
  const high = new Float64Array(trees * maxNodes);
  const roots = new Int32Array(trees);
  const constOffsets = new Int32Array(trees + 1);
  const constFeature: number[] = [];
  const constValue: number[] = [];
  const rng = new Prng(seed);
  const perm = new Int32Array(rows);
  for (let i = 0; i < rows; i++) perm[i] = i;
  const fperm = new Int32Array(cols);
  for (let i = 0; i < cols; i++) fperm[i] = i;
  const idx = new Int32Array(psi);
  // Pending nodes: node, start, end, depth.
  const stack = new Int32Array(4 * (heightLimit + 2) * 2);
  let used = 0;
  for (let t = 0; t < trees; t++) {
    // ψ distinct rows: a partial Fisher–Yates shuffle (uniform from any order).
    for (let k = 0; k < psi; k++) {
      const j = k + rng.int(rows - k);
      const tmp = perm[k]!;
      perm[k] = perm[j]!;
      perm[j] = tmp;
      idx[k] = perm[k]!;
    }
    // Features constant in this tree's sample (never split on).
    for (let f = 0; f < cols; f++) {
      const v0 = data[idx[0]! * cols + f]!;
      let same = true;
      for (let k = 1; k < psi && same; k++) {
        same = data[idx[k]! * cols + f] === v0;
      }
      if (same) {
        constFeature.push(f);
        constValue.push(v0);
      }
    }
    constOffsets[t + 1] = constFeature.length;
    if (inBag !== null) {
      const base = t * Math.ceil(rows / 32);
      for (let k = 0; k < psi; k++) {
        const r = idx[k]!;
        inBag[base + (r >>> 5)]! |= 1 << (r & 31);
      }
    }
    const root = used++;
    roots[t] = root;
    let sp = 0;
    stack[sp++] = root;
    stack[sp++] = 0;
    stack[sp++] = psi;
    stack[sp++] = 0;
    while (sp > 0) {
      const depth = stack[--sp]!;
      const end = stack[--sp]!;
      const start = stack[--sp]!;
      const node = stack[--sp]!;
      const size = end - start;
      let chosen = -1, lo = 0, hi = 0;
      if (depth < heightLimit && size > 1) {
        // A random feature among those not constant in this node.
        for (let k = 0; k < cols; k++) {
          const j = k + rng.int(cols - k);
          const f = fperm[j]!;
          fperm[j] = fperm[k]!;
          fperm[k] = f;
          let mn = Infinity, mx = -Infinity;
          for (let i = start; i < end; i++) {
            const v = data[idx[i]! * cols + f]!;
            if (v < mn) mn = v;
            if (v > mx) mx = v;
          }
          if (mx > mn) {
            chosen = f;
            lo = mn;
            hi = mx;
            break;
          }
        }
      }
      if (chosen < 0) {
        feature[node] = -1;
        value[node] = size;
        left[node] = 0;
        continue;
      }
      // A value in (lo, hi]: both sides get at least one row.
      let split = hi - rng.next() * (hi - lo);
      if (!(split > lo)) split = hi;
      // Seven significant digits keep model files short; any value in
      // (lo, hi] is as good a split.
      const short = Number(split.toPrecision(7));
      if (short > lo && short <= hi) split = short;
      let i = start, j = end - 1;
      while (i <= j) {
        if (data[idx[i]! * cols + chosen]! < split) {
          i++;
        } else {
          const tmp = idx[i]!;
          idx[i] = idx[j]!;
          idx[j] = tmp;
          j--;
        }
      }
      const l = used;
      used += 2;
      feature[node] = chosen;
      value[node] = split;
      left[node] = l;
      // Rounded outwards (never narrowing the range) to keep files short.
      const shortLo = Number(lo.toPrecision(7));
      const shortHi = Number(hi.toPrecision(7));
      low[node] = shortLo <= lo ? shortLo : lo;
      high[node] = shortHi >= hi ? shortHi : hi;
      stack[sp++] = l + 1;
      stack[sp++] = i;
      stack[sp++] = end;
      stack[sp++] = depth + 1;
      stack[sp++] = l;
      stack[sp++] = start;
      stack[sp++] = i;
      stack[sp++] = depth + 1;
    }
  }
  return new IsolationForest({
    features: cols,
    sampleSize: psi,
    heightLimit,
    seed,
    roots,
    feature: feature.slice(0, used),
    value: value.slice(0, used),
    left: left.slice(0, used),
    low: low.slice(0, used),
    high: high.slice(0, used),
    constOffsets,
    constFeature: Int32Array.from(constFeature),
    constValue: Float64Array.from(constValue),
  });
}

function intField(
  obj: Record<string, unknown>,
  path: string,
  key: string,
  min: number,
  max: number,
): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ModelError(
      `${path}.${key}`,
      `expected an integer in [${min}, ${max}], got ${show(v)}`,
    );
  }
  return v;
}

function numberArray(
  obj: Record<string, unknown>,
  path: string,
  key: string,
  length: number | null,
): number[] {
  const v = obj[key];
  if (!Array.isArray(v)) {
    throw new ModelError(
      `${path}.${key}`,
      `expected an array of numbers, got ${show(v)}`,
    );
  }
  if (length !== null && v.length !== length) {
    throw new ModelError(
      `${path}.${key}`,
      `expected ${length} entries, got ${v.length}`,
    );
  }
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new ModelError(
        `${path}.${key}[${i}]`,
        `expected a finite number, got ${show(x)}`,
      );
    }
  }
  return v as number[];
}

const FOREST_KEYS = new Set([
  "format",
  "version",
  "features",
  "sampleSize",
  "heightLimit",
  "seed",
  "roots",
  "feature",
  "value",
  "left",
  "low",
  "high",
  "constOffsets",
  "constFeature",
  "constValue",
]);

/**
 * Validates a serialised forest (as {@link IsolationForest.toJSON} writes
 * it) and rebuilds it. Checks the format tag and version, every array's
 * length and values, that children follow their parent inside the same tree
 * and are referenced exactly once, and the height limit. Throws a
 * {@link ModelError} naming the first bad field under `path`.
 *
 * @example
 * ```ts
 * const forest = parseForest(JSON.parse(text), "forest");
 * ```
 */
export function parseForest(input: unknown, path = "forest"): IsolationForest {
  if (!isRecord(input)) {
    throw new ModelError(path, `expected an object, got ${show(input)}`);
  }
  for (const k of Object.keys(input)) {
    if (!FOREST_KEYS.has(k)) {
      throw new ModelError(`${path}.${k}`, "unknown field");
    }
  }
  if (input.format !== FOREST_FORMAT) {
    throw new ModelError(
      `${path}.format`,
      `expected "${FOREST_FORMAT}", got ${show(input.format)}`,
    );
  }
  if (input.version !== FOREST_VERSION) {
    throw new ModelError(
      `${path}.version`,
      `version ${
        show(input.version)
      } is not supported (this build reads version ${FOREST_VERSION})`,
    );
  }
  const features = intField(input, path, "features", 1, 65_536);
  const sampleSize = intField(input, path, "sampleSize", 2, MAX_SAMPLE_SIZE);
  const heightLimit = intField(input, path, "heightLimit", 1, 64);
  if (heightLimit !== Math.ceil(Math.log2(sampleSize))) {
    throw new ModelError(
      `${path}.heightLimit`,
      `${heightLimit} does not match sampleSize ${sampleSize} (expected ${
        Math.ceil(Math.log2(sampleSize))
      })`,
    );
  }
  const seed = intField(input, path, "seed", 0, 0xffffffff);
  const roots = numberArray(input, path, "roots", null);
  if (roots.length < 1 || roots.length > MAX_TREES) {
    throw new ModelError(
      `${path}.roots`,
      `expected 1 to ${MAX_TREES} trees, got ${roots.length}`,
    );
  }
  const feature = numberArray(input, path, "feature", null);
  const n = feature.length;
  const value = numberArray(input, path, "value", n);
  const left = numberArray(input, path, "left", n);
  const low = numberArray(input, path, "low", n);
  const high = numberArray(input, path, "high", n);
  const constOffsets = numberArray(
    input,
    path,
    "constOffsets",
    roots.length + 1,
  );
  const constFeature = numberArray(input, path, "constFeature", null);
  const constValue = numberArray(
    input,
    path,
    "constValue",
    constFeature.length,
  );
  for (let t = 0; t <= roots.length; t++) {
    const o = constOffsets[t]!;
    const prev = t === 0 ? 0 : constOffsets[t - 1]!;
    if (
      !Number.isInteger(o) || o < prev || (t === 0 && o !== 0) ||
      (t === roots.length && o !== constFeature.length)
    ) {
      throw new ModelError(
        `${path}.constOffsets[${t}]`,
        `offsets start at 0, never decrease and end at ${constFeature.length}, got ${o}`,
      );
    }
    if (t === roots.length) break;
    for (let c = o; c < constOffsets[t + 1]!; c++) {
      const f = constFeature[c]!;
      if (
        !Number.isInteger(f) || f < 0 || f >= features ||
        (c > o && f <= constFeature[c - 1]!)
      ) {
        throw new ModelError(
          `${path}.constFeature[${c}]`,
          `expected increasing feature indices below ${features}, got ${f}`,
        );
      }
    }
  }
  const refs = new Uint8Array(n);
  const depth = new Int32Array(n);
  for (let t = 0; t < roots.length; t++) {
    const r = roots[t]!;
    const expected = t === 0 ? 0 : null;
    if (
      !Number.isInteger(r) || r < 0 || r >= n ||
      (expected !== null && r !== expected) || (t > 0 && r <= roots[t - 1]!)
    ) {
      throw new ModelError(
        `${path}.roots[${t}]`,
        `${r} is not a valid root (roots start at 0, increase and lie below the node count ${n})`,
      );
    }
    const end = t + 1 < roots.length ? roots[t + 1]! : n;
    refs[r] = 1;
    for (let i = r; i < end; i++) {
      if (refs[i] === 0) {
        throw new ModelError(
          `${path}.left`,
          `node ${i} is not the child of any node in tree ${t}`,
        );
      }
      const f = feature[i]!;
      if (!Number.isInteger(f) || f < -1 || f >= features) {
        throw new ModelError(
          `${path}.feature[${i}]`,
          `expected -1 or a feature index below ${features}, got ${f}`,
        );
      }
      if (f < 0) {
        const size = value[i]!;
        if (!Number.isInteger(size) || size < 0 || size > sampleSize) {
          throw new ModelError(
            `${path}.value[${i}]`,
            `leaf size must be an integer in [0, ${sampleSize}], got ${size}`,
          );
        }
        if (left[i] !== 0) {
          throw new ModelError(
            `${path}.left[${i}]`,
            `a leaf must have 0, got ${left[i]}`,
          );
        }
        if (low[i] !== 0 || high[i] !== 0) {
          throw new ModelError(
            `${path}.${low[i] !== 0 ? "low" : "high"}[${i}]`,
            "a leaf must have 0",
          );
        }
        continue;
      }
      const l = left[i]!;
      if (!Number.isInteger(l) || l <= i || l + 1 >= end) {
        throw new ModelError(
          `${path}.left[${i}]`,
          `child ${l} must follow node ${i} inside its tree (nodes ${r} to ${
            end - 1
          })`,
        );
      }
      if (!(low[i]! < value[i]! && value[i]! <= high[i]!)) {
        throw new ModelError(
          `${path}.value[${i}]`,
          `split ${value[i]} must lie in (low, high] = (${low[i]}, ${high[i]}]`,
        );
      }
      if (depth[i]! + 1 > heightLimit) {
        throw new ModelError(
          `${path}.left[${i}]`,
          `tree ${t} is deeper than the height limit ${heightLimit}`,
        );
      }
      if (refs[l] !== 0 || refs[l + 1] !== 0) {
        throw new ModelError(
          `${path}.left[${i}]`,
          `child ${l} or ${l + 1} already belongs to another node`,
        );
      }
      depth[l] = depth[l + 1] = depth[i]! + 1;
      refs[l] = refs[l + 1] = 1;
    }
  }
  return new IsolationForest({
    features,
    sampleSize,
    heightLimit,
    seed,
    roots: Int32Array.from(roots),
    feature: Int32Array.from(feature),
    value: Float64Array.from(value),
    left: Int32Array.from(left),
    low: Float64Array.from(low),
    high: Float64Array.from(high),
    constOffsets: Int32Array.from(constOffsets),
    constFeature: Int32Array.from(constFeature),
    constValue: Float64Array.from(constValue),
  });
}
