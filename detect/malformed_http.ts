/**
 * `malformed_http`: HTTP/1.x requests that break the grammar. The first
 * payload segment a client sends on a TCP flow to one of the policy's HTTP
 * ports (or on any flow the decoder recognised as HTTP) is checked by
 * `_http_grammar.ts`: method, request line, version, header lines, control
 * bytes, lengths, and request-smuggling signs. One detection per flow; the
 * aggregator folds repeats from one client to one server into one alert.
 * Segments that cannot start a request are skipped: a first byte outside
 * printable ASCII (TLS, another binary protocol on an HTTP port) or a RST's
 * payload. When the header block goes on past the first segment (big cookies, or an
 * absurdly long line), the detector follows the later segments' line
 * lengths and header count (bounded state per open request, up to 256 KiB)
 * to catch lengths beyond the limits. Later requests on a kept-alive
 * connection are not checked.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import {
  APP_HTTP,
  formatAddr,
  IPPROTO_TCP,
  type Packet,
  TCP_RST,
} from "../decode/mod.ts";
import { DIR_TO_SERVER, type Flow, type PacketContext } from "../flows/mod.ts";
import { KeyedTable } from "./_table.ts";
import {
  checkHttpRequest,
  type HttpLimits,
  newHttpCheck,
  worstViolation,
} from "./_http_grammar.ts";
import { detection, type Detector, type Emit } from "./detector.ts";

const TYPE: AlertType = "malformed_http";
const EXCERPT = 120;

/** Printable excerpt of `d[s, e)`: other bytes as \xNN, cut at `max` characters. */
export function excerpt(
  d: Uint8Array,
  s: number,
  e: number,
  max = EXCERPT,
): string {
  let out = "";
  for (let i = s; i < e && out.length < max; i++) {
    const c = d[i]!;
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) out += String.fromCharCode(c);
    else out += "\\x" + c.toString(16).padStart(2, "0");
  }
  return e - s > max && out.length >= max ? out.slice(0, max) + "…" : out;
}

/** A request whose header block continues past its first segment. */
class OpenRequest {
  /** Length of the line being read, bytes. */
  line = 0;
  /** Still in the request line. */
  requestLine = false;
  headers = 0;
  /** Payload bytes followed so far. */
  bytes = 0;
  /** Method and start of the request line, printable. */
  method = "";
  start = "";
  reset(): void {
    this.line = this.headers = this.bytes = 0;
    this.requestLine = false;
    this.method = this.start = "";
  }
}

/** Payload followed per request before giving up (a body, not headers). */
const MAX_FOLLOW = 256 * 1024;
const TAG_FLOW = 1;
const TAG_PAIR = 2;

