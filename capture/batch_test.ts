import assert from "node:assert/strict";
import { BatchBuilder, releaseBatch } from "./mod.ts";

/** A batch of `n` frames of `size` bytes. */
function batch(n: number, size: number) {
  const b = new BatchBuilder(n, n * size);
  const frame = new Uint8Array(size).fill(7);
  for (let i = 0; i < n; i++) b.push(frame, 0, size, size, 1_000_000 + i, 1);
  return b.take()!;
}

Deno.test("releaseBatch frees a batch's buffers at once, without waiting for the garbage collector", () => {
  const held = [batch(4096, 2048), batch(4096, 2048)]; // 8 MiB of frames each
  const before = Deno.memoryUsage().external;
  for (const b of held) releaseBatch(b);
  const after = Deno.memoryUsage().external;
  assert.ok(
    before - after >= 16 << 20,
    `external memory fell by ${before - after} bytes`,
  );
  for (const b of held) {
    assert.equal(b.count, 0);
    assert.equal(b.data.length, 0);
    assert.equal(b.offsets.length, 0);
    assert.equal(b.tsUs.length, 0);
  }
});

Deno.test("releaseBatch on a released batch does nothing", () => {
  const b = batch(10, 60);
  releaseBatch(b);
  releaseBatch(b);
  assert.equal(b.count, 0);
  assert.equal(b.data.buffer.byteLength, 0);
});
