/**
 * `syn_flood`, `udp_flood`, `icmp_flood`: the rate of packets toward one
 * target, in one-second bins of packet time, far above the floor the policy
 * sets (`pps`) and above `baseline_factor` times the target's baseline (an
 * exponential average of its non-flood seconds).
 *
 * - SYN: half-open SYNs, i.e. SYNs to the target minus handshakes its
 *   clients completed and SYNs it refused with a RST in the same second:
 *   a busy server is not flooded, and a fast port scan (mostly refused) is
 *   a port scan, not a flood.
 * - UDP: datagrams to the target as the flow's server, while the target's
 *   replies stay under `max_reply_ratio` of them (a busy DNS server answers).
 * - ICMP: requests (echo, timestamp, …) to the target.
 *
 * The alert names the target and the top sources (a Space-Saving top-k, so
 * spoofed floods cost fixed memory) with a distinct-source estimate; its
 * `src_ip` is the top source and one alert per target is kept however the
 * top source changes.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { FloodPolicy, Policy } from "../alerts/policy.ts";
import {
  formatAddr,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Packet,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
} from "../decode/mod.ts";
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type PacketContext,
} from "../flows/mod.ts";
import { Slab } from "./_slab.ts";
import { KeyedTable } from "./_table.ts";
import {
  detection,
  type Detector,
  type Emit,
  isUnicast,
  seconds,
} from "./detector.ts";

const BIN_US = 1e6;
/** An episode ends after this many seconds without a flood second. */
const END_GAP_US = 3e6;
const UPDATE_US = 5e6;
/** Baseline smoothing per one-second bin. */
const ALPHA = 0.05;
const TOP_K = 8;
const TOP_SHOWN = 5;
const BITMAP_BITS = 4096;

const KIND_SYN = 0, KIND_UDP = 1, KIND_ICMP = 2;

/** ICMP types that are not requests: replies and errors. */
const ICMP4_NOT_REQUEST = new Set([0, 3, 4, 5, 11, 12, 14, 16, 18]);

class Target {
  version: 4 | 6 = 4;
  readonly addr: Uint32Array;
  binStartUs = 0;
  req = 0;
  rep = 0;
  binFlood = false;
  baseline = 0;
  alerting = false;
  episodeStartUs = 0;
  lastFloodBinUs = 0;
  lastUs = 0;
  packets = 0;
  reported = 0;
  peak = 0;
  peakRatio = 0;
  lastEmitUs = 0;
  readonly topWords: Uint32Array;
  readonly topCounts: Float64Array;
  /** Space-Saving overestimate of each slot (count − error is a lower bound). */
  readonly topErrors: Float64Array;
  nTop = 0;
  readonly bitmap: Uint32Array;
  bitsSet = 0;
  ports = new Map<number, number>();

  constructor(slab: Slab) {
    this.addr = slab.u32(4);
    this.topWords = slab.u32(TOP_K * 4);
    this.topCounts = slab.f64(TOP_K);
    this.topErrors = slab.f64(TOP_K);
    this.bitmap = slab.u32(BITMAP_BITS / 32);
  }

  reset(): void {
    this.binStartUs = this.req = this.rep = 0;
    this.binFlood = false;
    this.baseline = 0;
    this.endEpisode();
  }

  endEpisode(): void {
    this.alerting = false;
    this.episodeStartUs = this.lastFloodBinUs = this.lastUs = 0;
    this.packets =
      this.reported =
      this.peak =
      this.peakRatio =
        0;
    this.lastEmitUs = 0;
    this.nTop = 0;
    this.topCounts.fill(0);
    this.topErrors.fill(0);
    this.bitmap.fill(0);
    this.bitsSet = 0;
    this.ports.clear();
  }

  /** Space-Saving: count one packet from `src`. */
  countSource(src: Uint32Array): void {
    const w = this.topWords, c = this.topCounts;
    let min = 0;
    for (let i = 0; i < this.nTop; i++) {
      const o = i * 4;
      if (
        w[o] === src[0] && w[o + 1] === src[1] && w[o + 2] === src[2] &&
        w[o + 3] === src[3]
      ) {
        c[i]!++;
        return;
      }
      if (c[i]! < c[min]!) min = i;
    }
    let slot = this.nTop;
    let base = 0;
    if (slot < TOP_K) this.nTop++;
    else {
      slot = min;
      base = c[min]!;
    }
    const o = slot * 4;
    w[o] = src[0]!;
    w[o + 1] = src[1]!;
    w[o + 2] = src[2]!;
    w[o + 3] = src[3]!;
    c[slot] = base + 1;
    this.topErrors[slot] = base;
    // Linear counting of distinct sources.
    let h = Math.imul(src[0]! ^ 0x9e3779b9, 0x85ebca6b) ^ src[1]! ^
      Math.imul(src[2]!, 0xc2b2ae35) ^ src[3]!;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    const bit = (h ^ (h >>> 13)) & (BITMAP_BITS - 1);
    const m = 1 << (bit & 31);
    const wi = bit >>> 5;
    if ((this.bitmap[wi]! & m) === 0) {
      this.bitmap[wi] = this.bitmap[wi]! | m;
      this.bitsSet++;
    }
  }

