/**
 * Bytes from the wire to printable ASCII text: the one place the decoder
 * makes strings. Bytes outside 0x20..0x7e become `\xNN`, so text shown or
 * logged downstream never holds control characters. Uses a module scratch
 * buffer and one `String.fromCharCode` call per string (no TextDecoder).
 *
 * @module
 */

/** Longest text these helpers produce, in characters. */
export const MAX_TEXT = 4096;

const SCRATCH = new Uint8Array(MAX_TEXT);
const HEX = "0123456789abcdef";

/** The characters of `buf[start, end)` as a string (bytes are Latin-1 code points). */
export function charsOf(buf: Uint8Array, start: number, end: number): string {
  if (end <= start) return "";
  return Reflect.apply(String.fromCharCode, null, buf.subarray(start, end));
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
  let i = start;
  const cleanEnd = end - start > maxChars ? start + maxChars : end;
  while (i < cleanEnd) {
    const c = data[i]!;
    if (c < 0x20 || c > 0x7e) break;
    i++;
  }
  if (i === cleanEnd) return charsOf(data, start, cleanEnd);
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
  return charsOf(SCRATCH, 0, n);
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
