import assert from "node:assert/strict";
import { ProbesError } from "./errors.ts";
import { FEATURE_COUNT, FEATURE_NAMES } from "./features.ts";
import { buildProbesText, PROBE_CAPTURES } from "./make_probes.ts";
import { readModelFile, SHIPPED_MODEL_URL } from "./model.ts";
import {
  parseProbes,
  PROBES_FORMAT,
  PROBES_VERSION,
  readProbesFile,
  SHIPPED_PROBES_URL,
} from "./probes.ts";

Deno.test("the shipped probes are what `deno task probes` makes from the fixtures", async () => {
  assert.equal(
    await buildProbesText(),
    await Deno.readTextFile(SHIPPED_PROBES_URL),
    "data/anomaly_probes.json is stale: run `deno task probes`",
  );
});

Deno.test("the shipped probes are a few hundred attack flows the shipped model flags", async () => {
  const probes = await readProbesFile();
  assert.ok(probes.length >= 200 && probes.length <= 500, `${probes.length}`);
  const model = await readModelFile(SHIPPED_MODEL_URL);
  const missed = probes.filter((p) => model.score(p) < model.threshold);
  assert.equal(missed.length, 0, `${missed.length} probes not flagged`);
  const json = JSON.parse(await Deno.readTextFile(SHIPPED_PROBES_URL));
  const sources = new Set(json.probes.map((p: { source: string }) => p.source));
  for (const s of ["scan_syn", "scan_udp", "sweep_tcp", "flood_syn"]) {
    assert.ok(sources.has(s), `no probes from ${s}`);
  }
  for (const s of sources) assert.ok(PROBE_CAPTURES.includes(s as string));
});

Deno.test("parseProbes() refuses a malformed probes file, naming the field", async (t) => {
  const good = () => ({
    format: PROBES_FORMAT,
    version: PROBES_VERSION,
    features: [...FEATURE_NAMES],
    note: "test",
    probes: [{ source: "x", features: new Array(FEATURE_COUNT).fill(1) }],
  });
  assert.equal(parseProbes(good()).length, 1);
  const cases: Array<
    [string, (o: ReturnType<typeof good>) => unknown, string]
  > = [
    ["not an object", () => [1], ""],
    ["another format", (o) => ({ ...o, format: "x" }), "format"],
    ["another version", (o) => ({ ...o, version: 2 }), "version"],
    ["other features", (o) => ({ ...o, features: ["a"] }), "features"],
    ["an unknown field", (o) => ({ ...o, extra: 1 }), "extra"],
    ["no probes", (o) => ({ ...o, probes: [] }), "probes"],
    [
      "a short vector",
      (o) => ({ ...o, probes: [{ source: "x", features: [1, 2] }] }),
      "probes[0].features",
    ],
    [
      "a value that is not a number",
      (o) => {
        const f: unknown[] = new Array(FEATURE_COUNT).fill(0);
        f[3] = "7";
        return { ...o, probes: [{ source: "x", features: f }] };
      },
      "probes[0].features[3]",
    ],
  ];
  for (const [name, make, field] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseProbes(make(good())), (e) => {
        assert.ok(e instanceof ProbesError, String(e));
        assert.equal(e.field, field);
        return true;
      });
    });
  }
});

Deno.test("readProbesFile() says which file is missing or not JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      readProbesFile(`${dir}/none.json`),
      /Invalid anomaly probes: cannot read ".*none\.json": no such file/,
    );
    await Deno.writeTextFile(`${dir}/bad.json`, "{");
    await assert.rejects(
      readProbesFile(`${dir}/bad.json`),
      /Invalid anomaly probes: ".*bad\.json" is not JSON/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
