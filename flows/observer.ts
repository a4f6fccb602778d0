/**
 * The one shape every later stage (detectors, protocol events, stats,
 * features) takes to see traffic: decoded packets with their flow and
 * hosts, flow ends, and a per-batch tick in packet time.
 *
 * @module
 */
import type { Packet } from "../decode/mod.ts";
import type { Flow, FlowEndReason } from "./flow_table.ts";
import type { Host } from "./host_table.ts";
import type { Tunnel } from "./tunnel.ts";

/** What an observer is told about one IP packet. */
export interface PacketContext {
  /** The flow the packet belongs to (pooled: copy what you keep). */
  flow: Flow;
  /** DIR_TO_SERVER (0) or DIR_TO_CLIENT (1). */
  dir: number;
  /** True when this packet created the flow. */
  newFlow: boolean;
  /** Sending and receiving hosts. */
  srcHost: Host;
  dstHost: Host;
  /** True when the sending host was first seen with this packet. */
  newSrcHost: boolean;
  /**
   * The tunnel this packet came through (its own outer tuple, which for a
   * reply is the reverse of the flow's), or null. Built when read (read it
   * only when needed; `flow.tunnel` is at hand). Shared: do not change.
   */
  readonly tunnel: Tunnel | null;
}

/**
 * A consumer of pipeline events. All methods are synchronous and called on
 * the hot path: no awaits, no I/O, no allocation per packet.
 */
export interface FlowObserver {
  /**
   * Every decoded IP packet, reassembled datagrams included (fragments are
   * not: they go to the defragmenter; with it turned off, first fragments
   * are passed on and the others are not).
   */
  onPacket?(p: Packet, ctx: PacketContext): void;
  /**
   * A decoding anomaly of a packet (defragmentation:
   * `decoder.ipv4.frag_overlap`, `decoder.ipv6.frag_teardrop`, …; see
   * defrag/), named as Suricata's EVE `anomaly` events of type `decode`
   * name them. `p` is the packet that showed it.
   */
  onAnomaly?(p: Packet, event: string): void;
  /**
   * Every decoded frame that is not IP (ARP and other link-layer frames):
   * the record's link-layer facts (`ethSrc`, `ethDst`, `arpMsg`) only.
   */
  onLinkFrame?(p: Packet): void;
  /** A flow ended; the flow is recycled when this returns. */
  onFlowEnd?(f: Flow, reason: FlowEndReason): void;
  /** After every batch, with the newest packet time in µs. */
  onTick?(nowUs: number): void;
  /** End of input: flush whatever is pending (called after flows flush). */
  onFinish?(nowUs: number): void;
}
