/**
 * Using a model: a flow observer that scores every finished flow and
 * reports the anomalous ones with their explanation, scoring one feature
 * vector for the API, and the acceptance check for a retrained model.
 *
 * @module
 */
import { formatAddr } from "../decode/mod.ts";
import { protoName } from "../events/mod.ts";
import type {
  Flow,
  FlowEndReason,
  FlowObserver,
  PacketContext,
} from "../flows/mod.ts";
import type { Packet } from "../decode/mod.ts";
import {
  FEATURE_COUNT,
  FEATURE_INDEX,
  FEATURE_NAMES,
  FeatureExtractor,
  type FeatureExtractorOptions,
} from "./features.ts";
import { type AnomalyModel, explanationText, type Reason } from "./model.ts";
import { describe, isRecord } from "./_validate.ts";

/** An anomalous flow, shaped like a detector's facts (see detect/). */
export interface AnomalyFinding {
  /** Packet time of the flow's last packet, µs. */
  tsUs: number;
  /** Client (source) and server addresses as text. */
  src: string;
  dest: string;
  /** Ports (absent for protocols without ports). */
  srcPort?: number;
  destPort?: number;
  /** EVE proto name ("TCP", "UDP", "ICMP", …). */
  proto: string;
  flowId: number;
  /** Anomaly score and the model's threshold. */
  score: number;
  threshold: number;
  /** The deviating features, most deviant first. */
  reasons: Reason[];
  /** One sentence a user can act on. */
  explanation: string;
  /** Small JSON-safe facts: score, threshold, the reasons' features and values. */
  evidence: Record<string, unknown>;
  /** Every feature of the flow, human units, by name. */
  features: Record<string, number>;
}

/** Receives anomalous flows. */
export type AnomalyHandler = (finding: AnomalyFinding) => void;

/** Options of {@link createAnomalyScorer}. */
export interface AnomalyScorerOptions extends FeatureExtractorOptions {
  /** Reasons per finding (default 3). */
  reasons?: number;
  /** Score at or above which a flow is reported (default: the model's threshold). */
  threshold?: number;
}

/** A flow observer that scores finished flows. */
export interface AnomalyScorer extends FlowObserver {
  /** The model in use. */
  readonly model: AnomalyModel;
  /** Flows scored and flows reported since creation. */
  readonly counters: { scored: number; flagged: number };
  /** Sources tracked in the host windows (bounded state, for metrics). */
  stateSize(): number;
}

function round(x: number, digits = 4): number {
  const m = 10 ** digits;
  return Math.round(x * m) / m;
}

function findingOf(
  f: Flow,
  o: {
    model: AnomalyModel;
    vec: Float64Array;
    score: number;
    threshold: number;
    top: number;
  },
): AnomalyFinding {
  const reasons = o.model.explain(o.vec, o.top);
  const evidence: Record<string, unknown> = {
    score: round(o.score),
    threshold: round(o.threshold),
  };
  for (const r of reasons) evidence[r.feature] = round(r.value, 3);
  const features: Record<string, number> = {};
  for (let i = 0; i < FEATURE_COUNT; i++) {
    features[FEATURE_NAMES[i]!] = o.vec[i]!;
  }
  const finding: AnomalyFinding = {
    tsUs: f.lastUs,
    src: formatAddr(f.version, f.srcAddr),
    dest: formatAddr(f.version, f.dstAddr),
    proto: protoName(f.proto),
    flowId: f.id,
    score: o.score,
    threshold: o.threshold,
    reasons,
    explanation: explanationText(reasons),
    evidence,
    features,
  };
  if (f.proto === 6 || f.proto === 17) {
    finding.srcPort = f.srcPort;
    finding.destPort = f.dstPort;
  }
  return finding;
}

