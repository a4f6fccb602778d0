/**
 * Bench: pcap on alert (pcaps/). Its cost on the packet path: the large
 * mixed capture (held in memory) through the pipeline with no observers
 * and with the packet ring alone (every frame copied into its flow's slot).
 * Its cost per alert: a port scan's pcap (200 probe flows) chosen from the
 * ring and written, beside tcpdump writing the same scan's packets from the
 * capture with a host filter.
 *
 *   deno run -A bench/pcaps.ts [--quick]   (or: deno task bench --only pcaps)
 *
 * @module
 */
import type { FrameBatch } from "../capture/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import { analyzeFiles } from "../cli/analyze.ts";
import type { Alert } from "../alerts/mod.ts";
import { AlertPcaps, PacketRing } from "../pcaps/mod.ts";
import { type BenchRow, largeCapture } from "./bench.ts";
import { cpuUsage } from "node:process";
import { loadBatches } from "./_batches.ts";
import { printRows } from "./_print.ts";

const SCAN = new URL("../tests/fixtures/scan_syn.pcap", import.meta.url)
  .pathname;

function runPipeline(
  batches: FrameBatch[],
  observers: FlowObserver[],
): number {
  const p = new Pipeline({ observers });
  // CPU time of this process (the machine may be shared): ms.
  const t0 = cpuUsage();
  for (const b of batches) p.processBatch(b);
  p.finish();
  const d = cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

/** The bench section. */
export async function pcapsBench(quick: boolean): Promise<BenchRow[]> {
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const batches = await loadBatches(path);
  const runs = quick ? 3 : 5;
  let base = Infinity, withRing = Infinity;
  for (let i = 0; i < runs; i++) {
    base = Math.min(base, runPipeline(batches, []));
    withRing = Math.min(withRing, runPipeline(batches, [new PacketRing()]));
  }
  const pps = (ms: number) => packets / (ms / 1000);

  // One scan alert: ring filled by the pipeline, then select + write.
  const ring = new PacketRing();
  const p = new Pipeline({ observers: [ring] });
  for (const b of await loadBatches(SCAN)) p.processBatch(b);
  p.finish();
  const alerts: Alert[] = [];
  await analyzeFiles([SCAN], {
    events: new Set(["alert"]),
    sink: (r) => alerts.push(r as unknown as Alert),
  });
  const scan = alerts.find((a) => a.netsentinel.type === "port_scan")!;
  const dir = await Deno.makeTempDir({ prefix: "ns-bench-pcaps-" });
  try {
    const store = await AlertPcaps.open(dir, 1 << 30, (m) => {
      throw new Error(m);
    });
    let ours = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      store.capture(scan, ring);
      await store.flush();
      ours = Math.min(ours, performance.now() - t0);
    }
    const frames = ring.select(scan)!.frames.length;
    let ref = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await new Deno.Command("tcpdump", {
        args: [
          "-r",
          SCAN,
          "-w",
          `${dir}/ref.pcap`,
          `host ${scan.src_ip} and host ${scan.dest_ip}`,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!r.success) throw new Error("tcpdump failed");
      ref = Math.min(ref, performance.now() - t0);
    }
    return [
      {
        section: "pcaps",
        metric: "pipeline with the packet ring",
        value: pps(withRing),
        unit: "pkts/s",
        reference: "no observers (CPU time, best interleaved run)",
        referenceValue: pps(base),
        note: `${packets} packets; ${
          ((withRing - base) * 1e6 / packets).toFixed(0)
        } ns a packet; ring ${ring.slots} slots (16 MiB)`,
      },
      {
        section: "pcaps",
        metric: "a port scan's pcap chosen and written",
        value: ours,
        unit: "ms",
        reference: "tcpdump -r -w with a host filter, the whole process",
        referenceValue: ref,
        note: `${frames} frames of 200 probe flows`,
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  printRows(await pcapsBench(Deno.args.includes("--quick")));
}
