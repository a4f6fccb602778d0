/**
 * Payload matching with Suricata's semantics
 * (https://docs.suricata.io/en/latest/rules/payload-keywords.html): the
 * matchers of one buffer run in rule order; `offset`/`depth` bound an
 * absolute window, `distance`/`within` a window after the previous match
 * (`distance` may be negative), `startswith`/`endswith` pin the ends, a
 * negated content must be absent from its window and leaves the position
 * where it was; `isdataat`, `byte_test`, `byte_jump` and `pcre` (with `R`)
 * read from the position. When a later relative matcher fails, an earlier
 * content is tried at its next occurrence (Suricata's backtracking), up to
 * a budget per buffer.
 *
 * @module
 */
import type { ByteJumpMatch, ByteTestMatch, PayloadMatch } from "./rule.ts";

/** ASCII case folding table. */
export const FOLD: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = i >= 65 && i <= 90 ? i + 32 : i;
  return t;
})();

/**
 * Position of `pat` in `data[from, to)` (pattern wholly inside), or -1.
 * With `nocase`, `pat` must be folded already.
 */
export function findBytes(
  data: Uint8Array,
  from: number,
  to: number,
  pat: Uint8Array,
  nocase: boolean,
): number {
  const m = pat.length;
  const last = to - m;
  if (m === 0) return from <= to ? from : -1;
  const p0 = pat[0]!;
  for (let i = from; i <= last; i++) {
    const c = nocase ? FOLD[data[i]!]! : data[i]!;
    if (c !== p0) continue;
    let j = 1;
    if (nocase) {
      while (j < m && FOLD[data[i + j]!] === pat[j]) j++;
    } else {
      while (j < m && data[i + j] === pat[j]) j++;
    }
    if (j === m) return i;
  }
  return -1;
}

/** A buffer to match: bytes `data[0, len)`. */
export interface MatchBuffer {
  data: Uint8Array;
  len: number;
  /** Latin1 text of the buffer for pcre, made on first use. */
  text: string | null;
}

