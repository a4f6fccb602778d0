import assert from "node:assert/strict";
import { Gate, unsendableHeader } from "./http.ts";

Deno.test("unsendableHeader() names a header whose value HTTP cannot carry", () => {
  // What Headers accepts but Deno's HTTP layer aborts the process on.
  for (const c of ["\x01", "\x0b", "\x1f", "\x7f"]) {
    const h = new Headers({ "content-type": "text/plain" });
    h.set("location", `/alerts${c}`);
    assert.equal(unsendableHeader(h), "location", JSON.stringify(c));
  }
  const ok = new Headers({
    location: "/alerts?type=port_scan",
    "x-tab": "a\tb",
    "x-latin1": "\u00e9",
  });
  assert.equal(unsendableHeader(ok), null);
});

Deno.test("a Gate lets at most its cap in until they leave", () => {
  const g = new Gate(1);
  assert.equal(g.tryEnter(), true);
  assert.equal(g.tryEnter(), false);
  assert.equal(g.active, 1);
  g.leave();
  assert.equal(g.tryEnter(), true);
  g.leave();
  g.leave(); // Never below zero.
  assert.equal(g.active, 0);
});
