/**
 * Bytes from the wire to printable ASCII text: the one place the decoder
 * makes strings. Bytes outside 0x20..0x7e become `\xNN`, so text shown or
 * logged downstream never holds control characters.
 *
 * Strings are interned: a bounded, direct-mapped cache (4096 entries, texts
 * up to 256 characters) keyed by an FNV-1a hash of the bytes returns the
 * string made last time for the same bytes, so the many repeats of methods,
 * versions, hosts, DNS names and SNIs allocate nothing. The cache only
 * memoises; it never changes a result. A new string is made with one
 * `String.fromCharCode` call over the bytes (no TextDecoder).
 *
 * @module
 */

/** Longest text these helpers produce, in characters. */
export const MAX_TEXT = 4096;

const SCRATCH = new Uint8Array(MAX_TEXT);
const HEX = "0123456789abcdef";
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;
const CACHE_SIZE = 4096;
const CACHE_MAX_LEN = 256;
const CACHE: string[] = new Array<string>(CACHE_SIZE).fill("");

/**
 * The text of `buf[start, end)`, whose bytes the caller knows to be
 * printable ASCII, given their FNV-1a hash `h`.
 */
function intern(
  buf: Uint8Array,
  start: number,
  end: number,
  h: number,
): string {
  const len = end - start;
  if (len <= 0) return "";
  if (len > CACHE_MAX_LEN) {
    return Reflect.apply(String.fromCharCode, null, buf.subarray(start, end));
  }
  const k = (h ^ (h >>> 16)) & (CACHE_SIZE - 1);
  const hit = CACHE[k]!;
  if (hit.length === len) {
    let j = 0;
    while (j < len && hit.charCodeAt(j) === buf[start + j]) j++;
    if (j === len) return hit;
  }
  const s: string = Reflect.apply(
    String.fromCharCode,
    null,
    buf.subarray(start, end),
  );
  CACHE[k] = s;
  return s;
}

/**
 * The text of `buf[start, end)`, whose bytes the caller knows to be
 * printable ASCII (as built in the {@link scratch} buffer).
 */
export function textOf(buf: Uint8Array, start: number, end: number): string {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME);
  return intern(buf, start, end, h);
}

/**
 * Text of `data[start, end)` with bytes outside 0x20..0x7e written as
 * `\xNN`, cut at `maxChars` characters (never inside an escape).
 */
export function escapedText(
  data: Uint8Array,
  start: number,
  end: number,
  maxChars: number,
): string {
  if (maxChars > MAX_TEXT) maxChars = MAX_TEXT;
  const cleanEnd = end - start > maxChars ? start + maxChars : end;
  let h = FNV_OFFSET;
  let i = start;
  for (; i < cleanEnd; i++) {
    const c = data[i]!;
    if (c < 0x20 || c > 0x7e) break;
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  if (i === cleanEnd) return intern(data, start, cleanEnd, h);
  SCRATCH.set(data.subarray(start, i), 0);
  let n = i - start;
  for (; i < end; i++) {
    const c = data[i]!;
    if (c >= 0x20 && c <= 0x7e) {
      if (n >= maxChars) break;
      SCRATCH[n++] = c;
    } else {
      if (n + 4 > maxChars) break;
      n = putEscape(SCRATCH, n, c);
    }
  }
  return textOf(SCRATCH, 0, n);
}

/** Writes `\xNN` for byte `c` at `buf[n]`; returns the next position. */
export function putEscape(buf: Uint8Array, n: number, c: number): number {
  buf[n] = 0x5c;
  buf[n + 1] = 0x78;
  buf[n + 2] = HEX.charCodeAt(c >> 4);
  buf[n + 3] = HEX.charCodeAt(c & 15);
  return n + 4;
}

/** The shared scratch buffer (MAX_TEXT bytes) for callers that build text. */
export function scratch(): Uint8Array {
  return SCRATCH;
}
