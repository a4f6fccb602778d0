/**
 * The frame decoder: fills the reusable {@link Packet} record from one raw
 * frame, from the link layer through IP and the transport header to the
 * application facts (DNS, HTTP request, TLS ClientHello). Every read is
 * bounds-checked; a malformed frame returns a {@link FrameFault}, never
 * throws. Nothing is allocated per frame except the strings of application
 * facts, and a DataView when the frame buffer changes.
 *
 * @module
 */
import type { FrameBatch } from "../capture/mod.ts";
import type { DecodeCounters, FrameFault } from "./faults.ts";
import {
  APP_DHCP,
  APP_DNS,
  APP_HTTP,
  APP_NONE,
  APP_TLS,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MAX_TUNNEL_DEPTH,
  newPacket,
  type Packet,
  TUNNEL_NONE,
} from "./packet.ts";
import { clearDns, readDns } from "./dns.ts";
import { clearHttp, readHttpRequest } from "./http.ts";
import { clearTls, isClientHelloStart, readClientHello } from "./tls.ts";
import { clearDhcp, readDhcp } from "./dhcp.ts";
import { clearArp, clearNd, NO_MAC, readArp, readNd } from "./l2.ts";
import {
  ETH_ARP,
  ETH_IPV4,
  ETH_IPV6,
  found,
  readEtherType,
  readLink,
} from "./_link.ts";
import { ETH_TEB, findTunnel, type InnerStart } from "./_tunnel.ts";
import { readIpv4, readIpv6 } from "./_ip.ts";
import { LINKTYPE_ETHERNET } from "./linktype.ts";

/**
 * Decodes frame `i` of `batch` into `p`, resetting every field a previous
 * frame set. Returns null when the frame decoded (an IP packet, or a non-IP
 * frame such as ARP with `ipVersion` 0 and `arp` set for ARP), or the fault.
 * A frame index outside the batch is a programming error and throws.
 *
 * @example
 * ```ts
 * const p = newPacket();
 * const counters = new DecodeCounters();
 * for (let i = 0; i < batch.count; i++) {
 *   const fault = decodeFrame(p, batch, i);
 *   counters.add(p, fault); // the fault, or the kind and p.appFault
 *   if (fault === null && p.ipVersion !== 0) flows.update(p);
 * }
 * ```
 */
export function decodeFrame(
  p: Packet,
  batch: FrameBatch,
  i: number,
): FrameFault | null {
  if (!(i >= 0 && i < batch.count)) {
    throw new RangeError(
      `Cannot decode frame ${i}: the batch has ${batch.count} frames`,
    );
  }
  const data = batch.data;
  if (p.data !== data) setData(p, data);
  // A batch that claims bytes it does not hold is clipped, never read past.
  let off = batch.offsets[i]!;
  if (off > data.length) off = data.length;
  let caplen = batch.caplens[i]!;
  if (off + caplen > data.length) caplen = data.length - off;
  p.tsUs = batch.tsUs[i]!;
  p.frameOffset = off;
  p.caplen = caplen;
  p.wirelen = batch.wirelens[i]!;
  p.linktype = batch.linktypes[i]!;
  return decodeLoaded(p);
}

/** Where {@link decodeBytes} finds the frame's metadata. */
export interface DecodeBytesOptions {
  /** Link type of the frame (default 1, Ethernet). */
  linktype?: number;
  /** Length on the wire (default: the byte length). */
  wirelen?: number;
  /** Timestamp in µs (default 0). */
  tsUs?: number;
  /** Bytes of `bytes` that are the frame, from offset 0 (default: all). */
  length?: number;
}

/**
 * Decodes one frame held alone in `bytes` into `p`, as {@link decodeFrame}
 * does for a batch. For tests and one-off frames; a batch is faster.
 *
 * @example
 * ```ts
 * const p = newPacket();
 * decodeBytes(p, frame, { linktype: LINKTYPE_RAW }); // null or a fault
 * ```
 */
export function decodeBytes(
  p: Packet,
  bytes: Uint8Array,
  opts: DecodeBytesOptions = {},
): FrameFault | null {
  if (p.data !== bytes) setData(p, bytes);
  p.tsUs = opts.tsUs ?? 0;
  p.frameOffset = 0;
  const n = opts.length ?? bytes.length;
  p.caplen = n >= 0 && n <= bytes.length ? n : bytes.length;
  p.wirelen = opts.wirelen ?? p.caplen;
  p.linktype = opts.linktype ?? LINKTYPE_ETHERNET;
  return decodeLoaded(p);
}

