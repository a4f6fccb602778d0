/**
 * Bench: the cost of the watches of issue 23 (arp_spoof, nd_spoof,
 * rogue_ra, rogue_dhcp, beacon, exfiltration) on the live path, and their
 * memory under a flood of spoofed ARP. The large mixed capture (held in
 * memory) goes through the pipeline with no observers, with the rule
 * detectors that were there before, and with those plus the new watches.
 * Then a flood of ARP replies, each from a new random MAC claiming a new
 * random address, goes through the ARP watch alone, beside the pipeline
 * without it: JS heap and the watch's entries after the flood.
 *
 *   deno run -A bench/watchers.ts [--quick]   (or: deno task bench --only watchers)
 *
 * @module
 */
import { BatchBuilder, type FrameBatch } from "../capture/mod.ts";
import { readCaptureFile } from "../capture/mod.ts";
import { defaultPolicy } from "../alerts/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import { arpSpoof, createDetectors, type Detector } from "../detect/mod.ts";
import { type BenchRow, largeCapture } from "./bench.ts";

const NEW_TYPES = new Set([
  "arp_spoof",
  "nd_spoof",
  "rogue_ra",
  "rogue_dhcp",
  "beacon",
  "exfiltration",
]);

async function loadBatches(path: string): Promise<FrameBatch[]> {
  const out: FrameBatch[] = [];
  const reader = readCaptureFile(path);
  let r = await reader.next();
  while (!r.done) {
    out.push(r.value);
    r = await reader.next();
  }
  return out;
}

function runPipeline(batches: FrameBatch[], observers: FlowObserver[]): number {
  const p = new Pipeline({ observers });
  const t0 = performance.now();
  for (const b of batches) p.processBatch(b);
  p.finish();
  return performance.now() - t0;
}

function best(n: number, fn: () => number): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) b = Math.min(b, fn());
  return b;
}

/** `n` ARP replies, each from a new pseudo-random MAC and address. */
function arpFlood(n: number): FrameBatch[] {
  const out: FrameBatch[] = [];
  const per = 4096;
  const f = new Uint8Array(42);
  f.set([0x02, 0x99, 0x0a, 0x63, 0x00, 0x14], 0); // to the client
  f.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
  f.set([10, 99, 0, 20], 38);
  let x = 0x9e3779b9;
  let t = Date.UTC(2026, 0, 1) * 1000;
  for (let i = 0; i < n; i += per) {
    const b = new BatchBuilder(per, per * 42);
    for (let k = 0; k < per && i + k < n; k++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const mac = [
        0x02,
        x >>> 24,
        (x >>> 16) & 255,
        (x >>> 8) & 255,
        x & 255,
        1,
      ];
      f.set(mac, 6);
      f.set(mac, 22);
      f.set([10, (x >>> 16) & 255, (x >>> 8) & 255, (x & 254) + 1], 28);
      b.push(f, 0, 42, 42, t, 1);
      t += 10; // 100,000 a second
    }
    out.push(b.take()!);
  }
  return out;
}

function heapAfter(batches: FrameBatch[], observers: FlowObserver[]): number {
  const p = new Pipeline({ observers });
  for (const b of batches) p.processBatch(b);
  return Deno.memoryUsage().heapUsed;
}

/** The `watchers` bench section. */
export async function watchersBench(quick: boolean): Promise<BenchRow[]> {
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const batches = await loadBatches(path);
  const policy = defaultPolicy();
  const emit = () => {};
  const runs = quick ? 2 : 3;
  const rules = () =>
    createDetectors(policy, emit).filter((d) => !NEW_TYPES.has(d.type));
  const all = () => createDetectors(policy, emit);
  const watches = () =>
    createDetectors(policy, emit).filter((d) => NEW_TYPES.has(d.type));
  const base = best(runs, () => runPipeline(batches, []));
  const onlyNew = best(runs, () => runPipeline(batches, watches()));
  const before = best(runs, () => runPipeline(batches, rules()));
  const after = best(runs, () => runPipeline(batches, all()));
  const pps = (ms: number) => packets / (ms / 1000);
  const rows: BenchRow[] = [
    {
      section: "watchers",
      metric: "pipeline with the new watches alone",
      value: pps(onlyNew),
      unit: "pkts/s",
      reference: "no observers",
      referenceValue: pps(base),
      note: `${packets} packets; ${
        ((onlyNew - base) * 1e6 / packets).toFixed(0)
      } ns a packet`,
    },
    {
      section: "watchers",
      metric: "pipeline with every rule detector",
      value: pps(after),
      unit: "pkts/s",
      reference: "rule detectors before issue 23",
      referenceValue: pps(before),
    },
  ];
  // Memory under a flood of spoofed ARP.
  const n = quick ? 200_000 : 1_000_000;
  const flood = arpFlood(n);
  const ref = heapAfter(flood, []);
  const watch: Detector = arpSpoof(policy, emit);
  const heap = heapAfter(flood, [watch]);
  const cfg = policy.detectors.arp_spoof;
  rows.push({
    section: "watchers",
    metric: `JS heap after ${n.toLocaleString("en")} spoofed ARP replies`,
    value: heap / 2 ** 20,
    unit: "MiB",
    reference: "pipeline without the ARP watch",
    referenceValue: ref / 2 ** 20,
    note:
      `${watch.stateSize()} entries held (bindings + MACs, cap ${cfg.max_bindings} each)`,
  });
  return rows;
}

if (import.meta.main) {
  const rows = await watchersBench(Deno.args.includes("--quick"));
  for (const r of rows) {
    const ref = r.reference
      ? `  (${r.reference}: ${r.referenceValue!.toFixed(2)} ${r.unit})`
      : "";
    Deno.stdout.writeSync(
      new TextEncoder().encode(
        `${r.metric}: ${r.value.toFixed(2)} ${r.unit}${ref}${
          r.note ? `  [${r.note}]` : ""
        }\n`,
      ),
    );
  }
}
