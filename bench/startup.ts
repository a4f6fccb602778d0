/**
 * `startup` section: from spawning `main.ts run` to the first `/health`
 * 200, inside a namespace the bench makes (capture on its veth, nftables
 * there), polled every 5 ms by the in-namespace agent. A first start
 * (fresh data directory: the admin password is hashed, the database made)
 * and the median of warm starts (same directory again). Reference: spawning
 * `deno run` of an empty script until it exits, the same way.
 *
 * @module
 */
import { createVethPair } from "../tests/netns.ts";
import type { BenchRow } from "./bench.ts";
import {
  ApplianceProcess,
  benchConfig,
  benchDataDir,
  DASH_URL,
  NsAgent,
  quantile,
  say,
  wall,
} from "./_netns_bench.ts";

async function timeToHealth(
  ns: string,
  dir: string,
  agent: NsAgent,
): Promise<number> {
  const app = ApplianceProcess.run(ns, dir);
  try {
    const r = await agent.request("health", { url: DASH_URL, ms: 60_000 });
    return (r.t as number) - app.t0;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${app.log.slice(-2000)}`);
  } finally {
    await app.stop();
  }
}

/** Start → `/health` 200, beside `deno run` of an empty script. */
export async function startupBench(quick: boolean): Promise<BenchRow[]> {
  const runs = quick ? 2 : 5;
  await using pair = await createVethPair();
  const ns = pair.a.ns;
  const empty = await Deno.makeTempFile({ prefix: "ns-bench-", suffix: ".ts" });
  const agent = NsAgent.start(ns);
  try {
    await agent.request("exec", { cmd: ["true"] });
    // A throwaway start first, so module loading caches are warm.
    {
      await using d = await benchDataDir(benchConfig(pair.a.iface));
      await timeToHealth(ns, d.dir, agent);
    }
    await using data = await benchDataDir(benchConfig(pair.a.iface));
    const first = await timeToHealth(ns, data.dir, agent);
    say(`bench: startup: first start ${first.toFixed(0)} ms`);
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      warm.push(await timeToHealth(ns, data.dir, agent));
    }
    const ref: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = wall();
      const out = await new Deno.Command("ip", {
        args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", empty],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!out.success) throw new Error("deno run of an empty script failed");
      ref.push(wall() - t0);
    }
    const refMed = quantile(ref, 0.5);
    const reference = `deno run empty.ts, median of ${runs}`;
    return [
      {
        section: "startup",
        metric: `run → /health 200, warm (median of ${runs})`,
        value: quantile(warm, 0.5),
        unit: "ms",
        reference,
        referenceValue: refMed,
        note: `min ${Math.min(...warm).toFixed(0)}, max ${
          Math.max(...warm).toFixed(0)
        } ms`,
      },
      {
        section: "startup",
        metric: "run → /health 200, first start (fresh data dir)",
        value: first,
        unit: "ms",
        reference,
        referenceValue: refMed,
        note: "creates the database and hashes the admin password",
      },
    ];
  } finally {
    await agent.close();
    await Deno.remove(empty);
  }
}
