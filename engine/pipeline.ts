/**
 * The packet pipeline: decodes every frame of a batch into the one scratch
 * record, defragments, accounts it to its flow and hosts, fans it out to
 * observers, then reassembles TCP streams (`reassembly/`) and parses them
 * and UDP DNS (`protocols/`), handing stream bytes and app-layer records to
 * the same observers. Synchronous per batch; expiry runs once per batch in
 * packet time, so a capture file and live traffic behave alike.
 *
 * @module
 */
import type { FrameBatch } from "../capture/mod.ts";
import {
  APP_DNS,
  APP_HTTP,
  APP_NONE,
  APP_TLS,
  decodeBytes,
  DecodeCounters,
  decodeFrame,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  LINKTYPE_RAW,
  newPacket,
  type Packet,
} from "../decode/mod.ts";
import {
  DEFRAG_ANOMALIES,
  type DefragAnomaly,
  type DefragConfig,
  Defragmenter,
} from "../defrag/mod.ts";
import {
  DIR_TO_SERVER,
  type Flow,
  type FlowEndReason,
  FlowTable,
  type FlowTableConfig,
  type Host,
  HostTable,
  type PacketContext,
  type Tunnel,
  TunnelCache,
} from "../flows/mod.ts";
import {
  type ReassemblyConfig,
  type ReassemblyCounters,
  TcpReassembler,
} from "../reassembly/mod.ts";
import {
  AppLayer,
  type AppLayerCounters,
  type AppObserver,
  DEFAULT_PARSER_MEMCAP,
  DEFAULT_PARSERS,
  type ParserSpec,
  parsersWithMemcap,
} from "../protocols/mod.ts";

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
  /**
   * Non-first IP fragments (no transport header). With defragmentation on,
   * every fragment is held and the reassembled packet is tracked instead.
   */
  fragments: number;
  /** Reassembled datagrams whose packet did not decode (by reason in `decode`). */
  reassembledErrors: number;
}

/** Options of a {@link Pipeline}. */
export interface PipelineOptions {
  /** Flow table limits and timeouts. */
  flows?: Partial<FlowTableConfig>;
  /** Cap on tracked hosts. */
  maxHosts?: number;
  /** Consumers of packets, streams, app-layer records, flow ends and ticks, called in this order. */
  observers?: AppObserver[];
  /** Reassembly limits (`stream.depth`, `stream.memcap`). */
  stream?: Partial<ReassemblyConfig>;
  /**
   * Bytes of parser buffers (`stream.parser_memcap`): the HTTP and DNS
   * parsers' together, and the TLS handshakes' apart, each at most this
   * (default 32 MiB each). Ignored with `parsers`.
   */
  parserMemcap?: number;
  /**
   * Reassemble TCP and parse app-layer protocols (default true). Off, the
   * pipeline is the per-packet one (the bench's reference).
   */
  appLayer?: boolean;
  /** App-layer parsers, in probing order (default: the shipped ones). */
  parsers?: readonly ParserSpec[];
  /**
   * Most flows one {@link Pipeline.tick} ends by timeout (default: no
   * limit, as offline analysis wants). A live source sets it so that a
   * burst of timeouts (every flow of a finished scan, say) cannot block
   * the event loop, and ticks again while {@link Pipeline.expiring}.
   */
  expireBudget?: number;
  /**
   * IP defragmentation limits (defaults: DEFRAG_DEFAULTS), or false to
   * leave fragments whole: first fragments are tracked as packets and the
   * others only counted (how the pipeline worked before defrag/).
   */
  defrag?: Partial<DefragConfig> | false;
}

