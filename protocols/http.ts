/**
 * HTTP/1.x from reassembled streams (RFC 9112): every request and
 * response of a connection (keep-alive and pipelining), paired in order,
 * with `Content-Length` and chunked bodies, as {@link HttpTransaction}s.
 *
 * What is kept follows Suricata's HTTP parser (libhtp) where it matters
 * to rules: the start line and header block as received (`http.start`,
 * `http.header.raw`), each header field, and the first
 * {@link HTTP_BODY_KEEP} bytes of each body after de-chunking, decoded from
 * `gzip`/`deflate` up to {@link HTTP_BODY_INFLATE_MAX} bytes (a
 * decompression bomb yields that much and stops; Suricata's
 * `request-body-limit`/`response-body-limit`). Bodies themselves are not
 * logged.
 *
 * Each transaction is emitted twice, the same object: with `state`
 * "request" when the request (head and body) is complete, and with
 * `state` "complete" when its response is (or the connection ended
 * without one). Request buffers are final at the first emission, response
 * buffers at the second.
 *
 * Framing: a request has a body only with `Transfer-Encoding: chunked`
 * (the last coding) or `Content-Length`; a response to HEAD, a 1xx, 204
 * or 304 has none, else chunked, `Content-Length`, or until the server
 * closes. Interim 1xx responses are skipped; after `101 Switching
 * Protocols` or a successful CONNECT the connection is no longer HTTP and
 * parsing stops. A gap inside a body of known length shortens it; a gap
 * anywhere else drops the message in progress, and the direction
 * resynchronises at the next segment that starts like a message (a method
 * and a space, or `HTTP/`). Heads longer than {@link HTTP_MAX_HEAD} are
 * cut (and flagged `truncated`); at most {@link HTTP_MAX_PENDING}
 * requests wait for responses.
 *
 * @module
 */
import zlib from "node:zlib";
import { escapedText } from "../decode/mod.ts";
import { DIR_TO_CLIENT, DIR_TO_SERVER } from "../flows/mod.ts";
import {
  BUFFER_OVERHEAD,
  type ParserBudget,
  type ParserOutput,
  SlabCopier,
  type StreamParser,
  takeBudget,
} from "./stream_parser.ts";

/** Longest message head (start line and headers) kept, bytes. */
export const HTTP_MAX_HEAD = 64 * 1024;
/** Header fields parsed per message at most (the raw head keeps all). */
export const HTTP_MAX_HEADERS = 256;
/** Body bytes kept per message (after de-chunking, before decoding). */
export const HTTP_BODY_KEEP = 32 * 1024;
/** Decoded (gzip/deflate) body bytes kept at most. */
export const HTTP_BODY_INFLATE_MAX = 64 * 1024;
/** Requests waiting for their responses at most. */
export const HTTP_MAX_PENDING = 64;

/**
 * One header field as received: offsets into its message's head, the
 * byte views made only when asked for.
 */
export class HttpHeader {
  /** Name in lower case, as text, for lookups. */
  readonly key: string;
  readonly #raw: Uint8Array;
  readonly #ns: number;
  readonly #ne: number;
  #vs: number;
  #ve: number;
  #folded: Uint8Array | null = null;

  /** The field at `raw[ns, ne)` (name) and `raw[vs, ve)` (trimmed value). */
  constructor(
    raw: Uint8Array,
    key: string,
    at: { ns: number; ne: number; vs: number; ve: number },
  ) {
    this.#raw = raw;
    this.key = key;
    this.#ns = at.ns;
    this.#ne = at.ne;
    this.#vs = at.vs;
    this.#ve = at.ve;
  }

  /** Name as sent. */
  get name(): Uint8Array {
    return this.#raw.subarray(this.#ns, this.#ne);
  }

  /** Value without surrounding whitespace (folded lines joined by a space). */
  get value(): Uint8Array {
    return this.#folded ?? this.#raw.subarray(this.#vs, this.#ve);
  }

  /** Appends a folded continuation line's text (`raw[s, e)`, trimmed). */
  fold(s: number, e: number): void {
    const more = this.#raw.subarray(s, e);
    const v = this.value;
    const out = new Uint8Array(v.length + 1 + more.length);
    out.set(v);
    out[v.length] = 0x20;
    out.set(more, v.length + 1);
    this.#folded = out;
  }
}

const AT = { ns: 0, ne: 0, vs: 0, ve: 0 };

/** A request or response head and body. */
export interface HttpMessage {
  /** The start line without its line ending (request line or status line). */
  readonly line: Uint8Array;
  /** Where the start line ends in `raw` (it starts at 0). */
  readonly lineEnd: number;
  /** Header fields in order (at most {@link HTTP_MAX_HEADERS}). */
  readonly headers: readonly HttpHeader[];
  /** The head as received: start line, header lines, the empty line (`http.start`). */
  readonly raw: Uint8Array;
  /** Offset in `raw` where the header lines start (after the start line). */
  readonly headerStart: number;
  /** True when the head passed {@link HTTP_MAX_HEAD} and was cut. */
  readonly truncated: boolean;
  /** The body's first bytes, de-chunked and decoded (see the module doc). */
  body: Uint8Array;
  /** Body length on the wire after de-chunking, bytes (what was seen). */
  bodyLength: number;
  /** True when bytes of the body were missing (a gap) or not all kept. */
  bodyIncomplete: boolean;
}

