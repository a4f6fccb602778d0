import assert from "node:assert/strict";
import { type Detection, PolicyHolder } from "../alerts/mod.ts";
import { readCaptureFile } from "../capture/mod.ts";
import { silentLogger } from "../common/logger.ts";
import { anomalyDetector } from "../detect/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import {
  acceptNewModel,
  AnomalyModel,
  FEATURE_COUNT,
  FEATURE_INDEX,
  FeatureExtractor,
  holdForPolicy,
  ModelRetrainer,
  readModelFile,
  readProbesFile,
  SHIPPED_MODEL_URL,
  trainModel,
} from "../ml/mod.ts";
import { DetectorSet } from "./detector_set.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url);
const shipped = await readModelFile(SHIPPED_MODEL_URL);
const probes = await readProbesFile();
/** The shipped forest with a threshold no score reaches: flags nothing. */
const blind = new AnomalyModel({
  forest: shipped.forest,
  threshold: 2,
  stats: [...shipped.stats],
  training: shipped.training,
});

/**
 * Plays a fixture capture in batches of `batchFrames` frames through a
 * pipeline of `observers`, calling `between(i)` after batch i. Returns the
 * last packet time.
 */
async function play(
  name: string,
  observers: FlowObserver[],
  opts: { batchFrames?: number; between?: (i: number) => void } = {},
): Promise<number> {
  const p = new Pipeline({ observers });
  const reader = readCaptureFile(new URL(name, FIXTURES).pathname, {
    batchFrames: opts.batchFrames ?? 4096,
  });
  let last = 0, i = 0;
  let r = await reader.next();
  while (!r.done) {
    p.processBatch(r.value);
    last = Math.max(last, r.value.tsUs[r.value.count - 1] ?? 0);
    opts.between?.(i++);
    r = await reader.next();
  }
  assert.equal(r.value.error, null);
  p.finish();
  return last;
}

/** Feature rows of every flow of the captures. */
async function rowsOf(...names: string[]): Promise<Float64Array> {
  const rows: number[] = [];
  for (const n of names) {
    await play(n, [
      new FeatureExtractor((_f, v) => {
        for (let i = 0; i < FEATURE_COUNT; i++) rows.push(v[i]!);
      }),
    ]);
  }
  return Float64Array.from(rows);
}

function ofType(ds: Detection[], type: string): Detection[] {
  return ds.filter((d) => d.type === type);
}

/** What a rule detection says, for comparing runs. */
function facts(d: Detection): unknown {
  return [d.type, d.src, d.dest, d.tsUs, d.count, d.evidence];
}

Deno.test("DetectorSet.setExtra() swaps the anomaly model without a restart while the rule detectors keep their state", async () => {
  const run = async (
    change: (set: DetectorSet, holder: PolicyHolder) => void,
  ) => {
    const out: Detection[] = [];
    const holder = new PolicyHolder();
    const set = new DetectorSet(holder, (d) => out.push(d), {
      extra: [anomalyDetector(shipped)],
    });
    // Four probes a batch: the change comes after 8 of the 15 ports.
    await play("scan_syn.pcap", [set], {
      batchFrames: 8,
      between: (i) => {
        if (i === 1) change(set, holder);
      },
    });
    return { out, set };
  };
  const base = await run(() => {});
  const swapped = await run((set) => set.setExtra([anomalyDetector(blind)]));
  const rebuilt = await run((_set, holder) => holder.replace({}));

  assert.ok(ofType(base.out, "anomaly").length >= 900, "the shipped model");
  assert.equal(
    ofType(swapped.out, "anomaly").length,
    0,
    "the swapped-in model",
  );
  assert.ok(swapped.set.types.includes("anomaly"));
  assert.equal(swapped.set.rebuilds, 0, "no rebuild, no restart");
  const rules = (ds: Detection[]) =>
    ds.filter((d) => d.type !== "anomaly").map(facts);
  assert.ok(ofType(base.out, "port_scan").length > 0);
  assert.deepEqual(
    rules(swapped.out),
    rules(base.out),
    "rule detections exactly as without the swap",
  );
  // A policy rebuild at the same point starts the rules over: visibly so.
  assert.notDeepEqual(rules(rebuilt.out), rules(base.out));
});

Deno.test("DetectorSet keeps the swapped-in extra detectors across a policy change", async () => {
  const out: Detection[] = [];
  const holder = new PolicyHolder();
  const set = new DetectorSet(holder, (d) => out.push(d), {
    extra: [anomalyDetector(shipped)],
  });
  set.setExtra([anomalyDetector(blind)]);
  holder.replace({});
  assert.equal(set.rebuilds, 1);
  await play("scan_syn.pcap", [set]);
  assert.equal(ofType(out, "anomaly").length, 0);
  assert.ok(ofType(out, "port_scan").length > 0);
});

