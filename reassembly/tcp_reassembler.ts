/**
 * TCP stream reassembly, both directions of every tracked TCP flow: turns
 * segments as captured (lost, reordered, duplicated, overlapping) into the
 * in-order byte stream each endpoint read, for the protocol parsers.
 *
 * Semantics, after Suricata's stream engine (`stream.reassembly`,
 * https://docs.suricata.io/en/latest/configuration/suricata-yaml.html#stream-engine)
 * and Zeek's `TCP_Reassembler`:
 *
 * - **Start.** A direction's stream starts at its SYN's sequence number + 1;
 *   data carried on the SYN (TCP Fast Open) is its first bytes. Without a
 *   SYN (the handshake was not captured: Suricata's `stream.midstream`),
 *   the stream starts at the first segment seen, or earlier at the peer's
 *   acknowledgement number when the peer has already acknowledged bytes
 *   just before it (a reordered first segment then still fills the hole).
 * - **Overlaps: first data wins.** A byte is taken from the first segment
 *   that carried it (Suricata's `first` policy; Zeek keeps the first copy
 *   too and reports `rexmit_inconsistency`). Bytes already handed to the
 *   parsers are not kept, so a retransmission of them is dropped uncompared
 *   (the receiving host had them as well); where a later segment overlaps
 *   bytes still held out of order and they differ, the overlap is counted
 *   (`overlapsDiffering`) and reported to the sink as Suricata's
 *   `REASSEMBLY_OVERLAP_DIFFERENT_DATA` stream event, the classic evasion.
 * - **Gaps.** Out-of-order segments are held until the hole before them
 *   fills. The hole is given up, and the parsers told its length
 *   ({@link StreamSink.gap}), when the peer acknowledges bytes after it (the
 *   receiver had them: the capture lost them), when one direction holds
 *   more than {@link ReassemblyConfig.maxHeldPerDir} bytes or
 *   {@link MAX_HELD_SEGMENTS} pieces, when the memcap is reached, or when
 *   the connection ends.
 * - **Urgent data** is inline: the urgent pointer is ignored and the byte
 *   stays in the stream (Suricata's default `urgent-policy: inline`, and
 *   what a receiver with SO_OOBINLINE reads).
 * - **Bounds.** Each direction is reassembled up to `stream.depth` bytes
 *   (then it ends, Suricata's `stream.reassembly.depth`); out-of-order
 *   segments held by all flows together stay under `stream.memcap` (a
 *   segment that would pass it is dropped and counted, and its direction
 *   gives up its hole so memory is freed).
 *
 * In-order segments (the common case) are handed on from the capture
 * buffer without a copy; only held segments are copied, into blocks of
 * {@link BLOCK_SIZE} bytes of a slab the reassembler owns (1 MiB chunks,
 * made when first needed, never more than the memcap holds), not into an
 * ArrayBuffer each: what the memcap counts (each block and the small
 * record describing it) is what is really held, and holding and freeing
 * segments allocates nothing once the slab has grown.
 *
 * @module
 */
import {
  type Packet,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
} from "../decode/mod.ts";
import { DIR_TO_SERVER, type Flow } from "../flows/mod.ts";

/** Why a direction's stream ended. */
export type StreamEndReason = "fin" | "rst" | "depth" | "closed";

/** Where reassembled bytes go (the protocol layer, then observers). */
export interface StreamSink {
  /**
   * In-order bytes of direction `dir`: `data[off, off + len)`, starting at
   * stream offset `streamOff`. A transient view (the capture buffer or a
   * held segment): copy what you keep.
   */
  data(
    flow: Flow,
    dir: number,
    data: Uint8Array,
    off: number,
    len: number,
    streamOff: number,
  ): void;
  /** `len` bytes of direction `dir` were never seen: the next data follows a hole. */
  gap(flow: Flow, dir: number, len: number): void;
  /** Direction `dir` ends: no more data will come (FIN reached, RST, depth, or the flow ended). */
  end(flow: Flow, dir: number, reason: StreamEndReason): void;
  /** A reassembly anomaly (Suricata's stream event name), for the EVE log. */
  anomaly(flow: Flow, dir: number, event: StreamAnomaly): void;
}

/** Stream events, named as Suricata names them. */
export type StreamAnomaly = "REASSEMBLY_OVERLAP_DIFFERENT_DATA";

