/**
 * Flow features for the anomaly detector: a fixed vector of numbers per
 * finished flow, in human units (packets, bytes, seconds, counts), from the
 * flow record plus the recent behaviour of the flow's source (its client):
 * distinct destination ports and hosts, flows started and failed
 * connections in the last 10 seconds. DNS flows add the length and entropy
 * of their longest and most random query name.
 *
 * Heavy-tailed counts are compared on a log scale (`log1p`) by the model;
 * the vector itself stays in human units so CSV rows and explanations read
 * naturally. {@link FEATURES} documents every entry, one line each.
 *
 * @module
 */
import {
  APP_DNS,
  formatAddr,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Packet,
} from "../decode/mod.ts";
import {
  type Flow,
  type FlowEndReason,
  type FlowObserver,
  type PacketContext,
  TCP_STATE_NAMES,
} from "../flows/mod.ts";
import { rrtypeName } from "../events/mod.ts";

/** How a feature's values are compared and described. */
export type FeatureKind = "count" | "real" | "category";

/** One documented feature. */
export interface FeatureSpec {
  /** Column name (CSV header, model file, API field). */
  readonly name: string;
  /** One line on what it measures. */
  readonly description: string;
  /** Unit of the raw value ("" for categories and plain counts). */
  readonly unit: string;
  /** Counts and reals are numeric; categories are codes compared by frequency. */
  readonly kind: FeatureKind;
  /** True when the model sees log(1 + value) (heavy-tailed, non-negative). */
  readonly log: boolean;
  /** Smallest spread (in model units) used when measuring deviations. */
  readonly minScale: number;
  /**
   * True for a session's size and length (duration, packets, bytes, pauses):
   * normal sessions grow without bound (an ssh session left open, a large
   * download), so a value above the largest of the training flows is
   * scored as that largest value instead of as something never seen
   * (ml/README.md: "Long sessions"). Low values keep range-aware scoring.
   */
  readonly session?: boolean;
  /** The value in words with its unit, e.g. "412", "1.2 kB", "3.4 s". */
  format(v: number): string;
  /** A sentence fragment for explanations, given the formatted value. */
  phrase(v: string): string;
}

/** Length of the host window, seconds. */
export const WINDOW_S = 10;

function fmtCount(v: number): string {
  // Thousands separators without Intl (toLocaleString is slow per call).
  const n = Math.round(v);
  const s = String(Math.abs(n));
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += ",";
    out += s[i];
  }
  return n < 0 ? "-" + out : out;
}

function fmtBytes(v: number): string {
  if (v < 1000) return `${Math.round(v)} B`;
  if (v < 1e6) return `${(v / 1e3).toFixed(v < 1e4 ? 1 : 0)} kB`;
  if (v < 1e9) return `${(v / 1e6).toFixed(v < 1e7 ? 1 : 0)} MB`;
  return `${(v / 1e9).toFixed(1)} GB`;
}

function fmtSeconds(v: number): string {
  if (v < 0.001) return `${Math.round(v * 1e6)} µs`;
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  if (v < 120) return `${v.toFixed(v < 10 ? 2 : 1)} s`;
  if (v < 7200) return `${(v / 60).toFixed(1)} min`;
  return `${(v / 3600).toFixed(1)} h`;
}

function fmtMs(v: number): string {
  return fmtSeconds(v / 1000);
}

const ICMP_TYPES: Record<number, string> = {
  0: "echo reply",
  3: "destination unreachable",
  5: "redirect",
  8: "echo request",
  11: "time exceeded",
  13: "timestamp request",
  1: "v6 destination unreachable",
  128: "v6 echo request",
  129: "v6 echo reply",
  133: "router solicitation",
  134: "router advertisement",
  135: "neighbour solicitation",
  136: "neighbour advertisement",
};

/** Protocol codes of the `proto_class` feature. */
export const PROTO_CODES = ["TCP", "UDP", "ICMP", "other"] as const;
/** Port class codes of the `port_class` feature. */
export const PORT_CLASSES = [
  "none",
  "well-known (< 1024)",
  "registered (1024–49151)",
  "ephemeral (≥ 49152)",
] as const;
/** Application codes of the `app` feature. */
export const APP_CODES = ["none", "DNS", "HTTP", "TLS"] as const;

function codeName(names: readonly string[], v: number): string {
  return names[v] ?? String(v);
}

