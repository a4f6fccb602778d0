/**
 * Benchmark: the TypeScript capture-file reader against libpcap's
 * `pcap_open_offline` + `pcap_next_ex` through FFI, both producing the same
 * {@link FrameBatch}es. Not part of the product.
 *
 * Generates (once) two captures of 1,000,000 Ethernet frames under
 * `.bench-cache/`: one with a mix of sizes (60 to 1514 bytes, about 440 on
 * average) and one of 60-byte frames, then reads each several times warm
 * and prints records/s and MB/s.
 *
 * Run: `deno run -A bench/file_reader_compare.ts [--rounds N]`
 *
 * @module
 */

import { BatchBuilder, type FrameBatch } from "../capture/batch.ts";
import { readCaptureFile } from "../capture/pcap_file.ts";
import { PcapWriter } from "../capture/pcap_writer.ts";

const encoder = new TextEncoder();

/** Prints one line of results on standard output. */
function say(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

const PACKETS = 1_000_000;
const BATCH_FRAMES = 4096;
const CACHE = new URL("../.bench-cache/", import.meta.url);

/** Result of one full read of a file. */
interface ReadResult {
  packets: number;
  bytes: number;
}

/** Writes `name` under the cache with frame sizes from `sizeOf`, once. */
async function ensureCapture(
  name: string,
  sizeOf: (i: number) => number,
): Promise<string> {
  const path = new URL(name, CACHE).pathname;
  try {
    await Deno.stat(path);
    return path;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(CACHE, { recursive: true });
  const frame = new Uint8Array(1514);
  // Ethernet + IPv4 + TCP headers; the payload stays zero.
  frame.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45]);
  const tmp = path + ".tmp";
  const w = await PcapWriter.create(tmp, { linktype: 1 });
  let tsUs = 1_700_000_000_000_000;
  for (let i = 0; i < PACKETS; i++) {
    const len = sizeOf(i);
    frame[30] = i & 0xff;
    await w.write(tsUs, frame.subarray(0, len));
    tsUs += 7 + (i % 13);
  }
  await w.close();
  await Deno.rename(tmp, path);
  return path;
}

/** A repeatable mix: many small (ACK-like), some full-size, some between. */
function mixedSize(i: number): number {
  const k = (i * 2654435761) >>> 0;
  const r = k % 100;
  if (r < 55) return 60 + (k % 8);
  if (r < 80) return 1514;
  return 100 + (k % 1300);
}

async function readTs(path: string): Promise<ReadResult> {
  const g = readCaptureFile(path, { batchFrames: BATCH_FRAMES });
  let packets = 0;
  let bytes = 0;
  let r = await g.next();
  while (!r.done) {
    packets += r.value.count;
    bytes += r.value.data.length;
    r = await g.next();
  }
  if (r.value.error !== null) throw new Error(r.value.error);
  return { packets, bytes };
}

const LIBPCAP_SYMBOLS = {
  pcap_open_offline: { parameters: ["buffer", "buffer"], result: "pointer" },
  pcap_next_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  pcap_close: { parameters: ["pointer"], result: "void" },
  pcap_datalink: { parameters: ["pointer"], result: "i32" },
} as const;

type Libpcap = Deno.DynamicLibrary<typeof LIBPCAP_SYMBOLS>;

/**
 * Reads `path` through libpcap into batches: pcap_next_ex per packet, the
 * 24-byte header read through a pointer view, the data copied with
 * `UnsafePointerView.copyInto` into the batch.
 */
function readFfi(lib: Libpcap, path: string): ReadResult {
  const errbuf = new Uint8Array(256);
  const p = lib.symbols.pcap_open_offline(
    new TextEncoder().encode(path + "\0"),
    errbuf,
  );
  if (p === null) {
    const msg = new TextDecoder().decode(errbuf).replace(/\0.*$/s, "");
    throw new Error(`pcap_open_offline failed: ${msg}`);
  }
  const linktype = lib.symbols.pcap_datalink(p);
  const hdrOut = new BigUint64Array(1);
  const dataOut = new BigUint64Array(1);
  const builder = new BatchBuilder(BATCH_FRAMES);
  let packets = 0;
  let bytes = 0;
  const flush = (): void => {
    const b: FrameBatch | null = builder.take();
    if (b !== null) bytes += b.data.length;
  };
  for (;;) {
    const rc = lib.symbols.pcap_next_ex(p, hdrOut, dataOut);
    if (rc !== 1) {
      if (rc === -1) throw new Error("pcap_next_ex failed");
      break;
    }
    const hp = Deno.UnsafePointer.create(hdrOut[0] ?? 0n);
    const dp = Deno.UnsafePointer.create(dataOut[0] ?? 0n);
    if (hp === null || dp === null) throw new Error("null packet pointer");
    const h = new Deno.UnsafePointerView(hp);
    const tsUs = Number(h.getBigInt64(0)) * 1e6 + Number(h.getBigInt64(8));
    const caplen = h.getUint32(16);
    const wirelen = h.getUint32(20);
    const dst = builder.reserveFrame(caplen, wirelen, tsUs, linktype);
    Deno.UnsafePointerView.copyInto(dp, dst);
    packets++;
    if (builder.full) flush();
  }
  flush();
  lib.symbols.pcap_close(p);
  return { packets, bytes };
}

