/**
 * Allocation-free measurements of a DNS query name as the decoder writes it
 * (lower case, labels joined by dots, other bytes as `\xNN`): where its
 * registered domain starts, and the length, longest label and Shannon
 * entropy of the part before it.
 *
 * The registered domain is the last two labels, or three when the last is a
 * two-letter country code and the second-level label is a generic one
 * (co.uk, com.au, ne.jp …). That is a heuristic, not the Public Suffix List:
 * good enough to group a tunnel's names under the domain it controls.
 *
 * @module
 */

/** Measurements of the subdomain part of one name. */
export interface NameShape {
  /** Index in the name where the registered domain starts. */
  regStart: number;
  /** Symbols (bytes) before the registered domain, dots excluded. */
  subLen: number;
  /** Longest label before the registered domain, in symbols. */
  maxLabel: number;
  /** Labels before the registered domain. */
  labels: number;
  /** Shannon entropy of the subdomain's symbols, bits per symbol. */
  entropy: number;
}

/** Creates an empty shape record (reused per query). */
export function newShape(): NameShape {
  return { regStart: 0, subLen: 0, maxLabel: 0, labels: 0, entropy: 0 };
}

const GENERIC_SLD = [
  "co",
  "com",
  "net",
  "org",
  "gov",
  "edu",
  "ac",
  "ne",
  "or",
  "go",
  "mil",
  "gob",
  "nic",
];

function genericSld(name: string, from: number, to: number): boolean {
  const len = to - from;
  for (const s of GENERIC_SLD) {
    if (s.length === len && name.startsWith(s, from)) return true;
  }
  return false;
}

const counts = new Int32Array(256);

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Index where the registered domain of `name` starts (0 for one or two labels). */
export function registeredStart(name: string): number {
  const last = name.lastIndexOf(".");
  if (last <= 0) return 0;
  const second = name.lastIndexOf(".", last - 1);
  if (second < 0) return 0;
  if (name.length - last - 1 === 2) {
    // Two-letter TLD: is the second-level label generic (co.uk)?
    if (genericSld(name, second + 1, last)) {
      const third = name.lastIndexOf(".", second - 1);
      return third < 0 ? 0 : third + 1;
    }
  }
  return second + 1;
}

/** Measures `name`'s subdomain (the part before its registered domain) into `out`. */
export function measureName(name: string, out: NameShape): NameShape {
  const reg = registeredStart(name);
  out.regStart = reg;
  out.subLen = out.maxLabel = out.labels = 0;
  out.entropy = 0;
  const end = reg > 0 ? reg - 1 : 0; // the dot before the registered domain
  if (end <= 0) return out;
  let label = 0, n = 0;
  let i = 0;
  while (i < end) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label > out.maxLabel) out.maxLabel = label;
      if (label > 0) out.labels++;
      label = 0;
      i++;
      continue;
    }
    let sym = c & 0xff;
    if (c === 0x5c && i + 3 < end && name.charCodeAt(i + 1) === 0x78) {
      const h = hexVal(name.charCodeAt(i + 2)),
        l = hexVal(name.charCodeAt(i + 3));
      if (h >= 0 && l >= 0) {
        sym = (h << 4) | l;
        i += 3;
      }
    }
    counts[sym]!++;
    n++;
    label++;
    i++;
  }
  if (label > out.maxLabel) out.maxLabel = label;
  if (label > 0) out.labels++;
  out.subLen = n;
  // Entropy over the symbols seen, clearing the counts as we go.
  let h = 0;
  i = 0;
  while (i < end) {
    const c = name.charCodeAt(i);
    let sym = c & 0xff;
    let step = 1;
    if (c === 0x5c && i + 3 < end && name.charCodeAt(i + 1) === 0x78) {
      const hi = hexVal(name.charCodeAt(i + 2)),
        lo = hexVal(name.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        sym = (hi << 4) | lo;
        step = 4;
      }
    }
    if (c !== 0x2e) {
      const k = counts[sym]!;
      if (k > 0) {
        const pr = k / n;
        h -= pr * Math.log2(pr);
        counts[sym] = 0;
      }
    }
    i += step;
  }
  out.entropy = h;
  return out;
}

/** FNV-1a hash of `s[from, to)`. */
export function hashRange(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}
