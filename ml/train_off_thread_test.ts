import assert from "node:assert/strict";
import { benignTraffic, featureRows } from "./_test_traffic.ts";
import { FEATURE_COUNT } from "./features.ts";
import { modelText, trainModel } from "./model.ts";
import { trainModelOffThread } from "./train_off_thread.ts";

const benign = featureRows(benignTraffic({ seed: 1, seconds: 600 }));

Deno.test("trainModelOffThread() trains in a worker the model the main thread would train", async () => {
  const opts = { seed: 3, contamination: 0.02, sources: ["reservoir"] };
  const here = trainModel(benign.rows, opts);
  const copy = benign.rows.slice();
  let settled = false;
  const p = trainModelOffThread(copy, opts).finally(() => settled = true);
  // The rows went to the worker, and the event loop is free meanwhile.
  assert.equal(copy.length, 0);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(settled, false);
  const there = await p;
  assert.equal(modelText(there), modelText(here));
});

Deno.test("trainModelOffThread() rejects with trainModel's own message", async () => {
  await assert.rejects(
    trainModelOffThread(benign.rows.slice(), { contamination: 0.9 }),
    /Invalid contamination 0\.9/,
  );
  await assert.rejects(
    trainModelOffThread(new Float64Array(FEATURE_COUNT + 1)),
    /not a whole number of \d+-feature rows/,
  );
});
