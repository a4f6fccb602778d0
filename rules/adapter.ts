/**
 * The one adapter between the pipeline's records and the rule engine's
 * named buffers. It fills an {@link Inspection} from each decoded packet
 * and its flow, and calls the engine's entry points:
 *
 * - per packet: `pkt_data` (the transport payload) and header keywords;
 * - per stream chunk: each TCP segment's payload as a chunk of `stream`
 *   (until reassembled data reaches observers);
 * - per transaction: an HTTP/1.x request or response head in the packet
 *   (method, URI raw and %-decoded, protocol, request line, headers and
 *   their names, Host lower-cased without port, User-Agent, Cookie,
 *   Referer, Content-Type, Content-Length, Location, Server, Accept*,
 *   Connection, status code and message, and the body bytes that follow
 *   the head in the same packet); a DNS query's name (`dns.query`, from the
 *   decoder); a TLS ClientHello's SNI (`tls.sni`, from the decoder).
 *
 * Buffers follow libhtp/Suricata's shapes: `http.header_names` is
 * `\r\nName1\r\nName2\r\n\r\n`, `http.header` the header lines each ending
 * in `\r\n`, `http.start` the head up to and including the blank line.
 * Completed TLS handshakes (read by protocols/' TLS observer) add the
 * certificate buffers (`tls.cert_subject`, `tls.cert_issuer`,
 * `tls.cert_serial`, `tls.cert_fingerprint`, `tls.certs` — the chain's DER
 * concatenated) and `ja3.hash`, `ja3s.hash`, `ja4.hash`.
 *
 * @module
 */
import { APP_DNS, APP_TLS, IPPROTO_TCP, type Packet } from "../decode/mod.ts";
import type {
  Flow,
  FlowEndReason,
  FlowObserver,
  PacketContext,
} from "../flows/mod.ts";
import {
  type TlsConnection,
  type TlsHandshake,
  type TlsObserver,
  tlsObserver,
} from "../protocols/mod.ts";
import { bufferId } from "./buffers.ts";
import { type Inspection, newInspection, type RuleEngine } from "./engine.ts";

const TCP_ESTABLISHED = 3;
const TCP_CLOSING = 4;

const B = {
  pkt: bufferId("pkt_data"),
  stream: bufferId("stream"),
  uri: bufferId("http.uri"),
  uriRaw: bufferId("http.uri.raw"),
  method: bufferId("http.method"),
  host: bufferId("http.host"),
  hostRaw: bufferId("http.host.raw"),
  ua: bufferId("http.user_agent"),
  header: bufferId("http.header"),
  headerRaw: bufferId("http.header.raw"),
  names: bufferId("http.header_names"),
  reqLine: bufferId("http.request_line"),
  cookie: bufferId("http.cookie"),
  referer: bufferId("http.referer"),
  ctype: bufferId("http.content_type"),
  clen: bufferId("http.content_len"),
  location: bufferId("http.location"),
  accept: bufferId("http.accept"),
  acceptEnc: bufferId("http.accept_enc"),
  acceptLang: bufferId("http.accept_lang"),
  connection: bufferId("http.connection"),
  protocol: bufferId("http.protocol"),
  start: bufferId("http.start"),
  server: bufferId("http.server"),
  stat: bufferId("http.stat_code"),
  statMsg: bufferId("http.stat_msg"),
  respLine: bufferId("http.response_line"),
  reqBody: bufferId("http.request_body"),
  respBody: bufferId("http.response_body"),
  dns: bufferId("dns.query"),
  sni: bufferId("tls.sni"),
  subject: bufferId("tls.cert_subject"),
  issuer: bufferId("tls.cert_issuer"),
  serial: bufferId("tls.cert_serial"),
  fingerprint: bufferId("tls.cert_fingerprint"),
  certs: bufferId("tls.certs"),
  ja3: bufferId("ja3.hash"),
  ja3s: bufferId("ja3s.hash"),
  ja4: bufferId("ja4.hash"),
};

