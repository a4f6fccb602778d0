/**
 * IP defragmentation (IPv4 and IPv6) between the decoder and the flow
 * table: fragments are held per datagram (source, destination, protocol and
 * identification, RFC 791 §3.2; source, destination and the fragment
 * header's identification, RFC 8200 §4.5) until the datagram is whole, then
 * rebuilt as one IP packet the pipeline decodes again like any other.
 *
 * Overlap policy, one for both versions: fragments of a datagram must not
 * overlap. An exact repeat of a fragment already held (same offset and
 * length) is a retransmission and ignored, the first copy kept; if its bytes
 * differ that is counted as an overlap. Any other overlap drops the whole
 * datagram, and the fragments of it that still arrive, until its timeout:
 * RFC 5722 §4 requires it for IPv6, and Linux does the same for IPv4 since
 * 4.19 ("ip: discard IPv4 datagrams with overlapping segments"), so what is
 * reassembled here is what the hosts of a Linux network accept. (Suricata
 * instead picks one of its per-OS `defrag` policies, `bsd` by default.)
 * Overlaps are anomalies as Suricata names them (`ipv4.frag_overlap`,
 * `ipv6.frag_overlap`); an overlap where the new fragment lies inside one
 * already held, the shape of the Teardrop attack (CVE-1999-0015, Snort's
 * frag3 alert 123:8), is `ipv4.frag_teardrop` / `ipv6.frag_teardrop`
 * instead.
 *
 * Other anomalies, counted and reported: a first fragment too short to hold
 * its transport header (`*.frag_tiny`, the tiny fragment attack of RFC 1858
 * §3.1, which `nmap -f` makes), more fragments than `maxFragments` for one
 * datagram (`*.frag_too_many`, the datagram is dropped), a datagram past
 * 65,535 bytes (`ipv4.frag_pkt_too_large`, Suricata's name, for IPv6 too),
 * and a fragment that is not the last but whose length is not a multiple of
 * 8, or data past the last fragment's end (`*.frag_invalid_length`).
 *
 * Bounds: `memcapBytes` for everything held (fragment bytes, in chunks of
 * 512 bytes of one arena of that size, plus a fixed overhead per fragment
 * and datagram); `maxDatagrams` in progress; the
 * oldest datagrams are evicted to make room (as Linux's
 * `ipfrag_high_thresh`), and a datagram is dropped `timeoutUs` after its
 * first fragment (packet time, as Linux's `ipfrag_time` and Suricata's
 * `defrag.timeout`).
 *
 * @module
 */
import type { Packet } from "../decode/mod.ts";

/** Limits of a {@link Defragmenter}. */
export interface DefragConfig {
  /** Bytes held at most, overhead included (default 16 MiB). */
  memcapBytes: number;
  /** Packet time a datagram may take to complete, µs (default 30 s). */
  timeoutUs: number;
  /** Fragments one datagram may have (default 256). */
  maxFragments: number;
  /** Datagrams in progress at most (default 4096). */
  maxDatagrams: number;
}

/** The shipped limits. */
export const DEFRAG_DEFAULTS: Readonly<DefragConfig> = {
  memcapBytes: 16 * 1024 * 1024,
  timeoutUs: 30_000_000,
  maxFragments: 256,
  maxDatagrams: 4096,
};

/** Anomalies the defragmenter reports (without the `ipv4.`/`ipv6.` prefix). */
export const DEFRAG_ANOMALIES = [
  "frag_overlap",
  "frag_teardrop",
  "frag_tiny",
  "frag_too_many",
  "frag_pkt_too_large",
  "frag_invalid_length",
] as const;

/** One defragmentation anomaly. */
export type DefragAnomaly = typeof DEFRAG_ANOMALIES[number];

/** Receives an anomaly with the fragment that showed it. */
export type DefragAnomalySink = (p: Packet, anomaly: DefragAnomaly) => void;

