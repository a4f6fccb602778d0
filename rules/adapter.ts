/**
 * The one adapter between the pipeline's records and the rule engine's
 * named buffers. It fills an {@link Inspection} and calls the engine's
 * entry points:
 *
 * - per packet: `pkt_data` (the transport payload) and header keywords;
 * - per stream chunk: each TCP segment's payload as a chunk of `stream`
 *   (`only_stream` rules; 4 of ET Open's). Reassembled bytes are not
 *   asked for: an observer of stream data makes the pipeline reassemble
 *   every TCP flow, where today only flows a parser took are;
 * - per transaction, from protocols/' records (reassembled streams): an
 *   HTTP transaction on its request side when the request is complete and
 *   on its response side when the response is, every sticky buffer built
 *   by protocols/http_buffers.ts as libhtp shapes it (`pkt_data` is that
 *   side's head, for rules mixing payload and HTTP keywords); each DNS
 *   query name (`dns.query`); each completed TLS handshake (protocols/'
 *   `tls` record): the SNI (`tls.sni`), JA3 and JA4 on the client's side,
 *   JA3S and the
 *   certificate buffers (`tls.cert_subject`, `tls.cert_issuer`,
 *   `tls.cert_serial`, `tls.cert_fingerprint`, `tls.certs` — the chain's
 *   DER concatenated) on the server's.
 *
 * A flow's app-layer protocol is protocols/' (`Flow.appProto`), else TLS
 * from the decoder, else a first-payload guess for SSH, SMB, DCERPC, FTP
 * and SMTP, whose rules match the payload.
 *
 * @module
 */
import { APP_DNS, APP_TLS, IPPROTO_TCP, type Packet } from "../decode/mod.ts";
import type { Flow, FlowEndReason, PacketContext } from "../flows/mod.ts";
import {
  type AppContext,
  type AppObserver,
  type AppRecord,
  httpBuffer,
  type HttpBufferName,
  type HttpTransaction,
  type TlsConnection,
  tlsConnectionOf,
  type TlsHandshake,
} from "../protocols/mod.ts";
import { bufferId, BUFFERS } from "./buffers.ts";
import { type Inspection, newInspection, type RuleEngine } from "./engine.ts";

const TCP_ESTABLISHED = 3;
const TCP_CLOSING = 4;

