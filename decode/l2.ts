/**
 * Layer-2 address resolution: ARP (RFC 826) for IPv4 over Ethernet, and
 * IPv6 neighbour discovery (RFC 4861: router solicitation and
 * advertisement, neighbour solicitation and advertisement, redirect) with
 * its link-layer address options. Fills {@link ArpFacts} and
 * {@link NdFacts} of the reusable record; MAC addresses are kept as 48-bit
 * numbers (see {@link readMac}), so nothing is allocated per frame.
 *
 * @module
 */
import type { AppFault } from "./faults.ts";
import type { ArpFacts, NdFacts } from "./packet.ts";

/** No MAC address (the link has none, or the message carried none). */
export const NO_MAC = -1;

/** ARP opcodes. */
export const ARP_REQUEST = 1;
/** ARP reply. */
export const ARP_REPLY = 2;

/** ICMPv6 neighbour-discovery types. */
export const ND_ROUTER_SOLICIT = 133;
/** Router advertisement. */
export const ND_ROUTER_ADVERT = 134;
/** Neighbour solicitation. */
export const ND_NEIGHBOR_SOLICIT = 135;
/** Neighbour advertisement. */
export const ND_NEIGHBOR_ADVERT = 136;
/** Redirect. */
export const ND_REDIRECT = 137;

/** Neighbour advertisement flags (first byte after the ICMPv6 header). */
export const NA_ROUTER = 0x80;
/** Solicited. */
export const NA_SOLICITED = 0x40;
/** Override. */
export const NA_OVERRIDE = 0x20;

/** Most ND options read from one message (each is at least 8 bytes). */
const MAX_ND_OPTIONS = 32;

/**
 * Reads a 6-byte MAC address at `o` as a number: the first two bytes times
 * 2^32 plus the last four (exact in a double; 0x0000_0000_0000 is 0).
 */
export function readMac(d: Uint8Array, o: number): number {
  return ((d[o]! << 8) | d[o + 1]!) * 0x100000000 +
    (((d[o + 2]! << 24) | (d[o + 3]! << 16) | (d[o + 4]! << 8) | d[o + 5]!) >>>
      0);
}

/** A MAC number as text, `02:99:0a:63:00:42` ("" for {@link NO_MAC}). */
export function formatMac(mac: number): string {
  if (mac < 0) return "";
  let s = "";
  for (let i = 5; i >= 0; i--) {
    const b = Math.floor(mac / 2 ** (8 * i)) % 256;
    s += (i < 5 ? ":" : "") + (b < 16 ? "0" : "") + b.toString(16);
  }
  return s;
}

/** True for a group (multicast or broadcast) MAC. */
export function isGroupMac(mac: number): boolean {
  return mac >= 0 && (Math.floor(mac / 0x10000000000) & 1) === 1;
}

/** Resets ARP facts to "none". */
export function clearArp(a: ArpFacts): void {
  a.op = 0;
  a.sha = NO_MAC;
  a.spa = 0;
  a.tha = NO_MAC;
  a.tpa = 0;
}

/**
 * Reads an ARP message at `o` (bytes end at `end`). Only Ethernet/IPv4 ARP
 * (hardware type 1 or 6, protocol 0x0800, lengths 6 and 4) is decoded; any
 * other leaves `op` 0 without a fault. Returns "arp_short" when the
 * message is cut before its addresses.
 */
export function readArp(
  d: Uint8Array,
  o: number,
  end: number,
  out: ArpFacts,
): AppFault | null {
  if (o + 8 > end) return "arp_short";
  const htype = (d[o]! << 8) | d[o + 1]!;
  const ptype = (d[o + 2]! << 8) | d[o + 3]!;
  if (
    (htype !== 1 && htype !== 6) || ptype !== 0x0800 || d[o + 4] !== 6 ||
    d[o + 5] !== 4
  ) {
    return null;
  }
  if (o + 28 > end) return "arp_short";
  out.op = (d[o + 6]! << 8) | d[o + 7]!;
  out.sha = readMac(d, o + 8);
  out.spa = ((d[o + 14]! << 24) | (d[o + 15]! << 16) | (d[o + 16]! << 8) |
    d[o + 17]!) >>> 0;
  out.tha = readMac(d, o + 18);
  out.tpa = ((d[o + 24]! << 24) | (d[o + 25]! << 16) | (d[o + 26]! << 8) |
    d[o + 27]!) >>> 0;
  return null;
}

/** Resets ND facts to "none". */
export function clearNd(n: NdFacts): void {
  n.type = 0;
  n.target[0] =
    n.target[1] =
    n.target[2] =
    n.target[3] =
      0;
  n.lla = NO_MAC;
  n.flags = 0;
  n.routerLifetime = 0;
}

/**
 * Reads a neighbour-discovery message whose ICMPv6 header is at `o` (type
 * 133–137, already known; bytes end at `end`). RFC 4861 §6.1/§7.1 validity:
 * code 0 and hop limit 255 (`hopLimit`), else the message is ignored
 * (`type` stays 0) without a fault. The link-layer address option (source
 * for RS, RA, NS; target for NA, redirect) goes to `lla`. Returns
 * "nd_short" for a message cut before its fixed part, "nd_bad_option" for
 * an option of length 0 or past the end (the facts are then cleared).
 */
export function readNd(
  d: Uint8Array,
  o: number,
  end: number,
  hopLimit: number,
  out: NdFacts,
): AppFault | null {
  const type = d[o]!;
  if (d[o + 1] !== 0 || hopLimit !== 255) return null;
  let opts: number;
  switch (type) {
    case ND_ROUTER_SOLICIT:
      opts = o + 8;
      break;
    case ND_ROUTER_ADVERT:
      opts = o + 16;
      if (opts > end) return "nd_short";
      out.flags = d[o + 5]!;
      out.routerLifetime = (d[o + 6]! << 8) | d[o + 7]!;
      break;
    case ND_NEIGHBOR_SOLICIT:
    case ND_NEIGHBOR_ADVERT:
      opts = o + 24;
      break;
    case ND_REDIRECT:
      opts = o + 40;
      break;
    default:
      return null;
  }
  if (opts > end) return "nd_short";
  if (type >= ND_NEIGHBOR_SOLICIT) {
    const t = o + 8;
    for (let i = 0; i < 4; i++) {
      out.target[i] = ((d[t + 4 * i]! << 24) | (d[t + 4 * i + 1]! << 16) |
        (d[t + 4 * i + 2]! << 8) | d[t + 4 * i + 3]!) >>> 0;
    }
    if (type === ND_NEIGHBOR_ADVERT) out.flags = d[o + 4]!;
  }
  // Source link-layer address (1) for RS/RA/NS, target (2) for NA/redirect.
  const want = type === ND_NEIGHBOR_ADVERT || type === ND_REDIRECT ? 2 : 1;
  let at = opts;
  for (let n = 0; at < end && n < MAX_ND_OPTIONS; n++) {
    if (at + 2 > end) break; // a capture cut inside the options
    const len = d[at + 1]! * 8;
    if (len === 0) {
      clearNd(out);
      return "nd_bad_option";
    }
    if (at + len > end) break;
    if (d[at] === want && len === 8 && out.lla === NO_MAC) {
      out.lla = readMac(d, at + 2);
    }
    at += len;
  }
  out.type = type;
  return null;
}
