/**
 * Protocol events in EVE form, for users who want Suricata- or Zeek-style
 * logs of what crossed the wire: `http` per transaction and `dns` per
 * message (from the app-layer records of `protocols/`, over UDP and
 * reassembled TCP alike), `tls` per connection's handshake (read from the
 * TCP stream by `protocols/`), `anomaly` per decoding or stream event
 * (Suricata's `anomaly` records of type `decode` and `stream`), and `flow`
 * per finished flow. An observer of the pipeline; records go to a sink.
 * Records of tunnelled traffic carry Suricata's `tunnel` object (outer
 * addresses, protocol, depth; see flows/tunnel.ts): the connection's first
 * packet's for `dns`, `http`, `tls` and `flow`.
 *
 * @module
 */
import { escapedText, formatAddr, type Packet } from "../decode/mod.ts";
import {
  DIR_TO_SERVER,
  type Flow,
  type FlowEndReason,
  TCP_STATE_NAMES,
} from "../flows/mod.ts";
import {
  eveTimestamp,
  flowTuple,
  protoName,
  rcodeName,
  rrtypeName,
  tcpFlagsHex,
  tlsVersionName,
} from "./eve.ts";
import {
  type AppContext,
  type AppObserver,
  type AppRecord,
  type DnsMessage,
  type DnsRecord,
  type HttpHeader,
  type HttpTransaction,
  type TlsConnection,
  tlsConnectionOf,
  type TlsHandshake,
} from "../protocols/mod.ts";

/** Protocol event kinds `--events` accepts besides `alert`. */
export const PROTOCOL_EVENT_TYPES = [
  "dns",
  "http",
  "tls",
  "flow",
  "anomaly",
] as const;
/** One protocol event kind. */
export type ProtocolEventType = typeof PROTOCOL_EVENT_TYPES[number];

/** An EVE record: a JSON object with at least `timestamp` and `event_type`. */
export type EveRecord = Record<string, unknown>;

/** Receives finished EVE records. */
export type EveSink = (rec: EveRecord) => void;

/**
 * Builds the observer that turns app-layer records (HTTP transactions, DNS
 * messages, TLS handshakes), anomalies and flow ends into EVE records of
 * the enabled kinds.
 */
export function protocolEvents(
  enabled: ReadonlySet<ProtocolEventType>,
  sink: EveSink,
): AppObserver {
  const dns = enabled.has("dns"), http = enabled.has("http");
  const tls = enabled.has("tls"), flow = enabled.has("flow");
  const obs: AppObserver = {};
  if (dns || http || tls) {
    obs.onApp = (rec: AppRecord, ctx: AppContext) => {
      let out: EveRecord | null = null;
      switch (rec.kind) {
        case "http":
          if (http && rec.state === "complete") out = httpEvent(rec, ctx);
          break;
        case "dns":
          if (dns) out = dnsEvent(rec, ctx);
          break;
        case "tls":
          if (tls) out = tlsEvent(rec.handshake, tlsConnectionOf(rec, ctx));
          break;
        default: {
          const never: never = rec;
          return never;
        }
      }
      if (out === null) return;
      if (ctx.flow.tunnel !== null) out.tunnel = ctx.flow.tunnel;
      sink(out);
    };
  }
  if (flow) obs.onFlowEnd = (f, reason) => sink(flowEvent(f, reason));
  if (enabled.has("anomaly")) {
    obs.onAnomaly = (p, event) => sink(anomalyEvent(p, event));
    obs.onStreamEvent = (f, dir, event, tsUs) =>
      sink(streamAnomalyEvent(f, dir, event, tsUs));
  }
  return obs;
}

/** The flow's tuple in the direction of `dir` (the sender first). */
function dirTuple(
  f: Flow,
  dir: number,
  tsUs: number,
  eventType: string,
): EveRecord {
  const fwd = dir === DIR_TO_SERVER;
  const src = formatAddr(f.version, f.srcAddr);
  const dst = formatAddr(f.version, f.dstAddr);
  return {
    timestamp: eveTimestamp(tsUs),
    flow_id: f.id,
    event_type: eventType,
    src_ip: fwd ? src : dst,
    src_port: fwd ? f.srcPort : f.dstPort,
    dest_ip: fwd ? dst : src,
    dest_port: fwd ? f.dstPort : f.srcPort,
    proto: protoName(f.proto),
  };
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

function answerRecord(r: DnsRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    rrname: r.rrname,
    rrtype: rrtypeName(r.rrtype),
    ttl: r.ttl,
  };
  if (r.rdata !== "") out.rdata = r.rdata;
  if (r.srv !== null) out.srv = { ...r.srv };
  return out;
}

