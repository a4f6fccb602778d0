/**
 * The packet pipeline: decodes every frame of a batch into the one scratch
 * record, accounts it to its flow and hosts, and fans it out to observers.
 * Synchronous per batch; expiry runs once per batch in packet time, so a
 * capture file and live traffic behave alike.
 *
 * @module
 */
import type { FrameBatch } from "../capture/mod.ts";
import {
  APP_DNS,
  APP_HTTP,
  APP_NONE,
  APP_TLS,
  DecodeCounters,
  decodeFrame,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  newPacket,
  type Packet,
} from "../decode/mod.ts";
import {
  DIR_TO_SERVER,
  type Flow,
  type FlowEndReason,
  type FlowObserver,
  FlowTable,
  type FlowTableConfig,
  type Host,
  HostTable,
  type PacketContext,
  TunnelCache,
} from "../flows/mod.ts";

const APP_NAMES: Record<number, string> = {
  [APP_DNS]: "dns",
  [APP_HTTP]: "http",
  [APP_TLS]: "tls",
};

/** Traffic counters of the pipeline since it started. */
export interface PipelineCounters {
  /** Frames seen, and their wire bytes. */
  packets: number;
  bytes: number;
  /** Frames whose decoding failed (by reason in `decode`). */
  decodeErrors: number;
  /** ARP frames and other non-IP frames. */
  arp: number;
  nonIp: number;
  /** IP packets by transport. */
  tcp: number;
  udp: number;
  icmp: number;
  otherIp: number;
  /** Non-first IP fragments (no transport header, not tracked in flows). */
  fragments: number;
}

/** Options of a {@link Pipeline}. */
export interface PipelineOptions {
  /** Flow table limits and timeouts. */
  flows?: Partial<FlowTableConfig>;
  /** Cap on tracked hosts. */
  maxHosts?: number;
  /** Consumers of packets, flow ends and ticks, called in this order. */
  observers?: FlowObserver[];
  /**
   * Most flows one {@link Pipeline.tick} ends by timeout (default: no
   * limit, as offline analysis wants). A live source sets it so that a
   * burst of timeouts (every flow of a finished scan, say) cannot block
   * the event loop, and ticks again while {@link Pipeline.expiring}.
   */
  expireBudget?: number;
}

/** One pipeline instance: a flow table, a host table, counters. */
export class Pipeline {
  readonly counters: PipelineCounters = {
    packets: 0,
    bytes: 0,
    decodeErrors: 0,
    arp: 0,
    nonIp: 0,
    tcp: 0,
    udp: 0,
    icmp: 0,
    otherIp: 0,
    fragments: 0,
  };
  /** Decode faults by reason. */
  readonly decode: DecodeCounters = new DecodeCounters();
  readonly flows: FlowTable;
  readonly hosts: HostTable;
  /** Newest packet time seen, µs (0 before the first packet). */
  nowUs = 0;
  #observers: FlowObserver[];
  #packetObs: FlowObserver[];
  #pkt: Packet = newPacket();
  #ctx: PacketContext;
  #expireBudget: number;
  #tunnels = new TunnelCache();

  /** Builds a pipeline feeding `observers`. */
  constructor(opts: PipelineOptions = {}) {
    this.#observers = [...(opts.observers ?? [])];
    this.#packetObs = this.#observers.filter((o) => o.onPacket);
    this.flows = new FlowTable(
      (f, r) => this.#flowEnded(f, r),
      opts.flows ?? {},
    );
    this.hosts = new HostTable(opts.maxHosts ?? 65_536);
    this.#expireBudget = opts.expireBudget ?? Infinity;
    this.#ctx = {
      flow: null as unknown as Flow,
      dir: DIR_TO_SERVER,
      newFlow: false,
      srcHost: null as unknown as Host,
      dstHost: null as unknown as Host,
      newSrcHost: false,
      tunnel: null,
    };
  }

  /** Adds an observer after construction (for example the live hub). */
  addObserver(o: FlowObserver): void {
    this.#observers.push(o);
    if (o.onPacket) this.#packetObs.push(o);
  }

  #flowEnded(f: Flow, reason: FlowEndReason): void {
    const obs = this.#observers;
    for (let i = 0; i < obs.length; i++) obs[i]!.onFlowEnd?.(f, reason);
  }

  /** Runs every frame of `batch` through the pipeline, then ticks. */
  processBatch(batch: FrameBatch): void {
    const c = this.counters;
    const p = this.#pkt;
    const ctx = this.#ctx;
    const flows = this.flows;
    const hosts = this.hosts;
    const obs = this.#packetObs;
    const nobs = obs.length;
    let now = this.nowUs;
    for (let i = 0; i < batch.count; i++) {
      const fault = decodeFrame(p, batch, i);
      c.packets++;
      c.bytes += p.wirelen;
      if (p.tsUs > now) now = p.tsUs;
      this.decode.add(p, fault);
      if (fault !== null) {
        c.decodeErrors++;
        continue;
      }
      if (p.ipVersion === 0) {
        if (p.arp) c.arp++;
        else c.nonIp++;
        continue;
      }
      switch (p.proto) {
        case IPPROTO_TCP:
          c.tcp++;
          break;
        case IPPROTO_UDP:
          c.udp++;
          break;
        case IPPROTO_ICMP:
        case IPPROTO_ICMPV6:
          c.icmp++;
          break;
        default:
          c.otherIp++;
      }
      const v = p.ipVersion;
      const src = hosts.touch(v, p.src, p.tsUs);
      const newSrc = hosts.lastCreated;
      src.pktsSent++;
      src.bytesSent += p.wirelen;
      const dst = hosts.touch(v, p.dst, p.tsUs);
      dst.pktsRecv++;
      dst.bytesRecv += p.wirelen;
      if (p.fragment && p.fragOffset > 0) {
        c.fragments++;
        continue;
      }
      const created = flows.counters.created;
      const flow = flows.update(p);
      ctx.newFlow = flows.counters.created !== created;
      const tunnel = p.tunnelDepth === 0 ? null : this.#tunnels.of(p);
      ctx.tunnel = tunnel;
      if (ctx.newFlow) {
        flow.tunnel = tunnel;
        if (flows.lastDir === DIR_TO_SERVER) src.flowsStarted++;
        else dst.flowsStarted++;
      }
      if (p.app !== APP_NONE && flow.appProto === "") {
        flow.appProto = APP_NAMES[p.app] ?? "";
      }
      ctx.flow = flow;
      ctx.dir = flows.lastDir;
      ctx.srcHost = src;
      ctx.dstHost = dst;
      ctx.newSrcHost = newSrc;
      for (let k = 0; k < nobs; k++) obs[k]!.onPacket!(p, ctx);
    }
    this.nowUs = now;
    this.tick(now);
  }

  /**
   * Expires flows and ticks observers at `nowUs` (packet time). Called after
   * every batch; a live source also calls it on idle links with wall time.
   */
  tick(nowUs: number): void {
    if (nowUs > this.nowUs) this.nowUs = nowUs;
    if (this.nowUs === 0) return;
    this.flows.expire(this.nowUs, this.#expireBudget);
    const obs = this.#observers;
    for (let i = 0; i < obs.length; i++) obs[i]!.onTick?.(this.nowUs);
  }

  /** True when the last tick left timed-out flows for the next (see `expireBudget`). */
  get expiring(): boolean {
    return this.flows.behind;
  }

  /** Ends every flow and lets observers flush: end of input or shutdown. */
  finish(): void {
    this.flows.flush();
    const obs = this.#observers;
    for (let i = 0; i < obs.length; i++) obs[i]!.onFinish?.(this.nowUs);
  }
}