/** Header names with their own buffer (lower case), and the buffer. */
const NAMED_HEADERS: ReadonlyArray<readonly [Uint8Array, number]> = [
  ["host", B.hostRaw],
  ["user-agent", B.ua],
  ["cookie", B.cookie],
  ["referer", B.referer],
  ["content-type", B.ctype],
  ["content-length", B.clen],
  ["location", B.location],
  ["server", B.server],
  ["accept", B.accept],
  ["accept-encoding", B.acceptEnc],
  ["accept-language", B.acceptLang],
  ["connection", B.connection],
].map(([n, b]) => [new TextEncoder().encode(n as string), b as number]);

const MAX_FLOW_APPS = 1 << 18;

/** Feeds a rule engine from the pipeline; see the module doc. */
export class RuleAdapter implements FlowObserver {
  #engine: RuleEngine;
  readonly #x: Inspection = newInspection();
  /** App-layer protocol per flow id, once identified. */
  readonly #apps = new Map<number, string>();

  /** Inspection of completed TLS handshakes (certificates, JA3/JA4). */
  readonly #hs: Inspection = newInspection();
  readonly #tls: TlsObserver;

  /** Feeds `engine`; {@link setEngine} swaps it between packets. */
  constructor(engine: RuleEngine) {
    this.#engine = engine;
    this.#tls = tlsObserver((hs, conn) => this.#handshake(hs, conn));
  }

