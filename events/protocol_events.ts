/**
 * Protocol events in EVE form, for users who want Suricata- or Zeek-style
 * logs of what crossed the wire: `dns` and `http` per message, `tls` per
 * connection's handshake (read from the TCP stream by `protocols/`), and
 * `flow` per finished flow. An observer of the pipeline; records go to a
 * sink.
 * Records of tunnelled traffic carry Suricata's `tunnel` object (outer
 * addresses, protocol, depth; see flows/tunnel.ts): the packet's own for
 * `dns`/`http`, the connection's first packet's for `tls` and `flow`.
 *
 * @module
 */
import { APP_DNS, APP_HTTP, formatAddr, type Packet } from "../decode/mod.ts";
import {
  type Flow,
  type FlowEndReason,
  type FlowObserver,
  type PacketContext,
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
  type TlsConnection,
  type TlsHandshake,
  tlsObserver,
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
 * Builds the observer that turns DNS, HTTP and TLS facts and flow ends into
 * EVE records of the enabled kinds.
 */
export function protocolEvents(
  enabled: ReadonlySet<ProtocolEventType>,
  sink: EveSink,
): FlowObserver {
  const dns = enabled.has("dns"), http = enabled.has("http");
  const tls = enabled.has("tls"), flow = enabled.has("flow");
  const obs: FlowObserver = {};
  const tlsObs = tls
    ? tlsObserver((hs, conn) => sink(tlsEvent(hs, conn)))
    : null;
  if (dns || http || tlsObs !== null) {
    obs.onPacket = (p: Packet, ctx: PacketContext) => {
      let rec: EveRecord | null = null;
      if (p.app === APP_DNS && dns) rec = dnsEvent(p, ctx.flow);
      else if (p.app === APP_HTTP && http) rec = httpEvent(p, ctx.flow);
      if (rec !== null) {
        if (ctx.tunnel !== null) rec.tunnel = ctx.tunnel;
        sink(rec);
      }
      tlsObs?.onPacket(p, ctx);
    };
  }
  if (flow || tlsObs !== null) {
    // A handshake cut short is reported before its flow's record.
    obs.onFlowEnd = (f, reason) => {
      tlsObs?.onFlowEnd(f);
      if (flow) sink(flowEvent(f, reason));
    };
  }
  if (tlsObs !== null) obs.onFinish = () => tlsObs.onFinish();
  if (enabled.has("anomaly")) {
    obs.onAnomaly = (p, event) => sink(anomalyEvent(p, event));
  }
  return obs;
}

function packetTuple(p: Packet, f: Flow, eventType: string): EveRecord {
  return {
    timestamp: eveTimestamp(p.tsUs),
    flow_id: f.id,
    event_type: eventType,
    src_ip: formatAddr(p.ipVersion, p.src),
    src_port: p.srcPort,
    dest_ip: formatAddr(p.ipVersion, p.dst),
    dest_port: p.dstPort,
    proto: protoName(p.proto),
  };
}

/** The EVE `dns` record of one DNS message (query or answer). */
export function dnsEvent(p: Packet, f: Flow): EveRecord {
  const d = p.dns;
  const rrtype = rrtypeName(d.qtype);
  const body: Record<string, unknown> = {
    version: 3,
    type: d.qr ? "answer" : "query",
    id: d.id,
    opcode: d.opcode,
    rrname: d.qname,
    rrtype,
  };
  if (d.qr) {
    body.rcode = rcodeName(d.rcode);
    body.answer_count = d.ancount;
  }
  if (d.qdcount > 0) body.queries = [{ rrname: d.qname, rrtype }];
  const rec = packetTuple(p, f, "dns");
  rec.dns = body;
  return rec;
}

/** The EVE `http` record of one HTTP/1.x request. */
export function httpEvent(p: Packet, f: Flow): EveRecord {
  const h = p.http;
  const rec = packetTuple(p, f, "http");
  const body: Record<string, unknown> = {
    hostname: h.host,
    url: h.uri,
    http_method: h.method,
    protocol: h.version,
  };
  if (h.userAgent !== "") body.http_user_agent = h.userAgent;
  rec.http = body;
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