/** What {@link decodeAll} reports to. */
export interface DecodeAllOptions {
  /** Called for every frame decoded without a fault (check `ipVersion`). */
  onPacket: (p: Packet) => void;
  /** Counts every frame's outcome. */
  counters: DecodeCounters;
  /** The scratch record to reuse (default: a new one per call). */
  packet?: Packet;
}

/**
 * Decodes every frame of `batch`, counting outcomes and handing each frame
 * that decoded to `onPacket` (the record is reused: copy what you keep).
 * Returns how many frames reached `onPacket`.
 */
export function decodeAll(batch: FrameBatch, opts: DecodeAllOptions): number {
  const { onPacket, counters } = opts;
  const packet = opts.packet ?? newPacket();
  let n = 0;
  for (let i = 0; i < batch.count; i++) {
    const fault = decodeFrame(packet, batch, i);
    counters.add(packet, fault);
    if (fault === null) {
      onPacket(packet);
      n++;
    }
  }
  return n;
}

/** Element stores: TypedArray.prototype.fill costs a builtin call. */
function zero4(w: Uint32Array): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0;
}

function setData(p: Packet, data: Uint8Array): void {
  p.data = data;
  p.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** Where an inner packet starts (reused: no allocation per frame). */
const INNER: InnerStart = { at: 0, type: 0 };

/** Resets the record and decodes the frame its metadata describes. */
function decodeLoaded(p: Packet): FrameFault | null {
  if (p.app !== APP_NONE) clearApp(p);
  p.appFault = null;
  if (p.arpMsg.op !== 0) clearArp(p.arpMsg);
  if (p.nd.type !== 0 || p.nd.lla !== NO_MAC) clearNd(p.nd);
  p.ethSrc = NO_MAC;
  p.ethDst = NO_MAC;
  p.vlan = -1;
  p.etherType = 0;
  p.l3Offset = -1;
  if (p.tunnelDepth !== 0) {
    zero4(p.tunnelSrc);
    zero4(p.tunnelDst);
    p.tunnelDepth = 0;
    p.tunnelType = TUNNEL_NONE;
    p.tunnelKinds = 0;
    p.tunnelVersion = 0;
    p.tunnelProto = 0;
    p.tunnelSrcPort = 0;
    p.tunnelDstPort = 0;
  }
  resetNetwork(p);
  let end = p.frameOffset + p.caplen;
  const lf = readLink(p, end);
  if (lf !== null) return lf;
  let fault = readNetwork(p, end);
  // Unwrap tunnels: the inner packet replaces the outer in the record.
  while (fault === null && p.ipVersion !== 0 && !p.fragment) {
    const kind = findTunnel(p, INNER);
    if (kind === TUNNEL_NONE) break;
    const depth = p.tunnelDepth + 1;
    if (depth > MAX_TUNNEL_DEPTH) return "tunnel_too_deep";
    if (depth === 1) saveOuter(p, kind);
    p.tunnelDepth = depth;
    p.tunnelKinds |= 1 << kind;
    end = p.payloadOffset + p.payloadLen;
    resetNetwork(p);
    if (INNER.type === ETH_TEB) {
      const o = INNER.at;
      const lf = readEtherType(
        p,
        o + 14,
        end,
        (p.data[o + 12]! << 8) | p.data[o + 13]!,
      );
      if (lf !== null) return lf;
    } else found(p, INNER.at, INNER.type);
    fault = readNetwork(p, end);
  }
  if (fault === null && p.l4Offset >= 0) readApp(p);
  return fault;
}

/** Decodes the network layer at `p.l3Offset` by `p.etherType`. */
function readNetwork(p: Packet, end: number): FrameFault | null {
  switch (p.etherType) {
    case ETH_IPV4:
      return readIpv4(p, p.l3Offset, end);
    case ETH_IPV6:
      return readIpv6(p, p.l3Offset, end);
    case ETH_ARP: {
      p.arp = true;
      const f = readArp(p.data, p.l3Offset, end, p.arpMsg);
      if (f !== null) {
        clearArp(p.arpMsg);
        p.appFault = f;
      }
      return null;
    }
    default:
      return null;
  }
}

/** Keeps the outermost packet's addresses, protocol and ports as the tunnel's. */
function saveOuter(p: Packet, kind: number): void {
  p.tunnelType = kind;
  p.tunnelVersion = p.ipVersion;
  const s = p.src, d = p.dst, ts = p.tunnelSrc, td = p.tunnelDst;
  ts[0] = s[0]!;
  ts[1] = s[1]!;
  ts[2] = s[2]!;
  ts[3] = s[3]!;
  td[0] = d[0]!;
  td[1] = d[1]!;
  td[2] = d[2]!;
  td[3] = d[3]!;
  p.tunnelProto = p.proto;
  p.tunnelSrcPort = p.srcPort;
  p.tunnelDstPort = p.dstPort;
}

/** Resets everything from the network layer up (not the link or tunnel fields). */
function resetNetwork(p: Packet): void {
  if (p.ipVersion !== 0) {
    zero4(p.src);
    zero4(p.dst);
    p.ipVersion = 0;
  }
  p.l4Offset = -1;
  p.arp = false;
  p.proto = 0;
  p.ttl = 0;
  p.ipLen = 0;
  p.ipId = 0;
  p.fragment = false;
  p.fragOffset = 0;
  p.fragMore = false;
  p.fragDataOffset = 0;
  p.fragDataLen = 0;
  p.fragProto = 0;
  p.fragHeaderOffset = 0;
  p.fragNhOffset = 0;
  p.srcPort = 0;
  p.dstPort = 0;
  p.tcpFlags = 0;
  p.tcpSeq = 0;
  p.tcpAck = 0;
  p.tcpWindow = 0;
  p.icmpType = -1;
  p.icmpCode = -1;
  p.payloadOffset = p.frameOffset;
  p.payloadLen = 0;
  p.payloadWireLen = 0;
}

/**
 * DNS, HTTP request or TLS ClientHello facts, when the payload qualifies.
 * Running out of bytes is not a fault when the capture (snap length) or the
 * segment cut the message short.
 */
function readApp(p: Packet): void {
  const proto = p.proto;
  const start = p.payloadOffset;
  const end = start + p.payloadLen;
  const cut = p.payloadLen < p.payloadWireLen;
  const d = p.data;
  if (proto === IPPROTO_ICMPV6) {
    const t = p.icmpType;
    if (t >= 133 && t <= 137) {
      const f = readNd(d, p.l4Offset, end, p.ttl, p.nd);
      if (f !== null && !(cut && f === "nd_short")) p.appFault = f;
    }
    return;
  }
  if (
    proto === IPPROTO_UDP && (p.srcPort === 67 || p.srcPort === 68) &&
    (p.dstPort === 67 || p.dstPort === 68)
  ) {
    const f = readDhcp(d, start, end, p.dhcp);
    if (f === null) p.app = APP_DHCP;
    else if (!(cut && f === "dhcp_short")) p.appFault = f;
    return;
  }
  if (isDnsPort(p.srcPort) || isDnsPort(p.dstPort)) {
    let s = start, e = end, more = cut;
    if (proto === IPPROTO_TCP) {
      if (e - s < 2) return; // no payload (ACK, FIN …) or a stray byte
      const len = (d[s]! << 8) | d[s + 1]!;
      s += 2;
      if (s + len < e) e = s + len;
      else if (s + len > e) more = true;
    } else if (proto !== IPPROTO_UDP) {
      return;
    }
    const f = readDns(d, s, e, p.dns);
    if (f === null) p.app = APP_DNS;
    else {
      clearDns(p.dns);
      if (!(more && f === "dns_short")) p.appFault = f;
    }
    return;
  }
  if (proto !== IPPROTO_TCP || end === start) return;
  const c0 = d[start]!;
  if (c0 === 22) {
    if (!isClientHelloStart(d, start, end)) return;
    const f = readClientHello(d, start, end, p.tls);
    if (f === null) p.app = APP_TLS;
    else {
      clearTls(p.tls);
      if (!(cut && f === "tls_short")) p.appFault = f;
    }
  } else if (c0 >= 0x41 && c0 <= 0x5a) {
    if (readHttpRequest(d, start, end, p.http)) p.app = APP_HTTP;
  }
}

function isDnsPort(port: number): boolean {
  return port === 53 || port === 5353 || port === 5355;
}

function clearApp(p: Packet): void {
  if (p.app === APP_DNS) clearDns(p.dns);
  else if (p.app === APP_HTTP) clearHttp(p.http);
  else if (p.app === APP_TLS) clearTls(p.tls);
  else if (p.app === APP_DHCP) clearDhcp(p.dhcp);
  p.app = APP_NONE;
}