  /**
   * A completed TLS handshake (from protocols/): the client's side (JA3,
   * JA4) inspected as a to_server transaction, the server's (JA3S, the
   * certificates) as a to_client one. The SNI was inspected with the
   * ClientHello's packet.
   */
  #handshake(hs: TlsHandshake, c: TlsConnection): void {
    const x = this.#hs;
    const pk = this.#x;
    x.filled.fill(0);
    x.tsUs = c.tsUs;
    x.version = c.ipVersion;
    x.proto = IPPROTO_TCP;
    x.ttl = pk.ttl;
    x.tcpFlags = pk.tcpFlags;
    x.icmpType = -1;
    x.icmpCode = -1;
    x.payloadLen = pk.payloadLen;
    x.established = true;
    x.flowId = c.flowId;
    x.app = "tls";
    x.toServerBytes = pk.toServerBytes;
    x.toClientBytes = pk.toClientBytes;
    if (hs.ja3 !== null) putText(x, B.ja3, hs.ja3.hash);
    if (hs.ja4 !== "") putText(x, B.ja4, hs.ja4);
    if (x.filled[B.ja3] === 1 || x.filled[B.ja4] === 1) {
      x.src.set(c.clientAddr);
      x.dst.set(c.serverAddr);
      x.srcPort = c.clientPort;
      x.dstPort = c.serverPort;
      x.dir = 0;
      this.#engine.inspectTx(x);
    }
    x.filled.fill(0);
    if (hs.ja3s !== null) putText(x, B.ja3s, hs.ja3s.hash);
    if (hs.cert !== null) {
      putText(x, B.subject, hs.cert.subject);
      putText(x, B.issuer, hs.cert.issuerdn);
      putText(x, B.serial, hs.cert.serial);
      putText(x, B.fingerprint, hs.cert.fingerprint);
    }
    if (hs.certs.length > 0) {
      start(x, B.certs);
      for (const der of hs.certs) append(x, B.certs, der, 0, der.length);
    }
    if (x.filled.some((v) => v === 1)) {
      x.src.set(c.serverAddr);
      x.dst.set(c.clientAddr);
      x.srcPort = c.serverPort;
      x.dstPort = c.clientPort;
      x.dir = 1;
      this.#engine.inspectTx(x);
    }
  }

  /** The engine in force. */
  get engine(): RuleEngine {
    return this.#engine;
  }

  /**
   * Replaces the engine (a reloaded rule set). Takes effect with the next
   * packet; nothing is dropped. Flowbits and thresholds start over.
   */
  setEngine(engine: RuleEngine): void {
    this.#engine = engine;
  }

  /** Inspects one packet: packet, stream-chunk and transaction rules. */
  onPacket(p: Packet, ctx: PacketContext): void {
    if (p.ipVersion === 0) return;
    const x = this.#x;
    const f = ctx.flow;
    x.filled.fill(0);
    x.tsUs = p.tsUs;
    x.version = p.ipVersion;
    x.src.set(p.src);
    x.dst.set(p.dst);
    x.srcPort = p.srcPort;
    x.dstPort = p.dstPort;
    x.proto = p.proto;
    x.ttl = p.ttl;
    x.tcpFlags = p.tcpFlags;
    x.icmpType = p.icmpType;
    x.icmpCode = p.icmpCode;
    x.payloadLen = p.payloadLen;
    x.dir = ctx.dir;
    x.flowId = f.id;
    x.toServerBytes = f.payloadToServer;
    x.toClientBytes = f.payloadToClient;
    x.established = p.proto === IPPROTO_TCP
      ? f.tcpState === TCP_ESTABLISHED || f.tcpState === TCP_CLOSING
      : f.pktsToServer > 0 && f.pktsToClient > 0;
    let app = this.#apps.get(f.id) ?? "";
    if (p.app === APP_DNS) app = "dns";
    else if (p.app === APP_TLS) app = "tls";
    const len = p.payloadLen;
    if (len > 0) {
      put(x, B.pkt, p.data, p.payloadOffset, p.payloadOffset + len);
      if (app === "" && p.proto === IPPROTO_TCP) {
        app = guessApp(x.bufs[B.pkt]!.data, len, p.srcPort, p.dstPort);
      }
    }
    // Transactions found in this packet.
    let tx = false;
    if (len > 0 && (p.proto === IPPROTO_TCP)) {
      const d = x.bufs[B.pkt]!.data;
      if (parseHttpHead(x, d, len)) {
        app = "http";
        tx = true;
      }
    }
    if (p.app === APP_DNS && !p.dns.qr && p.dns.qdcount > 0) {
      putText(x, B.dns, p.dns.qname);
      tx = true;
    } else if (p.app === APP_TLS && p.tls.sni !== "") {
      putText(x, B.sni, p.tls.sni);
      tx = true;
    }
    if (app !== "" && this.#apps.get(f.id) !== app) {
      if (this.#apps.size >= MAX_FLOW_APPS) this.#apps.clear();
      this.#apps.set(f.id, app);
    }
    x.app = app;
    const e = this.#engine;
    e.inspectPacket(x);
    if (len > 0 && p.proto === IPPROTO_TCP) {
      const s = x.bufs[B.stream]!;
      const pk = x.bufs[B.pkt]!;
      s.data = pk.data;
      s.len = pk.len;
      s.text = null;
      x.filled[B.stream] = 1;
      e.inspectStream(x);
    }
    if (tx) e.inspectTx(x);
    if (len > 0 && p.proto === IPPROTO_TCP) this.#tls.onPacket(p, ctx);
  }

  /** End of input: handshakes still open are inspected as they are. */
  onFinish(): void {
    this.#tls.onFinish();
  }

  /** Forgets a flow's app protocol and flowbits. */
  onFlowEnd(f: Flow, _reason?: FlowEndReason): void {
    this.#tls.onFlowEnd(f);
    this.#apps.delete(f.id);
    this.#engine.flowEnded(f.id);
  }
}

