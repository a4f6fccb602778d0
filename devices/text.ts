/**
 * Names and strings that came off the wire, made safe to keep and show:
 * UTF-8 decoded leniently, control and format characters (C0, DEL, C1,
 * bidirectional overrides, zero-width) written as `\u{…}` escapes, and a
 * length cap. Markup stays text: the dashboard renders it through JSX.
 *
 * @module
 */

/** Characters kept per name at most (longer names end in "…"). */
export const NAME_MAX = 64;

const DEC = new TextDecoder("utf-8", { fatal: false });

/** True for characters that would hide or reorder text or break a line. */
function unsafe(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c < 0xa0) ||
    (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) || c === 0xfeff || c === 0x2028 ||
    c === 0x2029;
}

/**
 * Cleans `s` for keeping: unsafe characters escaped, leading and trailing
 * spaces trimmed, at most `max` characters (default {@link NAME_MAX}).
 *
 * @example
 * ```ts
 * cleanText("lap\ntop"); // "lap\\u{a}top"
 * ```
 */
export function cleanText(s: string, max: number = NAME_MAX): string {
  let out = "";
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += unsafe(c) ? `\\u{${c.toString(16)}}` : ch;
    if (++n >= max) {
      if (n < [...s].length) out += "…";
      break;
    }
  }
  return out.trim();
}

/** Decodes `d[start, end)` as UTF-8 (bad bytes as U+FFFD) and cleans it. */
export function cleanBytes(
  d: Uint8Array,
  start: number,
  end: number,
  max: number = NAME_MAX,
): string {
  if (end > d.length) end = d.length;
  if (start >= end) return "";
  // Four bytes a character at most: decode no more than the cap needs.
  const stop = Math.min(end, start + max * 4 + 4);
  const s = cleanText(DEC.decode(d.subarray(start, stop)), max);
  return stop < end && !s.endsWith("…") ? s + "…" : s;
}
