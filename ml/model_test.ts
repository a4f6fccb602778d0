import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benignTraffic, featureRows, synScan, T0 } from "./_test_traffic.ts";
import { ModelError } from "./errors.ts";
import { FEATURE_COUNT, FEATURE_INDEX, toModelSpace } from "./features.ts";
import {
  explanationText,
  loadModel,
  type ModelJson,
  modelText,
  parseModel,
  readModelFile,
  saveModel,
  SHIPPED_MODEL_URL,
  thresholdFor,
  trainModel,
} from "./model.ts";

const benign = featureRows(benignTraffic({ seed: 1, seconds: 600 }));
const model = trainModel(benign.rows, {
  seed: 1,
  sources: ["/somewhere/benign.pcap"],
  dataFromUs: T0,
  dataToUs: T0 + 600e6,
});
const scan = featureRows(
  synScan({ attacker: "10.99.0.66", target: "10.99.0.10", ports: 300, t: T0 }),
);

function row(rows: Float64Array, r: number): Float64Array {
  return rows.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT);
}

Deno.test("thresholdFor() flags at most the target share, never more on ties", () => {
  const scores = Array.from({ length: 100 }, (_, i) => i / 100);
  const t = thresholdFor(scores, 0.05);
  assert.equal(scores.filter((s) => s >= t).length, 5);
  // Ten equal top scores: flagging any of them would flag all ten.
  const tied = [...Array(95).fill(0.4), ...Array(10).fill(0.7)];
  const t2 = thresholdFor(tied, 0.05);
  assert.equal(tied.filter((s) => s >= t2).length, 0);
  assert.ok(t2 > 0.7 && t2 <= 1);
  const t3 = thresholdFor([0.3, 0.5, 0.5, 0.9], 0.25);
  assert.equal(t3, 0.7);
});

Deno.test("trainModel() sets the threshold at the target false-positive rate", () => {
  let flagged = 0;
  for (let r = 0; r < benign.count; r++) {
    if (model.score(row(benign.rows, r)) >= model.threshold) flagged++;
  }
  assert.ok(
    flagged <= Math.floor(benign.count * 0.01),
    `${flagged} of ${benign.count}`,
  );
  assert.ok(flagged > 0);
  const loose = trainModel(benign.rows, { seed: 1, contamination: 0.1 });
  assert.ok(loose.threshold < model.threshold);
  assert.equal(model.training.rows, benign.count);
  assert.deepEqual(model.training.sources, ["benign.pcap"]);
  assert.equal(
    model.training.dataTo,
    new Date(T0 / 1000 + 600e3).toISOString(),
  );
});

