import assert from "node:assert/strict";
import { join } from "node:path";
import { readCaptureFile } from "../capture/mod.ts";
import { createLogger, type Logger } from "../common/logger.ts";
import { formatAddr } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { Flow, FlowObserver } from "../flows/mod.ts";
import {
  benignTraffic,
  dnsTunnel,
  type Frame,
  T0,
  toBatches,
} from "./_test_traffic.ts";
import { FEATURE_COUNT, FEATURE_INDEX, FeatureExtractor } from "./features.ts";
import {
  type AnomalyModel,
  MODEL_FILE,
  modelText,
  readModelFile,
  SHIPPED_MODEL_URL,
} from "./model.ts";
import { readProbesFile } from "./probes.ts";
import {
  FlowReservoir,
  holdForPolicy,
  ModelRetrainer,
  PREVIOUS_MODEL_FILE,
  type ReservoirOptions,
} from "./retrain.ts";
import { createAnomalyScorer } from "./scorer.ts";

/** A finished flow as the reservoir saw it: addresses, times, vector. */
interface SeenFlow {
  src: string;
  dst: string;
  firstUs: number;
  lastUs: number;
}

/** Runs frames through a real pipeline, offering every finished flow to `offer`. */
function runFlows(
  frames: Frame[],
  offer: (f: Flow, vec: Float64Array) => void,
): SeenFlow[] {
  const seen: SeenFlow[] = [];
  const fx = new FeatureExtractor((f, v) => {
    seen.push({
      src: formatAddr(f.version, f.srcAddr),
      dst: formatAddr(f.version, f.dstAddr),
      firstUs: f.firstUs,
      lastUs: f.lastUs,
    });
    offer(f, v);
  });
  const p = new Pipeline({ observers: [fx] });
  for (const b of toBatches(frames)) p.processBatch(b);
  p.finish();
  return seen;
}

function reservoirOf(frames: Frame[], opts: ReservoirOptions): {
  r: FlowReservoir;
  flows: SeenFlow[];
} {
  const r = new FlowReservoir(opts);
  const flows = runFlows(frames, (f, v) => r.offer(f, v));
  return { r, flows };
}

const benign = benignTraffic({ seed: 1, seconds: 600 });
/** Packet time past every hold: decides every held flow. */
const FAR = Number.MAX_SAFE_INTEGER;

Deno.test("FlowReservoir keeps at most its capacity, sampled over the whole stream", () => {
  const { r, flows } = reservoirOf(benign, { capacity: 200, holdS: 0 });
  r.advance(FAR);
  assert.ok(flows.length > 1000, `${flows.length} flows`);
  assert.equal(r.size, 200);
  assert.equal(r.rows().length, 200 * FEATURE_COUNT);
  assert.equal(r.counters.offered, flows.length);
  assert.equal(r.seen, flows.length);
  assert.equal(r.counters.excluded + r.counters.dropped, 0);
  // Picked: the first 200, then about 200 · ln(n / 200) more replacements.
  const expected = 200 + 200 * Math.log(flows.length / 200);
  assert.ok(
    r.counters.added > 200 && r.counters.added < 2 * expected,
    `${r.counters.added} added, about ${Math.round(expected)} expected`,
  );
  // A uniform sample of 10 minutes reaches into its first and last minute.
  const range = r.timeRange()!;
  assert.ok(range.fromUs < T0 + 60e6, `oldest ${range.fromUs - T0} µs`);
  assert.ok(range.toUs > T0 + 540e6, `newest ${range.toUs - T0} µs`);
});

Deno.test("FlowReservoir lets a flow in only after the hold", () => {
  const { r, flows } = reservoirOf(benign, { holdS: 60 });
  const last = Math.max(...flows.map((f) => f.lastUs));
  // Flows ended in the last minute are still held.
  const held = flows.filter((f) => f.lastUs > last - 60e6).length;
  assert.ok(r.pending >= held * 0.9, `${r.pending} pending, ${held} recent`);
  assert.equal(r.size + r.pending, flows.length);
  r.advance(last + 60e6);
  assert.equal(r.pending, 0);
  assert.equal(r.size, flows.length);
});

const SCANNER = "10.99.0.20", TARGET = "10.99.0.11";
const named = (f: SeenFlow) =>
  [SCANNER, TARGET].includes(f.src) || [SCANNER, TARGET].includes(f.dst);

