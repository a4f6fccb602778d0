/**
 * Probe classification shared by the port-scan and host-sweep detectors: a
 * probe is a connection attempt by the client side of a flow that failed or
 * carried no data (Zeek's "failed connection" idea), classified by the TCP
 * flags the client sent. Attribution is always the flow's client: a server
 * answering many clients is never a prober.
 *
 * Probes are recognised at the packet that settles them (a RST on a flow
 * without payload, an ICMP port unreachable quoting a UDP datagram) so fast
 * scans are seen at once, and at flow end for probes nobody answered
 * (filtered ports, stealth FIN/XMAS/NULL probes of open ports, UDP).
 *
 * Traceroute's UDP probes are not port probes: it sends datagrams with TTL
 * 1, 2, 3 … to consecutive ports from 33434 up, and each one that reaches
 * the target draws a port unreachable. A UDP datagram that is to such a
 * port and was seen with a TTL no higher than traceroute's (see
 * {@link isTracerouteProbe}) counts for nothing. Seen on the tracing host's
 * side, the datagram left with its low TTL; on the target's side it arrives
 * with what is left of it, and the port unreachable quotes that.
 *
 * @module
 */
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Packet,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
} from "../decode/mod.ts";
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type Flow,
  type FlowEndReason,
  TCP_STATE_SYN_RECV,
  TCP_STATE_SYN_SENT,
} from "../flows/mod.ts";
import { isUnicast } from "./detector.ts";

/** Probe kinds (indexes into {@link PROBE_NAMES}). */
export const P_NONE = 0;
/** Half-open SYN probe (crafted SYN, or SYN+ACK answered by a bare RST). */
export const P_SYN = 1;
/** Full handshake then reset or close without data. */
export const P_CONNECT = 2;
/** FIN only. */
export const P_FIN = 3;
/** FIN+PSH+URG. */
export const P_XMAS = 4;
/** No flags. */
export const P_NULL = 5;
/** ACK only. */
export const P_ACK = 6;
/** UDP datagram without a UDP answer. */
export const P_UDP = 7;
/** FIN+ACK (Maimon). */
export const P_MAIMON = 8;
/** Any other flag combination without SYN. */
export const P_OTHER = 9;
/** A SYN refused or unanswered: half-open or connect, decided by the SYN's shape. */
export const P_SYN_REFUSED = 10;
/** Number of probe kinds. */
export const P_KINDS = 11;

/** Names of the probe kinds (variants of port_scan). */
export const PROBE_NAMES: readonly string[] = [
  "",
  "syn",
  "connect",
  "fin",
  "xmas",
  "null",
  "ack",
  "udp",
  "maimon",
  "other",
  "syn_refused",
];

/** Where a probe went: filled by the classifiers below. */
export interface ProbeOut {
  kind: number;
  version: 4 | 6;
  /** The prober (flow client). */
  readonly scanner: Uint32Array;
  /** The probed host (flow server). */
  readonly target: Uint32Array;
  /** Probed port. */
  port: number;
  /** IPPROTO_TCP or IPPROTO_UDP. */
  proto: number;
  tsUs: number;
  /**
   * True when the prober answered the target: it sent a packet after the
   * target's SYN+ACK (the RST its kernel sends for a half-open probe, or
   * the ACK completing a connect). A spoofed source (an `nmap -D` decoy)
   * never receives the answer, so it never reacts to it.
   */
  reacted: boolean;
}

/** Creates an empty probe record (one per detector, reused). */
export function newProbe(): ProbeOut {
  return {
    kind: P_NONE,
    version: 4,
    scanner: new Uint32Array(4),
    target: new Uint32Array(4),
    port: 0,
    proto: 0,
    tsUs: 0,
    reacted: false,
  };
}

/** Traceroute's first destination port (its `-p` default). */
export const TRACEROUTE_PORT = 33434;
/** Ports traceroute walks: 3 probes a hop, up to 64 hops. */
export const TRACEROUTE_PORTS = 3 * 64;
/** Highest TTL of a traceroute probe (its default `-m`, 30 hops). */
export const TRACEROUTE_MAX_TTL = 30;

