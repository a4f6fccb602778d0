/**
 * What a DHCPv4 client says about itself (RFC 2131 messages, RFC 2132
 * options): its hardware address, host name (option 12), FQDN (option 81,
 * RFC 4702: ASCII or, with the E flag, DNS wire format), vendor class
 * (option 60), parameter request list (option 55, whose order fingerprints
 * the client's DHCP stack, as Fingerbank and p0f-style tools use it),
 * client identifier (61) and requested address (50). Only client messages
 * (op 1) are read; servers are watched by detect/.
 *
 * @module
 */
import { readMac } from "../decode/mod.ts";
import { cleanBytes } from "./text.ts";

/** The client's facts of one DHCP message. */
export interface DhcpClientFacts {
  /** Option 53: 1 discover, 3 request, 4 decline, 7 release, 8 inform. */
  readonly msgType: number;
  /** chaddr as a 48-bit number (-1 when not 6-byte Ethernet). */
  readonly mac: number;
  /** ciaddr, the address the client has (0 when none). */
  readonly ciaddr: number;
  /** Option 50 (0 when absent). */
  readonly requested: number;
  /** Option 12, cleaned ("" when absent). */
  readonly hostname: string;
  /** Option 81's domain name, cleaned ("" when absent). */
  readonly fqdn: string;
  /** Option 60, cleaned ("" when absent). */
  readonly vendorClass: string;
  /** Option 55 as the codes in order, comma-separated ("" when absent). */
  readonly paramList: string;
}

const COOKIE = 0x63825363;

/**
 * Reads the client message in the UDP payload `d[start, end)`; null when
 * it is not a well-formed BOOTREQUEST with the DHCP cookie. Options past
 * the end or with lengths running past it end the reading (what was read
 * is kept).
 */
export function parseDhcpClient(
  d: Uint8Array,
  start: number,
  end: number,
): DhcpClientFacts | null {
  if (end > d.length) end = d.length;
  if (start < 0 || end - start < 240) return null;
  if (d[start] !== 1) return null;
  const u32 = (o: number) =>
    ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
  if (u32(start + 236) !== COOKIE) return null;
  const mac = d[start + 1] === 1 && d[start + 2] === 6
    ? readMac(d, start + 28)
    : -1;
  let msgType = 0, requested = 0;
  let hostname = "", fqdn = "", vendorClass = "", paramList = "";
  let o = start + 240;
  while (o < end) {
    const code = d[o]!;
    if (code === 255) break;
    if (code === 0) {
      o++;
      continue;
    }
    if (o + 2 > end) break;
    const len = d[o + 1]!;
    const v = o + 2;
    if (v + len > end) break;
    switch (code) {
      case 53:
        if (len >= 1) msgType = d[v]!;
        break;
      case 50:
        if (len === 4) requested = u32(v);
        break;
      case 12:
        hostname = cleanBytes(d, v, v + len);
        break;
      case 60:
        vendorClass = cleanBytes(d, v, v + len);
        break;
      case 81:
        if (len > 3) fqdn = readFqdn(d, v, v + len);
        break;
      case 55: {
        let s = "";
        for (let i = 0; i < len; i++) s += (i ? "," : "") + d[v + i]!;
        paramList = s;
        break;
      }
    }
    o = v + len;
  }
  return {
    msgType,
    mac,
    ciaddr: u32(start + 12),
    requested,
    hostname,
    fqdn,
    vendorClass,
    paramList,
  };
}

/** Option 81's name (after flags and two rcodes): wire labels when E (0x04) is set. */
function readFqdn(d: Uint8Array, start: number, end: number): string {
  const flags = d[start]!;
  let o = start + 3;
  if ((flags & 0x04) === 0) return cleanBytes(d, o, end);
  let s = "";
  while (o < end) {
    const n = d[o]!;
    if (n === 0 || n > 63 || o + 1 + n > end) break;
    s += (s ? "." : "") + cleanBytes(d, o + 1, o + 1 + n);
    o += 1 + n;
    if (s.length > 255) break;
  }
  return s.slice(0, 255);
}