/**
 * The EVE `dns` record of one DNS message, in Suricata's version 3 form:
 * `type` "request" or "response", `id`, `flags` (hex), the set flag bits
 * (`qr`, `aa`, `tc`, `rd`, `ra`), `opcode`, `rcode` (responses),
 * `queries` [{`rrname`, `rrtype`}], `answers` and `authorities`
 * [{`rrname`, `rrtype`, `ttl`, `rdata`, `srv`}].
 */
export function dnsEvent(m: DnsMessage, ctx: AppContext): EveRecord {
  const f = m.flags;
  const body: Record<string, unknown> = {
    version: 3,
    type: m.qr ? "response" : "request",
    id: m.id,
    flags: hex4(f),
  };
  if (m.qr) body.qr = true;
  if (f & 0x0400) body.aa = true;
  if (f & 0x0200) body.tc = true;
  if (f & 0x0100) body.rd = true;
  if (f & 0x0080) body.ra = true;
  body.opcode = m.opcode;
  if (m.qr) body.rcode = rcodeName(m.rcode);
  if (m.queries.length > 0) {
    body.queries = m.queries.map((q) => ({
      rrname: q.rrname,
      rrtype: rrtypeName(q.rrtype),
    }));
  }
  if (m.answers.length > 0) body.answers = m.answers.map(answerRecord);
  if (m.authorities.length > 0) {
    body.authorities = m.authorities.map(answerRecord);
  }
  const rec = dirTuple(ctx.flow, ctx.dir, ctx.tsUs, "dns");
  rec.dns = body;
  return rec;
}

const MAX_LOGGED_HEADERS = 64;

function headerList(hs: readonly HttpHeader[]): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const h of hs) {
    if (out.length >= MAX_LOGGED_HEADERS) break;
    out.push({
      name: escapedText(h.name, 0, h.name.length, 256),
      value: escapedText(h.value, 0, h.value.length, 1024),
    });
  }
  return out;
}

function headerText(v: Uint8Array | null, cap: number): string | null {
  return v === null ? null : escapedText(v, 0, v.length, cap);
}

/**
 * The EVE `http` record of one HTTP transaction, with Suricata's field
 * names: `hostname`, `url`, `http_user_agent`, `http_content_type`,
 * `http_refer`, `http_method`, `protocol`, `status`, `redirect`, `length`
 * (response body bytes), `request_headers`, `response_headers`.
 */
export function httpEvent(tx: HttpTransaction, ctx: AppContext): EveRecord {
  const rec = dirTuple(ctx.flow, DIR_TO_SERVER, ctx.tsUs, "http");
  rec.tx_id = tx.txId;
  const body: Record<string, unknown> = {};
  const host = tx.hostname;
  if (host !== "") body.hostname = host;
  if (tx.request !== null) body.url = tx.url;
  const ua = headerText(tx.requestHeader("user-agent"), 512);
  if (ua !== null) body.http_user_agent = ua;
  const ct = headerText(tx.responseHeader("content-type"), 256);
  if (ct !== null) body.http_content_type = ct;
  const ref = headerText(tx.requestHeader("referer"), 2048);
  if (ref !== null) body.http_refer = ref;
  if (tx.request !== null) {
    body.http_method = tx.method;
    const proto = tx.protocol;
    if (proto !== "") body.protocol = proto;
  }
  if (tx.response !== null) {
    if (tx.status > 0) body.status = tx.status;
    const loc = headerText(tx.responseHeader("location"), 2048);
    if (loc !== null) body.redirect = loc;
    body.length = tx.response.bodyLength;
  }
  if (tx.request !== null) {
    body.request_headers = headerList(tx.request.headers);
  }
  if (tx.response !== null) {
    body.response_headers = headerList(tx.response.headers);
  }
  rec.http = body;
  return rec;
}

/**
 * The EVE `anomaly` record of a stream event, as Suricata writes it:
 * `anomaly.type` "stream", `anomaly.event` the event name.
 */
export function streamAnomalyEvent(
  f: Flow,
  dir: number,
  event: string,
  tsUs: number,
): EveRecord {
  const rec = dirTuple(f, dir, tsUs, "anomaly");
  rec.anomaly = { type: "stream", event };
  return rec;
}

