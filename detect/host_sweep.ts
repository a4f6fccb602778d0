/**
 * `host_sweep`: one source touching many hosts on the same port (or with the
 * same ICMP request type). Counts distinct target hosts per (source,
 * protocol, port) over a sliding window: TCP and UDP probes as the port-scan
 * detector defines them (failed or data-less attempts by the flow's client,
 * Zeek's address-scan idea), and every ICMP echo, timestamp or address-mask
 * request.
 *
 * Targets inside home_net count against `hosts` (a LAN sweep only reaches
 * live hosts, so the number is small); targets outside against
 * `hosts_external` (Zeek's 25), because peer-to-peer clients and broken
 * IPv6 fail towards many outside hosts on one port. UDP counts only inside
 * targets: unanswered UDP to many outside peers is what DHT clients do.
 *
 * Distributed sweeps: probes of inside targets are also counted per
 * (protocol, port) over all sources (`_spread.ts`); `hosts` distinct
 * targets probed by at least `sources` distinct sources within the window
 * raise a `distributed` sweep naming the sources, unconfirmed (never
 * blocks). The per-source alerts stay.
 *
 * Decoys (`nmap -sn -D`, `nmap -sS -p 22 -D` over a range): sources
 * probing each host on one port or ICMP type in lockstep are one incident,
 * decided as for port scans (`_lockstep.ts`): exactly one of them reacted
 * to the targets' answers (reset their SYN+ACKs, completed handshakes):
 * one alert naming it, the others as `decoys`; none (ICMP echo, whose
 * replies nobody answers) or several: one alert listing `sources`,
 * `confirmed_source: false`, blocking no one. Their distributed sweep is
 * not raised.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  formatAddr,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
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
import { DistinctRing } from "./_ring.ts";
import { Slab } from "./_slab.ts";
import { SpreadTracker } from "./_spread.ts";
import {
  type DecoyVerdict,
  decoyVerdict,
  inLockstep,
  joinGroup,
  type LockstepMember,
  LockstepWatch,
  verdictNote,
} from "./_lockstep.ts";
import {
  isCraftedSyn,
  newProbe,
  P_KINDS,
  PROBE_NAMES,
  probeAtEnd,
  probeAtPacket,
  type ProbeOut,
} from "./_probe.ts";
import {
  detection,
  type Detector,
  type Emit,
  isUnicast,
  nonZero,
  seconds,
} from "./detector.ts";

const TYPE: AlertType = "host_sweep";
const ALONE: DecoyVerdict = { kind: "alone" };
const UPDATE_US = 5e6;
const SAMPLE_HOSTS = 10;
const MAX_RING = 4096;
/** Tags: what the key's extra number means. */
const TAG_TCP = 1, TAG_UDP = 2, TAG_ICMP = 3;
/** Tag offset for trackers of outside targets. */
const TAG_OUTSIDE = 8;
/** Tag offset for per-port (distributed sweep) trackers. */
const TAG_SPREAD = 16;
/** Cap on per-port (distributed sweep) trackers. */
const MAX_SPREAD = 4096;

const ICMP4_REQUESTS = new Set([8, 13, 15, 17]);
const ICMP6_ECHO = 128;

class SweepTracker implements LockstepMember {
  version: 4 | 6 = 4;
  readonly scanner: Uint32Array;
  proto = 0;
  /** Port (TCP/UDP) or ICMP type. */
  port = 0;
  outside = false;
  readonly ring: DistinctRing;
  readonly kinds: Uint32Array;
  firstUs = 0;
  lastUs = 0;
  probes = 0;
  reported = 0;
  hosts = 0;
  alerted = false;
  lastEmitUs = 0;
  dirty = false;
  /**
   * Address words of the first distinct hosts probed, formatted only when
   * reported (reused: no allocation per probe).
   */
  readonly sample: number[] = new Array<number>(SAMPLE_HOSTS * 4).fill(0);
  nSample = 0;
  seen: Set<string> | null = null;
  /** A probe of it reacted to a target's answer (see ProbeOut). */
  reacted = false;
  /** Probes it started in lockstep with another source's (decoys). */
  lockstep = 0;

  constructor(cap: number, slab: Slab) {
    this.scanner = slab.u32(4);
    this.kinds = slab.u32(P_KINDS);
    this.ring = new DistinctRing(cap, slab);
  }

  reset(): void {
    this.ring.clear();
    this.kinds.fill(0);
    this.firstUs = this.lastUs = 0;
    this.probes = this.reported = this.hosts = 0;
    this.alerted = false;
    this.lastEmitUs = 0;
    this.dirty = false;
    this.nSample = 0;
    this.seen = null;
    this.reacted = false;
    this.lockstep = 0;
  }
}