function count(
  name: string,
  description: string,
  phrase: (v: string) => string,
  log = true,
  session = false,
): FeatureSpec {
  return {
    name,
    description,
    unit: "",
    kind: "count",
    log,
    minScale: log ? 0.35 : 1,
    format: fmtCount,
    phrase,
    ...(session ? { session } : {}),
  };
}

function bytes(
  name: string,
  description: string,
  phrase: (v: string) => string,
): FeatureSpec {
  return {
    name,
    description,
    unit: "bytes",
    kind: "count",
    log: true,
    minScale: 0.35,
    format: fmtBytes,
    phrase,
    session: true,
  };
}

function category(
  name: string,
  description: string,
  names: readonly string[] | null,
  phrase: (v: string) => string,
): FeatureSpec {
  return {
    name,
    description,
    unit: "",
    kind: "category",
    log: false,
    minScale: 1,
    format: (v) => (names ? codeName(names, v) : String(v)),
    phrase,
  };
}

/**
 * Every feature, in vector order. Names are stable: models record them and
 * refuse a build whose list differs.
 */
export const FEATURES: readonly FeatureSpec[] = [
  category(
    "proto_class",
    "Transport: 0 TCP, 1 UDP, 2 ICMP/ICMPv6, 3 other",
    PROTO_CODES,
    (v) => `protocol ${v}`,
  ),
  category(
    "port_class",
    "Destination port: 0 none, 1 well-known < 1024, 2 registered, 3 ephemeral ≥ 49152",
    PORT_CLASSES,
    (v) => `destination port ${v}`,
  ),
  category(
    "app",
    "Application protocol recognised: 0 none, 1 DNS, 2 HTTP, 3 TLS",
    APP_CODES,
    (v) => `application ${v}`,
  ),
  {
    name: "duration",
    description: "Time from the first to the last packet",
    unit: "s",
    kind: "real",
    log: true,
    minScale: 0.1,
    format: fmtSeconds,
    phrase: (v) => `lasted ${v}`,
    session: true,
  },
  count(
    "pkts_out",
    "Packets from client to server",
    (v) => `${v} packets sent`,
    true,
    true,
  ),
  count(
    "pkts_in",
    "Packets from server to client",
    (v) => `${v} packets answered`,
    true,
    true,
  ),
  bytes("bytes_out", "Wire bytes from client to server", (v) => `${v} sent`),
  bytes("bytes_in", "Wire bytes from server to client", (v) => `${v} received`),
  bytes(
    "payload_out",
    "Transport payload bytes from client to server",
    (v) => `${v} of payload sent`,
  ),
  bytes(
    "payload_in",
    "Transport payload bytes from server to client",
    (v) => `${v} of payload received`,
  ),
  {
    name: "pkt_size_mean",
    description: "Mean frame length, both directions",
    unit: "bytes",
    kind: "real",
    log: false,
    minScale: 20,
    format: (v) => `${Math.round(v)} B`,
    phrase: (v) => `average packet ${v}`,
  },
  {
    name: "pkt_size_sd",
    description: "Standard deviation of frame length, both directions",
    unit: "bytes",
    kind: "real",
    log: false,
    minScale: 20,
    format: (v) => `${Math.round(v)} B`,
    phrase: (v) => `packet sizes spread ±${v}`,
  },
  {
    name: "iat_mean",
    description: "Mean time between packets, both directions",
    unit: "ms",
    kind: "real",
    log: true,
    minScale: 0.35,
    format: fmtMs,
    phrase: (v) => `${v} between packets on average`,
    session: true,
  },
  {
    name: "iat_max",
    description: "Longest gap between packets",
    unit: "ms",
    kind: "real",
    log: true,
    minScale: 0.35,
    format: fmtMs,
    phrase: (v) => `longest pause ${v}`,
    session: true,
  },
  count("syn", "TCP SYN segments (without ACK)", (v) => `${v} SYNs`),
  count("rst", "TCP RST segments, either direction", (v) => `${v} RSTs`),
  count("fin", "TCP FIN segments, either direction", (v) => `${v} FINs`),
  category(
    "tcp_state",
    "Final TCP state: 0 none, 1 SYN sent, 2 SYN received, 3 established, 4 closing, 5 closed, 6 reset",
    TCP_STATE_NAMES.map((s) => s.replace("_", " ")),
    (v) =>
      `TCP connection ended ${
        v === "none" ? "without a handshake" : `in state "${v}"`
      }`,
  ),
  category(
    "no_reply",
    "1 when the server sent nothing back, else 0",
    ["a reply", "no reply"],
    (
      v,
    ) => (v === "no reply"
      ? "no reply from the destination"
      : "the destination replied"),
  ),
  {
    ...category(
      "icmp_type",
      "First ICMP/ICMPv6 type seen, -1 when none",
      null,
      (v) => (v === "none" ? "no ICMP" : `ICMP ${v}`),
    ),
    format: (v) => (v < 0 ? "none" : ICMP_TYPES[v] ?? `type ${v}`),
  },
  count(
    "dns_qname_len",
    "Longest DNS query name in the flow, characters (0 when not DNS)",
    (v) => `DNS name of ${v} characters`,
    false,
  ),
  {
    name: "dns_qname_entropy",
    description:
      "Highest Shannon entropy of a DNS query name in the flow, bits per character",
    unit: "bits/char",
    kind: "real",
    log: false,
    minScale: 0.25,
    format: (v) => v.toFixed(2),
    phrase: (v) => `DNS name randomness ${v} bits per character`,
  },
  {
    ...category(
      "dns_qtype",
      "Query type of the longest DNS name (1 A, 16 TXT, 28 AAAA, …), 0 when none",
      null,
      (v) => (v === "none" ? "no DNS query" : `DNS query type ${v}`),
    ),
    format: (v) => (v === 0 ? "none" : rrtypeName(v)),
  },
  count(
    "src_ports_10s",
    "Distinct destination ports the source contacted in the last 10 s",
    (v) => `${v} distinct destination ports in 10 s`,
  ),
  count(
    "src_hosts_10s",
    "Distinct destination hosts the source contacted in the last 10 s",
    (v) => `${v} distinct destination hosts in 10 s`,
  ),
  count(
    "src_flows_10s",
    "Flows the source started in the last 10 s",
    (v) => `${v} connections started in 10 s`,
  ),
  count(
    "src_failed_10s",
    "Failed TCP connections of the source (reset or unanswered, no data back) in the last 10 s",
    (v) => `${v} failed connections in 10 s`,
  ),
];

