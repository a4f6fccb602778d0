import assert from "node:assert/strict";
import { KeyedTable } from "./_table.ts";

interface Entry {
  n: number;
  id: number;
}

function table(cap: number) {
  let made = 0;
  const t = new KeyedTable<Entry>(
    cap,
    () => ({ n: 0, id: made++ }),
    (v) => {
      v.n = 0;
    },
  );
  return { t, made: () => made };
}

function key(t: KeyedTable<Entry>, i: number): void {
  t.setKey(1, 4, [0x0a000000 + i, 0, 0, 0], [0x0a0000fe, 0, 0, 0], i % 7);
}

Deno.test("keyed table finds each of many entries by its key", () => {
  const { t } = table(100_000);
  for (let i = 0; i < 20_000; i++) {
    key(t, i);
    t.upsert(i).n = i;
  }
  assert.equal(t.size, 20_000);
  for (let i = 0; i < 20_000; i += 331) {
    key(t, i);
    assert.equal(t.get()?.n, i);
  }
  t.setKey(1, 4, [0x0a000000, 0, 0, 0], [0x0a0000fe, 0, 0, 0], 1);
  assert.equal(t.get(), null);
});

Deno.test("keyed table reuses the entries it evicts, deletes or expires", () => {
  const { t, made } = table(3);
  for (let i = 0; i < 3; i++) {
    key(t, i);
    t.upsert(i).n = 1;
  }
  key(t, 3);
  const v = t.upsert(3);
  assert.equal(v.n, 0);
  assert.equal(t.evicted, 1);
  key(t, 0);
  assert.equal(t.get(), null);
  key(t, 1);
  assert.ok(t.delete());
  assert.equal(t.expire(3), 1); // entry 2, last used at 2
  assert.equal(t.size, 1);
  for (let i = 10; i < 12; i++) {
    key(t, i);
    t.upsert(10);
  }
  assert.equal(t.size, 3);
  assert.equal(made(), 3);
  key(t, 3);
  assert.equal(t.get(), v);
});
