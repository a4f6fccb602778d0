/**
 * `memory` section: resident memory of the whole appliance (store, blocker
 * in its own namespace, detectors, dashboard) fed synthetic frames
 * in-process by bench/_appliance_child.ts: with 100,000 open TCP flows,
 * and under a SYN flood from distinct spoofed sources, read after 100k,
 * 500k, 1M and 2M sources (the flow and host tables are capped, so it must
 * level off; `--quick` stops at 250k). RSS is read after a full GC. Reference: the same
 * process's RSS at idle, before the first frame.
 *
 * @module
 */
import { createVethPair } from "../tests/netns.ts";
import type { BenchRow } from "./bench.ts";
import {
  ApplianceProcess,
  benchConfig,
  benchDataDir,
  say,
} from "./_netns_bench.ts";

const CHILD = new URL("./_appliance_child.ts", import.meta.url).pathname;
const MiB = 2 ** 20;

/** One RSS reading of the memory child. */
export interface RssEvent {
  phase: string;
  rss: number;
  hwm: number;
  heap: number;
  heapTotal: number;
  external: number;
  alerts?: number;
  flows?: number;
  hosts?: number;
  sources?: number;
  seconds?: number;
}

/**
 * Runs the memory child in namespace `ns` (synthetic `flows` or a `flood`
 * of `n`), with `extra` config keys (e.g. `rules.paths`); returns its RSS
 * readings.
 */
export async function feed(
  ns: string,
  iface: string,
  kind: "flows" | "flood",
  n: number,
  extra: Record<string, unknown> = {},
): Promise<RssEvent[]> {
  const events: RssEvent[] = [];
  await using data = await benchDataDir(benchConfig(iface, extra));
  const app = ApplianceProcess.spawn(
    ns,
    [CHILD, "memory", data.dir, kind, String(n)],
    {
      v8Flags: "--expose-gc",
      onLine: (line) => {
        const e = JSON.parse(line) as RssEvent & { ev?: string };
        if (e.ev === "rss") {
          events.push(e);
          say(
            `bench: memory ${kind} ${e.phase}${
              e.sources ? " " + e.sources : ""
            }: RSS ${(e.rss / MiB).toFixed(0)} MiB, heap ${
              (e.heap / MiB).toFixed(0)
            } MiB, flows ${e.flows ?? "-"}, hosts ${e.hosts ?? "-"}`,
          );
        }
      },
    },
  );
  const st = await app.child.status;
  await app.stop();
  if (!st.success) {
    throw new Error(
      `The memory child failed (${st.code}): ${app.log.slice(-2000)}`,
    );
  }
  return events;
}

/** RSS with 100k flows and under a 1M-source SYN flood, beside idle RSS. */
export async function memoryBench(quick: boolean): Promise<BenchRow[]> {
  await using pair = await createVethPair();
  const rows: BenchRow[] = [];
  const mib = (b: number) => b / MiB;
  const flows = await feed(pair.a.ns, pair.a.iface, "flows", 100_000);
  const idle = flows.find((e) => e.phase === "idle");
  const full = flows.find((e) => e.phase === "flows");
  if (idle && full) {
    rows.push({
      section: "memory",
      metric: `RSS with 100,000 open TCP flows (table: ${full.flows})`,
      value: mib(full.rss),
      unit: "MiB",
      reference: "RSS at idle, same process",
      referenceValue: mib(idle.rss),
      note: `${full.hosts} hosts; JS heap used ${
        mib(full.heap).toFixed(0)
      } of ${mib(full.heapTotal).toFixed(0)} MiB; ${
        (100_000 / full.seconds! / 1000).toFixed(0)
      }k flows/s fed`,
    });
  }
  const flood = await feed(
    pair.a.ns,
    pair.a.iface,
    "flood",
    quick ? 250_000 : 2_000_000,
  );
  const idle2 = flood.find((e) => e.phase === "idle");
  for (const e of flood.filter((x) => x.phase === "flood")) {
    rows.push({
      section: "memory",
      metric: `RSS under a SYN flood, ${
        e.sources!.toLocaleString("en")
      } spoofed sources`,
      value: mib(e.rss),
      unit: "MiB",
      reference: "RSS at idle, same process",
      referenceValue: idle2 ? mib(idle2.rss) : undefined,
      note: `flows ${e.flows}, hosts ${e.hosts}; JS heap used ${
        mib(e.heap).toFixed(0)
      } of ${mib(e.heapTotal).toFixed(0)} MiB; peak RSS ${
        mib(e.hwm).toFixed(0)
      } MiB; fed at ${(e.sources! / e.seconds! / 1000).toFixed(0)}k SYN/s`,
    });
  }
  return rows;
}