/** Number of features. */
export const FEATURE_COUNT = FEATURES.length;
/** Feature names in vector order. */
export const FEATURE_NAMES: readonly string[] = FEATURES.map((f) => f.name);

/** Index of each feature by name. */
export const FEATURE_INDEX: Readonly<Record<string, number>> = Object
  .fromEntries(
    FEATURE_NAMES.map((n, i) => [n, i]),
  );

const F = FEATURE_INDEX as Record<string, number>;
const I_PROTO = F.proto_class!, I_PORT = F.port_class!, I_APP = F.app!;
const I_DUR = F.duration!, I_PKO = F.pkts_out!, I_PKI = F.pkts_in!;
const I_BO = F.bytes_out!, I_BI = F.bytes_in!, I_PLO = F.payload_out!;
const I_PLI = F.payload_in!, I_SZM = F.pkt_size_mean!, I_SZS = F.pkt_size_sd!;
const I_IATM = F.iat_mean!, I_IATX = F.iat_max!, I_SYN = F.syn!, I_RST = F.rst!;
const I_FIN = F.fin!, I_STATE = F.tcp_state!, I_NOREP = F.no_reply!;
const I_ICMP = F.icmp_type!, I_QLEN = F.dns_qname_len!;
const I_QENT = F.dns_qname_entropy!, I_QTYPE = F.dns_qtype!;
const I_WPORTS = F.src_ports_10s!, I_WHOSTS = F.src_hosts_10s!;
const I_WFLOWS = F.src_flows_10s!, I_WFAIL = F.src_failed_10s!;

/** Context of a flow besides its own record: DNS names and the source's window. */
export interface FlowContext {
  /** Longest query name (characters), its type, and the highest name entropy. */
  dnsLen: number;
  dnsType: number;
  dnsEntropy: number;
  /** The source's window counts (see {@link HostWindows}). */
  ports: number;
  hosts: number;
  flows: number;
  failed: number;
}

/** Creates a zeroed {@link FlowContext}. */
export function newFlowContext(): FlowContext {
  return {
    dnsLen: 0,
    dnsType: 0,
    dnsEntropy: 0,
    ports: 0,
    hosts: 0,
    flows: 0,
    failed: 0,
  };
}

