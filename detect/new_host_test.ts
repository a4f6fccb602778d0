import assert from "node:assert/strict";
import { TCP_SYN } from "../decode/mod.ts";
import { newHost } from "./new_host.ts";
import { defaultPolicy, type Detection } from "../alerts/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

Deno.test("new host: each home_net host in two-way traffic is reported once, informational", () => {
  const t = new Traffic();
  for (let i = 0; i < 3; i++) {
    t.connection("10.99.0.20", 40000 + i, "10.99.0.10", 80, {
      request: "a",
      answer: "b",
    });
    t.connection("10.99.0.20", 41000 + i, "198.51.100.7", 443, {
      request: "a",
      answer: "b",
    });
  }
  const al = ofType(run(t).alerts, "new_host");
  assert.deepEqual(al.map((a) => a.src_ip).sort(), [
    "10.99.0.10",
    "10.99.0.20",
  ]);
  for (const a of al) {
    assert.equal(a.alert.severity, 4);
    assert.equal(a.alert.action, "allowed");
    assert.equal(a.netsentinel.count, 1);
  }
});

Deno.test("new host: spoofed home_net sources that never hear back are not hosts", () => {
  const t = new Traffic();
  for (let i = 1; i < 200; i++) {
    t.tcp(`10.1.${i}.${i}`, 1024 + i, "10.99.0.10", 80, TCP_SYN);
  }
  assert.deepEqual(ofType(run(t).alerts, "new_host"), []);
});

Deno.test("new host: familiar hosts (isKnown) are not new", () => {
  const t = new Traffic();
  t.connection("10.99.0.20", 40000, "10.99.0.10", 80, {
    request: "a",
    answer: "b",
  });
  const got: Detection[] = [];
  const d = newHost(defaultPolicy(), (x) => got.push(x), {
    isKnown: (ip) => ip === "10.99.0.10",
  });
  const p = new Pipeline({ observers: [d] });
  p.processBatch(t.batch());
  p.finish();
  assert.deepEqual(got.map((x) => x.src), ["10.99.0.20"]);
});
