/**
 * Tunnels: recognises a decoded packet that carries another packet and says
 * where the inner one starts. The decoder then decodes the inner packet into
 * the same record (see `decodeLoaded` in decoder.ts), so flows, detectors
 * and events see the inner 5-tuple while `tunnel*` fields keep the outer one.
 *
 * What is unwrapped, following Suricata's decoders (decode-gre.c,
 * decode-erspan.c, decode-vxlan.c, decode-geneve.c, decode-teredo.c,
 * decode-ipv4.c/decode-ipv6.c for IP in IP) and the specifications:
 *
 * - GRE version 0 (RFC 2784, key and sequence number of RFC 2890) carrying
 *   IPv4 (0x0800), IPv6 (0x86dd), Ethernet (0x6558, transparent Ethernet
 *   bridging: Linux gretap), ERSPAN (0x88be: type II when the GRE sequence
 *   bit is set, with its 8-byte header of version 1; type I without it,
 *   Ethernet at once) and ERSPAN type III (0x22eb: 12-byte header of
 *   version 2, frame type 0 = Ethernet, plus the 8-byte platform subheader
 *   when its O bit is set). GRE version 1 (PPTP) and RFC 1701 source
 *   routing are left as GRE packets.
 * - VXLAN (RFC 7348) on UDP destination port 4789 with the I flag set:
 *   Ethernet after 8 bytes. Suricata's default `decoder.vxlan.ports`.
 * - Geneve (RFC 8926) on UDP destination port 6081, version 0: Ethernet,
 *   IPv4 or IPv6 after 8 bytes and the options.
 * - Teredo (RFC 4380) on UDP port 3544 (either side), recognised by content
 *   as Suricata's DecodeTeredo does: origin indications (0x0000) are
 *   skipped, an authentication indication (0x0001) is negotiation, not a
 *   tunnelled packet, and what follows must be an IPv6 header whose payload
 *   length fills the datagram exactly. Bubbles (next header 59, no payload:
 *   RFC 4380 §2.8, keep-alives without data) are left as UDP.
 * - IP in IP: IPv4 protocol 4 (RFC 2003) and 41 (6in4, RFC 4213), IPv6 next
 *   header 4 (4in6) and 41 (6in6, RFC 2473).
 *
 * @module
 */
import { ETH_IPV4, ETH_IPV6 } from "./_link.ts";
import {
  IPPROTO_UDP,
  type Packet,
  TUNNEL_4IN6,
  TUNNEL_6IN4,
  TUNNEL_6IN6,
  TUNNEL_ERSPAN1,
  TUNNEL_ERSPAN2,
  TUNNEL_ERSPAN3,
  TUNNEL_GENEVE,
  TUNNEL_GRE,
  TUNNEL_GRETAP,
  TUNNEL_IPIP,
  TUNNEL_NONE,
  TUNNEL_TEREDO,
  TUNNEL_VXLAN,
} from "./packet.ts";

/** EtherType of transparent Ethernet bridging: an Ethernet frame follows. */
export const ETH_TEB = 0x6558;
const ETH_ERSPAN = 0x88be;
const ETH_ERSPAN3 = 0x22eb;
const IPPROTO_GRE = 47;
const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
/** IANA ports: VXLAN (RFC 7348), Geneve (RFC 8926), Teredo (RFC 4380). */
export const VXLAN_PORT = 4789;
/** Geneve's port. */
export const GENEVE_PORT = 6081;
/** Teredo's port. */
export const TEREDO_PORT = 3544;

/** Where the inner packet starts: filled by {@link findTunnel}. */
export interface InnerStart {
  /** Offset in `data` of the inner packet (Ethernet header or IP header). */
  at: number;
  /** EtherType of what is at `at`: ETH_IPV4, ETH_IPV6, or ETH_TEB for Ethernet. */
  type: number;
}

/**
 * When the decoded packet `p` (no fault, not a fragment) carries another
 * packet, fills `inner` and returns the tunnel kind (TUNNEL_*); else
 * TUNNEL_NONE. Reads only the captured payload of `p`.
 */
export function findTunnel(p: Packet, inner: InnerStart): number {
  const o = p.payloadOffset;
  const end = o + p.payloadLen;
  const proto = p.proto;
  if (proto === IPPROTO_UDP) {
    if (p.l4Offset < 0) return TUNNEL_NONE;
    const dp = p.dstPort;
    if (dp === VXLAN_PORT) return vxlan(p, o, end, inner);
    if (dp === GENEVE_PORT) return geneve(p, o, end, inner);
    if (dp === TEREDO_PORT || p.srcPort === TEREDO_PORT) {
      return teredo(p, o, end, inner);
    }
    return TUNNEL_NONE;
  }
  if (proto === IPPROTO_GRE) return gre(p, o, end, inner);
  if (proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) {
    if (o >= end) return TUNNEL_NONE;
    const v = p.data[o]! >> 4;
    inner.at = o;
    if (proto === IPPROTO_IPIP) {
      if (v !== 4) return TUNNEL_NONE;
      inner.type = ETH_IPV4;
      return p.ipVersion === 4 ? TUNNEL_IPIP : TUNNEL_4IN6;
    }
    if (v !== 6) return TUNNEL_NONE;
    inner.type = ETH_IPV6;
    return p.ipVersion === 4 ? TUNNEL_6IN4 : TUNNEL_6IN6;
  }
  return TUNNEL_NONE;
}