Deno.test("trainModel() gives the same model file for the same seed and flows", () => {
  const a = modelText(trainModel(benign.rows, { seed: 9 }));
  const b = modelText(trainModel(benign.rows, { seed: 9 }));
  const c = modelText(trainModel(benign.rows, { seed: 10 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

Deno.test("trainModel() refuses a bad contamination or a ragged matrix", () => {
  assert.throws(
    () => trainModel(benign.rows, { contamination: 0 }),
    RangeError,
  );
  assert.throws(
    () => trainModel(benign.rows, { contamination: 0.6 }),
    RangeError,
  );
  assert.throws(
    () => trainModel(new Float64Array(FEATURE_COUNT + 1)),
    RangeError,
  );
});

Deno.test("a model scores a port scan above its threshold and says why", () => {
  const v = row(scan.rows, scan.count - 1);
  assert.ok(model.score(v) >= model.threshold);
  const reasons = model.explain(v);
  assert.ok(reasons.length >= 1 && reasons.length <= 3);
  const ports = reasons.find((r) => r.feature === "src_ports_10s");
  assert.ok(ports, JSON.stringify(reasons));
  assert.match(
    ports.text,
    /^\d+ distinct destination ports in 10 s \(normal (≤ )?\d+(–\d+)?\)$/,
  );
  assert.ok(ports.deviation > 0);
  assert.ok(ports.value > ports.normalHigh);
  const text = explanationText(reasons);
  assert.match(text, /^[A-Z0-9]/);
  assert.ok(!/NaN|undefined/.test(text), text);
});

Deno.test("a model explains an ordinary-looking flow as an unusual combination", () => {
  const v = Float64Array.from(row(benign.rows, 0));
  const reasons = model.explain(v, 3);
  if (reasons.every((r) => r.deviation <= 0)) {
    assert.ok(reasons.length <= 2);
    assert.match(explanationText(reasons), /^Unusual combination: /);
  }
  // A never-seen category is named with the usual ones.
  v[FEATURE_INDEX.proto_class!] = 3;
  const r = model.explain(v).find((x) => x.feature === "proto_class");
  assert.ok(r);
  assert.match(
    r.text,
    /protocol other \(never seen in normal traffic; usual: /,
  );
});

Deno.test("a model read back from its file scores and explains exactly as before", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns_model_" });
  try {
    const path = join(dir, "model.json");
    await saveModel(model, path);
    const back = await readModelFile(path);
    for (let r = 0; r < scan.count; r += 37) {
      const v = row(scan.rows, r);
      assert.equal(back.score(v), model.score(v));
      assert.deepEqual(back.explain(v), model.explain(v));
    }
    assert.equal(modelText(back), modelText(model));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseModel() names the field of a corrupt or incompatible model", async (t) => {
  const good = model.toJSON();
  type J = ModelJson & Record<string, unknown>;
  const cases: Array<[string, (j: J) => void, string]> = [
    ["another format", (j) => (j.format = "x" as never), "format"],
    ["a newer version", (j) => (j.version = 2 as never), "version"],
    ["renamed feature", (j) => (j.features[3] = "dur"), "features"],
    ["missing feature", (j) => j.features.pop(), "features"],
    ["threshold above 1", (j) => (j.threshold = 1.5), "threshold"],
    [
      "threshold missing",
      (j) => delete (j as Partial<J>).threshold,
      "threshold",
    ],
    ["unknown top-level field", (j) => (j.extra = true), "extra"],
    [
      "other quantile levels",
      (j) => (j.normalisation.quantiles[1] = 0.02),
      "normalisation.quantiles",
    ],
    [
      "decreasing quantiles",
      (j) => (j.normalisation.features[4]!.q[2] = -5),
      "normalisation.features[4].q[2]",
    ],
    [
      "category share above 1",
      (j) => (j.normalisation.features[0]!.categories!["0"] = 2),
      "normalisation.features[0].categories.0",
    ],
    [
      "rows not a number",
      (j) => (j.training.rows = "many" as never),
      "training.rows",
    ],
    ["bad date", (j) => (j.training.dataTo = "yesterday"), "training.dataTo"],
    [
      "forest of another size",
      (j) => (j.forest.features = 40),
      "forest.features",
    ],
    ["broken tree", (j) => (j.forest.left[0] = 0), "forest.left[0]"],
    ["forest missing", (j) => delete (j as Partial<J>).forest, "forest"],
  ];
  for (const [name, mutate, field] of cases) {
    await t.step(name, () => {
      const j = structuredClone(good) as J;
      mutate(j);
      assert.throws(() => parseModel(j), (e: unknown) => {
        assert.ok(e instanceof ModelError, String(e));
        assert.equal(e.field, field, e.message);
        assert.ok(e.message.includes(`"${field}"`), e.message);
        return true;
      });
    });
  }
});

Deno.test("loadModel() falls back to the shipped model with a clear reason", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ns_model_" });
  try {
    await t.step("no path: the shipped model", async () => {
      const got = await loadModel();
      assert.equal(got.fallback, null);
      assert.equal(got.path, fileURLToPath(SHIPPED_MODEL_URL));
    });
    await t.step("a good file is used", async () => {
      const path = join(dir, "good.json");
      await saveModel(model, path);
      const got = await loadModel(path);
      assert.equal(got.fallback, null);
      assert.equal(got.model.threshold, model.threshold);
    });
    const bad: Array<[string, string, RegExp]> = [
      ["missing.json", "", /no such file/],
      ["truncated.json", modelText(model).slice(0, 500), /is not JSON/],
      [
        "old.json",
        modelText(model).replace('"version":1', '"version":0'),
        /"version": version 0 is not supported/,
      ],
    ];
    for (const [name, text, why] of bad) {
      await t.step(`${name}: the shipped model, saying why`, async () => {
        const path = join(dir, name);
        if (text !== "") await Deno.writeTextFile(path, text);
        const got = await loadModel(path);
        assert.equal(got.path, fileURLToPath(SHIPPED_MODEL_URL));
        assert.ok(
          got.fallback?.startsWith(`Cannot use model "${path}": `),
          got.fallback ?? "",
        );
        assert.match(got.fallback!, why);
        assert.match(got.fallback!, /using the shipped model$/);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session longer and larger than any training flow scores as the largest one did, while a scan beyond the training range still stands out", () => {
  // The training flow with the longest duration, stretched: an ssh session
  // left open for hours, a call, a download larger than the training
  // capture could hold. Only session features (size, length, pauses) are
  // capped at their training maximum; the scan's per-source counts are not.
  const DUR = FEATURE_INDEX.duration!, PORTS = FEATURE_INDEX.src_ports_10s!;
  let longest = 0;
  for (let r = 1; r < benign.count; r++) {
    if (
      row(benign.rows, r)[DUR]! >
        row(benign.rows, longest)[DUR]!
    ) longest = r;
  }
  const base = row(benign.rows, longest);
  const stretched = Float64Array.from(base);
  for (
    const f of [
      "duration",
      "pkts_out",
      "pkts_in",
      "bytes_out",
      "bytes_in",
      "payload_out",
      "payload_in",
      "iat_max",
    ] as const
  ) stretched[FEATURE_INDEX[f]!] = base[FEATURE_INDEX[f]!]! * 1000 + 1e6;
  const maxed = Float64Array.from(base);
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const q = model.stats[i]!.q;
    if (stretched[i] !== base[i]) maxed[i] = Math.expm1(q[q.length - 1]!);
  }
  assert.ok(Math.abs(model.score(stretched) - model.score(maxed)) < 1e-9);
  // Without the cap, range-aware scoring would take it as never seen.
  const x = new Float64Array(FEATURE_COUNT);
  toModelSpace(stretched, x);
  assert.ok(model.forest.scoreRangeAware(x) > model.score(stretched) + 0.02);
  const v = row(scan.rows, scan.count - 1);
  const wider = Float64Array.from(v);
  wider[PORTS] = v[PORTS]! * 100;
  assert.ok(model.score(wider) > model.score(v), "beyond range still counts");
});