/** Application code of a flow's `appProto` text. */
function appCode(app: string): number {
  switch (app) {
    case "dns":
      return 1;
    case "http":
      return 2;
    case "tls":
      return 3;
    default:
      return 0;
  }
}

/** Port class of a destination port (0 when the protocol has no ports). */
export function portClass(proto: number, port: number): number {
  if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return 0;
  if (port < 1024) return 1;
  if (port < 49152) return 2;
  return 3;
}

/**
 * True when a finished flow counts as a failed connection of its client:
 * TCP, nothing came back as payload, and the server reset it or never sent
 * a SYN+ACK (closed or filtered port, or a probe without a handshake).
 */
export function isFailedConnection(f: Flow): boolean {
  return f.proto === IPPROTO_TCP && f.payloadToClient === 0 &&
    (f.rstCount > 0 || f.synAckCount === 0);
}

/**
 * Writes the feature vector (human units, {@link FEATURES} order) of a
 * finished flow into `out`. Pure and allocation-free.
 */
export function flowFeatures(
  f: Flow,
  ctx: FlowContext,
  out: Float64Array,
): void {
  const proto = f.proto;
  out[I_PROTO] = proto === IPPROTO_TCP
    ? 0
    : proto === IPPROTO_UDP
    ? 1
    : proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6
    ? 2
    : 3;
  out[I_PORT] = portClass(proto, f.dstPort);
  out[I_APP] = appCode(f.appProto);
  out[I_DUR] = Math.max(0, f.lastUs - f.firstUs) / 1e6;
  out[I_PKO] = f.pktsToServer;
  out[I_PKI] = f.pktsToClient;
  out[I_BO] = f.bytesToServer;
  out[I_BI] = f.bytesToClient;
  out[I_PLO] = f.payloadToServer;
  out[I_PLI] = f.payloadToClient;
  const n = f.pktsToServer + f.pktsToClient;
  const mean = n > 0 ? f.sizeSum / n : 0;
  out[I_SZM] = mean;
  out[I_SZS] = n > 1
    ? Math.sqrt(Math.max(0, f.sizeSqSum / n - mean * mean))
    : 0;
  const gaps = n - 1;
  out[I_IATM] = gaps > 0 ? f.iatSum / gaps / 1000 : 0;
  out[I_IATX] = f.iatMax / 1000;
  out[I_SYN] = f.synCount;
  out[I_RST] = f.rstCount;
  out[I_FIN] = f.finCount;
  out[I_STATE] = proto === IPPROTO_TCP ? f.tcpState : 0;
  out[I_NOREP] = f.pktsToClient === 0 ? 1 : 0;
  out[I_ICMP] = f.icmpType;
  out[I_QLEN] = ctx.dnsLen;
  out[I_QENT] = ctx.dnsEntropy;
  out[I_QTYPE] = ctx.dnsType;
  out[I_WPORTS] = ctx.ports;
  out[I_WHOSTS] = ctx.hosts;
  out[I_WFLOWS] = ctx.flows;
  out[I_WFAIL] = ctx.failed;
}

/**
 * Maps a vector in human units to what the model sees (log1p of the
 * heavy-tailed features), reading `raw` and writing `out` (may be the same
 * array). Allocation-free.
 */
export function toModelSpace(raw: ArrayLike<number>, out: Float64Array): void {
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const v = raw[i]!;
    out[i] = LOG[i] ? Math.log1p(Math.max(0, v)) : v;
  }
}

/** The inverse of {@link toModelSpace} for one feature. */
export function fromModelSpace(i: number, v: number): number {
  return LOG[i] ? Math.expm1(v) : v;
}

const LOG = Uint8Array.from(FEATURES, (f) => (f.log ? 1 : 0));

const ENTROPY_COUNTS = new Int32Array(256);

/**
 * Shannon entropy of the characters of `s`, bits per character (0 for the
 * empty string). Allocation-free.
 *
 * @example
 * ```ts
 * nameEntropy("aaaa"); // 0
 * nameEntropy("abcd"); // 2
 * ```
 */