function startsWith(
  d: Uint8Array,
  len: number,
  at: number,
  s: string,
): boolean {
  if (at + s.length > len) return false;
  for (let i = 0; i < s.length; i++) {
    if (d[at + i] !== s.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The app-layer protocol of a TCP flow from its first payload, for the
 * protocols the engine has no parser for (their rules match the payload):
 * SSH by its banner, SMB by its header after the NetBIOS length, DCERPC by
 * its version byte on port 135, FTP on port 21, SMTP by a greeting or
 * HELO/EHLO on the mail ports. HTTP, DNS and TLS come from their parsers.
 */
function guessApp(d: Uint8Array, len: number, sp: number, dp: number): string {
  if (startsWith(d, len, 0, "SSH-")) return "ssh";
  if (
    len >= 8 && (d[4] === 0xff || d[4] === 0xfe) && startsWith(d, len, 5, "SMB")
  ) {
    return "smb";
  }
  if ((sp === 135 || dp === 135) && d[0] === 5) return "dcerpc";
  if (sp === 21 || dp === 21) return "ftp";
  const mail = sp === 25 || dp === 25 || sp === 587 || dp === 587 ||
    sp === 2525 || dp === 2525;
  if (
    mail && (startsWith(d, len, 0, "220") || startsWith(d, len, 0, "EHLO") ||
      startsWith(d, len, 0, "HELO"))
  ) return "smtp";
  return "";
}

/** Copies `src[start, end)` into buffer `id`, growing its storage when short. */
function put(
  x: Inspection,
  id: number,
  src: Uint8Array,
  start: number,
  end: number,
): void {
  const b = x.bufs[id]!;
  const n = end - start;
  if (b.data.length < n || b.data === x.bufs[B.pkt]!.data && id !== B.pkt) {
    b.data = new Uint8Array(Math.max(n, 2048));
  }
  b.data.set(src.subarray(start, end));
  b.len = n;
  b.text = null;
  x.filled[id] = 1;
}

/** Writes a string's char codes (latin1) into buffer `id`. */
function putText(x: Inspection, id: number, s: string): void {
  const b = x.bufs[id]!;
  if (b.data.length < s.length) b.data = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) b.data[i] = s.charCodeAt(i) & 0xff;
  b.len = s.length;
  b.text = null;
  x.filled[id] = 1;
}

/** Appends bytes to buffer `id` (which must be filled or emptied first). */
function append(
  x: Inspection,
  id: number,
  src: Uint8Array,
  s: number,
  e: number,
): void {
  const b = x.bufs[id]!;
  const n = b.len + (e - s);
  if (b.data.length < n) {
    const d = new Uint8Array(n * 2);
    d.set(b.data.subarray(0, b.len));
    b.data = d;
  }
  b.data.set(src.subarray(s, e), b.len);
  b.len = n;
}

function appendByte(x: Inspection, id: number, c: number): void {
  const b = x.bufs[id]!;
  if (b.data.length < b.len + 1) {
    const d = new Uint8Array((b.len + 1) * 2);
    d.set(b.data.subarray(0, b.len));
    b.data = d;
  }
  b.data[b.len++] = c;
}

function start(x: Inspection, id: number): void {
  const b = x.bufs[id]!;
  if (b.data.length < 256) b.data = new Uint8Array(2048);
  b.len = 0;
  b.text = null;
  x.filled[id] = 1;
}

function lineEnd(d: Uint8Array, from: number, len: number): number {
  for (let i = from; i < len; i++) if (d[i] === 10) return i;
  return -1;
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function nameIs(
  d: Uint8Array,
  s: number,
  e: number,
  name: Uint8Array,
): boolean {
  if (e - s !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = d[s + i]!;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== name[i]) return false;
  }
  return true;
}

/**
 * Parses an HTTP/1.x request or response head at the start of `d` into
 * the HTTP buffers. Returns false (filling nothing) when `d` does not
 * start with one.
 */
function parseHttpHead(x: Inspection, d: Uint8Array, len: number): boolean {
  let i = 0;
  while (i < len && i < 20 && isUpper(d[i]!)) i++;
  if (i === 0 || i >= len) return false;
  const eol = lineEnd(d, 0, len);
  const lineStop = eol < 0
    ? len
    : (eol > 0 && d[eol - 1] === 13 ? eol - 1 : eol);
  let request: boolean;
  if (d[i] === 32) request = true;
  else if (
    i === 4 && d[4] === 47 && d[0] === 72 && d[1] === 84 && d[2] === 84 &&
    d[3] === 80
  ) request = false;
  else return false;
  if (request) {
    const sp1 = i;
    let sp2 = -1;
    for (let k = lineStop - 1; k > sp1; k--) {
      if (d[k] === 32) {
        sp2 = k;
        break;
      }
    }
    const uriEnd = sp2 < 0 ? lineStop : sp2;
    if (uriEnd <= sp1 + 1) return false;
    put(x, B.method, d, 0, sp1);
    put(x, B.uriRaw, d, sp1 + 1, uriEnd);
    // Normalised URI: %XX decoded.
    start(x, B.uri);
    for (let k = sp1 + 1; k < uriEnd; k++) {
      const c = d[k]!;
      if (c === 37 && k + 2 < uriEnd) {
        const h = hexVal(d[k + 1]!), l = hexVal(d[k + 2]!);
        if (h >= 0 && l >= 0) {
          appendByte(x, B.uri, h * 16 + l);
          k += 2;
          continue;
        }
      }
      appendByte(x, B.uri, c);
    }
    if (sp2 >= 0) put(x, B.protocol, d, sp2 + 1, lineStop);
    put(x, B.reqLine, d, 0, lineStop);
  } else {
    // HTTP/1.1 200 OK
    let sp1 = -1;
    for (let k = 5; k < lineStop; k++) {
      if (d[k] === 32) {
        sp1 = k;
        break;
      }
    }
    if (sp1 < 0 || sp1 + 4 > lineStop + 1) return false;
    put(x, B.protocol, d, 0, sp1);
    let sp2 = sp1 + 1;
    while (sp2 < lineStop && d[sp2] !== 32) sp2++;
    put(x, B.stat, d, sp1 + 1, sp2);
    if (sp2 < lineStop) put(x, B.statMsg, d, sp2 + 1, lineStop);
    put(x, B.respLine, d, 0, lineStop);
  }
  if (eol < 0) return true;
  // Headers.
  start(x, B.header);
  start(x, B.names);
  appendByte(x, B.names, 13);
  appendByte(x, B.names, 10);
  let pos = eol + 1;
  let headEnd = -1;
  while (pos < len) {
    const e = lineEnd(d, pos, len);
    const stop = e < 0 ? len : (e > pos && d[e - 1] === 13 ? e - 1 : e);
    if (stop === pos) {
      headEnd = e < 0 ? len : e + 1;
      break;
    }
    let colon = pos;
    while (colon < stop && d[colon] !== 58) colon++;
    if (colon < stop) {
      append(x, B.names, d, pos, colon);
      appendByte(x, B.names, 13);
      appendByte(x, B.names, 10);
      let vs = colon + 1;
      while (vs < stop && (d[vs] === 32 || d[vs] === 9)) vs++;
      let ve = stop;
      while (ve > vs && (d[ve - 1] === 32 || d[ve - 1] === 9)) ve--;
      for (const [name, id] of NAMED_HEADERS) {
        if (nameIs(d, pos, colon, name)) {
          put(x, id, d, vs, ve);
          break;
        }
      }
    }
    append(x, B.header, d, pos, stop);
    appendByte(x, B.header, 13);
    appendByte(x, B.header, 10);
    if (e < 0) break;
    pos = e + 1;
  }
  appendByte(x, B.names, 13);
  appendByte(x, B.names, 10);
  const hb = x.bufs[B.header]!;
  put(x, B.headerRaw, hb.data, 0, hb.len);
  if (x.filled[B.hostRaw] === 1) {
    // http.host: lower case, without the port.
    const raw = x.bufs[B.hostRaw]!;
    start(x, B.host);
    let end = raw.len;
    if (raw.data[0] !== 91) {
      for (let k = 0; k < raw.len; k++) {
        if (raw.data[k] === 58) {
          end = k;
          break;
        }
      }
    }
    for (let k = 0; k < end; k++) {
      const c = raw.data[k]!;
      appendByte(x, B.host, c >= 65 && c <= 90 ? c + 32 : c);
    }
  }
  if (headEnd >= 0) {
    put(x, B.start, d, 0, headEnd);
    if (headEnd < len) {
      put(x, request ? B.reqBody : B.respBody, d, headEnd, len);
    }
  }
  return true;
}
