import assert from "node:assert/strict";
import { BatchBuilder } from "./batch.ts";
import {
  CaptureProtocolError,
  parseFromWorker,
  parseToWorker,
  type WorkerOpenOptions,
} from "./_capture_protocol.ts";

const OPTIONS: WorkerOpenOptions = {
  iface: "eth0",
  snaplen: 262144,
  promisc: true,
  immediate: false,
  bufferBytes: 8 << 20,
  timeoutMs: 20,
  filter: "tcp",
  netns: null,
  batchFrames: 4096,
  batchBytes: 2 << 20,
  flushMs: 50,
  statsMs: 1000,
  pollMs: 15,
};

function sampleBatch() {
  const b = new BatchBuilder(4, 64);
  b.push(new Uint8Array([1, 2, 3]), 0, 3, 60, 1.5e15, 1);
  b.push(new Uint8Array([4, 5]), 0, 2, 2, 1.5e15 + 1, 1);
  return b.take()!;
}

Deno.test("parseToWorker() accepts an open message with a shared control word", () => {
  const control = new SharedArrayBuffer(4);
  const msg = parseToWorker({ type: "open", options: OPTIONS, control });
  assert.deepEqual(msg, { type: "open", options: OPTIONS, control });
  assert.deepEqual(parseToWorker({ type: "stop" }), { type: "stop" });
});

Deno.test("parseToWorker() rejects malformed messages", async (t) => {
  const control = new SharedArrayBuffer(4);
  const cases: [string, unknown, RegExp][] = [
    ["a non-object", "stop", /not an object/],
    ["an unknown type", { type: "go" }, /unknown type "go"/],
    [
      "a missing control word",
      { type: "open", options: OPTIONS, control: new ArrayBuffer(4) },
      /"control" is not a 4-byte SharedArrayBuffer/,
    ],
    [
      "an empty interface",
      { type: "open", options: { ...OPTIONS, iface: "" }, control },
      /"iface" is empty/,
    ],
    [
      "a fractional snaplen",
      { type: "open", options: { ...OPTIONS, snaplen: 1.5 }, control },
      /"snaplen" is not a non-negative integer/,
    ],
    [
      "a netns that is not a string",
      { type: "open", options: { ...OPTIONS, netns: 3 }, control },
      /"netns" is not a string/,
    ],
  ];
  for (const [what, input, message] of cases) {
    await t.step(what, () => {
      assert.throws(() => parseToWorker(input), (e: unknown) => {
        assert.ok(e instanceof CaptureProtocolError);
        assert.match(e.message, message);
        return true;
      });
    });
  }
});

Deno.test("parseFromWorker() accepts every message kind the worker sends", () => {
  const batch = sampleBatch();
  assert.deepEqual(parseFromWorker({ type: "batch", batch }), {
    type: "batch",
    batch,
  });
  const stats = { recv: 5, drop: 1, ifdrop: 0, captured: 4 };
  assert.deepEqual(parseFromWorker({ type: "stats", stats }), {
    type: "stats",
    stats,
  });
  assert.deepEqual(parseFromWorker({ type: "stopped", stats }), {
    type: "stopped",
    stats,
  });
  assert.deepEqual(
    parseFromWorker({ type: "opened", linktype: 1, warning: null }),
    { type: "opened", linktype: 1, warning: null },
  );
  assert.deepEqual(
    parseFromWorker({ type: "failed", code: "read", detail: "gone" }),
    { type: "failed", code: "read", detail: "gone" },
  );
});

Deno.test("parseFromWorker() rejects batches whose frames leave the data buffer", async (t) => {
  await t.step("a frame past the end", () => {
    const batch = { ...sampleBatch(), caplens: new Uint32Array([3, 99]) };
    assert.throws(
      () => parseFromWorker({ type: "batch", batch }),
      /frame 1 ends at 102, past 5 bytes/,
    );
  });
  await t.step("arrays shorter than the count", () => {
    const batch = { ...sampleBatch(), count: 3 };
    assert.throws(
      () => parseFromWorker({ type: "batch", batch }),
      /an array holds 2 of 3 frames/,
    );
  });
  await t.step("an array of the wrong type", () => {
    const batch = { ...sampleBatch(), tsUs: new Uint32Array(2) };
    assert.throws(
      () => parseFromWorker({ type: "batch", batch }),
      /"tsUs" is not a Float64Array/,
    );
  });
  await t.step("an unknown failure code", () => {
    assert.throws(
      () => parseFromWorker({ type: "failed", code: "oops", detail: "" }),
      /unknown code "oops"/,
    );
  });
});
