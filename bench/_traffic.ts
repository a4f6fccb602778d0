/**
 * Synthetic traffic for benchmarks: Ethernet/IPv4 frames of a realistic mix
 * (TCP connections with HTTP requests and TLS ClientHellos, DNS queries and
 * answers, bulk transfers), generated deterministically from a seed and
 * written as pcap.
 *
 * @module
 */
import { PcapWriter } from "../capture/mod.ts";

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();

/** Fields of one synthetic IPv4 frame. */
export interface FrameSpec {
  src: number;
  dst: number;
  proto: 6 | 17 | 1;
  sport?: number;
  dport?: number;
  flags?: number;
  seq?: number;
  ack?: number;
  payload?: Uint8Array;
  /** Extra payload bytes counted on the wire but not captured. */
  padTo?: number;
  icmpType?: number;
}

/** Builds an Ethernet + IPv4 + TCP/UDP/ICMP frame. */
export function buildFrame(f: FrameSpec): Uint8Array {
  const payload = f.payload ?? new Uint8Array(0);
  const l4 = f.proto === 6 ? 20 : 8;
  const ipLen = 20 + l4 + payload.length;
  const buf = new Uint8Array(14 + ipLen);
  const v = new DataView(buf.buffer);
  buf.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, ipLen);
  v.setUint8(22, 64);
  v.setUint8(23, f.proto);
  v.setUint32(26, f.src);
  v.setUint32(30, f.dst);
  const o = 34;
  if (f.proto === 6) {
    v.setUint16(o, f.sport ?? 0);
    v.setUint16(o + 2, f.dport ?? 0);
    v.setUint32(o + 4, f.seq ?? 0);
    v.setUint32(o + 8, f.ack ?? 0);
    v.setUint8(o + 12, 0x50);
    v.setUint8(o + 13, f.flags ?? 0x10);
    v.setUint16(o + 14, 64240);
  } else if (f.proto === 17) {
    v.setUint16(o, f.sport ?? 0);
    v.setUint16(o + 2, f.dport ?? 0);
    v.setUint16(o + 4, 8 + payload.length);
  } else {
    v.setUint8(o, f.icmpType ?? 8);
  }
  buf.set(payload, o + l4);
  return buf;
}

function dnsMessage(id: number, name: string, answer: boolean): Uint8Array {
  const labels = name.split(".");
  const qlen = labels.reduce((n, l) => n + l.length + 1, 1) + 4;
  const out = new Uint8Array(12 + qlen + (answer ? 16 : 0));
  const v = new DataView(out.buffer);
  v.setUint16(0, id);
  v.setUint16(2, answer ? 0x8180 : 0x0100);
  v.setUint16(4, 1);
  v.setUint16(6, answer ? 1 : 0);
  let o = 12;
  for (const l of labels) {
    out[o++] = l.length;
    out.set(enc.encode(l), o);
    o += l.length;
  }
  out[o++] = 0;
  v.setUint16(o, 1);
  v.setUint16(o + 2, 1);
  o += 4;
  if (answer) {
    v.setUint16(o, 0xc00c);
    v.setUint16(o + 2, 1);
    v.setUint16(o + 4, 1);
    v.setUint32(o + 6, 300);
    v.setUint16(o + 10, 4);
    v.setUint32(o + 12, 0x5db8d822);
  }
  return out;
}

function clientHello(sni: string): Uint8Array {
  const name = enc.encode(sni);
  const ext = 9 + name.length;
  const hsLen = 2 + 32 + 1 + 2 + 2 + 2 + 2 + ext;
  const out = new Uint8Array(5 + 4 + hsLen);
  const v = new DataView(out.buffer);
  out[0] = 22;
  v.setUint16(1, 0x0301);
  v.setUint16(3, 4 + hsLen);
  out[5] = 1;
  v.setUint32(5, (1 << 24) | hsLen);
  let o = 9;
  v.setUint16(o, 0x0303);
  o += 2 + 32;
  out[o++] = 0;
  v.setUint16(o, 2);
  v.setUint16(o + 2, 0x1301);
  o += 4;
  out[o++] = 1;
  out[o++] = 0;
  v.setUint16(o, ext);
  o += 2;
  v.setUint16(o, 0);
  v.setUint16(o + 2, 5 + name.length);
  v.setUint16(o + 4, 3 + name.length);
  out[o + 6] = 0;
  v.setUint16(o + 7, name.length);
  out.set(name, o + 9);
  return out;
}

/** Options of {@link writeMixedCapture}. */
export interface MixOptions {
  /** Frames to write (approximately; whole sessions are written). */
  packets: number;
  /** Distinct client addresses. */
  clients?: number;
  seed?: number;
  /** Snap length for bulk payloads (the rest is wire length only). */
  snap?: number;
}

