/**
 * Bench: what TCP reassembly and the stream-fed parsers cost, each beside a
 * reference measured in the same run:
 *
 * - offline rate on the bench's large mixed capture: the pipeline with
 *   every rule detector and the app layer on (reassembly, and the parsers
 *   whose records a detector reads: HTTP), beside the same pipeline with
 *   the app layer off (per-packet facts only, as before `reassembly/`) and
 *   beside tcpdump reading the same file; and once more with an observer
 *   that reads every record (as EVE logging or a rule set does: TLS and
 *   DNS parsed too). Variants run in interleaved rounds in this process;
 *   the best CPU time (`process.cpuUsage`, steady on a loaded machine) and
 *   the best wall time of each are kept, and the rates are from CPU time;
 *   beside the best-against-best ratio, the median and the lowest of the
 *   rounds' own ratios (a round's variants run back to back);
 * - reassembly cost per MB of payload: a stream of 1448-byte segments in
 *   order, and one with every pair of segments swapped (each second one
 *   held), through the reassembler alone, beside copying the same bytes
 *   once (`Uint8Array.set`);
 * - memory: a child process runs the whole pipeline (rule detectors, app
 *   layer) under the unit's V8 heap flags (`V8_FLAGS` of
 *   packaging/compile.ts) while 200,000 sources each send 4 segments after
 *   a hole that is never filled; it reports the most the reassembler held
 *   beside `stream.memcap` and where its memory stood at its highest RSS
 *   (V8 heap, external ArrayBuffers, the reassembler's slab, the parser
 *   budget), and the parent its peak RSS (VmHWM), beside the same flood
 *   with the app layer off; the figure to hold is the unit's `MemoryMax`.
 *
 *   deno task bench --only stream [--quick]
 *
 * @module
 */
import process from "node:process";
import { AlertAggregator, defaultPolicy } from "../alerts/mod.ts";
import { type FrameBatch, readCaptureFile } from "../capture/mod.ts";
import { newPacket, TCP_ACK } from "../decode/mod.ts";
import { createDetectors } from "../detect/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { FlowTable } from "../flows/mod.ts";
import type { AppObserver } from "../protocols/mod.ts";
import { V8_FLAGS } from "../packaging/compile.ts";
import { TcpReassembler } from "../reassembly/mod.ts";
import type { BenchRow } from "./bench.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const enc = new TextEncoder();
function say(s: string): void {
  Deno.stderr.writeSync(enc.encode(s + "\n"));
}

async function load(path: string): Promise<FrameBatch[]> {
  const out: FrameBatch[] = [];
  for await (const b of readCaptureFile(path)) out.push(b);
  return out;
}

/** What a pipeline variant reads: nothing of the app layer, or as the detectors do, or every record. */
type Variant = "off" | "on" | "all";

/**
 * CPU and wall seconds to run `batches` through a fresh pipeline (rule
 * detectors on, and for "all" an observer reading every record).
 */
function runPipeline(batches: FrameBatch[], v: Variant): {
  cpu: number;
  seconds: number;
  reassembled: number;
} {
  const policy = defaultPolicy();
  const agg = new AlertAggregator({ policy });
  const observers: AppObserver[] = [
    ...createDetectors(policy, agg.emit),
    agg.observer(),
  ];
  let records = 0;
  if (v === "all") observers.push({ onApp: () => void records++ });
  const p = new Pipeline({ appLayer: v !== "off", observers });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of batches) p.processBatch(b);
  p.finish();
  const c = process.cpuUsage(c0);
  return {
    cpu: (c.user + c.system) / 1e6,
    seconds: (performance.now() - t0) / 1000,
    reassembled: p.reassembly?.bytes ?? 0,
  };
}

