/**
 * Builds a labelled flow-feature CSV for the comparison harness from
 * capture files: every flow of the `--normal` captures (label 0), plus the
 * flows of the `--attack` captures whose client is one of `--attacker`
 * (label 1), subsampled (seeded) to at most `--share` of the rows. Features
 * are written in model space (log1p where the model logs them), as the
 * forest sees them.
 *
 *   deno run -A ml/compare/flow_csv.ts --out flows.csv \
 *     --normal tests/fixtures/benign_holdout.pcap \
 *     --attack tests/fixtures/scan_syn.pcap --attacker 10.99.0.66 [--share 0.02]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatAddr } from "../../decode/mod.ts";
import { Pipeline } from "../../engine/mod.ts";
import { readCaptureFile } from "../../capture/mod.ts";
import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  FeatureExtractor,
  toModelSpace,
} from "../features.ts";
import { Prng } from "../prng.ts";

/** Feature vectors (model space) of every flow of a capture with its client address. */
export async function flowsOf(
  path: string,
): Promise<Array<{ src: string; x: Float64Array }>> {
  const out: Array<{ src: string; x: Float64Array }> = [];
  const fx = new FeatureExtractor((f, v) => {
    const x = new Float64Array(FEATURE_COUNT);
    toModelSpace(v, x);
    out.push({ src: formatAddr(f.version, f.srcAddr), x });
  });
  const p = new Pipeline({ observers: [fx] });
  const reader = readCaptureFile(path);
  let r = await reader.next();
  while (!r.done) {
    p.processBatch(r.value);
    r = await reader.next();
  }
  p.finish();
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string" },
      normal: { type: "string", multiple: true, default: [] },
      attack: { type: "string", multiple: true, default: [] },
      attacker: { type: "string", multiple: true, default: [] },
      share: { type: "string", default: "0.02" },
      seed: { type: "string", default: "1" },
    },
  });
  if (!values.out) throw new TypeError("--out FILE is required");
  const rows: string[] = [[...FEATURE_NAMES, "label"].join(",")];
  let normal = 0;
  for (const p of values.normal) {
    for (const f of await flowsOf(p)) {
      rows.push([...f.x, 0].join(","));
      normal++;
    }
  }
  const attackers = new Set(values.attacker);
  const bad: Float64Array[] = [];
  for (const p of values.attack) {
    for (const f of await flowsOf(p)) if (attackers.has(f.src)) bad.push(f.x);
  }
  const share = Number(values.share);
  const want = Math.min(bad.length, Math.round((share * normal) / (1 - share)));
  const rng = new Prng(Number(values.seed));
  for (let i = 0; i < want; i++) {
    const j = i + rng.int(bad.length - i);
    [bad[i], bad[j]] = [bad[j]!, bad[i]!];
    rows.push([...bad[i]!, 1].join(","));
  }
  await Deno.writeTextFile(values.out, rows.join("\n") + "\n");
  Deno.stdout.writeSync(
    new TextEncoder().encode(
      `${values.out}: ${normal} normal flows, ${want} of ${bad.length} attack flows\n`,
    ),
  );
}
