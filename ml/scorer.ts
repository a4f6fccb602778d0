/**
 * Using a model: a flow observer that scores every finished flow and
 * reports the anomalous ones with their explanation, scoring one feature
 * vector for the API, and the acceptance check for a retrained model.
 *
 * @module
 */
import { formatAddr, IPPROTO_TCP, IPPROTO_UDP } from "../decode/mod.ts";
import { protoName, rrtypeName } from "../events/mod.ts";
import {
  type Flow,
  type FlowEndReason,
  type FlowObserver,
  type PacketContext,
  TCP_STATE_NAMES,
} from "../flows/mod.ts";
import type { Packet } from "../decode/mod.ts";
import {
  FEATURE_COUNT,
  FEATURE_INDEX,
  FEATURE_NAMES,
  FeatureExtractor,
  type FeatureExtractorOptions,
  nameEntropy,
  portClass,
} from "./features.ts";
import { type AnomalyModel, explanationText, type Reason } from "./model.ts";
import { isRecord, show } from "../common/validate.ts";

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

/**
 * Sees every scored flow: the flow, its feature vector (human units; the
 * array is reused, copy what you keep) and its score. Called on the live
 * path: must not allocate.
 */
export type ScoredHandler = (
  flow: Flow,
  features: Float64Array,
  score: number,
) => void;

/** Options of {@link createAnomalyScorer}. */
export interface AnomalyScorerOptions extends FeatureExtractorOptions {
  /** Reasons per finding (default 3). */
  reasons?: number;
  /** Score at or above which a flow is reported (default: the model's threshold). */
  threshold?: number;
  /** Told about every scored flow, flagged or not (e.g. the retraining sample). */
  onScored?: ScoredHandler;
  /**
   * Asked about each flagged flow before its explanation is built (strings,
   * sorting): false drops the finding unexplained and counts it in
   * `counters.declined`, e.g. when the alert pipeline would rate-limit it
   * away. Called on the live path: must not allocate for a flood of
   * flagged flows. Default: every flagged flow is reported.
   */
  admit?: (flow: Flow, score: number) => boolean;
}

/** What an {@link AnomalyScorer} did with the flows that ended. */
export interface AnomalyScorerCounters {
  /** Flows scored. */
  scored: number;
  /** Scored flows at or above the threshold. */
  flagged: number;
  /** Flagged flows not reported because `admit` declined them. */
  declined: number;
  /**
   * Flows ended by eviction from a full flow table, not scored: the table
   * is under pressure (a flood of new flows, which the flood and scan
   * rules cover), and scoring them would slow the pipeline when it can
   * least afford it.
   */
  evicted: number;
}

