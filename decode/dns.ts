/**
 * DNS message facts: the header and the first question, read from hostile
 * bytes. Compression pointers are followed only strictly backwards (each
 * jump lands before the start of the segment that held the pointer), so a
 * pointer loop cannot hang the reader; names stop at 255 bytes.
 *
 * @module
 */
import type { AppFault } from "./faults.ts";
import type { DnsFacts } from "./packet.ts";
import { putEscape, scratch, textOf } from "./_text.ts";

/** Most compression pointers followed in one name. */
export const DNS_MAX_JUMPS = 16;
/** Longest name in wire form (length bytes and the root label included). */
export const DNS_MAX_NAME = 255;

/** Sets every field of `out` to its empty value. */
export function clearDns(out: DnsFacts): void {
  out.id = 0;
  out.flags = 0;
  out.qr = false;
  out.opcode = 0;
  out.rcode = 0;
  out.qdcount = 0;
  out.ancount = 0;
  out.qname = "";
  out.qtype = 0;
  out.qclass = 0;
}

/**
 * Reads the DNS message in `data[start, end)` into `out`: header fields and,
 * when `qdcount > 0`, the first question (name lower-cased and escaped as
 * {@link DnsFacts.qname} describes, type, class). Returns null on success or
 * the fault; on a fault `out` holds partial values and should be cleared.
 */
export function readDns(
  data: Uint8Array,
  start: number,
  end: number,
  out: DnsFacts,
): AppFault | null {
  if (end > data.length) end = data.length;
  if (start < 0 || end - start < 12) return "dns_short";
  const flags = (data[start + 2]! << 8) | data[start + 3]!;
  out.id = (data[start]! << 8) | data[start + 1]!;
  out.flags = flags;
  out.qr = (flags & 0x8000) !== 0;
  out.opcode = (flags >> 11) & 15;
  out.rcode = flags & 15;
  out.qdcount = (data[start + 4]! << 8) | data[start + 5]!;
  out.ancount = (data[start + 6]! << 8) | data[start + 7]!;
  if (out.qdcount === 0) {
    out.qname = "";
    out.qtype = 0;
    out.qclass = 0;
    return null;
  }
  const next = readDnsName(data, start, start + 12, end, NAME);
  if (typeof next !== "number") return next;
  if (next + 4 > end) return "dns_short";
  out.qname = NAME.name;
  out.qtype = (data[next]! << 8) | data[next + 1]!;
  out.qclass = (data[next + 2]! << 8) | data[next + 3]!;
  return null;
}

/** Where {@link readDnsName} puts the name it read. */
export interface DnsName {
  /** The name as {@link DnsFacts.qname} describes it. */
  name: string;
}

const NAME: DnsName = { name: "" };

/**
 * Reads the (possibly compressed) name at `data[pos]` of the DNS message
 * that starts at `data[msg]` and ends at `end`. Puts the text in `out.name`
 * (with `out` null the name is only checked: no text is made) and returns
 * the offset just past the name where it started (after the first pointer,
 * if any), or the fault. Pointers must land after the header
 * and before the segment that holds them, at most {@link DNS_MAX_JUMPS}
 * times; the name is at most {@link DNS_MAX_NAME} bytes in wire form.
 */
export function readDnsName(
  data: Uint8Array,
  msg: number,
  pos: number,
  end: number,
  out: DnsName | null,
): number | AppFault {
  if (end > data.length) end = data.length;
  const buf = scratch();
  // Pointers must land before `limit`: the start of the current segment.
  let limit = pos;
  let after = -1;
  let jumps = 0;
  let wire = 1;
  let n = 0;
  for (;;) {
    if (pos >= end) return "dns_short";
    const len = data[pos]!;
    if (len === 0) {
      pos++;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end) return "dns_short";
      const target = msg + (((len & 0x3f) << 8) | data[pos + 1]!);
      if (after < 0) after = pos + 2;
      if (target >= limit || target < msg + 12 || ++jumps > DNS_MAX_JUMPS) {
        return "dns_bad_pointer";
      }
      pos = limit = target;
      continue;
    }
    if (kind !== 0) return "dns_bad_label";
    wire += len + 1;
    if (wire > DNS_MAX_NAME) return "dns_name_too_long";
    const labelEnd = pos + 1 + len;
    if (labelEnd > end) return "dns_short";
    if (out !== null) {
      if (n > 0) buf[n++] = 0x2e;
      for (let i = pos + 1; i < labelEnd; i++) {
        const c = data[i]!;
        if (c >= 0x41 && c <= 0x5a) buf[n++] = c | 0x20;
        else if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) {
          buf[n++] = c;
        } else n = putEscape(buf, n, c);
      }
    }
    pos = labelEnd;
  }
  if (out !== null) out.name = textOf(buf, 0, n);
  return after < 0 ? pos : after;
}

/**
 * Parses a whole DNS message (as carried by UDP, without the TCP length
 * prefix) into `out`. Returns null on success or the fault.
 *
 * @example
 * ```ts
 * const facts = newPacket().dns;
 * if (parseDns(udpPayload, facts) === null) facts.qname; // "example.com"
 * ```
 */
export function parseDns(bytes: Uint8Array, out: DnsFacts): AppFault | null {
  return readDns(bytes, 0, bytes.length, out);
}
