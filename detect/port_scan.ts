/**
 * `port_scan`: one source probing many ports of one host. A probe is a
 * failed or data-less connection attempt by the flow's client (see
 * `_probe.ts`); the detector counts distinct probed ports per (source,
 * target) over a sliding window and alerts when they reach the policy's
 * threshold (Zeek's scan.zeek: 15 ports in 5 minutes). The window makes slow
 * scans visible (20 ports spread over minutes) while a normal client, whose
 * connections succeed, never accumulates failed ports.
 *
 * The scan kind is told apart from the probes' flags: SYN (half-open),
 * connect, FIN, XMAS, NULL, ACK, Maimon, UDP. A refused SYN alone cannot
 * tell half-open from connect; the SYN's shape decides (nmap and hping3
 * craft SYNs with at most an MSS option, operating systems send several).
 *
 * Distributed scans: the same probes are also counted per target over all
 * sources (`_spread.ts`); `ports` distinct ports probed by at least
 * `sources` distinct sources within the window raise a `distributed` scan
 * about the target naming the sources (decoys of `nmap -D`, or a scan
 * split between machines). Its source is the first prober seen and it is
 * marked unconfirmed (decoys are spoofed), so it never blocks.
 *
 * Decoys (`nmap -D`): nmap sends each probe from every decoy address and
 * from the real one back to back, so flows from several sources to the
 * same port of the same host start within a millisecond of each other,
 * probe after probe (lockstep). Sources probing in lockstep are one
 * incident. Only the real scanner can react to the target's answers: its
 * kernel resets the SYN+ACKs of a half-open scan, or it completes the
 * handshakes of a connect scan (a spoofed address never receives them).
 * When exactly one source of the lockstep group reacted, the group gives
 * one alert naming it as the source (confirmed: it may block), the others
 * listed as `decoys`; when none or several did (stealth probes, live hosts
 * used as decoys), one alert about the target lists the group's
 * `sources` with `confirmed_source: false` (nothing blocks: the real
 * scanner cannot be told apart). Their distributed alert is the same
 * incident and is not raised. This is the "decoy portscan" of Snort's
 * sfPortscan (its README.sfportscan: spoofed sources mixed with the real one),
 * told apart by who answers (`_lockstep.ts`).
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import {
  formatAddr,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Packet,
  TCP_SYN,
} from "../decode/mod.ts";
import {
  DIR_TO_SERVER,
  type Flow,
  type FlowEndReason,
  type PacketContext,
} from "../flows/mod.ts";
import { KeyedTable } from "./_table.ts";
import { DistinctRing, PortBitset } from "./_ring.ts";
import { Slab } from "./_slab.ts";
import { SpreadTracker } from "./_spread.ts";
import {
  type DecoyVerdict,
  decoyVerdict,
  inLockstep,
  joinGroup,
  type LockstepMember,
  LockstepWatch,
  sameWords,
  verdictNote,
} from "./_lockstep.ts";
import {
  isCraftedSyn,
  newProbe,
  P_CONNECT,
  P_KINDS,
  P_SYN,
  P_SYN_REFUSED,
  P_UDP,
  PROBE_NAMES,
  probeAtEnd,
  probeAtPacket,
  type ProbeOut,
} from "./_probe.ts";
import {
  detection,
  type Detector,
  type Emit,
  nonZero,
  seconds,
} from "./detector.ts";

const TYPE: AlertType = "port_scan";
const ALONE: DecoyVerdict = { kind: "alone" };
/** Tag of pair keys in the tracker table. */
const TAG_PAIR = 1;
const TAG_CRAFTED = 2;
const TAG_TARGET = 3;
/** Cap on per-target (distributed scan) trackers. */
const MAX_TARGETS = 4096;
/** Updates of an alerting tracker are emitted at most this often (µs). */
const UPDATE_US = 5e6;
/** Ports listed in evidence. */
const SAMPLE_PORTS = 20;
/** Mean gap between new ports that makes a scan "slow" (µs). */
const SLOW_GAP_US = 2e6;
/** Largest distinct-port ring per pair (the threshold is clamped to it). */
const MAX_RING = 4096;

class PairTracker implements LockstepMember {
  version: 4 | 6 = 4;
  readonly scanner: Uint32Array;
  readonly target: Uint32Array;
  ring: DistinctRing;
  readonly kinds: Uint32Array;
  firstUs = 0;
  lastUs = 0;
  probes = 0;
  /** Probes already reported in detections. */
  reported = 0;
  tcp = 0;
  udp = 0;
  alerted = false;
  alertUs = 0;
  lastEmitUs = 0;
  dirty = false;
  seen: PortBitset | null = null;
  /** The first distinct ports probed (reused: no allocation per probe). */
  readonly sample: number[] = new Array<number>(SAMPLE_PORTS).fill(0);
  nSample = 0;
  /** A probe of this source reacted to the target's answer (see ProbeOut). */
  reacted = false;
  /** Flows it started in lockstep with another source's (decoys). */
  lockstep = 0;

