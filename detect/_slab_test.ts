import assert from "node:assert/strict";
import { Slab } from "./_slab.ts";

Deno.test("slab hands out zeroed arrays that do not overlap", () => {
  const slab = new Slab();
  const a = slab.u32(4), b = slab.f64(3), c = slab.u32(5);
  assert.deepEqual([...a, ...b, ...c], new Array(12).fill(0));
  a.fill(0xffffffff);
  b.fill(-1);
  c.fill(7);
  assert.deepEqual([...a], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  assert.deepEqual([...b], [-1, -1, -1]);
  assert.deepEqual([...c], [7, 7, 7, 7, 7]);
  assert.equal(a.buffer, c.buffer);
});

Deno.test("slab starts a new buffer when one is full and gives big arrays their own", () => {
  const slab = new Slab();
  const first = slab.u32(1);
  let last = first;
  for (let i = 0; i < 100; i++) last = slab.u32(1000);
  assert.notEqual(last.buffer, first.buffer);
  const big = slab.f64(10_000);
  assert.equal(big.length, 10_000);
  assert.equal(big.buffer.byteLength, 80_000);
});