Deno.test("FlowReservoir leaves out the flows of addresses a rule detection names, from a hold before to a hold after", () => {
  const hold = 60e6, det = T0 + 200e6;
  const r = new FlowReservoir({ holdS: 60 });
  r.onDetection({ type: "port_scan", tsUs: det, src: SCANNER, dest: TARGET });
  // Anomaly detections are about one flow, which the scorer leaves out.
  r.onDetection({ type: "anomaly", tsUs: det, src: "10.99.0.21" });
  assert.equal(r.alertedAddresses, 2);
  const flows = runFlows(benign, (f, v) => r.offer(f, v));
  r.advance(FAR);
  const out = flows.filter((f) => named(f) && f.firstUs - hold <= det).length;
  assert.ok(out > 50, `${out} flows should be left out`);
  assert.equal(r.counters.excluded, out);
  assert.equal(r.size, flows.length - out);
  // The scanner's flows that began more than the hold after it are back.
  const back = flows.filter((f) => f.src === SCANNER && f.firstUs - hold > det);
  assert.ok(back.length > 50, `${back.length} later flows of the scanner`);
});

Deno.test("FlowReservoir applies a detection to the flows still held when it comes", () => {
  const hold = 60e6, det = T0 + 200e6;
  const r = new FlowReservoir({ holdS: 60 });
  let sent = false;
  const flows = runFlows(benign, (f, v) => {
    if (!sent && f.lastUs > det) {
      sent = true;
      r.onDetection({
        type: "port_scan",
        tsUs: det,
        src: SCANNER,
        dest: TARGET,
      });
    }
    r.offer(f, v);
  });
  r.advance(FAR);
  assert.ok(sent);
  // Ended less than half a hold before the detection: still held, left out.
  const held =
    flows.filter((f) =>
      named(f) && f.lastUs >= det - hold / 2 && f.firstUs - hold <= det
    ).length;
  // Ended long before it: already in the sample, nothing to undo.
  const all = flows.filter((f) => named(f) && f.firstUs - hold <= det).length;
  assert.ok(held > 20, `${held}`);
  assert.ok(
    r.counters.excluded >= held && r.counters.excluded < all,
    `${r.counters.excluded} left out; at least ${held}, fewer than ${all}`,
  );
});

Deno.test("FlowReservoir never samples flows the model flagged", () => {
  const r = new FlowReservoir({ holdS: 0 });
  const flows = runFlows(benign, (f, v) => r.offer(f, v, true));
  r.advance(FAR);
  assert.equal(r.counters.flagged, flows.length);
  assert.equal(r.size + r.pending + r.counters.picked, 0);
});

Deno.test("FlowReservoir drops and counts what its full hold queue cannot take", () => {
  const r = new FlowReservoir({ capacity: 1000, pending: 16, holdS: 3600 });
  const flows = runFlows(benign.slice(0, 400), (f, v) => r.offer(f, v));
  assert.ok(flows.length > 16);
  assert.equal(r.pending, 16);
  assert.equal(r.counters.dropped, flows.length - 16);
  r.advance(FAR);
  assert.equal(r.size, 16);
});

Deno.test("FlowReservoir excludes everything around a detection it had no room to remember", () => {
  const r = new FlowReservoir({ holdS: 60, maxAlerted: 2 });
  for (const src of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
    r.onDetection({ type: "port_scan", tsUs: T0, src });
  }
  assert.equal(r.alertedAddresses, 2);
  const flows = runFlows(benign, (f, v) => r.offer(f, v));
  r.advance(FAR);
  const out = flows.filter((f) => f.firstUs - 60e6 <= T0).length;
  assert.ok(out > 0);
  assert.equal(r.counters.excluded, out);
  assert.equal(r.size, flows.length - out);
});

Deno.test("FlowReservoir.age() lets the traffic after a retrain replace the old sample", () => {
  const tunnel = dnsTunnel({
    client: "10.99.0.21",
    queries: 3000,
    t: T0 + 4000e6,
  });
  const qlen = FEATURE_INDEX.dns_qname_len!;
  const shareNew = (aged: boolean): number => {
    const r = new FlowReservoir({ capacity: 100, holdS: 0 });
    runFlows(
      benignTraffic({ seed: 3, seconds: 1200 }),
      (f, v) => r.offer(f, v),
    );
    r.advance(T0 + 3900e6);
    if (aged) r.age();
    runFlows(tunnel, (f, v) => r.offer(f, v));
    r.advance(FAR);
    const rows = r.rows();
    let n = 0;
    for (let i = 0; i < r.size; i++) {
      if (rows[i * FEATURE_COUNT + qlen]! > 60) n++;
    }
    return n / r.size;
  };
  const plain = shareNew(false), aged = shareNew(true);
  assert.ok(plain > 0.25 && plain < 0.75, `without age(): ${plain}`);
  assert.ok(aged > 0.9, `with age(): ${aged}`);
});