/** What the defragmenter did since it started. */
export interface DefragCounters {
  /** Fragments given to {@link Defragmenter.add}. */
  fragments: number;
  /** Datagrams rebuilt and handed on. */
  reassembled: number;
  /** Exact repeats of held fragments, ignored. */
  duplicates: number;
  /** Datagrams that timed out before they were whole. */
  timeouts: number;
  /** Datagrams evicted to stay under the memcap or the datagram cap. */
  evicted: number;
  /** Fragments dropped: of dropped datagrams, or that could not be held. */
  dropped: number;
  /** Fragments the capture cut short (snap length): their datagram is dropped. */
  truncated: number;
  /** Anomalies by kind (see {@link DEFRAG_ANOMALIES}). */
  frag_overlap: number;
  frag_teardrop: number;
  frag_tiny: number;
  frag_too_many: number;
  frag_pkt_too_large: number;
  frag_invalid_length: number;
}

/** Counted per fragment and per datagram on top of the data bytes. */
const FRAG_OVERHEAD = 96;
const DATAGRAM_OVERHEAD = 384;
/** Largest reassembled packet: a 65,535-byte IPv4 packet, or IPv6 headers plus 65,535. */
const OUT_MAX = 65_535 + 40 + 2048;

/**
 * Fragment bytes live in one arena of fixed chunks, allocated on the first
 * fragment and sized to the memcap: a typed array per fragment would cost
 * an ArrayBuffer and a backing store each (about 1 µs and GC work).
 */
const CHUNK = 512;

class Arena {
  readonly chunks: number;
  #bytes: Uint8Array | null = null;
  #free: Int32Array;
  #top: number;

  constructor(capBytes: number) {
    this.chunks = Math.max(1, Math.floor(capBytes / CHUNK));
    this.#free = new Int32Array(this.chunks);
    for (let i = 0; i < this.chunks; i++) this.#free[i] = this.chunks - 1 - i;
    this.#top = this.chunks;
  }

  /** Chunks needed for `len` bytes. */
  static count(len: number): number {
    return Math.ceil(len / CHUNK);
  }

  /** Copies `src[at, at + len)` into free chunks (the caller made room). */
  store(src: Uint8Array, at: number, len: number): number[] {
    this.#bytes ??= new Uint8Array(this.chunks * CHUNK);
    const out: number[] = [];
    for (let o = 0; o < len; o += CHUNK) {
      const c = this.#free[--this.#top]!;
      const n = len - o < CHUNK ? len - o : CHUNK;
      this.#bytes.set(src.subarray(at + o, at + o + n), c * CHUNK);
      out.push(c);
    }
    return out;
  }

  /** Copies `len` bytes held in `chunks` to `dst` at `to`. */
  copyOut(chunks: number[], len: number, dst: Uint8Array, to: number): void {
    const b = this.#bytes!;
    for (let k = 0, o = 0; o < len; k++, o += CHUNK) {
      const n = len - o < CHUNK ? len - o : CHUNK;
      const c = chunks[k]! * CHUNK;
      dst.set(b.subarray(c, c + n), to + o);
    }
  }

  /** True when the `len` bytes in `chunks` equal `src[at, at + len)`. */
  equals(chunks: number[], len: number, src: Uint8Array, at: number): boolean {
    const b = this.#bytes!;
    for (let i = 0; i < len; i++) {
      if (b[chunks[(i / CHUNK) | 0]! * CHUNK + (i % CHUNK)] !== src[at + i]) {
        return false;
      }
    }
    return true;
  }

  release(chunks: number[]): void {
    for (const c of chunks) this.#free[this.#top++] = c;
  }
}

interface Frag {
  off: number;
  end: number;
  chunks: number[];
}

interface Datagram {
  key: string;
  version: 4 | 6;
  firstUs: number;
  /** Fragments by offset, disjoint. */
  frags: Frag[];
  /** Data length once the last fragment is seen, else -1. */
  total: number;
  /** Data bytes held. */
  have: number;
  /** First fragment's header (IPv4 header; IPv6 unfragmentable part), in arena chunks. */
  header: number[] | null;
  headerLen: number;
  /** IPv6: offset in `header` of the next-header byte naming the fragment header. */
  nhAt: number;
  /** Protocol of the payload. */
  proto: number;
  /** Dropped (overlap, too many, …): its later fragments are dropped too. */
  dead: boolean;
  /** Bytes charged to the memcap. */
  mem: number;
  /** Removed from the table (still in the age queue until it reaches the head). */
  gone: boolean;
}

