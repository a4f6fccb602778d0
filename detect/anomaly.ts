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
 * scored on within `window_s` (its traffic before the first flagged flow
 * included): the model flags about 1% of normal flows by design, so a
 * busy host (hundreds of flows in five minutes) always has a few, while a
 * scanner, a brute force or a tunnel is flagged flow after flow. The
 * first detection counts them all. (Counted only since the first flagged
 * flow, the share was judged on whatever ended in the next seconds: a
 * host's three large transfers in six seconds were three of three, their
 * DNS lookups still waiting for the UDP timeout.)
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
     * Per source with a flagged flow in its window: flagged flows since the
     * first one, whether an alert was raised; least recently flagged first.
     * IPv4 sources are keyed by their address as a number (no string per
     * scored flow).
     */
    const sources = new Map<
      number | string,
      { firstUs: number; flows: number; raised: boolean }
    >();
    /**
     * Per source, flows scored in the window that started at `startUs`
     * and in the one before: the estimate of its flows scored within the
     * last `window_s` (see {@link scoredRecently}); at most `max_sources`,
     * the longest unrolled dropped first.
     */
    const traffic = new Map<
      number | string,
      { startUs: number; cur: number; prev: number }
    >();
    /**
     * Flows of source `key` scored within `window_s` before `nowUs`: the
     * current window's count and the previous one's, weighted by how much
     * of it the last `window_s` still covers (a sliding-window estimate,
     * as rate limiters keep it).
     */
    const scoredRecently = (key: number | string, nowUs: number): number => {
      const t = traffic.get(key);
      if (t === undefined) return 0;
      // Flows end out of order (UDP at its timeout): never before the start.
      const into = Math.max(0, nowUs - t.startUs) / windowUs;
      if (into >= 2) return 0;
      if (into >= 1) return t.cur * (2 - into);
      return t.cur + t.prev * (1 - into);
    };
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
        s = { firstUs: f.lastUs, flows: 0, raised: false };
      }
      sources.delete(key);
      s.flows++;
      sources.set(key, s);
      if (sources.size > maxSources) {
        sources.delete(sources.keys().next().value!);
      }
      flows = s.flows;
      if (
        s.flows < minFlows ||
        s.flows < minShare * scoredRecently(key, f.lastUs)
      ) return false;
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
        const key = keyOf(f);
        const now = f.lastUs;
        const t = traffic.get(key);
        if (t === undefined) {
          if (traffic.size >= maxSources) {
            traffic.delete(traffic.keys().next().value!);
          }
          traffic.set(key, { startUs: now, cur: 1, prev: 0 });
        } else if (now - t.startUs >= windowUs) {
          const whole = now - t.startUs >= 2 * windowUs;
          t.prev = whole ? 0 : t.cur;
          t.cur = 1;
          t.startUs = whole ? now : t.startUs + windowUs;
          // Re-inserted: the map stays ordered by the last roll.
          traffic.delete(key);
          traffic.set(key, t);
        } else t.cur++;
        if (sources.size === 0) return;
        const s = sources.get(key);
        if (s !== undefined && now - s.firstUs > windowUs) sources.delete(key);
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
      stateSize: () => scorer.stateSize() + sources.size + traffic.size,
    };
  };
  return ["anomaly", make] as const;
}