/** Limits of the reassembler. */
export interface ReassemblyConfig {
  /** Bytes reassembled per direction (`stream.depth`); 0: no limit. */
  depth: number;
  /** Bytes of out-of-order segments held by all flows together (`stream.memcap`). */
  memcap: number;
  /** Held bytes one direction may have before its first hole is given up. */
  maxHeldPerDir: number;
}

/** 1 MiB a direction, Suricata's default `stream.reassembly.depth`. */
export const DEFAULT_STREAM_DEPTH = 1 << 20;
/** 32 MiB for everything held: a Raspberry Pi's share under MemoryMax=512M. */
export const DEFAULT_STREAM_MEMCAP = 32 << 20;
/** Held pieces (a segment is one per {@link BLOCK_SIZE} bytes) one direction may have (bounds the sorted-list walk). */
export const MAX_HELD_SEGMENTS = 2048;
/**
 * Bytes of one slab block. A held segment takes one block per 512 bytes
 * (a longer one is held as several pieces), and the memcap counts whole
 * blocks: a 1-byte segment costs a block.
 */
export const BLOCK_SIZE = 512;
/** Blocks of one slab chunk at most (1 MiB, one ArrayBuffer). */
const CHUNK_BLOCKS_MAX = 2048;
/** Accounted per held piece besides its block (the record that places it in the stream). */
export const SEGMENT_OVERHEAD = 64;
/** Accounted per connection with stream state (both directions' records). */
export const FLOW_OVERHEAD = 512;

/** Defaults (see the constants). */
export const DEFAULT_REASSEMBLY_CONFIG: Readonly<ReassemblyConfig> = {
  depth: DEFAULT_STREAM_DEPTH,
  memcap: DEFAULT_STREAM_MEMCAP,
  maxHeldPerDir: 256 * 1024,
};

/** Counters of the reassembler, for `/metrics` and `--stats-json`. */
export interface ReassemblyCounters {
  /** Bytes handed to the parsers in order. */
  bytes: number;
  /** Bytes of out-of-order segments held now (gauge, at most the memcap). */
  held: number;
  /** Most bytes held at once. */
  heldPeak: number;
  /** Segments that arrived out of order and were held. */
  segmentsHeld: number;
  /** Bytes beyond `stream.depth`, not reassembled. */
  depthDropped: number;
  /** Bytes dropped because holding them would pass `stream.memcap`. */
  memcapDropped: number;
  /** Holes given up, and the bytes missing in them. */
  gaps: number;
  gapBytes: number;
  /** Segments that overlapped bytes already seen (retransmissions included). */
  overlaps: number;
  /** Overlaps whose bytes differed from the first copy. */
  overlapsDiffering: number;
  /** Directions picked up without their SYN. */
  midstream: number;
  /** Directions whose SYN carried data (TCP Fast Open). */
  synData: number;
  /** Connections not reassembled because the memcap was spent when they began. */
  flowsSkipped: number;
  /**
   * Connections whose reassembly stopped early because nothing reads the
   * rest of their bytes (no parser took them, their protocol's records are
   * not read, or their parser is done: a TLS handshake over).
   */
  letGo: number;
}

/** One held out-of-order piece of a segment (stream offsets). */
class Seg {
  rel = 0;
  /** Slab block of its bytes (-1 for a known-missing range). */
  blk = -1;
  /** Bytes in the block (at most BLOCK_SIZE; 0 for a missing range). */
  len = 0;
  /** Length of a range the capture cut off (snap length), else 0. */
  miss = 0;
  next: Seg | null = null;
}

/** Stream bytes a held piece covers. */
function segLen(g: Seg): number {
  return g.miss > 0 ? g.miss : g.len;
}

const S_NONE = 0, S_OPEN = 1, S_DONE = 2;

/** One direction's reassembly state (made when the flow carries data). */
class DirState {
  state = S_NONE;
  /** Sequence number of stream offset 0. */
  isn = 0;
  /** Stream offset of the next byte to hand on. */
  next = 0;
  /** Stream offset of the FIN, -1 before one. */
  fin = -1;
  head: Seg | null = null;
  heldBytes = 0;
  heldSegs = 0;
  /** Ended at stream.depth (later bytes count as dropped by depth). */
  depthEnded = false;
  reset(): void {
    this.state = S_NONE;
    this.depthEnded = false;
    this.isn = this.next = 0;
    this.fin = -1;
    this.head = null;
    this.heldBytes = this.heldSegs = 0;
  }
}

