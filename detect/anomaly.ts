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
 * `detectors.anomaly`); the first detection counts them all.
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
    const { min_flows: minFlows, window_s: windowS, max_sources: maxSources } =
      policy.detectors.anomaly;
    const windowUs = windowS * 1e6;
    /** Flagged flows per source in its window, least recently flagged first. */
    const sources = new Map<string, { firstUs: number; flows: number }>();
    /** Flagged flows of the source of the flow being reported. */
    let flows = 1;
    const count = (f: Flow): number => {
      const src = formatAddr(f.version, f.srcAddr);
      let s = sources.get(src);
      if (s === undefined || f.lastUs - s.firstUs > windowUs) {
        s = { firstUs: f.lastUs, flows: 0 };
      }
      sources.delete(src);
      s.flows++;
      sources.set(src, s);
      if (sources.size > maxSources) {
        sources.delete(sources.keys().next().value!);
      }
      return s.flows;
    };
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
        ...(flows === minFlows && minFlows > 1 ? { count: minFlows } : {}),
      }));
    }, {
      ...(opts.onScored ? { onScored: opts.onScored } : {}),
      admit: (f: Flow) => {
        flows = count(f);
        if (flows < minFlows) return false;
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
