/**
 * `deno task probes`: builds `data/anomaly_probes.json`, the held-out known
 * anomalies of the retraining gate, from the lab's attack captures
 * (tests/fixtures/): the flows whose client is not one of the lab's
 * well-behaved hosts, at most {@link PER_CAPTURE} a capture, evenly spaced
 * in flow-end order (deterministic: same captures, same file).
 *
 *   deno task probes            # writes data/anomaly_probes.json
 *   deno run -A ml/make_probes.ts --out /tmp/probes.json
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readCaptureFile } from "../capture/mod.ts";
import { formatAddr } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { FEATURE_COUNT, FeatureExtractor } from "./features.ts";
import { type AnomalyModel, trainModel } from "./model.ts";
import { type Probe, probesText, SHIPPED_PROBES_URL } from "./probes.ts";

/** Attack captures the probes come from (tests/fixtures/NAME.pcap). */
export const PROBE_CAPTURES: readonly string[] = [
  "scan_syn",
  "scan_connect",
  "scan_fin",
  "scan_xmas",
  "scan_null",
  "scan_ack",
  "scan_udp",
  "scan_slow",
  "sweep_icmp",
  "sweep_tcp",
  "flood_syn",
  "flood_udp",
  "flood_icmp",
  "brute_ssh",
  "brute_http",
  "dns_exfil",
  "dns_tunnel",
  "suspicious_ports",
  "external_inbound",
];

/** Most probes taken from one capture. */
export const PER_CAPTURE = 24;

/** Benign captures the reference models are trained on. */
export const REFERENCE_CAPTURES: readonly string[] = [
  "benign+benign_train",
  "benign+benign_holdout+benign_train",
];
/** Contamination of the reference models (that of the shipped model). */
export const REFERENCE_CONTAMINATION = 0.005;
/** Seeds of the reference models (one model per capture set and seed). */
export const REFERENCE_SEEDS: readonly number[] = [1, 2, 3, 4, 5];

// A development script: the fixtures are read from the source tree, never
// from a compiled binary (so no run-time asset to embed).
const FIXTURES = join(import.meta.dirname ?? ".", "../tests/fixtures");

/**
 * True for the lab's well-behaved hosts (tests/fixtures/README.md): every
 * 10.99.0.0/24 address but the attacker .66, and the outside servers in
 * 198.51.100.0/24 (the resolver's forwarded queries are not the attack).
 */
export function isLabHost(ip: string): boolean {
  if (ip.startsWith("198.51.100.")) return true;
  const m = /^10\.99\.0\.(\d+)$/.exec(ip);
  return m !== null && Number(m[1]) !== 66;
}

/**
 * The flows of one capture in flow-end order (human units); with
 * `attackOnly`, only those whose client is not a lab host.
 */
async function flowsOf(name: string, attackOnly: boolean): Promise<number[][]> {
  const out: number[][] = [];
  const fx = new FeatureExtractor((f, v) => {
    if (attackOnly && isLabHost(formatAddr(f.version, f.srcAddr))) return;
    out.push(Array.from(v.subarray(0, FEATURE_COUNT)));
  });
  const p = new Pipeline({ observers: [fx] });
  const reader = readCaptureFile(join(FIXTURES, `${name}.pcap`));
  let r = await reader.next();
  while (!r.done) {
    p.processBatch(r.value);
    r = await reader.next();
  }
  if (r.value.error !== null) {
    throw new Error(`Cannot read "${name}.pcap": ${r.value.error}`);
  }
  p.finish();
  return out;
}

/**
 * Models trained on the benign captures ({@link REFERENCE_CAPTURES} ×
 * {@link REFERENCE_SEEDS}): what a fair retrain on clean traffic looks like.
 */
async function referenceModels(): Promise<AnomalyModel[]> {
  const models: AnomalyModel[] = [];
  for (const set of REFERENCE_CAPTURES) {
    const rows: number[] = [];
    for (const name of set.split("+")) {
      for (const r of await flowsOf(name, false)) rows.push(...r);
    }
    for (const seed of REFERENCE_SEEDS) {
      models.push(
        trainModel(Float64Array.from(rows), {
          seed,
          contamination: REFERENCE_CONTAMINATION,
        }),
      );
    }
  }
  return models;
}

/**
 * Builds the probe set: the attack flows of {@link PROBE_CAPTURES} that
 * every reference model flags (a known anomaly, not a borderline flow whose
 * verdict depends on the seed), at most {@link PER_CAPTURE} a capture.
 */
export async function buildProbes(): Promise<Probe[]> {
  const refs = await referenceModels();
  const probes: Probe[] = [];
  for (const name of PROBE_CAPTURES) {
    const flows = (await flowsOf(name, true)).filter((v) =>
      refs.every((m) => m.score(v) >= m.threshold)
    );
    const k = Math.min(PER_CAPTURE, flows.length);
    for (let i = 0; i < k; i++) {
      const j = Math.floor((i * flows.length) / k);
      probes.push({ source: name, features: flows[j]! });
    }
  }
  return probes;
}

/** The note stored in the file. */
export const PROBES_NOTE =
  `Attack flows of the lab captures in tests/fixtures/ (clients other than ` +
  `the lab's well-behaved hosts) that models trained on the benign captures ` +
  `(${REFERENCE_CAPTURES.join(", ")}; seeds ${REFERENCE_SEEDS.join(", ")}) ` +
  `all flag, at most ${PER_CAPTURE} a capture, evenly spaced in flow-end ` +
  `order; rebuilt by "deno task probes"`;

/** The text `deno task probes` writes. */
export async function buildProbesText(): Promise<string> {
  return probesText(await buildProbes(), PROBES_NOTE);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string" } },
  });
  const out = values.out ?? SHIPPED_PROBES_URL.pathname;
  const text = await buildProbesText();
  await Deno.writeTextFile(out, text);
  const n = text.split("\n").length - 3;
  await Deno.stdout.write(
    new TextEncoder().encode(`${n} probes written to ${out}\n`),
  );
}
