/**
 * NetBIOS names a host claims for itself (RFC 1001/1002 name service, UDP
 * 137): name registrations, refreshes and overwrite demands it sends
 * (opcodes 5, 8, 9), and positive answers it gives to name queries. The
 * question name is in first-level encoding (each byte as two letters
 * `A`+nibble, 32 letters for the 16-byte name: 15 characters padded with
 * spaces and a suffix byte). Workstation (0x00) and server (0x20) names of
 * unique (not group) entries name a device; others (domain, browser) are
 * ignored. Queries name someone else and are ignored too.
 *
 * @module
 */
import { cleanText } from "./text.ts";

/** One claimed NetBIOS name. */
export interface NbnsName {
  /** The 15-character name without its padding, cleaned. */
  readonly name: string;
  /** The suffix byte (0x00 workstation, 0x20 file server). */
  readonly suffix: number;
  /** "registration" or "answer". */
  readonly how: "registration" | "answer";
}

/**
 * Reads the name a NetBIOS name-service message in `d[start, end)` claims
 * for its sender; null when it claims none (a query, a group name, another
 * suffix) or is malformed.
 */
export function parseNbns(
  d: Uint8Array,
  start: number,
  end: number,
): NbnsName | null {
  if (end > d.length) end = d.length;
  if (start < 0 || end - start < 12 + 34) return null;
  const flags = (d[start + 2]! << 8) | d[start + 3]!;
  const response = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0x0f;
  const rcode = flags & 0x0f;
  const qd = (d[start + 4]! << 8) | d[start + 5]!;
  const an = (d[start + 6]! << 8) | d[start + 7]!;
  const ar = (d[start + 10]! << 8) | d[start + 11]!;
  let how: NbnsName["how"];
  if (!response && (opcode === 5 || opcode === 8 || opcode === 9) && qd === 1) {
    how = "registration";
  } else if (response && opcode === 0 && rcode === 0 && an >= 1) {
    how = "answer";
  } else return null;
  const o = start + 12;
  if (d[o] !== 32) return null;
  let raw = "";
  let suffix = 0;
  for (let i = 0; i < 16; i++) {
    const hi = d[o + 1 + 2 * i]! - 0x41, lo = d[o + 2 + 2 * i]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return null;
    const c = (hi << 4) | lo;
    if (i === 15) suffix = c;
    else raw += String.fromCharCode(c);
  }
  if (suffix !== 0x00 && suffix !== 0x20) return null;
  // Skip the scope labels to the RR that follows (registration: additional
  // record; answer: answer record) and read its NB flags' group bit.
  let p = o + 33;
  while (p < end && d[p] !== 0) {
    if ((d[p]! & 0xc0) !== 0) return null;
    p += 1 + d[p]!;
  }
  p++;
  if (how === "registration") {
    if (ar < 1) return null;
    p += 4; // question type and class
    // The additional record's name is usually a pointer (2 bytes).
    if (p < end && (d[p]! & 0xc0) === 0xc0) p += 2;
    else return null;
  }
  // type, class, ttl, rdlength, then NB flags.
  const rd = p + 10;
  if (rd + 2 > end) return null;
  if ((d[rd]! & 0x80) !== 0) return null; // group name
  const name = cleanText(raw.replace(/ +$/, ""), 15);
  if (name === "" || name === "*") return null;
  return { name, suffix, how };
}
