/**
 * Child of the bench's stream section: floods the whole pipeline (every
 * rule detector, the app layer) with out-of-order TCP segments that follow
 * a hole never filled, from many sources, and prints as one JSON line what
 * the reassembler held at most beside its memcap, and where the process's
 * memory stood when its RSS was highest (`Deno.memoryUsage()` read after
 * every batch: RSS, V8 heap, external ArrayBuffers; the flows, app-layer
 * connections and budgets then). The parent measures the peak RSS too
 * (VmHWM). Not part of the product.
 *
 *   deno run -A bench/_stream_flood.ts SOURCES SEGMENTS [off]
 *
 * @module
 */
import { AlertAggregator, defaultPolicy } from "../alerts/mod.ts";
import { BatchBuilder, releaseBatch } from "../capture/mod.ts";
import { createDetectors } from "../detect/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { buildFrame } from "./_traffic.ts";

const sources = Number(Deno.args[0] ?? 100_000);
const segments = Number(Deno.args[1] ?? 8);
const appLayer = Deno.args[2] !== "off";
const policy = defaultPolicy();
const agg = new AlertAggregator({ policy });
const pipeline = new Pipeline({
  appLayer,
  observers: [...createDetectors(policy, agg.emit), agg.observer()],
});
const payload = new Uint8Array(1400).fill(0x41);
// A request start, so the connections are taken for HTTP and parsed too.
payload.set(new TextEncoder().encode("GET /flood HTTP/1.1\r\nHost: x\r\n"));
const victim = 0x0a63000a;
const MiB = 2 ** 20;
let maxUsed = 0;
let t = Date.UTC(2026, 0, 1) * 1000;
let peak = Deno.memoryUsage();
let atPeak: Record<string, number> = {};
// Batches as live capture makes them (capture_worker.ts: BatchBuilder.take,
// buffers of their own, sent at 4096 frames or once 2 MiB of frames are in,
// LiveSource's default `batchBytes`), released once processed as the
// appliance does.
const BATCH_BYTES = 2 << 20;
const b = new BatchBuilder(4096, BATCH_BYTES);
const flush = () => {
  const batch = b.take();
  if (batch !== null) {
    pipeline.processBatch(batch);
    releaseBatch(batch); // as the appliance does with live capture's batches
  }
  const used = pipeline.reassembler?.memUsed ?? 0;
  if (used > maxUsed) maxUsed = used;
  const m = Deno.memoryUsage();
  if (m.rss > peak.rss) {
    peak = m;
    atPeak = {
      flows: pipeline.flows.size,
      appConnections: pipeline.app?.connections ?? 0,
      parserBudgetMiB: (pipeline.app?.budget.used ?? 0) / MiB,
      memUsedMiB: used / MiB,
      slabMiB: (pipeline.reassembler?.slabBytes ?? 0) / MiB,
      packets: pipeline.counters.packets,
    };
  }
};
const push = (f: Uint8Array) => {
  if (b.full || b.bytes >= BATCH_BYTES) flush();
  b.push(f, 0, f.length, f.length, t++, 1);
};
// Two frames (a SYN, a data segment) patched in place for each source: the
// flood makes no garbage of its own, so what the process holds is the
// pipeline's.
const syn = buildFrame({
  src: 0,
  dst: victim,
  proto: 6,
  dport: 80,
  flags: 2,
  seq: 0,
});
const seg = buildFrame({
  src: 0,
  dst: victim,
  proto: 6,
  dport: 80,
  flags: 0x18,
  payload,
});
const be32 = (f: Uint8Array, at: number, v: number) => {
  f[at] = v >>> 24;
  f[at + 1] = (v >>> 16) & 0xff;
  f[at + 2] = (v >>> 8) & 0xff;
  f[at + 3] = v & 0xff;
};
const frame = (f: Uint8Array, src: number, sport: number, seq: number) => {
  be32(f, 26, src);
  f[34] = sport >>> 8;
  f[35] = sport & 0xff;
  be32(f, 38, seq);
  return f;
};
// Round by round, so every source holds segments at once.
for (let j = 0; j <= segments; j++) {
  for (let i = 0; i < sources; i++) {
    const src = 0x0b000000 + i;
    const sport = 1024 + (i % 60_000);
    // The SYN, then segments at stream offset j * 1400: offset 0 is never
    // sent (the hole).
    push(
      j === 0
        ? frame(syn, src, sport, 1000)
        : frame(seg, src, sport, 1001 + j * 1400),
    );
  }
}
flush();
pipeline.finish();
const r = pipeline.reassembly;
const round = (x: number) => Math.round(x * 10) / 10;
Deno.stdout.writeSync(new TextEncoder().encode(
  JSON.stringify({
    appLayer,
    sources,
    segments,
    maxUsed,
    memcap: pipeline.reassembler?.config.memcap ?? 0,
    heldPeak: r?.heldPeak ?? 0,
    memcapDropped: r?.memcapDropped ?? 0,
    flowsSkipped: r?.flowsSkipped ?? 0,
    gaps: r?.gaps ?? 0,
    peakRssMiB: round(peak.rss / MiB),
    peakHeapTotalMiB: round(peak.heapTotal / MiB),
    peakHeapUsedMiB: round(peak.heapUsed / MiB),
    peakExternalMiB: round(peak.external / MiB),
    ...Object.fromEntries(
      Object.entries(atPeak).map(([k, v]) => [k, round(v)]),
    ),
  }) + "\n",
));
