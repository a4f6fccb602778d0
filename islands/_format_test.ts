import assert from "node:assert/strict";
import { makeAlert } from "../store/_testing.ts";
import { byTimeDesc } from "./_format.ts";

Deno.test("the alert list shows the newest alert time first, whatever order alerts arrived in", () => {
  const t0 = Date.UTC(2026, 10, 25, 20, 34, 40);
  // Arrival order (newest id first): an anomaly about a flow that ended
  // late arrives after a scan that started later.
  const anomaly = makeAlert(3, { type: "anomaly", timeMs: t0 + 2000 });
  const scan = makeAlert(2, { type: "port_scan", timeMs: t0 + 6000 });
  const brute = makeAlert(1, { type: "brute_force", timeMs: t0 });
  const tie = makeAlert(4, { type: "new_host", timeMs: t0 });
  const shown = byTimeDesc([anomaly, scan, tie, brute]);
  assert.deepEqual(
    shown.map((a) => a.netsentinel.type),
    ["port_scan", "anomaly", "new_host", "brute_force"],
  );
});