/**
 * Creates a flow observer that computes the features of every finished
 * flow, scores them (allocation-free) and calls `onAnomaly` with a copy of
 * the flow's identity, the score and its explanation when the score reaches
 * the threshold. Add it to the pipeline's observers (it needs `onPacket`
 * for the host windows and DNS names).
 *
 * @example
 * ```ts
 * const { model } = await loadModel(flags.model);
 * const scorer = createAnomalyScorer(model, (a) => emit(a));
 * const pipeline = new Pipeline({ observers: [scorer] });
 * ```
 */
export function createAnomalyScorer(
  model: AnomalyModel,
  onAnomaly: AnomalyHandler,
  opts: AnomalyScorerOptions = {},
): AnomalyScorer {
  const threshold = opts.threshold ?? model.threshold;
  const top = opts.reasons ?? 3;
  const counters = { scored: 0, flagged: 0 };
  const fx = new FeatureExtractor((f, vec) => {
    counters.scored++;
    const score = model.score(vec);
    if (score < threshold) return;
    counters.flagged++;
    onAnomaly(findingOf(f, { model, vec, score, threshold, top }));
  }, opts);
  return {
    model,
    counters,
    onPacket(p: Packet, ctx: PacketContext): void {
      fx.onPacket(p, ctx);
    },
    onFlowEnd(f: Flow, reason: FlowEndReason): void {
      fx.onFlowEnd(f, reason);
    },
    stateSize(): number {
      return fx.windows.size;
    },
  };
}

/** A feature vector in an API body that is not valid, naming the field. */
export class FeatureVectorError extends TypeError {
  /** Path of the offending field, e.g. "features.src_ports_10s" or "features[3]". */
  readonly field: string;
  /** Creates the error for `field`. */
  constructor(field: string, message: string) {
    super(`Invalid feature vector field "${field}": ${message}`);
    this.name = "FeatureVectorError";
    this.field = field;
  }
}

/** What {@link scoreRequest} answers. */
export interface ScoreResult {
  score: number;
  threshold: number;
  verdict: "anomalous" | "normal";
  /** One sentence: why it is anomalous, or what stands out most when normal. */
  explanation: string;
  reasons: Reason[];
}

function vectorValue(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new FeatureVectorError(
      field,
      `expected a finite number, got ${describe(v)}`,
    );
  }
  return v;
}

/**
 * Parses a feature vector from an API body: an array of numbers in
 * {@link FEATURE_NAMES} order, an object with every feature by name, or
 * either under a `features` key. Values are in human units, as the
 * `features` CSV writes them. Throws a {@link FeatureVectorError} naming the
 * first bad field (answer 400 with it).
 */
export function parseFeatureVector(body: unknown): Float64Array {
  let input = body;
  let path = "";
  if (isRecord(body) && "features" in body) {
    const extra = Object.keys(body).find((k) => k !== "features");
    if (extra !== undefined) {
      throw new FeatureVectorError(extra, "unknown field");
    }
    input = body.features;
    path = "features";
  }
  const out = new Float64Array(FEATURE_COUNT);
  if (Array.isArray(input)) {
    if (input.length !== FEATURE_COUNT) {
      throw new FeatureVectorError(
        path || "(body)",
        `expected ${FEATURE_COUNT} numbers (${
          FEATURE_NAMES.join(", ")
        }), got ${input.length}`,
      );
    }
    for (let i = 0; i < FEATURE_COUNT; i++) {
      out[i] = vectorValue(input[i], `${path}[${i}]`);
    }
    return out;
  }
  if (!isRecord(input)) {
    throw new FeatureVectorError(
      path || "(body)",
      `expected an array of ${FEATURE_COUNT} numbers or an object of features by name, got ${
        describe(input)
      }`,
    );
  }
  const at = (k: string) => (path ? `${path}.${k}` : k);
  for (const k of Object.keys(input)) {
    if (!(k in FEATURE_INDEX)) {
      throw new FeatureVectorError(at(k), "unknown feature");
    }
  }
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const name = FEATURE_NAMES[i]!;
    if (!(name in input)) throw new FeatureVectorError(at(name), "missing");
    out[i] = vectorValue(input[name], at(name));
  }
  return out;
}

