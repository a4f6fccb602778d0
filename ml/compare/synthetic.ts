/**
 * Seeded synthetic data sets with planted outliers, for testing and
 * comparing anomaly detectors. Every set is unsupervised in use (train on
 * all rows, outliers included, as a detector would see them) and carries the
 * truth in `labels` (1 = planted outlier).
 *
 * @module
 */
import type { Matrix } from "../isolation_forest.ts";
import { Prng } from "../prng.ts";

/** A data set with planted outliers. */
export interface LabelledSet {
  /** Short name for tables, e.g. "blobs". */
  readonly name: string;
  /** One line on what it is. */
  readonly description: string;
  readonly matrix: Matrix;
  /** 1 for a planted outlier, 0 for a normal row. */
  readonly labels: Uint8Array;
}

/** Options shared by the generators. */
export interface SyntheticOptions {
  /** Seed of the generator (default 1). */
  seed?: number;
  /** Total rows (default depends on the set). */
  rows?: number;
  /** Fraction of planted outliers (default 0.01). */
  contamination?: number;
}

function shuffleRows(
  rng: Prng,
  data: Float64Array,
  labels: Uint8Array,
  cols: number,
): void {
  const tmp = new Float64Array(cols);
  for (let i = labels.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    tmp.set(data.subarray(i * cols, i * cols + cols));
    data.copyWithin(i * cols, j * cols, j * cols + cols);
    data.set(tmp, j * cols);
    const l = labels[i]!;
    labels[i] = labels[j]!;
    labels[j] = l;
  }
}

function counts(o: SyntheticOptions, rows: number): [number, number] {
  const n = o.rows ?? rows;
  const out = Math.max(1, Math.round(n * (o.contamination ?? 0.01)));
  return [n - out, out];
}

/**
 * Three 2-D Gaussian blobs of different spread, plus outliers uniform over
 * the surrounding box, kept only when at least 4 standard deviations from
 * every blob centre (default 5,000 rows).
 */
export function blobs(o: SyntheticOptions = {}): LabelledSet {
  const rng = new Prng(o.seed ?? 1);
  const [nNorm, nOut] = counts(o, 5000);
  const centres = [[0, 0, 0.6], [6, 2, 1.0], [2, 7, 0.8]] as const;
  const cols = 2, n = nNorm + nOut;
  const data = new Float64Array(n * cols);
  const labels = new Uint8Array(n);
  for (let i = 0; i < nNorm; i++) {
    const c = centres[i % 3]!;
    data[i * 2] = c[0] + c[2] * rng.normal();
    data[i * 2 + 1] = c[1] + c[2] * rng.normal();
  }
  for (let i = nNorm; i < n;) {
    const x = -6 + 18 * rng.next(), y = -6 + 19 * rng.next();
    const near = centres.some(([cx, cy, s]) =>
      Math.hypot(x - cx, y - cy) < 4 * s
    );
    if (near) continue;
    data[i * 2] = x;
    data[i * 2 + 1] = y;
    labels[i] = 1;
    i++;
  }
  shuffleRows(rng, data, labels, cols);
  return {
    name: "blobs",
    description:
      "2-D, three Gaussian blobs (sd 0.6/1.0/0.8) + uniform outliers ≥ 4 sd from every centre",
    matrix: { data, rows: n, cols },
    labels,
  };
}

/**
 * 40-D standard normal rows; each outlier has 4 random dimensions pushed
 * to ±4..6 and is normal in the other 36 (default 10,000 rows).
 */
export function highDim(o: SyntheticOptions = {}): LabelledSet {
  const rng = new Prng(o.seed ?? 1);
  const [nNorm, nOut] = counts(o, 10_000);
  const cols = 40, n = nNorm + nOut;
  const data = new Float64Array(n * cols);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n * cols; i++) data[i] = rng.normal();
  for (let i = nNorm; i < n; i++) {
    labels[i] = 1;
    for (let k = 0; k < 4; k++) {
      const d = rng.int(cols);
      data[i * cols + d] = (rng.next() < 0.5 ? -1 : 1) * (4 + 2 * rng.next());
    }
  }
  shuffleRows(rng, data, labels, cols);
  return {
    name: "highdim",
    description:
      "40-D standard normal; outliers have 4 random dims at ±4..6, the other 36 normal",
    matrix: { data, rows: n, cols },
    labels,
  };
}

/**
 * 8-D rows on a 2-factor plane (x = A·z + 0.1 noise, so features are
 * strongly correlated); outliers draw every feature independently from its
 * marginal normal, so each value alone looks ordinary and only the broken
 * correlation gives them away (default 5,000 rows).
 */
