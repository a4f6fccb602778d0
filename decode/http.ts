/**
 * HTTP/1.x request facts from the start of a TCP payload: the request line
 * (method, URI, version) and the Host and User-Agent headers. Strings are
 * made only once the bytes look like a request, and are capped.
 *
 * A payload is a request when it starts with a method token (an upper-case
 * letter, then token characters, at most 32) and a space, followed by a
 * non-empty target and either ` HTTP/…` at the end of the line, the end of
 * the captured payload (a request line cut by the segment), or, for `GET`
 * only, the end of the line (HTTP/0.9). So SMTP, FTP or POP3 commands are
 * not mistaken for requests.
 *
 * @module
 */
import type { HttpFacts } from "./packet.ts";
import { escapedText, textOf } from "./_text.ts";

/** Longest method token accepted, in bytes. */
export const HTTP_MAX_METHOD = 32;
/** Caps on the strings made, in characters. */
export const HTTP_MAX_URI = 2048;
/** Cap on the Host value, in characters. */
export const HTTP_MAX_HOST = 255;
/** Cap on the User-Agent value, in characters. */
export const HTTP_MAX_USER_AGENT = 512;
/** Cap on the version text, in characters. */
export const HTTP_MAX_VERSION = 16;

// RFC 9110 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~".
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;

/** Sets every field of `out` to "". */
export function clearHttp(out: HttpFacts): void {
  out.method = "";
  out.uri = "";
  out.version = "";
  out.host = "";
  out.userAgent = "";
}

/**
 * Reads an HTTP/1.x request from `data[start, end)` into `out`. Returns
 * false, leaving `out` untouched, when the bytes are not a request start.
 */
export function readHttpRequest(
  data: Uint8Array,
  start: number,
  end: number,
  out: HttpFacts,
): boolean {
  if (end > data.length) end = data.length;
  if (start < 0 || end - start < 3) return false;
  const c0 = data[start]!;
  if (c0 < 0x41 || c0 > 0x5a) return false;
  let i = start + 1;
  const methodCap = Math.min(end, start + HTTP_MAX_METHOD);
  while (i < methodCap && TCHAR[data[i]!] === 1) i++;
  if (i >= end || data[i] !== 0x20) return false;
  const methodEnd = i;
  const target = i + 1;
  // Find the end of the request line.
  let eol = target;
  while (eol < end && data[eol] !== 0x0a) eol++;
  let lineEnd = eol;
  if (lineEnd > target && data[lineEnd - 1] === 0x0d) lineEnd--;
  // " HTTP/" at the end of the line, after the target?
  let sp = lineEnd - 1;
  while (sp > target && data[sp] !== 0x20) sp--;
  let uriEnd: number;
  let versionStart = -1;
  if (
    sp > target && lineEnd - sp > 5 && data[sp + 1] === 0x48 &&
    data[sp + 2] === 0x54 && data[sp + 3] === 0x54 && data[sp + 4] === 0x50 &&
    data[sp + 5] === 0x2f
  ) {
    uriEnd = sp;
    versionStart = sp + 1;
  } else if (eol === end) {
    uriEnd = lineEnd; // the line runs past the segment
  } else if (isGet(data, start, methodEnd)) {
    uriEnd = lineEnd; // HTTP/0.9: no version
    for (let k = target; k < uriEnd; k++) if (data[k] === 0x20) return false;
  } else {
    return false;
  }
  if (uriEnd <= target || data[target] === 0x20) return false;
  out.method = textOf(data, start, methodEnd);
  out.uri = escapedText(data, target, uriEnd, HTTP_MAX_URI);
  out.version = versionStart < 0
    ? ""
    : escapedText(data, versionStart, lineEnd, HTTP_MAX_VERSION);
  out.host = "";
  out.userAgent = "";
  let pos = eol + 1;
  let want = 2;
  while (pos < end && want > 0) {
    let e = pos;
    while (e < end && data[e] !== 0x0a) e++;
    let le = e;
    if (le > pos && data[le - 1] === 0x0d) le--;
    if (le === pos) break; // empty line: end of the headers
    if (out.host === "" && hasName(data, pos, le, HOST)) {
      out.host = headerValue(data, pos + HOST.length, le, HTTP_MAX_HOST);
      want--;
    } else if (out.userAgent === "" && hasName(data, pos, le, USER_AGENT)) {
      out.userAgent = headerValue(
        data,
        pos + USER_AGENT.length,
        le,
        HTTP_MAX_USER_AGENT,
      );
      want--;
    }
    pos = e + 1;
  }
  return true;
}

/**
 * Parses an HTTP/1.x request start from a whole TCP payload. Returns false
 * when the bytes do not look like a request.
 *
 * @example
 * ```ts
 * const h = newPacket().http;
 * parseHttpRequest(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), h);
 * h.host; // "a"
 * ```
 */
export function parseHttpRequest(bytes: Uint8Array, out: HttpFacts): boolean {
  return readHttpRequest(bytes, 0, bytes.length, out);
}

const HOST = bytesOf("host:");
const USER_AGENT = bytesOf("user-agent:");

function bytesOf(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function isGet(data: Uint8Array, start: number, end: number): boolean {
  return end - start === 3 && data[start] === 0x47 &&
    data[start + 1] === 0x45 && data[start + 2] === 0x54;
}

/** True when the line at `data[pos, le)` starts with `name` (lower case), any case. */
function hasName(
  data: Uint8Array,
  pos: number,
  le: number,
  name: Uint8Array,
): boolean {
  if (le - pos < name.length) return false;
  for (let k = 0; k < name.length; k++) {
    const c = data[pos + k]!;
    const lc = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    if (lc !== name[k]) return false;
  }
  return true;
}

function headerValue(
  data: Uint8Array,
  from: number,
  to: number,
  cap: number,
): string {
  while (from < to && (data[from] === 0x20 || data[from] === 0x09)) from++;
  while (to > from && (data[to - 1] === 0x20 || data[to - 1] === 0x09)) to--;
  return escapedText(data, from, to, cap);
}
