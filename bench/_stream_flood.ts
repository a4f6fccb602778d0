/**
 * Child of the bench's stream section: floods the whole pipeline (every
 * rule detector, the app layer) with out-of-order TCP segments that follow
 * a hole never filled, from many sources, and prints what the reassembler
 * held at most beside its memcap as one JSON line. The parent measures the
 * process's peak RSS. Not part of the product.
 *
 *   deno run -A bench/_stream_flood.ts SOURCES SEGMENTS [off]
 *
 * @module
 */
import { AlertAggregator, defaultPolicy } from "../alerts/mod.ts";
import { BatchBuilder } from "../capture/mod.ts";
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
let maxUsed = 0;
let t = Date.UTC(2026, 0, 1) * 1000;
const b = new BatchBuilder(4096, 8 << 20);
const flush = () => {
  const batch = b.take();
  if (batch !== null) pipeline.processBatch(batch);
  const used = pipeline.reassembler?.memUsed ?? 0;
  if (used > maxUsed) maxUsed = used;
};
const push = (f: Uint8Array) => {
  if (b.count >= 4096) flush();
  b.push(f, 0, f.length, f.length, t++, 1);
};
// Round by round, so every source holds segments at once.
for (let j = 0; j <= segments; j++) {
  for (let i = 0; i < sources; i++) {
    const src = 0x0b000000 + i;
    const sport = 1024 + (i % 60_000);
    if (j === 0) {
      push(
        buildFrame({
          src,
          dst: victim,
          proto: 6,
          sport,
          dport: 80,
          flags: 2,
          seq: 1000,
        }),
      );
      continue;
    }
    // Stream offset j * 1400: offset 0 is never sent (the hole).
    push(buildFrame({
      src,
      dst: victim,
      proto: 6,
      sport,
      dport: 80,
      flags: 0x18,
      seq: 1001 + j * 1400,
      payload,
    }));
  }
}
flush();
pipeline.finish();
const r = pipeline.reassembly;
Deno.stdout.writeSync(new TextEncoder().encode(
  JSON.stringify({
    appLayer,
    sources,
    segments,
    maxUsed,
    memcap: pipeline.reassembler?.config.memcap ?? 0,
    heldPeak: r?.heldPeak ?? 0,
    memcapDropped: r?.memcapDropped ?? 0,
    gaps: r?.gaps ?? 0,
    heapMiB: Math.round(Deno.memoryUsage().heapUsed / 2 ** 20),
  }) + "\n",
));
