/**
 * `malformed_http`: HTTP/1.x requests that break the grammar. The first
 * payload segment a client sends on a TCP flow to one of the policy's HTTP
 * ports (or on any flow the decoder recognised as HTTP) is checked by
 * `_http_grammar.ts`: method, request line, version, header lines, control
 * bytes, lengths, and request-smuggling signs. One detection per flow; the
 * aggregator folds repeats from one client to one server into one alert.
 * Later requests on a kept-alive connection are not checked.
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
} from "../decode/mod.ts";
import { DIR_TO_SERVER, type PacketContext } from "../flows/mod.ts";
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

  return {
    type: TYPE,
    stateSize: () => 0,
    onPacket(p: Packet, ctx: PacketContext): void {
      if (
        p.proto !== IPPROTO_TCP || ctx.dir !== DIR_TO_SERVER ||
        p.payloadLen === 0
      ) return;
      const f = ctx.flow;
      // Only the first payload segment the client sent.
      if (f.payloadToServer !== p.payloadWireLen) return;
      if (ports[f.dstPort] !== 1 && p.app !== APP_HTTP) return;
      const d = p.data, s = p.payloadOffset, e = s + p.payloadLen;
      if (d[s] === 0x16) return; // TLS on an HTTP port: not ours
      const bits = checkHttpRequest(d, s, e, lim, check);
      if (bits === 0) return;
      const variant = worstViolation(bits);
      const src = formatAddr(f.version, f.srcAddr);
      const dst = formatAddr(f.version, f.dstAddr);
      let m = s;
      while (m < check.lineEnd && m - s < 32 && d[m] !== 0x20) m++;
      const evidence: Record<string, unknown> = {
        violations: [...check.findings],
        method: excerpt(d, s, m, 32),
        request_line: excerpt(d, s, check.lineEnd),
        segment_bytes: p.payloadLen,
      };
      if (check.badHeaderStart >= 0) {
        evidence.header = excerpt(d, check.badHeaderStart, check.badHeaderEnd);
      }
      if (p.app === APP_HTTP && p.http.host !== "") evidence.host = p.http.host;
      emit(detection(policy, TYPE, variant, {
        tsUs: p.tsUs,
        src,
        dest: dst,
        srcPort: f.srcPort,
        destPort: f.dstPort,
        proto: "TCP",
        flowId: f.id,
        evidence,
        explanation:
          `${src} sent ${dst}:${f.dstPort} an HTTP request that breaks ` +
          `the grammar: ${check.findings.join(", ")}`,
      }));
    },
  };
}
