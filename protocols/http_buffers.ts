/**
 * The byte buffers Suricata's HTTP sticky buffers name
 * (https://docs.suricata.io/en/latest/rules/http-keywords.html), built on
 * demand from an {@link HttpTransaction} and cached on it, so a rule
 * engine matches `content` on exactly what Suricata would.
 *
 * - `http.uri`: the request target normalised as libhtp does by default:
 *   an absolute-form target reduced to its path and query, `%XX` decoded,
 *   dot segments removed (RFC 3986 §5.2.4), repeated `/` collapsed.
 *   `http.uri.raw`: the target as sent.
 * - `http.header`: every header field as `Name: value\r\n`, in order,
 *   values trimmed, without `Cookie` (requests) or `Set-Cookie`
 *   (responses), which have `http.cookie`. `http.header.raw`: the header
 *   lines as received (up to and including the empty line).
 * - `http.header_names`: `\r\n`, then each name followed by `\r\n`, then a
 *   final `\r\n` (so `content:"|0d 0a|Host|0d 0a|"` matches a whole name).
 * - `http.start`: the start line and headers as received, through the
 *   empty line. `http.request_line`, `http.response_line`: the start line.
 * - `http.host`: the Host value in lower case without the port;
 *   `http.host.raw` as sent.
 * - `http.request_body`, `http.response_body` (`file_data` to the client):
 *   the kept, decoded body (see `http.ts`).
 * - `http.stat_code`, `http.stat_msg`, `http.method`, `http.protocol`,
 *   `http.user_agent`, `http.cookie`, `http.referer`, `http.content_type`,
 *   `http.content_len`, `http.server`, `http.location`, `http.accept`,
 *   `http.accept_enc`, `http.accept_lang`, `http.connection`: the field.
 *
 * @module
 */
import { DIR_TO_SERVER } from "../flows/mod.ts";
import { hostEnd, type HttpMessage, type HttpTransaction } from "./http.ts";

/** Sticky buffer names this module builds. */
export const HTTP_BUFFERS = [
  "http.uri",
  "http.uri.raw",
  "http.method",
  "http.protocol",
  "http.request_line",
  "http.response_line",
  "http.host",
  "http.host.raw",
  "http.user_agent",
  "http.header",
  "http.header.raw",
  "http.header_names",
  "http.cookie",
  "http.referer",
  "http.content_type",
  "http.content_len",
  "http.start",
  "http.server",
  "http.location",
  "http.accept",
  "http.accept_enc",
  "http.accept_lang",
  "http.connection",
  "http.stat_code",
  "http.stat_msg",
  "http.request_body",
  "http.response_body",
] as const;

/** One HTTP sticky buffer name. */
export type HttpBufferName = typeof HTTP_BUFFERS[number];

const FIELD: Partial<Record<HttpBufferName, string>> = {
  "http.user_agent": "user-agent",
  "http.referer": "referer",
  "http.content_type": "content-type",
  "http.content_len": "content-length",
  "http.server": "server",
  "http.location": "location",
  "http.accept": "accept",
  "http.accept_enc": "accept-encoding",
  "http.accept_lang": "accept-language",
  "http.connection": "connection",
};

/**
 * The bytes of sticky buffer `name` of `tx` for direction `dir` (the
 * buffers that exist both ways, such as `http.header`, take the request
 * for DIR_TO_SERVER and the response for DIR_TO_CLIENT), or null when the
 * transaction has no such field. The result is cached: do not modify it.
 *
 * @example
 * ```ts
 * httpBuffer(tx, "http.uri", DIR_TO_SERVER); // bytes of "/index.html"
 * ```
 */
export function httpBuffer(
  tx: HttpTransaction,
  name: HttpBufferName,
  dir: number = DIR_TO_SERVER,
): Uint8Array | null {
  const key = dir === DIR_TO_SERVER ? name : name + "<";
  const cache = tx.cache ??= new Map();
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const v = build(tx, name, dir);
  cache.set(key, v);
  return v;
}

