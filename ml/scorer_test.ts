import assert from "node:assert/strict";
import { Pipeline } from "../engine/mod.ts";
import {
  benignTraffic,
  dnsTunnel,
  featureRows,
  type Frame,
  synScan,
  T0,
  toBatches,
  udpFlood,
} from "./_test_traffic.ts";
import { FEATURE_COUNT, FEATURE_NAMES } from "./features.ts";
import { trainModel } from "./model.ts";
import {
  acceptNewModel,
  type AnomalyFinding,
  createAnomalyScorer,
  FeatureVectorError,
  parseFeatureVector,
  scoreRequest,
} from "./scorer.ts";

const benign = featureRows(benignTraffic({ seed: 1, seconds: 600 }));
const model = trainModel(benign.rows, { seed: 1 });
const scanFrames = synScan({
  attacker: "10.99.0.66",
  target: "10.99.0.10",
  ports: 300,
  t: T0,
});
const scan = featureRows(scanFrames);

function rowsOf(rows: Float64Array, count: number): Float64Array[] {
  return Array.from(
    { length: count },
    (_, r) => rows.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT),
  );
}

function runScorer(
  frames: Frame[],
): { findings: AnomalyFinding[]; scored: number } {
  const findings: AnomalyFinding[] = [];
  const scorer = createAnomalyScorer(model, (a) => findings.push(a));
  const p = new Pipeline({ observers: [scorer] });
  for (const b of toBatches(frames)) p.processBatch(b);
  p.finish();
  assert.equal(scorer.counters.flagged, findings.length);
  return { findings, scored: scorer.counters.scored };
}

Deno.test("the anomaly scorer reports scan, flood and tunnel flows with reasons", async (t) => {
  const attacks: Array<[string, Frame[], string]> = [
    ["port scan", scanFrames, "10.99.0.66"],
    [
      "UDP flood",
      udpFlood({
        attacker: "10.99.0.67",
        target: "10.99.0.10",
        packets: 500,
        t: T0,
      }),
      "10.99.0.67",
    ],
    [
      "DNS tunnel",
      dnsTunnel({ client: "10.99.0.21", queries: 40, t: T0 }),
      "10.99.0.21",
    ],
  ];
  for (const [name, frames, src] of attacks) {
    await t.step(name, () => {
      const { findings, scored } = runScorer(frames);
      assert.ok(
        findings.length >= 0.9 * scored,
        `${findings.length} of ${scored}`,
      );
      const a = findings[findings.length - 1]!;
      assert.equal(a.src, src);
      assert.equal(a.dest, "10.99.0.10");
      assert.ok(a.score >= a.threshold);
      assert.equal(a.threshold, model.threshold);
      assert.ok(a.reasons.length >= 1);
      assert.ok(
        a.explanation.length > 10 && !/NaN|undefined/.test(a.explanation),
      );
      assert.equal(typeof a.evidence.score, "number");
      assert.equal(Object.keys(a.features).length, FEATURE_COUNT);
      assert.ok(a.tsUs >= T0);
      assert.ok(a.flowId > 0);
      JSON.stringify(a); // JSON-safe
    });
  }
});

Deno.test("the anomaly scorer leaves held-out benign traffic mostly alone", () => {
  const { findings, scored } = runScorer(
    benignTraffic({ seed: 2, seconds: 300 }),
  );
  assert.ok(scored > 300);
  assert.ok(
    findings.length / scored <= 0.03,
    `${findings.length} of ${scored}`,
  );
});

Deno.test("the anomaly scorer fills ports for TCP and UDP flows only", () => {
  const { findings } = runScorer(scanFrames);
  const a = findings[0]!;
  assert.equal(a.proto, "TCP");
  assert.equal(typeof a.srcPort, "number");
  assert.equal(typeof a.destPort, "number");
});