export function correlated(o: SyntheticOptions = {}): LabelledSet {
  const rng = new Prng(o.seed ?? 1);
  const [nNorm, nOut] = counts(o, 5000);
  const cols = 8, n = nNorm + nOut;
  const a: number[][] = [];
  for (let d = 0; d < cols; d++) a.push([rng.normal(), rng.normal()]);
  const sd = a.map(([p, q]) => Math.sqrt(p! * p! + q! * q! + 0.01));
  const data = new Float64Array(n * cols);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const z1 = rng.normal(), z2 = rng.normal();
    for (let d = 0; d < cols; d++) {
      data[i * cols + d] = i < nNorm
        ? a[d]![0]! * z1 + a[d]![1]! * z2 + 0.1 * rng.normal()
        : sd[d]! * rng.normal();
    }
    if (i >= nNorm) labels[i] = 1;
  }
  shuffleRows(rng, data, labels, cols);
  return {
    name: "correlated",
    description:
      "8-D on a 2-factor plane + 0.1 noise; outliers independent per feature with the same marginals",
    matrix: { data, rows: n, cols },
    labels,
  };
}

/**
 * Flow-like rows (12 features): log packet and byte counts, duration,
 * a port class, small flag counts, per-source fan-out, and three constant
 * columns. Outliers look like scan probes: one or two packets, no answer,
 * a failed handshake and a large fan-out of the source (default 20,000
 * rows, 0.5% outliers).
 */
export function flowLike(o: SyntheticOptions = {}): LabelledSet {
  const rng = new Prng(o.seed ?? 1);
  const [nNorm, nOut] = counts(
    { ...o, contamination: o.contamination ?? 0.005 },
    20_000,
  );
  const cols = 12, n = nNorm + nOut;
  const data = new Float64Array(n * cols);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = i * cols;
    const out = i >= nNorm;
    labels[i] = out ? 1 : 0;
    const pk = out
      ? 1 + rng.int(2)
      : Math.max(2, Math.round(Math.exp(2 + rng.normal())));
    const back = out
      ? (rng.next() < 0.5 ? 0 : 1)
      : Math.max(1, Math.round(pk * (0.6 + 0.4 * rng.next())));
    const size = out ? 60 : 80 + 900 * rng.next();
    data[r] = Math.log1p(pk);
    data[r + 1] = Math.log1p(back);
    data[r + 2] = Math.log1p(pk * size);
    data[r + 3] = Math.log1p(back * (out ? 54 : 200 + 1200 * rng.next()));
    data[r + 4] = out ? 0.001 * rng.next() : Math.exp(rng.normal() - 1);
    data[r + 5] = out ? rng.int(3) : [0, 0, 0, 1, 2][rng.int(5)]!;
    data[r + 6] = out ? 1 : (rng.next() < 0.02 ? 1 : 0); // failed handshake
    data[r + 7] = out ? back : (rng.next() < 0.05 ? 1 : 0); // RSTs
    data[r + 8] = Math.log1p(out ? 100 + rng.int(900) : rng.int(6)); // ports
    data[r + 9] = 0;
    data[r + 10] = 1;
    data[r + 11] = 0;
  }
  shuffleRows(rng, data, labels, cols);
  return {
    name: "flowlike",
    description:
      "12 flow-style features (log counts, port class, flags, fan-out, 3 constant); outliers are scan probes",
    matrix: { data, rows: n, cols },
    labels,
  };
}

/**
 * A large set for speed and memory: 10-D, two Gaussian clusters plus 1%
 * uniform outliers over a box 3 times wider (default 100,000 rows).
 */
export function large(o: SyntheticOptions = {}): LabelledSet {
  const rng = new Prng(o.seed ?? 1);
  const [nNorm, nOut] = counts(o, 100_000);
  const cols = 10, n = nNorm + nOut;
  const data = new Float64Array(n * cols);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const out = i >= nNorm;
    labels[i] = out ? 1 : 0;
    const shift = i % 2 === 0 ? 0 : 3;
    for (let d = 0; d < cols; d++) {
      data[i * cols + d] = out ? -6 + 15 * rng.next() : shift + rng.normal();
    }
  }
  shuffleRows(rng, data, labels, cols);
  return {
    name: "large",
    description:
      "10-D, two unit Gaussians 3 apart + 1% uniform outliers in [-6, 9]^10, 100k rows",
    matrix: { data, rows: n, cols },
    labels,
  };
}

/** Every generator by name, in table order. */
export const SYNTHETIC_SETS: Readonly<
  Record<string, (o?: SyntheticOptions) => LabelledSet>
> = {
  blobs,
  highdim: highDim,
  correlated,
  flowlike: flowLike,
  large,
};
