/**
 * The rule engine as a detector of alert type `signature`: a
 * {@link RuleAdapter} feeding the engine, whose matches become
 * {@link Detection}s with Suricata's alert fields (signature_id = sid, rev,
 * gid, signature = msg, category = the classtype's description, severity
 * = the rule's priority, metadata). Plugs into `createDetectors` as an
 * extra detector, like the anomaly scorer.
 *
 * @module
 */
import type { AlertType, Detection, Severity } from "../alerts/alert.ts";
import { formatAddr } from "../decode/mod.ts";
import type { Detector, DetectorFactory } from "../detect/mod.ts";
import { protoName } from "../events/mod.ts";
import { RuleAdapter } from "./adapter.ts";
import type { Inspection, RuleEngine } from "./engine.ts";
import { parseMetadata } from "./compile.ts";
import type { Rule } from "./rule.ts";

/** The Detection of a rule match. */
export function ruleDetection(r: Rule, x: Inspection): Detection {
  const src = formatAddr(x.version, x.src);
  const dest = formatAddr(x.version, x.dst);
  const proto = protoName(x.proto);
  return {
    type: "signature",
    tsUs: x.tsUs,
    src,
    dest,
    srcPort: x.srcPort || undefined,
    destPort: x.dstPort || undefined,
    proto,
    flowId: x.flowId >= 0 ? x.flowId : undefined,
    signature: r.msg,
    signatureId: r.sid,
    rev: r.rev,
    gid: r.gid,
    metadata: parseMetadata(r.metadataText),
    category: r.category,
    severity: r.priority as Severity,
    evidence: {
      rule_action: r.action,
      classtype: r.classtype,
      app_proto: x.app || undefined,
      rule_file: r.file.replace(/^.*[\\/]/, ""),
      rule_line: r.line,
    },
    explanation: `Rule ${r.gid}:${r.sid}:${r.rev} matched ${proto} ` +
      `${src}:${x.srcPort} → ${dest}:${x.dstPort}` +
      (r.category !== "" ? ` (${r.category})` : "") +
      (r.action === "drop" || r.action === "reject"
        ? `; the rule says ${r.action}, enforced only if blocking covers its category`
        : ""),
    key: `${r.gid}:${r.sid}:${src}>${dest}`,
  };
}

/** A signature detector: what `createDetectors` gets as an extra. */
export interface SignatureDetector extends Detector {
  /** The adapter (engine swaps go through it). */
  readonly adapter: RuleAdapter;
}

/**
 * The `["signature", factory]` pair for `createDetectors`' extras. Each
 * build resets the engine's per-run state and points its matches at the
 * new emit function.
 */
export function signatureDetector(
  engine: RuleEngine,
): readonly [AlertType, DetectorFactory] {
  const make: DetectorFactory = (_policy, emit) => {
    engine.reset();
    engine.onMatch = (r, x) => emit(ruleDetection(r, x));
    const adapter = new RuleAdapter(engine);
    const d: SignatureDetector = {
      type: "signature",
      adapter,
      stateSize: () => adapter.engine.rules.length,
      onPacket: (p, ctx) => adapter.onPacket(p, ctx),
      onApp: (rec, ctx) => adapter.onApp(rec, ctx),
      onFlowEnd: (f, reason) => adapter.onFlowEnd(f, reason),
      onFinish: () => adapter.onFinish(),
    };
    return d;
  };
  return ["signature", make] as const;
}
