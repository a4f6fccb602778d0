/**
 * Bench: the cost of the anomaly detector on the live path. Runs the large
 * mixed capture (held in memory, so file reading is not measured) through
 * the pipeline without observers, with the feature extractor, and with the
 * anomaly scorer, and times scoring alone on the collected vectors.
 *
 *   deno run -A bench/anomaly_score.ts [--quick]   (or: deno task bench --only anomaly)
 *
 * @module
 */
import type { FrameBatch } from "../capture/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import {
  createAnomalyScorer,
  FEATURE_COUNT,
  FeatureExtractor,
  trainModel,
} from "../ml/mod.ts";
import { type BenchRow, largeCapture } from "./bench.ts";
import { loadBatches } from "./_batches.ts";
import { printRows } from "./_print.ts";

function runPipeline(
  batches: FrameBatch[],
  observers: FlowObserver[],
): { ms: number; flows: number } {
  const p = new Pipeline({ observers });
  const t0 = performance.now();
  for (const b of batches) p.processBatch(b);
  p.finish();
  return { ms: performance.now() - t0, flows: p.flows.counters.ended };
}

function best(n: number, fn: () => { ms: number; flows: number }) {
  let b = { ms: Infinity, flows: 0 };
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (r.ms < b.ms) b = r;
  }
  return b;
}

/** The `anomaly` bench section. */
export async function anomalyBench(quick: boolean): Promise<BenchRow[]> {
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const batches = await loadBatches(path);
  // Train on the flows of the capture itself (as `train` would on it).
  const vecs: number[] = [];
  runPipeline(batches, [new FeatureExtractor((_f, v) => vecs.push(...v))]);
  const rows = Float64Array.from(vecs);
  const nFlows = rows.length / FEATURE_COUNT;
  const t0 = performance.now();
  const model = trainModel(rows, { seed: 1 });
  const trainMs = performance.now() - t0;
  const runs = quick ? 2 : 3;
  const base = best(runs, () => runPipeline(batches, []));
  const feat = best(
    runs,
    () => runPipeline(batches, [new FeatureExtractor(() => {})]),
  );
  let flagged = 0;
  const scored = best(runs, () => {
    flagged = 0;
    return runPipeline(batches, [createAnomalyScorer(model, () => flagged++)]);
  });
  // Scoring alone: every vector, several passes.
  const passes = quick ? 3 : 10;
  let sink = 0;
  const s0 = performance.now();
  for (let k = 0; k < passes; k++) {
    for (let r = 0; r < nFlows; r++) {
      sink += model.score(
        rows.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT),
      );
    }
  }
  const scoreUs = ((performance.now() - s0) * 1000) / (passes * nFlows);
  if (sink < 0) throw new Error("unreachable");
  const perFlow = (ms: number) => (ms * 1000) / scored.flows;
  const note = `${packets} packets, ${scored.flows} flows`;
  return [
    {
      section: "anomaly",
      metric: "score one flow vector (100 trees, ψ 256)",
      value: scoreUs,
      unit: "µs/flow",
      note: `${model.forest.nodeCount} nodes`,
    },
    {
      section: "anomaly",
      metric: "features + score, added to the pipeline",
      value: perFlow(scored.ms - base.ms),
      unit: "µs/flow",
      reference: "features only",
      referenceValue: perFlow(feat.ms - base.ms),
      note,
    },
    {
      section: "anomaly",
      metric: "pipeline with the anomaly scorer",
      value: packets / (scored.ms / 1000),
      unit: "packets/s",
      reference: "no observers",
      referenceValue: packets / (base.ms / 1000),
      note: `${flagged} flows flagged`,
    },
    {
      section: "anomaly",
      metric: "train the model",
      value: trainMs,
      unit: "ms",
      note: `${nFlows} flows`,
    },
  ];
}

if (import.meta.main) {
  printRows(await anomalyBench(Deno.args.includes("--quick")));
}