export function nameEntropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  const c = ENTROPY_COUNTS;
  for (let i = 0; i < n; i++) c[s.charCodeAt(i) & 0xff]!++;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const k = s.charCodeAt(i) & 0xff;
    const m = c[k]!;
    if (m > 0) {
      const p = m / n;
      h -= p * Math.log2(p);
      c[k] = 0;
    }
  }
  return h;
}

/** Options of {@link HostWindows}. */
export interface HostWindowOptions {
  /** Most sources tracked at once; the least recently active is dropped (default 4096). */
  maxSources?: number;
}

const BUCKETS = WINDOW_S; // one bucket a second
const BITS = 1024; // linear-counting bitmap per bucket
const WORDS = BITS / 32;
const SLOT_WORDS = BUCKETS * WORDS;

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function addrHash(w: Uint32Array): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ w[0]!, 0x01000193);
  h = Math.imul(h ^ w[1]!, 0x01000193);
  h = Math.imul(h ^ w[2]!, 0x01000193);
  h = Math.imul(h ^ w[3]!, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/**
 * A well-mixed hash of a port: linear counting assumes random bit positions;
 * a multiplicative (Fibonacci) hash spreads sequential ports too evenly and
 * doubles the estimate of a sequential scan.
 */
function portHash(port: number): number {
  let x = Math.imul(port ^ 0x5bd1e995, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function linearCount(zeros: number): number {
  // Linear counting (Whang et al., 1990): n ≈ -m ln(V), V = share of zero bits.
  if (zeros === BITS) return 0;
  if (zeros === 0) return Math.round(BITS * Math.log(BITS));
  return Math.round(-BITS * Math.log(zeros / BITS));
}

/**
 * Per-source sliding windows of the last {@link WINDOW_S} seconds (one
 * bucket a second): distinct destination ports and hosts (linear counting
 * over 1024-bit bitmaps: exact or off by one for small counts, within a few
 * percent up to about two thousand, saturating near 7,100), flows started
 * and failed connections. Bounded: at most `maxSources` sources, least
 * recently active dropped first; about 2.7 KB a source (11 MB at the
 * default cap). Allocation-free after construction.
 */
export class HostWindows {
  readonly maxSources: number;
  /** Sources dropped to stay under the cap. */
  dropped = 0;
  #addr: Uint32Array;
  #ports: Uint32Array;
  #hosts: Uint32Array;
  #flows: Uint32Array;
  #failed: Uint32Array;
  #sec: Float64Array;
  #chain: Int32Array;
  #prev: Int32Array;
  #next: Int32Array;
  #hash: Uint32Array;
  /** Bucket chain heads (-1: empty), a power of two at least `maxSources`. */
  #heads: Int32Array;
  #mask: number;
  #used = 0;
  #head = -1;
  #tail = -1;

  /** Creates the windows with room for `maxSources` sources. */
  constructor(opts: HostWindowOptions = {}) {
    const n = Math.max(1, opts.maxSources ?? 4096);
    this.maxSources = n;
    this.#addr = new Uint32Array(n * 4);
    this.#ports = new Uint32Array(n * SLOT_WORDS);
    this.#hosts = new Uint32Array(n * SLOT_WORDS);
    this.#flows = new Uint32Array(n * BUCKETS);
    this.#failed = new Uint32Array(n * BUCKETS);
    this.#sec = new Float64Array(n);
    this.#chain = new Int32Array(n);
    this.#prev = new Int32Array(n);
    this.#next = new Int32Array(n);
    this.#hash = new Uint32Array(n);
    let b = 1;
    while (b < n) b *= 2;
    this.#heads = new Int32Array(b).fill(-1);
    this.#mask = b - 1;
  }

  /** Number of sources tracked. */
  get size(): number {
    return this.#used;
  }

  #find(addr: Uint32Array, h: number): number {
    let s = this.#heads[h & this.#mask]!;
    const a = this.#addr;
    while (s >= 0) {
      const o = s * 4;
      if (
        a[o] === addr[0] && a[o + 1] === addr[1] && a[o + 2] === addr[2] &&
        a[o + 3] === addr[3]
      ) return s;
      s = this.#chain[s]!;
    }
    return -1;
  }

  #unlinkLru(s: number): void {
    const p = this.#prev[s]!, n = this.#next[s]!;
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
  }

  #pushLru(s: number): void {
    this.#prev[s] = this.#tail;
    this.#next[s] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = s;
    else this.#head = s;
    this.#tail = s;
  }

  #unmap(s: number): void {
    const b = this.#hash[s]! & this.#mask;
    let cur = this.#heads[b]!, prev = -1;
    while (cur >= 0 && cur !== s) {
      prev = cur;
      cur = this.#chain[cur]!;
    }
    if (cur !== s) return;
    if (prev >= 0) this.#chain[prev] = this.#chain[s]!;
    else this.#heads[b] = this.#chain[s]!;
  }

  /** Finds or creates the slot of a source, marking it most recently active. */
  #slot(addr: Uint32Array, sec: number): number {
    const h = addrHash(addr);
    let s = this.#find(addr, h);
    if (s >= 0) {
      if (this.#tail !== s) {
        this.#unlinkLru(s);
        this.#pushLru(s);
      }
      return s;
    }
    if (this.#used < this.maxSources) {
      s = this.#used++;
    } else {
      s = this.#head;
      this.#unlinkLru(s);
      this.#unmap(s);
      this.dropped++;
    }
    this.#addr.set(addr, s * 4);
    this.#ports.fill(0, s * SLOT_WORDS, (s + 1) * SLOT_WORDS);
    this.#hosts.fill(0, s * SLOT_WORDS, (s + 1) * SLOT_WORDS);
    this.#flows.fill(0, s * BUCKETS, (s + 1) * BUCKETS);
    this.#failed.fill(0, s * BUCKETS, (s + 1) * BUCKETS);
    this.#sec[s] = sec;
    this.#hash[s] = h;
    this.#chain[s] = this.#heads[h & this.#mask]!;
    this.#heads[h & this.#mask] = s;
    this.#pushLru(s);
    return s;
  }

  /** Moves a slot's window forward to second `sec`, clearing expired buckets. */
  #advance(s: number, sec: number): number {
    const last = this.#sec[s]!;
    if (sec <= last) return last;
    const steps = Math.min(BUCKETS, sec - last);
    for (let k = 1; k <= steps; k++) {
      const b = (last + k) % BUCKETS;
      this.#ports.fill(
        0,
        s * SLOT_WORDS + b * WORDS,
        s * SLOT_WORDS + (b + 1) * WORDS,
      );
      this.#hosts.fill(
        0,
        s * SLOT_WORDS + b * WORDS,
        s * SLOT_WORDS + (b + 1) * WORDS,
      );
      this.#flows[s * BUCKETS + b] = 0;
      this.#failed[s * BUCKETS + b] = 0;
    }
    this.#sec[s] = sec;
    return sec;
  }

  /**
   * Records a flow started by `src` towards `dst`:`dstPort` (port 0: none)
   * at packet time `tsUs`, then writes the source's window counts to `out`.
   */
  flowStarted(
    src: Uint32Array,
    dst: Uint32Array,
    o: { dstPort: number; tsUs: number; out: FlowContext },
  ): void {
    const sec = Math.floor(o.tsUs / 1e6);
    const s = this.#slot(src, sec);
    const cur = this.#advance(s, sec);
    const b = cur % BUCKETS;
    const base = s * SLOT_WORDS + b * WORDS;
    if (o.dstPort > 0) {
      const bit = portHash(o.dstPort) >>> 22; // 10 bits
      this.#ports[base + (bit >>> 5)]! |= 1 << (bit & 31);
    }
    const hb = addrHash(dst) >>> 22;
    this.#hosts[base + (hb >>> 5)]! |= 1 << (hb & 31);
    this.#flows[s * BUCKETS + b]!++;
    this.#read(s, o.out);
  }

  /** Records a failed connection of `src` at packet time `tsUs`. */
  connectionFailed(src: Uint32Array, tsUs: number): void {
    const sec = Math.floor(tsUs / 1e6);
    const s = this.#slot(src, sec);
    const cur = this.#advance(s, sec);
    this.#failed[s * BUCKETS + (cur % BUCKETS)]!++;
  }

  /**
   * Writes the window counts of `src` as of packet time `tsUs` into `out`
   * (zeros for an unknown source).
   */
  read(src: Uint32Array, tsUs: number, out: FlowContext): void {
    const s = this.#find(src, addrHash(src));
    if (s < 0) {
      out.ports =
        out.hosts =
        out.flows =
        out.failed =
          0;
      return;
    }
    this.#advance(s, Math.floor(tsUs / 1e6));
    this.#read(s, out);
  }

  #read(s: number, out: FlowContext): void {
    const p = this.#ports, h = this.#hosts;
    let pz = 0, hz = 0, flows = 0, failed = 0;
    const base = s * SLOT_WORDS;
    for (let w = 0; w < WORDS; w++) {
      let pw = 0, hw = 0;
      for (let b = 0; b < BUCKETS; b++) {
        pw |= p[base + b * WORDS + w]!;
        hw |= h[base + b * WORDS + w]!;
      }
      pz += 32 - popcount(pw);
      hz += 32 - popcount(hw);
    }
    for (let b = 0; b < BUCKETS; b++) {
      flows += this.#flows[s * BUCKETS + b]!;
      failed += this.#failed[s * BUCKETS + b]!;
    }
    out.ports = linearCount(pz);
    out.hosts = linearCount(hz);
    out.flows = flows;
    out.failed = failed;
  }
}