/** Both directions of one flow. */
class FlowStreams {
  flowId = -1;
  slot = 0;
  readonly dirs: [DirState, DirState] = [new DirState(), new DirState()];
}

/**
 * Light per-slot flags: SYN seen (ISN known), peer acknowledgement known,
 * bare-ACK start known, direction let go ({@link TcpReassembler.ignore});
 * the connection's stream state was let go (both directions ended), and
 * this direction had ended at stream.depth (its later bytes still count as
 * dropped by depth).
 */
const L_SYN = 1, L_ACKED = 2, L_START = 4, L_IGNORED = 8, L_DONE = 16;
const L_DEPTH = 32;
/**
 * Offsets (32-bit words) in a slot's 32 bytes of light state: the flow id's
 * low and high words, ISN and ACK and flags by direction.
 */
const LI_ID = 0, LI_ID_HI = 1, LI_ISN = 2, LI_ACK = 4, LI_FLAGS = 6;
const LI_STRIDE = 8;
/** The id words of no flow (flow ids stay below 2^53: their high word below 2^21). */
const NO_ID = 0xffffffff;

/** Light state for `n` slots, holding no flow. */
function newLight(n: number): Uint32Array {
  const l = new Uint32Array(n * LI_STRIDE);
  for (let i = 0; i < l.length; i += LI_STRIDE) {
    l[i + LI_ID] = l[i + LI_ID_HI] = NO_ID;
  }
  return l;
}

/** The high word of a flow id (its low word is `id >>> 0`). */
function idHi(id: number): number {
  return Math.floor(id / 4294967296);
}

/** Whether the light line at `base` is flow `id`'s. */
function lightIs(L: Uint32Array, base: number, id: number): boolean {
  return L[base + LI_ID] === (id >>> 0) && L[base + LI_ID_HI] === idHi(id);
}

/** Signed 32-bit difference a - b of sequence numbers. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * The reassembler: call {@link segment} for every TCP packet of a flow (in
 * capture order) and {@link flowEnd} when the flow ends; bytes, gaps and
 * ends go to the sink.
 */
export class TcpReassembler {
  readonly config: ReassemblyConfig;
  readonly counters: ReassemblyCounters = {
    bytes: 0,
    held: 0,
    heldPeak: 0,
    segmentsHeld: 0,
    depthDropped: 0,
    memcapDropped: 0,
    gaps: 0,
    gapBytes: 0,
    overlaps: 0,
    overlapsDiffering: 0,
    midstream: 0,
    synData: 0,
    flowsSkipped: 0,
    letGo: 0,
  };
  /**
   * Per-slot light state, 32 bytes a slot (half a cache line to load per
   * packet): the flow id, and per direction ISN, acknowledgement, flags
   * (see the `LI_` offsets).
   */
  #light = newLight(1024);
  /** Per-flow stream state by the flow's slot (checked against its id). */
  #bySlot: (FlowStreams | null)[] = [];
  #pool: FlowStreams[] = [];
  #sink: StreamSink;
  /** Bytes counted against the memcap (held blocks, their records, connections). */
  #memUsed = 0;
  /** The slab: chunks of `#chunkMask + 1` blocks each, made when no block is free. */
  #chunks: Uint8Array[] = [];
  #chunkShift: number;
  #chunkMask: number;
  /** Free block numbers (a stack). */
  #freeBlocks: Int32Array = new Int32Array(0);
  #freeTop = 0;
  /** Seg records given back, for reuse. */
  #segPool: Seg[] = [];

  /** A reassembler handing its output to `sink`. */
  constructor(sink: StreamSink, config: Partial<ReassemblyConfig> = {}) {
    this.config = { ...DEFAULT_REASSEMBLY_CONFIG, ...config };
    this.#sink = sink;
    // Chunks of at most 1 MiB and at most 1/16 of the memcap, so the slab
    // never outgrows the memcap (blocks in use cost 576 bytes of it each).
    let shift = 0;
    while (
      (1 << (shift + 1)) <= CHUNK_BLOCKS_MAX &&
      (2 << shift) * BLOCK_SIZE * 16 <= this.config.memcap
    ) shift++;
    this.#chunkShift = shift;
    this.#chunkMask = (1 << shift) - 1;
  }

  /**
   * Bytes of slab the reassembler has made for held segments (grown in
   * chunks as needed, kept for reuse, never past `stream.memcap`).
   */
  get slabBytes(): number {
    return this.#chunks.length * (this.#chunkMask + 1) * BLOCK_SIZE;
  }

