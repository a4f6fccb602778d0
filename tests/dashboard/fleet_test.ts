import assert from "node:assert/strict";
import {
  ignoreWithoutRedis,
  startRedis,
  waitFor,
} from "../../fleet/_testing.ts";
import { signIn, startAppliance } from "./_appliance.ts";

const ignore = await ignoreWithoutRedis();

Deno.test("without a fleet the Fleet page says how to join one and /api/fleet answers 503", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  const page = await fetch(`${app.url}/fleet`, { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /data-testid="fleet-off"/);
  for (const p of ["/api/fleet", "/api/fleet/alerts"]) {
    const r = await fetch(app.url + p, { headers: { cookie } });
    assert.equal(r.status, 503);
    assert.match((await r.json()).error, /in no fleet/);
  }
});

Deno.test({
  name:
    "a fleet appliance shows itself, answers hostile fleet queries with 400 and never 500, and reports Redis on /metrics and /health",
  ignore,
  async fn() {
    await using redis = await startRedis();
    await using app = await startAppliance({
      config: {
        fleet: {
          enabled: true,
          sensor: "pi-1",
          redis: { port: redis.port },
          heartbeat: "500ms",
          stale_after: "2s",
        },
      },
    });
    const cookie = await signIn(app.url);
    const get = (p: string) => fetch(app.url + p, { headers: { cookie } });
    await waitFor(async () => {
      const j = await (await get("/api/fleet")).json();
      return j.connected === true &&
        j.sensors.some((s: { sensor: string }) => s.sensor === "pi-1");
    }, "the first heartbeat");
    const hostile = [
      "?sensor=%00",
      "?sensor=..%2F..%2Fetc",
      "?sensor=" + "a".repeat(65),
      "?sensor=%E2%80%AE",
      "?sensor=a%20b",
      "?sensor=-x",
      "?limit=0",
      "?limit=1001",
      "?limit=1e3",
      "?limit=-1",
      "?limit=%FF",
    ];
    for (const q of hostile) {
      for (const p of ["/api/fleet/alerts", "/fleet"]) {
        const r = await get(p + q);
        await r.body?.cancel();
        if (p === "/fleet" && q.startsWith("?limit")) {
          assert.equal(r.status, 200, `${p}${q}`); // the page has no limit
        } else {
          assert.equal(r.status, 400, `${p}${q}`);
        }
      }
      const r = await get("/api/fleet" + q);
      await r.body?.cancel();
      assert.ok(r.status === 400 || r.status === 200, `/api/fleet${q}`);
    }
    const ok = await get("/api/fleet/alerts?sensor=pi-1&limit=5");
    assert.equal(ok.status, 200);
    assert.deepEqual((await ok.json()).alerts, []);
    const m = await (await get("/metrics")).text();
    assert.match(m, /^netsentinel_fleet_redis_up 1$/m);
    // Redis away: /metrics and /health say so, the page too, the API 503s.
    await redis.kill();
    await waitFor(async () => {
      const t = await (await get("/metrics")).text();
      return /^netsentinel_fleet_redis_up 0$/m.test(t);
    }, "redis_up 0");
    const h = await get("/health");
    assert.equal(h.status, 503);
    const hj = await h.json();
    assert.equal(hj.parts.fleet.state, "down");
    assert.match(hj.parts.fleet.detail, /Redis unreachable/);
    const page = await (await get("/fleet")).text();
    assert.match(page, /Redis unreachable/);
    const a = await get("/api/fleet/alerts");
    await a.body?.cancel();
    assert.equal(a.status, 503);
  },
});