function gre(p: Packet, o: number, end: number, inner: InnerStart): number {
  if (o + 4 > end) return TUNNEL_NONE;
  const d = p.data;
  const b0 = d[o]!;
  // Version 0 only; no RFC 1701 routing (R) or strict source route bits.
  if ((d[o + 1]! & 7) !== 0 || (b0 & 0x40) !== 0) return TUNNEL_NONE;
  let hl = 4;
  if ((b0 & 0x80) !== 0) hl += 4; // checksum + reserved
  if ((b0 & 0x20) !== 0) hl += 4; // key
  const seq = (b0 & 0x10) !== 0;
  if (seq) hl += 4;
  const type = (d[o + 2]! << 8) | d[o + 3]!;
  let at = o + hl;
  let kind: number;
  switch (type) {
    case ETH_IPV4:
    case ETH_IPV6:
      inner.at = at;
      inner.type = type;
      return at < end ? TUNNEL_GRE : TUNNEL_NONE;
    case ETH_TEB:
      kind = TUNNEL_GRETAP;
      break;
    case ETH_ERSPAN:
      if (seq) {
        // Type II: Ver(4) = 1, VLAN, COS, En, T, session, reserved, index.
        if (at + 8 > end || d[at]! >> 4 !== 1) return TUNNEL_NONE;
        at += 8;
        kind = TUNNEL_ERSPAN2;
      } else kind = TUNNEL_ERSPAN1;
      break;
    case ETH_ERSPAN3: {
      // Ver(4) = 2 …; word 2: SGT(16) P(1) FT(5) HW ID(6) D(1) Gra(2) O(1).
      if (at + 12 > end || d[at]! >> 4 !== 2) return TUNNEL_NONE;
      if (((d[at + 10]! >> 2) & 0x1f) !== 0) return TUNNEL_NONE; // not Ethernet
      const sub = (d[at + 11]! & 1) !== 0;
      at += sub ? 20 : 12;
      kind = TUNNEL_ERSPAN3;
      break;
    }
    default:
      return TUNNEL_NONE;
  }
  if (at + 14 > end) return TUNNEL_NONE;
  inner.at = at;
  inner.type = ETH_TEB;
  return kind;
}

function vxlan(p: Packet, o: number, end: number, inner: InnerStart): number {
  // Flags(8) with I = 0x08, reserved(24), VNI(24), reserved(8).
  if (o + 8 + 14 > end || (p.data[o]! & 0x08) === 0) return TUNNEL_NONE;
  inner.at = o + 8;
  inner.type = ETH_TEB;
  return TUNNEL_VXLAN;
}

function geneve(p: Packet, o: number, end: number, inner: InnerStart): number {
  // Ver(2) Opt Len(6) | O C Rsvd(6) | Protocol Type(16) | VNI(24) Rsvd(8).
  if (o + 8 > end) return TUNNEL_NONE;
  const d = p.data;
  if (d[o]! >> 6 !== 0) return TUNNEL_NONE;
  const at = o + 8 + ((d[o]! & 0x3f) << 2);
  const type = (d[o + 2]! << 8) | d[o + 3]!;
  if (type === ETH_TEB) {
    if (at + 14 > end) return TUNNEL_NONE;
  } else if (type === ETH_IPV4 || type === ETH_IPV6) {
    if (at >= end) return TUNNEL_NONE;
  } else return TUNNEL_NONE;
  inner.at = at;
  inner.type = type;
  return TUNNEL_GENEVE;
}

function teredo(p: Packet, o: number, end: number, inner: InnerStart): number {
  const d = p.data;
  // The whole datagram must be present: its length is checked below.
  if (p.payloadLen !== p.payloadWireLen) return TUNNEL_NONE;
  let at = o;
  while (at + 40 <= end && d[at] === 0) {
    if (d[at + 1] !== 0) return TUNNEL_NONE; // authentication: negotiation
    at += 8; // origin indication
  }
  if (at + 40 > end || d[at]! >> 4 !== 6) return TUNNEL_NONE;
  const plen = (d[at + 4]! << 8) | d[at + 5]!;
  if (at + 40 + plen !== end) return TUNNEL_NONE;
  if (plen === 0 && d[at + 6] === 59) return TUNNEL_NONE; // a bubble
  inner.at = at;
  inner.type = ETH_IPV6;
  return TUNNEL_TEREDO;
}