/**
 * Like {@link readFfi}, but reuses the pointer objects and the header view
 * while libpcap hands back the same addresses (it reuses one header and one
 * buffer for offline reads), so no object is made per packet on the JS side.
 */
function readFfiCached(lib: Libpcap, path: string): ReadResult {
  const errbuf = new Uint8Array(256);
  const p = lib.symbols.pcap_open_offline(
    new TextEncoder().encode(path + "\0"),
    errbuf,
  );
  if (p === null) {
    const msg = new TextDecoder().decode(errbuf).replace(/\0.*$/s, "");
    throw new Error(`pcap_open_offline failed: ${msg}`);
  }
  const linktype = lib.symbols.pcap_datalink(p);
  const hdrOut = new BigUint64Array(1);
  const dataOut = new BigUint64Array(1);
  const builder = new BatchBuilder(BATCH_FRAMES);
  let packets = 0;
  let bytes = 0;
  let hdrAddr = -1n;
  let hdrView: Deno.UnsafePointerView | null = null;
  let dataAddr = -1n;
  let dataPtr: Deno.PointerObject | null = null;
  for (;;) {
    const rc = lib.symbols.pcap_next_ex(p, hdrOut, dataOut);
    if (rc !== 1) {
      if (rc === -1) throw new Error("pcap_next_ex failed");
      break;
    }
    const ha = hdrOut[0] ?? 0n;
    if (ha !== hdrAddr || hdrView === null) {
      const hp = Deno.UnsafePointer.create(ha);
      if (hp === null) throw new Error("null header pointer");
      hdrView = new Deno.UnsafePointerView(hp);
      hdrAddr = ha;
    }
    const da = dataOut[0] ?? 0n;
    if (da !== dataAddr || dataPtr === null) {
      dataPtr = Deno.UnsafePointer.create(da);
      if (dataPtr === null) throw new Error("null data pointer");
      dataAddr = da;
    }
    const h = hdrView;
    const tsUs = Number(h.getBigInt64(0)) * 1e6 + Number(h.getBigInt64(8));
    const caplen = h.getUint32(16);
    const wirelen = h.getUint32(20);
    const dst = builder.reserveFrame(caplen, wirelen, tsUs, linktype);
    Deno.UnsafePointerView.copyInto(dataPtr, dst);
    packets++;
    if (builder.full) bytes += builder.take()?.data.length ?? 0;
  }
  bytes += builder.take()?.data.length ?? 0;
  lib.symbols.pcap_close(p);
  return { packets, bytes };
}

/** Runs `fn` `rounds` times and returns the fastest time in seconds. */
async function best(
  rounds: number,
  fn: () => ReadResult | Promise<ReadResult>,
): Promise<{ s: number; result: ReadResult }> {
  let s = Infinity;
  let result: ReadResult = { packets: 0, bytes: 0 };
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    result = await fn();
    s = Math.min(s, (performance.now() - t0) / 1000);
  }
  return { s, result };
}

function line(
  label: string,
  fileBytes: number,
  run: { s: number; result: ReadResult },
): string {
  const mrec = run.result.packets / run.s / 1e6;
  const mbs = fileBytes / run.s / 1e6;
  return `  ${label.padEnd(22)} ${mrec.toFixed(2).padStart(6)} M records/s ` +
    `${mbs.toFixed(0).padStart(6)} MB/s  (${run.result.packets} records, ` +
    `${(run.s * 1000).toFixed(0)} ms)`;
}

async function main(): Promise<void> {
  const roundsAt = Deno.args.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(Deno.args[roundsAt + 1] ?? 5) : 5;
  const files = [
    await ensureCapture("mixed_1m.pcap", mixedSize),
    await ensureCapture("small_1m.pcap", () => 60),
  ];
  let lib: Libpcap | null = null;
  try {
    lib = Deno.dlopen("libpcap.so.0.8", LIBPCAP_SYMBOLS);
  } catch (e) {
    say(`libpcap not loaded, FFI skipped: ${(e as Error).message}`);
  }
  for (const path of files) {
    const size = (await Deno.stat(path)).size;
    say(`${path} (${(size / 1e6).toFixed(0)} MB, warm cache)`);
    await readTs(path); // warm the page cache and the JIT
    say(
      line("TypeScript reader", size, await best(rounds, () => readTs(path))),
    );
    if (lib !== null) {
      const l = lib;
      readFfi(l, path);
      say(
        line(
          "libpcap pcap_next_ex",
          size,
          await best(rounds, () => readFfi(l, path)),
        ),
      );
      readFfiCached(l, path);
      say(
        line(
          "libpcap, cached ptrs",
          size,
          await best(rounds, () => readFfiCached(l, path)),
        ),
      );
    }
  }
  lib?.close();
}

if (import.meta.main) await main();