  /** Slab blocks holding segment bytes now. */
  get blocksInUse(): number {
    return this.#chunks.length * (this.#chunkMask + 1) - this.#freeTop;
  }

  /** A free slab block (the slab grows by a chunk when none is free). */
  #takeBlock(): number {
    if (this.#freeTop === 0) {
      const per = this.#chunkMask + 1;
      const first = this.#chunks.length * per;
      this.#chunks.push(new Uint8Array(per * BLOCK_SIZE));
      if (this.#freeBlocks.length < first + per) {
        const grown = new Int32Array(first + per);
        grown.set(this.#freeBlocks.subarray(0, this.#freeTop));
        this.#freeBlocks = grown;
      }
      // Lowest numbers on top: taken first.
      for (let i = per - 1; i >= 0; i--) {
        this.#freeBlocks[this.#freeTop++] = first + i;
      }
    }
    return this.#freeBlocks[--this.#freeTop]!;
  }

  /** The chunk holding block `b` (its bytes start at {@link #blockAt}). */
  #chunkOf(b: number): Uint8Array {
    return this.#chunks[b >>> this.#chunkShift]!;
  }

  #blockAt(b: number): number {
    return (b & this.#chunkMask) * BLOCK_SIZE;
  }

  /** Bytes counted against the memcap now (held bytes and their overhead). */
  get memUsed(): number {
    return this.#memUsed;
  }

  #streams(f: Flow, create: boolean): FlowStreams | null {
    const slot = f.slot;
    let s = slot < this.#bySlot.length ? this.#bySlot[slot]! : null;
    if (s !== null && s.flowId === f.id) return s;
    if (!create) return null;
    if (s !== null) {
      // A slot reused by a new flow whose predecessor's end we missed.
      this.#release(s);
      this.#memUsed -= FLOW_OVERHEAD;
      this.#bySlot[slot] = null;
      if (this.#pool.length < 4096) this.#pool.push(s);
      s = null;
    }
    // Connection state counts against the memcap like held segments
    // (Suricata's stream.memcap covers sessions too): a flood of
    // connections cannot take more.
    if (this.#memUsed + FLOW_OVERHEAD > this.config.memcap) {
      this.counters.flowsSkipped++;
      return null;
    }
    this.#memUsed += FLOW_OVERHEAD;
    if (s === null) {
      s = this.#pool.pop() ?? new FlowStreams();
      while (this.#bySlot.length <= slot) this.#bySlot.push(null);
      this.#bySlot[slot] = s;
    }
    s.flowId = f.id;
    return s;
  }

  /** Makes the light per-slot state hold `slot`. */
  #growLight(slot: number): void {
    let n = this.#light.length / LI_STRIDE;
    while (n <= slot) n *= 2;
    const l = newLight(n);
    l.set(this.#light);
    this.#light = l;
  }

  /**
   * Accounts one TCP packet of `flow` travelling in `dir` (DIR_TO_SERVER or
   * DIR_TO_CLIENT): its sequence number, flags and payload. Packets without
   * payload only update a few numbers in per-slot arrays; nothing is
   * allocated unless the flow carries data, and then only for segments
   * held out of order.
   */
  segment(p: Packet, flow: Flow, dir: number): void {
    const flags = p.tcpFlags;
    const len = p.payloadLen;
    const slot = flow.slot;
    if ((slot + 1) * LI_STRIDE > this.#light.length) this.#growLight(slot);
    const L = this.#light;
    const base = slot * LI_STRIDE;
    const fi = base + LI_FLAGS + dir, fp = base + LI_FLAGS + (dir ^ 1);
    if (!lightIs(L, base, flow.id)) {
      L[base + LI_ID] = flow.id >>> 0;
      L[base + LI_ID_HI] = idHi(flow.id);
      L[fi] = L[fp] = 0;
    }
    let lfi = L[fi]!;
    // A flow nobody wants the bytes of, or whose directions both ended and
    // whose state was let go, costs one test a packet from now on.
    if ((lfi & (L_IGNORED | L_DONE)) !== 0) {
      if ((lfi & L_DEPTH) !== 0) this.counters.depthDropped += len;
      return;
    }
    const seq = p.tcpSeq;
    // The flow's stream state (none before it carried data). It stays the
    // same object for this whole call: nothing below releases it.
    let s = this.#streams(flow, false);
    // The acknowledgement tells where the peer's stream stands.
    if ((flags & TCP_ACK) !== 0) {
      const ack = p.tcpAck;
      const lfp = L[fp]!, ai = base + LI_ACK + (dir ^ 1);
      if ((lfp & L_ACKED) === 0 || seqDiff(ack, L[ai]!) > 0) {
        L[ai] = ack;
        L[fp] = lfp | L_ACKED;
        if (s !== null) {
          const pd = s.dirs[dir ^ 1]!;
          if (pd.state === S_OPEN && pd.head !== null) {
            this.#ackCheck(flow, dir ^ 1, pd, ack);
          }
        }
      }
    }
    const ii = base + LI_ISN + dir;
    if ((flags & TCP_SYN) !== 0) {
      if ((lfi & L_SYN) === 0) {
        L[ii] = (seq + 1) >>> 0;
        L[fi] = lfi = lfi | L_SYN;
      }
    } else if ((lfi & (L_SYN | L_START)) === 0 && (flags & TCP_RST) === 0) {
      // The first segment without SYN: the next byte this side sends is at seq.
      L[ii] = seq;
      L[fi] = lfi = lfi | L_START;
    }
    if (s === null) {
      if (len === 0) return;
      s = this.#streams(flow, true);
      if (s === null) return; // the memcap is spent: not reassembled
    }
    const d = s.dirs[dir]!;
    if (d.state === S_DONE) {
      if (d.depthEnded) this.counters.depthDropped += len;
      if (s.dirs[dir ^ 1]!.state === S_DONE) this.#retire(flow, s);
      return;
    }
    if (d.state === S_NONE) {
      if (len === 0 && (flags & (TCP_FIN | TCP_RST)) === 0) return;
      if ((lfi & L_SYN) !== 0) {
        d.isn = L[ii]!;
      } else {
        // Picked up mid-stream: at this segment, or earlier where the peer
        // acknowledged (a reordered first segment still fills the hole).
        d.isn = (lfi & L_START) !== 0 ? L[ii]! : seq;
        if (seqDiff(seq, d.isn) < 0) d.isn = seq;
        if ((lfi & L_ACKED) !== 0) {
          const pa = L[base + LI_ACK + dir]!;
          const back = seqDiff(d.isn, pa);
          if (back > 0 && back <= this.config.maxHeldPerDir) d.isn = pa;
        }
        this.counters.midstream++;
      }
      d.state = S_OPEN;
      d.next = 0;
    }
    // Stream offset of the first payload byte (a SYN takes one number).
    const rel = seqDiff((flags & TCP_SYN) !== 0 ? seq + 1 : seq, d.isn);
    if ((flags & TCP_SYN) !== 0 && len > 0) this.counters.synData++;
    // Bytes the capture cut off (snap length) are a known hole.
    const wire = p.payloadWireLen > len ? p.payloadWireLen : len;
    if ((flags & TCP_FIN) !== 0 && d.fin < 0) d.fin = rel + wire;
    if (len > 0) {
      const ackRel = (lfi & L_ACKED) !== 0
        ? seqDiff(L[base + LI_ACK + dir]!, d.isn)
        : -1;
      this.#data(flow, dir, d, p.data, p.payloadOffset, len, rel, ackRel);
    }
    if (wire > len && d.state === S_OPEN) {
      this.#missing(flow, dir, d, rel + len, wire - len);
    }
    if ((flags & TCP_RST) !== 0) {
      this.#endBoth(flow, s, "rst");
    } else if (d.state === S_OPEN && d.fin >= 0 && d.next >= d.fin) {
      this.#flush(flow, dir, d);
      this.#end(flow, dir, d, "fin");
    }
    if (d.state === S_DONE && s.dirs[dir ^ 1]!.state === S_DONE) {
      this.#retire(flow, s);
    }
  }

  /**
   * Both directions of `flow` ended (FIN both ways, RST, depth, or nobody
   * wants the bytes): its stream state goes back to the pool and its share
   * of the memcap is freed at once, not when the flow table lets the flow
   * go; two light flags remember it, so later segments are dropped as
   * before. Called only from {@link segment}'s own level (never inside a
   * sink call), so nothing up the stack still uses `s`.
   */
  #retire(flow: Flow, s: FlowStreams): void {
    if (s.flowId !== flow.id) return;
    const L = this.#light, base = flow.slot * LI_STRIDE;
    if (base < L.length && lightIs(L, base, flow.id)) {
      for (let dir = 0; dir < 2; dir++) {
        const i = base + LI_FLAGS + dir;
        L[i] = L[i]! | L_DONE | (s.dirs[dir]!.depthEnded ? L_DEPTH : 0);
      }
    }
    this.#release(s);
    this.#memUsed -= FLOW_OVERHEAD;
    this.#bySlot[flow.slot] = null;
    if (this.#pool.length < 4096) this.#pool.push(s);
  }

  /**
   * Bytes `[rel, rel + n)` were sent but the capture cut them off (snap
   * length): a known hole, signalled as a gap when the stream reaches it.
   */
  #missing(flow: Flow, dir: number, d: DirState, rel: number, n: number): void {
    const depth = this.config.depth;
    if (depth > 0 && rel + n > depth) n = depth - rel;
    if (rel < d.next) {
      n -= d.next - rel;
      rel = d.next;
    }
    if (n <= 0) return;
    if (rel === d.next && (d.head === null || d.head.rel >= rel + n)) {
      this.#gap(flow, dir, d, n);
      if (d.head !== null && d.state === S_OPEN) this.#drain(flow, dir, d);
      return;
    }
    this.#hold(flow, dir, d, null, 0, n, rel);
    if (d.state === S_OPEN && d.head !== null && d.head.rel <= d.next) {
      this.#drain(flow, dir, d);
    }
  }

  /** One segment's payload `buf[off, off + len)` at stream offset `rel`. */
  #data(
    flow: Flow,
    dir: number,
    d: DirState,
    buf: Uint8Array,
    off: number,
    len: number,
    rel: number,
    ackRel: number,
  ): void {
    const c = this.counters;
    // Depth: bytes past it are never reassembled.
    const depth = this.config.depth;
    if (depth > 0 && rel + len > depth) {
      const cut = rel >= depth ? len : rel + len - depth;
      c.depthDropped += cut;
      len -= cut;
      if (len <= 0) return;
    }
    // Bytes already handed on: first data wins, drop them.
    if (rel < d.next) {
      c.overlaps++;
      const skip = d.next - rel;
      if (skip >= len) return;
      off += skip;
      len -= skip;
      rel = d.next;
    }
    // A hole the peer has acknowledged past: the capture lost it.
    if (rel > d.next && ackRel > rel) {
      if (d.head === null || d.head.rel >= rel) {
        this.#gap(flow, dir, d, rel - d.next);
      }
    }
    if (rel === d.next && (d.head === null || d.head.rel >= rel + len)) {
      // In order and overlapping nothing held: hand on from the capture buffer.
      this.#deliver(flow, dir, d, buf, off, len);
      if (d.head !== null) this.#drain(flow, dir, d);
      return;
    }
    this.#hold(flow, dir, d, buf, off, len, rel);
    if (d.state === S_OPEN && d.head !== null && d.head.rel <= d.next) {
      this.#drain(flow, dir, d);
    }
    if (
      d.state === S_OPEN &&
      (d.heldBytes > this.config.maxHeldPerDir ||
        d.heldSegs > MAX_HELD_SEGMENTS)
    ) {
      this.#giveUpHole(flow, dir, d);
    }
  }

  /**
   * Holds the parts of `buf[off, off + len)` (at `rel`) that no held
   * segment covers; compares the parts that one does (first data wins).
   * With `buf` null the range is a known-missing one (no bytes).
   */
  #hold(
    flow: Flow,
    dir: number,
    d: DirState,
    buf: Uint8Array | null,
    off: number,
    len: number,
    rel: number,
  ): void {
    const c = this.counters;
    const end = rel + len;
    let prev: Seg | null = null;
    let g = d.head;
    let pos = rel;
    let overlapped = false;
    let differs = false;
    let kept = false;
    /** End of the uncovered range whose memory was checked. */
    let checkedTo = rel;
    while (pos < end) {
      // Skip held segments that end before pos.
      while (g !== null && g.rel + segLen(g) <= pos) {
        prev = g;
        g = g.next;
      }
      if (g !== null && g.rel <= pos) {
        // pos is inside g: compare the covered bytes.
        const stop = Math.min(end, g.rel + segLen(g));
        if (buf !== null && g.miss === 0) {
          overlapped = true;
          const gd = this.#chunkOf(g.blk);
          const base = this.#blockAt(g.blk) - g.rel;
          for (let k = pos; k < stop; k++) {
            if (gd[base + k] !== buf[off + (k - rel)]) {
              differs = true;
              break;
            }
          }
        }
        pos = stop;
        continue;
      }
      // The range before the next held segment (or the end) is held whole
      // or not at all, as pieces of at most a block.
      const rangeEnd = g === null ? end : Math.min(end, g.rel);
      if (pos >= checkedTo) {
        const need = buf === null
          ? SEGMENT_OVERHEAD
          : Math.ceil((rangeEnd - pos) / BLOCK_SIZE) *
            (BLOCK_SIZE + SEGMENT_OVERHEAD);
        if (this.#memUsed + need > this.config.memcap) {
          c.memcapDropped += end - pos;
          // Free memory: this direction gives up its holes.
          this.#giveUpHole(flow, dir, d);
          break;
        }
        checkedTo = rangeEnd;
      }
      let stop = rangeEnd;
      if (buf !== null && stop - pos > BLOCK_SIZE) stop = pos + BLOCK_SIZE;
      const n = buf === null ? 0 : stop - pos;
      const cost = (buf === null ? 0 : BLOCK_SIZE) + SEGMENT_OVERHEAD;
      const piece = this.#segPool.pop() ?? new Seg();
      piece.rel = pos;
      piece.next = g;
      if (buf === null) {
        piece.blk = -1;
        piece.len = 0;
        piece.miss = stop - pos;
      } else {
        const b = this.#takeBlock();
        this.#chunkOf(b).set(
          buf.subarray(off + (pos - rel), off + (stop - rel)),
          this.#blockAt(b),
        );
        piece.blk = b;
        piece.len = n;
        piece.miss = 0;
      }
      if (prev === null) d.head = piece;
      else prev.next = piece;
      prev = piece;
      d.heldBytes += n;
      d.heldSegs++;
      this.#memUsed += cost;
      c.held += n;
      if (c.held > c.heldPeak) c.heldPeak = c.held;
      kept = true;
      pos = stop;
    }
    if (kept) c.segmentsHeld++;
    if (overlapped) {
      c.overlaps++;
      if (differs) {
        c.overlapsDiffering++;
        this.#sink.anomaly(flow, dir, "REASSEMBLY_OVERLAP_DIFFERENT_DATA");
      }
    }
  }

  /** Hands on held segments that are now in order. */
  #drain(flow: Flow, dir: number, d: DirState): void {
    let g = d.head;
    while (g !== null && g.rel <= d.next && d.state === S_OPEN) {
      const n = segLen(g);
      d.head = g.next;
      const skip = d.next - g.rel;
      if (skip < n) {
        if (g.miss > 0) this.#gap(flow, dir, d, n - skip);
        else {
          const b = g.blk;
          this.#deliver(
            flow,
            dir,
            d,
            this.#chunkOf(b),
            this.#blockAt(b) + skip,
            n - skip,
          );
        }
      }
      // Freed after the sink has read the block.
      this.#free(d, g);
      g = d.head;
    }
  }

  /** Gives up the first hole: a gap up to the first held segment, then drains. */
  #giveUpHole(flow: Flow, dir: number, d: DirState): void {
    const h = d.head;
    if (h === null || d.state !== S_OPEN) return;
    if (h.rel > d.next) this.#gap(flow, dir, d, h.rel - d.next);
    this.#drain(flow, dir, d);
  }

  /** The peer acknowledged bytes: holes before acknowledged held data are lost. */
  #ackCheck(flow: Flow, dir: number, d: DirState, ack: number): void {
    const ackRel = seqDiff(ack, d.isn);
    while (d.state === S_OPEN && d.head !== null && ackRel > d.head.rel) {
      this.#giveUpHole(flow, dir, d);
    }
  }

  /** Hands everything held on, with gaps between (the flow is ending). */
  #flush(flow: Flow, dir: number, d: DirState): void {
    while (d.state === S_OPEN && d.head !== null) {
      this.#giveUpHole(flow, dir, d);
    }
  }

  #gap(flow: Flow, dir: number, d: DirState, n: number): void {
    const depth = this.config.depth;
    if (depth > 0 && d.next + n >= depth) {
      // The part of the hole below the depth is still a gap of the stream
      // (so a parser counts exactly `depth` bytes however the data was cut);
      // what lies beyond is dropped by depth.
      const below = depth - d.next;
      if (below > 0) {
        this.counters.gaps++;
        this.counters.gapBytes += below;
        d.next = depth;
        this.#sink.gap(flow, dir, below);
      }
      this.counters.depthDropped += n - below;
      this.#end(flow, dir, d, "depth");
      return;
    }
    this.counters.gaps++;
    this.counters.gapBytes += n;
    d.next += n;
    this.#sink.gap(flow, dir, n);
  }

  #deliver(
    flow: Flow,
    dir: number,
    d: DirState,
    buf: Uint8Array,
    off: number,
    len: number,
  ): void {
    if (d.fin >= 0 && d.next + len > d.fin) len = d.fin - d.next;
    if (len <= 0) return;
    const at = d.next;
    d.next += len;
    this.counters.bytes += len;
    this.#sink.data(flow, dir, buf, off, len, at);
    const depth = this.config.depth;
    if (d.state === S_OPEN && depth > 0 && d.next >= depth) {
      this.#end(flow, dir, d, "depth");
    }
  }

  /** Gives a held piece's block and record back. */
  #free(d: DirState, g: Seg): void {
    const n = g.len;
    d.heldBytes -= n;
    d.heldSegs--;
    if (g.blk >= 0) {
      this.#freeBlocks[this.#freeTop++] = g.blk;
      this.#memUsed -= BLOCK_SIZE;
    }
    this.#memUsed -= SEGMENT_OVERHEAD;
    this.counters.held -= n;
    g.blk = -1;
    g.next = null;
    if (this.#segPool.length < 4096) this.#segPool.push(g);
  }

  /** Frees everything a direction holds. */
  #freeAll(d: DirState): void {
    let g = d.head;
    d.head = null;
    while (g !== null) {
      const next = g.next;
      this.#free(d, g);
      g = next;
    }
  }

  /** Drops what a direction holds and tells the sink it ended. */
  #end(flow: Flow, dir: number, d: DirState, reason: StreamEndReason): void {
    if (d.state === S_DONE) return;
    d.state = S_DONE;
    d.depthEnded = reason === "depth";
    this.#freeAll(d);
    this.#sink.end(flow, dir, reason);
  }

  #endBoth(flow: Flow, s: FlowStreams, reason: StreamEndReason): void {
    for (let dir = 0; dir < 2; dir++) {
      const d = s.dirs[dir]!;
      if (d.state === S_OPEN) this.#flush(flow, dir, d);
      if (d.state !== S_DONE && d.state !== S_NONE) {
        this.#end(flow, dir, d, reason);
      } else d.state = S_DONE;
    }
  }

  /**
   * The flow ends: what is held is handed on (with gaps for the holes) and
   * both directions end. Call before the flow is recycled.
   */
  flowEnd(flow: Flow): void {
    const s = this.#streams(flow, false);
    if (s === null) return;
    this.#endBoth(flow, s, "closed");
    this.#release(s);
    this.#memUsed -= FLOW_OVERHEAD;
    this.#bySlot[flow.slot] = null;
    if (this.#pool.length < 4096) this.#pool.push(s);
  }

  /**
   * Stops reassembling `flow` (nobody wants its bytes): what is held is
   * freed, nothing more is handed on, and no ends are reported; the
   * connection's own state is let go at the end of the segment being
   * handled (this is called from inside the sink).
   */
  ignore(flow: Flow): void {
    const s = this.#streams(flow, false);
    if (s === null) return;
    this.counters.letGo++;
    const slot = flow.slot;
    const L = this.#light, base = slot * LI_STRIDE;
    const light = base < L.length && lightIs(L, base, flow.id);
    for (let dir = 0; dir < 2; dir++) {
      const d = s.dirs[dir]!;
      this.#freeAll(d);
      // A direction ended by depth still counts the bytes it drops.
      if (light && !d.depthEnded) {
        L[base + LI_FLAGS + dir] = L[base + LI_FLAGS + dir]! | L_IGNORED;
      }
      d.state = S_DONE;
    }
  }

  #release(s: FlowStreams): void {
    for (const d of s.dirs) {
      this.#freeAll(d);
      d.reset();
    }
    s.flowId = -1;
  }

  /** Held bytes of one direction of a live flow (for tests and the memory bench). */
  heldOf(flow: Flow, dir = DIR_TO_SERVER): number {
    return this.#streams(flow, false)?.dirs[dir]?.heldBytes ?? 0;
  }
}