/**
 * The EVE `tls` record of one connection's handshake, with Suricata's field
 * names and forms (`subject`, `issuerdn`, `serial`, `fingerprint`, `sni`,
 * `version` as negotiated, `notbefore`, `notafter`, `ja3` and `ja3s` as
 * `{hash, string}`, `ja4`); fields without a value are left out.
 */
export function tlsEvent(hs: TlsHandshake, c: TlsConnection): EveRecord {
  const body: Record<string, unknown> = {};
  const cert = hs.cert;
  if (cert !== null) {
    body.subject = cert.subject;
    body.issuerdn = cert.issuerdn;
    body.serial = cert.serial;
    body.fingerprint = cert.fingerprint;
  }
  if (hs.sni !== "") body.sni = hs.sni;
  body.version = tlsVersionName(hs.version);
  if (cert !== null) {
    body.notbefore = cert.notbefore;
    body.notafter = cert.notafter;
  }
  if (hs.ja3 !== null) body.ja3 = { hash: hs.ja3.hash, string: hs.ja3.string };
  if (hs.ja3s !== null) {
    body.ja3s = { hash: hs.ja3s.hash, string: hs.ja3s.string };
  }
  if (hs.ja4 !== "") body.ja4 = hs.ja4;
  return {
    timestamp: eveTimestamp(c.tsUs),
    flow_id: c.flowId,
    event_type: "tls",
    src_ip: formatAddr(c.ipVersion, c.clientAddr),
    src_port: c.clientPort,
    dest_ip: formatAddr(c.ipVersion, c.serverAddr),
    dest_port: c.serverPort,
    proto: "TCP",
    tls: body,
    ...(c.tunnel !== null ? { tunnel: c.tunnel } : {}),
  };
}

/**
 * The EVE `anomaly` record of a decoding anomaly (Suricata's, type
 * `decode`): the packet's addresses, its ports when its transport header
 * was read, and the event name (`decoder.ipv4.frag_overlap`, …).
 */
export function anomalyEvent(p: Packet, event: string): EveRecord {
  const rec: EveRecord = {
    timestamp: eveTimestamp(p.tsUs),
    event_type: "anomaly",
    src_ip: formatAddr(p.ipVersion, p.src),
  };
  const ports = p.l4Offset >= 0 && (p.proto === 6 || p.proto === 17);
  if (ports) rec.src_port = p.srcPort;
  rec.dest_ip = formatAddr(p.ipVersion, p.dst);
  if (ports) rec.dest_port = p.dstPort;
  rec.proto = protoName(p.fragment ? p.fragProto : p.proto);
  rec.anomaly = { type: "decode", event };
  return rec;
}

/** The EVE `flow` record of a finished flow. */
export function flowEvent(f: Flow, reason: FlowEndReason): EveRecord {
  const rec: EveRecord = {
    timestamp: eveTimestamp(f.lastUs),
    flow_id: f.id,
    event_type: "flow",
    ...flowTuple(f),
  };
  if (f.appProto !== "") rec.app_proto = f.appProto;
  rec.flow = {
    pkts_toserver: f.pktsToServer,
    pkts_toclient: f.pktsToClient,
    bytes_toserver: f.bytesToServer,
    bytes_toclient: f.bytesToClient,
    start: eveTimestamp(f.firstUs),
    end: eveTimestamp(f.lastUs),
    age: Math.round((f.lastUs - f.firstUs) / 1e6),
    state: flowState(f, reason),
    reason: reason === "idle" || reason === "active" || reason === "closed"
      ? "timeout"
      : reason,
    alerted: f.alerted,
  };
  if (f.tunnel !== null) rec.tunnel = f.tunnel;
  if (f.proto === 6) {
    rec.tcp = {
      tcp_flags: tcpFlagsHex(f.flagsToServer | f.flagsToClient),
      tcp_flags_ts: tcpFlagsHex(f.flagsToServer),
      tcp_flags_tc: tcpFlagsHex(f.flagsToClient),
      state: TCP_STATE_NAMES[f.tcpState] ?? "none",
    };
  } else if (f.icmpType >= 0) {
    rec.icmp_type = f.icmpType;
    rec.icmp_code = f.icmpCode;
  }
  return rec;
}

/** Suricata's flow states: new (one direction only), established, closed. */
function flowState(f: Flow, reason: FlowEndReason): string {
  if (f.proto === 6) {
    if (f.tcpState >= 5) return "closed";
    if (f.tcpState >= 3) return reason === "closed" ? "closed" : "established";
    return "new";
  }
  return f.pktsToClient > 0 ? "established" : "new";
}
