/**
 * Benchmark: frames decoded per second by `decodeFrame`, on batches already
 * in memory (no I/O in the timed loop). Not part of the product.
 *
 * Two inputs: a generated capture of realistic mixed traffic (web and TLS
 * sessions, DNS lookups, bulk transfers; whole payloads captured, so HTTP,
 * TLS and DNS facts are parsed), cached under `.bench-cache/`; and every
 * frame of the tcpdump test corpus (many deliberately malformed). Each is
 * decoded for several rounds, warm (every batch decoded right after a first
 * pass, as after the capture wrote it) and cold (one pass over all batches,
 * frame bytes from memory); the median round is reported.
 *
 * Run: `deno run -A bench/decode_rate.ts [--packets N] [--rounds N]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type FrameBatch, readCaptureFile } from "../capture/mod.ts";
import {
  APP_NONE,
  DecodeCounters,
  decodeFrame,
  newPacket,
  type Packet,
} from "../decode/mod.ts";
import { writeMixedCapture } from "./_traffic.ts";

const encoder = new TextEncoder();

/** Prints one line of results on standard output. */
function say(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

const CACHE = new URL("../.bench-cache/", import.meta.url);
const CORPUS = new URL("../../shared/pcaps/tcpdump-tests/", import.meta.url);

/** Reads a capture file into batches held in memory. */
async function load(path: string): Promise<FrameBatch[]> {
  const out: FrameBatch[] = [];
  for await (const b of readCaptureFile(path)) out.push(b);
  return out;
}

/** The generated mix, written once per frame count. */
async function mixedBatches(packets: number): Promise<FrameBatch[]> {
  const path = new URL(`decode_mix_${packets}.pcap`, CACHE).pathname;
  try {
    await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    await Deno.mkdir(CACHE, { recursive: true });
    const tmp = path + ".tmp";
    await writeMixedCapture(tmp, { packets, snap: 2048, seed: 7 });
    await Deno.rename(tmp, path);
  }
  return await load(path);
}

async function corpusBatches(): Promise<FrameBatch[]> {
  const out: FrameBatch[] = [];
  const names = [...Deno.readDirSync(CORPUS)]
    .filter((e) => e.isFile && /\.pcap(ng)?$/.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const name of names) {
    out.push(...await load(new URL(name, CORPUS).pathname));
  }
  return out;
}

/** Decodes every frame of one batch into `p`; returns frames with app facts. */
function decodeBatch(p: Packet, b: FrameBatch): number {
  let apps = 0;
  const n = b.count;
  for (let i = 0; i < n; i++) {
    decodeFrame(p, b, i);
    if (p.app !== APP_NONE) apps++;
  }
  return apps;
}

/**
 * One round over all batches, in frames/s. Cold: each batch once, so frame
 * bytes come from memory. Warm: each batch decoded twice and the second
 * pass timed, as when a batch was just written by the capture and is still
 * in cache.
 */
function round(p: Packet, batches: FrameBatch[], warm: boolean): number {
  let frames = 0, ms = 0;
  for (const b of batches) {
    if (warm) decodeBatch(p, b);
    const t0 = performance.now();
    decodeBatch(p, b);
    ms += performance.now() - t0;
    frames += b.count;
  }
  return frames / (ms / 1000);
}

function stats(rates: number[]): string {
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  return `${(median / 1e6).toFixed(2)} M frames/s median ` +
    `(${(1e9 / median).toFixed(0)} ns/frame; best ${
      (rates[rates.length - 1]! / 1e6).toFixed(2)
    }, worst ${(rates[0]! / 1e6).toFixed(2)})`;
}

function measure(label: string, batches: FrameBatch[], rounds: number): void {
  const counters = new DecodeCounters();
  const p = newPacket();
  let bytes = 0, apps = 0;
  for (const b of batches) {
    for (let i = 0; i < b.count; i++) {
      counters.add(p, decodeFrame(p, b, i));
      if (p.app !== APP_NONE) apps++;
    }
    bytes += b.data.length;
  }
  say(
    `${label}: ${counters.frames} frames in ${batches.length} batches ` +
      `(${(bytes / counters.frames).toFixed(0)} B avg), ` +
      `${counters.ipv4 + counters.ipv6} IP, ${apps} with app facts, ` +
      `${counters.errors} faults`,
  );
  for (let r = 0; r < 3; r++) round(p, batches, true);
  const warm: number[] = [], cold: number[] = [];
  for (let r = 0; r < rounds; r++) {
    warm.push(round(p, batches, true));
    cold.push(round(p, batches, false));
  }
  say(`  warm (batch in cache): ${stats(warm)}`);
  say(`  cold (one pass):       ${stats(cold)}`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      packets: { type: "string", default: "500000" },
      rounds: { type: "string", default: "9" },
    },
  });
  const packets = Number(values.packets);
  const rounds = Number(values.rounds);
  say(`decode_rate: Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`);
  measure("mixed traffic", await mixedBatches(packets), rounds);
  measure("tcpdump corpus", await corpusBatches(), rounds * 3);
}