function addSample(t: SweepTracker, target: ArrayLike<number>): void {
  if (t.nSample >= SAMPLE_HOSTS) return;
  const o = t.nSample++ * 4;
  for (let i = 0; i < 4; i++) t.sample[o + i] = target[i]!;
}

function sampleHosts(t: SweepTracker): string[] {
  const out: string[] = [];
  for (let i = 0; i < t.nSample; i++) {
    out.push(formatAddr(t.version, t.sample.slice(i * 4, i * 4 + 4)));
  }
  return out;
}

/** Builds the host-sweep detector. */
export function hostSweep(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.host_sweep;
  const inside = Math.min(cfg.hosts, MAX_RING);
  const outside = Math.min(cfg.hosts_external, MAX_RING);
  const windowUs = cfg.window_s * 1e6;
  const alerting = new Set<SweepTracker>();
  const slab = new Slab();
  const table = new KeyedTable<SweepTracker>(
    cfg.max_trackers,
    () => new SweepTracker(Math.max(inside, outside), slab),
    (t) => {
      alerting.delete(t);
      t.reset();
    },
    (t) => {
      if (t.alerted && t.dirty) report(t);
    },
  );
  const probe = newProbe();
  const icmpTarget = new Uint32Array(4);
  const spreading = new Set<SpreadTracker>();
  const ports = new KeyedTable<SpreadTracker>(
    Math.min(cfg.max_trackers, MAX_SPREAD),
    () => new SpreadTracker(inside, slab),
    (t) => {
      spreading.delete(t);
      t.reset();
    },
    (t) => {
      if (t.alerted && t.dirty) reportSpread(t, t.lastUs);
    },
  );
  const none = new Uint32Array(4);
  /** Decoy groups: per (protocol, port) tracker, the sweepers in lockstep. */
  const groups = new WeakMap<SpreadTracker, SweepTracker[]>();
  /** The previous probe-like start (lockstep detection). */
  const watch = new LockstepWatch();

  function spreadOf(
    version: 4 | 6,
    proto: number,
    port: number,
    tsUs: number | null,
  ): SpreadTracker | null {
    ports.setKey(TAG_SPREAD, version, none, null, (proto << 16) | port);
    if (tsUs === null) return ports.get();
    const t = ports.upsert(tsUs);
    if (ports.lastCreated) {
      t.version = version;
      t.proto = proto;
      t.port = port;
    }
    return t;
  }

  /** Members of `t`'s decoy group still sweeping its protocol and port. */
  function groupOf(t: SpreadTracker | null): SweepTracker[] {
    if (t === null) return [];
    const g = groups.get(t);
    if (g === undefined) return [];
    return g.filter((m) =>
      inLockstep(m) && m.version === t.version && m.proto === t.proto &&
      m.port === t.port
    );
  }

  /** The sweep tracker of `scanner` probing `target` (proto, port). */
  function trackerOf(
    tag: number,
    version: 4 | 6,
    scanner: ArrayLike<number>,
    target: ArrayLike<number>,
    proto: number,
    port: number,
    tsUs: number,
  ): SweepTracker {
    const out = !anyCidrContains(policy.home_net, version, target);
    table.setKey(tag + (out ? TAG_OUTSIDE : 0), version, scanner, null, port);
    const t = table.upsert(tsUs);
    if (table.lastCreated) {
      t.version = version;
      t.scanner.set(scanner);
      t.proto = proto;
      t.port = port;
      t.outside = out;
    }
    return t;
  }

  /** A probe-like start from `src` to `dst`: counts lockstep with the previous one. */
  function onStart(
    tag: number,
    version: 4 | 6,
    src: ArrayLike<number>,
    dst: ArrayLike<number>,
    proto: number,
    port: number,
    tsUs: number,
  ): void {
    let b: SweepTracker | null = null;
    if (watch.echoes(version, src, dst, proto, port, tsUs)) {
      const a = trackerOf(tag, version, watch.prevSrc, dst, proto, port, tsUs);
      b = trackerOf(tag, version, src, dst, proto, port, tsUs);
      if (watch.prevMember !== a) a.lockstep++;
      b.lockstep++;
      if (inLockstep(a) || inLockstep(b)) {
        const t = spreadOf(version, proto, port, tsUs)!;
        let g = groups.get(t);
        if (g === undefined) {
          g = [];
          groups.set(t, g);
        }
        joinGroup(g, a);
        joinGroup(g, b);
      }
    }
    watch.next(version, src, dst, proto, port, tsUs, b);
  }

  function reportSpread(t: SpreadTracker, nowUs: number): void {
    // Sources in lockstep are one decoy sweep, reported by report().
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
    const icmp = t.proto === IPPROTO_ICMP || t.proto === IPPROTO_ICMPV6;
    const variant = icmp ? "ICMP" : t.proto === IPPROTO_UDP ? "UDP" : "TCP";
    const what = icmp ? `ICMP type ${t.port}` : `${variant} port ${t.port}`;
    const durUs = t.lastUs - t.firstUs;
    emit(detection(policy, TYPE, "distributed", {
      tsUs: t.lastUs,
      count,
      firstUs: t.firstUs,
      src: sources[0] ?? "0.0.0.0",
      destPort: icmp ? undefined : t.port,
      proto: icmp ? (t.version === 6 ? "IPv6-ICMP" : "ICMP") : variant,
      key: `distributed>${variant}/${t.port}`,
      evidence: {
        proto: variant,
        [icmp ? "icmp_type" : "port"]: t.port,
        distinct_hosts: t.nItems,
        distinct_sources: t.nSources,
        sources: sources.slice(0, 20),
        probes: t.probes,
        duration_s: seconds(durUs),
        window_s: cfg.window_s,
        threshold: inside,
        min_sources: cfg.sources,
        confirmed_source: false,
      },
      explanation: `${t.nSources} sources (${sources.slice(0, 5).join(", ")}${
        t.nSources > 5 ? ", …" : ""
      }) touched ${t.nItems} distinct hosts inside the home network on ${what} in ${
        seconds(durUs)
      } s: one sweep spread over several sources`,
    }));
  }

  function onSpread(
    version: 4 | 6,
    scanner: Uint32Array,
    target: Uint32Array,
    proto: number,
    port: number,
    tsUs: number,
  ): void {
    const t = spreadOf(version, proto, port, tsUs)!;
    if (
      t.add(
        scanner,
        target[0]!,
        target[1]!,
        target[2]!,
        target[3]!,
        tsUs,
        windowUs,
        inside,
        cfg.sources,
      )
    ) {
      spreading.add(t);
      reportSpread(t, tsUs);
    } else if (t.alerted && t.dirty && tsUs - t.lastEmitUs >= UPDATE_US) {
      reportSpread(t, tsUs);
    }
  }

  function report(t: SweepTracker): void {
    t.lastEmitUs = t.lastUs;
    t.dirty = false;
    const count = t.probes - t.reported;
    t.reported = t.probes;
    const src = formatAddr(t.version, t.scanner);
    const icmp = t.proto === IPPROTO_ICMP || t.proto === IPPROTO_ICMPV6;
    const variant = icmp ? "icmp" : t.proto === IPPROTO_UDP ? "udp" : "tcp";
    const what = icmp
      ? `ICMP type ${t.port}`
      : `${variant.toUpperCase()} port ${t.port}`;
    const durUs = t.lastUs - t.firstUs;
    const verdict = t.lockstep === 0
      ? ALONE
      : decoyVerdict(groupOf(spreadOf(t.version, t.proto, t.port, null)), t);
    let key = `${src}>${variant}/${t.port}`;
    const extra: Record<string, unknown> = {};
    switch (verdict.kind) {
      case "decoy":
        return; // its probes are listed in the real sweeper's alert
      case "scanner":
        extra.decoys = verdict.decoys;
        extra.confirmed_source = true;
        break;
      case "unknown":
        key = `decoys>${variant}/${t.port}`;
        extra.sources = verdict.sources;
        extra.confirmed_source = false;
        break;
      case "alone":
        break;
    }
    const evidence: Record<string, unknown> = {
      proto: icmp ? "ICMP" : variant.toUpperCase(),
      distinct_hosts: t.hosts,
      probes: t.probes,
      duration_s: seconds(durUs),
      targets: t.outside ? "outside home_net" : "home_net",
      window_s: cfg.window_s,
      threshold: t.outside ? outside : inside,
      sample_hosts: sampleHosts(t),
    };
    if (icmp) evidence.icmp_type = t.port;
    else {
      evidence.port = t.port;
      evidence.kinds = nonZero(PROBE_NAMES, t.kinds);
    }
    Object.assign(evidence, extra);
    emit(detection(policy, TYPE, variant, {
      tsUs: t.lastUs,
      count,
      firstUs: t.firstUs,
      src,
      destPort: icmp ? undefined : t.port,
      proto: icmp
        ? (t.version === 6 ? "IPv6-ICMP" : "ICMP")
        : variant.toUpperCase(),
      key,
      evidence,
      explanation: `${src} touched ${t.hosts} distinct hosts ${
        t.outside ? "outside" : "inside"
      } the home network on ${what} in ${seconds(durUs)} s${
        verdictNote(verdict, src)
      }`,
    }));
  }

  function observe(
    tag: number,
    version: 4 | 6,
    scanner: Uint32Array,
    target: Uint32Array,
    proto: number,
    port: number,
    kind: number,
    tsUs: number,
    reacted: boolean,
  ): void {
    const out = !anyCidrContains(policy.home_net, version, target);
    if (out && tag === TAG_UDP) return;
    if (!out) onSpread(version, scanner, target, proto, port, tsUs);
    const t = trackerOf(tag, version, scanner, target, proto, port, tsUs);
    if (reacted) t.reacted = true;
    if (!t.alerted && t.probes > 0 && tsUs - t.lastUs > windowUs) {
      t.ring.clear();
      t.kinds.fill(0);
      t.probes = t.reported = t.hosts = 0;
      t.nSample = 0;
    }
    if (t.probes === 0) t.firstUs = tsUs;
    if (tsUs > t.lastUs) t.lastUs = tsUs;
    t.probes++;
    t.kinds[kind]!++;
    const fresh = t.ring.add(
      target[0]!,
      target[1]!,
      target[2]!,
      target[3]!,
      tsUs,
    );
    if (t.alerted) {
      const seen = t.seen!;
      if (fresh && seen.size < 65536) {
        const ip = formatAddr(version, target);
        if (!seen.has(ip)) {
          seen.add(ip);
          t.hosts = seen.size;
          addSample(t, target);
        }
      }
      t.dirty = true;
      if (tsUs - t.lastEmitUs >= UPDATE_US) report(t);
      return;
    }
    if (fresh) {
      t.hosts = t.ring.countSince(tsUs - windowUs);
      addSample(t, target);
      if (t.hosts >= (out ? outside : inside)) {
        t.alerted = true;
        const seen = new Set<string>();
        t.ring.forEach((a, b, c, d) => {
          seen.add(formatAddr(version, [a, b, c, d]));
        });
        t.seen = seen;
        t.hosts = seen.size;
        alerting.add(t);
        report(t);
      }
    }
  }

  function onProbe(pr: ProbeOut): void {
    observe(
      pr.proto === IPPROTO_UDP ? TAG_UDP : TAG_TCP,
      pr.version,
      pr.scanner,
      pr.target,
      pr.proto,
      pr.port,
      pr.kind,
      pr.tsUs,
      pr.reacted,
    );
  }

  return {
    type: TYPE,
    stateSize: () => table.size + ports.size,
    onPacket(p: Packet, ctx: PacketContext): void {
      if (p.proto === IPPROTO_ICMP || p.proto === IPPROTO_ICMPV6) {
        const req = p.proto === IPPROTO_ICMP
          ? ICMP4_REQUESTS.has(p.icmpType)
          : p.icmpType === ICMP6_ECHO;
        if (req && isUnicast(p.ipVersion, p.dst)) {
          icmpTarget.set(p.dst);
          const v = p.ipVersion === 6 ? 6 : 4;
          onStart(TAG_ICMP, v, p.src, icmpTarget, p.proto, p.icmpType, p.tsUs);
          observe(
            TAG_ICMP,
            p.ipVersion === 6 ? 6 : 4,
            p.src,
            icmpTarget,
            p.proto,
            p.icmpType,
            0,
            p.tsUs,
            false,
          );
          return;
        }
      }
      // Decoys need raw packets: crafted SYNs, SYN-less TCP probes, UDP.
      if (
        ctx.newFlow && ctx.dir === DIR_TO_SERVER &&
        (p.proto === IPPROTO_UDP ||
          (p.proto === IPPROTO_TCP &&
            ((p.tcpFlags & TCP_SYN) === 0 || isCraftedSyn(p))))
      ) {
        const f = ctx.flow;
        onStart(
          p.proto === IPPROTO_UDP ? TAG_UDP : TAG_TCP,
          f.version,
          f.srcAddr,
          f.dstAddr,
          f.proto,
          f.dstPort,
          p.tsUs,
        );
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
        if (t.dirty && nowUs - t.lastEmitUs >= UPDATE_US) report(t);
        if (nowUs - t.lastUs > windowUs) {
          if (t.dirty) report(t);
          alerting.delete(t);
          t.reset();
        }
      }
    },
    onFinish(): void {
      for (const t of alerting) if (t.dirty) report(t);
      for (const t of spreading) if (t.dirty) reportSpread(t, t.lastUs);
    },
  };
}