/**
 * Holds fragments until their datagram is whole; see the module doc.
 *
 * @example
 * ```ts
 * const defrag = new Defragmenter({}, (p, kind) => count(kind));
 * if (p.fragment) {
 *   const len = defrag.add(p); // 0: held (or dropped)
 *   if (len > 0) decodeBytes(q, defrag.output, { length: len, linktype: LINKTYPE_RAW });
 * }
 * ```
 */
export class Defragmenter {
  readonly config: DefragConfig;
  readonly counters: DefragCounters = {
    fragments: 0,
    reassembled: 0,
    duplicates: 0,
    timeouts: 0,
    evicted: 0,
    dropped: 0,
    truncated: 0,
    frag_overlap: 0,
    frag_teardrop: 0,
    frag_tiny: 0,
    frag_too_many: 0,
    frag_pkt_too_large: 0,
    frag_invalid_length: 0,
  };
  /**
   * The last reassembled packet (raw IP, from offset 0, length as
   * {@link add} returned): valid until the next call.
   */
  readonly output: Uint8Array = new Uint8Array(OUT_MAX);
  #datagrams = new Map<string, Datagram>();
  /**
   * Datagrams by age (creation order), oldest at `#head`: expiry and
   * eviction take from the front. (Iterating the Map from its start costs
   * the deleted entries V8 keeps there.)
   */
  #age: Datagram[] = [];
  #arena: Arena;
  #head = 0;
  #mem = 0;
  #onAnomaly: DefragAnomalySink | null;

  /** Builds a defragmenter with `config` over the defaults. */
  constructor(
    config: Partial<DefragConfig> = {},
    onAnomaly: DefragAnomalySink | null = null,
  ) {
    this.config = { ...DEFRAG_DEFAULTS, ...config };
    this.#arena = new Arena(this.config.memcapBytes);
    this.#onAnomaly = onAnomaly;
  }

  /** Datagrams in progress (dropped ones waiting for their timeout included). */
  get datagrams(): number {
    return this.#datagrams.size;
  }

  /** Bytes held, overhead included (never above the memcap). */
  get memoryBytes(): number {
    return this.#mem;
  }

