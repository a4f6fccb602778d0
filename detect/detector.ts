/**
 * The one shape of a detector, and small helpers every detector shares:
 * building a {@link Detection} from the signature table and the policy, and
 * address tests that need no allocation.
 *
 * A detector is an {@link AppObserver}: it sees every decoded packet with its
 * flow and hosts, every flow end, and a tick per batch, all in packet time.
 * It keeps bounded state (see `_table.ts`) and calls `emit` with a
 * Detection when it sees something; the alert pipeline (alerts/) aggregates,
 * filters and rate-limits what it emits.
 *
 * @module
 */
import type { AdmitCheck } from "../alerts/aggregator.ts";
import type { AlertType, Detection } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import type { AppObserver } from "../protocols/mod.ts";
import { signatureOf } from "./signatures.ts";

/** Receives the detections of a detector. */
export type Emit = (d: Detection) => void;

/**
 * A detector: a flow observer that emits detections of one alert type.
 *
 * @example
 * ```ts
 * const d: Detector = portScan(policy, (det) => aggregator.add(det));
 * new Pipeline({ observers: [d, aggregator.observer()] });
 * ```
 */
export interface Detector extends AppObserver {
  /** The alert type it emits. */
  readonly type: AlertType;
  /** Entries held in its bounded state (trackers), for metrics and tests. */
  stateSize(): number;
}

/**
 * Builds a detector from the policy in force and an emit function; a
 * detector whose detections are costly to build may ask `admits` first
 * (the alert pipeline's admission check) and skip what would be dropped.
 */
export type DetectorFactory = (
  policy: Policy,
  emit: Emit,
  admits?: AdmitCheck,
) => Detector;

/** The facts of one detection besides its type, variant and signature. */
export interface DetectionFacts {
  /** Packet time of the observation, µs. */
  tsUs: number;
  /** When the activity began (see {@link Detection.firstUs}). */
  firstUs?: number;
  /** Source (attacker) address as text. */
  src: string;
  /** Target address as text. */
  dest?: string;
  /** Source port. */
  srcPort?: number;
  /** Target port. */
  destPort?: number;
  /** EVE proto name ("TCP", "UDP", "ICMP", …). */
  proto: string;
  /** Flow id of the flow that showed it. */
  flowId?: number;
  /** Detector facts, small and JSON-safe. */
  evidence: Record<string, unknown>;
  /** One sentence a user can act on. */
  explanation: string;
  /** Aggregation key within the type (see {@link Detection.key}). */
  key?: string;
  /** Evidence lists kept whole across the alert (see {@link Detection.union}). */
  union?: readonly string[];
  /** Events this detection adds to the alert's count (default 1). */
  count?: number;
  /** Only corroborating evidence (see {@link Detection.evidenceOnly}). */
  evidenceOnly?: boolean;
}

/**
 * Builds a Detection of `type`/`variant`: signature id, text and category
 * from the signature table, severity from the policy.
 */
export function detection(
  policy: Policy,
  type: AlertType,
  variant: string,
  facts: DetectionFacts,
): Detection {
  const sig = signatureOf(type, variant);
  const d: Detection = {
    type,
    tsUs: facts.tsUs,
    src: facts.src,
    proto: facts.proto,
    signature: sig.signature,
    signatureId: sig.id,
    category: sig.category,
    severity: policy.detectors[type].severity,
    evidence: facts.evidence,
    explanation: facts.explanation,
  };
  if (facts.dest !== undefined) d.dest = facts.dest;
  if (facts.srcPort !== undefined) d.srcPort = facts.srcPort;
  if (facts.destPort !== undefined) d.destPort = facts.destPort;
  if (facts.flowId !== undefined) d.flowId = facts.flowId;
  if (facts.key !== undefined) d.key = facts.key;
  if (facts.union !== undefined) d.union = facts.union;
  if (facts.count !== undefined) d.count = facts.count;
  if (facts.firstUs !== undefined) d.firstUs = facts.firstUs;
  if (facts.evidenceOnly === true) d.evidenceOnly = true;
  return d;
}

/**
 * True for a unicast address a host can own: not unspecified, multicast,
 * limited broadcast, or (IPv4) class E.
 */
export function isUnicast(version: number, w: ArrayLike<number>): boolean {
  if (version === 4) {
    const a = w[0]! >>> 0;
    return a !== 0 && a < 0xe0000000;
  }
  if ((w[0]! >>> 24) === 0xff) return false;
  return !(w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0);
}

/** True when two address word arrays are equal. */
export function sameAddr(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** Seconds with millisecond precision, for evidence. */
export function seconds(us: number): number {
  return Math.round(us / 1000) / 1000;
}

/** The non-zero entries of `counts` as an object `name → count` (unnamed ones skipped). */
export function nonZero(
  names: readonly string[],
  counts: ArrayLike<number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < names.length; i++) {
    const c = counts[i] ?? 0;
    if (c > 0 && names[i] !== "") out[names[i]!] = c;
  }
  return out;
}