/** ms per MB through the reassembler alone, in order or with pairs swapped. */
function reassemblyCost(mb: number, swapped: boolean): number {
  const seg = 1448;
  const n = Math.floor((mb * 2 ** 20) / seg);
  let sink = 0;
  const r = new TcpReassembler({
    data: (_f, _d, _b, _o, len) => {
      sink += len;
    },
    gap: () => {},
    end: () => {},
    anomaly: () => {},
  }, { depth: 0, memcap: 64 << 20 });
  const table = new FlowTable(() => {});
  const p = newPacket();
  const buf = new Uint8Array(seg + 64).fill(0x61);
  p.data = buf;
  p.payloadOffset = 64;
  p.payloadLen = p.payloadWireLen = seg;
  p.ipVersion = 4;
  p.proto = 6;
  p.src[0] = 0x0a000001;
  p.dst[0] = 0x0a000002;
  p.srcPort = 40000;
  p.dstPort = 80;
  // The handshake's SYN: the stream starts at seq 1000.
  p.tcpFlags = 0x02;
  p.tcpSeq = 999;
  p.payloadLen = p.payloadWireLen = 0;
  const f = table.update(p);
  r.segment(p, f, 0);
  p.tcpFlags = TCP_ACK;
  p.payloadLen = p.payloadWireLen = seg;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const k = swapped ? (i % 2 === 0 ? i + 1 : i - 1) : i;
    p.tcpSeq = (1000 + (k < n ? k : i) * seg) >>> 0;
    r.segment(p, f, 0);
  }
  const ms = performance.now() - t0;
  if (sink === 0) throw new Error("nothing reassembled");
  return ms / (sink / 2 ** 20);
}

/** ms per MB to copy the bytes once (the floor of any reassembly). */
function copyCost(mb: number): number {
  const seg = 1448;
  const n = Math.floor((mb * 2 ** 20) / seg);
  const src = new Uint8Array(seg).fill(0x61);
  const dst = new Uint8Array(1 << 20);
  const t0 = performance.now();
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (o + seg > dst.length) o = 0;
    dst.set(src, o);
    o += seg;
  }
  return (performance.now() - t0) / ((n * seg) / 2 ** 20);
}

async function flood(
  sources: number,
  segments: number,
  appLayer: boolean,
): Promise<{ rssMiB: number; report: Record<string, number> }> {
  const { timed } = await import("./bench.ts");
  const r = await timed(Deno.execPath(), [
    "run",
    "-A",
    `--v8-flags=${V8_FLAGS.join(",")}`,
    `${ROOT}bench/_stream_flood.ts`,
    String(sources),
    String(segments),
    appLayer ? "on" : "off",
  ], { stdout: "piped" });
  if (r.code !== 0) throw new Error(`stream flood failed (${r.code})`);
  return { rssMiB: r.rssBytes / 2 ** 20, report: JSON.parse(r.stdout) };
}

/** `MemoryMax` of the systemd unit in packaging/, MiB. */
async function unitMemoryMaxMiB(): Promise<number> {
  const unit = await Deno.readTextFile(
    `${ROOT}packaging/netsentinel.service`,
  );
  const m = /^MemoryMax=(\d+)([KMG]?)$/m.exec(unit);
  if (m === null) throw new Error("Cannot read MemoryMax from the unit");
  const k = { "": 1 / 2 ** 20, K: 1 / 1024, M: 1, G: 1024 }[m[2]!]!;
  return Number(m[1]) * k;
}

