/**
 * Sends the frames of a capture file out of an interface, in order and
 * round and round, at a paced rate: the mixed-traffic sender of the `live`
 * section (the flood sender of bench/live_capture_rate.ts repeats one
 * frame). The first FRAMES frames are loaded into one buffer and described
 * once by an array of `struct mmsghdr`, so each libc `sendmmsg()` call on
 * a packet socket sends the next 256 frames with no work per frame.
 * Prints `{"sent": N, "seconds": S}`. Needs root; run it inside the
 * sending namespace.
 *
 *   deno run -A bench/_replay_sender.ts IFACE FILE FRAMES RATE SECONDS
 *
 * RATE is frames per second (0: as fast as the sender goes).
 *
 * @module
 */
import { readCaptureFile } from "../capture/mod.ts";

const LIBC = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const AF_PACKET = 17;
const SOCK_RAW = 3;
const VLEN = 256;

/** Loads up to `max` Ethernet frames of `path` into one buffer. */
async function loadFrames(
  path: string,
  max: number,
): Promise<{ data: Uint8Array; offsets: number[]; lens: number[] }> {
  const chunks: Uint8Array[] = [];
  const offsets: number[] = [];
  const lens: number[] = [];
  let total = 0;
  for await (const b of readCaptureFile(path)) {
    for (let i = 0; i < b.count && offsets.length < max; i++) {
      if (b.linktypes[i] !== 1) continue;
      const o = b.offsets[i]!, n = b.caplens[i]!;
      chunks.push(b.data.slice(o, o + n));
      offsets.push(total);
      lens.push(n);
      total += n;
    }
    if (offsets.length >= max) break;
  }
  const data = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return { data, offsets, lens };
}

async function main(args: string[]): Promise<void> {
  const [iface, path, framesArg, rateArg, secondsArg] = args;
  if (secondsArg === undefined) {
    throw new Error(
      "Usage: _replay_sender.ts IFACE FILE FRAMES RATE SECONDS",
    );
  }
  const rate = Number(rateArg), seconds = Number(secondsArg);
  const { data, offsets, lens } = await loadFrames(path!, Number(framesArg));
  const n = offsets.length;
  if (n === 0) throw new Error(`No Ethernet frames in "${path}"`);
  const libc = Deno.dlopen("libc.so.6", LIBC);
  try {
    const fd = libc.symbols.socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) throw new Error("Cannot open a packet socket (needs root)");
    const index = libc.symbols.if_nametoindex(
      new TextEncoder().encode(iface + "\0"),
    );
    if (index === 0) throw new Error(`No interface "${iface}"`);
    const sll = new Uint8Array(20);
    const sv = new DataView(sll.buffer);
    sv.setUint16(0, AF_PACKET, true);
    sv.setUint16(2, 0x0003); // ETH_P_ALL, big-endian
    sv.setInt32(4, index, true);
    if (libc.symbols.bind(fd, sll, 20) < 0) {
      throw new Error(`Cannot bind a packet socket to "${iface}"`);
    }
    // One iovec a frame, one 64-byte mmsghdr a frame pointing at it.
    const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(data));
    const iov = new BigUint64Array(2 * n);
    for (let i = 0; i < n; i++) {
      iov[2 * i] = base + BigInt(offsets[i]!);
      iov[2 * i + 1] = BigInt(lens[i]!);
    }
    const iovBase = Deno.UnsafePointer.value(Deno.UnsafePointer.of(iov));
    const msgs = new BigUint64Array(8 * n);
    for (let i = 0; i < n; i++) {
      msgs[8 * i + 2] = iovBase + BigInt(16 * i);
      msgs[8 * i + 3] = 1n;
    }
    const start = performance.now();
    const end = start + seconds * 1000;
    let sent = 0, at = 0;
    while (true) {
      const now = performance.now();
      if (now >= end) break;
      const due = rate > 0
        ? Math.floor(((now - start) / 1000) * rate) - sent
        : VLEN;
      if (due < 1) continue;
      const k = Math.min(VLEN, due, n - at);
      const r = libc.symbols.sendmmsg(fd, msgs.subarray(8 * at), k, 0);
      if (r > 0) {
        sent += r;
        at = (at + r) % n;
      }
    }
    const took = (performance.now() - start) / 1000;
    libc.symbols.close(fd);
    // The kernel read these through raw addresses: keep them alive till here.
    if (data.length + iov.length + msgs.length === 0) return;
    Deno.stdout.writeSync(
      new TextEncoder().encode(
        JSON.stringify({ sent, seconds: took }) + "\n",
      ),
    );
  } finally {
    libc.close();
  }
}

if (import.meta.main) await main(Deno.args);