/**
 * True for a UDP datagram to `port` seen with IP TTL (hop limit) `ttl`
 * that traceroute would send: to one of its ports and with a TTL it uses.
 * An ordinary datagram leaves with 64 or more and crosses far fewer than
 * 34 routers; a scanner lowering its TTL to hide would reach nothing, and
 * on these ports would learn nothing.
 */
export function isTracerouteProbe(ttl: number, port: number): boolean {
  return ttl <= TRACEROUTE_MAX_TTL && port >= TRACEROUTE_PORT &&
    port < TRACEROUTE_PORT + TRACEROUTE_PORTS;
}

const FLAG_MASK = TCP_FIN | TCP_SYN | TCP_PSH | TCP_ACK | TCP_URG;
const MAX_PROBE_PKTS = 6;

function noSynKind(cf: number): number {
  switch (cf) {
    case 0:
      return P_NULL;
    case TCP_FIN:
      return P_FIN;
    case TCP_FIN | TCP_PSH | TCP_URG:
      return P_XMAS;
    case TCP_ACK:
      return P_ACK;
    case TCP_FIN | TCP_ACK:
      return P_MAIMON;
    default:
      return P_OTHER;
  }
}

function fromFlow(f: Flow, kind: number, tsUs: number, out: ProbeOut): true {
  out.kind = kind;
  out.version = f.version;
  out.scanner.set(f.srcAddr);
  out.target.set(f.dstAddr);
  out.port = f.dstPort;
  out.proto = f.proto;
  out.tsUs = tsUs;
  out.reacted = false;
  return true;
}

/**
 * True when packet `p` (already accounted to flow `f`, direction `dir`)
 * settles a probe; fills `out`. Cases: the first RST of a TCP flow that
 * exchanged no payload, and an ICMP/ICMPv6 port unreachable quoting a UDP
 * datagram (the quoted sender is the prober).
 */
export function probeAtPacket(
  p: Packet,
  f: Flow,
  dir: number,
  out: ProbeOut,
): boolean {
  if (p.proto === IPPROTO_TCP) {
    if ((p.tcpFlags & TCP_RST) === 0 || f.rstCount !== 1) return false;
    if (f.payloadToServer !== 0 || f.payloadToClient !== 0) return false;
    if (f.pktsToServer === 0 || f.pktsToServer > MAX_PROBE_PKTS) return false;
    if (!isUnicast(f.version, f.dstAddr)) return false;
    const cf = f.flagsToServer & FLAG_MASK;
    if (cf & TCP_SYN) {
      if (f.synAckCount > 0) {
        fromFlow(f, cf & TCP_ACK ? P_CONNECT : P_SYN, p.tsUs, out);
        // The client's RST, or its handshake ACK, answered the SYN+ACK.
        out.reacted = dir === DIR_TO_SERVER || (cf & TCP_ACK) !== 0;
        return true;
      }
      return fromFlow(f, P_SYN_REFUSED, p.tsUs, out);
    }
    // Without a SYN, only a RST from the server answers a probe; a client
    // resetting a stream picked up mid-way is not one.
    if (dir !== DIR_TO_CLIENT) return false;
    return fromFlow(f, noSynKind(cf), p.tsUs, out);
  }
  if (p.proto === IPPROTO_ICMP || p.proto === IPPROTO_ICMPV6) {
    return icmpUnreachable(p, out);
  }
  return false;
}