/** Anomaly names as observers see them, Suricata's: `decoder.ipv4.frag_overlap`, … */
const ANOMALY_NAMES: Record<DefragAnomaly, readonly [string, string]> = Object
  .fromEntries(
    DEFRAG_ANOMALIES.map((
      k,
    ) => [k, [`decoder.ipv4.${k}`, `decoder.ipv6.${k}`] as const]),
  ) as Record<DefragAnomaly, readonly [string, string]>;

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
    reassembledErrors: 0,
  };
  /** Decode faults by reason. */
  readonly decode: DecodeCounters = new DecodeCounters();
  readonly flows: FlowTable;
  readonly hosts: HostTable;
  /** The defragmentation stage (null when turned off). */
  readonly defrag: Defragmenter | null;
  /** Newest packet time seen, µs (0 before the first packet). */
  nowUs = 0;
  /** TCP reassembly (null when the app layer is off). */
  readonly reassembler: TcpReassembler | null;
  /** Protocol detection and parsers (null when off). */
  readonly app: AppLayer | null;
  #observers: AppObserver[] = [];
  #packetObs: AppObserver[] = [];
  #appObs: AppObserver[] = [];
  #dataObs: AppObserver[] = [];
  #gapObs: AppObserver[] = [];
  #eventObs: AppObserver[] = [];
  #linkObs: AppObserver[] = [];
  /** Whether an observer reads DNS records (UDP DNS is parsed only then). */
  #wantDns = false;
  #pkt: Packet = newPacket();
  /** The scratch record of reassembled packets. */
  #whole: Packet = newPacket();
  #anomalyObs: AppObserver[] = [];
  #ctx: PacketContext;
  #expireBudget: number;
  #tunnels = new TunnelCache();
  /** The packet being handed to observers (what `ctx.tunnel` describes). */
  #current: Packet;

  /** Builds a pipeline feeding `observers`. */
  constructor(opts: PipelineOptions = {}) {
    for (const o of opts.observers ?? []) this.addObserver(o);
    if (opts.appLayer === false) {
      this.app = null;
      this.reassembler = null;
    } else {
      const app = new AppLayer(
        {
          app: (rec, ctx) => {
            const obs = this.#appObs;
            for (let i = 0; i < obs.length; i++) obs[i]!.onApp!(rec, ctx);
          },
          data: (flow, dir, buf, off, len, at) => {
            const obs = this.#dataObs;
            for (let i = 0; i < obs.length; i++) {
              obs[i]!.onStreamData!(flow, dir, buf, off, len, at);
            }
          },
          gap: (flow, dir, len) => {
            const obs = this.#gapObs;
            for (let i = 0; i < obs.length; i++) {
              obs[i]!.onStreamGap!(flow, dir, len);
            }
          },
          anomaly: (flow, dir, event) => {
            const obs = this.#eventObs;
            for (let i = 0; i < obs.length; i++) {
              obs[i]!.onStreamEvent!(flow, dir, event, this.app!.tsUs);
            }
          },
          // Nobody wants the rest of the flow's bytes (no parser took it, or
          // its parser is done): stop reassembling it.
          letGo: (flow) => {
            if (this.#dataObs.length > 0) return false;
            this.reassembler!.ignore(flow);
            return true;
          },
        },
        opts.parsers ??
          (opts.parserMemcap === undefined
            ? DEFAULT_PARSERS
            : parsersWithMemcap(opts.parserMemcap)),
        opts.parserMemcap ?? DEFAULT_PARSER_MEMCAP,
      );
      app.setReaders((kind) => this.#reads(kind));
      this.app = app;
      this.reassembler = new TcpReassembler(app, opts.stream ?? {});
    }
    this.defrag = opts.defrag === false ? null : new Defragmenter(
      opts.defrag ?? {},
      (p, kind) => {
        const name = ANOMALY_NAMES[kind][p.ipVersion === 6 ? 1 : 0];
        const obs = this.#anomalyObs;
        for (let i = 0; i < obs.length; i++) obs[i]!.onAnomaly!(p, name);
      },
    );
    this.flows = new FlowTable(
      (f, r) => this.#flowEnded(f, r),
      opts.flows ?? {},
    );
    this.hosts = new HostTable(opts.maxHosts ?? 65_536);
    this.#expireBudget = opts.expireBudget ?? Infinity;
    this.#current = this.#pkt;
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#ctx = {
      flow: null as unknown as Flow,
      dir: DIR_TO_SERVER,
      newFlow: false,
      srcHost: null as unknown as Host,
      dstHost: null as unknown as Host,
      newSrcHost: false,
      // Built when read: most observers never ask, and a VXLAN's outer
      // source port changes per inner flow (no cache would hold them all).
      get tunnel(): Tunnel | null {
        const p = self.#current;
        return p.tunnelDepth === 0 ? null : self.#tunnels.of(p);
      },
    };
  }

  /** Adds an observer after construction (for example the live hub). */
  addObserver(o: AppObserver): void {
    this.#observers.push(o);
    if (o.onPacket) this.#packetObs.push(o);
    if (o.onAnomaly) this.#anomalyObs.push(o);
    if (o.onApp) {
      this.#appObs.push(o);
      if (o.appKinds === undefined || o.appKinds.includes("dns")) {
        this.#wantDns = true;
      }
    }
    if (o.onLinkFrame) this.#linkObs.push(o);
    if (o.onStreamData) this.#dataObs.push(o);
    if (o.onStreamGap) this.#gapObs.push(o);
    if (o.onStreamEvent) this.#eventObs.push(o);
  }

  /** Whether an observer reads app-layer records of `kind` now. */
  #reads(kind: string): boolean {
    const obs = this.#appObs;
    for (let i = 0; i < obs.length; i++) {
      const k = obs[i]!.appKinds;
      if (k === undefined || (k as readonly string[]).includes(kind)) {
        return true;
      }
    }
    return false;
  }

  /** Reassembly counters (null when the app layer is off). */
  get reassembly(): Readonly<ReassemblyCounters> | null {
    return this.reassembler?.counters ?? null;
  }

  /** App-layer counters (null when off). */
  get appCounters(): Readonly<AppLayerCounters> | null {
    return this.app?.counters ?? null;
  }

  #flowEnded(f: Flow, reason: FlowEndReason): void {
    // Streams flush and parsers emit their last records while the flow lives
    // (only TCP flows have stream or parser state: UDP DNS has none).
    if (f.proto === IPPROTO_TCP && this.app !== null) {
      this.reassembler!.flowEnd(f);
      this.app.flowEnd(f);
    }
    const obs = this.#observers;
    for (let i = 0; i < obs.length; i++) obs[i]!.onFlowEnd?.(f, reason);
  }

  /** Runs every frame of `batch` through the pipeline, then ticks. */
  processBatch(batch: FrameBatch): void {
    const c = this.counters;
    const p = this.#pkt;
    const hosts = this.hosts;
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
        const link = this.#linkObs;
        for (let k = 0; k < link.length; k++) link[k]!.onLinkFrame!(p);
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
      if (p.fragment) {
        if (p.fragOffset > 0) c.fragments++;
        if (this.defrag !== null) this.#defragment(p, src, dst, newSrc);
        else if (p.fragOffset === 0) this.#track(p, src, dst, newSrc);
        continue;
      }
      this.#track(p, src, dst, newSrc);
    }
    this.nowUs = now;
    this.tick(now);
  }

  /**
   * Hands a fragment to the defragmenter; a datagram it completes is
   * decoded from the reassembled buffer and tracked like any packet.
   */
  #defragment(p: Packet, src: Host, dst: Host, newSrc: boolean): void {
    const defrag = this.defrag!;
    let n = defrag.add(p);
    // A reassembled tunnel packet may carry a fragment in turn: once more.
    for (let round = 0; n > 0 && round < 2; round++) {
      const q = this.#whole;
      const fault = decodeBytes(q, defrag.output, {
        length: n,
        linktype: LINKTYPE_RAW,
        tsUs: p.tsUs,
      });
      if (fault !== null) {
        this.counters.reassembledErrors++;
        this.decode.count(fault);
        return;
      }
      if (q.tunnelKinds !== 0) this.decode.addTunnels(q);
      if (q.fragment) {
        n = defrag.add(q);
        continue;
      }
      if (q.ipVersion === 0) return; // a tunnelled ARP or other frame
      let s = src, d = dst, ns = newSrc;
      if (q.tunnelDepth !== 0) {
        // The datagram carried a tunnel: its inner hosts are others.
        s = this.hosts.touch(q.ipVersion, q.src, q.tsUs);
        ns = this.hosts.lastCreated;
        d = this.hosts.touch(q.ipVersion, q.dst, q.tsUs);
      }
      this.#track(q, s, d, ns);
      return;
    }
  }

  /** Accounts a decoded IP packet to its flow and hands it to the observers. */
  #track(p: Packet, src: Host, dst: Host, newSrc: boolean): void {
    const flows = this.flows;
    const ctx = this.#ctx;
    const created = flows.counters.created;
    const flow = flows.update(p);
    ctx.newFlow = flows.counters.created !== created;
    this.#current = p;
    if (ctx.newFlow) {
      if (p.tunnelDepth !== 0) flow.tunnel = this.#tunnels.of(p);
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
    const obs = this.#packetObs;
    for (let k = 0; k < obs.length; k++) obs[k]!.onPacket!(p, ctx);
    const app = this.app;
    if (app !== null) {
      if (p.proto === IPPROTO_TCP) {
        app.tsUs = p.tsUs;
        this.reassembler!.segment(p, flow, ctx.dir);
      } else if (
        p.proto === IPPROTO_UDP && p.app === APP_DNS && this.#wantDns
      ) {
        app.tsUs = p.tsUs;
        app.datagram(p, flow, ctx.dir);
      }
    }
  }

  /**
   * Expires flows and ticks observers at `nowUs` (packet time). Called after
   * every batch; a live source also calls it on idle links with wall time.
   */
  tick(nowUs: number): void {
    if (nowUs > this.nowUs) this.nowUs = nowUs;
    if (this.nowUs === 0) return;
    this.defrag?.expire(this.nowUs);
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
