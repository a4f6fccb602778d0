/**
 * Rewrites every TCP connection of a capture the way a hostile or unlucky
 * network would deliver it, without changing what either endpoint reads:
 * each data segment is cut into 1-byte segments or segments of random
 * sizes, the pieces are reordered within a window, duplicated, and resent
 * as overlapping (identical) retransmissions, the first bytes of the
 * client's data are carried on its SYN (TCP Fast Open, refused by the
 * server as its acknowledgement shows, so the data is sent again), and a
 * FIN travels on the last data segment or ahead of it. A `differ` variant
 * also sends, after an out-of-order piece, a second copy of it with other
 * bytes (the classic evasion: the first copy is what the endpoint kept).
 *
 * A test tool, not the product: legacy pcap in, legacy pcap out; Ethernet
 * frames with IPv4 or IPv6 (no extension headers) and TCP are rewritten,
 * every other frame is copied. Seeded, so a failure repeats.
 *
 * ```sh
 * deno run -R -W tests/tools/resegment.ts in.pcap out.pcap --mode one --seed 1
 * ```
 *
 * @module
 */

/** How to rewrite. */
export interface ResegmentOptions {
  /** "one": 1-byte segments; "random": 1 to `maxSize` bytes. */
  sizes: "one" | "random";
  maxSize?: number;
  /** Shuffle pieces within runs of this many (0: keep the order). */
  window?: number;
  /** Share of pieces also sent again later (identical). */
  duplicate?: number;
  /** Share of pieces followed by an overlapping retransmission (identical). */
  overlap?: number;
  /** Carry the client's first data bytes on its SYN, and move FINs. */
  synFin?: boolean;
  /** Send a differing copy after an out-of-order piece (at most this many per connection). */
  differ?: number;
  seed?: number;
}

/** What the rewrite did. */
export interface ResegmentStats {
  framesIn: number;
  framesOut: number;
  dataSegments: number;
  differing: number;
}

interface Rec {
  ts: number;
  usec: number;
  data: Uint8Array;
  orig: number;
}

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Reads a legacy pcap (either byte order, µs or ns) into records. */
export function readPcap(
  b: Uint8Array,
): { header: Uint8Array; le: boolean; recs: Rec[] } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = v.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (
    !le && v.getUint32(0, false) !== 0xa1b2c3d4 &&
    v.getUint32(0, false) !== 0xa1b23c4d
  ) {
    throw new SyntaxError("Cannot read the capture: not a legacy pcap file");
  }
  const recs: Rec[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const incl = v.getUint32(o + 8, le);
    if (o + 16 + incl > b.length) break;
    recs.push({
      ts: v.getUint32(o, le),
      usec: v.getUint32(o + 4, le),
      data: b.slice(o + 16, o + 16 + incl),
      orig: v.getUint32(o + 12, le),
    });
    o += 16 + incl;
  }
  return { header: b.slice(0, 24), le, recs };
}

function writePcap(header: Uint8Array, le: boolean, recs: Rec[]): Uint8Array {
  let n = 24;
  for (const r of recs) n += 16 + r.data.length;
  const out = new Uint8Array(n);
  const v = new DataView(out.buffer);
  out.set(header, 0);
  let o = 24;
  for (const r of recs) {
    v.setUint32(o, r.ts, le);
    v.setUint32(o + 4, r.usec, le);
    v.setUint32(o + 8, r.data.length, le);
    v.setUint32(o + 12, r.orig, le);
    out.set(r.data, o + 16);
    o += 16 + r.data.length;
  }
  return out;
}

/** Where the parts of a TCP frame are. */
interface Tcp {
  ip: number;
  v6: boolean;
  tcp: number;
  payload: number;
  /** Payload length per the IP header, and how much of it was captured. */
  len: number;
  cap: number;
  seq: number;
  flags: number;
  key: string;
  dir: string;
}