/**
 * Scores the feature vector in an API body (see {@link parseFeatureVector})
 * for `POST /api/detect`: score, verdict against the model's threshold and
 * an explanation. Throws a {@link FeatureVectorError} on a bad body.
 */
export function scoreRequest(body: unknown, model: AnomalyModel): ScoreResult {
  const vec = parseFeatureVector(body);
  const score = model.score(vec);
  const anomalous = score >= model.threshold;
  const reasons = model.explain(vec);
  return {
    score,
    threshold: model.threshold,
    verdict: anomalous ? "anomalous" : "normal",
    explanation: anomalous
      ? explanationText(reasons)
      : reasons.some((r) => r.deviation > 0)
      ? `Within normal for this network overall; stands out: ${
        reasons.map((r) => r.text).join("; ")
      }`
      : "Within normal for this network",
    reasons,
  };
}

/** Limits of {@link acceptNewModel}. */
export interface AcceptOptions {
  /** Largest allowed change of the threshold (absolute score units, default 0.05). */
  maxThresholdShift?: number;
  /** Least share of the held-out anomalies the candidate must flag (default 0.9). */
  minRecall?: number;
  /** Largest allowed drop in that share versus the old model (default 0.05). */
  maxRecallDrop?: number;
}

/** The verdict of {@link acceptNewModel}. */
export interface AcceptDecision {
  accept: boolean;
  /** Why it was refused (empty when accepted). */
  reasons: string[];
  thresholdShift: number;
  /** Share of held-out anomalies flagged by the old and the candidate model. */
  oldRecall: number;
  newRecall: number;
}

function recall(
  model: AnomalyModel,
  rows: readonly ArrayLike<number>[],
): number {
  let hit = 0;
  for (const r of rows) if (model.score(r) >= model.threshold) hit++;
  return rows.length === 0 ? 0 : hit / rows.length;
}

/**
 * Decides whether a retrained model may replace the one in use (pure).
 * Refuses when the threshold moved more than allowed, or the candidate
 * stops flagging the held-out known anomalies (feature vectors in human
 * units): below `minRecall`, or more than `maxRecallDrop` below the old
 * model. With no held-out anomalies it refuses: there is nothing to check
 * poisoning against.
 *
 * @example
 * ```ts
 * const d = acceptNewModel(current, candidate, knownScans);
 * if (d.accept) swap(candidate); else log.warn("model refused", { reasons: d.reasons });
 * ```
 */
export function acceptNewModel(
  old: AnomalyModel,
  candidate: AnomalyModel,
  heldOutAnomalies: readonly ArrayLike<number>[],
  opts: AcceptOptions = {},
): AcceptDecision {
  const maxShift = opts.maxThresholdShift ?? 0.05;
  const minRecall = opts.minRecall ?? 0.9;
  const maxDrop = opts.maxRecallDrop ?? 0.05;
  const reasons: string[] = [];
  const shift = candidate.threshold - old.threshold;
  if (Math.abs(shift) > maxShift) {
    reasons.push(
      `threshold moved from ${old.threshold.toFixed(4)} to ${
        candidate.threshold.toFixed(4)
      } (limit ±${maxShift})`,
    );
  }
  const oldRecall = recall(old, heldOutAnomalies);
  const newRecall = recall(candidate, heldOutAnomalies);
  if (heldOutAnomalies.length === 0) {
    reasons.push("no held-out anomalies to check the candidate against");
  } else {
    if (newRecall < minRecall) {
      reasons.push(
        `flags ${pctText(newRecall)} of the held-out anomalies (needs ${
          pctText(minRecall)
        })`,
      );
    }
    if (newRecall < oldRecall - maxDrop) {
      reasons.push(
        `flags ${
          pctText(newRecall)
        } of the held-out anomalies, the current model ${pctText(oldRecall)}`,
      );
    }
  }
  return {
    accept: reasons.length === 0,
    reasons,
    thresholdShift: shift,
    oldRecall,
    newRecall,
  };
}

function pctText(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}
