/**
 * DHCPv4 (RFC 2131 over BOOTP, RFC 951; options RFC 2132): the facts a
 * watch for rogue servers needs from one message — its type, the client's
 * hardware address, the address offered and the server identifier, router,
 * DNS servers and lease time handed out. Allocation-free: addresses are
 * 32-bit numbers, the MAC a 48-bit number (decode/l2.ts).
 *
 * @module
 */
import type { AppFault } from "./faults.ts";
import { NO_MAC, readMac } from "./l2.ts";
import type { DhcpFacts } from "./packet.ts";

/** DHCP message types (option 53). */
export const DHCP_DISCOVER = 1;
/** Offer. */
export const DHCP_OFFER = 2;
/** Request. */
export const DHCP_REQUEST = 3;
/** Decline. */
export const DHCP_DECLINE = 4;
/** Ack. */
export const DHCP_ACK = 5;
/** Nak. */
export const DHCP_NAK = 6;
/** Release. */
export const DHCP_RELEASE = 7;
/** Inform. */
export const DHCP_INFORM = 8;

/** DNS servers kept from option 6. */
export const DHCP_MAX_DNS = 4;
/** Most options read from one message. */
const MAX_OPTIONS = 255;

function u32(d: Uint8Array, o: number): number {
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>>
    0;
}

/** Resets DHCP facts to "none". */
export function clearDhcp(f: DhcpFacts): void {
  f.op = 0;
  f.msgType = 0;
  f.xid = 0;
  f.chaddr = NO_MAC;
  f.ciaddr = 0;
  f.yiaddr = 0;
  f.serverId = 0;
  f.router = 0;
  f.dnsCount = 0;
  f.leaseS = 0;
}

/**
 * Reads a DHCP message in `d[o..end)` (the UDP payload) into `out`.
 * Returns null when it holds the fixed BOOTP part, the magic cookie and a
 * message type; "dhcp_short" when cut before those, "dhcp_bad_option" when
 * an option runs past the end before the message type was read. BOOTP
 * without the DHCP cookie is "dhcp_short" too (it carries no type).
 */
export function readDhcp(
  d: Uint8Array,
  o: number,
  end: number,
  out: DhcpFacts,
): AppFault | null {
  if (o + 240 > end) return "dhcp_short";
  if (
    d[o + 236] !== 99 || d[o + 237] !== 130 || d[o + 238] !== 83 ||
    d[o + 239] !== 99
  ) {
    return "dhcp_short";
  }
  out.op = d[o]!;
  out.xid = u32(d, o + 4);
  out.ciaddr = u32(d, o + 12);
  out.yiaddr = u32(d, o + 16);
  out.chaddr = d[o + 1] === 1 && d[o + 2] === 6 ? readMac(d, o + 28) : NO_MAC;
  let at = o + 240;
  for (let n = 0; at < end && n < MAX_OPTIONS; n++) {
    const code = d[at]!;
    if (code === 255) break;
    if (code === 0) {
      at++;
      continue;
    }
    if (at + 2 > end) break;
    const len = d[at + 1]!;
    const v = at + 2;
    if (v + len > end) {
      if (out.msgType !== 0) break; // a snap length cut after the type
      clearDhcp(out);
      return "dhcp_bad_option";
    }
    switch (code) {
      case 53:
        if (len >= 1) out.msgType = d[v]!;
        break;
      case 54:
        if (len >= 4) out.serverId = u32(d, v);
        break;
      case 3:
        if (len >= 4) out.router = u32(d, v);
        break;
      case 6:
        for (let i = 0; i + 4 <= len && out.dnsCount < DHCP_MAX_DNS; i += 4) {
          out.dns[out.dnsCount++] = u32(d, v + i);
        }
        break;
      case 51:
        if (len >= 4) out.leaseS = u32(d, v);
        break;
    }
    at = v + len;
  }
  if (out.msgType === 0) {
    clearDhcp(out);
    return "dhcp_short";
  }
  return null;
}
