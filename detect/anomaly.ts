/**
 * The Isolation Forest as a detector of the one shape: scores every
 * finished flow with the model (ml/) and emits an `anomaly` detection with
 * the model's explanation when the score reaches its threshold. Rules and
 * the model are independent: neither silences the other. Flows evicted
 * from a full flow table are not scored (see ml/scorer.ts), and given the
 * alert pipeline's admission check the explanation is only built for
 * detections the pipeline will take.
 *
 * One flagged flow is normal life (a large download, a long ssh session);
 * a source that keeps producing them is not. So an alert needs
 * `min_flows` flagged flows from one source within `window_s` (policy
 * `detectors.anomaly`), and at least `min_share` of the flows it was
 * scored on since its first flagged one: the model flags about 1% of
 * normal flows by design, so a busy host (hundreds of flows in five
 * minutes) always has a few, while a scanner, a brute force or a tunnel
 * is flagged flow after flow. The first detection counts them all.
 * Flagged flows short of these criteria are emitted as `evidenceOnly`:
 * attached to a rule alert that names their source, else dropped by the
 * aggregator, never an alert of their own.
 *
 * @module
 */
import type { AnomalyModel, ScoredHandler } from "../ml/mod.ts";
import { formatAddr } from "../decode/mod.ts";
import type { Flow } from "../flows/mod.ts";
import { createAnomalyScorer } from "../ml/mod.ts";
import { detection, type Detector, type DetectorFactory } from "./detector.ts";

/** Options of {@link anomalyDetector}. */
export interface AnomalyDetectorOptions {
  /** Told about every scored flow (the retraining sample, ml/retrain.ts). */
  onScored?: ScoredHandler;
}

/**
 * Makes the factory of the anomaly detector for `model`.
 *
 * @example
 * ```ts
 * const detectors = createDetectors(policy, emit, {
 *   extra: [anomalyDetector(model)],
 * });
 * ```
 */
export function anomalyDetector(
  model: AnomalyModel,
  opts: AnomalyDetectorOptions = {},
): readonly ["anomaly", DetectorFactory] {
  const make: DetectorFactory = (policy, emit, admits): Detector => {
    const {
      min_flows: minFlows,
      min_share: minShare,
      window_s: windowS,
      max_sources: maxSources,
    } = policy.detectors.anomaly;
    const windowUs = windowS * 1e6;
    /**
     * Per source with a flagged flow in its window: flagged flows, flows
     * scored since the first flagged one (that one included), whether an
     * alert was raised; least recently flagged first. IPv4 sources are
     * keyed by their address as a number (no string per scored flow).
     */
    const sources = new Map<
      number | string,
      { firstUs: number; flows: number; scored: number; raised: boolean }
    >();
    const keyOf = (f: Flow): number | string =>
      f.version === 4 ? f.srcAddr[0]! >>> 0 : formatAddr(f.version, f.srcAddr);
    /** Flagged flows of the source of the flow being reported. */
    let flows = 1;
    /** True when the flow being reported opens its source's alert. */
    let opens = false;
    /** True when it falls short of the criteria: evidence for a rule only. */
    let evidenceOnly = false;
    const flagged = (f: Flow): boolean => {
      const key = keyOf(f);
      let s = sources.get(key);
      if (s === undefined || f.lastUs - s.firstUs > windowUs) {
        // This flow was scored before it was known to be flagged.
        s = { firstUs: f.lastUs, flows: 0, scored: 1, raised: false };
      }
      sources.delete(key);
      s.flows++;
      sources.set(key, s);
      if (sources.size > maxSources) {
        sources.delete(sources.keys().next().value!);
      }
      flows = s.flows;
      if (s.flows < minFlows || s.flows < minShare * s.scored) return false;
      opens = !s.raised;
      s.raised = true;
      return true;
    };
    const tap = opts.onScored;
    const scorer = createAnomalyScorer(model, (a) => {
      emit(detection(policy, "anomaly", "", {
        tsUs: a.tsUs,
        src: a.src,
        dest: a.dest,
        ...(a.srcPort === undefined ? {} : { srcPort: a.srcPort }),
        ...(a.destPort === undefined ? {} : { destPort: a.destPort }),
        proto: a.proto,
        flowId: a.flowId,
        evidence: { ...a.evidence, anomalous_flows: flows },
        explanation: a.explanation,
        // The alert that opens counts the flows that led up to it.
        ...(opens && flows > 1 ? { count: flows } : {}),
        ...(evidenceOnly ? { evidenceOnly, count: 1 } : {}),
      }));
    }, {
      onScored: (f, vec, score) => {
        tap?.(f, vec, score);
        if (sources.size === 0) return;
        const key = keyOf(f);
        const s = sources.get(key);
        if (s === undefined) return;
        if (f.lastUs - s.firstUs > windowUs) sources.delete(key);
        else s.scored++;
      },
      admit: (f: Flow) => {
        // Short of the criteria, a flagged flow is still evidence for a
        // rule alert naming its source (the aggregator drops it otherwise).
        evidenceOnly = !flagged(f);
        if (evidenceOnly) opens = false;
        return admits === undefined ||
          admits("anomaly", f.lastUs, f.version, f.srcAddr, f.dstAddr);
      },
    });
    return {
      type: "anomaly",
      onPacket: (p, ctx) => scorer.onPacket!(p, ctx),
      onFlowEnd: (f, r) => scorer.onFlowEnd!(f, r),
      stateSize: () => scorer.stateSize() + sources.size,
    };
  };
  return ["anomaly", make] as const;
}
