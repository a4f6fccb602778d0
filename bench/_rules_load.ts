/**
 * Child of the rules bench: loads a rule set (the shipped one plus the
 * directories given) in a fresh process and prints one JSON line with the
 * load time (wall and CPU), counts and memory before and after, so the
 * figures are the rule set's alone.
 *
 * @module
 */
import { loadRuleSet } from "../rules/mod.ts";

function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(
    Deno.readTextFileSync("/proc/self/status"),
  );
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU seconds this process used so far (utime + stime, 100 ticks/s). */
function cpu(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

const before = { rss: rss(), heap: Deno.memoryUsage().heapUsed, cpu: cpu() };
const t0 = performance.now();
const set = await loadRuleSet({ paths: Deno.args });
const ms = performance.now() - t0;
const after = { rss: rss(), heap: Deno.memoryUsage().heapUsed, cpu: cpu() };
Deno.stdout.writeSync(new TextEncoder().encode(
  JSON.stringify({
    ms,
    cpuS: after.cpu - before.cpu,
    rules: set.engine.rules.length,
    refused: set.load.refused.length,
    states: set.engine.prefilterStates,
    prefilterBytes: set.engine.prefilterBytes.bytes,
    rssDelta: after.rss - before.rss,
    heapDelta: after.heap - before.heap,
    rss: after.rss,
  }) + "\n",
));