const EMPTY = new Uint8Array(0);
const TE = new TextEncoder();

/**
 * A message head as parsed. Header fields are kept as offsets into `raw`
 * (four numbers a field: name start and end, value start and end; a folded
 * continuation line has name start -1); their {@link HttpHeader} objects
 * are made when `headers` is first read, and the parser's own lookups
 * (framing, coding) read the offsets. The start line's view is made when
 * asked for.
 */
class Head implements HttpMessage {
  readonly raw: Uint8Array;
  readonly lineEnd: number;
  readonly headerStart: number;
  readonly truncated: boolean;
  body: Uint8Array = EMPTY;
  bodyLength = 0;
  bodyIncomplete = false;
  readonly #at: number[];
  /** Whether a folded line is among the fields (lookups then read the objects). */
  readonly #folded: boolean;
  #headers: HttpHeader[] | null = null;
  constructor(
    raw: Uint8Array,
    lineEnd: number,
    headerStart: number,
    at: number[],
    folded: boolean,
    truncated: boolean,
  ) {
    this.raw = raw;
    this.lineEnd = lineEnd;
    this.headerStart = headerStart;
    this.#at = at;
    this.#folded = folded;
    this.truncated = truncated;
  }
  get line(): Uint8Array {
    return this.raw.subarray(0, this.lineEnd);
  }
  get headers(): readonly HttpHeader[] {
    if (this.#headers !== null) return this.#headers;
    const raw = this.raw, at = this.#at;
    const out: HttpHeader[] = [];
    for (let i = 0; i < at.length; i += 4) {
      if (at[i]! < 0) {
        out[out.length - 1]!.fold(at[i + 2]!, at[i + 3]!);
        continue;
      }
      AT.ns = at[i]!;
      AT.ne = at[i + 1]!;
      AT.vs = at[i + 2]!;
      AT.ve = at[i + 3]!;
      out.push(new HttpHeader(raw, lowerText(raw, AT.ns, AT.ne), AT));
    }
    this.#headers = out;
    return out;
  }
  /** First value of the field whose lower-case name is `key`, or null. */
  find(key: string): Uint8Array | null {
    if (this.#folded) return findIn(this.headers, key);
    const raw = this.raw, at = this.#at;
    for (let i = 0; i < at.length; i += 4) {
      if (nameIs(raw, at[i]!, at[i + 1]!, key)) {
        return raw.subarray(at[i + 2]!, at[i + 3]!);
      }
    }
    return null;
  }
}

/** Whether the name `b[from, to)` has `key` as its key (lower case, the first 64 bytes, as {@link lowerText}). */
function nameIs(b: Uint8Array, from: number, to: number, key: string): boolean {
  const n = to - from < 64 ? to - from : 64;
  if (n !== key.length) return false;
  for (let i = 0; i < n; i++) {
    const c = b[from + i]!;
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== key.charCodeAt(i)) {
      return false;
    }
  }
  return true;
}

function findIn(
  headers: readonly HttpHeader[],
  key: string,
): Uint8Array | null {
  for (const h of headers) if (h.key === key) return h.value;
  return null;
}

/** One HTTP request and its response. */
export class HttpTransaction {
  readonly kind = "http" as const;
  /** "request" when the request is complete, "complete" with the response (or without at the end). */
  state: "request" | "complete" = "request";
  /** Position in its connection, from 0. */
  readonly txId: number;
  /** The request (null when the connection was picked up after it). */
  request: HttpMessage | null = null;
  /** The final response (null until it came, or when it never did). */
  response: HttpMessage | null = null;
  /** Byte ranges in `request.line`: method, target, protocol (-1 when absent). */
  methodEnd = 0;
  uriStart = 0;
  uriEnd = 0;
  /** Status code (0 before a response). */
  status = 0;
  /** True once emitted with state "request". */
  requestEmitted = false;
  /** Lazily built buffers (see `http_buffers.ts`). */
  cache: Map<string, Uint8Array | null> | null = null;
  /** Parser budget bytes held while the request waits for its response. */
  held = 0;

  /** A transaction numbered `txId` in its connection. */
  constructor(txId: number) {
    this.txId = txId;
  }

  /** The request method as text ("" without a request). */
  get method(): string {
    const r = this.request;
    return r === null ? "" : escapedText(r.raw, 0, this.methodEnd, 32);
  }

  /** The request target as sent (EVE `url`), printable (`\xNN` escapes). */
  get url(): string {
    const r = this.request;
    return r === null
      ? ""
      : escapedText(r.raw, this.uriStart, this.uriEnd, 2048);
  }

  /** The request's protocol ("HTTP/1.1"; "" for HTTP/0.9 or no request). */
  get protocol(): string {
    const r = this.request;
    if (r === null || this.uriEnd + 1 >= r.lineEnd) return "";
    return escapedText(r.raw, this.uriEnd + 1, r.lineEnd, 16);
  }