/** Latin1 text of bytes (pcre runs over it). */
export function latin1(data: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      data.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

let budget = 0;

/** Runs a buffer's matchers; true when they all hold. */
export function matchList(
  ms: readonly PayloadMatch[],
  b: MatchBuffer,
): boolean {
  budget = 1024;
  return step(ms, 0, b, 0);
}

function readNumber(
  d: Uint8Array,
  pos: number,
  n: number,
  len: number,
  little: boolean,
  base: number,
): number {
  if (base === 0) {
    if (pos < 0 || pos + n > len) return NaN;
    let v = 0;
    if (little) { for (let i = n - 1; i >= 0; i--) v = v * 256 + d[pos + i]!; }
    else for (let i = 0; i < n; i++) v = v * 256 + d[pos + i]!;
    return v;
  }
  // String number: n digits (0: the rest of the buffer, at most 20).
  const end = n === 0 ? Math.min(len, pos + 20) : pos + n;
  if (pos < 0 || end > len || end <= pos) return NaN;
  let v = 0;
  let digits = 0;
  for (let i = pos; i < end; i++) {
    const c = d[i]!;
    let x = -1;
    if (c >= 48 && c <= 57) x = c - 48;
    else if (base === 16 && c >= 97 && c <= 102) x = c - 87;
    else if (base === 16 && c >= 65 && c <= 70) x = c - 55;
    if (x < 0 || x >= base) {
      if (n === 0 && digits > 0) break;
      return NaN;
    }
    v = v * base + x;
    digits++;
  }
  return v;
}

function applyMask(v: number, mask: number): number {
  if (mask === 0) return v;
  v = (v & mask) >>> 0;
  let m = mask;
  while (m !== 0 && (m & 1) === 0) {
    v >>>= 1;
    m >>>= 1;
  }
  return v;
}

function byteTest(m: ByteTestMatch, b: MatchBuffer, prev: number): boolean {
  const pos = (m.relative ? prev : 0) + m.offset;
  let v = readNumber(b.data, pos, m.n, b.len, m.little, m.base);
  if (Number.isNaN(v)) return false;
  v = applyMask(v, m.bitmask);
  let r: boolean;
  switch (m.op) {
    case "<":
      r = v < m.value;
      break;
    case ">":
      r = v > m.value;
      break;
    case "<=":
      r = v <= m.value;
      break;
    case ">=":
      r = v >= m.value;
      break;
    case "&":
      r = (v & m.value) !== 0;
      break;
    case "^":
      r = ((v ^ m.value) >>> 0) !== 0;
      break;
    default:
      r = v === m.value;
  }
  return m.negated ? !r : r;
}

function byteJump(m: ByteJumpMatch, b: MatchBuffer, prev: number): number {
  const pos = (m.relative ? prev : 0) + m.offset;
  let v = readNumber(b.data, pos, m.n, b.len, m.little, m.base);
  if (Number.isNaN(v)) return -1;
  v = applyMask(v, m.bitmask) * m.multiplier;
  if (m.align && v % 4 !== 0) v += 4 - (v % 4);
  let to: number;
  if (m.fromEnd) to = b.len + v + m.postOffset;
  else if (m.fromBeginning) to = v + m.postOffset;
  else to = pos + m.n + v + m.postOffset;
  if (to < 0 || to > b.len) return -1;
  return to;
}

function step(
  ms: readonly PayloadMatch[],
  i: number,
  b: MatchBuffer,
  prev: number,
): boolean {
  if (i === ms.length) return true;
  if (--budget < 0) return false;
  const m = ms[i]!;
  const len = b.len;
  switch (m.k) {
    case "content": {
      const plen = m.pat.length;
      let ws: number, we: number;
      if (m.relative) {
        ws = prev + (Number.isNaN(m.distance) ? 0 : m.distance);
        we = m.within >= 0 ? ws + m.within : len;
        if (m.depth >= 0) we = Math.min(we, ws + m.depth);
      } else {
        ws = m.offset >= 0 ? m.offset : 0;
        we = m.depth >= 0 ? ws + m.depth : len;
      }
      if (m.startswith) {
        ws = 0;
        we = Math.min(we, plen);
      }
      if (ws < 0) ws = 0;
      if (we > len) we = len;
      if (m.endswith) ws = Math.max(ws, we === len ? len - plen : len);
      const pat = m.nocase ? m.folded : m.pat;
      if (m.negated) {
        if (findBytes(b.data, ws, we, pat, m.nocase) >= 0) return false;
        return step(ms, i + 1, b, prev);
      }
      for (;;) {
        const at = findBytes(b.data, ws, we, pat, m.nocase);
        if (at < 0) return false;
        if (step(ms, i + 1, b, at + plen)) return true;
        if (budget < 0 || !laterRelative(ms, i + 1)) return false;
        ws = at + 1;
      }
    }
    case "isdataat": {
      let ok: boolean;
      if (m.relative) ok = prev < len && prev + m.n <= len;
      else ok = m.n < len;
      if (m.negated) ok = !ok;
      return ok && step(ms, i + 1, b, prev);
    }
    case "byte_test":
      return byteTest(m, b, prev) && step(ms, i + 1, b, prev);
    case "byte_jump": {
      const to = byteJump(m, b, prev);
      return to >= 0 && step(ms, i + 1, b, to);
    }
    case "pcre": {
      const start = m.relative ? prev : 0;
      if (start > len) return m.spec.negated && step(ms, i + 1, b, prev);
      if (b.text === null) b.text = latin1(b.data, 0, len);
      const text = start === 0 ? b.text : b.text.slice(start);
      const r = m.spec.re.exec(text);
      if (m.spec.negated) return r === null && step(ms, i + 1, b, prev);
      if (r === null) return false;
      return step(ms, i + 1, b, start + r.index + r[0].length);
    }
  }
}

/** True when a matcher at or after `i` depends on the position. */
function laterRelative(ms: readonly PayloadMatch[], i: number): boolean {
  for (let j = i; j < ms.length; j++) {
    const m = ms[j]!;
    if (m.relative) return true;
    if (m.k === "content" && !m.negated) return false;
  }
  return false;
}
