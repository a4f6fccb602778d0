import assert from "node:assert/strict";
import { hostIp, HostTable } from "./mod.ts";

function addr(i: number): number[] {
  return [0x0a000000 + i, 0, 0, 0];
}

Deno.test("host table finds each of many hosts and keeps their address words", () => {
  const t = new HostTable(100_000);
  for (let i = 0; i < 50_000; i++) t.touch(4, addr(i), 1e15 + i);
  assert.equal(t.size, 50_000);
  for (let i = 0; i < 50_000; i += 997) {
    const h = t.get(4, addr(i));
    assert.ok(h, `host ${i}`);
    assert.deepEqual([...h.addr], addr(i));
    assert.equal(h.firstUs, 1e15 + i);
  }
  assert.equal(t.get(4, addr(60_000)), null);
  assert.equal(t.get(6, addr(1)), null);
  assert.equal(hostIp(t.get(4, addr(258))!), "10.0.1.2");
});

Deno.test("host table evicts the least recently seen host when full", () => {
  const evicted: string[] = [];
  const t = new HostTable(3, (h) => evicted.push(hostIp(h)));
  t.touch(4, addr(1), 1);
  t.touch(4, addr(2), 2);
  t.touch(4, addr(3), 3);
  t.touch(4, addr(1), 4); // seen again: now the most recent
  assert.equal(t.lastCreated, false);
  t.touch(4, addr(4), 5);
  assert.equal(t.lastCreated, true);
  assert.deepEqual(evicted, ["10.0.0.2"]);
  assert.equal(t.size, 3);
  assert.equal(t.evicted, 1);
  assert.equal(t.get(4, addr(2)), null);
  const order: string[] = [];
  t.forEach((h) => order.push(hostIp(h)));
  assert.deepEqual(order, ["10.0.0.3", "10.0.0.1", "10.0.0.4"]);
});
