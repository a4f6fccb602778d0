/**
 * The Isolation Forest comparison: ours, npm `ml-isolation-forest` 0.1.0 and
 * scikit-learn's IsolationForest on the same data sets (ours and
 * scikit-learn with ψ = 256 as in the paper, and with ψ = every row, the
 * `_full` variants, which is what the library always does), each run in its own
 * process (so resident memory is its own). Prints a Markdown table of ROC
 * AUC (mean and range over runs), training time, scoring time per row and
 * peak resident memory.
 *
 * `deno run -A ml/compare/compare.ts [--runs N] [--sets a,b] [--impls a,b]
 * [--csv FILE]... [--novelty]` — `--novelty` trains on half the normal rows
 * and scores the rest with every outlier (default: train and score all
 * rows, outliers included); a `--csv` file is a numeric CSV with a header whose
 * `label` column (1 = anomaly) is the truth; other columns are features.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Matrix } from "../isolation_forest.ts";
import { rocAuc } from "../metrics.ts";
import { readMatrixCsv, readNumbers, writeMatrixCsv } from "./csv.ts";
import { findSklearnPython } from "./sklearn.ts";
import { type LabelledSet, SYNTHETIC_SETS } from "./synthetic.ts";

/** The implementations compared. */
export const IMPLS = [
  "ours",
  "ours_ra",
  "ours_full",
  "library",
  "sklearn",
  "sklearn_full",
] as const;
/** One of {@link IMPLS}. */
export type Impl = typeof IMPLS[number];

/** Figures of one implementation on one data set. */
export interface CompareRow {
  set: string;
  rows: number;
  cols: number;
  impl: Impl;
  aucMean: number;
  aucMin: number;
  aucMax: number;
  /** Medians over runs. */
  trainMs: number;
  scoreUsPerRow: number;
  /** Largest peak resident memory over runs, and the resident memory after loading the data. */
  peakRssMiB: number;
  baseRssMiB: number;
  runs: number;
}

const HERE = import.meta.dirname ?? ".";

interface RunReport {
  train_ms: number;
  score_ms: number;
  base_rss_mib: number;
  peak_rss_mib: number;
}