Deno.test("holdForPolicy() outlasts the longest detector window", () => {
  assert.equal(holdForPolicy({ detectors: {} }), 600);
  assert.equal(
    holdForPolicy({
      detectors: { a: { window_s: 300 }, b: { window_s: 3600 }, c: {} },
    }),
    3660,
  );
});

// ------------------------------------------------------------ the retrainer

const FIXTURES = new URL("../tests/fixtures/", import.meta.url);
const shipped = await readModelFile(SHIPPED_MODEL_URL);
const probes = await readProbesFile();

/** Plays a fixture capture through a scorer feeding `observer`s. */
async function play(name: string, observers: FlowObserver[]): Promise<number> {
  const p = new Pipeline({ observers });
  const reader = readCaptureFile(new URL(name, FIXTURES).pathname);
  let r = await reader.next();
  let last = 0;
  while (!r.done) {
    p.processBatch(r.value);
    last = Math.max(last, r.value.tsUs[r.value.count - 1] ?? 0);
    r = await reader.next();
  }
  assert.equal(r.value.error, null);
  p.finish();
  return last;
}

interface Harness extends AsyncDisposable {
  r: ModelRetrainer;
  dir: string;
  lines: Record<string, unknown>[];
  swapped: AnomalyModel[];
  now: { ms: number };
  /** Plays a capture through a scorer of the model in force, wired like the appliance. */
  feed(name: string): Promise<void>;
  /** Moves packet time past the hold of every flow offered so far. */
  flush(lastUs: number): void;
}

