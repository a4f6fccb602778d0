/**
 * Benchmark section "fleet": what one Redis takes from N sensors, and what
 * an appliance holds while Redis is away.
 *
 * - Alerts per second into one stream (`XADD MAXLEN ~`, the fleet's alert
 *   stream) from N sensors at once, each an {@link EveRedisShipper} working
 *   off an EVE file of real alert records (written by {@link EveLog}): the
 *   rate at which Redis keeps up, so any lower alert rate never queues.
 *   Reference: the same records sent as bare pipelined XADDs from one
 *   connection (no MULTI/EXEC, no cursor): Redis' own ceiling here.
 * - Memory while Redis is away for a minute (10 s with `--quick`) under a
 *   steady 1,000 alerts/s written to the EVE log: the JS heap's growth and
 *   the bytes waiting in the file; reference: the same load for 20 s (5 s)
 *   with Redis up. Then the time to catch up once Redis is back.
 *
 * Needs `redis-server` (skipped with a note otherwise).
 *
 * @module
 */
import { join } from "node:path";
import { EveRedisShipper, RedisConn, type RedisTarget } from "../fleet/mod.ts";
import { redisUnavailable, startRedis } from "../fleet/_testing.ts";
import { EveLog } from "../respond/mod.ts";
import { makeAlert } from "../store/_testing.ts";
import type { BenchRow } from "./bench.ts";

function target(port: number): RedisTarget {
  return {
    host: "127.0.0.1",
    port,
    sentinels: [],
    masterName: "mymaster",
    password: null,
    db: 0,
    timeoutMs: 5000,
  };
}

async function eveFile(dir: string, n: number, base: number): Promise<string> {
  const path = join(dir, "eve.json");
  const eve = await EveLog.open(path, { maxBytes: 1e9 });
  for (let i = 0; i < n; i++) {
    eve.write(
      makeAlert(base + i, { src: `198.51.${(i >> 8) & 255}.${i & 255}` }),
    );
  }
  await eve.close();
  return path;
}

async function waitLen(
  conn: RedisConn,
  key: string,
  n: number,
  ms: number,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const r = await conn.send(["XLEN", key]);
    if (typeof r === "number" && r >= n) return true;
    await new Promise((res) => setTimeout(res, 10));
  }
  return false;
}

function mb(bytes: number): number {
  return Math.round(bytes / 1e4) / 100;
}