/** The bench section `stream`. */
export async function streamBench(quick: boolean): Promise<BenchRow[]> {
  const { largeCapture, timed } = await import("./bench.ts");
  const rows: BenchRow[] = [];
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  say(`bench stream: pipeline over ${path}`);
  const batches = await load(path);
  const runs = quick ? 3 : 5;
  const best = {
    off: { cpu: Infinity, seconds: Infinity },
    on: { cpu: Infinity, seconds: Infinity },
    all: { cpu: Infinity, seconds: Infinity },
  };
  let reassembled = 0;
  /** Each round's CPU time with the app layer on over without, by variant. */
  const ratios = { on: [] as number[], all: [] as number[] };
  // One warm-up round each, then interleaved rounds.
  for (let i = 0; i <= runs; i++) {
    let offCpu = 0;
    for (const v of ["off", "on", "all"] as const) {
      const r = runPipeline(batches, v);
      if (v === "on") reassembled = r.reassembled;
      if (i === 0) continue;
      best[v].cpu = Math.min(best[v].cpu, r.cpu);
      best[v].seconds = Math.min(best[v].seconds, r.seconds);
      if (v === "off") offCpu = r.cpu;
      else ratios[v].push(offCpu / r.cpu);
    }
  }
  const off = best.off.cpu, on = best.on.cpu;
  // Best against best, and beside it the median of the rounds' own ratios
  // (each round's variants ran back to back: a machine that slows down or
  // speeds up during the section moves both sides of a round alike).
  const median = (a: number[]) =>
    a.toSorted((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const pct = (v: "on" | "all") =>
    `${
      (100 * off / best[v].cpu).toFixed(0)
    }% of the rate without (CPU time; wall ${
      (100 * best.off.seconds / best[v].seconds).toFixed(0)
    }%; median of the ${ratios[v].length} rounds' own ratios ${
      (100 * median(ratios[v])).toFixed(0)
    }%, lowest ${(100 * Math.min(...ratios[v])).toFixed(0)}%)`;
  let tcpdump: number | undefined;
  try {
    const t = await timed("tcpdump", ["-r", path, "-w", "/dev/null"]);
    if (t.code === 0) tcpdump = packets / t.seconds;
  } catch {
    tcpdump = undefined; // no tcpdump: the row says so
  }
  rows.push({
    section: "stream",
    metric: "pipeline, app layer on (rule detectors: reassembly + HTTP)",
    value: packets / on,
    unit: "pkts/s",
    reference: "app layer off, same run",
    referenceValue: packets / off,
    note: `${pct("on")}; ${(reassembled / 2 ** 20).toFixed(1)} MiB reassembled`,
  });
  rows.push({
    section: "stream",
    metric: "pipeline, app layer on, every record read (HTTP/DNS/TLS)",
    value: packets / best.all.cpu,
    unit: "pkts/s",
    reference: "app layer off, same run",
    referenceValue: packets / off,
    note: pct("all"),
  });
  rows.push({
    section: "stream",
    metric: "pipeline, app layer on",
    value: packets / on,
    unit: "pkts/s",
    reference: tcpdump === undefined
      ? "tcpdump missing"
      : "tcpdump -r FILE -w /dev/null",
    referenceValue: tcpdump,
  });
  const mb = quick ? 64 : 256;
  const copy = copyCost(mb);
  rows.push({
    section: "stream",
    metric: "reassembly, in order (1448-byte segments)",
    value: reassemblyCost(mb, false),
    unit: "ms/MB",
    reference: "copying the bytes once",
    referenceValue: copy,
  });
  rows.push({
    section: "stream",
    metric: "reassembly, every other segment held",
    value: reassemblyCost(mb, true),
    unit: "ms/MB",
    reference: "copying the bytes once",
    referenceValue: copy,
  });
  if (reassembled > 0) {
    rows.push({
      section: "stream",
      metric: "app layer per MB reassembled (bench capture)",
      value: ((on - off) * 1000) / (reassembled / 2 ** 20),
      unit: "ms/MB",
      note: "pipeline CPU time with the app layer minus without, per MiB",
    });
  }
  const sources = quick ? 50_000 : 200_000;
  const segs = 4;
  say(`bench stream: flood of ${sources} sources × ${segs} held segments`);
  // The peak moves with GC timing (garbage batches wait for a collection):
  // several runs, interleaved, and the highest counts.
  const ons: Awaited<ReturnType<typeof flood>>[] = [];
  const offs: typeof ons = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    ons.push(await flood(sources, segs, true));
    offs.push(await flood(sources, segs, false));
  }
  const highest = (a: typeof ons) =>
    a.reduce((x, y) => (y.rssMiB > x.rssMiB ? y : x));
  const fOn = highest(ons), fOff = highest(offs);
  const all = (a: typeof ons) => a.map((f) => f.rssMiB.toFixed(0)).join(", ");
  rows.push({
    section: "stream",
    metric: `flood ${sources} sources: held at most`,
    value: fOn.report.maxUsed! / 2 ** 20,
    unit: "MiB",
    reference: "stream.memcap",
    referenceValue: fOn.report.memcap! / 2 ** 20,
    note: `${fOn.report.memcapDropped} bytes dropped by memcap`,
  });
  const max = await unitMemoryMaxMiB();
  const at = (f: typeof fOn) =>
    `heap ${f.report.peakHeapUsedMiB} of ${f.report.peakHeapTotalMiB} MiB, external ${f.report.peakExternalMiB} MiB`;
  rows.push({
    section: "stream",
    metric: `flood ${sources} sources: peak RSS (highest of ${ons.length})`,
    value: fOn.rssMiB,
    unit: "MiB",
    reference: "same flood, app layer off",
    referenceValue: fOff.rssMiB,
    note: `runs ${all(ons)} MiB (off: ${
      all(offs)
    }); the unit's MemoryMax is ${max} MiB; at the peak: ${
      at(fOn)
    } (slab ${fOn.report.slabMiB} MiB, parser budget ${fOn.report.parserBudgetMiB} MiB, ${fOn.report.appConnections} connections parsed); app layer off: ${
      at(fOff)
    }`,
  });
  return rows;
}
