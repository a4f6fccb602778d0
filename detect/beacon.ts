/**
 * `beacon`: an inside host connecting to one outside address and port at
 * regular intervals, as implants call home. Each (inside host, outside
 * address, port) keeps the start time and bytes sent of its last
 * {@link SERIES} connections (bounded; the oldest drop out). Once a series
 * holds `min_connections`, it is scored the way RITA does (Active
 * Countermeasures, `rita` pkg/beacon, "Beacon Analysis"):
 *
 * - timing: the intervals between connection starts; Bowley's quartile
 *   skew `(Q1 + Q3 − 2·Q2) / (Q3 − Q1)` scores `1 − |skew|` (symmetric
 *   jitter around a fixed period keeps it near 1), the median absolute
 *   deviation about the median (MADM) scores `1 − MADM / median` (jitter
 *   as a share of the period), and the coverage `intervals / (span /
 *   median)` scores a series without gaps; the timing score is their mean;
 * - size: the bytes sent per connection, with the same skew and MADM
 *   scores (an implant's check-in is the same request every time);
 * - the score is the mean of timing and size, 0 to 1.
 *
 * A series scoring `threshold` or more, with a median interval between
 * `min_interval_s` and `max_interval_s`, raises the alert with the
 * interval, its jitter and both scores. The usual periodic services are
 * not scored: `allow_ports` (DNS, NTP, push services) and `allow_domains`
 * matched against the TLS SNI or HTTP Host of the series' connections
 * (time sync, update checks, connectivity probes).
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  APP_HTTP,
  APP_TLS,
  formatAddr,
  type Packet,
} from "../decode/mod.ts";
import {
  DIR_TO_SERVER,
  type Flow,
  type FlowEndReason,
  type PacketContext,
} from "../flows/mod.ts";
import { protoName } from "../events/mod.ts";
import { KeyedTable } from "./_table.ts";
import { Slab } from "./_slab.ts";
import { detection, type Detector, type Emit, seconds } from "./detector.ts";

const TYPE: AlertType = "beacon";
/** Connections kept per series. */
export const SERIES = 64;
const TAG = 1;
/** A series is scored again after this many more connections. */
const RESCORE = 4;
/** Detections of one series at most this often (µs). */
const UPDATE_US = 60e6;

class Series {
  version: 4 | 6 = 4;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  port = 0;
  proto = 0;
  readonly starts: Float64Array;
  readonly sizes: Float64Array;
  /** Connections seen in all (the ring holds the last SERIES). */
  n = 0;
  /** `n` when the series was last scored. */
  scoredN = 0;
  reported = 0;
  allowed = false;
  alerted = false;
  /** Connections since the last detection of an alerting series. */
  dirty = false;
  lastUs = 0;
  lastEmitUs = -Infinity;

  constructor(slab: Slab) {
    this.src = slab.u32(4);
    this.dst = slab.u32(4);
    this.starts = slab.f64(SERIES);
    this.sizes = slab.f64(SERIES);
  }

  reset(): void {
    this.n = this.reported = this.scoredN = 0;
    this.allowed = this.alerted = this.dirty = false;
    this.lastUs = 0;
    this.lastEmitUs = -Infinity;
  }
}

/** Quartiles of sorted `a[0..n)` (linear interpolation, as numpy's default). */
function quantile(a: Float64Array, n: number, q: number): number {
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return a[lo]! + (a[hi]! - a[lo]!) * (pos - lo);
}

/** Scores of one sample: Bowley skew score, MADM score, median, MADM. */
export interface SampleScores {
  skew: number;
  madm: number;
  median: number;
  madmValue: number;
}

/**
 * RITA's two dispersion scores of `a[0..n)` (sorted in place; `scratch` at
 * least n long): `1 − |Bowley skew|` and `1 − MADM / median`, each 0–1.
 */
export function dispersionScores(
  a: Float64Array,
  n: number,
  scratch: Float64Array,
  out: SampleScores,
): SampleScores {
  const s = a.subarray(0, n).sort();
  const q1 = quantile(s, n, 0.25);
  const q2 = quantile(s, n, 0.5);
  const q3 = quantile(s, n, 0.75);
  let skew = 0;
  // RITA: a zero spread, or a median on a quartile, counts as no skew.
  if (q3 - q1 > 0 && q2 !== q1 && q2 !== q3) {
    skew = (q1 + q3 - 2 * q2) / (q3 - q1);
  }
  for (let i = 0; i < n; i++) scratch[i] = Math.abs(s[i]! - q2);
  const dev = scratch.subarray(0, n).sort();
  const madm = quantile(dev, n, 0.5);
  out.skew = 1 - Math.min(1, Math.abs(skew));
  out.madm = q2 > 0 ? Math.max(0, 1 - madm / q2) : (madm === 0 ? 1 : 0);
  out.median = q2;
  out.madmValue = madm;
  return out;
}

