import assert from "node:assert/strict";
import { NameSetBuilder } from "./name_set.ts";

Deno.test("name set matches a listed domain and its subdomains, not look-alikes", () => {
  const b = new NameSetBuilder();
  b.add("evil.example", 0);
  b.add("c2.bad.test", 1);
  b.add("EVIL.example", 2); // duplicate after lower-casing: the first wins
  const s = b.build();
  assert.equal(s.matchSuffix("evil.example"), 0);
  assert.equal(s.matchSuffix("a.b.Evil.Example"), 0);
  assert.equal(s.matchSuffix("evil.example."), 0);
  assert.equal(s.matchSuffix("notevil.example"), -1);
  assert.equal(s.matchSuffix("example"), -1);
  assert.equal(s.matchSuffix("bad.test"), -1);
  assert.equal(s.matchSuffix("x.c2.bad.test"), 1);
  assert.equal(s.matchSuffix(""), -1);
  assert.equal(s.matchExact("evil.example"), 0);
  assert.equal(s.matchExact("a.evil.example"), -1);
  // A range of a longer string: "host:port" without the port.
  assert.equal(s.matchSuffix("www.evil.example:8080", 0, 16), 0);
});

Deno.test("name set holds many names and finds each", () => {
  const b = new NameSetBuilder();
  for (let i = 0; i < 50_000; i++) b.add(`host${i}.zone${i % 97}.test`, i);
  const s = b.build();
  for (let i = 0; i < 50_000; i += 7) {
    assert.equal(s.matchSuffix(`www.host${i}.zone${i % 97}.test`), i);
    assert.equal(s.matchExact(`host${i}.zone${i % 97}.test`), i);
  }
  assert.equal(s.matchSuffix("host50000.zone0.test"), -1);
});
