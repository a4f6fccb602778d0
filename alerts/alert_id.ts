/**
 * Alert ids: 26 characters of Crockford base32 in ULID layout, the first 10
 * from the alert's first packet time in milliseconds (so ids sort by time)
 * and the last 16 from an 80-bit hash of its aggregation key and first
 * packet time in microseconds. No randomness: analysing a capture twice
 * gives the same ids.
 *
 * @module
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function hash32(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The id of an alert first seen at `firstUs` (µs since the epoch) with
 * aggregation key `key`.
 *
 * @example
 * ```ts
 * alertId(1_764_000_000_000_000, "port_scan|10.0.0.66>10.0.0.10"); // "01KAV…"
 * ```
 */
export function alertId(firstUs: number, key: string): string {
  let ms = Math.max(0, Math.min(Math.floor(firstUs / 1000), 2 ** 48 - 1));
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  const material = `${key}@${firstUs}`;
  const a = hash32(material, 0x811c9dc5);
  const b = hash32(material, 0x9e3779b9);
  const c = hash32(material, 0x27d4eb2f) & 0xffff;
  // 80 bits: a (32) | b (32) | c (16), taken 5 bits at a time.
  const bits = [a, b, c << 16];
  for (let i = 0; i < 16; i++) {
    const bit = i * 5;
    const w = bit >>> 5, off = bit & 31;
    let v = (bits[w]! << off) >>> 27;
    if (off > 27 && w + 1 < 3) v |= bits[w + 1]! >>> (59 - off);
    out += ALPHABET[v & 31]!;
  }
  return out;
}

/** Packet time (µs) of an id's timestamp part, to the millisecond. */
export function alertIdTimeUs(id: string): number {
  let ms = 0;
  for (let i = 0; i < 10; i++) {
    const v = ALPHABET.indexOf(id[i] ?? "");
    if (v < 0) return NaN;
    ms = ms * 32 + v;
  }
  return ms * 1000;
}