/** Builds the beacon detector. */
export function beacon(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.beacon;
  const allowPorts = new Set(cfg.allow_ports);
  const allowDomains = cfg.allow_domains;
  const slab = new Slab();
  const alerting = new Set<Series>();
  const table = new KeyedTable<Series>(
    cfg.max_trackers,
    () => new Series(slab),
    (s) => {
      alerting.delete(s);
      s.reset();
    },
  );
  const times = new Float64Array(SERIES);
  const gaps = new Float64Array(SERIES);
  const sizes = new Float64Array(SERIES);
  const scratch = new Float64Array(SERIES);
  const ts: SampleScores = { skew: 0, madm: 0, median: 0, madmValue: 0 };
  const ds: SampleScores = { skew: 0, madm: 0, median: 0, madmValue: 0 };

  function allowedName(name: string): boolean {
    for (const a of allowDomains) {
      if (
        name === a ||
        (name.length > a.length && name.endsWith(a) &&
          name.charCodeAt(name.length - a.length - 1) === 46)
      ) {
        return true;
      }
    }
    return false;
  }

  function outbound(
    version: number,
    src: ArrayLike<number>,
    dst: ArrayLike<number>,
  ): boolean {
    return anyCidrContains(policy.home_net, version, src) &&
      !anyCidrContains(policy.home_net, version, dst);
  }

  function score(s: Series, nowUs: number, force = false): void {
    s.scoredN = s.n;
    const k = Math.min(s.n, SERIES);
    for (let i = 0; i < k; i++) times[i] = s.starts[i]!;
    const t = times.subarray(0, k).sort();
    for (let i = 1; i < k; i++) gaps[i - 1] = t[i]! - t[i - 1]!;
    for (let i = 0; i < k; i++) sizes[i] = s.sizes[i]!;
    dispersionScores(gaps, k - 1, scratch, ts);
    const medianS = ts.median / 1e6;
    if (medianS < cfg.min_interval_s || medianS > cfg.max_interval_s) return;
    const span = t[k - 1]! - t[0]!;
    const coverage = Math.min(1, (k - 1) / (span / ts.median));
    const timing = (ts.skew + ts.madm + coverage) / 3;
    dispersionScores(sizes, k, scratch, ds);
    const size = (ds.skew + ds.madm) / 2;
    const total = (timing + size) / 2;
    if (total < cfg.threshold) return;
    if (s.alerted && !force && nowUs - s.lastEmitUs < UPDATE_US) {
      s.dirty = true;
      return;
    }
    s.alerted = true;
    s.dirty = false;
    alerting.add(s);
    s.lastEmitUs = nowUs;
    const src = formatAddr(s.version, s.src);
    const dst = formatAddr(s.version, s.dst);
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const count = s.n - s.reported;
    s.reported = s.n;
    emit(detection(policy, TYPE, "", {
      tsUs: nowUs,
      firstUs: t[0]!,
      src,
      dest: dst,
      destPort: s.port,
      proto: protoName(s.proto),
      key: `${src}>${dst}/${s.port}`,
      count,
      evidence: {
        connections: s.n,
        scored: k,
        interval_s: seconds(ts.median),
        jitter_s: seconds(ts.madmValue),
        bytes_sent_median: Math.round(ds.median),
        score: r3(total),
        timing_score: r3(timing),
        size_score: r3(size),
        skew_score: r3(ts.skew),
        madm_score: r3(ts.madm),
        coverage: r3(coverage),
        span_s: seconds(span),
        threshold: cfg.threshold,
      },
      explanation: `${src} connects to ${dst} port ${s.port} every ${
        seconds(ts.median)
      } s (jitter ±${seconds(ts.madmValue)} s, ${s.n} connections, about ${
        Math.round(ds.median)
      } bytes sent each): regular check-ins like a command-and-control beacon (score ${
        r3(total)
      })`,
    }));
  }

  return {
    type: TYPE,
    stateSize: () => table.size,
    onPacket(p: Packet, ctx: PacketContext): void {
      // Names of the usual periodic services mark their series as allowed.
      if (p.app !== APP_TLS && p.app !== APP_HTTP) return;
      if (ctx.dir !== DIR_TO_SERVER || allowDomains.length === 0) return;
      const name = p.app === APP_TLS ? p.tls.sni : p.http.host;
      if (name === "" || !allowedName(name.toLowerCase())) return;
      const f = ctx.flow;
      if (!outbound(f.version, f.srcAddr, f.dstAddr)) return;
      table.setKey(
        TAG,
        f.version,
        f.srcAddr,
        f.dstAddr,
        f.dstPort | (f.proto << 16),
      );
      const s = table.upsert(p.tsUs);
      if (table.lastCreated) {
        s.version = f.version;
        s.src.set(f.srcAddr);
        s.dst.set(f.dstAddr);
        s.port = f.dstPort;
        s.proto = f.proto;
      }
      s.allowed = true;
    },
    onFlowEnd(f: Flow, _reason: FlowEndReason): void {
      if (f.proto !== 6 && f.proto !== 17) return;
      if (f.pktsToServer === 0 || allowPorts.has(f.dstPort)) return;
      if (!outbound(f.version, f.srcAddr, f.dstAddr)) return;
      table.setKey(
        TAG,
        f.version,
        f.srcAddr,
        f.dstAddr,
        f.dstPort | (f.proto << 16),
      );
      const s = table.upsert(f.lastUs);
      if (table.lastCreated) {
        s.version = f.version;
        s.src.set(f.srcAddr);
        s.dst.set(f.dstAddr);
        s.port = f.dstPort;
        s.proto = f.proto;
      }
      if (s.allowed) return;
      const i = s.n % SERIES;
      s.starts[i] = f.firstUs;
      s.sizes[i] = f.payloadToServer;
      s.n++;
      if (f.lastUs > s.lastUs) s.lastUs = f.lastUs;
      // Scored when it reaches the minimum, then every RESCORE connections
      // (sorting 64 values per flow end is what a busy network cannot pay).
      if (
        s.n >= cfg.min_connections &&
        (s.scoredN === 0 || s.n - s.scoredN >= RESCORE)
      ) {
        score(s, f.lastUs);
      } else if (s.alerted) s.dirty = true;
    },
    onTick(nowUs: number): void {
      if (alerting.size === 0) return;
      for (const s of alerting) {
        if (s.dirty && nowUs - s.lastEmitUs >= UPDATE_US) score(s, nowUs, true);
      }
    },
    onFinish(): void {
      for (const s of alerting) if (s.dirty) score(s, s.lastUs, true);
    },
  };
}
