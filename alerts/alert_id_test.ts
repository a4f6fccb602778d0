import assert from "node:assert/strict";
import { alertId, alertIdTimeUs } from "./alert_id.ts";

Deno.test("alertId() is 26 Crockford characters, time first, and depends on key and time only", () => {
  const t = Date.UTC(2026, 10, 24, 14, 3, 11, 512) * 1000;
  const a = alertId(t, "port_scan|10.99.0.66>10.99.0.10");
  assert.match(a, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(a, alertId(t, "port_scan|10.99.0.66>10.99.0.10"));
  assert.notEqual(a, alertId(t, "port_scan|10.99.0.66>10.99.0.11"));
  assert.notEqual(a, alertId(t + 1, "port_scan|10.99.0.66>10.99.0.10"));
  assert.equal(alertIdTimeUs(a), t);
  assert.ok(alertId(t + 1000, "z") > alertId(t, "zz"));
});

Deno.test("alertId() spreads its hash over all 16 characters", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) seen.add(alertId(0, `k${i}`).slice(10));
  assert.equal(seen.size, 2000);
  for (let pos = 10; pos < 26; pos++) {
    const chars = new Set<string>();
    for (let i = 0; i < 200; i++) chars.add(alertId(0, `k${i}`)[pos]!);
    assert.ok(chars.size > 20, `position ${pos}: ${chars.size} symbols`);
  }
});