  /** First value of request header `key` (lower-case name), or null. */
  requestHeader(key: string): Uint8Array | null {
    return headerOf(this.request, key);
  }

  /** First value of response header `key` (lower-case name), or null. */
  responseHeader(key: string): Uint8Array | null {
    return headerOf(this.response, key);
  }

  /** The Host header's value as text, lower case, without a port ("" when absent). */
  get hostname(): string {
    const h = this.requestHeader("host");
    if (h === null) return "";
    return escapedText(h, 0, hostEnd(h), 255).toLowerCase();
  }
}

/** End of the host part of a Host value (before `:port`; IPv6 literals kept whole). */
export function hostEnd(h: Uint8Array): number {
  if (h[0] === 0x5b) {
    const close = h.indexOf(0x5d);
    return close < 0 ? h.length : close + 1;
  }
  const colon = h.indexOf(0x3a);
  return colon < 0 ? h.length : colon;
}

function headerOf(m: HttpMessage | null, key: string): Uint8Array | null {
  if (m === null) return null;
  return m instanceof Head ? m.find(key) : findIn(m.headers, key);
}

// Parser states of one direction.
const M_START = 0, M_HEAD = 1, M_BODY = 2, M_CHUNK_SIZE = 3, M_CHUNK_DATA = 4;
const M_CHUNK_END = 5, M_TRAILER = 6, M_CLOSE_BODY = 7, M_RESYNC = 8;
const M_DEAD = 9;

/** Budget bytes a buffer holds: its length and its overhead (0 for none). */
function held(b: Uint8Array | null): number {
  return b === null || b.length === 0 ? 0 : b.length + BUFFER_OVERHEAD;
}

/** First size of a head buffer, bytes. */
const HEAD_FIRST = 512;
/**
 * Head buffers of the first size that connections gave back, for the next
 * ones (most heads fit; parsed heads are copies, so no record keeps one).
 */
const HEAD_POOL: Uint8Array[] = [];
const HEAD_POOL_MAX = 256;

/** No parser memory limit (tests). */
const UNLIMITED: ParserBudget = { used: 0, cap: Infinity };

/** Reading state of one direction. Buffers grow on demand, within the budget. */
class Side {
  mode = M_START;
  head: Uint8Array = EMPTY;
  headLen = 0;
  headTrunc = false;
  /** Non-CR bytes on the current head line. */
  lineLen = 0;
  remaining = 0;
  /** Chunk-size line: value so far, digits seen, in extension, bytes. */
  chunkVal = 0;
  chunkDigits = 0;
  chunkExt = false;
  chunkLine = 0;
  body: Uint8Array | null = null;
  bodyKept = 0;
  /** The budget refused more body: nothing more is kept. */
  bodyFull = false;
  bodyLength = 0;
  bodyIncomplete = false;
  /** The message being read. */
  msg: HttpMessage | null = null;
  tx: HttpTransaction | null = null;
  /** Content-Encoding of the message being read: 0 none, 1 gzip, 2 deflate. */
  coding = 0;
  budget: ParserBudget;

  constructor(budget: ParserBudget) {
    this.budget = budget;
  }

  /** Back to a new connection's state (after {@link release}), counting in `budget`. */
  reuse(budget: ParserBudget): void {
    this.budget = budget;
    this.resetMessage();
    this.mode = M_START;
    this.chunkVal = this.chunkDigits = this.chunkLine = 0;
    this.chunkExt = false;
  }

  /** Gives the buffers back to the budget (the connection is done). */
  release(): void {
    this.budget.used -= held(this.head) + held(this.body);
    if (this.head.length === HEAD_FIRST && HEAD_POOL.length < HEAD_POOL_MAX) {
      HEAD_POOL.push(this.head);
    }
    this.head = EMPTY;
    this.body = null;
  }

  resetMessage(): void {
    if (this.head.length > 2048) {
      // A big head's buffer goes back; small ones are kept for the next.
      this.budget.used -= held(this.head);
      this.head = EMPTY;
    }
    this.budget.used -= held(this.body);
    this.headLen = 0;
    this.headTrunc = false;
    this.lineLen = 0;
    this.remaining = 0;
    this.body = null;
    this.bodyKept = 0;
    this.bodyFull = false;
    this.bodyLength = 0;
    this.bodyIncomplete = false;
    this.msg = null;
    this.tx = null;
    this.coding = 0;
  }

  /** Keeps `buf[from, to)` of the head (what fits in the head's cap and the budget). */
  pushHeadBytes(buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.headLen + n > this.head.length) {
      let cap = this.head.length === 0 ? HEAD_FIRST : this.head.length;
      while (cap < this.headLen + n && cap < HTTP_MAX_HEAD) {
        cap = Math.min(HTTP_MAX_HEAD, cap * 4);
      }
      if (
        cap > this.head.length &&
        takeBudget(this.budget, cap + BUFFER_OVERHEAD - held(this.head))
      ) {
        const b = cap === HEAD_FIRST && HEAD_POOL.length > 0
          ? HEAD_POOL.pop()!
          : new Uint8Array(cap);
        b.set(this.head.subarray(0, this.headLen));
        this.head = b;
      }
    }
    const room = this.head.length - this.headLen;
    if (room < n) this.headTrunc = true;
    const k = room < n ? room : n;
    if (k > 0) {
      const h = this.head, at = this.headLen;
      // A short piece is copied by hand: no view made for it.
      if (k <= 256) { for (let j = 0; j < k; j++) h[at + j] = buf[from + j]!; }
      else h.set(buf.subarray(from, from + k), at);
      this.headLen = at + k;
    }
  }

