/**
 * The flow table: one entry per bidirectional 5-tuple, updated per packet
 * without allocation, expired by packet time, bounded by a hard cap.
 *
 * Flows live in one of five timeout classes (TCP established, TCP attempt,
 * TCP closed, UDP, other). Each class keeps its flows in a list ordered by
 * last activity, so expiry only looks at list heads. When the table is full
 * the oldest flow of the cheapest class (attempts first) is evicted, so a
 * flood of spoofed sources cannot exhaust memory.
 *
 * @module
 */
import type { Tunnel } from "./tunnel.ts";
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Packet,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
} from "../decode/mod.ts";

/** Why a flow ended. */
export type FlowEndReason =
  | "idle"
  | "active"
  | "closed"
  | "evicted"
  | "shutdown";

/** TCP connection states as the table tracks them. */
export const TCP_STATE_NONE = 0;
/** SYN seen from the client, no answer yet. */
export const TCP_STATE_SYN_SENT = 1;
/** SYN+ACK seen from the server. */
export const TCP_STATE_SYN_RECV = 2;
/** Handshake completed (or mid-stream traffic both ways). */
export const TCP_STATE_ESTABLISHED = 3;
/** A FIN seen from one side. */
export const TCP_STATE_CLOSING = 4;
/** FINs seen from both sides. */
export const TCP_STATE_CLOSED = 5;
/** A RST seen. */
export const TCP_STATE_RESET = 6;

/** Names of the TCP states, indexed by state number. */
export const TCP_STATE_NAMES = [
  "none",
  "syn_sent",
  "syn_recv",
  "established",
  "closing",
  "closed",
  "reset",
] as const;

/** Timeout classes. */
const CLS_TCP = 0, CLS_ATTEMPT = 1, CLS_CLOSED = 2, CLS_UDP = 3, CLS_OTHER = 4;
const NCLS = 5;
/** Eviction order when the table is full: cheapest to lose first. */
const EVICT_ORDER = [CLS_ATTEMPT, CLS_CLOSED, CLS_OTHER, CLS_UDP, CLS_TCP];

/**
 * One bidirectional flow. The client is the side that sent the first packet
 * (or the SYN, when the first packet seen was a SYN+ACK).
 *
 * Flows are pooled: do not keep a reference to a Flow after the flow-end
 * callback returns; copy what you need.
 */
export interface Flow {
  /** Stable flow id (same capture, same ids), below 2^53. */
  id: number;
  version: 4 | 6;
  proto: number;
  /**
   * Client address words (see the decoder's address representation): a
   * view into the table's address storage, valid while the flow lives.
   */
  readonly srcAddr: Uint32Array;
  /** Server address words (a view, as `srcAddr`). */
  readonly dstAddr: Uint32Array;
  srcPort: number;
  dstPort: number;
  /** First and last packet time, µs since the epoch. */
  firstUs: number;
  lastUs: number;
  pktsToServer: number;
  pktsToClient: number;
  /** Wire bytes (frame lengths) each way. */
  bytesToServer: number;
  bytesToClient: number;
  /** Transport payload bytes each way (per the IP header). */
  payloadToServer: number;
  payloadToClient: number;
  /** OR of TCP flags each way. */
  flagsToServer: number;
  flagsToClient: number;
  /** Counts of TCP segments with these flags (either direction). */
  synCount: number;
  synAckCount: number;
  finCount: number;
  rstCount: number;
  /** One of the TCP_STATE_* values (TCP only). */
  tcpState: number;
  /** Sum and sum of squares of frame lengths (both directions). */
  sizeSum: number;
  sizeSqSum: number;
  /** Inter-arrival statistics in µs (both directions). */
  iatSum: number;
  iatSqSum: number;
  iatMax: number;
  /**
   * Least IP TTL (IPv6 hop limit) of the client's packets as seen here, 256
   * before the first: tells traceroute's probes (sent with TTL 1, 2, 3 …)
   * from ordinary datagrams.
   */
  ttlToServer: number;
  /** First ICMP type/code seen (-1 when none). */
  icmpType: number;
  icmpCode: number;
  /** Application protocol recognised on this flow: "", "dns", "http", "tls". */
  appProto: string;
  /** True when any detector raised an alert on this flow. */
  alerted: boolean;
  /** Free slot for later stages (detectors, features); reset with the flow. */
  ext: Record<string, unknown> | null;
  /**
   * The tunnel the flow's first packet came through (EVE `tunnel`), null
   * when it was not tunnelled. Set by the pipeline; flows are keyed by the
   * inner 5-tuple.
   */
  tunnel: Tunnel | null;