function parseTcp(r: Rec): Tcp | null {
  const d = r.data;
  if (d.length < 14) return null;
  const et = (d[12]! << 8) | d[13]!;
  const ip = 14;
  let tcp: number, total: number, v6: boolean, src: string, dst: string;
  if (et === 0x0800) {
    if (d.length < ip + 20 || d[ip + 9] !== 6) return null;
    const ihl = (d[ip]! & 15) * 4;
    const frag = ((d[ip + 6]! << 8) | d[ip + 7]!) & 0x3fff;
    if (frag !== 0) return null;
    tcp = ip + ihl;
    total = ip + ((d[ip + 2]! << 8) | d[ip + 3]!);
    v6 = false;
    src = d.subarray(ip + 12, ip + 16).join(".");
    dst = d.subarray(ip + 16, ip + 20).join(".");
  } else if (et === 0x86dd) {
    if (d.length < ip + 40 || d[ip + 6] !== 6) return null;
    tcp = ip + 40;
    total = tcp + ((d[ip + 4]! << 8) | d[ip + 5]!);
    v6 = true;
    src = d.subarray(ip + 8, ip + 24).join(".");
    dst = d.subarray(ip + 24, ip + 40).join(".");
  } else return null;
  if (d.length < tcp + 20) return null;
  const payload = tcp + (d[tcp + 12]! >> 4) * 4;
  if (payload > d.length) return null;
  const sp = (d[tcp]! << 8) | d[tcp + 1]!,
    dp = (d[tcp + 2]! << 8) | d[tcp + 3]!;
  const a = `${src}:${sp}`, b = `${dst}:${dp}`;
  return {
    ip,
    v6,
    tcp,
    payload,
    len: Math.max(0, total - payload),
    cap: d.length - payload,
    seq: ((d[tcp + 4]! << 24) | (d[tcp + 5]! << 16) | (d[tcp + 6]! << 8) |
      d[tcp + 7]!) >>> 0,
    flags: d[tcp + 13]!,
    key: a < b ? `${a}|${b}` : `${b}|${a}`,
    dir: `${a}>${b}`,
  };
}