  keepBody(buf: Uint8Array, off: number, len: number): void {
    this.bodyLength += len;
    if (this.bodyKept >= HTTP_BODY_KEEP || this.bodyFull) {
      this.bodyIncomplete = true;
      return;
    }
    const n = Math.min(len, HTTP_BODY_KEEP - this.bodyKept);
    const have = this.body?.length ?? 0;
    if (this.bodyKept + n > have) {
      const cap = Math.min(
        HTTP_BODY_KEEP,
        Math.max(this.bodyKept + n, have * 2, 1024),
      );
      if (!takeBudget(this.budget, cap + BUFFER_OVERHEAD - held(this.body))) {
        // Out of parser memory: keep no more of this body.
        this.bodyIncomplete = true;
        this.bodyFull = true;
        return;
      }
      const b = new Uint8Array(cap);
      if (this.body !== null) b.set(this.body.subarray(0, this.bodyKept));
      this.body = b;
    }
    this.body!.set(buf.subarray(off, off + n), this.bodyKept);
    this.bodyKept += n;
    if (n < len) this.bodyIncomplete = true;
  }
}

/** Token characters (RFC 9110 tchar). */
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;

/**
 * True when `d[off, off + len)` starts like a request line: an upper-case
 * token of at most 24 bytes and a space. Returns -1 when more bytes are
 * needed to tell, else 1 or 0.
 */
export function looksLikeRequest(
  d: Uint8Array,
  off: number,
  len: number,
): number {
  const end = off + len;
  for (let i = off; i < end; i++) {
    const c = d[i]!;
    if (c === 0x20) return i > off ? 1 : 0;
    if (i - off >= 24) return 0;
    const upper = c >= 0x41 && c <= 0x5a;
    if (i === off ? !upper : !(upper || c === 0x2d || c === 0x5f)) return 0;
  }
  return -1;
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** True when `d[off, off + len)` starts with "HTTP/"; -1 when too short to tell. */
export function looksLikeResponse(
  d: Uint8Array,
  off: number,
  len: number,
): number {
  const n = Math.min(len, 5);
  for (let i = 0; i < n; i++) if (d[off + i] !== HTTP_SLASH[i]) return 0;
  return len < 5 ? -1 : 1;
}

/** Copies of HTTP heads that no caller's buffer shares (1 KiB and less packed in shared slabs). */
const HEAD_COPIES = new SlabCopier();

/** Parses a finished head into a message. */
function parseHead(
  src: Uint8Array,
  from: number,
  to: number,
  truncated: boolean,
): HttpMessage {
  const raw = HEAD_COPIES.copy(src, from, to);
  let eol = raw.indexOf(0x0a);
  if (eol < 0) eol = raw.length;
  let le = eol;
  if (le > 0 && raw[le - 1] === 0x0d) le--;
  const at: number[] = [];
  let fields = 0;
  let folded = false;
  let pos = eol + 1;
  while (pos < raw.length) {
    let e = raw.indexOf(0x0a, pos);
    if (e < 0) e = raw.length;
    let he = e;
    if (he > pos && raw[he - 1] === 0x0d) he--;
    if (he === pos) break;
    const c0 = raw[pos]!;
    if ((c0 === 0x20 || c0 === 0x09) && fields > 0) {
      // Obsolete line folding: joined to the previous value by a space.
      let a = pos, b = he;
      while (a < b && (raw[a] === 0x20 || raw[a] === 0x09)) a++;
      while (b > a && (raw[b - 1] === 0x20 || raw[b - 1] === 0x09)) b--;
      at.push(-1, -1, a, b);
      folded = true;
    } else if (fields < HTTP_MAX_HEADERS) {
      let colon = pos;
      while (colon < he && raw[colon] !== 0x3a) colon++;
      if (colon < he) {
        let ne = colon;
        while (ne > pos && (raw[ne - 1] === 0x20 || raw[ne - 1] === 0x09)) ne--;
        let vs = colon + 1, ve = he;
        while (vs < ve && (raw[vs] === 0x20 || raw[vs] === 0x09)) vs++;
        while (ve > vs && (raw[ve - 1] === 0x20 || raw[ve - 1] === 0x09)) ve--;
        at.push(pos, ne, vs, ve);
        fields++;
      }
    }
    pos = e + 1;
  }
  return new Head(
    raw,
    le,
    Math.min(eol + 1, raw.length),
    at,
    folded,
    truncated,
  );
}

function trim(d: Uint8Array, s: number, e: number): Uint8Array {
  while (s < e && (d[s] === 0x20 || d[s] === 0x09)) s++;
  while (e > s && (d[e - 1] === 0x20 || d[e - 1] === 0x09)) e--;
  return d.subarray(s, e);
}

const LOWER = new Uint8Array(64);
const NAMES = new Map<number, string>();

/** The lower-case text of a header name (at most 64 bytes), interned by a hash. */
function lowerText(b: Uint8Array, from: number, to: number): string {
  const n = to - from < 64 ? to - from : 64;
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    const c = b[from + i]!;
    const l = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    LOWER[i] = l;
    h = Math.imul(h ^ l, 16777619);
  }
  h = (h ^ n) >>> 0;
  const hit = NAMES.get(h);
  if (hit !== undefined && hit.length === n) {
    let same = true;
    for (let i = 0; i < n && same; i++) same = hit.charCodeAt(i) === LOWER[i];
    if (same) return hit;
  }
  const t: string = String.fromCharCode.apply(null, [...LOWER.subarray(0, n)]);
  if (NAMES.size < 4096) NAMES.set(h, t);
  return t;
}

