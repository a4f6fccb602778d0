/**
 * Test helpers of decode/: frames and batches of the tcpdump corpus (read
 * with capture's file reader), batches built from frames, builders for
 * hand-made frames, and a seeded PRNG.
 *
 * @module
 */
import {
  BatchBuilder,
  type FrameBatch,
  readCaptureFile,
} from "../capture/mod.ts";
import { parseAddr } from "./addr.ts";

/** The tcpdump test corpus (830 captures, many deliberately malformed). */
export const CORPUS_DIR = new URL(
  "../../shared/pcaps/tcpdump-tests/",
  import.meta.url,
);

/** One frame held alone, with its metadata. */
export interface TestFrame {
  data: Uint8Array;
  linktype: number;
  wirelen: number;
  tsUs: number;
}

/** Names of the corpus files (pcap and pcapng), sorted. */
export function corpusFiles(): string[] {
  const names: string[] = [];
  for (const e of Deno.readDirSync(CORPUS_DIR)) {
    if (e.isFile && /\.(pcap|pcapng)$/.test(e.name)) names.push(e.name);
  }
  return names.sort();
}

/** Every batch of a corpus file, read with the capture file reader. */
export async function corpusBatches(name: string): Promise<FrameBatch[]> {
  const path = new URL(name, CORPUS_DIR).pathname;
  const batches: FrameBatch[] = [];
  for await (const b of readCaptureFile(path)) batches.push(b);
  return batches;
}

/** Every frame of a corpus file, each copied out of its batch. */
export async function corpusFrames(name: string): Promise<TestFrame[]> {
  const frames: TestFrame[] = [];
  for (const b of await corpusBatches(name)) {
    for (let i = 0; i < b.count; i++) {
      const o = b.offsets[i]!;
      frames.push({
        data: b.data.slice(o, o + b.caplens[i]!),
        linktype: b.linktypes[i]!,
        wirelen: b.wirelens[i]!,
        tsUs: b.tsUs[i]!,
      });
    }
  }
  return frames;
}

/** Packs frames into one batch. */
export function batchOf(frames: readonly TestFrame[]): FrameBatch {
  const b = new BatchBuilder(Math.max(1, frames.length), 1 << 16);
  for (const f of frames) {
    b.push(f.data, 0, f.data.length, f.wirelen, f.tsUs, f.linktype);
  }
  return b.take() ?? new BatchBuilder(1, 1).take()!;
}

/** Concatenates byte arrays, number lists and ASCII strings. */
export function cat(...parts: (Uint8Array | number[] | string)[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    if (typeof p === "string") {
      for (let i = 0; i < p.length; i++) out[o++] = p.charCodeAt(i) & 0xff;
    } else {
      out.set(p, o);
      o += p.length;
    }
  }
  return out;
}

/** Big-endian 16-bit value as two bytes. */
export function u16(x: number): number[] {
  return [(x >> 8) & 0xff, x & 0xff];
}