const B = {
  pkt: bufferId("pkt_data"),
  stream: bufferId("stream"),
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

const MAX_FLOW_APPS = 1 << 18;

/** Feeds a rule engine from the pipeline; see the module doc. */
export class RuleAdapter implements AppObserver {
  #engine: RuleEngine;
  readonly #x: Inspection = newInspection();
  /** App-layer protocol per flow id, once identified. */
  readonly #apps = new Map<number, string>();

  /** Inspection of app-layer records. */
  readonly #txi: Inspection = newInspection();
  /** Inspection of completed TLS handshakes (certificates, JA3/JA4). */
  readonly #hs: Inspection = newInspection();

  /** Feeds `engine`; {@link setEngine} swaps it between packets. */
  constructor(engine: RuleEngine) {
    this.#engine = engine;
  }

  /**
   * A completed TLS handshake (the app layer's `tls` record, from the
   * reassembled streams): the client's side (SNI, JA3, JA4) inspected as a
   * to_server transaction, the server's (JA3S, the certificates) as a
   * to_client one.
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
    if (hs.sni !== "") putText(x, B.sni, hs.sni);
    if (hs.ja3 !== null) putText(x, B.ja3, hs.ja3.hash);
    if (hs.ja4 !== "") putText(x, B.ja4, hs.ja4);
    if (
      x.filled[B.sni] === 1 || x.filled[B.ja3] === 1 || x.filled[B.ja4] === 1
    ) {
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
    let app = f.appProto !== "" ? f.appProto : this.#apps.get(f.id) ?? "";
    if (p.app === APP_DNS) app = "dns";
    else if (p.app === APP_TLS) app = "tls";
    const len = p.payloadLen;
    if (len > 0) {
      put(x, B.pkt, p.data, p.payloadOffset, p.payloadOffset + len);
      if (app === "" && p.proto === IPPROTO_TCP) {
        app = guessApp(x.bufs[B.pkt]!.data, len, p.srcPort, p.dstPort);
      }
    }
    // HTTP, DNS and TLS transactions come as records (onApp).
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
  }

  /**
   * An app-layer record from protocols/: an HTTP transaction is inspected
   * on its request side when the request is complete and on its response
   * side when the response is; a DNS query once per question name.
   */
  onApp(rec: AppRecord, ctx: AppContext): void {
    const x = this.#txi;
    const f = ctx.flow;
    x.filled.fill(0);
    x.tsUs = ctx.tsUs;
    x.version = f.version;
    x.src.set(f.srcAddr);
    x.dst.set(f.dstAddr);
    x.srcPort = f.srcPort;
    x.dstPort = f.dstPort;
    x.proto = f.proto;
    x.ttl = f.ttlToServer;
    x.tcpFlags = 0;
    x.icmpType = -1;
    x.icmpCode = -1;
    x.payloadLen = 0;
    x.dir = 0;
    x.flowId = f.id;
    x.toServerBytes = f.payloadToServer;
    x.toClientBytes = f.payloadToClient;
    x.established = f.proto === IPPROTO_TCP
      ? f.tcpState === TCP_ESTABLISHED || f.tcpState === TCP_CLOSING ||
        f.pktsToClient > 0
      : f.pktsToServer > 0 && f.pktsToClient > 0;
    switch (rec.kind) {
      case "http": {
        x.app = "http";
        const resp = rec.state === "complete";
        if (resp && rec.response === null) return;
        if (!resp && rec.request === null) return;
        if (resp) {
          // The server's side: addresses and ports from the server.
          x.src.set(f.dstAddr);
          x.dst.set(f.srcAddr);
          x.srcPort = f.dstPort;
          x.dstPort = f.srcPort;
          x.dir = 1;
        }
        fillHttp(x, rec, resp ? 1 : 0, this.#engine.usedBuffers);
        this.#engine.inspectTx(x);
        return;
      }
      case "dns": {
        if (rec.qr) return;
        x.app = "dns";
        if (ctx.dir === 1) {
          x.src.set(f.dstAddr);
          x.dst.set(f.srcAddr);
          x.srcPort = f.dstPort;
          x.dstPort = f.srcPort;
        }
        for (const q of rec.queries) {
          putText(x, B.dns, q.rrname);
          this.#engine.inspectTx(x);
        }
        return;
      }
      case "tls":
        this.#handshake(rec.handshake, tlsConnectionOf(rec, ctx));
        return;
      default: {
        const never: never = rec;
        void never;
      }
    }
  }

  /**
   * End of input. Nothing waits here: a handshake cut short comes as the
   * app layer's `tls` record when its flow ends, before this.
   */
  onFinish(): void {}

  /** Forgets a flow's app protocol and flowbits. */
  onFlowEnd(f: Flow, _reason?: FlowEndReason): void {
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

function start(x: Inspection, id: number): void {
  const b = x.bufs[id]!;
  if (b.data.length < 256) b.data = new Uint8Array(2048);
  b.len = 0;
  b.text = null;
  x.filled[id] = 1;
}

/** HTTP buffers by id with their protocols/ name. */
const HTTP_IDS: ReadonlyArray<readonly [number, HttpBufferName, string]> =
  BUFFERS.filter((b) => b.proto === "http").map((b) =>
    [b.id, b.name as HttpBufferName, b.side] as const
  );

/**
 * Points the HTTP buffers at the transaction's (built once and cached on
 * it by protocols/) that some rule reads: request-side ones from the
 * request, response-side ones from the response, headers from the side
 * inspected. `pkt_data` is
 * that side's head, for rules mixing payload and HTTP keywords.
 */
function fillHttp(
  x: Inspection,
  tx: HttpTransaction,
  dir: number,
  used: Uint8Array,
): void {
  for (const [id, name, side] of HTTP_IDS) {
    if (side === "resp" && dir === 0) continue;
    // Built only when a rule reads it (building costs allocations).
    if (used[id] !== 1) continue;
    const v = httpBuffer(
      tx,
      name,
      side === "both" ? dir : side === "resp" ? 1 : 0,
    );
    if (v === null) continue;
    const b = x.bufs[id]!;
    b.data = v;
    b.len = v.length;
    b.text = null;
    x.filled[id] = 1;
  }
  const head = dir === 0 ? tx.request?.raw : tx.response?.raw;
  if (head !== undefined) {
    const b = x.bufs[B.pkt]!;
    b.data = head;
    b.len = head.length;
    b.text = null;
    x.filled[B.pkt] = 1;
    x.payloadLen = head.length;
  }
}