/** Runs the section. */
export async function fleetBench(quick: boolean): Promise<BenchRow[]> {
  const why = await redisUnavailable();
  if (why !== null) {
    return [{
      section: "fleet",
      metric: "skipped",
      value: 0,
      unit: "",
      note: why,
    }];
  }
  const rows: BenchRow[] = [];
  await using redis = await startRedis();
  const t = target(redis.port);
  const perSensor = quick ? 5_000 : 20_000;
  const work = await Deno.makeTempDir({ prefix: "ns-bench-fleet-" });
  try {
    const conn = await RedisConn.open(t);
    for (const n of quick ? [1, 2] : [1, 2, 4]) {
      await conn.send(["FLUSHALL"]);
      const dirs: string[] = [];
      for (let s = 0; s < n; s++) {
        const d = join(work, `n${n}-s${s}`);
        await Deno.mkdir(d);
        await eveFile(d, perSensor, s * perSensor);
        dirs.push(d);
      }
      const key = "netsentinel:fleet:alerts";
      const shippers = dirs.map((d, s) =>
        new EveRedisShipper({
          path: join(d, "eve.json"),
          rotatedFiles: 5,
          cursorPath: join(d, "cursor"),
          target: t,
          mode: "xadd",
          key,
          streamMaxlen: 10_000_000,
          streamTrimExact: false,
          batchSize: 200,
          host: `sensor-${s}`,
        })
      );
      const t0 = performance.now();
      for (const s of shippers) s.start();
      const done = await waitLen(conn, key, n * perSensor, 120_000);
      const ms = performance.now() - t0;
      for (const s of shippers) await s.stop();
      // Reference: the same lines as bare pipelined XADDs, one connection.
      await conn.send(["DEL", "ref"]);
      const lines: string[] = [];
      for (const d of dirs) {
        for (
          const l of (await Deno.readTextFile(join(d, "eve.json"))).split("\n")
        ) {
          if (l !== "") lines.push(l);
        }
      }
      const r0 = performance.now();
      for (let i = 0; i < lines.length; i += 200) {
        await conn.batch(
          lines.slice(i, i + 200).map((
            l,
          ) => ["XADD", "ref", "MAXLEN", "~", 10_000_000, "*", "eve", l]),
        );
      }
      const refMs = performance.now() - r0;
      rows.push({
        section: "fleet",
        metric: `alerts/s one Redis takes from ${n} sensor${
          n > 1 ? "s" : ""
        } (XADD, MULTI/EXEC with cursor, 200 a batch)`,
        value: Math.round((n * perSensor) / (ms / 1000)),
        unit: "alerts/s",
        reference: "bare pipelined XADD, one connection",
        referenceValue: Math.round(lines.length / (refMs / 1000)),
        note: done ? `${n * perSensor} alerts` : "did not finish in 120 s",
      });
    }
    conn.close();

    // Memory while Redis is away, under a steady alert load.
    const awayS = quick ? 10 : 60;
    const upS = quick ? 5 : 20;
    const rate = 1000;
    const d = join(work, "away");
    await Deno.mkdir(d);
    const path = join(d, "eve.json");
    const eve = await EveLog.open(path, { maxBytes: 1e9 });
    const shipper = new EveRedisShipper({
      path,
      rotatedFiles: 5,
      cursorPath: join(d, "cursor"),
      target: t,
      mode: "xadd",
      key: "away",
      streamMaxlen: 10_000_000,
      streamTrimExact: false,
      batchSize: 200,
      host: "sensor-away",
    });
    shipper.start();
    let next = 0;
    const load = async (seconds: number) => {
      let peak = 0;
      const end = performance.now() + seconds * 1000;
      let tick = performance.now();
      while (performance.now() < end) {
        for (let i = 0; i < rate / 10; i++) {
          eve.write(makeAlert(1_000_000 + next++, { src: "203.0.113.9" }));
        }
        peak = Math.max(peak, Deno.memoryUsage().heapUsed);
        tick += 100;
        await new Promise((r) =>
          setTimeout(r, Math.max(0, tick - performance.now()))
        );
      }
      return peak;
    };
    const h0 = Deno.memoryUsage().heapUsed;
    const upPeak = await load(upS);
    await redis.kill();
    const h1 = Deno.memoryUsage().heapUsed;
    const awayPeak = await load(awayS);
    await eve.flush();
    const pending = shipper.state().pending_bytes;
    const sentBefore = shipper.state().sent;
    await redis.restart();
    const c0 = performance.now();
    const conn2 = await RedisConn.open(t);
    const caught = await waitLen(conn2, "away", next, 120_000);
    const catchMs = performance.now() - c0;
    const len = await conn2.send(["XLEN", "away"]);
    conn2.close();
    await shipper.stop();
    await eve.close();
    rows.push(
      {
        section: "fleet",
        metric:
          `JS heap growth while Redis is away ${awayS} s at ${rate} alerts/s`,
        value: mb(awayPeak - h1),
        unit: "MB",
        reference: `same load ${upS} s with Redis up`,
        referenceValue: mb(upPeak - h0),
        note: `${mb(pending)} MB waiting in the EVE file (${
          next - sentBefore
        } records), not in memory`,
      },
      {
        section: "fleet",
        metric: `catch-up after the outage (${next - sentBefore} records)`,
        value: Math.round(catchMs),
        unit: "ms",
        note: caught
          ? `${len} records in the stream for ${next} written`
          : "did not catch up in 120 s",
      },
    );
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  return rows;
}