/**
 * Writes a capture of realistic mixed traffic: web sessions (handshake,
 * HTTP request, a response of a few segments, close), TLS sessions with an
 * SNI, DNS lookups, and bulk transfers. Returns the frames written.
 */
export async function writeMixedCapture(
  path: string,
  opts: MixOptions,
): Promise<number> {
  const rnd = prng(opts.seed ?? 1);
  const clients = opts.clients ?? 2000;
  const snap = opts.snap ?? 128;
  await using w = await PcapWriter.create(path, { linktype: 1, snaplen: snap });
  let ts = Date.UTC(2026, 0, 1) * 1000;
  let n = 0;
  const emit = async (f: FrameSpec, wire?: number) => {
    const frame = buildFrame(f);
    ts += Math.floor(rnd() * 200);
    const cut = frame.length > snap ? frame.subarray(0, snap) : frame;
    await w.write(ts, cut, wire ?? frame.length);
    n++;
  };
  const server = (k: number) => 0x5db8d800 + (k % 64);
  while (n < opts.packets) {
    const c = 0x0a000000 + 100 + Math.floor(rnd() * clients);
    const sport = 1024 + Math.floor(rnd() * 60000);
    const r = rnd();
    if (r < 0.35) {
      const d = 0x0a000001;
      const name = `host${Math.floor(rnd() * 5000)}.example.com`;
      const id = Math.floor(rnd() * 65535);
      await emit({
        src: c,
        dst: d,
        proto: 17,
        sport,
        dport: 53,
        payload: dnsMessage(id, name, false),
      });
      await emit({
        src: d,
        dst: c,
        proto: 17,
        sport: 53,
        dport: sport,
        payload: dnsMessage(id, name, true),
      });
      continue;
    }
    const s = server(Math.floor(rnd() * 1000));
    const tls = r < 0.7;
    const dport = tls ? 443 : 80;
    // Initial sequence numbers from the packet count (no draw from rnd,
    // so the rest of the capture is what the seed made before they came).
    const cs = Math.imul(n + 1, 2654435761) >>> 0;
    const ss = Math.imul(n + 7, 40503) >>> 0;
    const c2s = (o: number) => (cs + 1 + o) >>> 0;
    const s2c = (o: number) => (ss + 1 + o) >>> 0;
    await emit({
      src: c,
      dst: s,
      proto: 6,
      sport,
      dport,
      flags: 0x02,
      seq: cs,
    });
    await emit({
      src: s,
      dst: c,
      proto: 6,
      sport: dport,
      dport: sport,
      flags: 0x12,
      seq: ss,
      ack: c2s(0),
    });
    await emit({
      src: c,
      dst: s,
      proto: 6,
      sport,
      dport,
      flags: 0x10,
      seq: c2s(0),
      ack: s2c(0),
    });
    const req = tls
      ? clientHello(`www${Math.floor(rnd() * 300)}.example.org`)
      : enc.encode(
        `GET /page/${
          Math.floor(rnd() * 1e6)
        } HTTP/1.1\r\nHost: example.net\r\nUser-Agent: bench/1.0\r\n\r\n`,
      );
    await emit({
      src: c,
      dst: s,
      proto: 6,
      sport,
      dport,
      flags: 0x18,
      seq: c2s(0),
      ack: s2c(0),
      payload: req,
    });
    const sent = req.length;
    const segments = r > 0.95 ? 40 : 2 + Math.floor(rnd() * 6);
    const body = new Uint8Array(1460);
    for (let i = 0; i < segments; i++) {
      await emit({
        src: s,
        dst: c,
        proto: 6,
        sport: dport,
        dport: sport,
        flags: 0x10,
        seq: s2c(i * 1460),
        ack: c2s(sent),
        payload: body,
      });
      if (i % 2 === 1) {
        await emit({
          src: c,
          dst: s,
          proto: 6,
          sport,
          dport,
          flags: 0x10,
          seq: c2s(sent),
          ack: s2c((i + 1) * 1460),
        });
      }
    }
    const got = segments * 1460;
    await emit({
      src: c,
      dst: s,
      proto: 6,
      sport,
      dport,
      flags: 0x11,
      seq: c2s(sent),
      ack: s2c(got),
    });
    await emit({
      src: s,
      dst: c,
      proto: 6,
      sport: dport,
      dport: sport,
      flags: 0x11,
      seq: s2c(got),
      ack: c2s(sent + 1),
    });
    await emit({
      src: c,
      dst: s,
      proto: 6,
      sport,
      dport,
      flags: 0x10,
      seq: c2s(sent + 1),
      ack: s2c(got + 1),
    });
  }
  return n;
}
