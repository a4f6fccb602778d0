/**
 * Link layers: finds the network-layer header of a frame and its EtherType
 * (Ethernet with VLAN tags, PPPoE and MPLS; Linux cooked v1 and v2; BSD
 * loopback; PPP and Cisco HDLC; raw IP). Sets `etherType`, `vlan` and
 * `l3Offset` of the record.
 *
 * @module
 */
import type { FrameFault } from "./faults.ts";
import {
  LINKTYPE_C_HDLC,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_PPP,
  LINKTYPE_PPP_HDLC,
  LINKTYPE_RAW,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
} from "./linktype.ts";
import type { Packet } from "./packet.ts";
import { readMac } from "./l2.ts";

/** EtherTypes the decoder acts on. */
export const ETH_IPV4 = 0x0800;
/** IPv6. */
export const ETH_IPV6 = 0x86dd;
/** ARP. */
export const ETH_ARP = 0x0806;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
const ETH_QINQ_OLD2 = 0x9200;
const ETH_PPPOE_SESSION = 0x8864;
const ETH_MPLS = 0x8847;
const ETH_MPLS_MC = 0x8848;

/** Most VLAN tags plus MPLS labels read before giving up. */
const MAX_ENCAP = 8;

/**
 * Reads the link-layer header of the frame in `p` (whose bytes end at
 * `end`). On success sets `p.l3Offset` and `p.etherType` (0 for frames with
 * no EtherType) and returns null.
 */
export function readLink(p: Packet, end: number): FrameFault | null {
  const o = p.frameOffset;
  const d = p.data;
  switch (p.linktype) {
    case LINKTYPE_ETHERNET:
      if (o + 14 > end) return "eth_short";
      p.ethDst = readMac(d, o);
      p.ethSrc = readMac(d, o + 6);
      return readEtherType(p, o + 14, end, (d[o + 12]! << 8) | d[o + 13]!);
    case LINKTYPE_LINUX_SLL: {
      if (o + 16 > end) return "sll_short";
      const hatype = (d[o + 2]! << 8) | d[o + 3]!;
      if (hatype === 1 && d[o + 4] === 0 && d[o + 5] === 6) {
        p.ethSrc = readMac(d, o + 6);
      }
      return readCooked(p, o + 16, end, hatype, (d[o + 14]! << 8) | d[o + 15]!);
    }
    case LINKTYPE_LINUX_SLL2: {
      if (o + 20 > end) return "sll_short";
      const hatype = (d[o + 8]! << 8) | d[o + 9]!;
      if (hatype === 1 && d[o + 11] === 6) p.ethSrc = readMac(d, o + 12);
      return readCooked(p, o + 20, end, hatype, (d[o]! << 8) | d[o + 1]!);
    }
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14: {
      if (o >= end) return "ip_short";
      const v = d[o]! >> 4;
      if (v === 4) return found(p, o, ETH_IPV4);
      if (v === 6) return found(p, o, ETH_IPV6);
      return "ip_bad_version";
    }
    case LINKTYPE_IPV4:
      return found(p, o, ETH_IPV4);
    case LINKTYPE_IPV6:
      return found(p, o, ETH_IPV6);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (o + 4 > end) return "null_short";
      // LOOP is big-endian; NULL is in the capturing host's order, and a
      // family never needs the upper 16 bits, so either order is told apart.
      let af = p.view.getUint32(o, p.linktype === LINKTYPE_NULL);
      if ((af & 0xffff0000) !== 0) {
        af = ((af >>> 24) | ((af >>> 8) & 0xff00) | ((af & 0xff00) << 8) |
          (af << 24)) >>> 0;
      }
      if (af === 2) return found(p, o + 4, ETH_IPV4);
      if (af === 24 || af === 28 || af === 30) return found(p, o + 4, ETH_IPV6);
      return found(p, o + 4, 0);
    }
    case LINKTYPE_PPP:
    case LINKTYPE_PPP_HDLC:
      return readPpp(p, o, end);
    case LINKTYPE_C_HDLC:
      if (o + 4 > end) return "ppp_short";
      return readEtherType(p, o + 4, end, (d[o + 2]! << 8) | d[o + 3]!);
    default:
      return "linktype_unsupported";
  }
}