/** Reads the UDP datagram quoted by an ICMP(v6) port unreachable. */
function icmpUnreachable(p: Packet, out: ProbeOut): boolean {
  const d = p.data, o = p.payloadOffset, len = p.payloadLen;
  if (p.proto === IPPROTO_ICMP) {
    if (p.icmpType !== 3 || p.icmpCode !== 3 || len < 28) return false;
    const b0 = d[o]!;
    if (b0 >> 4 !== 4) return false;
    const ihl = (b0 & 15) * 4;
    if (ihl < 20 || len < ihl + 4 || d[o + 9] !== IPPROTO_UDP) return false;
    const src = ((d[o + 12]! << 24) | (d[o + 13]! << 16) | (d[o + 14]! << 8) |
      d[o + 15]!) >>> 0;
    // The quoted sender must be the one the error goes back to.
    if (src !== p.dst[0]) return false;
    out.version = 4;
    out.scanner[0] = src;
    out.scanner[1] = out.scanner[2] = out.scanner[3] = 0;
    out.target[0] = ((d[o + 16]! << 24) | (d[o + 17]! << 16) |
      (d[o + 18]! << 8) | d[o + 19]!) >>> 0;
    out.target[1] = out.target[2] = out.target[3] = 0;
    out.port = (d[o + ihl + 2]! << 8) | d[o + ihl + 3]!;
    if (isTracerouteProbe(d[o + 8]!, out.port)) return false;
  } else {
    if (p.icmpType !== 1 || p.icmpCode !== 4 || len < 44) return false;
    if (d[o]! >> 4 !== 6 || d[o + 6] !== IPPROTO_UDP) return false;
    for (let i = 0; i < 4; i++) {
      const s = o + 8 + i * 4, t = o + 24 + i * 4;
      out.scanner[i] = ((d[s]! << 24) | (d[s + 1]! << 16) | (d[s + 2]! << 8) |
        d[s + 3]!) >>> 0;
      out.target[i] = ((d[t]! << 24) | (d[t + 1]! << 16) | (d[t + 2]! << 8) |
        d[t + 3]!) >>> 0;
      if (out.scanner[i] !== p.dst[i]) return false;
    }
    out.version = 6;
    out.port = (d[o + 42]! << 8) | d[o + 43]!;
    if (isTracerouteProbe(d[o + 7]!, out.port)) return false;
  }
  if (!isUnicast(out.version, out.target)) return false;
  out.kind = P_UDP;
  out.proto = IPPROTO_UDP;
  out.tsUs = p.tsUs;
  out.reacted = false;
  return true;
}

/**
 * True when a flow that just ended was an unanswered or data-less probe;
 * fills `out`. TCP: a SYN never answered or answered but never completed,
 * a handshake closed without data (not at shutdown: it may be in use), or
 * a FIN/XMAS/NULL segment nobody answered. UDP: datagrams with no answer.
 * Flows already settled by a RST are left to {@link probeAtPacket}.
 */
export function probeAtEnd(
  f: Flow,
  reason: FlowEndReason,
  out: ProbeOut,
): boolean {
  if (f.pktsToServer === 0 || f.pktsToServer > MAX_PROBE_PKTS) return false;
  if (f.payloadToServer !== 0 && f.proto === IPPROTO_TCP) return false;
  if (!isUnicast(f.version, f.dstAddr)) return false;
  if (f.proto === IPPROTO_TCP) {
    if (f.rstCount !== 0 || f.payloadToClient !== 0) return false;
    const cf = f.flagsToServer & FLAG_MASK;
    if (cf & TCP_SYN) {
      if (f.tcpState === TCP_STATE_SYN_SENT) {
        return fromFlow(f, P_SYN_REFUSED, f.lastUs, out);
      }
      if (f.tcpState === TCP_STATE_SYN_RECV) {
        return fromFlow(f, P_SYN, f.lastUs, out);
      }
      if (reason === "shutdown" || f.pktsToClient === 0) return false;
      fromFlow(f, P_CONNECT, f.lastUs, out);
      out.reacted = true;
      return true;
    }
    if (f.pktsToClient !== 0) return false;
    const k = noSynKind(cf);
    if (k !== P_FIN && k !== P_XMAS && k !== P_NULL) return false;
    return fromFlow(f, k, f.lastUs, out);
  }
  if (f.proto === IPPROTO_UDP) {
    if (f.pktsToClient !== 0) return false;
    if (isTracerouteProbe(f.ttlToServer, f.dstPort)) return false;
    return fromFlow(f, P_UDP, f.lastUs, out);
  }
  return false;
}

/**
 * True when `p` is a SYN whose TCP header has at most one option word
 * (24 bytes): what nmap and hping3 craft on raw sockets. Operating-system
 * stacks send 28 to 60 bytes (MSS, SACK, timestamps, window scale).
 */
export function isCraftedSyn(p: Packet): boolean {
  if (
    p.proto !== IPPROTO_TCP || (p.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN
  ) {
    return false;
  }
  const o = p.l4Offset;
  if (o < 0 || o + 13 > p.data.length) return false;
  return ((p.data[o + 12]! >> 4) << 2) <= 24;
}