  /** Distinct sources estimated by linear counting over the episode. */
  distinctSources(): number {
    if (this.bitsSet === 0) return 0;
    const zeros = BITMAP_BITS - this.bitsSet;
    if (zeros === 0) return Math.round(BITMAP_BITS * Math.log(BITMAP_BITS));
    return Math.round(-BITMAP_BITS * Math.log(zeros / BITMAP_BITS));
  }
}

function floodDetector(
  type: AlertType,
  kind: number,
  cfg: FloodPolicy,
  policy: Policy,
  emit: Emit,
): Detector {
  const alerting = new Set<Target>();
  const slab = new Slab();
  const table = new KeyedTable<Target>(
    cfg.max_targets,
    () => new Target(slab),
    (t) => {
      alerting.delete(t);
      t.reset();
    },
    (t) => {
      if (t.alerting) report(t, true);
    },
  );
  const label = kind === KIND_SYN
    ? "unanswered SYNs"
    : kind === KIND_UDP
    ? "UDP datagrams"
    : "ICMP requests";

  function metric(t: Target): number {
    return kind === KIND_SYN ? t.req - t.rep : t.req;
  }

  function report(t: Target, final: boolean): void {
    t.lastEmitUs = t.lastUs;
    const count = t.packets - t.reported;
    t.reported = t.packets;
    // Top sources by count, best first.
    const order: number[] = [];
    for (let i = 0; i < t.nTop; i++) order.push(i);
    // By guaranteed count (Space-Saving's count minus its error).
    const low = (i: number) => t.topCounts[i]! - t.topErrors[i]!;
    order.sort((a, b) => low(b) - low(a) || t.topCounts[b]! - t.topCounts[a]!);
    const top = order.slice(0, TOP_SHOWN).map((i) => ({
      ip: formatAddr(t.version, t.topWords.subarray(i * 4, i * 4 + 4)),
      packets: low(i),
    }));
    const target = formatAddr(t.version, t.addr);
    const distinct = t.distinctSources();
    const src = top[0]?.ip ?? "0.0.0.0";
    const topShare = t.packets > 0 && top[0] ? top[0].packets / t.packets : 0;
    let port = -1, portN = 0;
    for (const [p, n] of t.ports) if (n > portN) [port, portN] = [p, n];
    const evidence: Record<string, unknown> = {
      target,
      peak_pps: Math.round(t.peak),
      packets: t.packets,
      duration_s: seconds(t.lastUs - t.episodeStartUs),
      baseline_pps: Math.round(t.baseline * 10) / 10,
      threshold_pps: cfg.pps,
      top_sources: top,
      distinct_sources_est: distinct,
      spoofed_likely: distinct > 64 && topShare < 0.5,
      ended: final,
    };
    if (kind !== KIND_ICMP) {
      evidence.reply_ratio = Math.round(t.peakRatio * 1000) / 1000;
    }
    if (port >= 0) evidence.top_dest_port = port;
    const proto = kind === KIND_SYN
      ? "TCP"
      : kind === KIND_UDP
      ? "UDP"
      : t.version === 6
      ? "IPv6-ICMP"
      : "ICMP";
    const d = detection(policy, type, "", {
      tsUs: t.lastUs,
      count,
      firstUs: t.episodeStartUs,
      src,
      dest: target,
      proto,
      key: `flood>${target}`,
      evidence,
      explanation:
        `${target} received up to ${Math.round(t.peak)} ${label}/s ` +
        `(floor ${cfg.pps}/s, baseline ${Math.round(t.baseline)}/s) from ` +
        (distinct > 1 ? `about ${distinct} sources, top ${src}` : src),
    });
    if (port >= 0 && kind !== KIND_ICMP) d.destPort = port;
    emit(d);
  }

  /** Closes the bin(s) before `nowUs`. */
  function roll(t: Target, nowUs: number): void {
    if (nowUs < t.binStartUs + BIN_US) return;
    const rate = metric(t) < 0 ? 0 : metric(t);
    if (t.binFlood) {
      if (rate > t.peak) t.peak = rate;
      t.lastFloodBinUs = t.binStartUs;
    } else if (t.binStartUs !== 0) {
      t.baseline += ALPHA * (rate - t.baseline);
    }
    const bins = Math.floor((nowUs - t.binStartUs) / BIN_US);
    // Empty seconds in between pull the baseline down.
    if (t.binStartUs !== 0 && bins > 1) {
      t.baseline *= Math.pow(1 - ALPHA, Math.min(bins - 1, 1000));
    }
    t.binStartUs = t.binStartUs === 0 ? nowUs : t.binStartUs + bins * BIN_US;
    t.req = t.rep = 0;
    t.binFlood = false;
    if (t.alerting) {
      if (t.binStartUs - t.lastFloodBinUs > END_GAP_US) {
        report(t, true);
        alerting.delete(t);
        t.endEpisode();
      } else if (t.lastUs - t.lastEmitUs >= UPDATE_US) {
        report(t, false);
      }
    }
  }

  function request(p: Packet, addr: Uint32Array, port: number): void {
    table.setKey(kind + 1, p.ipVersion, addr, null, 0);
    const t = table.upsert(p.tsUs);
    if (table.lastCreated) {
      t.version = p.ipVersion === 6 ? 6 : 4;
      t.addr.set(addr);
      t.binStartUs = p.tsUs;
    }
    roll(t, p.tsUs);
    t.req++;
    const m = metric(t);
    if (t.alerting || m >= cfg.pps >> 2) {
      t.countSource(p.src);
      if (t.ports.size < 64 || t.ports.has(port)) {
        t.ports.set(port, (t.ports.get(port) ?? 0) + 1);
      }
    }
    if (t.alerting) {
      t.packets++;
      if (p.tsUs > t.lastUs) t.lastUs = p.tsUs;
      if (t.binFlood && m > t.peak) t.peak = m;
    }
    if (t.binFlood || m < cfg.pps || m < cfg.baseline_factor * t.baseline) {
      return;
    }
    const ratio = t.req > 0 ? t.rep / t.req : 0;
    if (kind === KIND_UDP && ratio > cfg.max_reply_ratio) return;
    t.binFlood = true;
    if (ratio > t.peakRatio) t.peakRatio = ratio;
    if (m > t.peak) t.peak = m;
    if (!t.alerting) {
      t.alerting = true;
      t.episodeStartUs = t.binStartUs;
      t.packets = t.req;
      t.lastUs = p.tsUs;
      alerting.add(t);
      report(t, false);
    }
  }

  function reply(p: Packet, addr: Uint32Array): void {
    table.setKey(kind + 1, p.ipVersion, addr, null, 0);
    const t = table.get();
    if (t === null) return;
    roll(t, p.tsUs);
    t.rep++;
  }

  return {
    type,
    stateSize: () => table.size,
    onPacket(p: Packet, ctx: PacketContext): void {
      const proto = p.proto;
      if (kind === KIND_SYN) {
        if (proto !== IPPROTO_TCP) return;
        const fl = p.tcpFlags;
        if ((fl & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
          if (isUnicast(p.ipVersion, p.dst)) request(p, p.dst, p.dstPort);
        } else if (
          ctx.dir === DIR_TO_SERVER &&
          (fl & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_ACK &&
          ctx.flow.synAckCount > 0 && ctx.flow.pktsToServer === 2
        ) {
          reply(p, p.dst); // the handshake's last ACK: answered
        } else if (
          ctx.dir === DIR_TO_CLIENT && (fl & TCP_RST) !== 0 &&
          ctx.flow.rstCount === 1 && ctx.flow.synAckCount === 0
        ) {
          reply(p, p.src); // a SYN refused: no half-open connection left
        }
      } else if (kind === KIND_UDP) {
        if (proto !== IPPROTO_UDP) return;
        if (ctx.dir === DIR_TO_SERVER) {
          if (isUnicast(p.ipVersion, p.dst)) request(p, p.dst, p.dstPort);
        } else if (ctx.dir === DIR_TO_CLIENT) {
          reply(p, p.src);
        }
      } else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
        const t = p.icmpType;
        const req = proto === IPPROTO_ICMP
          ? !ICMP4_NOT_REQUEST.has(t)
          : t === 128;
        if (req && isUnicast(p.ipVersion, p.dst)) request(p, p.dst, t);
        else if (t === 0 || t === 129) reply(p, p.src);
      }
    },
    onTick(nowUs: number): void {
      if (alerting.size === 0) return;
      for (const t of alerting) roll(t, nowUs);
    },
    onFinish(nowUs: number): void {
      for (const t of alerting) {
        roll(t, nowUs);
        if (t.alerting) report(t, true);
      }
    },
  };
}

/** Builds the SYN-flood detector. */
export function synFlood(policy: Policy, emit: Emit): Detector {
  return floodDetector(
    "syn_flood",
    KIND_SYN,
    policy.detectors.syn_flood,
    policy,
    emit,
  );
}

/** Builds the UDP-flood detector. */
export function udpFlood(policy: Policy, emit: Emit): Detector {
  return floodDetector(
    "udp_flood",
    KIND_UDP,
    policy.detectors.udp_flood,
    policy,
    emit,
  );
}

/** Builds the ICMP-flood detector. */
export function icmpFlood(policy: Policy, emit: Emit): Detector {
  return floodDetector(
    "icmp_flood",
    KIND_ICMP,
    policy.detectors.icmp_flood,
    policy,
    emit,
  );
}
