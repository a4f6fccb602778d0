/**
 * Test helpers of ml/: hand-made Ethernet/IPv4 frames (TCP, UDP, DNS
 * queries, ICMP) and small seeded traffic scenarios (ordinary clients, a
 * SYN port scan, a UDP flood, a DNS tunnel) as frame batches for a real
 * pipeline, so features and models can be tested without capture files.
 *
 * @module
 */
import { BatchBuilder, type FrameBatch } from "../capture/mod.ts";
import { formatAddr, parseAddr } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { FeatureExtractor } from "./features.ts";
import { Prng } from "./prng.ts";

/** One frame to be batched. */
export interface Frame {
  tsUs: number;
  data: Uint8Array;
}

function ip4(text: string): number {
  const a = parseAddr(text);
  if (a === null || a.version !== 4) throw new TypeError(`not IPv4: ${text}`);
  return a.words[0]!;
}

function ethIp(
  src: string,
  dst: string,
  proto: number,
  l4: Uint8Array,
): Uint8Array {
  const f = new Uint8Array(14 + 20 + l4.length);
  const v = new DataView(f.buffer);
  f.set([2, 0x99, 0, 0, 0, 1, 2, 0x99, 0, 0, 0, 2], 0);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, 20 + l4.length);
  v.setUint8(22, 64);
  v.setUint8(23, proto);
  v.setUint32(26, ip4(src));
  v.setUint32(30, ip4(dst));
  f.set(l4, 34);
  return f;
}

/** TCP flag bits. */
export const FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16;

/** An Ethernet/IPv4/TCP frame with `payload` bytes of zeros. */
export function tcpFrame(
  src: string,
  dst: string,
  o: { sport: number; dport: number; flags: number; payload?: number },
): Uint8Array {
  const l4 = new Uint8Array(20 + (o.payload ?? 0));
  const v = new DataView(l4.buffer);
  v.setUint16(0, o.sport);
  v.setUint16(2, o.dport);
  v.setUint8(12, 0x50);
  v.setUint8(13, o.flags);
  v.setUint16(14, 65535);
  return ethIp(src, dst, 6, l4);
}

/** An Ethernet/IPv4/UDP frame carrying `payload`. */
export function udpFrame(
  src: string,
  dst: string,
  o: { sport: number; dport: number; payload: Uint8Array },
): Uint8Array {
  const l4 = new Uint8Array(8 + o.payload.length);
  const v = new DataView(l4.buffer);
  v.setUint16(0, o.sport);
  v.setUint16(2, o.dport);
  v.setUint16(4, l4.length);
  l4.set(o.payload, 8);
  return ethIp(src, dst, 17, l4);
}

/** A DNS query message for `name` of type `qtype`. */
export function dnsQuery(name: string, qtype = 1, id = 1): Uint8Array {
  const labels = name.split(".").filter((l) => l !== "");
  const len = 12 + labels.reduce((n, l) => n + l.length + 1, 0) + 1 + 4;
  const m = new Uint8Array(len);
  const v = new DataView(m.buffer);
  v.setUint16(0, id);
  v.setUint16(2, 0x0100);
  v.setUint16(4, 1);
  let o = 12;
  for (const l of labels) {
    m[o++] = l.length;
    for (let i = 0; i < l.length; i++) m[o++] = l.charCodeAt(i);
  }
  m[o++] = 0;
  v.setUint16(o, qtype);
  v.setUint16(o + 2, 1);
  return m;
}

/** An ICMP echo request. */
export function icmpEcho(src: string, dst: string): Uint8Array {
  const l4 = new Uint8Array(16);
  l4[0] = 8;
  return ethIp(src, dst, 1, l4);
}

/** Packs frames (sorted by time) into batches of at most `size` frames. */
export function toBatches(frames: Frame[], size = 512): FrameBatch[] {
  frames.sort((a, b) => a.tsUs - b.tsUs);
  const out: FrameBatch[] = [];
  const b = new BatchBuilder(size);
  for (const f of frames) {
    if (b.full) out.push(b.take()!);
    b.push(f.data, 0, f.data.length, f.data.length, f.tsUs, 1);
  }
  const last = b.take();
  if (last) out.push(last);
  return out;
}

/** Epoch of the generated traffic, µs (2026-01-01T00:00:00Z). */
export const T0 = Date.UTC(2026, 0, 1) * 1000;

/** A full TCP exchange: handshake, request, response, close. */
function tcpSession(
  out: Frame[],
  rng: Prng,
  o: {
    client: string;
    server: string;
    dport: number;
    t: number;
    bytesBack: number;
  },
): void {
  const sport = 32768 + rng.int(28000);
  const c = o.client, s = o.server;
  let t = o.t;
  const rtt = 200 + rng.int(2000);
  const step = () => (t += rtt / 2 + rng.int(200));
  const cs = (flags: number, payload = 0) =>
    out.push({
      tsUs: t,
      data: tcpFrame(c, s, { sport, dport: o.dport, flags, payload }),
    });
  const sc = (flags: number, payload = 0) =>
    out.push({
      tsUs: t,
      data: tcpFrame(s, c, { sport: o.dport, dport: sport, flags, payload }),
    });
  cs(SYN);
  step();
  sc(SYN | ACK);
  step();
  cs(ACK);
  cs(PSH | ACK, 200 + rng.int(300));
  step();
  let left = o.bytesBack;
  while (left > 0) {
    const n = Math.min(1400, left);
    sc(ACK, n);
    left -= n;
    if (rng.next() < 0.5) {
      step();
      cs(ACK);
    }
  }
  step();
  cs(FIN | ACK);
  step();
  sc(FIN | ACK);
  step();
  cs(ACK);
}

