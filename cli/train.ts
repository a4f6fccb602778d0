/**
 * `train PATH...`: trains the anomaly model on capture files declared
 * normal, sets its threshold from a target false-positive rate, saves it
 * and prints a summary.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { UsageError, UserError } from "../common/errors.ts";
import { printErr, printOut } from "../common/output.ts";
import { resolveDataDir } from "../common/data_dir.ts";
import {
  type AnomalyModel,
  DEFAULT_CONTAMINATION,
  DEFAULT_SAMPLE_SIZE,
  DEFAULT_SEED,
  DEFAULT_TREES,
  FEATURE_COUNT,
  FEATURES,
  fromModelSpace,
  MODEL_FILE,
  QUANTILES,
  saveModel,
  trainModel,
} from "../ml/mod.ts";
import { expandPaths } from "./analyze.ts";
import { type Command, type Flags, num, str } from "./command.ts";
import { flowFeaturesOfFiles } from "./features.ts";

const Q01 = QUANTILES.indexOf(0.01), Q50 = QUANTILES.indexOf(0.5);
const Q99 = QUANTILES.indexOf(0.99);

/** The normal range of every feature, one line each, for the summary. */
export function featureRanges(model: AnomalyModel): string[] {
  const lines: string[] = [];
  const width = Math.max(...FEATURES.map((f) => f.name.length));
  FEATURES.forEach((spec, i) => {
    const st = model.stats[i]!;
    let text: string;
    if (spec.kind === "category") {
      text = Object.entries(st.categories ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([v, s]) => `${spec.format(Number(v))} ${(s * 100).toFixed(1)}%`)
        .join(", ");
    } else {
      const f = (q: number) => spec.format(fromModelSpace(i, st.q[q]!));
      const lo = f(Q01), hi = f(Q99);
      text = lo === hi ? lo : `${lo} – ${hi}`;
      text += `   (median ${f(Q50)})`;
    }
    lines.push(`  ${spec.name.padEnd(width)}  ${text}`);
  });
  return lines;
}

/** The `train` command. */
export const trainCommand: Command = {
  name: "train",
  summary: "train the anomaly model on captures of normal traffic",
  positionals: true,
  options: {
    out: { type: "string", short: "o" },
    data: { type: "string" },
    contamination: { type: "string" },
    seed: { type: "string" },
    trees: { type: "string" },
    sample: { type: "string" },
  },
  help: `Usage: netsentinel train PATH... [options]

Trains the Isolation Forest anomaly model on capture files you declare
normal (no attacks in them): every finished flow becomes one training row.
The alert threshold is set so that the given share of the training flows
would be flagged (a target false-positive rate). Same files and seed give
the same model file. PATH is a pcap or pcapng file or a directory of them.

Options:
  -o, --out FILE        where to save the model (default: model.json in the
                        data directory)
  --data DIR            data directory (default: /var/lib/netsentinel when
                        root, else ./netsentinel-data)
  --contamination X     target false-positive rate on the training flows,
                        0 < X ≤ 0.5 (default ${DEFAULT_CONTAMINATION})
  --seed N              seed of the forest (default ${DEFAULT_SEED})
  --trees N             number of trees (default ${DEFAULT_TREES})
  --sample N            rows per tree, ψ (default ${DEFAULT_SAMPLE_SIZE}, at most half
                        the flows: the threshold is set on out-of-bag scores)
  -h, --help            show this help

Exit codes: 0 model saved, 1 a file could not be read or too few flows, 2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    if (positionals.length === 0) {
      throw new UsageError("train: no capture file given (try --help)");
    }
    const contamination = num(flags, "contamination", DEFAULT_CONTAMINATION, {
      min: 1e-6,
      max: 0.5,
    });
    const seed = num(flags, "seed", DEFAULT_SEED, {
      min: 0,
      max: 0xffffffff,
      integer: true,
    });
    const trees = num(flags, "trees", DEFAULT_TREES, {
      min: 1,
      max: 10_000,
      integer: true,
    });
    const sampleSize = flags.sample === undefined
      ? undefined
      : num(flags, "sample", DEFAULT_SAMPLE_SIZE, {
        min: 2,
        max: 1 << 20,
        integer: true,
      });
    const outPath = str(flags, "out") ??
      join(await resolveDataDir(str(flags, "data")), MODEL_FILE);
    const files = await expandPaths(positionals);
    const chunks: Float64Array[] = [];
    let first = Infinity, last = -Infinity;
    const stats = await flowFeaturesOfFiles(files, (f, v) => {
      chunks.push(v.slice());
      if (f.firstUs < first) first = f.firstUs;
      if (f.lastUs > last) last = f.lastUs;
    });
    let failed = false;
    for (const s of stats) {
      if (s.error !== null) {
        failed = true;
        printErr(`netsentinel: ${s.file}: ${s.error}`);
      }
    }
    if (failed) {
      throw new UserError(
        "Refusing to train on a capture that could not be read completely",
      );
    }
    if (chunks.length < 2) {
      throw new UserError(
        `Cannot train on ${chunks.length} flow(s): give captures with more normal traffic`,
      );
    }
    const rows = new Float64Array(chunks.length * FEATURE_COUNT);
    chunks.forEach((c, r) => rows.set(c, r * FEATURE_COUNT));
    const model = trainModel(rows, {
      contamination,
      seed,
      trees,
      sampleSize,
      sources: files,
      dataFromUs: first,
      dataToUs: last,
    });
    try {
      await Deno.mkdir(dirname(outPath), { recursive: true });
      await saveModel(model, outPath);
    } catch (e) {
      throw new UserError(
        `Cannot write "${outPath}": ${e instanceof Error ? e.message : e}`,
        { cause: e },
      );
    }
    const t = model.training;
    printOut(
      `Trained on ${t.rows} flows from ${files.length} file(s) ` +
        `(${t.dataFrom} to ${t.dataTo})`,
    );
    printOut(`Forest: ${t.trees} trees, ψ = ${t.sampleSize}, seed ${t.seed}`);
    printOut(
      `Threshold: ${model.threshold.toFixed(4)} (target false-positive rate ` +
        `${
          (contamination * 100).toFixed(2)
        }%, set on the scores of ${t.outOfBagRows} ` +
        `training flows by trees that did not sample them: median ${
          t.scores.p50.toFixed(3)
        }, 99th percentile ${t.scores.p99.toFixed(3)}, max ${
          t.scores.max.toFixed(3)
        })`,
    );
    printOut(
      "Normal ranges (1st to 99th percentile of training flows; categories by share):",
    );
    for (const line of featureRanges(model)) printOut(line);
    printOut(`Saved ${outPath}`);
    return 0;
  },
};