/** Builds the malformed-HTTP detector. */
export function malformedHttp(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.malformed_http;
  const ports = new Uint8Array(65536);
  for (const p of cfg.ports) ports[p] = 1;
  const lim: HttpLimits = {
    maxRequestLine: cfg.max_request_line,
    maxHeaderLine: cfg.max_header_line,
    maxHeaders: cfg.max_headers,
  };
  const check = newHttpCheck();
  // Violations seen per (client, server), for the aggregated alert.
  const seen = new KeyedTable<{ findings: Set<string>; requests: number }>(
    1024,
    () => ({ findings: new Set<string>(), requests: 0 }),
    (v) => {
      v.findings.clear();
      v.requests = 0;
    },
  );
  const open = new KeyedTable<OpenRequest>(
    4096,
    () => new OpenRequest(),
    (o) => o.reset(),
  );

  function report(
    p: Packet,
    f: Flow,
    variant: string,
    findings: string[],
    evidence: Record<string, unknown>,
  ): void {
    const src = formatAddr(f.version, f.srcAddr);
    const dst = formatAddr(f.version, f.dstAddr);
    if (p.app === APP_HTTP && p.http.host !== "") evidence.host = p.http.host;
    seen.setKey(TAG_PAIR, f.version, f.srcAddr, f.dstAddr, 0);
    const all = seen.upsert(p.tsUs);
    all.requests++;
    for (const x of findings) if (all.findings.size < 32) all.findings.add(x);
    evidence.all_violations = [...all.findings].sort();
    evidence.malformed_requests = all.requests;
    emit(detection(policy, TYPE, variant, {
      tsUs: p.tsUs,
      src,
      dest: dst,
      srcPort: f.srcPort,
      destPort: f.dstPort,
      proto: "TCP",
      flowId: f.id,
      evidence: { violations: findings, ...evidence },
      explanation:
        `${src} sent ${dst}:${f.dstPort} an HTTP request that breaks ` +
        `the grammar: ${findings.join(", ")}`,
    }));
  }

  /** Follows the line lengths of a request's later segments. */
  function follow(p: Packet, f: Flow, o: OpenRequest): void {
    const d = p.data, s = p.payloadOffset, e = s + p.payloadLen;
    let finding = "";
    for (let i = s; i < e; i++) {
      if (d[i] !== 0x0a) {
        o.line++;
        const max = o.requestLine ? lim.maxRequestLine : lim.maxHeaderLine;
        if (o.line > max) {
          finding = o.requestLine
            ? "request_line_too_long"
            : "header_line_too_long";
          break;
        }
        continue;
      }
      const len = o.line > 0 && d[i - 1] === 0x0d ? o.line - 1 : o.line;
      o.line = 0;
      if (o.requestLine) o.requestLine = false;
      else if (len === 0) {
        open.delete(); // end of the header block: well formed
        return;
      } else if (++o.headers > lim.maxHeaders) {
        finding = "too_many_headers";
        break;
      }
    }
    o.bytes += p.payloadLen;
    if (finding === "") {
      if (o.bytes > MAX_FOLLOW) open.delete();
      return;
    }
    const ev = {
      method: o.method,
      request_line: o.start,
      followed_bytes: o.bytes,
    };
    open.delete();
    report(p, f, "too_long", [finding], ev);
  }

  return {
    type: TYPE,
    stateSize: () => open.size,
    onPacket(p: Packet, ctx: PacketContext): void {
      if (
        p.proto !== IPPROTO_TCP || ctx.dir !== DIR_TO_SERVER ||
        p.payloadLen === 0
      ) return;
      const f = ctx.flow;
      if (f.payloadToServer !== p.payloadWireLen) {
        // A later segment: only requests still reading their headers.
        if (open.size === 0) return;
        open.setKey(
          TAG_FLOW,
          f.version,
          f.srcAddr,
          f.dstAddr,
          (f.srcPort << 16) | f.dstPort,
        );
        const o = open.get();
        if (o !== null) follow(p, f, o);
        return;
      }
      // The first payload segment the client sent.
      if (ports[f.dstPort] !== 1 && p.app !== APP_HTTP) return;
      const d = p.data, s = p.payloadOffset, e = s + p.payloadLen;
      // A request starts with a printable character; TLS (0x16) or another
      // binary protocol on an HTTP port is not ours, nor is a RST's payload.
      const c0 = d[s]!;
      if (c0 < 0x21 || c0 > 0x7e || (p.tcpFlags & TCP_RST) !== 0) return;
      const bits = checkHttpRequest(d, s, e, lim, check);
      let m = s;
      while (m < check.lineEnd && m - s < 32 && d[m] !== 0x20) m++;
      if (bits === 0) {
        if (check.openLine < 0) return;
        // The header block goes on in the next segments: follow its lines.
        open.setKey(
          TAG_FLOW,
          f.version,
          f.srcAddr,
          f.dstAddr,
          (f.srcPort << 16) | f.dstPort,
        );
        const o = open.upsert(p.tsUs);
        o.line = check.openLine;
        o.requestLine = check.openIsRequestLine;
        o.headers = check.headers;
        o.bytes = p.payloadLen;
        o.method = excerpt(d, s, m, 32);
        o.start = excerpt(d, s, check.lineEnd);
        return;
      }
      const evidence: Record<string, unknown> = {
        method: excerpt(d, s, m, 32),
        request_line: excerpt(d, s, check.lineEnd),
        segment_bytes: p.payloadLen,
      };
      if (check.badHeaderStart >= 0) {
        evidence.header = excerpt(d, check.badHeaderStart, check.badHeaderEnd);
      }
      report(p, f, worstViolation(bits), [...check.findings], evidence);
    },
  };
}
