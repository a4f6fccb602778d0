import assert from "node:assert/strict";
import { makeAlert, tempStore } from "./_testing.ts";
import type { Store } from "./store.ts";
import {
  addOps,
  fitAlert,
  fitValue,
  KV_MAX_VALUE_BYTES,
  type KvOp,
  planCommits,
  TRIM_MARKER,
  valueSize,
} from "./limits.ts";

/** Commits each part atomically and asserts KV accepts every commit. */
async function commitEach(
  store: Store,
  parts: readonly (readonly { ops: readonly KvOp[] }[])[],
): Promise<void> {
  for (const p of parts) {
    const atomic = store.kv.atomic();
    for (const g of p) addOps(atomic, g.ops);
    assert.equal((await atomic.commit()).ok, true);
  }
}

Deno.test("valueSize() measures values as KV does: 65,536 bytes fit, one more does not", async () => {
  await using t = await tempStore();
  const base = { a: 1, b: [1, 2.5, "x"], s: "" };
  const n0 = valueSize(base);
  // Grow the string until the serialised size is exactly the limit.
  let len = KV_MAX_VALUE_BYTES - n0 - 4;
  while (valueSize({ ...base, s: "q".repeat(len) }) < KV_MAX_VALUE_BYTES) len++;
  const atLimit = { ...base, s: "q".repeat(len) };
  assert.equal(valueSize(atLimit), KV_MAX_VALUE_BYTES);
  await t.store.kv.set(["x"], atLimit);
  const over = { ...base, s: "q".repeat(len + 1) };
  assert.equal(valueSize(over), KV_MAX_VALUE_BYTES + 1);
  await assert.rejects(() => t.store.kv.set(["x"], over));
});

Deno.test("fitAlert() trims a huge evidence object with a marker and KV accepts the result", async () => {
  await using t = await tempStore();
  const huge = makeAlert(1, {
    evidence: {
      ports: Array.from({ length: 40_000 }, (_, i) => i + 0.5),
      payload: "A".repeat(100_000),
      distinct_ports: 40_000,
    },
  });
  assert.ok(valueSize(huge) > KV_MAX_VALUE_BYTES);
  const { value, trimmed, bytes } = fitAlert(huge);
  assert.equal(trimmed, true);
  assert.ok(bytes <= KV_MAX_VALUE_BYTES);
  const ev = value.netsentinel.evidence;
  assert.deepEqual(
    new Set(ev[TRIM_MARKER] as string[]),
    new Set(["ports", "payload"]),
  );
  assert.match(String(ev.payload), /^\[trimmed: \d+ bytes\]$/);
  assert.equal(ev.distinct_ports, 40_000, "small fields are kept");
  assert.equal(value.netsentinel.id, huge.netsentinel.id);
  assert.notEqual(
    huge.netsentinel.evidence[TRIM_MARKER],
    ev[TRIM_MARKER],
    "input untouched",
  );
  await t.store.kv.set(["alert", value.netsentinel.id], value);
});

Deno.test("fitAlert() shortens long text when trimming evidence is not enough", () => {
  const a = makeAlert(1);
  a.netsentinel.explanation = "x".repeat(80_000);
  const { value, trimmed, bytes } = fitAlert(a);
  assert.equal(trimmed, true);
  assert.ok(bytes <= KV_MAX_VALUE_BYTES);
  assert.match(value.netsentinel.explanation, /…\[trimmed\]$/);
});

Deno.test("fitValue() returns a fitting value unchanged", () => {
  const v = { a: 1, b: "two" };
  const r = fitValue(v);
  assert.equal(r.value, v);
  assert.equal(r.trimmed, false);
});

Deno.test("planCommits() splits 2,500 groups under 1,000 mutations a commit and KV accepts every commit", async () => {
  await using t = await tempStore();
  const groups = Array.from({ length: 2500 }, (_, i) => ({
    ops: [
      { key: ["g", i, "a"], value: i },
      { key: ["g", i, "b"], value: null },
    ] as KvOp[],
  }));
  const parts = planCommits(groups, { mutations: 2, bytes: 0, keyBytes: 0 });
  assert.ok(parts.length >= 6);
  for (const p of parts) {
    const mutations = p.reduce((n, g) => n + g.ops.length, 0);
    assert.ok(mutations <= 998, `a commit of ${mutations} mutations`);
  }
  await commitEach(t.store, parts);
  assert.equal(parts.flat().length, 2500);
  let n = 0;
  for await (const _ of t.store.kv.list({ prefix: ["g"] })) n++;
  assert.equal(n, 5000);
});

Deno.test("planCommits() splits by bytes so large values stay under the commit size limit", async () => {
  await using t = await tempStore();
  const big = "b".repeat(60_000);
  const groups = Array.from({ length: 30 }, (_, i) => ({
    ops: [{ key: ["big", i], value: big }] as KvOp[],
  }));
  const parts = planCommits(groups);
  assert.ok(parts.length >= 3);
  await commitEach(t.store, parts);
});

Deno.test("planCommits() splits by key bytes under the 81,920-byte key limit", async () => {
  await using t = await tempStore();
  const long = "k".repeat(500);
  const groups = Array.from({ length: 400 }, (_, i) => ({
    ops: [{ key: ["long", long, i], value: 1 }] as KvOp[],
  }));
  const parts = planCommits(groups);
  assert.ok(parts.length >= 3);
  await commitEach(t.store, parts);
});