function eqLower(b: Uint8Array | null, s: string): boolean {
  if (b === null || b.length !== s.length) return false;
  for (let i = 0; i < s.length; i++) {
    const c = b[i]!;
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== s.charCodeAt(i)) {
      return false;
    }
  }
  return true;
}

/** True when the last coding of a Transfer-Encoding value is "chunked". */
function lastCodingChunked(te: Uint8Array): boolean {
  const comma = te.lastIndexOf(0x2c);
  return eqLower(trim(te, comma + 1, te.length), "chunked");
}

/** A Content-Length value, or -1 when absent or not digits. */
function contentLength(m: HttpMessage): number {
  const v = headerOf(m, "content-length");
  if (v === null || v.length === 0 || v.length > 15) return -1;
  let n = 0;
  for (const c of v) {
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

function codingOf(m: HttpMessage): number {
  const v = headerOf(m, "content-encoding");
  if (v === null) return 0;
  const t = trim(v, v.lastIndexOf(0x2c) + 1, v.length);
  if (eqLower(t, "gzip") || eqLower(t, "x-gzip")) return 1;
  if (eqLower(t, "deflate")) return 2;
  return 0;
}

/**
 * Decodes a gzip or deflate body (possibly cut short) into at most
 * {@link HTTP_BODY_INFLATE_MAX} bytes; returns the input when it does not
 * decode. A body that would decode to more yields the first bytes that a
 * shorter prefix of it decodes to.
 */
export function inflateBounded(body: Uint8Array, coding: number): Uint8Array {
  if (coding === 0 || body.length === 0) return body;
  const opts = {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    maxOutputLength: HTTP_BODY_INFLATE_MAX,
  };
  let n = body.length;
  for (let tries = 0; tries < 12 && n > 0; tries++) {
    const input = body.subarray(0, n);
    try {
      if (coding === 1) return new Uint8Array(zlib.gunzipSync(input, opts));
      // "deflate" is zlib-wrapped per RFC 9110; some servers send raw deflate.
      try {
        return new Uint8Array(zlib.inflateSync(input, opts));
      } catch (e) {
        if (isTooLarge(e)) throw e;
        return new Uint8Array(zlib.inflateRawSync(input, opts));
      }
    } catch (e) {
      if (!isTooLarge(e)) return body;
      n = Math.floor(n / 2);
    }
  }
  return body;
}

function isTooLarge(e: unknown): boolean {
  return e instanceof RangeError ||
    (e instanceof Error && /larger than|too large/i.test(e.message));
}

/** Closed parsers kept for the next connections (see {@link HttpParser.take}). */
const PARSER_POOL: HttpParser[] = [];
const PARSER_POOL_MAX = 1024;

/** The HTTP/1.x parser of one connection. */
export class HttpParser implements StreamParser {
  readonly #sides: [Side, Side];
  #budget: ParserBudget;
  /** Closed and not yet taken again. */
  #closed = false;

  /** A parser whose buffers (and waiting requests' heads) count in `budget`. */
  constructor(budget: ParserBudget = UNLIMITED) {
    this.#budget = budget;
    this.#sides = [new Side(budget), new Side(budget)];
  }

  /**
   * A parser for a new connection: one given back by {@link recycle} when
   * there is one (no objects made per connection), else a new one.
   */
  static take(budget: ParserBudget = UNLIMITED): HttpParser {
    const p = PARSER_POOL.pop();
    if (p === undefined) return new HttpParser(budget);
    p.#budget = budget;
    p.#sides[0].reuse(budget);
    p.#sides[1].reuse(budget);
    p.#nextTx = 0;
    p.#upgraded = false;
    p.#tunnel = 0;
    p.#changeAt = -1;
    p.#closed = false;
    return p;
  }

  /**
   * Gives a closed parser back for {@link take} to hand out again; the
   * caller keeps no reference to it. A parser not closed is not taken.
   */
  static recycle(p: HttpParser): void {
    if (p.#closed && PARSER_POOL.length < PARSER_POOL_MAX) {
      p.#closed = false;
      PARSER_POOL.push(p);
    }
  }
  /** Requests waiting for their responses, oldest first. */
  #pending: HttpTransaction[] = [];
  #nextTx = 0;
  /** Set after 101 or a successful CONNECT: the rest is not HTTP. */
  #upgraded = false;
  /** A CONNECT answered 2xx: 1 until the switch is reported, then 2. */
  #tunnel = 0;
  /** Where in the last data() call's bytes the tunnel began, or -1. */
  #changeAt = -1;

  /**
   * After a data() call: the offset in its `buf` where the bytes of a
   * tunnel begin (a CONNECT answered 2xx: what follows is the tunnelled
   * protocol, TLS most often), once; -1 otherwise.
   */
  changeAt(): number {
    return this.#changeAt;
  }

  /** The last data() call stopped at `i`: a tunnel that began there is reported. */
  #stoppedAt(i: number): void {
    if (this.#tunnel === 1) {
      this.#tunnel = 2;
      this.#changeAt = i;
    }
  }

  data(
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
    out: ParserOutput,
  ): void {
    this.#changeAt = -1;
    const s = this.#sides[dir]!;
    const end = off + len;
    let i = off;
    while (i < end) {
      switch (s.mode) {
        case M_DEAD:
          this.#stoppedAt(i);
          return;
        case M_RESYNC: {
          // Only at a segment boundary that starts like a message.
          const ok = i === off &&
            (dir === DIR_TO_SERVER
              ? looksLikeRequest(buf, i, end - i) === 1
              : looksLikeResponse(buf, i, end - i) === 1);
          if (!ok) return;
          s.resetMessage();
          s.mode = M_START;
          break;
        }
        case M_START: {
          const c = buf[i]!;
          if (c === 0x0d || c === 0x0a) {
            i++;
            break;
          }
          s.resetMessage();
          s.mode = M_HEAD;
          break;
        }
        case M_HEAD:
          i = this.#head(dir, s, buf, i, end, out);
          break;
        case M_BODY: {
          const n = Math.min(s.remaining, end - i);
          s.keepBody(buf, i, n);
          s.remaining -= n;
          i += n;
          if (s.remaining === 0) this.#messageDone(dir, s, out);
          break;
        }
        case M_CHUNK_SIZE:
          i = this.#chunkSize(dir, s, buf, i, end, out);
          break;
        case M_CHUNK_DATA: {
          const n = Math.min(s.remaining, end - i);
          s.keepBody(buf, i, n);
          s.remaining -= n;
          i += n;
          if (s.remaining === 0) {
            s.mode = M_CHUNK_END;
            s.chunkLine = 0;
          }
          break;
        }
        case M_CHUNK_END: {
          // The CRLF after a chunk's data.
          const c = buf[i++]!;
          if (c === 0x0a) {
            s.mode = M_CHUNK_SIZE;
            s.chunkVal = s.chunkDigits = s.chunkLine = 0;
            s.chunkExt = false;
          } else if (c !== 0x0d || ++s.chunkLine > 2) {
            this.#lost(dir, s, out);
          }
          break;
        }
        case M_TRAILER: {
          // Trailer lines until an empty one.
          const c = buf[i++]!;
          if (c === 0x0a) {
            if (s.lineLen === 0) this.#messageDone(dir, s, out);
            else s.lineLen = 0;
          } else if (c !== 0x0d) s.lineLen++;
          break;
        }
        case M_CLOSE_BODY: {
          const n = end - i;
          s.keepBody(buf, i, n);
          i = end;
          break;
        }
      }
    }
    this.#stoppedAt(i);
  }

  /** Reads head bytes up to the empty line; returns where it stopped. */
  #head(
    dir: number,
    s: Side,
    buf: Uint8Array,
    i: number,
    end: number,
    out: ParserOutput,
  ): number {
    // Find where the head ends in this chunk, then keep the bytes at once.
    const start = i;
    let line = s.lineLen;
    let done = false;
    while (i < end) {
      const c = buf[i++]!;
      if (c === 0x0a) {
        if (line === 0) {
          done = true;
          break;
        }
        line = 0;
      } else if (c !== 0x0d) line++;
    }
    s.lineLen = line;
    if (done && s.headLen === 0) {
      // The whole head in this chunk: no copy into the side's buffer.
      this.#headDone(
        dir,
        s,
        out,
        buf,
        start,
        Math.min(i, start + HTTP_MAX_HEAD),
      );
      return i;
    }
    s.pushHeadBytes(buf, start, i);
    if (done) this.#headDone(dir, s, out);
    return i;
  }

  #headDone(
    dir: number,
    s: Side,
    out: ParserOutput,
    src: Uint8Array | null = null,
    from = 0,
    to = 0,
  ): void {
    // A head that came whole in one chunk is parsed from the chunk itself.
    const m = src === null
      ? parseHead(s.head, 0, s.headLen, s.headTrunc)
      : parseHead(src, from, to, to - from > HTTP_MAX_HEAD);
    s.msg = m;
    s.coding = codingOf(m);
    const te = headerOf(m, "transfer-encoding");
    const chunked = te !== null && lastCodingChunked(te);
    const cl = contentLength(m);
    if (dir === DIR_TO_SERVER) {
      const tx = new HttpTransaction(this.#nextTx++);
      tx.request = m;
      // The start line is raw[0, le): read in place (no view made).
      const raw = m.raw, le = m.lineEnd;
      const k = raw.indexOf(0x20);
      const sp1 = k < le ? k : -1;
      tx.methodEnd = sp1 < 0 ? le : sp1;
      tx.uriStart = sp1 < 0 ? le : sp1 + 1;
      const sp2 = le > 0 ? raw.lastIndexOf(0x20, le - 1) : -1;
      tx.uriEnd = sp2 > tx.uriStart &&
          looksLikeResponse(raw, sp2 + 1, le - sp2 - 1) === 1
        ? sp2
        : le;
      s.tx = tx;
      if (this.#pending.length >= HTTP_MAX_PENDING) {
        this.#finish(this.#pending.shift()!, out);
      }
      // A waiting request's head counts in the budget; when it is spent,
      // the oldest waiting requests are given up (logged without response).
      let took = takeBudget(this.#budget, m.raw.length);
      while (!took && this.#pending.length > 0) {
        this.#finish(this.#pending.shift()!, out);
        took = takeBudget(this.#budget, m.raw.length);
      }
      if (took) tx.held = m.raw.length;
      this.#pending.push(tx);
      this.#startBody(dir, s, chunked, chunked ? 0 : Math.max(0, cl), out);
      return;
    }
    // A response: pair it with the oldest waiting request.
    const status = statusOf(m.raw, m.lineEnd);
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim: skip it, the final response follows.
      s.resetMessage();
      s.mode = M_START;
      return;
    }
    let tx = this.#pending[0];
    if (tx === undefined) {
      tx = new HttpTransaction(this.#nextTx++);
      tx.requestEmitted = true; // nothing to emit on the request side
      this.#pending.push(tx);
    }
    tx.status = status;
    s.tx = tx;
    const isHead = tx.request !== null && tx.methodEnd === 4 &&
      eqLower(tx.request.raw.subarray(0, 4), "head");
    const isConnect = tx.request !== null && tx.methodEnd === 7 &&
      eqLower(tx.request.raw.subarray(0, 7), "connect");
    if (status === 101 || (isConnect && status >= 200 && status < 300)) {
      this.#upgraded = true;
      if (status !== 101) this.#tunnel = 1;
    }
    if (
      isHead || status === 204 || status === 304 || status === 101 ||
      (isConnect && status >= 200 && status < 300)
    ) {
      this.#startBody(dir, s, false, 0, out);
    } else if (chunked) this.#startBody(dir, s, true, 0, out);
    else if (cl >= 0) this.#startBody(dir, s, false, cl, out);
    else s.mode = M_CLOSE_BODY;
  }

  #startBody(
    dir: number,
    s: Side,
    chunked: boolean,
    len: number,
    out: ParserOutput,
  ): void {
    if (chunked) {
      s.mode = M_CHUNK_SIZE;
      s.chunkVal = s.chunkDigits = s.chunkLine = 0;
      s.chunkExt = false;
    } else if (len > 0) {
      s.mode = M_BODY;
      s.remaining = len;
    } else this.#messageDone(dir, s, out);
  }

  #chunkSize(
    dir: number,
    s: Side,
    buf: Uint8Array,
    i: number,
    end: number,
    out: ParserOutput,
  ): number {
    while (i < end) {
      const c = buf[i++]!;
      if (++s.chunkLine > 1024) {
        this.#lost(dir, s, out);
        return end;
      }
      if (c === 0x0a) {
        if (s.chunkDigits === 0) {
          if (s.chunkLine <= 2) continue; // a stray CRLF
          this.#lost(dir, s, out);
          return end;
        }
        if (s.chunkVal === 0) {
          s.mode = M_TRAILER;
          s.lineLen = 0;
        } else {
          s.mode = M_CHUNK_DATA;
          s.remaining = s.chunkVal;
        }
        return i;
      }
      if (s.chunkExt || c === 0x0d) continue;
      const v = c >= 0x30 && c <= 0x39
        ? c - 0x30
        : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66
        ? (c | 0x20) - 0x57
        : -1;
      if (v >= 0 && s.chunkDigits < 12) {
        s.chunkVal = s.chunkVal * 16 + v;
        s.chunkDigits++;
      } else if (c === 0x3b || c === 0x20 || c === 0x09) {
        s.chunkExt = true;
      } else {
        this.#lost(dir, s, out);
        return end;
      }
    }
    return i;
  }

  /** The message of direction `dir` is complete. */
  #messageDone(dir: number, s: Side, out: ParserOutput): void {
    const m = s.msg;
    const tx = s.tx;
    if (m !== null) {
      const kept = s.body === null ? EMPTY : s.body.subarray(0, s.bodyKept);
      m.body = inflateBounded(kept, s.coding);
      m.bodyLength = s.bodyLength;
      m.bodyIncomplete = s.bodyIncomplete;
    }
    s.resetMessage();
    s.mode = this.#upgraded ? M_DEAD : M_START;
    if (tx === null || m === null) return;
    if (dir === DIR_TO_SERVER) {
      if (!tx.requestEmitted) {
        tx.requestEmitted = true;
        out.emit(tx, DIR_TO_SERVER);
      }
      return;
    }
    tx.response = m;
    const k = this.#pending.indexOf(tx);
    if (k >= 0) this.#pending.splice(k, 1);
    this.#finish(tx, out);
    if (this.#upgraded) this.#sides[DIR_TO_SERVER]!.mode = M_DEAD;
  }

  /** Emits `tx` as complete (its request first, when not yet emitted). */
  #finish(tx: HttpTransaction, out: ParserOutput): void {
    this.#budget.used -= tx.held;
    tx.held = 0;
    if (!tx.requestEmitted && tx.request !== null) {
      tx.requestEmitted = true;
      out.emit(tx, DIR_TO_SERVER);
    }
    tx.state = "complete";
    out.emit(tx, DIR_TO_CLIENT);
  }

  /** The message in progress is lost: resynchronise at a later message start. */
  #lost(dir: number, s: Side, out: ParserOutput): void {
    const m = s.msg;
    const tx = s.tx;
    const bodyLength = s.bodyLength;
    s.resetMessage();
    s.mode = M_RESYNC;
    if (m === null || tx === null) return;
    // Keep what the head told; the body is incomplete.
    m.bodyIncomplete = true;
    m.bodyLength = bodyLength;
    if (dir === DIR_TO_SERVER) {
      if (!tx.requestEmitted) {
        tx.requestEmitted = true;
        out.emit(tx, DIR_TO_SERVER);
      }
      return;
    }
    tx.response = m;
    const k = this.#pending.indexOf(tx);
    if (k >= 0) this.#pending.splice(k, 1);
    this.#finish(tx, out);
  }

  gap(dir: number, len: number, out: ParserOutput): void {
    const s = this.#sides[dir]!;
    switch (s.mode) {
      case M_DEAD:
      case M_RESYNC:
        return;
      case M_START:
        s.mode = M_RESYNC;
        return;
      case M_BODY: {
        const over = len > s.remaining;
        s.bodyLength += Math.min(len, s.remaining);
        s.bodyIncomplete = true;
        if (len >= s.remaining) {
          s.remaining = 0;
          this.#messageDone(dir, s, out);
          // The gap ran past the body: the next message start is lost too.
          if (over && (s.mode as number) !== M_DEAD) s.mode = M_RESYNC;
        } else s.remaining -= len;
        return;
      }
      case M_CHUNK_DATA:
        if (len < s.remaining) {
          s.remaining -= len;
          s.bodyLength += len;
          s.bodyIncomplete = true;
          return;
        }
        this.#lost(dir, s, out);
        return;
      case M_CLOSE_BODY:
        s.bodyLength += len;
        s.bodyIncomplete = true;
        return;
      case M_HEAD:
        // A head cut short (by the capture's snap length, say): keep what
        // came as a truncated message, then resynchronise.
        if (s.headLen > 0) {
          s.headTrunc = true;
          this.#headDone(dir, s, out);
          if (s.msg !== null) this.#lost(dir, s, out);
          else s.mode = M_RESYNC;
          return;
        }
        this.#lost(dir, s, out);
        return;
      default:
        this.#lost(dir, s, out);
    }
  }

  end(dir: number, out: ParserOutput): void {
    const s = this.#sides[dir]!;
    if (s.mode === M_CLOSE_BODY) this.#messageDone(dir, s, out);
    else if (
      s.mode === M_BODY || s.mode === M_CHUNK_DATA ||
      s.mode === M_CHUNK_SIZE || s.mode === M_CHUNK_END ||
      s.mode === M_TRAILER
    ) {
      s.bodyIncomplete = true;
      this.#messageDone(dir, s, out);
    }
    s.mode = M_DEAD;
  }

  /** Both sides are over (after an upgrade or CONNECT the rest is not HTTP). */
  done(): boolean {
    return this.#sides[0].mode === M_DEAD && this.#sides[1].mode === M_DEAD;
  }

  close(out: ParserOutput): void {
    for (let dir = 0; dir < 2; dir++) {
      if (this.#sides[dir]!.mode !== M_DEAD) this.end(dir, out);
    }
    const pending = this.#pending;
    for (let i = 0; i < pending.length; i++) {
      const tx = pending[i]!;
      if (tx.request !== null) this.#finish(tx, out);
      else {
        this.#budget.used -= tx.held;
        tx.held = 0;
      }
    }
    pending.length = 0;
    this.#sides[0].release();
    this.#sides[1].release();
    this.#closed = true;
  }
}

/** The status code of the status line `raw[0, le)` ("HTTP/1.1 200 OK" → 200; 0 when malformed). */
function statusOf(raw: Uint8Array, le: number): number {
  const k = raw.indexOf(0x20);
  const sp = k < le ? k : -1;
  if (sp < 0 || sp + 4 > le) return 0;
  let n = 0;
  for (let i = sp + 1; i < sp + 4; i++) {
    const c = raw[i]!;
    if (c < 0x30 || c > 0x39) return 0;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** Bytes of an ASCII string (for tests and buffers built from text). */
export function asciiBytes(s: string): Uint8Array {
  return TE.encode(s);
}

/** Whether `c` is an RFC 9110 token character. */
export function isTokenChar(c: number): boolean {
  return TCHAR[c] === 1;
}
