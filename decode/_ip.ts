/**
 * IPv4 and IPv6 headers: addresses, protocol, lengths, fragments, and the
 * IPv6 extension header chain (bounded), then the transport header.
 *
 * @module
 */
import type { FrameFault } from "./faults.ts";
import type { Packet } from "./packet.ts";
import { readTransport } from "./_transport.ts";

/** Most IPv6 extension headers walked before giving up. */
const MAX_IPV6_EXT = 8;

/**
 * End of the frame on the wire, as an offset in `data`: IP lengths beyond
 * it are lies (a truncated capture still has its wire length).
 */
function wireEnd(p: Packet): number {
  return p.frameOffset + (p.wirelen > p.caplen ? p.wirelen : p.caplen);
}

/**
 * Reads the IPv4 header at `o` (frame bytes end at `end`) and what follows.
 * A total length of 0 is taken as the rest of the frame, as offloaded
 * segments (TSO) and BIG TCP are captured on the sending host.
 */
export function readIpv4(p: Packet, o: number, end: number): FrameFault | null {
  if (o + 20 > end) return "ipv4_short";
  const d = p.data;
  const v = p.view;
  const b0 = d[o]!;
  if (b0 >> 4 !== 4) return "ipv4_bad_version";
  const ihl = (b0 & 15) << 2;
  if (ihl < 20) return "ipv4_bad_ihl";
  let total = (d[o + 2]! << 8) | d[o + 3]!;
  const wend = wireEnd(p);
  // 0: segmentation offload or BIG TCP; the packet is the rest of the frame.
  if (total === 0) total = wend - o;
  if (total < ihl || o + total > wend) return "ipv4_bad_len";
  p.ipVersion = 4;
  p.src[0] = v.getUint32(o + 12);
  p.dst[0] = v.getUint32(o + 16);
  p.ipLen = total;
  p.ipId = (d[o + 4]! << 8) | d[o + 5]!;
  p.ttl = d[o + 8]!;
  const proto = d[o + 9]!;
  p.proto = proto;
  const frag = (d[o + 6]! << 8) | d[o + 7]!;
  const fragOffset = (frag & 0x1fff) << 3;
  if (fragOffset !== 0 || (frag & 0x2000) !== 0) {
    p.fragment = true;
    p.fragOffset = fragOffset;
  }
  if (o + ihl > end) return "ipv4_short";
  if (p.fragment) {
    p.fragMore = (frag & 0x2000) !== 0;
    p.fragDataOffset = o + ihl;
    p.fragDataLen = total - ihl;
    p.fragProto = proto;
  }
  const ipEnd = o + total < end ? o + total : end;
  return readTransport(p, o + ihl, ipEnd, total - ihl);
}

/**
 * Reads the IPv6 header at `o`, walks its extension headers, then reads the
 * transport header. A payload length of 0 is taken as the rest of the frame
 * (jumbograms, offloaded segments, BIG TCP), unless the next header is 59.
 */
export function readIpv6(p: Packet, o: number, end: number): FrameFault | null {
  if (o + 40 > end) return "ipv6_short";
  const d = p.data;
  const v = p.view;
  if (d[o]! >> 4 !== 6) return "ipv6_bad_version";
  let plen = (d[o + 4]! << 8) | d[o + 5]!;
  let nh = d[o + 6]!;
  const wend = wireEnd(p);
  // 0: a jumbogram, segmentation offload or BIG TCP (unless nothing follows).
  if (plen === 0 && nh !== 59) plen = wend - o - 40;
  else if (o + 40 + plen > wend) return "ipv6_bad_len";
  p.ipVersion = 6;
  const src = p.src, dst = p.dst;
  src[0] = v.getUint32(o + 8);
  src[1] = v.getUint32(o + 12);
  src[2] = v.getUint32(o + 16);
  src[3] = v.getUint32(o + 20);
  dst[0] = v.getUint32(o + 24);
  dst[1] = v.getUint32(o + 28);
  dst[2] = v.getUint32(o + 32);
  dst[3] = v.getUint32(o + 36);
  p.ttl = d[o + 7]!;
  p.ipLen = 40 + plen;
  const pend = o + 40 + plen;
  const ipEnd = pend < end ? pend : end;
  let q = o + 40;
  let nhAt = o + 6; // the byte that names the header at q
  for (let n = 0;; n++) {
    let len: number;
    switch (nh) {
      case 0: // hop-by-hop options
      case 43: // routing
      case 60: // destination options
      case 135: // mobility
      case 139: // HIP
      case 140: // shim6
        if (q + 2 > ipEnd) return extFault(p, nh);
        len = (d[q + 1]! + 1) << 3;
        break;
      case 51: // AH: length in 4-byte words, minus 2
        if (q + 2 > ipEnd) return extFault(p, nh);
        len = (d[q + 1]! + 2) << 2;
        break;
      case 44: {
        if (q + 8 > ipEnd) return extFault(p, nh);
        const frag = (d[q + 2]! << 8) | d[q + 3]!;
        const fragOffset = frag & 0xfff8;
        if (fragOffset !== 0 || (frag & 1) !== 0) {
          p.fragment = true;
          p.fragOffset = fragOffset;
          p.fragMore = (frag & 1) !== 0;
          p.fragDataOffset = q + 8;
          p.fragDataLen = pend - q - 8;
          p.fragProto = d[q]!;
          p.fragHeaderOffset = q;
          p.fragNhOffset = nhAt;
          p.ipId = v.getUint32(q + 4);
        }
        if (fragOffset !== 0) {
          // A later fragment: what follows is the middle of the payload.
          p.proto = d[q]!;
          return readTransport(p, q + 8, ipEnd, pend - q - 8);
        }
        len = 8;
        break;
      }
      default:
        p.proto = nh;
        return readTransport(p, q, ipEnd, pend - q);
    }
    if (n >= MAX_IPV6_EXT) return extFault(p, nh, "ipv6_ext_too_many");
    if (q + len > ipEnd) return extFault(p, nh);
    nh = d[q]!;
    nhAt = q;
    q += len;
  }
}

function extFault(
  p: Packet,
  nh: number,
  fault: FrameFault = "ipv6_ext_short",
): FrameFault {
  p.proto = nh;
  return fault;
}