  // Table internals.
  /** @internal tuple hash (30 bits), picks the bucket */
  hash: number;
  /** @internal bucket chain */
  chain: Flow | null;
  /** @internal timeout class list links */
  prev: Flow | null;
  /** @internal */
  next: Flow | null;
  /** @internal timeout class */
  cls: number;
  /**
   * The flow's storage slot: unique among the live flows of its table,
   * small (below the most flows the table held at once, plus its pool),
   * reused after the flow ends. Later stages may keep per-flow state in
   * arrays indexed by it instead of allocating per flow; check the flow's
   * `id` to tell a reused slot from the flow they saw.
   */
  readonly slot: number;
}

/** Flow table limits and timeouts (seconds). */
export interface FlowTableConfig {
  /** Hard cap on live flows. */
  maxFlows: number;
  /** Idle timeout of established TCP flows (Zeek: tcp_inactivity_timeout, 5 min). */
  tcpIdleS: number;
  /** Idle timeout of TCP flows that never completed a handshake. */
  tcpAttemptS: number;
  /** Linger after FIN both ways or RST, so the last ACKs attach (Zeek: tcp_close_delay, 5 s). */
  tcpClosedS: number;
  /** Idle timeout of UDP flows (Zeek: udp_inactivity_timeout, 1 min). */
  udpIdleS: number;
  /** Idle timeout of ICMP and other protocols. */
  otherIdleS: number;
  /** A flow older than this is ended ("active") and continues as a new flow. */
  activeS: number;
}

/**
 * Defaults sized for a small board: at the cap the flows take about
 * 120 MB of heap (about 600 bytes a flow, 850 resident).
 */
export const DEFAULT_FLOW_CONFIG: Readonly<FlowTableConfig> = {
  maxFlows: 200_000,
  tcpIdleS: 300,
  tcpAttemptS: 30,
  tcpClosedS: 5,
  udpIdleS: 60,
  otherIdleS: 60,
  activeS: 1800,
};

/** Called once for every flow that ends; the flow is recycled afterwards. */
export type FlowEndHandler = (flow: Flow, reason: FlowEndReason) => void;

/** Direction of a packet in its flow. */
export const DIR_TO_SERVER = 0;
/** From the server to the client. */
export const DIR_TO_CLIENT = 1;

/** Counters the table keeps for `/metrics`. */
export interface FlowTableCounters {
  created: number;
  ended: number;
  evicted: number;
}

/** Flows whose addresses share one storage chunk (8 words a flow, 32 KiB). */
const CHUNK_FLOWS = 1024;
/** Ended flows kept for reuse at most (beyond it they are left to the GC). */
const POOL_MAX = 4096;

/**
 * A flow whose address words are views into `chunk` at `slot`: small
 * typed arrays of their own cost about 0.5 KB each in Deno (a backing
 * store outside the heap each), a view about 0.1 KB.
 */
function newFlow(chunk: Uint32Array, slot: number): Flow {
  const o = (slot % CHUNK_FLOWS) * 8;
  return {
    id: 0,
    version: 4,
    proto: 0,
    srcAddr: chunk.subarray(o, o + 4),
    dstAddr: chunk.subarray(o + 4, o + 8),
    srcPort: 0,
    dstPort: 0,
    firstUs: 0,
    lastUs: 0,
    pktsToServer: 0,
    pktsToClient: 0,
    bytesToServer: 0,
    bytesToClient: 0,
    payloadToServer: 0,
    payloadToClient: 0,
    flagsToServer: 0,
    flagsToClient: 0,
    synCount: 0,
    synAckCount: 0,
    finCount: 0,
    rstCount: 0,
    tcpState: TCP_STATE_NONE,
    sizeSum: 0,
    sizeSqSum: 0,
    iatSum: 0,
    iatSqSum: 0,
    iatMax: 0,
    ttlToServer: 256,
    icmpType: -1,
    icmpCode: -1,
    appProto: "",
    alerted: false,
    ext: null,
    tunnel: null,
    hash: 0,
    chain: null,
    prev: null,
    next: null,
    cls: 0,
    slot,
  };
}