/** Big-endian 32-bit value as four bytes. */
export function u32(x: number): number[] {
  return [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
}

/** The 4 or 16 bytes of an address written as text. */
export function addrBytes(text: string): number[] {
  const a = parseAddr(text);
  if (a === null) throw new TypeError(`Not an address: "${text}"`);
  if (a.version === 4) return u32(a.words[0]!);
  return [...a.words].flatMap(u32);
}

/** Ethernet header (with optional 802.1Q tags) followed by `payload`. */
export function eth(
  type: number,
  payload: Uint8Array,
  opts: { vlans?: number[]; tpid?: number } = {},
): Uint8Array {
  const tags: number[] = [];
  for (const id of opts.vlans ?? []) {
    tags.push(...u16(opts.tpid ?? 0x8100), ...u16(id));
  }
  return cat(
    [0, 1, 2, 3, 4, 5],
    [6, 7, 8, 9, 10, 11],
    tags,
    u16(type),
    payload,
  );
}

/** Fields of a hand-built IPv4 header. */
export interface Ipv4Opts {
  src?: string;
  dst?: string;
  proto: number;
  ttl?: number;
  id?: number;
  /** Option bytes (padded with zeros to a multiple of 4). */
  options?: number[];
  /** Flags and fragment offset word (MF = 0x2000, offset in 8-byte units). */
  frag?: number;
  /** Total length to write instead of the true one. */
  totalLength?: number;
  /** IHL (in 4-byte words) to write instead of the true one. */
  ihl?: number;
}

/** An IPv4 header followed by `payload`. */
export function ipv4(o: Ipv4Opts, payload: Uint8Array): Uint8Array {
  const opt = [...(o.options ?? [])];
  while (opt.length % 4 !== 0) opt.push(0);
  const hl = 20 + opt.length;
  const ihl = o.ihl ?? hl / 4;
  return cat(
    [0x40 | (ihl & 15), 0],
    u16(o.totalLength ?? hl + payload.length),
    u16(o.id ?? 0x1234),
    u16(o.frag ?? 0),
    [o.ttl ?? 64, o.proto],
    [0, 0],
    addrBytes(o.src ?? "10.0.0.1"),
    addrBytes(o.dst ?? "10.0.0.2"),
    opt,
    payload,
  );
}

/** An IPv6 header followed by `payload` (extension headers included there). */
export function ipv6(
  o: { src?: string; dst?: string; nh: number; hlim?: number; plen?: number },
  payload: Uint8Array,
): Uint8Array {
  return cat(
    [0x60, 0, 0, 0],
    u16(o.plen ?? payload.length),
    [o.nh, o.hlim ?? 64],
    addrBytes(o.src ?? "2001:db8::1"),
    addrBytes(o.dst ?? "2001:db8::2"),
    payload,
  );
}

/** An IPv6 extension header of the options kind (8-byte units). */
export function ipv6Ext(
  nh: number,
  body: number[] = [0, 0, 0, 0, 0, 0],
): number[] {
  const b = [...body];
  while ((b.length + 2) % 8 !== 0) b.push(0);
  return [nh, (b.length + 2) / 8 - 1, ...b];
}

/** Fields of a hand-built TCP header. */
export interface TcpOpts {
  sport: number;
  dport: number;
  flags: number;
  seq?: number;
  ack?: number;
  window?: number;
  options?: number[];
  /** Data offset (in 4-byte words) to write instead of the true one. */
  dataOffset?: number;
}

/** A TCP header followed by `payload`. */
export function tcp(
  o: TcpOpts,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const opt = [...(o.options ?? [])];
  while (opt.length % 4 !== 0) opt.push(1);
  const off = o.dataOffset ?? (20 + opt.length) / 4;
  return cat(
    u16(o.sport),
    u16(o.dport),
    u32(o.seq ?? 1000),
    u32(o.ack ?? 0),
    [off << 4, o.flags],
    u16(o.window ?? 65535),
    [0, 0, 0, 0],
    opt,
    payload,
  );
}

/** A UDP header (length from the payload unless given) followed by `payload`. */
export function udp(
  o: { sport: number; dport: number; length?: number },
  payload: Uint8Array,
): Uint8Array {
  return cat(
    u16(o.sport),
    u16(o.dport),
    u16(o.length ?? 8 + payload.length),
    [0, 0],
    payload,
  );
}

/** DNS name in wire form (labels, then the root). */
export function dnsName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".")) {
    if (label === "") continue;
    out.push(label.length, ...[...label].map((c) => c.charCodeAt(0)));
  }
  out.push(0);
  return out;
}

/** A DNS query for `name` of `qtype`, class IN. */
export function dnsQuery(name: string, qtype = 1, id = 0xbeef): Uint8Array {
  return cat(
    u16(id),
    u16(0x0100),
    u16(1),
    u16(0),
    u16(0),
    u16(0),
    dnsName(name),
    u16(qtype),
    u16(1),
  );
}