export function found(p: Packet, o: number, etherType: number): null {
  p.l3Offset = o;
  p.etherType = etherType;
  return null;
}

/**
 * Linux cooked capture: the protocol field is an EtherType unless it is
 * below 0x0600 (802.2/802.3, CAN …) or the device is Netlink.
 */
function readCooked(
  p: Packet,
  o: number,
  end: number,
  hatype: number,
  proto: number,
): FrameFault | null {
  if (hatype === 824 || proto < 0x0600) return found(p, o, 0);
  return readEtherType(p, o, end, proto);
}

/**
 * From an EtherType at `o`: unwraps VLAN tags, PPPoE sessions and MPLS
 * labels until the network layer.
 */
export function readEtherType(
  p: Packet,
  o: number,
  end: number,
  type: number,
): FrameFault | null {
  const d = p.data;
  for (let depth = 0;; depth++) {
    if (depth > MAX_ENCAP) return "encap_too_deep";
    switch (type) {
      case ETH_VLAN:
      case ETH_QINQ:
      case ETH_QINQ_OLD:
      case ETH_QINQ_OLD2:
        if (o + 4 > end) return "vlan_short";
        if (p.vlan < 0) p.vlan = ((d[o]! << 8) | d[o + 1]!) & 0x0fff;
        type = (d[o + 2]! << 8) | d[o + 3]!;
        o += 4;
        continue;
      case ETH_PPPOE_SESSION: {
        if (o + 8 > end) return "pppoe_short";
        const proto = (d[o + 6]! << 8) | d[o + 7]!;
        if (proto === 0x0021) return found(p, o + 8, ETH_IPV4);
        if (proto === 0x0057) return found(p, o + 8, ETH_IPV6);
        return found(p, o + 8, ETH_PPPOE_SESSION);
      }
      case ETH_MPLS:
      case ETH_MPLS_MC: {
        if (o + 4 > end) return "mpls_short";
        const bottom = (d[o + 2]! & 1) !== 0;
        o += 4;
        if (!bottom) continue;
        if (o >= end) return "mpls_short";
        const v = d[o]! >> 4;
        if (v === 4) return found(p, o, ETH_IPV4);
        if (v === 6) return found(p, o, ETH_IPV6);
        return found(p, o, type);
      }
      default:
        // Below 0x0600 it is an 802.3 length (LLC follows): no EtherType.
        return found(p, o, type < 0x0600 ? 0 : type);
    }
  }
}

/** PPP: optional 0xff 0x03, a 1- or 2-byte protocol; or Cisco HDLC. */
function readPpp(p: Packet, o: number, end: number): FrameFault | null {
  const d = p.data;
  if (o + 2 > end) return "ppp_short";
  const a = d[o]!;
  if (a === 0x0f || a === 0x8f) {
    // Cisco HDLC framing inside a PPP-in-HDLC capture.
    if (o + 4 > end) return "ppp_short";
    return readEtherType(p, o + 4, end, (d[o + 2]! << 8) | d[o + 3]!);
  }
  if (a === 0xff && d[o + 1] === 0x03) o += 2;
  if (o >= end) return "ppp_short";
  let proto: number;
  if ((d[o]! & 1) !== 0) {
    proto = d[o]!; // protocol field compressed to one byte
    o += 1;
  } else {
    if (o + 2 > end) return "ppp_short";
    proto = (d[o]! << 8) | d[o + 1]!;
    o += 2;
  }
  if (proto === 0x0021) return found(p, o, ETH_IPV4);
  if (proto === 0x0057) return found(p, o, ETH_IPV6);
  return found(p, o, 0);
}