/** Called for every finished flow with its features (human units). */
export type FeatureHandler = (
  flow: Flow,
  features: Float64Array,
  reason: FlowEndReason,
) => void;

/** Options of {@link FeatureExtractor}. */
export type FeatureExtractorOptions = HostWindowOptions;

/**
 * True for a flow of the local network's control plane, which the model
 * neither learns nor scores: IGMP, IPv6 neighbour discovery and MLD, DHCP
 * (UDP between ports 67 and 68), mDNS and LLMNR (UDP port 5353 or 5355,
 * unicast answers too), and anything sent to a multicast or the limited
 * broadcast address (SSDP, NetBIOS and WS-Discovery announcements). Their normal shape is rare per network (a few joins, a
 * renewal a minute), so an Isolation Forest isolates them however much of
 * them it saw, and they never leave the segment; the layer-2 and DHCP
 * watches of detect/ look after them instead.
 */
export function isLocalControl(f: Flow): boolean {
  if (f.proto === 2) return true; // IGMP
  if (f.proto === 58 && f.icmpType >= 130 && f.icmpType <= 143) return true;
  if (f.proto === 17) {
    const s = f.srcPort, d = f.dstPort;
    if ((s === 67 || s === 68) && (d === 67 || d === 68)) return true;
    // mDNS and LLMNR are link-local by definition (RFC 6762, 4795), their
    // answers to legacy queries unicast from the well-known port included.
    if (s === 5353 || d === 5353 || s === 5355 || d === 5355) return true;
  }
  const d = f.dstAddr[0]! >>> 0;
  if (f.version === 4) return d >= 0xe0000000; // multicast, class E, broadcast
  return (d >>> 24) === 0xff;
}

