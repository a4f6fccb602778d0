/**
 * `malformed_http`: HTTP/1.x requests that break the grammar. Every request
 * of every HTTP connection (keep-alive and pipelined ones too) is judged on
 * its whole head as the reassembled stream carried it (the `http` records
 * of `protocols/`, however the client cut it into segments) by
 * `_http_grammar.ts`: method, request line, version, header lines, control
 * bytes, lengths, and request-smuggling signs. A connection is HTTP when
 * the client's first byte is printable on an HTTP port, or it starts with
 * a known method anywhere (see `protocols/app_layer.ts`). One detection per
 * malformed request; the aggregator folds repeats from one client to one
 * server into one alert. Heads longer than 64 KiB are judged on their first
 * 64 KiB (`head_truncated`), which holds any line or header count past the
 * limits.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import { formatAddr } from "../decode/mod.ts";
import type { Flow } from "../flows/mod.ts";
import type { AppContext, AppRecord } from "../protocols/mod.ts";
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

const TAG_PAIR = 2;

/** Builds the malformed-HTTP detector. */
export function malformedHttp(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.malformed_http;
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
  function report(
    tsUs: number,
    f: Flow,
    variant: string,
    findings: string[],
    evidence: Record<string, unknown>,
  ): void {
    const src = formatAddr(f.version, f.srcAddr);
    const dst = formatAddr(f.version, f.dstAddr);
    seen.setKey(TAG_PAIR, f.version, f.srcAddr, f.dstAddr, 0);
    const all = seen.upsert(tsUs);
    all.requests++;
    for (const x of findings) if (all.findings.size < 32) all.findings.add(x);
    evidence.all_violations = [...all.findings].sort();
    evidence.malformed_requests = all.requests;
    emit(detection(policy, TYPE, variant, {
      tsUs,
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

  return {
    type: TYPE,
    appKinds: ["http"] as const,
    stateSize: () => 0,
    onApp(rec: AppRecord, ctx: AppContext): void {
      // Every request of every HTTP connection, once its head (and body) is in.
      if (rec.kind !== "http" || rec.state !== "request") return;
      const req = rec.request;
      if (req === null || ctx.transport !== "tcp") return;
      const d = req.raw, e = d.length;
      // A request starts with a printable character; TLS (0x16) or another
      // binary protocol on an HTTP port is not ours.
      const c0 = d[0];
      if (c0 === undefined || c0 < 0x21 || c0 > 0x7e) return;
      const bits = checkHttpRequest(d, 0, e, lim, check);
      if (bits === 0) return;
      let m = 0;
      while (m < check.lineEnd && m < 32 && d[m] !== 0x20) m++;
      const evidence: Record<string, unknown> = {
        method: excerpt(d, 0, m, 32),
        request_line: excerpt(d, 0, check.lineEnd),
        head_bytes: e,
        tx_id: rec.txId,
      };
      if (req.truncated) evidence.head_truncated = true;
      if (check.badHeaderStart >= 0) {
        evidence.header = excerpt(d, check.badHeaderStart, check.badHeaderEnd);
      }
      const host = rec.hostname;
      if (host !== "") evidence.host = host;
      report(
        ctx.tsUs,
        ctx.flow,
        worstViolation(bits),
        [...check.findings],
        evidence,
      );
    },
  };
}