  constructor(cap: number, slab: Slab) {
    this.scanner = slab.u32(4);
    this.target = slab.u32(4);
    this.kinds = slab.u32(P_KINDS);
    this.ring = new DistinctRing(cap, slab);
  }

  reset(): void {
    this.ring.clear();
    this.kinds.fill(0);
    this.firstUs = this.lastUs = 0;
    this.probes =
      this.reported =
      this.tcp =
      this.udp =
        0;
    this.alerted = false;
    this.alertUs = this.lastEmitUs = 0;
    this.dirty = false;
    this.seen = null;
    this.nSample = 0;
    this.reacted = false;
    this.lockstep = 0;
  }
}

/** Builds the port-scan detector. */
export function portScan(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.port_scan;
  const threshold = Math.min(cfg.ports, MAX_RING);
  const windowUs = cfg.window_s * 1e6;
  const alerting = new Set<PairTracker>();
  const slab = new Slab();
  const pairs = new KeyedTable<PairTracker>(
    cfg.max_trackers,
    () => new PairTracker(threshold, slab),
    (t) => {
      alerting.delete(t);
      t.reset();
    },
    (t) => {
      if (t.alerted && t.dirty) report(t, t.lastUs);
    },
  );
  // Sources that sent crafted SYNs recently: decides half-open vs connect.
  const crafted = new KeyedTable<{ n: number }>(
    4096,
    () => ({ n: 0 }),
    (v) => {
      v.n = 0;
    },
  );
  const probe = newProbe();
  const spreading = new Set<SpreadTracker>();
  const targets = new KeyedTable<SpreadTracker>(
    Math.min(cfg.max_trackers, MAX_TARGETS),
    () => new SpreadTracker(threshold, slab),
    (t) => {
      spreading.delete(t);
      t.reset();
    },
    (t) => {
      if (t.alerted && t.dirty) reportSpread(t, t.lastUs);
    },
  );

  /** Decoy groups: per target tracker, the pair trackers in lockstep. */
  const groups = new WeakMap<SpreadTracker, PairTracker[]>();
  /** The previous probe-like flow start (lockstep detection). */
  const watch = new LockstepWatch();

  function pairOf(
    version: 4 | 6,
    src: ArrayLike<number>,
    dst: ArrayLike<number>,
    nowUs: number,
  ): PairTracker {
    pairs.setKey(TAG_PAIR, version, src, dst, 0);
    const t = pairs.upsert(nowUs);
    if (pairs.lastCreated) {
      t.version = version;
      t.scanner.set(src);
      t.target.set(dst);
    }
    return t;
  }

  /** Members of `t`'s decoy group still tracking that target. */
  function groupOf(t: SpreadTracker | null): PairTracker[] {
    if (t === null) return [];
    const g = groups.get(t);
    if (g === undefined) return [];
    return g.filter((m) =>
      inLockstep(m) && m.version === t.version && sameWords(m.target, t.target)
    );
  }

  function spreadOf(
    version: 4 | 6,
    dst: ArrayLike<number>,
  ): SpreadTracker | null {
    targets.setKey(TAG_TARGET, version, dst, null, 0);
    return targets.get();
  }

  /** A flow `f` just started: counts lockstep with the previous start. */
  function onFlowStart(f: Flow, nowUs: number): void {
    const v = f.version;
    let b: PairTracker | null = null;
    if (watch.echoes(v, f.srcAddr, f.dstAddr, f.proto, f.dstPort, nowUs)) {
      const a = pairOf(v, watch.prevSrc, f.dstAddr, nowUs);
      b = pairOf(v, f.srcAddr, f.dstAddr, nowUs);
      // The previous start is counted once, by the first flow that echoes it.
      if (watch.prevMember !== a) a.lockstep++;
      b.lockstep++;
      if (inLockstep(a) || inLockstep(b)) {
        targets.setKey(TAG_TARGET, v, f.dstAddr, null, 0);
        const t = targets.upsert(nowUs);
        if (targets.lastCreated) {
          t.version = v;
          t.target.set(f.dstAddr);
        }
        let g = groups.get(t);
        if (g === undefined) {
          g = [];
          groups.set(t, g);
        } else if (g.length > 0 && !sameWords(g[0]!.target, t.target)) {
          g.length = 0; // the tracker was reused for another target
        }
        joinGroup(g, a);
        joinGroup(g, b);
      }
    }
    watch.next(v, f.srcAddr, f.dstAddr, f.proto, f.dstPort, nowUs, b);
  }

  function reportSpread(t: SpreadTracker, nowUs: number): void {
    // Sources in lockstep are one decoy scan, reported by report().
    const group = groupOf(t);
    if (group.length >= 2 && t.nSources <= group.length) {
      t.lastEmitUs = nowUs;
      t.dirty = false;
      t.reported = t.probes;
      return;
    }
    t.lastEmitUs = nowUs;
    t.dirty = false;
    const count = t.probes - t.reported;
    t.reported = t.probes;
    const sources = t.sourceList();
    const dst = formatAddr(t.version, t.target);
    const durUs = t.lastUs - t.firstUs;
    emit(detection(policy, TYPE, "distributed", {
      tsUs: t.lastUs,
      count,
      firstUs: t.firstUs,
      src: sources[0] ?? dst,
      dest: dst,
      proto: "TCP",
      key: `distributed>${dst}`,
      evidence: {
        distinct_ports: t.nItems,
        distinct_sources: t.nSources,
        sources: sources.slice(0, 20),
        probes: t.probes,
        duration_s: seconds(durUs),
        window_s: cfg.window_s,
        threshold,
        min_sources: cfg.sources,
        confirmed_source: false,
      },
      explanation: `${t.nSources} sources (${sources.slice(0, 5).join(", ")}${
        t.nSources > 5 ? ", …" : ""
      }) probed ${t.nItems} distinct ports of ${dst} in ${
        seconds(durUs)
      } s: one scan spread over several sources, or hidden among decoys`,
    }));
  }

  function onSpread(pr: ProbeOut, kind: number): void {
    targets.setKey(TAG_TARGET, pr.version, pr.target, null, 0);
    const t = targets.upsert(pr.tsUs);
    if (targets.lastCreated) {
      t.version = pr.version;
      t.target.set(pr.target);
    }
    const key = pr.port | (kind === P_UDP ? 0x10000 : 0);
    const now = pr.tsUs;
    if (
      t.add(pr.scanner, key, 0, 0, 0, now, windowUs, threshold, cfg.sources)
    ) {
      spreading.add(t);
      reportSpread(t, now);
    } else if (t.alerted && t.dirty && now - t.lastEmitUs >= UPDATE_US) {
      reportSpread(t, now);
    }
  }

  function kindOf(pr: ProbeOut): number {
    if (pr.kind !== P_SYN_REFUSED) return pr.kind;
    crafted.setKey(TAG_CRAFTED, pr.version, pr.scanner, null, 0);
    const c = crafted.get();
    return c !== null && c.n > 0 ? P_SYN : P_CONNECT;
  }

  function dominant(t: PairTracker): number {
    let best = 0;
    for (let k = 1; k < P_KINDS; k++) {
      if (t.kinds[k]! > t.kinds[best]!) best = k;
    }
    return best;
  }

  function report(t: PairTracker, nowUs: number): void {
    t.lastEmitUs = nowUs;
    t.dirty = false;
    const count = t.probes - t.reported;
    t.reported = t.probes;
    const kind = dominant(t);
    const name = PROBE_NAMES[kind] ?? "other";
    const distinct = t.seen?.count ?? t.ring.size;
    const durUs = t.lastUs - t.firstUs;
    const src = formatAddr(t.version, t.scanner);
    const dst = formatAddr(t.version, t.target);
    const proto = t.tcp > 0 && t.udp > 0
      ? "TCP+UDP"
      : t.udp > 0
      ? "UDP"
      : "TCP";
    let key: string | undefined;
    const extra: Record<string, unknown> = {};
    const verdict = t.lockstep === 0
      ? ALONE
      : decoyVerdict(groupOf(spreadOf(t.version, t.target)), t);
    switch (verdict.kind) {
      case "decoy":
        return; // its probes are listed in the real scanner's alert
      case "scanner":
        extra.decoys = verdict.decoys;
        extra.confirmed_source = true;
        break;
      case "unknown":
        key = `decoys>${dst}`;
        extra.sources = verdict.sources;
        extra.confirmed_source = false;
        break;
      case "alone":
        break;
    }
    const decoyNote = verdictNote(verdict, src);
    const evidence: Record<string, unknown> = {
      scan_kind: name,
      kinds: nonZero(PROBE_NAMES, t.kinds),
      distinct_ports: distinct,
      probes: t.probes,
      duration_s: seconds(durUs),
      ports_per_s: durUs > 0
        ? Math.round((distinct / durUs) * 1e7) / 10
        : distinct,
      // Slow: under one new port per 2 s while reaching the threshold.
      slow: t.alertUs - t.firstUs >= SLOW_GAP_US * (threshold - 1),
      window_s: cfg.window_s,
      threshold,
      sample_ports: t.sample.slice(0, t.nSample).sort((a, b) => a - b),
      ...extra,
    };
    emit(detection(policy, TYPE, name, {
      tsUs: t.lastUs,
      count,
      firstUs: t.firstUs,
      src,
      dest: dst,
      proto: proto === "UDP" ? "UDP" : "TCP",
      ...(key === undefined ? {} : { key }),
      evidence,
      explanation:
        `${src} probed ${distinct} distinct ${proto} ports of ${dst} ` +
        `in ${seconds(durUs)} s (${name} scan${
          evidence.slow ? ", slow" : ""
        })${decoyNote}`,
    }));
  }

  function onProbe(pr: ProbeOut): void {
    const kind = kindOf(pr);
    onSpread(pr, kind);
    const t = pairOf(pr.version, pr.scanner, pr.target, pr.tsUs);
    const now = pr.tsUs;
    // A tracker idle for a whole window starts over.
    if (!t.alerted && t.probes > 0 && now - t.lastUs > windowUs) {
      t.ring.clear();
      t.kinds.fill(0);
      t.probes = t.tcp = t.udp = 0;
      t.nSample = 0;
    }
    if (t.probes === 0) t.firstUs = now;
    if (now > t.lastUs) t.lastUs = now;
    t.probes++;
    t.kinds[kind]!++;
    if (pr.reacted) t.reacted = true;
    if (pr.proto === 17) t.udp++;
    else t.tcp++;
    const key = pr.port | (kind === P_UDP ? 0x10000 : 0);
    const fresh = t.ring.add(key, 0, 0, 0, now);
    if (fresh && t.nSample < SAMPLE_PORTS) t.sample[t.nSample++] = pr.port;
    if (t.alerted) {
      t.seen!.add(key);
      t.dirty = true;
      if (now - t.lastEmitUs >= UPDATE_US) report(t, now);
      return;
    }
    if (fresh && t.ring.countSince(now - windowUs) >= threshold) {
      t.alerted = true;
      t.alertUs = now;
      const seen = new PortBitset();
      t.ring.forEach((k) => {
        seen.add(k);
      });
      t.seen = seen;
      alerting.add(t);
      report(t, now);
    }
  }

  return {
    type: TYPE,
    stateSize: () => pairs.size + targets.size,
    onPacket(p: Packet, ctx: PacketContext): void {
      const craftedSyn = p.tcpFlags !== 0 && isCraftedSyn(p);
      // Decoys need raw packets: crafted SYNs, SYN-less TCP probes, UDP.
      if (
        ctx.newFlow && ctx.dir === DIR_TO_SERVER &&
        (craftedSyn || p.proto === IPPROTO_UDP ||
          (p.proto === IPPROTO_TCP && (p.tcpFlags & TCP_SYN) === 0))
      ) onFlowStart(ctx.flow, p.tsUs);
      if (craftedSyn) {
        crafted.setKey(TAG_CRAFTED, p.ipVersion, p.src, null, 0);
        crafted.upsert(p.tsUs).n++;
      }
      if (probeAtPacket(p, ctx.flow, ctx.dir, probe)) onProbe(probe);
    },
    onFlowEnd(f: Flow, reason: FlowEndReason): void {
      if (probeAtEnd(f, reason, probe)) onProbe(probe);
    },
    onTick(nowUs: number): void {
      for (const t of spreading) {
        if (t.dirty && nowUs - t.lastEmitUs >= UPDATE_US) {
          reportSpread(t, nowUs);
        }
        if (nowUs - t.lastUs > windowUs) {
          if (t.dirty) reportSpread(t, nowUs);
          spreading.delete(t);
          t.reset();
        }
      }
      if (alerting.size === 0) return;
      for (const t of alerting) {
        if (t.dirty && nowUs - t.lastEmitUs >= UPDATE_US) report(t, nowUs);
        if (nowUs - t.lastUs > windowUs) {
          if (t.dirty) report(t, nowUs);
          alerting.delete(t);
          // Start over: a later scan of the same pair is a new episode.
          t.reset();
        }
      }
    },
    onFinish(): void {
      for (const t of alerting) if (t.dirty) report(t, t.lastUs);
      for (const t of spreading) if (t.dirty) reportSpread(t, t.lastUs);
    },
  };
}
