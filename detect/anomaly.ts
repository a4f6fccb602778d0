/**
 * The Isolation Forest as a detector of the one shape: scores every
 * finished flow with the model (ml/) and emits an `anomaly` detection with
 * the model's explanation when the score reaches its threshold. Rules and
 * the model are independent: neither silences the other. Flows evicted
 * from a full flow table are not scored (see ml/scorer.ts), and given the
 * alert pipeline's admission check the explanation is only built for
 * detections the pipeline will take.
 *
 * @module
 */
import type { AnomalyModel, ScoredHandler } from "../ml/mod.ts";
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
    const scorer = createAnomalyScorer(model, (a) => {
      emit(detection(policy, "anomaly", "", {
        tsUs: a.tsUs,
        src: a.src,
        dest: a.dest,
        ...(a.srcPort === undefined ? {} : { srcPort: a.srcPort }),
        ...(a.destPort === undefined ? {} : { destPort: a.destPort }),
        proto: a.proto,
        flowId: a.flowId,
        evidence: a.evidence,
        explanation: a.explanation,
      }));
    }, {
      ...(opts.onScored ? { onScored: opts.onScored } : {}),
      ...(admits
        ? {
          admit: (f: Flow) =>
            admits("anomaly", f.lastUs, f.version, f.srcAddr, f.dstAddr),
        }
        : {}),
    });
    return {
      type: "anomaly",
      onPacket: (p, ctx) => scorer.onPacket!(p, ctx),
      onFlowEnd: (f, r) => scorer.onFlowEnd!(f, r),
      stateSize: () => scorer.stateSize(),
    };
  };
  return ["anomaly", make] as const;
}