Deno.test("parseFeatureVector() takes an array or an object of features by name", () => {
  const v = scan.rows.slice(0, FEATURE_COUNT);
  const arr = Array.from(v);
  const obj = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, arr[i]]));
  assert.deepEqual(parseFeatureVector(arr), v);
  assert.deepEqual(parseFeatureVector(obj), v);
  assert.deepEqual(parseFeatureVector({ features: arr }), v);
  assert.deepEqual(parseFeatureVector({ features: obj }), v);
});

Deno.test("parseFeatureVector() names the bad field", async (t) => {
  const arr = Array.from(scan.rows.slice(0, FEATURE_COUNT));
  const obj = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, arr[i]]));
  const { src_ports_10s: _, ...missing } = obj;
  const cases: Array<[string, unknown, string]> = [
    ["a string", "hello", "(body)"],
    ["null", null, "(body)"],
    ["a short array", arr.slice(1), "(body)"],
    ["a string in the array", arr.map((x, i) => (i === 3 ? "3" : x)), "[3]"],
    ["NaN in a wrapped array", {
      features: arr.map((x, i) => (i === 5 ? NaN : x)),
    }, "features[5]"],
    ["a missing feature", missing, "src_ports_10s"],
    ["an unknown feature", { ...obj, ports: 4 }, "ports"],
    [
      "a null feature",
      { features: { ...obj, duration: null } },
      "features.duration",
    ],
    ["a field beside features", { features: arr, model: "x" }, "model"],
  ];
  for (const [name, body, field] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseFeatureVector(body), (e: unknown) => {
        assert.ok(e instanceof FeatureVectorError, String(e));
        assert.equal(e.field, field);
        assert.ok(e.message.includes(`"${field}"`), e.message);
        return true;
      });
    });
  }
});

Deno.test("scoreRequest() answers score, verdict and explanation", () => {
  const bad = scoreRequest(
    Array.from(scan.rows.slice(0, FEATURE_COUNT)),
    model,
  );
  assert.equal(bad.verdict, "anomalous");
  assert.ok(bad.score >= bad.threshold);
  assert.ok(bad.explanation.length > 10);
  let normal = null;
  for (let r = 0; r < benign.count && normal === null; r++) {
    const res = scoreRequest(
      Array.from(benign.rows.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT)),
      model,
    );
    if (res.verdict === "normal") normal = res;
  }
  assert.ok(normal);
  assert.ok(normal.score < normal.threshold);
  assert.match(normal.explanation, /^Within normal for this network/);
});

Deno.test("acceptNewModel() takes a fair retrain and refuses a poisoned one", async (t) => {
  const known = rowsOf(scan.rows, scan.count);
  await t.step("the same traffic, another seed: accepted", () => {
    const d = acceptNewModel(
      model,
      trainModel(benign.rows, { seed: 2 }),
      known,
    );
    assert.deepEqual(d.reasons, []);
    assert.equal(d.accept, true);
    assert.equal(d.newRecall, 1);
  });
  await t.step("normal that swallowed the scan: refused", () => {
    // An attacker who scanned through the training period: 20% scans.
    const poison = new Float64Array(benign.rows.length + scan.rows.length);
    poison.set(benign.rows);
    poison.set(scan.rows, benign.rows.length);
    const candidate = trainModel(poison, { seed: 1 });
    const d = acceptNewModel(model, candidate, known);
    assert.equal(d.accept, false);
    assert.ok(d.newRecall < d.oldRecall);
    assert.ok(
      d.reasons.some((r) => r.includes("held-out anomalies")),
      d.reasons.join("; "),
    );
  });
  await t.step("a threshold that moved too far: refused", () => {
    const candidate = trainModel(benign.rows, { seed: 1, contamination: 0.3 });
    const d = acceptNewModel(model, candidate, known, {
      maxThresholdShift: 0.01,
    });
    assert.equal(d.accept, false);
    assert.match(d.reasons.join("; "), /threshold moved from/);
  });
  await t.step("nothing to check against: refused", () => {
    const d = acceptNewModel(model, model, []);
    assert.equal(d.accept, false);
    assert.match(d.reasons[0]!, /no held-out anomalies/);
  });
});
