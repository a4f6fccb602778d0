/**
 * Application-layer records: what the stream-fed parsers of `protocols/`
 * hand to later stages (EVE events, detectors, the rule engine, threat
 * intel, device profiles) through {@link AppObserver.onApp}. A
 * discriminated union on `kind`; a consumer `switch`es on it and ends with
 * a `never` check, so a new kind fails to compile until handled.
 *
 * Records are built once per message (never per packet), are not reused,
 * and may be kept.
 *
 * @module
 */
import type { Flow, FlowObserver } from "../flows/mod.ts";
import type { DnsMessage } from "./dns.ts";
import type { HttpTransaction } from "./http.ts";
import type { TlsRecord } from "./tls_parser.ts";

/** One parsed application-layer record. */
export type AppRecord = HttpTransaction | DnsMessage | TlsRecord;

/** Where and when a record was completed. Reused between calls: copy what you keep. */
export interface AppContext {
  /** The flow (pooled: copy what you keep). */
  flow: Flow;
  /** Direction of the message that completed the record (DIR_TO_SERVER or DIR_TO_CLIENT). */
  dir: number;
  /** Packet time of the segment that completed it (the flow's last packet at its end), µs. */
  tsUs: number;
  /** "tcp" or "udp": how the message travelled. */
  transport: "tcp" | "udp";
}

/**
 * The one observer shape of the pipeline: {@link FlowObserver} (packets,
 * flow ends, ticks) plus reassembled TCP streams and parsed app-layer
 * records. Every method is optional and synchronous, called on the hot
 * path: no awaits, no I/O.
 *
 * Order within one packet: `onPacket` first, then the stream data the
 * packet made contiguous (`onStreamData`/`onStreamGap`), then the records
 * it completed (`onApp`). When a flow ends, its streams are flushed and
 * its last records delivered before `onFlowEnd`.
 */
export interface AppObserver extends FlowObserver {
  /**
   * In-order reassembled bytes of one direction of a TCP flow:
   * `data[off, off + len)` at stream offset `streamOff` (0 = the first byte
   * after the SYN). A transient view: copy what you keep.
   */
  onStreamData?(
    flow: Flow,
    dir: number,
    data: Uint8Array,
    off: number,
    len: number,
    streamOff: number,
  ): void;
  /** `len` bytes of the direction were never seen (the capture lost them). */
  onStreamGap?(flow: Flow, dir: number, len: number): void;
  /** A parsed application-layer record (see {@link AppRecord}). */
  onApp?(rec: AppRecord, ctx: AppContext): void;
  /**
   * The record kinds `onApp` reads (default: all). Records nobody reads
   * are not built (a UDP DNS answer, say, is then not parsed beyond the
   * decoder's facts).
   */
  readonly appKinds?: readonly AppRecord["kind"][];
  /**
   * A stream anomaly (Suricata's event names, e.g.
   * `REASSEMBLY_OVERLAP_DIFFERENT_DATA`) with the packet time.
   */
  onStreamEvent?(flow: Flow, dir: number, event: string, tsUs: number): void;
}