/** Per-flow context fields, by flow slot (see {@link FeatureExtractor}). */
const C_DNS_LEN = 0, C_DNS_TYPE = 1, C_DNS_ENT = 2, C_PORTS = 3;
const C_HOSTS = 4, C_FLOWS = 5, C_FAILED = 6, C_FIELDS = 7;

/**
 * A flow observer that computes {@link FEATURES} for every finished flow and
 * hands them to `onFeatures` (the array is reused: copy what you keep).
 * Per packet it only looks at new flows (window counts) and DNS packets
 * (name length and entropy). The context of a live flow (its DNS figures
 * and its source's window as it started) sits in flat arrays indexed by the
 * flow's slot, 64 bytes a flow, grown to the most flows seen at once: no
 * allocation per flow.
 */
export class FeatureExtractor implements FlowObserver {
  readonly windows: HostWindows;
  #onFeatures: FeatureHandler;
  /** Id of the flow whose context each slot holds (-1: none). */
  #ids = new Float64Array(1024).fill(-1);
  #ctx = new Float64Array(1024 * C_FIELDS);
  #vec = new Float64Array(FEATURE_COUNT);
  #end = newFlowContext();
  /** Arguments of `flowStarted`, reused (no allocation per flow). */
  #started = { dstPort: 0, tsUs: 0, out: newFlowContext() };

  /** Creates an extractor calling `onFeatures` for each finished flow. */
  constructor(onFeatures: FeatureHandler, opts: FeatureExtractorOptions = {}) {
    this.#onFeatures = onFeatures;
    this.windows = new HostWindows(opts);
  }

