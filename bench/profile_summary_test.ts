import assert from "node:assert/strict";
import {
  moduleOf,
  parseCpuProfile,
  ProfileFormatError,
  stageOf,
  summarise,
} from "./profile_summary.ts";

const ROOT = new URL("../", import.meta.url).href;

/** root → processBatch (engine) → decodeFrame (decode) → Map.get (native); plus idle and GC. */
const PROFILE = {
  nodes: [
    {
      id: 1,
      callFrame: { functionName: "(root)", url: "", lineNumber: -1 },
      children: [2, 5, 6],
    },
    {
      id: 2,
      callFrame: {
        functionName: "processBatch",
        url: `${ROOT}engine/pipeline.ts`,
        lineNumber: 9,
      },
      children: [3],
    },
    {
      id: 3,
      callFrame: {
        functionName: "decodeFrame",
        url: `${ROOT}decode/decoder.ts`,
        lineNumber: 4,
      },
      children: [4],
    },
    { id: 4, callFrame: { functionName: "get", url: "", lineNumber: -1 } },
    { id: 5, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
    {
      id: 6,
      callFrame: {
        functionName: "(garbage collector)",
        url: "",
        lineNumber: -1,
      },
    },
  ],
  startTime: 0,
  endTime: 100_000,
  // Each sample lasts until the next: 2, 3, 4, 4, 6 busy; then 5 idle; 2 busy.
  samples: [2, 3, 4, 4, 6, 5, 2, 5],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 10_000, 1000],
};

Deno.test("summarise() charges builtins to the caller's stage and finds the longest stall", () => {
  const s = summarise(parseCpuProfile(PROFILE));
  const stage = new Map(s.stages.map((x) => [x.key, x.ms]));
  assert.equal(stage.get("engine/"), 2); // 1 ms, then 1 ms after the idle
  assert.equal(stage.get("decode/"), 3); // decodeFrame 1 ms + its Map.get 2 ms
  assert.equal(stage.get("(garbage collector)"), 1);
  assert.equal(s.idleMs, 10);
  assert.equal(s.gcMs, 1);
  const fn = new Map(s.functions.map((x) => [x.key, x.ms]));
  assert.equal(s.functions[0]!.key, "(idle)");
  assert.equal(fn.get("get  (native)"), 2);
  assert.equal(fn.get("decodeFrame  decode/decoder.ts:5"), 1);
  assert.equal(s.stalls[0]!.ms, 5);
  assert.equal(s.stalls[0]!.top[0]!.key, "get  (native)");
});

Deno.test("moduleOf() and stageOf() name our folders and split detectors by file", () => {
  assert.equal(moduleOf(`${ROOT}flows/flow_table.ts`), "flows/flow_table.ts");
  assert.equal(stageOf("flows/flow_table.ts"), "flows/");
  assert.equal(stageOf("detect/port_scan.ts"), "detect/port_scan");
  assert.equal(moduleOf("ext:deno_http/00_serve.ts"), "runtime");
  assert.equal(moduleOf(""), "(native)");
});

Deno.test("parseCpuProfile() rejects JSON that is not a CPU profile", () => {
  assert.throws(() => parseCpuProfile({ nodes: [] }), ProfileFormatError);
  assert.throws(
    () => parseCpuProfile({ ...PROFILE, timeDeltas: [0] }),
    /samples and timeDeltas differ/,
  );
});