async function runOnce(
  impl: Impl,
  o: {
    csv: string;
    out: string;
    seed: number;
    rows: number;
    python: string | null;
    scoreCsv?: string;
  },
): Promise<RunReport> {
  const { csv, out, seed, rows, python, scoreCsv } = o;
  const sample = impl === "sklearn_full" ? rows : 256;
  const cmd = impl.startsWith("sklearn")
    ? new Deno.Command(python ?? "python3", {
      args: [
        join(HERE, "sklearn_iforest.py"),
        csv,
        out,
        "--seed",
        String(seed),
        "--sample",
        String(sample),
        ...(scoreCsv ? ["--score", scoreCsv] : []),
      ],
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(HERE, "run_js.ts"),
        impl,
        csv,
        out,
        String(seed),
        ...(scoreCsv ? [scoreCsv] : []),
      ],
      stdout: "piped",
      stderr: "piped",
    });
  const res = await cmd.output();
  if (!res.success) {
    throw new Error(
      `${impl} failed on ${csv}: ${
        new TextDecoder().decode(res.stderr).trim()
      }`,
    );
  }
  const lines = new TextDecoder().decode(res.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as RunReport;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs every implementation `runs` times (seeds 1..runs) on `set` and
 * summarises. The library takes no seed: its runs differ by Math.random.
 */
export async function compareOn(
  set: LabelledSet,
  opts: {
    runs: number;
    impls: readonly Impl[];
    dir: string;
    novelty?: boolean;
  },
): Promise<CompareRow[]> {
  const python = await findSklearnPython();
  const csv = join(opts.dir, `${set.name}.csv`);
  let labels = set.labels;
  let scoreCsv: string | undefined;
  let scored = set.matrix.rows;
  if (opts.novelty) {
    const split = noveltySplit(set);
    await writeMatrixCsv(csv, split.train);
    scoreCsv = join(opts.dir, `${set.name}.test.csv`);
    await writeMatrixCsv(scoreCsv, split.test);
    labels = split.labels;
    scored = split.test.rows;
  } else {
    await writeMatrixCsv(csv, set.matrix);
  }
  const out: CompareRow[] = [];
  for (const impl of opts.impls) {
    if (impl.startsWith("sklearn") && python === null) continue;
    const aucs: number[] = [], train: number[] = [], score: number[] = [];
    let peak = 0, base = 0;
    for (let seed = 1; seed <= opts.runs; seed++) {
      const scoresFile = join(opts.dir, `${set.name}.${impl}.${seed}.txt`);
      const rep = await runOnce(impl, {
        csv,
        out: scoresFile,
        seed,
        rows: set.matrix.rows,
        python,
        scoreCsv,
      });
      const scores = await readNumbers(scoresFile);
      aucs.push(rocAuc(scores, labels));
      train.push(rep.train_ms);
      score.push((rep.score_ms * 1000) / scored);
      peak = Math.max(peak, rep.peak_rss_mib);
      base = Math.max(base, rep.base_rss_mib);
    }
    out.push({
      set: set.name,
      rows: set.matrix.rows,
      cols: set.matrix.cols,
      impl,
      aucMean: aucs.reduce((a, b) => a + b, 0) / aucs.length,
      aucMin: Math.min(...aucs),
      aucMax: Math.max(...aucs),
      trainMs: median(train),
      scoreUsPerRow: median(score),
      peakRssMiB: peak,
      baseRssMiB: base,
      runs: opts.runs,
    });
  }
  return out;
}

/**
 * The novelty setting: train on every other normal row only, score the
 * remaining normal rows and every outlier (as a detector trained on clean
 * traffic meets new traffic).
 */
export function noveltySplit(
  set: LabelledSet,
): { train: Matrix; test: Matrix; labels: Uint8Array } {
  const { data, rows, cols } = set.matrix;
  const tr: number[] = [], te: number[] = [];
  let normal = 0;
  for (let r = 0; r < rows; r++) {
    if (set.labels[r] === 0 && normal++ % 2 === 0) tr.push(r);
    else te.push(r);
  }
  const pick = (idx: number[]): Matrix => {
    const out = new Float64Array(idx.length * cols);
    idx.forEach((r, i) =>
      out.set(data.subarray(r * cols, (r + 1) * cols), i * cols)
    );
    return { data: out, rows: idx.length, cols };
  };
  return {
    train: pick(tr),
    test: pick(te),
    labels: Uint8Array.from(te, (r) => set.labels[r]!),
  };
}

/** Renders rows as a Markdown table. */
export function markdownTable(rows: readonly CompareRow[]): string {
  const lines = [
    "| data set | rows×cols | impl | ROC AUC mean [min, max] | train ms | score µs/row | peak RSS MiB (after load) |",
    "| --- | --- | --- | --- | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.set} | ${r.rows}×${r.cols} | ${r.impl} | ${
        r.aucMean.toFixed(4)
      } [${r.aucMin.toFixed(4)}, ${r.aucMax.toFixed(4)}] | ${
        r.trainMs.toFixed(1)
      } | ${r.scoreUsPerRow.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} (${
        r.baseRssMiB.toFixed(0)
      }) |`,
    );
  }
  return lines.join("\n");
}

/** Loads a labelled CSV: the `label` column is the truth, the rest features. */
export async function labelledCsv(path: string): Promise<LabelledSet> {
  const { header, matrix } = await readMatrixCsv(path);
  const li = header.indexOf("label");
  if (li < 0) throw new Error(`"${path}" has no "label" column`);
  const cols = matrix.cols - 1;
  const data = new Float64Array(matrix.rows * cols);
  const labels = new Uint8Array(matrix.rows);
  for (let r = 0; r < matrix.rows; r++) {
    let k = 0;
    for (let c = 0; c < matrix.cols; c++) {
      const v = matrix.data[r * matrix.cols + c]!;
      if (c === li) labels[r] = v ? 1 : 0;
      else data[r * cols + k++] = v;
    }
  }
  const m: Matrix = { data, rows: matrix.rows, cols };
  const name = path.replace(/^.*\//, "").replace(/\.csv$/, "");
  return {
    name,
    description: `${path} (label column as truth)`,
    matrix: m,
    labels,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "3" },
      sets: { type: "string", default: Object.keys(SYNTHETIC_SETS).join(",") },
      impls: { type: "string", default: IMPLS.join(",") },
      csv: { type: "string", multiple: true, default: [] },
      novelty: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const impls = values.impls.split(",") as Impl[];
  const sets: LabelledSet[] = [];
  for (const name of values.sets.split(",").filter((s) => s !== "")) {
    const gen = SYNTHETIC_SETS[name];
    if (!gen) throw new Error(`unknown set "${name}"`);
    sets.push(gen());
  }
  for (const p of values.csv) sets.push(await labelledCsv(p));
  const dir = await Deno.makeTempDir({ prefix: "ns_compare_" });
  const enc = new TextEncoder();
  const print = (s: string) => Deno.stdout.writeSync(enc.encode(s + "\n"));
  try {
    const all: CompareRow[] = [];
    for (const s of sets) {
      print(`- ${s.name}: ${s.description}`);
      all.push(
        ...await compareOn(s, { runs, impls, dir, novelty: values.novelty }),
      );
    }
    print("");
    print(markdownTable(all));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