  /**
   * Takes the decoded fragment `p` (its `fragment` set, no fault). Returns
   * the length of the reassembled IP packet in {@link output} when `p`
   * completed its datagram, else 0 (held, or dropped and counted).
   */
  add(p: Packet): number {
    const c = this.counters;
    c.fragments++;
    this.expire(p.tsUs);
    const v = p.ipVersion as 4 | 6;
    const off = p.fragOffset;
    const len = p.fragDataLen;
    const end = off + len;
    const key = datagramKey(p);
    let dg = this.#datagrams.get(key);
    if (dg !== undefined && dg.dead) {
      c.dropped++;
      return 0;
    }
    // The data must be in the capture; a snap length that cut it loses it.
    const at = p.fragDataOffset;
    if (at + len > p.frameOffset + p.caplen) {
      c.truncated++;
      if (dg !== undefined) this.#kill(dg);
      return 0;
    }
    if (off === 0 && tooTiny(p)) this.#anomaly(p, "frag_tiny");
    const hdrLen = v === 4 ? at - p.l3Offset : p.fragHeaderOffset - p.l3Offset;
    // Lengths: 8-byte units except the last; nothing past 65,535.
    if ((p.fragMore && (len & 7) !== 0) || (p.fragMore && len === 0)) {
      this.#anomaly(p, "frag_invalid_length");
      return this.#refuse(dg);
    }
    if ((v === 4 ? hdrLen : hdrLen - 40) + end > 65_535) {
      this.#anomaly(p, "frag_pkt_too_large");
      return this.#refuse(dg);
    }
    if (dg === undefined) {
      if (!this.#makeRoom(DATAGRAM_OVERHEAD + FRAG_OVERHEAD + len, null)) {
        c.dropped++;
        return 0;
      }
      dg = {
        key,
        version: v,
        firstUs: p.tsUs,
        frags: [],
        total: -1,
        have: 0,
        header: null,
        headerLen: 0,
        nhAt: 0,
        proto: p.fragProto,
        dead: false,
        mem: DATAGRAM_OVERHEAD,
        gone: false,
      };
      this.#datagrams.set(key, dg);
      this.#age.push(dg);
      this.#mem += DATAGRAM_OVERHEAD;
    }
    // Where it goes, and what it overlaps.
    const frags = dg.frags;
    let i = 0;
    while (i < frags.length && frags[i]!.off < off) i++;
    const prev = i > 0 ? frags[i - 1]! : null;
    const next = i < frags.length ? frags[i]! : null;
    if (next !== null && next.off === off && next.end === end) {
      // An exact repeat: the first copy stays.
      if (this.#arena.equals(next.chunks, len, p.data, at)) c.duplicates++;
      else this.#anomaly(p, "frag_overlap");
      return 0;
    }
    const overPrev = prev !== null && prev.end > off;
    const overNext = next !== null && next.off < end;
    if (overPrev || overNext) {
      const inside = (overPrev && end <= prev!.end) ||
        (overNext && next!.off === off && end < next!.end);
      this.#anomaly(p, inside ? "frag_teardrop" : "frag_overlap");
      return this.#refuse(dg);
    }
    if (!p.fragMore) {
      if (
        (dg.total >= 0 && dg.total !== end) || dg.have > 0 && lastEnd(dg) > end
      ) {
        this.#anomaly(p, "frag_invalid_length");
        return this.#refuse(dg);
      }
      dg.total = end;
    } else if (dg.total >= 0 && end > dg.total) {
      this.#anomaly(p, "frag_invalid_length");
      return this.#refuse(dg);
    }
    if (frags.length >= this.config.maxFragments) {
      this.#anomaly(p, "frag_too_many");
      return this.#refuse(dg);
    }
    const need = FRAG_OVERHEAD +
      (Arena.count(len) + (off === 0 ? Arena.count(hdrLen) : 0)) * CHUNK;
    if (!this.#makeRoom(need, dg)) {
      c.dropped++;
      return 0;
    }
    const arena = this.#arena;
    frags.splice(i, 0, { off, end, chunks: arena.store(p.data, at, len) });
    dg.have += len;
    dg.mem += need;
    this.#mem += need;
    if (off === 0) {
      const h = p.l3Offset;
      dg.header = arena.store(p.data, h, hdrLen);
      dg.headerLen = hdrLen;
      dg.nhAt = p.fragNhOffset - h;
      dg.proto = p.fragProto;
    }
    if (dg.total < 0 || dg.have !== dg.total || dg.header === null) return 0;
    const n = this.#build(dg);
    this.#remove(dg);
    c.reassembled++;
    return n;
  }

  /** Drops datagrams whose timeout passed at packet time `nowUs`. */
  expire(nowUs: number): void {
    const limit = nowUs - this.config.timeoutUs;
    for (let dg = this.#oldest(); dg !== null; dg = this.#oldest()) {
      if (dg.firstUs >= limit) break;
      if (!dg.dead) this.counters.timeouts++;
      this.#remove(dg);
    }
  }

  /** The oldest datagram still in the table, or null. */
  #oldest(): Datagram | null {
    const age = this.#age;
    while (this.#head < age.length && age[this.#head]!.gone) this.#head++;
    if (this.#head >= age.length) {
      age.length = 0;
      this.#head = 0;
      return null;
    }
    if (this.#head > 1024 && this.#head * 2 > age.length) {
      age.splice(0, this.#head);
      this.#head = 0;
    }
    return age[this.#head]!;
  }

  /** Writes the whole datagram into {@link output}; returns its length. */
  #build(dg: Datagram): number {
    const out = this.output;
    const arena = this.#arena;
    const hl = dg.headerLen;
    arena.copyOut(dg.header!, hl, out, 0);
    for (const f of dg.frags) {
      arena.copyOut(f.chunks, f.end - f.off, out, hl + f.off);
    }
    const n = hl + dg.total;
    if (dg.version === 4) {
      out[2] = n >> 8;
      out[3] = n & 0xff;
      out[6] = 0; // flags and fragment offset
      out[7] = 0;
      out[10] = 0;
      out[11] = 0;
      let sum = 0;
      for (let k = 0; k < hl; k += 2) sum += (out[k]! << 8) | out[k + 1]!;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      sum = ~sum & 0xffff;
      out[10] = sum >> 8;
      out[11] = sum & 0xff;
    } else {
      const plen = n - 40;
      out[4] = plen >> 8;
      out[5] = plen & 0xff;
      out[dg.nhAt] = dg.proto;
    }
    return n;
  }

  #anomaly(p: Packet, kind: DefragAnomaly): void {
    this.counters[kind]++;
    this.#onAnomaly?.(p, kind);
  }

  /** Drops the fragment and its datagram (kept as dead until its timeout). */
  #refuse(dg: Datagram | undefined): number {
    this.counters.dropped++;
    if (dg !== undefined) this.#kill(dg);
    return 0;
  }