/** Murmur3's 32-bit block step: folds one word into the running hash. */
function fold(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Hashes one endpoint (address words and port) to 32 bits. */
function endpointHash(w: Uint32Array, port: number): number {
  let h = fold(0x811c9dc5, port);
  h = fold(h, w[0]!);
  h = fold(h, w[1]!);
  h = fold(h, w[2]!);
  h = fold(h, w[3]!);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** The flow table. */
export class FlowTable {
  readonly config: FlowTableConfig;
  readonly counters: FlowTableCounters = { created: 0, ended: 0, evicted: 0 };
  /**
   * Bucket chain heads, a power of two long, doubled (never shrunk) when
   * the table holds more flows than buckets: unlike a Map, inserting and
   * deleting allocates nothing (a Map of 200k entries rehashes into new
   * megabyte tables as deletions pile up).
   */
  #buckets: (Flow | null)[] = new Array<Flow | null>(1024).fill(null);
  #mask = 1023;
  #size = 0;
  #heads: (Flow | null)[] = new Array(NCLS).fill(null);
  #tails: (Flow | null)[] = new Array(NCLS).fill(null);
  #timeoutUs = new Float64Array(NCLS);
  #activeUs: number;
  /**
   * Packet time of the last {@link expire} that stopped at its budget
   * (0: none pending). Flows idle past their timeout as of then are due:
   * {@link update} and eviction end them as expire would have.
   */
  #dueUs = 0;
  #pool: Flow[] = [];
  /** Address storage, {@link CHUNK_FLOWS} flows a chunk, grown on demand. */
  #chunks: Uint32Array[] = [];
  #slots = 0;
  /** Slots of flows dropped from a full pool, for reuse. */
  #freeSlots: number[] = [];
  #onEnd: FlowEndHandler;
  /** Direction of the packet most recently passed to {@link update}. */
  lastDir = DIR_TO_SERVER;

  /** Creates a table calling `onEnd` for every flow that ends. */
  constructor(onEnd: FlowEndHandler, config: Partial<FlowTableConfig> = {}) {
    this.config = { ...DEFAULT_FLOW_CONFIG, ...config };
    this.#onEnd = onEnd;
    const c = this.config;
    this.#timeoutUs[CLS_TCP] = c.tcpIdleS * 1e6;
    this.#timeoutUs[CLS_ATTEMPT] = c.tcpAttemptS * 1e6;
    this.#timeoutUs[CLS_CLOSED] = c.tcpClosedS * 1e6;
    this.#timeoutUs[CLS_UDP] = c.udpIdleS * 1e6;
    this.#timeoutUs[CLS_OTHER] = c.otherIdleS * 1e6;
    this.#activeUs = c.activeS * 1e6;
  }

  /** Number of live flows. */
  get size(): number {
    return this.#size;
  }

  /**
   * Accounts one decoded IP packet to its flow, creating the flow when new.
   * Returns the flow; {@link lastDir} tells the packet's direction.
   * The packet must have `ipVersion` 4 or 6.
   */
  update(p: Packet): Flow {
    const sh = endpointHash(p.src, p.srcPort);
    const dh = endpointHash(p.dst, p.dstPort);
    const key = (sh < dh ? mix(sh, dh) : mix(dh, sh)) ^ p.proto;
    const hash = key & 0x3fffffff;
    let f: Flow | null = this.#buckets[hash & this.#mask]!;
    let dir = DIR_TO_SERVER;
    while (f !== null) {
      if (f.proto === p.proto && f.version === p.ipVersion) {
        if (
          f.srcPort === p.srcPort && f.dstPort === p.dstPort &&
          sameWords(f.srcAddr, p.src) && sameWords(f.dstAddr, p.dst)
        ) break;
        if (
          f.srcPort === p.dstPort && f.dstPort === p.srcPort &&
          sameWords(f.srcAddr, p.dst) && sameWords(f.dstAddr, p.src)
        ) {
          dir = DIR_TO_CLIENT;
          break;
        }
      }
      f = f.chain;
    }
    const ts = p.tsUs;
    if (f !== null && this.#dueUs !== 0 && this.#overdue(f)) {
      this.#end(f, f.cls === CLS_CLOSED ? "closed" : "idle");
      f = null;
    }
    if (f !== null && ts - f.firstUs >= this.#activeUs) {
      this.#end(f, "active");
      f = null;
    }
    if (f === null) {
      f = this.#create(p, hash, key);
      dir = this.lastDir;
    } else {
      const gap = ts - f.lastUs;
      if (gap > 0) {
        f.iatSum += gap;
        f.iatSqSum += gap * gap;
        if (gap > f.iatMax) f.iatMax = gap;
      }
      if (ts > f.lastUs) f.lastUs = ts;
    }
    this.lastDir = dir;
    const len = p.wirelen;
    f.sizeSum += len;
    f.sizeSqSum += len * len;
    if (dir === DIR_TO_SERVER) {
      f.pktsToServer++;
      f.bytesToServer += len;
      f.payloadToServer += p.payloadWireLen;
      if (p.ttl < f.ttlToServer) f.ttlToServer = p.ttl;
    } else {
      f.pktsToClient++;
      f.bytesToClient += len;
      f.payloadToClient += p.payloadWireLen;
    }
    let cls = f.cls;
    if (p.proto === IPPROTO_TCP) {
      cls = this.#tcp(f, p.tcpFlags, dir);
    } else if (f.icmpType < 0 && p.icmpType >= 0) {
      f.icmpType = p.icmpType;
      f.icmpCode = p.icmpCode;
    }
    this.#touch(f, cls);
    return f;
  }

  #tcp(f: Flow, flags: number, dir: number): number {
    if (dir === DIR_TO_SERVER) f.flagsToServer |= flags;
    else f.flagsToClient |= flags;
    const syn = (flags & TCP_SYN) !== 0, ack = (flags & TCP_ACK) !== 0;
    if (syn) {
      if (ack) f.synAckCount++;
      else f.synCount++;
    }
    if (flags & TCP_FIN) f.finCount++;
    if (flags & TCP_RST) {
      f.rstCount++;
      f.tcpState = TCP_STATE_RESET;
      return CLS_CLOSED;
    }
    switch (f.tcpState) {
      case TCP_STATE_NONE:
        if (syn && !ack) f.tcpState = TCP_STATE_SYN_SENT;
        else if (syn && ack) f.tcpState = TCP_STATE_SYN_RECV;
        else if (f.pktsToServer > 0 && f.pktsToClient > 0) {
          f.tcpState = TCP_STATE_ESTABLISHED; // picked up mid-stream
        }
        break;
      case TCP_STATE_SYN_SENT:
        if (syn && ack && dir === DIR_TO_CLIENT) {
          f.tcpState = TCP_STATE_SYN_RECV;
        }
        break;
      case TCP_STATE_SYN_RECV:
        if (ack && !syn && dir === DIR_TO_SERVER) {
          f.tcpState = TCP_STATE_ESTABLISHED;
        }
        break;
      case TCP_STATE_ESTABLISHED:
        if (flags & TCP_FIN) f.tcpState = TCP_STATE_CLOSING;
        break;
      case TCP_STATE_CLOSING:
        if (
          (f.flagsToServer & TCP_FIN) !== 0 && (f.flagsToClient & TCP_FIN) !== 0
        ) f.tcpState = TCP_STATE_CLOSED;
        break;
    }
    switch (f.tcpState) {
      case TCP_STATE_ESTABLISHED:
      case TCP_STATE_CLOSING:
        return CLS_TCP;
      case TCP_STATE_CLOSED:
      case TCP_STATE_RESET:
        return CLS_CLOSED;
      default:
        return CLS_ATTEMPT;
    }
  }

  #create(p: Packet, hash: number, key: number): Flow {
    if (this.#size >= this.config.maxFlows) this.#evictOne();
    const f = this.#pool.pop() ?? this.#newFlow();
    const swap = firstPacketFromServer(p);
    f.version = p.ipVersion as 4 | 6;
    f.proto = p.proto;
    if (swap) {
      f.srcAddr.set(p.dst);
      f.dstAddr.set(p.src);
      f.srcPort = p.dstPort;
      f.dstPort = p.srcPort;
      this.lastDir = DIR_TO_CLIENT;
    } else {
      f.srcAddr.set(p.src);
      f.dstAddr.set(p.dst);
      f.srcPort = p.srcPort;
      f.dstPort = p.dstPort;
      this.lastDir = DIR_TO_SERVER;
    }
    f.firstUs = p.tsUs;
    f.lastUs = p.tsUs;
    // Stable across runs: the tuple hash and the first packet time.
    f.id = (key >>> 9) * 0x100000 + ((p.tsUs % 0x100000) >>> 0);
    f.hash = hash;
    f.cls = p.proto === IPPROTO_TCP
      ? CLS_ATTEMPT
      : p.proto === IPPROTO_UDP
      ? CLS_UDP
      : CLS_OTHER;
    if (this.#size >= this.#buckets.length) this.#grow();
    const b = hash & this.#mask;
    f.chain = this.#buckets[b]!;
    this.#buckets[b] = f;
    this.#append(f);
    this.#size++;
    this.counters.created++;
    return f;
  }

  /** A new flow object on a free address slot (the pool was empty). */
  #newFlow(): Flow {
    let slot = this.#freeSlots.pop();
    if (slot === undefined) {
      slot = this.#slots++;
      if (slot % CHUNK_FLOWS === 0) {
        this.#chunks.push(new Uint32Array(CHUNK_FLOWS * 8));
      }
    }
    return newFlow(this.#chunks[Math.floor(slot / CHUNK_FLOWS)]!, slot);
  }

  /** Doubles the buckets and re-links every flow. */
  #grow(): void {
    const old = this.#buckets;
    const n = old.length * 2;
    const buckets = new Array<Flow | null>(n).fill(null);
    const mask = n - 1;
    for (let i = 0; i < old.length; i++) {
      let f: Flow | null = old[i]!;
      while (f !== null) {
        const next: Flow | null = f.chain;
        const b = f.hash & mask;
        f.chain = buckets[b]!;
        buckets[b] = f;
        f = next;
      }
    }
    this.#buckets = buckets;
    this.#mask = mask;
  }

  /** True when `f` would have been ended by the expire that stopped at its budget. */
  #overdue(f: Flow): boolean {
    return f.lastUs <= this.#dueUs - this.#timeoutUs[f.cls]!;
  }

  #evictOne(): void {
    for (const c of EVICT_ORDER) {
      const h = this.#heads[c];
      if (h && this.#dueUs !== 0 && this.#overdue(h)) {
        this.#end(h, c === CLS_CLOSED ? "closed" : "idle");
        return;
      }
      if (h) {
        this.counters.evicted++;
        this.#end(h, "evicted");
        return;
      }
    }
  }

  #append(f: Flow): void {
    const c = f.cls;
    const t = this.#tails[c]!;
    f.prev = t;
    f.next = null;
    if (t) t.next = f;
    else this.#heads[c] = f;
    this.#tails[c] = f;
  }

  #unlink(f: Flow): void {
    const c = f.cls;
    if (f.prev) f.prev.next = f.next;
    else this.#heads[c] = f.next;
    if (f.next) f.next.prev = f.prev;
    else this.#tails[c] = f.prev;
    f.prev = f.next = null;
  }

  #touch(f: Flow, cls: number): void {
    if (this.#tails[f.cls] === f && cls === f.cls) return;
    this.#unlink(f);
    f.cls = cls;
    this.#append(f);
  }

  #end(f: Flow, reason: FlowEndReason): void {
    this.#unlink(f);
    // Remove from its bucket chain.
    const b = f.hash & this.#mask;
    let prev: Flow | null = null;
    let cur: Flow | null = this.#buckets[b]!;
    while (cur !== null && cur !== f) {
      prev = cur;
      cur = cur.chain;
    }
    if (cur === f) {
      if (prev) prev.chain = f.chain;
      else this.#buckets[b] = f.chain;
    }
    this.#size--;
    this.counters.ended++;
    this.#onEnd(f, reason);
    this.#recycle(f);
  }

  #recycle(f: Flow): void {
    f.chain = null;
    f.pktsToServer = f.pktsToClient = 0;
    f.bytesToServer = f.bytesToClient = 0;
    f.payloadToServer = f.payloadToClient = 0;
    f.flagsToServer = f.flagsToClient = 0;
    f.synCount =
      f.synAckCount =
      f.finCount =
      f.rstCount =
        0;
    f.tcpState = TCP_STATE_NONE;
    f.sizeSum = f.sizeSqSum = 0;
    f.iatSum = f.iatSqSum = f.iatMax = 0;
    f.ttlToServer = 256;
    f.icmpType = f.icmpCode = -1;
    f.appProto = "";
    f.alerted = false;
    f.ext = null;
    f.tunnel = null;
    if (this.#pool.length < POOL_MAX) this.#pool.push(f);
    else this.#freeSlots.push(f.slot);
  }

  /**
   * Ends every flow whose timeout has passed at packet time `nowUs`, at
   * most `max` of them (default: no limit): a live source bounds the work
   * one call does, so a burst of timeouts cannot block the event loop, and
   * calls again while {@link behind}. Flows left over are still ended as
   * they would have been (by a later call, or when a packet or an eviction
   * meets them first). Call once per batch with the latest packet time (or
   * wall time when live and idle). Returns the number of flows ended.
   */
  expire(nowUs: number, max = Infinity): number {
    let n = 0;
    for (let c = 0; c < NCLS; c++) {
      const limit = nowUs - this.#timeoutUs[c]!;
      let f = this.#heads[c] ?? null;
      while (f !== null && f.lastUs <= limit) {
        if (n >= max) {
          if (nowUs > this.#dueUs) this.#dueUs = nowUs;
          return n;
        }
        const next: Flow | null = f.next;
        this.#end(f, c === CLS_CLOSED ? "closed" : "idle");
        n++;
        f = next;
      }
    }
    if (nowUs >= this.#dueUs) this.#dueUs = 0;
    return n;
  }

  /** True when the last {@link expire} stopped at its budget with flows still due. */
  get behind(): boolean {
    return this.#dueUs !== 0;
  }

  /** Ends every live flow with reason "shutdown" (end of a capture, stop). */
  flush(): void {
    for (let c = 0; c < NCLS; c++) {
      let f = this.#heads[c] ?? null;
      while (f !== null) {
        const next: Flow | null = f.next;
        this.#end(f, c === CLS_CLOSED ? "closed" : "shutdown");
        f = next;
      }
    }
  }

  /** Visits every live flow (for stats and the dashboard); do not mutate. */
  forEach(fn: (f: Flow) => void): void {
    for (let c = 0; c < NCLS; c++) {
      for (let f = this.#heads[c] ?? null; f !== null; f = f.next) fn(f);
    }
  }
}

/**
 * Decides whether the first packet seen of a flow was sent by its server: a
 * SYN+ACK, or (picked up mid-stream, no SYN) a packet from a well-known port
 * to an ephemeral one, as a DNS answer whose query was not captured.
 */
function firstPacketFromServer(p: Packet): boolean {
  if (p.proto === IPPROTO_TCP) {
    const f = p.tcpFlags & (TCP_SYN | TCP_ACK);
    if (f === (TCP_SYN | TCP_ACK)) return true;
    if (f & TCP_SYN) return false;
  } else if (p.proto !== IPPROTO_UDP) {
    return false;
  }
  return p.srcPort < 1024 && p.dstPort >= 1024;
}

/** Returns true for IP protocols whose flows carry ports. */
export function hasPorts(proto: number): boolean {
  return proto === IPPROTO_TCP || proto === IPPROTO_UDP;
}

/** Returns true for ICMP and ICMPv6. */
export function isIcmp(proto: number): boolean {
  return proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6;
}
