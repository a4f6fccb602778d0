/**
 * Bench: the cost of the watches of issue 23 (arp_spoof, nd_spoof,
 * rogue_ra, rogue_dhcp, beacon, exfiltration) on the live path, and their
 * memory under a flood of spoofed ARP. The large mixed capture (held in
 * memory) goes through the pipeline with no observers, with the rule
 * detectors that were there before, and with those plus the new watches.
 * Variants run in interleaved rounds, best of each. Then a flood of ARP
 * replies, each from a new random MAC claiming a new random address, goes
 * through the ARP watch alone, beside the pipeline without it, each in a
 * child with V8's gc exposed: JS heap after a collection, and the watch's
 * entries.
 *
 *   deno run -A bench/watchers.ts [--quick]   (or: deno task bench --only watchers)
 *
 * @module
 */
import process from "node:process";
import { BatchBuilder, type FrameBatch } from "../capture/mod.ts";
import { defaultPolicy } from "../alerts/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import { arpSpoof, createDetectors } from "../detect/mod.ts";
import { type BenchRow, largeCapture } from "./bench.ts";
import { loadBatches } from "./_batches.ts";
import { printRows } from "./_print.ts";

const NEW_TYPES = new Set([
  "arp_spoof",
  "nd_spoof",
  "rogue_ra",
  "rogue_dhcp",
  "beacon",
  "exfiltration",
]);

/**
 * CPU time (user + system, ms) of the pipeline over `batches`: steadier
 * than wall time on a machine other work shares.
 */
function runPipeline(batches: FrameBatch[], observers: FlowObserver[]): number {
  const p = new Pipeline({ observers });
  const t0 = process.cpuUsage();
  for (const b of batches) p.processBatch(b);
  p.finish();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
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

interface FloodResult {
  heap: number;
  entries: number;
  ms: number;
}

/** Runs the ARP flood in this process: heap after a collection, when exposed. */
function floodHere(n: number, withWatch: boolean): FloodResult {
  const flood = arpFlood(n);
  const watch = withWatch ? arpSpoof(defaultPolicy(), () => {}) : null;
  const p = new Pipeline({ observers: watch ? [watch] : [] });
  const t0 = performance.now();
  for (const b of flood) p.processBatch(b);
  const ms = performance.now() - t0;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap = Deno.memoryUsage().heapUsed;
  // Keep the pipeline and its watch alive past the reading.
  return { heap, entries: watch?.stateSize() ?? 0, ms };
}

/** The flood in a child with `--expose-gc`. */
async function floodChild(n: number, withWatch: boolean): Promise<FloodResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--flood",
      String(n),
      withWatch ? "watch" : "none",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("bench/watchers: the flood child failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)) as FloodResult;
}

/** The `watchers` bench section. */
export async function watchersBench(quick: boolean): Promise<BenchRow[]> {
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const batches = await loadBatches(path);
  const policy = defaultPolicy();
  const emit = () => {};
  const rules = () =>
    createDetectors(policy, emit).filter((d) => !NEW_TYPES.has(d.type));
  const all = () => createDetectors(policy, emit);
  const watches = () =>
    createDetectors(policy, emit).filter((d) => NEW_TYPES.has(d.type));
  // Interleaved rounds, best of each: a loaded machine slows one round,
  // not one variant.
  const rounds = quick ? 3 : 5;
  let base = Infinity, onlyNew = Infinity, before = Infinity, after = Infinity;
  for (let r = 0; r < rounds; r++) {
    base = Math.min(base, runPipeline(batches, []));
    onlyNew = Math.min(onlyNew, runPipeline(batches, watches()));
    before = Math.min(before, runPipeline(batches, rules()));
    after = Math.min(after, runPipeline(batches, all()));
  }
  const pps = (ms: number) => packets / (ms / 1000);
  const rows: BenchRow[] = [
    {
      section: "watchers",
      metric: "pipeline with the new watches alone",
      value: pps(onlyNew),
      unit: "pkts/s",
      reference: "no observers (CPU time)",
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
      reference: "without the six new watches",
      referenceValue: pps(before),
    },
  ];
  // Memory under a flood of spoofed ARP: each variant in a child process
  // with V8's gc exposed, heap read after a full collection.
  const n = quick ? 200_000 : 1_000_000;
  const ref = await floodChild(n, false);
  const watch = await floodChild(n, true);
  rows.push({
    section: "watchers",
    metric: `JS heap after ${n.toLocaleString("en")} spoofed ARP replies`,
    value: watch.heap / 2 ** 20,
    unit: "MiB",
    reference: "pipeline without the ARP watch",
    referenceValue: ref.heap / 2 ** 20,
    note:
      `${watch.entries} entries held (bindings + MACs, cap ${policy.detectors.arp_spoof.max_bindings} each); ${
        (watch.ms / 1000).toFixed(1)
      } s, ${Math.round(n / (watch.ms / 1000) / 1000)} k replies/s`,
  });
  return rows;
}

if (import.meta.main && Deno.args[0] === "--flood") {
  const r = floodHere(Number(Deno.args[1]), Deno.args[2] === "watch");
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(r)));
} else if (import.meta.main) {
  printRows(await watchersBench(Deno.args.includes("--quick")));
}