  /** Frees a datagram's fragments; later ones are dropped until its timeout. */
  #kill(dg: Datagram): void {
    dg.dead = true;
    this.#release(dg);
    this.#mem -= dg.mem - DATAGRAM_OVERHEAD;
    dg.mem = DATAGRAM_OVERHEAD;
  }

  /** Gives the datagram's chunks back to the arena. */
  #release(dg: Datagram): void {
    const arena = this.#arena;
    for (const f of dg.frags) arena.release(f.chunks);
    if (dg.header !== null) arena.release(dg.header);
    dg.frags = [];
    dg.header = null;
  }

  #remove(dg: Datagram): void {
    this.#release(dg);
    this.#datagrams.delete(dg.key);
    this.#mem -= dg.mem;
    dg.gone = true;
  }

  /**
   * Evicts the oldest datagrams (not `keep`) until `need` more bytes fit
   * under the memcap and, for a new datagram, one more fits the cap.
   */
  #makeRoom(need: number, keep: Datagram | null): boolean {
    const cap = this.config.memcapBytes;
    const max = this.config.maxDatagrams;
    if (need > cap) return false;
    const full = () =>
      this.#mem + need > cap ||
      (keep === null && this.#datagrams.size >= max);
    while (full()) {
      const dg = this.#oldest();
      if (dg === null) break;
      if (dg === keep) {
        // Only the datagram being added is older: nothing else can go.
        if (this.#datagrams.size === 1) return false;
        // Evict the next oldest instead: keep stays at the head.
        const age = this.#age;
        let k = this.#head + 1;
        while (k < age.length && age[k]!.gone) k++;
        if (k >= age.length) return false;
        const other = age[k]!;
        if (!other.dead) this.counters.evicted++;
        this.#remove(other);
        continue;
      }
      if (!dg.dead) this.counters.evicted++;
      this.#remove(dg);
    }
    return !full();
  }
}

/** The datagram's identity: version, addresses, protocol (IPv4), identification. */
function datagramKey(p: Packet): string {
  const s = p.src, d = p.dst;
  if (p.ipVersion === 4) return `4 ${s[0]} ${d[0]} ${p.fragProto} ${p.ipId}`;
  return `6 ${s[0]} ${s[1]} ${s[2]} ${s[3]} ${d[0]} ${d[1]} ${d[2]} ${
    d[3]
  } ${p.ipId}`;
}

/** End of the last fragment held. */
function lastEnd(dg: Datagram): number {
  const f = dg.frags;
  return f.length === 0 ? 0 : f[f.length - 1]!.end;
}

/** A first fragment shorter than its transport's fixed header (RFC 1858 §3.1). */
function tooTiny(p: Packet): boolean {
  const len = p.fragDataLen;
  switch (p.fragProto) {
    case 6:
      return len < 20;
    case 17:
    case 1:
    case 58:
      return len < 8;
    default:
      return false;
  }
}