Deno.test("a model poisoned with scan flows is refused by the gate, and forced in anyway it silences only the anomaly detector", async () => {
  const poisoned = trainModel(
    await rowsOf("benign.pcap", "scan_syn.pcap", "sweep_tcp.pcap"),
    { seed: 1 },
  );
  const d = acceptNewModel(shipped, poisoned, probes);
  assert.equal(d.accept, false);
  assert.ok(d.newRecall < 0.9, `${d.newRecall}`);
  assert.match(d.reasons.join("; "), /held-out anomalies/);

  const detect = async (model: AnomalyModel, capture: string) => {
    const out: Detection[] = [];
    const set = new DetectorSet(new PolicyHolder(), (x) => out.push(x), {
      extra: [anomalyDetector(shipped)],
    });
    set.setExtra([anomalyDetector(model)]);
    await play(capture, [set]);
    return out;
  };
  for (
    const [capture, rule] of [
      ["scan_syn.pcap", "port_scan"],
      ["sweep_tcp.pcap", "host_sweep"],
    ]
  ) {
    const clean = await detect(shipped, capture!);
    const bad = await detect(poisoned, capture!);
    const flagged = (ds: Detection[]) =>
      ofType(ds, "anomaly").filter((x) => x.src === "10.99.0.66").length;
    assert.ok(
      flagged(bad) < flagged(clean) / 2,
      `${capture}: ${flagged(bad)} of ${flagged(clean)}`,
    );
    assert.ok(ofType(clean, rule!).length > 0, `${capture}: ${rule}`);
    assert.deepEqual(
      ofType(bad, rule!).map(facts),
      ofType(clean, rule!).map(facts),
      `${capture}: ${rule} alerts whatever the model`,
    );
  }
});

Deno.test("with a model that flags nothing, the port_scan alert still keeps the scanner's flows out of the retraining sample", async () => {
  const sample = async (disable: string[]) => {
    const r = new ModelRetrainer({
      model: blind,
      modelPath: "blind",
      dataDir: "/nonexistent",
      probes,
      log: silentLogger,
      reservoir: { holdS: holdForPolicy(new PolicyHolder().current) },
    });
    const holder = new PolicyHolder();
    holder.replace({
      detectors: Object.fromEntries(
        disable.map((t) => [t, { enabled: false }]),
      ),
    });
    const out: Detection[] = [];
    const set = new DetectorSet(holder, (d) => {
      r.onDetection(d);
      out.push(d);
    }, { extra: [anomalyDetector(blind, { onScored: r.onScored })] });
    const last = await play("scan_syn.pcap", [set, r.observer]);
    r.reservoir.advance(last + 2 * r.reservoir.holdUs);
    return { r, out };
  };
  // new_host would name the scanner too: off, so port_scan does it alone.
  const { r, out } = await sample(["new_host"]);
  assert.deepEqual([...new Set(out.map((d) => d.type))], ["port_scan"]);
  const c = r.reservoir.counters;
  assert.ok(c.offered >= 1000, `${c.offered} flows`);
  assert.equal(c.flagged, 0, "the model let everything through");
  assert.equal(c.excluded, c.picked, "the alerts kept every flow out");
  assert.equal(r.reservoir.size, 0);
  // Control: without port_scan either, the scan fills the sample.
  const without = await sample(["new_host", "port_scan"]);
  assert.equal(without.out.length, 0);
  assert.ok(without.r.reservoir.size >= 1000, `${without.r.reservoir.size}`);
  const ports = FEATURE_INDEX.src_ports_10s!;
  const rows = without.r.reservoir.rows();
  let scans = 0;
  for (let i = 0; i < without.r.reservoir.size; i++) {
    if (rows[i * FEATURE_COUNT + ports]! > 100) scans++;
  }
  assert.ok(scans >= 900, `${scans} scan flows`);
});

Deno.test("DetectorSet hands ARP frames to the layer-2 watch: arpspoof in the lab capture is seen as the appliance runs", async () => {
  const out: Detection[] = [];
  const set = new DetectorSet(new PolicyHolder(), (d) => out.push(d));
  await play("arp_spoof.pcap", [set], { batchFrames: 16 });
  const spoof = ofType(out, "arp_spoof");
  assert.ok(spoof.length > 0, out.map((d) => d.type).join());
  assert.ok(spoof.every((d) => d.src === "10.99.0.66"));
  assert.ok(spoof.some((d) => d.dest === "10.99.0.1"));
});
