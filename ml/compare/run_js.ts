/**
 * One measured run of a TypeScript/JavaScript Isolation Forest, in its own
 * process so its memory is its own: `deno run -A run_js.ts IMPL TRAIN_CSV
 * OUT_SCORES [SEED [SCORE_CSV]]`, IMPL being `ours` (ψ = 256), `ours_ra`
 * (ψ = 256, range-aware scoring), `ours_full` (ψ = every row, as the
 * library does) or `library` (npm ml-isolation-forest 0.1.0). Trains on
 * every row, scores every row (or those of SCORE_CSV), writes one score a
 * line, and prints one JSON line of timings (ms) and resident memory (MiB)
 * like `sklearn_iforest.py`.
 *
 * @module
 */
import { IsolationForest as LibraryForest } from "npm:ml-isolation-forest@0.1.0";
import { type Matrix, trainForest } from "../isolation_forest.ts";
import { readMatrixCsv } from "./csv.ts";

function statusMiB(field: string): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(
    new RegExp(`^${field}:\\s+(\\d+)`, "m"),
  );
  return m ? Number(m[1]) / 1024 : NaN;
}

function toRows(m: Matrix): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < m.rows; r++) {
    rows.push(Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)));
  }
  return rows;
}

if (import.meta.main) {
  const [impl, trainCsv, outFile, seedText, scoreCsv] = Deno.args;
  if (
    !impl || !trainCsv || !outFile ||
    !["ours", "ours_ra", "ours_full", "library"].includes(impl)
  ) {
    throw new TypeError(
      "usage: run_js.ts ours|ours_ra|ours_full|library TRAIN_CSV OUT [SEED [SCORE_CSV]]",
    );
  }
  const seed = Number(seedText ?? 1);
  const { matrix } = await readMatrixCsv(trainCsv);
  const test = scoreCsv ? (await readMatrixCsv(scoreCsv)).matrix : matrix;
  let scores: ArrayLike<number>;
  let t0: number, t1: number, t2: number;
  let base: number;
  if (impl !== "library") {
    const sampleSize = impl === "ours_full" ? matrix.rows : 256;
    base = statusMiB("VmRSS");
    t0 = performance.now();
    const forest = trainForest(matrix, { seed, sampleSize });
    t1 = performance.now();
    scores = forest.scoreMatrix(test, impl === "ours_ra");
    t2 = performance.now();
  } else {
    // The library takes rows as arrays and has no seed (Math.random).
    const rows = toRows(matrix);
    base = statusMiB("VmRSS");
    t0 = performance.now();
    const forest = new LibraryForest({ nEstimators: 100 });
    forest.train(rows);
    t1 = performance.now();
    scores = forest.predict(test === matrix ? rows : toRows(test)) as number[];
    t2 = performance.now();
  }
  await Deno.writeTextFile(outFile, Array.from(scores).join("\n") + "\n");
  const rep = {
    train_ms: t1 - t0,
    score_ms: t2 - t1,
    rows_scored: scores.length,
    base_rss_mib: base,
    peak_rss_mib: statusMiB("VmHWM"),
  };
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(rep) + "\n"));
}