async function harness(
  opts: { minRows?: number; dataDir?: string; maxThresholdShift?: number } = {},
): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "ns-retrain-" });
  const lines: Record<string, unknown>[] = [];
  const log: Logger = createLogger({
    level: "debug",
    write: (l) => lines.push(JSON.parse(l)),
  });
  const now = { ms: Date.UTC(2026, 5, 1) };
  const r = new ModelRetrainer({
    model: shipped,
    modelPath: SHIPPED_MODEL_URL.pathname,
    dataDir: opts.dataDir ?? dir,
    probes,
    log,
    intervalS: 3600,
    minRows: opts.minRows ?? 500,
    reservoir: { holdS: 600 },
    now: () => now.ms,
    ...(opts.maxThresholdShift === undefined
      ? {}
      : { accept: { maxThresholdShift: opts.maxThresholdShift } }),
  });
  const swapped: AnomalyModel[] = [];
  r.onModelChange((m) => swapped.push(m));
  let clock = 0;
  const flush = (lastUs: number) => {
    // Captures were recorded in any order: step past the latest time seen.
    clock = Math.max(clock, lastUs) + 2 * r.reservoir.holdUs;
    r.reservoir.advance(clock);
  };
  return {
    r,
    dir,
    lines,
    swapped,
    now,
    flush,
    async feed(name) {
      const scorer = createAnomalyScorer(r.model, () => {}, {
        onScored: r.onScored,
      });
      flush(await play(name, [scorer, r.observer]));
    },
    async [Symbol.asyncDispose]() {
      await r.idle();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("ModelRetrainer skips a retrain until the sample has enough rows", async () => {
  await using h = await harness({ minRows: 5000 });
  await h.feed("benign_holdout.pcap");
  const out = await h.r.retrain();
  assert.equal(out.outcome, "skipped");
  assert.match(out.reason, /^\d+ flows in the sample, 5000 needed$/);
  assert.equal(h.r.model, shipped);
  assert.equal(h.lines.at(-1)!.msg, "model retrain skipped");
});

Deno.test("ModelRetrainer accepts a fair retrain: keeps the old model, writes the new one, swaps it in", async () => {
  await using h = await harness();
  await h.feed("benign.pcap");
  const rows = h.r.reservoir.size;
  assert.ok(rows > 1500, `${rows} rows`);
  const out = await h.r.retrain();
  assert.equal(out.outcome, "accepted", out.reason);
  assert.equal(out.rows, rows);
  assert.equal(out.newRecall, 1);
  assert.notEqual(h.r.model, shipped);
  assert.deepEqual(h.swapped, [h.r.model]);
  assert.equal(h.r.modelPath, join(h.dir, MODEL_FILE));
  assert.equal(
    await Deno.readTextFile(join(h.dir, MODEL_FILE)),
    modelText(h.r.model),
  );
  assert.equal(
    await Deno.readTextFile(join(h.dir, PREVIOUS_MODEL_FILE)),
    modelText(shipped),
  );
  const reread = await readModelFile(join(h.dir, MODEL_FILE));
  assert.equal(reread.threshold, h.r.model.threshold);
  assert.deepEqual(h.r.model.training.sources, ["reservoir"]);
  assert.equal(h.r.model.training.rows, rows);
  // No temporary file is left behind.
  const names = [...Deno.readDirSync(h.dir)].map((e) => e.name).sort();
  assert.deepEqual(names, [MODEL_FILE, PREVIOUS_MODEL_FILE].sort());
  const line = h.lines.find((l) => l.msg === "model replaced")!;
  assert.equal(line.level, "info");
  assert.equal(line.rows, rows);
  assert.equal(line.path, join(h.dir, MODEL_FILE));
  for (const k of ["old_threshold", "new_threshold", "new_probe_recall"]) {
    assert.equal(typeof line[k], "number", k);
  }
  const health = h.r.health();
  assert.equal(health.model, join(h.dir, MODEL_FILE));
  assert.equal(health.model_trained_at, out.at);
  assert.equal(health.retrain.last?.outcome, "accepted");
  assert.equal(health.retrain.rows, rows);
  JSON.stringify(health);
});

Deno.test("ModelRetrainer lets the first model of this network move the threshold, then holds later ones to the limit", async () => {
  // A limit nothing could meet: only the bootstrap from the shipped model passes it.
  await using h = await harness({ maxThresholdShift: 0 });
  await h.feed("benign.pcap");
  const first = await h.r.retrain();
  assert.equal(first.outcome, "accepted", first.reason);
  assert.notEqual(first.newThreshold, first.oldThreshold);
  assert.equal(
    h.lines.find((l) => l.msg === "model replaced")!.bootstrap,
    true,
  );
  await h.feed("benign_holdout.pcap");
  const second = await h.r.retrain();
  assert.equal(second.outcome, "refused");
  assert.match(second.reason, /threshold/);
  assert.equal(h.r.modelPath, join(h.dir, MODEL_FILE));
});

Deno.test("ModelRetrainer trains the same model from the same sample", async () => {
  await using a = await harness();
  await using b = await harness();
  await a.feed("benign.pcap");
  await b.feed("benign.pcap");
  await a.r.retrain();
  await b.r.retrain();
  assert.equal(modelText(a.r.model), modelText(b.r.model));
});

Deno.test("ModelRetrainer refuses a model trained on poisoned normal and keeps the one in force", async () => {
  await using h = await harness();
  await h.feed("benign.pcap");
  // An attacker the detectors missed: scan flows offered as unflagged.
  const scans = await play("scan_syn.pcap", [
    new FeatureExtractor((f, v) => h.r.reservoir.offer(f, v)),
  ]);
  h.flush(scans);
  const c = h.r.reservoir.counters;
  assert.equal(h.r.reservoir.size, c.offered - c.flagged);
  assert.ok(h.r.reservoir.size > 2500, "the scans are in the sample");
  const out = await h.r.retrain();
  assert.equal(out.outcome, "refused");
  assert.match(out.reason, /held-out anomalies/);
  assert.ok(out.newRecall! < 0.9, `${out.newRecall}`);
  assert.equal(h.r.model, shipped);
  assert.equal(h.swapped.length, 0);
  assert.deepEqual([...Deno.readDirSync(h.dir)], []);
  const line = h.lines.find((l) => l.msg === "model refused")!;
  assert.equal(line.level, "warn");
  assert.match(String(line.reason), /held-out anomalies/);
  assert.equal(line.kept, SHIPPED_MODEL_URL.pathname);
  assert.equal(h.r.health().retrain.last?.outcome, "refused");
});

Deno.test("ModelRetrainer reports a model it cannot save as failed and keeps the one in force", async () => {
  await using h = await harness({ dataDir: "/nonexistent/netsentinel" });
  await h.feed("benign.pcap");
  const out = await h.r.retrain();
  assert.equal(out.outcome, "failed");
  assert.match(out.reason, /^cannot save the model in "\/nonexistent/);
  assert.equal(h.r.model, shipped);
  assert.equal(h.lines.at(-1)!.msg, "model retrain failed");
});

Deno.test("ModelRetrainer.maybeRetrain() runs once an interval, one at a time", async () => {
  await using h = await harness({ minRows: 1 });
  assert.equal(h.r.maybeRetrain(), null);
  h.now.ms += 3600_000;
  const first = h.r.maybeRetrain();
  assert.ok(first);
  assert.equal(h.r.maybeRetrain(h.now.ms + 7200_000), null, "one at a time");
  assert.equal((await first).outcome, "skipped");
  assert.equal(h.r.maybeRetrain(), null, "next one an interval later");
  assert.equal(
    h.r.health().retrain.next_at,
    new Date(h.now.ms + 3600_000).toISOString(),
  );
});
