/**
 * Drives scikit-learn's IsolationForest (through `sklearn_iforest.py`) as a
 * reference: finds a Python that has scikit-learn, hands it a CSV, reads the
 * scores back. For tests and the comparison harness only.
 *
 * @module
 */
import { join } from "node:path";
import type { Matrix } from "../isolation_forest.ts";
import { readNumbers, writeMatrixCsv } from "./csv.ts";

const SCRIPT = join(import.meta.dirname ?? ".", "sklearn_iforest.py");

/** Figures `sklearn_iforest.py` reports for one run. */
export interface SklearnRun {
  /** Scores of the scored rows, higher = more anomalous. */
  scores: Float64Array;
  trainMs: number;
  scoreMs: number;
  /** Resident memory after loading the data, and the peak, MiB. */
  baseRssMiB: number;
  peakRssMiB: number;
  /** scikit-learn's version. */
  version: string;
}

/** Options of {@link runSklearn}. */
export interface SklearnOptions {
  trees?: number;
  sampleSize?: number;
  seed?: number;
  /** Rows to score (default the training rows). */
  score?: Matrix;
  /** The Python to use (default: {@link findSklearnPython}). */
  python?: string;
}

let found: Promise<string | null> | null = null;

/**
 * Finds a Python 3 that can import scikit-learn: `python3` on the PATH, then
 * Debian's `/usr/bin/python3` (a pyenv shim on the PATH may hide it).
 * Resolves to null when there is none.
 */
export function findSklearnPython(): Promise<string | null> {
  found ??= (async () => {
    for (const py of ["python3", "/usr/bin/python3"]) {
      try {
        const out = await new Deno.Command(py, {
          args: ["-c", "import sklearn, numpy"],
          stdout: "null",
          stderr: "null",
        }).output();
        if (out.success) return py;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    return null;
  })();
  return found;
}

/**
 * Trains scikit-learn's IsolationForest on `train` and scores rows.
 * Throws when no Python with scikit-learn is found or the script fails.
 */
export async function runSklearn(
  train: Matrix,
  opts: SklearnOptions = {},
): Promise<SklearnRun> {
  const py = opts.python ?? await findSklearnPython();
  if (py === null) {
    throw new Error(
      "Cannot run scikit-learn: no python3 with sklearn (apt install python3-sklearn)",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "ns_sklearn_" });
  try {
    const trainCsv = join(dir, "train.csv");
    const outFile = join(dir, "scores.txt");
    await writeMatrixCsv(trainCsv, train);
    const args = [
      SCRIPT,
      trainCsv,
      outFile,
      "--trees",
      String(opts.trees ?? 100),
      "--sample",
      String(opts.sampleSize ?? 256),
      "--seed",
      String(opts.seed ?? 1),
    ];
    if (opts.score) {
      const scoreCsv = join(dir, "score.csv");
      await writeMatrixCsv(scoreCsv, opts.score);
      args.push("--score", scoreCsv);
    }
    const out = await new Deno.Command(py, {
      args,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(
        `scikit-learn run failed (exit ${out.code}): ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
    const rep = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<
      string,
      number | string
    >;
    return {
      scores: await readNumbers(outFile),
      trainMs: Number(rep.train_ms),
      scoreMs: Number(rep.score_ms),
      baseRssMiB: Number(rep.base_rss_mib),
      peakRssMiB: Number(rep.peak_rss_mib),
      version: String(rep.version),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
