/**
 * Transport headers: TCP, UDP, ICMP and ICMPv6 (ports of SCTP, DCCP and
 * UDP-Lite too), and the payload bounds for every protocol. Non-first fragments carry no transport header: their
 * payload is the IP payload.
 *
 * @module
 */
import type { FrameFault } from "./faults.ts";
import {
  IPPROTO_DCCP,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  type Packet,
} from "./packet.ts";

/**
 * Reads the transport header of protocol `p.proto` at `o`. `end` is the end
 * of the captured IP packet, `wireLen` the transport length according to the
 * IP header.
 */
export function readTransport(
  p: Packet,
  o: number,
  end: number,
  wireLen: number,
): FrameFault | null {
  if (p.fragOffset !== 0) return payload(p, o, end, wireLen);
  // A first fragment may hold less than the transport header (the tiny
  // fragments of `nmap -f`): no fault, its data is for the defragmenter.
  if (p.fragment && wireLen < minHeader(p.proto)) {
    return payload(p, o, end, wireLen);
  }
  const d = p.data;
  switch (p.proto) {
    case IPPROTO_TCP: {
      if (o + 20 > end || wireLen < 20) return "tcp_short";
      const off = (d[o + 12]! >> 4) << 2;
      if (p.fragment && off > wireLen) return payload(p, o, end, wireLen);
      if (off < 20 || off > wireLen) return "tcp_bad_off";
      const v = p.view;
      p.l4Offset = o;
      p.srcPort = (d[o]! << 8) | d[o + 1]!;
      p.dstPort = (d[o + 2]! << 8) | d[o + 3]!;
      p.tcpSeq = v.getUint32(o + 4);
      p.tcpAck = v.getUint32(o + 8);
      p.tcpFlags = d[o + 13]!;
      p.tcpWindow = (d[o + 14]! << 8) | d[o + 15]!;
      // Options cut by the capture leave an empty payload, not a fault.
      return payload(p, o + off, end, wireLen - off);
    }
    case IPPROTO_UDP: {
      if (o + 8 > end || wireLen < 8) return "udp_short";
      let ulen = (d[o + 4]! << 8) | d[o + 5]!;
      // 0: the rest of the IP payload (RFC 2675 jumbograms, UDP GSO).
      if (ulen === 0) ulen = wireLen;
      // A first fragment holds only part of the datagram ulen describes.
      if (ulen < 8 || (!p.fragment && ulen > wireLen)) return "udp_bad_len";
      p.l4Offset = o;
      p.srcPort = (d[o]! << 8) | d[o + 1]!;
      p.dstPort = (d[o + 2]! << 8) | d[o + 3]!;
      if (p.fragment) return payload(p, o + 8, end, wireLen - 8);
      const uend = o + ulen < end ? o + ulen : end;
      return payload(p, o + 8, uend, ulen - 8);
    }
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (o + 4 > end || wireLen < 4) return "icmp_short";
      p.l4Offset = o;
      p.icmpType = d[o]!;
      p.icmpCode = d[o + 1]!;
      return payload(p, o + 8, end, wireLen - 8);
    case IPPROTO_SCTP:
      // Common header: ports, verification tag, checksum; chunks follow.
      if (o + 12 > end || wireLen < 12) return "sctp_short";
      return ports(p, o, 12, end, wireLen);
    case IPPROTO_UDPLITE:
      if (o + 8 > end || wireLen < 8) return "udplite_short";
      return ports(p, o, 8, end, wireLen);
    case IPPROTO_DCCP: {
      if (o + 12 > end || wireLen < 12) return "dccp_short";
      const off = d[o + 4]! << 2;
      if (off < 12 || off > wireLen) return "dccp_bad_off";
      return ports(p, o, off, end, wireLen);
    }
    default:
      return payload(p, o, end, wireLen);
  }
}

/** The fixed header length of a transport protocol (0 when not read). */
function minHeader(proto: number): number {
  switch (proto) {
    case IPPROTO_TCP:
      return 20;
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
      return 8;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      return 4;
    case IPPROTO_SCTP:
    case IPPROTO_DCCP:
      return 12;
    default:
      return 0;
  }
}

/** A transport header of `hlen` bytes that starts with the two ports. */
function ports(
  p: Packet,
  o: number,
  hlen: number,
  end: number,
  wireLen: number,
): null {
  const d = p.data;
  p.l4Offset = o;
  p.srcPort = (d[o]! << 8) | d[o + 1]!;
  p.dstPort = (d[o + 2]! << 8) | d[o + 3]!;
  return payload(p, o + hlen, end, wireLen - hlen);
}

/** Sets the payload bounds: `at` clipped to `end`, lengths never negative. */
function payload(p: Packet, at: number, end: number, wireLen: number): null {
  if (at > end) at = end;
  p.payloadOffset = at;
  p.payloadLen = end - at;
  p.payloadWireLen = wireLen > 0 ? wireLen : 0;
  return null;
}