function build(
  tx: HttpTransaction,
  name: HttpBufferName,
  dir: number,
): Uint8Array | null {
  const req = tx.request, res = tx.response;
  const m: HttpMessage | null = dir === DIR_TO_SERVER ? req : res;
  switch (name) {
    case "http.uri.raw":
      return req === null ? null : req.line.subarray(tx.uriStart, tx.uriEnd);
    case "http.uri":
      return req === null
        ? null
        : normalizeUri(req.line.subarray(tx.uriStart, tx.uriEnd));
    case "http.method":
      return req === null ? null : req.line.subarray(0, tx.methodEnd);
    case "http.protocol": {
      if (dir === DIR_TO_SERVER) {
        if (req === null || tx.uriEnd >= req.line.length) return null;
        return req.line.subarray(tx.uriEnd + 1);
      }
      if (res === null) return null;
      const sp = res.line.indexOf(0x20);
      return res.line.subarray(0, sp < 0 ? res.line.length : sp);
    }
    case "http.request_line":
      return req === null ? null : req.line;
    case "http.response_line":
      return res === null ? null : res.line;
    case "http.stat_code":
    case "http.stat_msg": {
      if (res === null) return null;
      const sp = res.line.indexOf(0x20);
      if (sp < 0) return null;
      const sp2 = res.line.indexOf(0x20, sp + 1);
      const codeEnd = sp2 < 0 ? res.line.length : sp2;
      return name === "http.stat_code"
        ? res.line.subarray(sp + 1, codeEnd)
        : res.line.subarray(Math.min(codeEnd + 1, res.line.length));
    }
    case "http.host.raw":
      return tx.requestHeader("host");
    case "http.host": {
      const h = tx.requestHeader("host");
      if (h === null) return null;
      const out = h.slice(0, hostEnd(h));
      for (let i = 0; i < out.length; i++) {
        const c = out[i]!;
        if (c >= 0x41 && c <= 0x5a) out[i] = c | 0x20;
      }
      return out;
    }
    case "http.cookie":
      return dir === DIR_TO_SERVER
        ? tx.requestHeader("cookie")
        : tx.responseHeader("set-cookie");
    case "http.header":
      return m === null ? null : headerBlock(m, dir);
    case "http.header.raw":
      return m === null ? null : m.raw.subarray(m.headerStart);
    case "http.header_names":
      return m === null ? null : headerNames(m);
    case "http.start":
      return m === null ? null : m.raw;
    case "http.request_body":
      return req === null ? null : req.body;
    case "http.response_body":
      return res === null ? null : res.body;
    default: {
      const field = FIELD[name];
      if (field === undefined) return null;
      return dir === DIR_TO_SERVER
        ? tx.requestHeader(field)
        : tx.responseHeader(field);
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const CRLF = new Uint8Array([0x0d, 0x0a]);
const COLON_SP = new Uint8Array([0x3a, 0x20]);

function headerBlock(m: HttpMessage, dir: number): Uint8Array {
  const skip = dir === DIR_TO_SERVER ? "cookie" : "set-cookie";
  const parts: Uint8Array[] = [];
  let n = 0;
  for (const h of m.headers) {
    if (h.key === skip) continue;
    parts.push(h.name, COLON_SP, h.value, CRLF);
    n += h.name.length + h.value.length + 4;
  }
  return concat(parts, n);
}

function headerNames(m: HttpMessage): Uint8Array {
  const parts: Uint8Array[] = [CRLF];
  let n = 2;
  for (const h of m.headers) {
    parts.push(h.name, CRLF);
    n += h.name.length + 2;
  }
  parts.push(CRLF);
  return concat(parts, n + 2);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1;
}

/**
 * The normalised form of a request target (see the module doc): path and
 * query of an absolute-form target, `%XX` decoded, dot segments removed,
 * repeated slashes collapsed. Pure.
 *
 * @example
 * ```ts
 * normalizeUri(bytes("/a/./b/../%63?x=%41")); // bytes("/a/c?x=A")
 * ```
 */
export function normalizeUri(raw: Uint8Array): Uint8Array {
  let start = 0;
  // absolute-form: scheme "://" authority, then the path.
  const colon = raw.indexOf(0x3a);
  if (
    colon > 0 && colon < 16 && raw[colon + 1] === 0x2f &&
    raw[colon + 2] === 0x2f && raw[0] !== 0x2f
  ) {
    const slash = raw.indexOf(0x2f, colon + 3);
    start = slash < 0 ? raw.length : slash;
  }
  // Percent-decode.
  const dec = new Uint8Array(raw.length - start);
  let n = 0;
  for (let i = start; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x25 && i + 2 < raw.length + 0) {
      const a = hexVal(raw[i + 1] ?? 0), b = hexVal(raw[i + 2] ?? 0);
      if (a >= 0 && b >= 0) {
        dec[n++] = a * 16 + b;
        i += 2;
        continue;
      }
    }
    dec[n++] = c;
  }
  // Split off the query; normalise the path only.
  let q = dec.subarray(0, n).indexOf(0x3f);
  if (q < 0) q = n;
  const out = new Uint8Array(n);
  let o = 0;
  const segStarts: number[] = [];
  let i = 0;
  while (i < q) {
    const c = dec[i]!;
    if (c === 0x2f) {
      // Collapse repeated slashes.
      if (o > 0 && out[o - 1] === 0x2f) {
        i++;
        continue;
      }
      // Dot segments: "/." and "/.." followed by "/" or the end of the path.
      const d1 = dec[i + 1], d2 = dec[i + 2];
      const endAt = (k: number) => k >= q || dec[k] === 0x2f;
      if (d1 === 0x2e && endAt(i + 2)) {
        i += 2;
        if (i >= q) {
          out[o++] = 0x2f;
        }
        continue;
      }
      if (d1 === 0x2e && d2 === 0x2e && endAt(i + 3)) {
        const back = segStarts.pop();
        o = back ?? 0;
        i += 3;
        if (i >= q) out[o++] = 0x2f;
        continue;
      }
      segStarts.push(o);
      out[o++] = c;
      i++;
      continue;
    }
    out[o++] = c;
    i++;
  }
  for (let k = q; k < n; k++) out[o++] = dec[k]!;
  return out.subarray(0, o);
}