  /** Grows the context arrays to hold slot `s`. */
  #room(s: number): void {
    let n = this.#ids.length;
    if (s < n) return;
    while (n <= s) n *= 2;
    const ids = new Float64Array(n).fill(-1);
    ids.set(this.#ids);
    const ctx = new Float64Array(n * C_FIELDS);
    ctx.set(this.#ctx);
    this.#ids = ids;
    this.#ctx = ctx;
  }

  /** Offset of the flow's context, or -1 when this extractor has none for it. */
  #at(f: Flow): number {
    const s = f.slot;
    return s < this.#ids.length && this.#ids[s] === f.id ? s * C_FIELDS : -1;
  }

  /** Updates the source's window on a new flow and DNS name statistics. */
  onPacket(p: Packet, ctx: PacketContext): void {
    const f = ctx.flow;
    if (ctx.newFlow) {
      const args = this.#started, st = args.out;
      args.dstPort = f.proto === IPPROTO_TCP || f.proto === IPPROTO_UDP
        ? f.dstPort
        : 0;
      args.tsUs = p.tsUs;
      this.windows.flowStarted(f.srcAddr, f.dstAddr, args);
      this.#room(f.slot);
      this.#ids[f.slot] = f.id;
      const c = this.#ctx, o = f.slot * C_FIELDS;
      c[o + C_DNS_LEN] = c[o + C_DNS_TYPE] = c[o + C_DNS_ENT] = 0;
      c[o + C_PORTS] = st.ports;
      c[o + C_HOSTS] = st.hosts;
      c[o + C_FLOWS] = st.flows;
      c[o + C_FAILED] = st.failed;
    }
    if (p.app === APP_DNS) {
      const o = this.#at(f);
      if (o < 0) return;
      const c = this.#ctx;
      const name = p.dns.qname;
      if (name.length > c[o + C_DNS_LEN]!) {
        c[o + C_DNS_LEN] = name.length;
        c[o + C_DNS_TYPE] = p.dns.qtype;
      }
      const h = nameEntropy(name);
      if (h > c[o + C_DNS_ENT]!) c[o + C_DNS_ENT] = h;
    }
  }

  /** Flows of the local control plane passed over ({@link isLocalControl}). */
  skipped = 0;

  /** Computes the flow's features and hands them on (not for local control traffic). */
  onFlowEnd(f: Flow, reason: FlowEndReason): void {
    const o = this.#at(f);
    if (isFailedConnection(f)) {
      this.windows.connectionFailed(f.srcAddr, f.lastUs);
    }
    // The window as the flow started, or as it ended if busier by then.
    const e = this.#end;
    this.windows.read(f.srcAddr, f.lastUs, e);
    if (o < 0) {
      e.dnsLen = e.dnsType = e.dnsEntropy = 0;
    } else {
      const c = this.#ctx;
      e.dnsLen = c[o + C_DNS_LEN]!;
      e.dnsType = c[o + C_DNS_TYPE]!;
      e.dnsEntropy = c[o + C_DNS_ENT]!;
      if (c[o + C_PORTS]! > e.ports) e.ports = c[o + C_PORTS]!;
      if (c[o + C_HOSTS]! > e.hosts) e.hosts = c[o + C_HOSTS]!;
      if (c[o + C_FLOWS]! > e.flows) e.flows = c[o + C_FLOWS]!;
      if (c[o + C_FAILED]! > e.failed) e.failed = c[o + C_FAILED]!;
      this.#ids[f.slot] = -1;
    }
    if (isLocalControl(f)) {
      this.skipped++;
      return;
    }
    flowFeatures(f, e, this.#vec);
    this.#onFeatures(f, this.#vec, reason);
  }
}

/** The 5-tuple and times of a flow as text, for CSV rows and findings. */
export interface FlowKey {
  src_ip: string;
  src_port: number;
  dest_ip: string;
  dest_port: number;
  proto: number;
  /** First and last packet time, seconds since the epoch. */
  first_ts: number;
  last_ts: number;
}

/** Copies the identifying fields of a (pooled) flow. Allocates strings. */
export function flowKey(f: Flow): FlowKey {
  return {
    src_ip: formatAddr(f.version, f.srcAddr),
    src_port: f.srcPort,
    dest_ip: formatAddr(f.version, f.dstAddr),
    dest_port: f.dstPort,
    proto: f.proto,
    first_ts: f.firstUs / 1e6,
    last_ts: f.lastUs / 1e6,
  };
}
