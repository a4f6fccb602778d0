/**
 * Live traffic statistics for the dashboard: a pipeline observer that
 * counts packets and bytes (into and out of the home network), protocols,
 * server ports, talkers and names seen on the wire (DNS questions, HTTP
 * Host, TLS SNI), and once a second turns them into a
 * {@link StatsSnapshot}: rates of the last second plus "recent" tops that
 * decay with a time constant of about five minutes. Each minute's totals go
 * to an optional rollup sink (the store writer's `queueStats("1m", …)`).
 *
 * Per packet: counter updates only (no allocation except a talker entry for
 * an address not seen recently, bounded, and a name entry for app-layer
 * packets, bounded).
 *
 * @module
 */
import type { Packet } from "../decode/mod.ts";
import {
  addrScope,
  APP_DNS,
  APP_HTTP,
  APP_TLS,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from "../decode/mod.ts";
import {
  DIR_TO_SERVER,
  type FlowObserver,
  type Host,
  hostIp,
  type PacketContext,
} from "../flows/mod.ts";
import type { AddrEnricher, StatsSource } from "./deps.ts";
import type {
  CountryShare,
  NameShare,
  PortShare,
  ProtoShare,
  StatsSnapshot,
  TalkerShare,
} from "./live_messages.ts";

/** Totals the pipeline keeps, read at every snapshot. */
export interface TrafficTotals {
  packets: number;
  bytes: number;
  decodeErrors: number;
}

/** Options of {@link LiveStats}. */
export interface LiveStatsOptions {
  /** True for addresses of the home network (default: private and ULA ranges). */
  isHome?: (version: number, words: ArrayLike<number>) => boolean;
  /** GeoIP and names of talkers (cached lookups, a few per second). */
  enricher?: AddrEnricher;
  /** Pipeline totals (packets, bytes, decode errors), read once a second. */
  totals?: () => TrafficTotals;
  /** Capture drops since start (kernel and interface), read once a second. */
  drops?: () => number;
  /** Flows in the flow table, read once a second. */
  flows?: () => number;
  /** Receives each finished minute's totals ("1m" rollups). */
  rollup?: (bucketMs: number, rollup: Record<string, unknown>) => void;
  /** Seconds of one-second samples kept for charts (default 600). */
  historySize?: number;
  /** Time constant of the recent tops, seconds (default 300). */
  decayS?: number;
  /** Most talkers tracked (default 4096). */
  maxTalkers?: number;
  /** Most names tracked (default 512). */
  maxNames?: number;
}

interface TalkerAcc {
  host: Host;
  bytes: number;
  packets: number;
}

interface NameAcc {
  kind: NameShare["kind"];
  name: string;
  count: number;
}

const PROTO_NAMES = ["tcp", "udp", "icmp", "other"] as const;
const APP_NAMES = ["dns", "http", "tls"] as const;

function defaultIsHome(version: number, words: ArrayLike<number>): boolean {
  const s = addrScope(version, words);
  return s === "private" || s === "unique-local" || s === "link-local" ||
    s === "loopback" || s === "cgnat";
}

/**
 * The live statistics observer. Add it to the pipeline, call
 * {@link snapshot} once a second (the dashboard server does), feed alerts
 * with {@link noteAlert} for the per-country alert counts.
 *
 * @example
 * ```ts
 * const stats = new LiveStats({ totals: () => pipeline.counters, enricher });
 * pipeline.addObserver(stats);
 * ```
 */
export class LiveStats implements FlowObserver, StatsSource {
  readonly #isHome: (version: number, words: ArrayLike<number>) => boolean;
  readonly #opts: LiveStatsOptions;
  readonly #historySize: number;
  readonly #decayS: number;
  readonly #maxTalkers: number;
  readonly #maxNames: number;
  // Counters since the last snapshot.
  #pkts = 0;
  #bytes = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  // Recent (decaying) accumulators.
  readonly #protoBytes = new Float64Array(4);
  readonly #protoPkts = new Float64Array(4);
  readonly #appBytes = new Float64Array(3);
  readonly #appPkts = new Float64Array(3);
  /** tcp ports at [0, 65536), udp at [65536, 131072). */
  readonly #portBytes = new Float64Array(131072);
  readonly #portPkts = new Float64Array(131072);
  readonly #talkers = new Map<Host, TalkerAcc>();
  /** Names by kind (one map a kind: no key string made per packet). */
  readonly #names: Record<NameShare["kind"], Map<string, NameAcc>> = {
    dns: new Map(),
    http: new Map(),
    tls: new Map(),
  };
  readonly #countryAlerts = new Map<string, number>();
  // Totals since start.
  #totPkts = 0;
  #totBytes = 0;
  #lastDrops = 0;
  #lastSnap = 0;
  #history: StatsSnapshot[] = [];
  #latest: StatsSnapshot | null = null;
  #minute = -1;
  #minuteAcc = { packets: 0, bytes: 0, bytes_in: 0, bytes_out: 0, drops: 0 };
  #newHosts: { ip: string; first_seen: string }[] = [];

  /** Creates the observer. */
  constructor(opts: LiveStatsOptions = {}) {
    this.#opts = opts;
    this.#isHome = opts.isHome ?? defaultIsHome;
    this.#historySize = opts.historySize ?? 600;
    this.#decayS = opts.decayS ?? 300;
    this.#maxTalkers = opts.maxTalkers ?? 4096;
    this.#maxNames = opts.maxNames ?? 512;
  }

  /** Counts one packet (pipeline hot path). */
  onPacket(p: Packet, ctx: PacketContext): void {
    const len = p.wirelen;
    this.#pkts++;
    this.#bytes += len;
    const srcHome = this.#isHome(p.ipVersion, p.src);
    const dstHome = this.#isHome(p.ipVersion, p.dst);
    if (dstHome && !srcHome) this.#bytesIn += len;
    else if (srcHome && !dstHome) this.#bytesOut += len;
    const pi = p.proto === IPPROTO_TCP
      ? 0
      : p.proto === IPPROTO_UDP
      ? 1
      : p.proto === IPPROTO_ICMP || p.proto === IPPROTO_ICMPV6
      ? 2
      : 3;
    this.#protoBytes[pi]! += len;
    this.#protoPkts[pi]!++;
    if (pi < 2) {
      const port = ctx.dir === DIR_TO_SERVER ? p.dstPort : p.srcPort;
      const k = pi * 65536 + port;
      this.#portBytes[k]! += len;
      this.#portPkts[k]!++;
    }
    this.#talk(ctx.srcHost, len);
    this.#talk(ctx.dstHost, len);
    if (ctx.newSrcHost && srcHome && this.#newHosts.length < 100) {
      this.#newHosts.push({
        ip: hostIp(ctx.srcHost),
        first_seen: new Date(p.tsUs / 1000).toISOString(),
      });
    }
    switch (p.app) {
      case APP_DNS:
        this.#appBytes[0]! += len;
        this.#appPkts[0]!++;
        if (!p.dns.qr && p.dns.qname !== "") this.#name("dns", p.dns.qname);
        break;
      case APP_HTTP:
        this.#appBytes[1]! += len;
        this.#appPkts[1]!++;
        if (p.http.host !== "") this.#name("http", p.http.host);
        break;
      case APP_TLS:
        this.#appBytes[2]! += len;
        this.#appPkts[2]!++;
        if (p.tls.sni !== "") this.#name("tls", p.tls.sni);
        break;
    }
  }

  #talk(h: Host, len: number): void {
    let t = this.#talkers.get(h);
    if (t === undefined) {
      if (this.#talkers.size >= this.#maxTalkers) return;
      t = { host: h, bytes: 0, packets: 0 };
      this.#talkers.set(h, t);
    }
    t.bytes += len;
    t.packets++;
  }

  #name(kind: NameShare["kind"], name: string): void {
    const m = this.#names[kind];
    let n = m.get(name);
    if (n === undefined) {
      const names = this.#names;
      if (names.dns.size + names.http.size + names.tls.size >= this.#maxNames) {
        return;
      }
      n = { kind, name, count: 0 };
      m.set(name, n);
    }
    n.count++;
  }

  /** Counts an alert for the per-country figures (by its source's country). */
  noteAlert(country: string | undefined): void {
    if (country === undefined) return;
    this.#countryAlerts.set(
      country,
      (this.#countryAlerts.get(country) ?? 0) + 1,
    );
  }

  /** Hosts of the home network first seen since the last call (at most 100). */
  takeNewHosts(): { ip: string; first_seen: string }[] {
    const out = this.#newHosts;
    this.#newHosts = [];
    return out;
  }

  /**
   * The figures since the previous call, as rates, plus the recent tops;
   * then decays the recent accumulators. Call once a second.
   */
  snapshot(nowMs: number): StatsSnapshot {
    const o = this.#opts;
    const dt = this.#lastSnap === 0
      ? 1
      : Math.max(0.001, (nowMs - this.#lastSnap) / 1000);
    this.#lastSnap = nowMs;
    this.#totPkts += this.#pkts;
    this.#totBytes += this.#bytes;
    const totals = o.totals?.();
    const drops = o.drops?.() ?? 0;
    const dropsDelta = Math.max(0, drops - this.#lastDrops);
    this.#lastDrops = drops;
    this.#rollMinute(nowMs, dropsDelta);

    const snap: StatsSnapshot = {
      t: nowMs,
      pps: this.#pkts / dt,
      bps_in: this.#bytesIn / dt,
      bps_out: this.#bytesOut / dt,
      bps: this.#bytes / dt,
      packets: totals?.packets ?? this.#totPkts,
      bytes: totals?.bytes ?? this.#totBytes,
      drops,
      drops_ps: dropsDelta / dt,
      decode_errors: totals?.decodeErrors ?? 0,
      flows: o.flows?.() ?? 0,
      hosts: this.#talkers.size,
      protocols: this.#shares(PROTO_NAMES, this.#protoBytes, this.#protoPkts),
      apps: this.#shares(APP_NAMES, this.#appBytes, this.#appPkts),
      ports: this.#topPorts(8),
      talkers: [],
      countries: [],
      names: this.#topNames(10),
    };
    const ranked = [...this.#talkers.values()].sort((a, b) =>
      b.bytes - a.bytes
    );
    snap.talkers = ranked.slice(0, 5).map((t) => this.#talker(t));
    snap.countries = this.#countries(ranked.slice(0, 200));
    this.#pkts =
      this.#bytes =
      this.#bytesIn =
      this.#bytesOut =
        0;
    this.#decay(dt);
    this.#latest = snap;
    this.#history.push(snap);
    if (this.#history.length > this.#historySize) this.#history.shift();
    return snap;
  }

  /** The newest sample with its tops, or null before the first. */
  latest(): StatsSnapshot | null {
    return this.#latest;
  }

  /** The last samples, oldest first (without their tops, to keep it small). */
  history(): StatsSnapshot[] {
    return this.#history.map((s) => ({
      ...s,
      protocols: [],
      apps: [],
      ports: [],
      talkers: [],
      countries: [],
      names: [],
    }));
  }

  #rollMinute(nowMs: number, drops: number): void {
    const minute = Math.floor(nowMs / 60_000) * 60_000;
    const acc = this.#minuteAcc;
    if (this.#minute !== -1 && minute !== this.#minute) {
      this.#opts.rollup?.(this.#minute, { ...acc });
      acc.packets =
        acc.bytes =
        acc.bytes_in =
        acc.bytes_out =
        acc.drops =
          0;
    }
    this.#minute = minute;
    acc.packets += this.#pkts;
    acc.bytes += this.#bytes;
    acc.bytes_in += this.#bytesIn;
    acc.bytes_out += this.#bytesOut;
    acc.drops += drops;
  }

  /** Sends the current minute's partial totals to the rollup sink (at shutdown). */
  flush(): void {
    if (this.#minute !== -1) {
      this.#opts.rollup?.(this.#minute, { ...this.#minuteAcc });
    }
  }

  #shares(
    names: readonly string[],
    bytes: Float64Array,
    pkts: Float64Array,
  ): ProtoShare[] {
    const out: ProtoShare[] = [];
    for (let i = 0; i < names.length; i++) {
      if (pkts[i]! >= 0.5) {
        out.push({
          name: names[i]!,
          bytes: Math.round(bytes[i]!),
          packets: Math.round(pkts[i]!),
        });
      }
    }
    return out.sort((a, b) => b.bytes - a.bytes);
  }

  #topPorts(n: number): PortShare[] {
    const b = this.#portBytes;
    const top: number[] = [];
    for (let k = 0; k < b.length; k++) {
      const v = b[k]!;
      if (v < 1) continue;
      if (top.length < n) {
        top.push(k);
        top.sort((x, y) => b[y]! - b[x]!);
      } else if (v > b[top[n - 1]!]!) {
        top[n - 1] = k;
        top.sort((x, y) => b[y]! - b[x]!);
      }
    }
    return top.map((k) => ({
      port: k & 0xffff,
      proto: k < 65536 ? "tcp" : "udp",
      bytes: Math.round(b[k]!),
      packets: Math.round(this.#portPkts[k]!),
    }));
  }

  #topNames(n: number): NameShare[] {
    return [
      ...this.#names.dns.values(),
      ...this.#names.http.values(),
      ...this.#names.tls.values(),
    ]
      .filter((x) => x.count >= 0.5)
      .sort((a, b) => b.count - a.count)
      .slice(0, n)
      .map((x) => ({ kind: x.kind, name: x.name, count: Math.round(x.count) }));
  }

  #talker(t: TalkerAcc): TalkerShare {
    const ip = hostIp(t.host);
    const out: TalkerShare = {
      ip,
      bytes: Math.round(t.bytes),
      packets: Math.round(t.packets),
    };
    const e = this.#opts.enricher?.enrichAddr(ip);
    if (e !== undefined) {
      if (e.host !== undefined) out.host = e.host;
      if (e.geo.flag !== undefined) out.flag = e.geo.flag;
      if (e.geo.country !== undefined) out.country = e.geo.country;
      if (e.geo.scope !== undefined) out.scope = e.geo.scope;
    }
    return out;
  }

  #countries(ranked: TalkerAcc[]): CountryShare[] {
    const enricher = this.#opts.enricher;
    if (enricher === undefined) return [];
    const by = new Map<string, CountryShare>();
    for (const t of ranked) {
      const g = enricher.enrichAddr(hostIp(t.host)).geo;
      if (g.country === undefined) continue;
      let c = by.get(g.country);
      if (c === undefined) {
        c = {
          country: g.country,
          name: g.country_name ?? g.country,
          flag: g.flag ?? "",
          bytes: 0,
          alerts: 0,
        };
        by.set(g.country, c);
      }
      c.bytes += Math.round(t.bytes);
    }
    for (const [code, n] of this.#countryAlerts) {
      const c = by.get(code);
      if (c !== undefined) c.alerts = Math.round(n);
      else if (n >= 0.5) {
        by.set(code, {
          country: code,
          name: code,
          flag: "",
          bytes: 0,
          alerts: Math.round(n),
        });
      }
    }
    return [...by.values()]
      .sort((a, b) => b.bytes - a.bytes || b.alerts - a.alerts)
      .slice(0, 8);
  }

  #decay(dt: number): void {
    const f = Math.exp(-dt / this.#decayS);
    for (const a of [this.#protoBytes, this.#protoPkts, this.#appBytes]) {
      for (let i = 0; i < a.length; i++) a[i]! *= f;
    }
    for (let i = 0; i < this.#appPkts.length; i++) this.#appPkts[i]! *= f;
    const pb = this.#portBytes, pp = this.#portPkts;
    for (let k = 0; k < pb.length; k++) {
      if (pb[k] !== 0) {
        pb[k]! *= f;
        pp[k]! *= f;
        if (pb[k]! < 0.5) pb[k] = pp[k] = 0;
      }
    }
    for (const [h, t] of this.#talkers) {
      t.bytes *= f;
      t.packets *= f;
      if (t.packets < 0.05) this.#talkers.delete(h);
    }
    for (const m of Object.values(this.#names)) {
      for (const [k, n] of m) {
        n.count *= f;
        if (n.count < 0.05) m.delete(k);
      }
    }
    for (const [k, n] of this.#countryAlerts) {
      const v = n * f;
      if (v < 0.05) this.#countryAlerts.delete(k);
      else this.#countryAlerts.set(k, v);
    }
  }
}