const NAMES = [
  "example.com",
  "www.lab.test",
  "mail.lab.test",
  "api.weather.test",
  "cdn.images.test",
];

/**
 * Ordinary traffic of a few clients for `seconds`: web sessions (80/443),
 * SSH, DNS lookups, an occasional ping.
 */
export function benignTraffic(
  o: { seed: number; seconds: number; start?: number },
): Frame[] {
  const rng = new Prng(o.seed);
  const out: Frame[] = [];
  const clients = ["10.99.0.20", "10.99.0.21", "10.99.0.30"];
  const servers = ["10.99.0.10", "10.99.0.11"];
  const t0 = o.start ?? T0;
  for (let t = t0; t < t0 + o.seconds * 1e6; t += 150_000 + rng.int(500_000)) {
    const c = clients[rng.int(clients.length)]!;
    const r = rng.next();
    if (r < 0.45) {
      const name = NAMES[rng.int(NAMES.length)]!;
      const sport = 1024 + rng.int(60000);
      out.push({
        tsUs: t,
        data: udpFrame(c, "10.99.0.10", {
          sport,
          dport: 53,
          payload: dnsQuery(name, rng.next() < 0.7 ? 1 : 28),
        }),
      });
      out.push({
        tsUs: t + 800,
        data: udpFrame("10.99.0.10", c, {
          sport: 53,
          dport: sport,
          payload: dnsQuery(name),
        }),
      });
    } else if (r < 0.9) {
      tcpSession(out, rng, {
        client: c,
        server: servers[rng.int(servers.length)]!,
        dport: rng.next() < 0.6 ? 443 : 80,
        t,
        bytesBack: 500 + rng.int(60000),
      });
    } else if (r < 0.98) {
      tcpSession(out, rng, {
        client: c,
        server: "10.99.0.10",
        dport: 22,
        t,
        bytesBack: 3000 + rng.int(9000),
      });
    } else {
      out.push({ tsUs: t, data: icmpEcho(c, "10.99.0.10") });
      out.push({ tsUs: t + 300, data: icmpEcho("10.99.0.10", c) });
    }
  }
  return out;
}

/** A SYN scan of `ports` ports of `target` from `attacker`, closed ports answering RST. */
export function synScan(
  o: {
    attacker: string;
    target: string;
    ports: number;
    t: number;
    seed?: number;
  },
): Frame[] {
  const rng = new Prng(o.seed ?? 7);
  const out: Frame[] = [];
  let t = o.t;
  for (let i = 0; i < o.ports; i++) {
    const dport = 1 + ((i * 7919) % 10000);
    const sport = 40000 + rng.int(20000);
    out.push({
      tsUs: t,
      data: tcpFrame(o.attacker, o.target, { sport, dport, flags: SYN }),
    });
    out.push({
      tsUs: t + 150,
      data: tcpFrame(o.target, o.attacker, {
        sport: dport,
        dport: sport,
        flags: RST | ACK,
      }),
    });
    t += 2000;
  }
  return out;
}

/** A UDP flood: `packets` datagrams of `size` bytes to random high ports. */
export function udpFlood(
  o: {
    attacker: string;
    target: string;
    packets: number;
    t: number;
    size?: number;
  },
): Frame[] {
  const rng = new Prng(11);
  const out: Frame[] = [];
  const payload = new Uint8Array(o.size ?? 512);
  for (let i = 0; i < o.packets; i++) {
    out.push({
      tsUs: o.t + i * 100,
      data: udpFrame(o.attacker, o.target, {
        sport: 1024 + rng.int(60000),
        dport: 1024 + rng.int(60000),
        payload,
      }),
    });
  }
  return out;
}

/** DNS tunnel queries: long random TXT names under one domain. */
export function dnsTunnel(
  o: { client: string; queries: number; t: number },
): Frame[] {
  const rng = new Prng(13);
  const out: Frame[] = [];
  const abc = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; i < o.queries; i++) {
    let label = "";
    for (let k = 0; k < 50; k++) label += abc[rng.int(abc.length)];
    let label2 = "";
    for (let k = 0; k < 40; k++) label2 += abc[rng.int(abc.length)];
    const name = `${label}.${label2}.t.tun.test`;
    const sport = 1024 + rng.int(60000);
    out.push({
      tsUs: o.t + i * 50_000,
      data: udpFrame(o.client, "10.99.0.10", {
        sport,
        dport: 53,
        payload: dnsQuery(name, 16),
      }),
    });
    out.push({
      tsUs: o.t + i * 50_000 + 900,
      data: udpFrame("10.99.0.10", o.client, {
        sport: 53,
        dport: sport,
        payload: dnsQuery(name, 16),
      }),
    });
  }
  return out;
}

/**
 * Runs frames through a real pipeline with a {@link FeatureExtractor} and
 * returns every finished flow's feature vector, row after row, plus the
 * flows' client addresses in the same order.
 */
export function featureRows(
  frames: Frame[],
): { rows: Float64Array; count: number; src: string[] } {
  const out: number[] = [];
  const src: string[] = [];
  const fx = new FeatureExtractor((f, v) => {
    for (let i = 0; i < v.length; i++) out.push(v[i]!);
    src.push(formatAddr(f.version, f.srcAddr));
  });
  const p = new Pipeline({ observers: [fx] });
  for (const b of toBatches(frames)) p.processBatch(b);
  p.finish();
  return { rows: Float64Array.from(out), count: src.length, src };
}