/** A TLS record holding a ClientHello with an SNI and supported_versions. */
export function clientHello(
  o: { sni?: string; versions?: number[]; legacy?: number; pad?: number } = {},
): Uint8Array {
  const exts: number[] = [];
  // A GREASE extension first, as browsers send.
  exts.push(...u16(0x0a0a), ...u16(0));
  if (o.sni !== undefined) {
    const name = [...o.sni].map((c) => c.charCodeAt(0));
    const entry = [0, ...u16(name.length), ...name];
    const list = [...u16(entry.length), ...entry];
    exts.push(...u16(0), ...u16(list.length), ...list);
  }
  if (o.versions !== undefined) {
    const vs = o.versions.flatMap(u16);
    exts.push(...u16(43), ...u16(vs.length + 1), vs.length, ...vs);
  }
  if (o.pad !== undefined) {
    exts.push(...u16(21), ...u16(o.pad), ...new Array(o.pad).fill(0));
  }
  const body = [
    ...u16(o.legacy ?? 0x0303),
    ...new Array(32).fill(7),
    32,
    ...new Array(32).fill(9),
    ...u16(4),
    0x13,
    0x01,
    0xc0,
    0x2f,
    1,
    0,
    ...u16(exts.length),
    ...exts,
  ];
  const hs = [1, (body.length >> 16) & 0xff, ...u16(body.length), ...body];
  return cat([22, 3, 1], u16(hs.length), hs);
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence. */
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

/** The 6 bytes of a MAC written as text ("02:99:0a:63:00:42"). */
export function macBytes(text: string): number[] {
  return text.split(":").map((h) => parseInt(h, 16));
}

/** An Ethernet frame with the given MACs and EtherType. */
export function ethMacs(
  dst: string,
  src: string,
  type: number,
  payload: Uint8Array,
): Uint8Array {
  return cat(macBytes(dst), macBytes(src), u16(type), payload);
}

/** An Ethernet/IPv4 ARP message (op 1 request, 2 reply). */
export function arpMessage(
  o: { op: number; sha: string; spa: string; tha?: string; tpa: string },
): Uint8Array {
  return cat(
    u16(1),
    u16(0x0800),
    [6, 4],
    u16(o.op),
    macBytes(o.sha),
    addrBytes(o.spa),
    macBytes(o.tha ?? "00:00:00:00:00:00"),
    addrBytes(o.tpa),
  );
}

/**
 * An ICMPv6 neighbour-discovery message body (type, code, checksum, the
 * type's fixed part, then a link-layer address option when `lla` is given).
 */
export function ndMessage(
  o: {
    type: number;
    code?: number;
    target?: string;
    flags?: number;
    lifetime?: number;
    lla?: string;
    /** Raw option bytes appended after the link-layer option. */
    options?: number[];
  },
): Uint8Array {
  const fixed: number[] = [];
  if (o.type === 133) fixed.push(0, 0, 0, 0);
  else if (o.type === 134) {
    fixed.push(64, o.flags ?? 0, ...u16(o.lifetime ?? 1800), ...u32(0));
    fixed.push(...u32(0));
  } else {
    fixed.push(o.flags ?? 0, 0, 0, 0, ...addrBytes(o.target ?? "::"));
    if (o.type === 137) fixed.push(...addrBytes("::"));
  }
  const optType = o.type === 136 || o.type === 137 ? 2 : 1;
  const opt = o.lla !== undefined ? [optType, 1, ...macBytes(o.lla)] : [];
  return cat([o.type, o.code ?? 0, 0, 0], fixed, opt, o.options ?? []);
}

/** A DHCP message (BOOTP header, magic cookie, options, end). */
export function dhcpMessage(
  o: {
    op: number;
    type: number;
    chaddr: string;
    yiaddr?: string;
    serverId?: string;
    router?: string;
    dns?: string[];
    lease?: number;
    /** Raw option bytes placed before the message type. */
    before?: number[];
    /** Leave out the end option. */
    noEnd?: boolean;
  },
): Uint8Array {
  const opts: number[] = [...(o.before ?? []), 53, 1, o.type];
  if (o.serverId) opts.push(54, 4, ...addrBytes(o.serverId));
  if (o.router) opts.push(3, 4, ...addrBytes(o.router));
  if (o.dns) opts.push(6, 4 * o.dns.length, ...o.dns.flatMap(addrBytes));
  if (o.lease !== undefined) opts.push(51, 4, ...u32(o.lease));
  if (!o.noEnd) opts.push(255);
  const chaddr = [...macBytes(o.chaddr), ...new Array(10).fill(0)];
  return cat(
    [o.op, 1, 6, 0],
    u32(0x3903f326),
    u16(0),
    u16(0x8000),
    u32(0),
    addrBytes(o.yiaddr ?? "0.0.0.0"),
    u32(0),
    u32(0),
    chaddr,
    new Array(192).fill(0),
    [99, 130, 83, 99],
    opts,
  );
}