/** A flow observer that scores finished flows. */
export interface AnomalyScorer extends FlowObserver {
  /** The model in use. */
  readonly model: AnomalyModel;
  /** What it did since creation. */
  readonly counters: AnomalyScorerCounters;
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
 * the threshold. Flows ended by eviction are counted, not scored (see
 * {@link AnomalyScorerCounters.evicted}). Add it to the pipeline's observers (it needs `onPacket`
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
  const counters = { scored: 0, flagged: 0, declined: 0, evicted: 0 };
  const tap = opts.onScored;
  const admit = opts.admit;
  const fx = new FeatureExtractor((f, vec, reason) => {
    if (reason === "evicted") {
      counters.evicted++;
      return;
    }
    counters.scored++;
    const score = model.score(vec);
    if (tap !== undefined) tap(f, vec, score);
    if (score < threshold) return;
    counters.flagged++;
    if (admit !== undefined && !admit(f, score)) {
      counters.declined++;
      return;
    }
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
  /** The vector scored, human units, by feature name. */
  features: Record<string, number>;
}

function vectorValue(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new FeatureVectorError(
      field,
      `expected a finite number, got ${show(v)}`,
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
        show(input)
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

/** A flow description in an API body that is not valid, naming the field. */
export class FlowDescriptionError extends TypeError {
  /** Path of the offending field, e.g. "flow.dest_port". */
  readonly field: string;
  /** Creates the error for `field`. */
  constructor(field: string, message: string) {
    super(`Invalid flow description field "${field}": ${message}`);
    this.name = "FlowDescriptionError";
    this.field = field;
  }
}

/** One field of a flow description: its value, default and the feature it sets. */
export interface FlowFieldDoc {
  readonly name: string;
  /** What it takes, in words. */
  readonly type: string;
  /** Used when absent, in words. */
  readonly default: string;
  /** The feature(s) it sets. */
  readonly features: string;
}

/**
 * The fields of a flow description (`POST /api/detect` with `{ "flow": {…} }`),
 * named like Suricata's EVE flow records where one exists. Every field is
 * optional; derived features (`pkt_size_mean`, `no_reply`) are computed.
 */
export const FLOW_FIELDS: readonly FlowFieldDoc[] = [
  {
    name: "proto",
    type: `"tcp", "udp", "icmp", "icmpv6" ("ipv6-icmp") or "other"; any case`,
    default: `"tcp"`,
    features: "proto_class",
  },
  {
    name: "dest_port",
    type: "integer 0–65535, tcp and udp only",
    default: "none (port class 0)",
    features: "port_class",
  },
  {
    name: "app_proto",
    type: `"dns", "http", "tls" or "none"`,
    default: `"none"`,
    features: "app",
  },
  {
    name: "duration_s",
    type: "seconds ≥ 0",
    default: "0",
    features: "duration",
  },
  {
    name: "pkts_toserver",
    type: "integer ≥ 0",
    default: "1",
    features: "pkts_out",
  },
  {
    name: "pkts_toclient",
    type: "integer ≥ 0",
    default: "0",
    features: "pkts_in, no_reply (1 when 0)",
  },
  {
    name: "bytes_toserver",
    type: "bytes ≥ 0",
    default: "60 a packet to the server",
    features: "bytes_out, pkt_size_mean",
  },
  {
    name: "bytes_toclient",
    type: "bytes ≥ 0",
    default: "60 a packet to the client",
    features: "bytes_in, pkt_size_mean",
  },
  {
    name: "payload_toserver",
    type: "bytes ≥ 0",
    default: "bytes_toserver beyond 60 a packet (a minimal frame's headers)",
    features: "payload_out",
  },
  {
    name: "payload_toclient",
    type: "bytes ≥ 0",
    default: "bytes_toclient beyond 60 a packet",
    features: "payload_in",
  },
  {
    name: "pkt_size_sd",
    type: "bytes ≥ 0",
    default: "0",
    features: "pkt_size_sd",
  },
  {
    name: "iat_mean_ms",
    type: "milliseconds ≥ 0",
    default: "duration / (packets − 1), 0 for one packet",
    features: "iat_mean",
  },
  {
    name: "iat_max_ms",
    type: "milliseconds ≥ 0",
    default: "iat_mean_ms",
    features: "iat_max",
  },
  {
    name: "syn",
    type: "integer ≥ 0, tcp only",
    default: "1 for tcp, else 0",
    features: "syn",
  },
  { name: "rst", type: "integer ≥ 0, tcp only", default: "0", features: "rst" },
  { name: "fin", type: "integer ≥ 0, tcp only", default: "0", features: "fin" },
  {
    name: "tcp_state",
    type:
      `"none", "syn_sent", "syn_recv", "established", "closing", "closed" or "reset"; tcp only`,
    default:
      `tcp: "reset" with a RST, "syn_sent" without packets back, "closed" with 2 FINs, "closing" with 1, else "established"; others "none"`,
    features: "tcp_state",
  },
  {
    name: "icmp_type",
    type: "integer 0–255, icmp and icmpv6 only",
    default: "none (-1)",
    features: "icmp_type",
  },
  {
    name: "dns_query",
    type: "a DNS name, at most 253 characters",
    default: "none",
    features: "dns_qname_len, dns_qname_entropy",
  },
  {
    name: "dns_qtype",
    type: `integer 1–65535 or a type name ("A", "TXT", "TYPE65399")`,
    default: `"A" with dns_query, else none (0)`,
    features: "dns_qtype",
  },
  {
    name: "src_ports_10s",
    type: "integer ≥ 0",
    default: "1 with dest_port, else 0",
    features: "src_ports_10s",
  },
  {
    name: "src_hosts_10s",
    type: "integer ≥ 0",
    default: "1",
    features: "src_hosts_10s",
  },
  {
    name: "src_flows_10s",
    type: "integer ≥ 0",
    default: "1",
    features: "src_flows_10s",
  },
  {
    name: "src_failed_10s",
    type: "integer ≥ 0",
    default:
      "1 when this flow is a failed TCP connection (no payload back, and a RST or no packets back), else 0",
    features: "src_failed_10s",
  },
];

const FLOW_FIELD_NAMES = new Set(FLOW_FIELDS.map((f) => f.name));
const PROTOS: Record<string, number> = {
  tcp: 0,
  udp: 1,
  icmp: 2,
  icmpv6: 2,
  "ipv6-icmp": 2,
  other: 3,
};
const APPS: Record<string, number> = { none: 0, dns: 1, http: 2, tls: 3 };
let rrtypeCodes: Map<string, number> | null = null;

function rrtypeCode(name: string): number | undefined {
  if (rrtypeCodes === null) {
    rrtypeCodes = new Map();
    for (let t = 1; t <= 300; t++) {
      const n = rrtypeName(t);
      if (!n.startsWith("TYPE")) rrtypeCodes.set(n, t);
    }
  }
  const up = name.toUpperCase();
  const m = /^TYPE(\d{1,5})$/.exec(up);
  if (m !== null) {
    const t = Number(m[1]);
    return t >= 1 && t <= 65535 ? t : undefined;
  }
  return rrtypeCodes.get(up);
}

/**
 * Maps a flow description (see {@link FLOW_FIELDS}) onto a feature vector
 * in human units. Absent fields take the documented defaults; an unknown
 * field, a wrong type or an out-of-range value throws a
 * {@link FlowDescriptionError} naming it (`path` prefixes the name).
 *
 * @example
 * ```ts
 * const vec = parseFlowDescription({ proto: "tcp", dest_port: 22, pkts_toclient: 0 });
 * model.score(vec);
 * ```
 */
export function parseFlowDescription(
  input: unknown,
  path = "flow",
): Float64Array {
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (!isRecord(input)) {
    throw new FlowDescriptionError(
      path || "(body)",
      `expected an object of flow fields, got ${show(input)}`,
    );
  }
  for (const k of Object.keys(input)) {
    if (!FLOW_FIELD_NAMES.has(k)) {
      throw new FlowDescriptionError(
        at(k),
        `unknown field (known: ${[...FLOW_FIELD_NAMES].join(", ")})`,
      );
    }
  }
  const num = (k: string, integer: boolean, max = 1e15): number | undefined => {
    const v = input[k];
    if (v === undefined) return undefined;
    if (
      typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > max ||
      (integer && !Number.isInteger(v))
    ) {
      throw new FlowDescriptionError(
        at(k),
        `expected ${
          integer ? "an integer" : "a number"
        } from 0 to ${max}, got ${show(v)}`,
      );
    }
    return v;
  };
  const word = (
    k: string,
    table: Record<string, number>,
  ): number | undefined => {
    const v = input[k];
    if (v === undefined) return undefined;
    const code = typeof v === "string" ? table[v.toLowerCase()] : undefined;
    if (code === undefined) {
      throw new FlowDescriptionError(
        at(k),
        `expected one of ${
          Object.keys(table).map((x) => `"${x}"`).join(", ")
        }, got ${show(v)}`,
      );
    }
    return code;
  };
  const only = (k: string, ok: boolean, which: string): void => {
    if (!ok && input[k] !== undefined) {
      throw new FlowDescriptionError(at(k), `only for ${which} flows`);
    }
  };
  const protoClass = word("proto", PROTOS) ?? 0;
  const tcp = protoClass === 0, udp = protoClass === 1;
  const icmp = protoClass === 2;
  only("dest_port", tcp || udp, "tcp and udp");
  for (const k of ["syn", "rst", "fin", "tcp_state"]) only(k, tcp, "tcp");
  only("icmp_type", icmp, "icmp and icmpv6");
  const destPort = num("dest_port", true, 65535);
  const pktsOut = num("pkts_toserver", true) ?? 1;
  const pktsIn = num("pkts_toclient", true) ?? 0;
  const bytesOut = num("bytes_toserver", false) ?? 60 * pktsOut;
  const bytesIn = num("bytes_toclient", false) ?? 60 * pktsIn;
  const payloadIn = num("payload_toclient", false) ??
    Math.max(0, bytesIn - 60 * pktsIn);
  const duration = num("duration_s", false) ?? 0;
  const pkts = pktsOut + pktsIn;
  const iatMean = num("iat_mean_ms", false) ??
    (pkts > 1 ? (duration * 1000) / (pkts - 1) : 0);
  const rst = num("rst", true) ?? 0;
  const fin = num("fin", true) ?? 0;
  let state = 0;
  if (input.tcp_state !== undefined) {
    const i = typeof input.tcp_state === "string"
      ? (TCP_STATE_NAMES as readonly string[]).indexOf(input.tcp_state)
      : -1;
    if (i < 0) {
      throw new FlowDescriptionError(
        at("tcp_state"),
        `expected one of ${
          TCP_STATE_NAMES.map((x) => `"${x}"`).join(", ")
        }, got ${show(input.tcp_state)}`,
      );
    }
    state = i;
  } else if (tcp) {
    state = rst > 0 ? 6 : pktsIn === 0 ? 1 : fin >= 2 ? 5 : fin === 1 ? 4 : 3;
  }
  let qname = "";
  if (input.dns_query !== undefined) {
    const q = input.dns_query;
    const name = typeof q === "string" && q.endsWith(".") ? q.slice(0, -1) : q;
    if (typeof name !== "string" || name.length > 253) {
      throw new FlowDescriptionError(
        at("dns_query"),
        `expected a DNS name of at most 253 characters, got ${show(q)}`,
      );
    }
    qname = name;
  }
  let qtype = qname === "" ? 0 : 1;
  if (input.dns_qtype !== undefined) {
    const v = input.dns_qtype;
    const t = typeof v === "number"
      ? (Number.isInteger(v) && v >= 1 && v <= 65535 ? v : undefined)
      : typeof v === "string"
      ? rrtypeCode(v)
      : undefined;
    if (t === undefined) {
      throw new FlowDescriptionError(
        at("dns_qtype"),
        `expected a DNS type (1–65535, or a name such as "A" or "TXT"), got ${
          show(v)
        }`,
      );
    }
    qtype = t;
  }
  const failed = tcp && payloadIn === 0 && (rst > 0 || pktsIn === 0);
  const out = new Float64Array(FEATURE_COUNT);
  const set = (name: string, v: number) => {
    out[FEATURE_INDEX[name]!] = v;
  };
  set("proto_class", protoClass);
  set(
    "port_class",
    destPort === undefined
      ? 0
      : portClass(tcp ? IPPROTO_TCP : IPPROTO_UDP, destPort),
  );
  set("app", word("app_proto", APPS) ?? 0);
  set("duration", duration);
  set("pkts_out", pktsOut);
  set("pkts_in", pktsIn);
  set("bytes_out", bytesOut);
  set("bytes_in", bytesIn);
  set(
    "payload_out",
    num("payload_toserver", false) ?? Math.max(0, bytesOut - 60 * pktsOut),
  );
  set("payload_in", payloadIn);
  set("pkt_size_mean", pkts > 0 ? (bytesOut + bytesIn) / pkts : 0);
  set("pkt_size_sd", num("pkt_size_sd", false) ?? 0);
  set("iat_mean", iatMean);
  set("iat_max", num("iat_max_ms", false) ?? iatMean);
  set("syn", num("syn", true) ?? (tcp ? 1 : 0));
  set("rst", rst);
  set("fin", fin);
  set("tcp_state", state);
  set("no_reply", pktsIn === 0 ? 1 : 0);
  set("icmp_type", num("icmp_type", true, 255) ?? -1);
  set("dns_qname_len", qname.length);
  set("dns_qname_entropy", nameEntropy(qname));
  set("dns_qtype", qtype);
  set(
    "src_ports_10s",
    num("src_ports_10s", true) ??
      (destPort !== undefined && destPort > 0 ? 1 : 0),
  );
  set("src_hosts_10s", num("src_hosts_10s", true) ?? 1);
  set("src_flows_10s", num("src_flows_10s", true) ?? 1);
  set("src_failed_10s", num("src_failed_10s", true) ?? (failed ? 1 : 0));
  return out;
}

/**
 * Parses the body of `POST /api/detect`: `{ "flow": {…} }` is a flow
 * description ({@link parseFlowDescription}); anything else a feature
 * vector ({@link parseFeatureVector}). Throws a {@link FlowDescriptionError}
 * or {@link FeatureVectorError} naming the bad field.
 */
export function parseDetectBody(body: unknown): Float64Array {
  if (isRecord(body) && "flow" in body) {
    const extra = Object.keys(body).find((k) => k !== "flow");
    if (extra !== undefined) {
      throw new FlowDescriptionError(
        extra,
        `unknown field (give either "flow" or "features")`,
      );
    }
    return parseFlowDescription(body.flow, "flow");
  }
  return parseFeatureVector(body);
}

/**
 * Scores the body of `POST /api/detect` (a feature vector or a flow
 * description, see {@link parseDetectBody}): score, verdict against the
 * model's threshold, an explanation and the vector scored. Throws a
 * {@link FeatureVectorError} or {@link FlowDescriptionError} on a bad body.
 */
export function scoreRequest(body: unknown, model: AnomalyModel): ScoreResult {
  const vec = parseDetectBody(body);
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
    features: Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, vec[i]!])),
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
