/**
 * Child of the rules bench: runs capture files through the offline
 * pipeline (analyze's, every detector, alerts counted) with a rule set
 * loaded first (`--rules DIR`) or none (`--no-rules`), and prints one JSON
 * line: packets, wall and CPU seconds of processing (loading excluded),
 * RSS at the end.
 *
 * @module
 */
import process from "node:process";
import { analyzeFiles } from "../cli/analyze.ts";
import { loadRuleSet, signatureDetector } from "../rules/mod.ts";

const args = [...Deno.args];
let rulesDir: string | null = null;
if (args[0] === "--rules") {
  rulesDir = args[1]!;
  args.splice(0, 2);
} else if (args[0] === "--no-rules") args.splice(0, 1);
const set = rulesDir === null ? null : await loadRuleSet({ paths: [rulesDir] });
let alerts = 0;
const t0 = performance.now();
const c0 = process.cpuUsage();
const stats = await analyzeFiles(args, {
  events: new Set(["alert"]),
  sink: () => alerts++,
  detectors: { extra: set ? [signatureDetector(set.engine)] : [] },
});
const seconds = (performance.now() - t0) / 1000;
const c1 = process.cpuUsage(c0);
const cpuSeconds = (c1.user + c1.system) / 1e6;
Deno.stdout.writeSync(new TextEncoder().encode(
  JSON.stringify({
    packets: stats.total.packets,
    seconds,
    cpuSeconds,
    alerts,
    rss: Deno.memoryUsage().rss,
  }) + "\n",
));