/** A copy of frame `r` carrying payload bytes [a, b) of it (`fill` replaces them). */
function piece(
  r: Rec,
  t: Tcp,
  a: number,
  b: number,
  flags: number,
  fill?: number,
): Rec {
  const capEnd = Math.min(b, t.cap);
  const have = Math.max(0, capEnd - a);
  const d = new Uint8Array(t.payload + have);
  d.set(r.data.subarray(0, t.payload));
  if (have > 0) {
    d.set(r.data.subarray(t.payload + a, t.payload + capEnd), t.payload);
  }
  if (fill !== undefined) d.fill(fill, t.payload);
  const v = new DataView(d.buffer);
  const tcpLen = t.payload - t.tcp + (b - a);
  if (t.v6) v.setUint16(t.ip + 4, tcpLen);
  else {
    v.setUint16(t.ip + 2, t.tcp - t.ip + tcpLen);
    v.setUint16(t.ip + 10, 0);
    let sum = 0;
    for (let i = t.ip; i < t.tcp; i += 2) sum += v.getUint16(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    v.setUint16(t.ip + 10, ~sum & 0xffff);
  }
  v.setUint32(t.tcp + 4, (t.seq + a) >>> 0);
  d[t.tcp + 13] = flags;
  return { ts: r.ts, usec: r.usec, data: d, orig: t.payload + (b - a) };
}

const FIN = 1, SYN = 2, RST = 4, PSH = 8;

/**
 * Rewrites the capture `pcap` (bytes of a legacy pcap file) as described
 * in the module doc and returns the new file's bytes.
 */
export function resegment(
  pcap: Uint8Array,
  o: ResegmentOptions,
): { bytes: Uint8Array; stats: ResegmentStats } {
  const rand = rng(o.seed ?? 1);
  const { header, le, recs } = readPcap(pcap);
  const stats: ResegmentStats = {
    framesIn: recs.length,
    framesOut: 0,
    dataSegments: 0,
    differing: 0,
  };
  const out: Rec[] = [];
  /** Output index of each connection's SYN, and how many differing copies it got. */
  const synAt = new Map<string, { at: number; t: Tcp }>();
  const differed = new Map<string, number>();
  /** Client data already put on the SYN, per connection. */
  const tfoDone = new Set<string>();
  for (const r of recs) {
    const t = parseTcp(r);
    if (t === null) {
      out.push(r);
      continue;
    }
    if ((t.flags & SYN) !== 0 && (t.flags & 0x10) === 0) {
      synAt.set(t.key, { at: out.length, t });
    }
    if (t.len === 0 || (t.flags & (SYN | RST)) !== 0) {
      // A pure FIN right after the direction's data: move it ahead of the
      // last data piece.
      if (
        o.synFin && (t.flags & FIN) !== 0 && t.len === 0 && out.length > 0
      ) {
        const prev = out[out.length - 1]!;
        const pt = parseTcp(prev);
        if (pt !== null && pt.dir === t.dir && pt.len > 0) {
          out.splice(out.length - 1, 0, r);
          continue;
        }
      }
      out.push(r);
      continue;
    }
    // TCP Fast Open: the client's first data bytes on its SYN as well.
    const syn = synAt.get(t.key);
    if (o.synFin && syn !== undefined && !tfoDone.has(t.key)) {
      tfoDone.add(t.key);
      if (syn.t.dir === t.dir && ((syn.t.seq + 1) >>> 0) === t.seq) {
        const n = Math.min(t.len, t.cap, 1 + Math.floor(rand() * 16));
        const s = out[syn.at]!;
        const sd = new Uint8Array(s.data.length + n);
        sd.set(s.data);
        sd.set(r.data.subarray(t.payload, t.payload + n), s.data.length);
        const sv = new DataView(sd.buffer);
        if (syn.t.v6) {
          sv.setUint16(syn.t.ip + 4, sv.getUint16(syn.t.ip + 4) + n);
        } else {
          sv.setUint16(syn.t.ip + 2, sv.getUint16(syn.t.ip + 2) + n);
          sv.setUint16(syn.t.ip + 10, 0);
          let sum = 0;
          for (let i = syn.t.ip; i < syn.t.tcp; i += 2) sum += sv.getUint16(i);
          while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
          sv.setUint16(syn.t.ip + 10, ~sum & 0xffff);
        }
        out[syn.at] = { ...s, data: sd, orig: s.orig + n };
      }
    }
    // Cut into pieces.
    const cuts: [number, number][] = [];
    for (let a = 0; a < t.len;) {
      const size = o.sizes === "one"
        ? 1
        : 1 + Math.floor(rand() * (o.maxSize ?? 600));
      const b = Math.min(t.len, a + size);
      cuts.push([a, b]);
      a = b;
    }
    const base = t.flags & ~(FIN | PSH);
    const pieces: Rec[] = cuts.map(([a, b], i) =>
      piece(
        r,
        t,
        a,
        b,
        i === cuts.length - 1 ? t.flags : base,
      )
    );
    // Duplicates and overlapping retransmissions (identical bytes).
    const extra: Rec[] = [];
    for (const [a, b] of cuts) {
      if (o.duplicate && rand() < o.duplicate) {
        extra.push(piece(r, t, a, b, base));
      }
      if (o.overlap && rand() < o.overlap) {
        const s = Math.max(0, a - Math.floor(rand() * 8));
        const e = Math.min(t.len, b + Math.floor(rand() * 8));
        extra.push(piece(r, t, s, e, base));
      }
    }
    let all = pieces;
    if (o.window && o.window > 1) {
      all = pieces.slice();
      for (let i = 0; i < all.length; i++) {
        const j = Math.min(all.length - 1, i + Math.floor(rand() * o.window));
        [all[i], all[j]] = [all[j]!, all[i]!];
      }
    }
    // The evasion: a piece ahead of its turn, then a copy with other bytes.
    if (o.differ && cuts.length >= 2) {
      const n = differed.get(t.key) ?? 0;
      if (n < o.differ) {
        differed.set(t.key, n + 1);
        const [a, b] = cuts[cuts.length - 1]!;
        const first = piece(r, t, a, b, base);
        const evil = piece(r, t, a, b, base, 0x58);
        all = [first, evil, ...all];
        stats.differing++;
      }
    }
    // Extras go after the pieces they copy (a retransmission comes later).
    for (const x of extra) {
      const at = Math.floor(rand() * (all.length + 1));
      all.splice(Math.max(1, at), 0, x);
    }
    // A FIN on a data segment moves ahead of the segment's other pieces.
    if (o.synFin && (t.flags & FIN) !== 0 && all.length > 1) {
      const k = all.findIndex((p) => (p.data[t.tcp + 13]! & FIN) !== 0);
      if (k > 0) all.unshift(...all.splice(k, 1));
    }
    stats.dataSegments += all.length;
    out.push(...all);
  }
  stats.framesOut = out.length;
  return { bytes: writePcap(header, le, out), stats };
}

function say(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
}

if (import.meta.main) {
  const [inp, outp, ...rest] = Deno.args;
  if (!inp || !outp) {
    say(
      "usage: resegment.ts IN.pcap OUT.pcap [--mode one|random] [--window N] [--dup P] [--overlap P] [--synfin] [--differ N] [--seed N]",
    );
    Deno.exit(2);
  }
  const flag = (name: string) => {
    const i = rest.indexOf(name);
    return i < 0 ? undefined : rest[i + 1];
  };
  const { bytes, stats } = resegment(await Deno.readFile(inp), {
    sizes: flag("--mode") === "one" ? "one" : "random",
    window: Number(flag("--window") ?? 0),
    duplicate: Number(flag("--dup") ?? 0),
    overlap: Number(flag("--overlap") ?? 0),
    synFin: rest.includes("--synfin"),
    differ: Number(flag("--differ") ?? 0),
    seed: Number(flag("--seed") ?? 1),
  });
  await Deno.writeFile(outp, bytes);
  say(JSON.stringify(stats));
}
