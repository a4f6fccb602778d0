/**
 * Feeds TLS connections' TCP payloads, in sequence order, to a
 * {@link TlsStreamParser} per connection, as a pipeline observer. A
 * connection is taken up when a segment starts with a TLS handshake record
 * holding a ClientHello; from then on each direction's next expected
 * sequence number is tracked: a segment that starts there is fed, the new
 * tail of a retransmission that overlaps it is fed, and a segment beyond it
 * (a hole) gives that direction up (`tls_gap`). This is the in-order part
 * of TCP reassembly only, enough for the handshakes of ordinary captures.
 * The pipeline's own way is the app layer (`reassembly/` then
 * `tls_parser.ts`, records through `onApp`); this observer is for consumers
 * that take handshakes outside it, and parses them again.
 *
 * Bounded: at most `maxConnections` handshakes are followed at once (more
 * are counted and skipped); a connection's state goes when its handshake is
 * reported or its flow ends. Packets of other flows cost a property load and
 * a look at their first payload bytes.
 *
 * @module
 */
import { IPPROTO_TCP, type Packet } from "../decode/mod.ts";
import {
  DIR_TO_SERVER,
  type Flow,
  type FlowObserver,
  type PacketContext,
  type Tunnel,
} from "../flows/mod.ts";
import { type TlsHandshake, TlsStreamParser } from "./tls_stream.ts";

/** Where a reported handshake came from: the connection, client first. */
export interface TlsConnection {
  readonly flowId: number;
  /** Packet time (µs) of the segment that completed the handshake. */
  readonly tsUs: number;
  readonly ipVersion: 4 | 6;
  /** Client and server address words (copies). */
  readonly clientAddr: Uint32Array;
  readonly serverAddr: Uint32Array;
  readonly clientPort: number;
  readonly serverPort: number;
  /** The tunnel the connection came through (EVE `tunnel`), or null. */
  readonly tunnel: Tunnel | null;
}

/** Receives each connection's handshake once. */
export type TlsHandshakeSink = (hs: TlsHandshake, conn: TlsConnection) => void;

/** Counts of the TLS observer, for `/metrics` and `--stats-json`. */
export interface TlsObserverCounters {
  /** Connections taken up. */
  connections: number;
  /** Handshakes reported. */
  handshakes: number;
  /** Connections not followed because `maxConnections` were already. */
  skippedFull: number;
  /** Handshakes reported with a fault on either side, by fault. */
  faults: Record<string, number>;
}

/** Options of {@link tlsObserver}. */
export interface TlsObserverOptions {
  /** Handshakes followed at once (default 4096). */
  maxConnections?: number;
  /** Counters to add to (default: a fresh set). */
  counters?: TlsObserverCounters;
}

/** The observer {@link tlsObserver} builds: every method present. */
export interface TlsObserver extends FlowObserver {
  onPacket(p: Packet, ctx: PacketContext): void;
  onFlowEnd(f: Flow): void;
  onFinish(): void;
  readonly counters: TlsObserverCounters;
}

/** A fresh set of zero counters. */
export function newTlsObserverCounters(): TlsObserverCounters {
  return { connections: 0, handshakes: 0, skippedFull: 0, faults: {} };
}

interface ConnState {
  parser: TlsStreamParser;
  /** The flow (pooled: valid until its end is handled here). */
  flow: Flow;
  /** Next expected sequence number per parser direction (client 0). */
  next0: number;
  next1: number;
  /** Whether the next sequence number is known per direction. */
  known0: boolean;
  known1: boolean;
  /** The flow direction (DIR_TO_SERVER/DIR_TO_CLIENT) of the TLS client. */
  clientDir: number;
  /** Packet time of the last segment fed. */
  tsUs: number;
}

/** True when the payload starts a handshake record holding a ClientHello. */
function startsClientHello(p: Packet): boolean {
  const o = p.payloadOffset, d = p.data;
  return p.payloadLen >= 6 && d[o] === 22 && d[o + 1] === 3 &&
    d[o + 5] === 1;
}

/** Signed distance a − b in 32-bit sequence space. */
function seqDiff(a: number, b: number): number {
  return ((a - b) | 0);
}

let instances = 0;

/** The connection a handshake came from, client first, addresses copied. */
function connectionOf(st: ConnState): TlsConnection {
  const f = st.flow;
  const fromClient = st.clientDir === DIR_TO_SERVER;
  return {
    flowId: f.id,
    tsUs: st.tsUs,
    ipVersion: f.version,
    clientAddr: (fromClient ? f.srcAddr : f.dstAddr).slice(),
    serverAddr: (fromClient ? f.dstAddr : f.srcAddr).slice(),
    clientPort: fromClient ? f.srcPort : f.dstPort,
    serverPort: fromClient ? f.dstPort : f.srcPort,
    tunnel: f.tunnel,
  };
}

/**
 * Builds the observer that reads TLS handshakes from TCP payloads and hands
 * each to `sink` with its connection. Per-connection state lives in the
 * flow's `ext` slot (under a key of this observer's own) and goes with it.
 */
export function tlsObserver(
  sink: TlsHandshakeSink,
  opts: TlsObserverOptions = {},
): TlsObserver {
  const max = opts.maxConnections ?? 4096;
  const counters = opts.counters ?? newTlsObserverCounters();
  const key = `tls${instances++}`;
  let live = 0;

  const newState = (p: Packet, ctx: PacketContext): ConnState => {
    const st: ConnState = {
      parser: null as unknown as TlsStreamParser,
      flow: ctx.flow,
      next0: 0,
      next1: 0,
      known0: false,
      known1: false,
      clientDir: ctx.dir,
      tsUs: p.tsUs,
    };
    st.parser = new TlsStreamParser((hs) => {
      counters.handshakes++;
      for (const f of hs.faults) {
        counters.faults[f] = (counters.faults[f] ?? 0) + 1;
      }
      sink(hs, connectionOf(st));
    });
    return st;
  };

  const drop = (f: Flow): void => {
    f.ext![key] = undefined;
    live--;
  };

  const onPacket = (p: Packet, ctx: PacketContext): void => {
    if (p.payloadLen === 0 || p.proto !== IPPROTO_TCP) return;
    const f = ctx.flow;
    let st = f.ext?.[key] as ConnState | undefined;
    if (st === undefined) {
      if (!startsClientHello(p)) return;
      if (live >= max) {
        counters.skippedFull++;
        return;
      }
      counters.connections++;
      live++;
      st = newState(p, ctx);
      (f.ext ??= {})[key] = st;
    }
    const dir = ctx.dir === st.clientDir ? 0 : 1;
    const parser = st.parser;
    if (parser.isDone(dir)) return;
    let start = p.payloadOffset;
    const end = start + p.payloadLen;
    const seq = p.tcpSeq >>> 0;
    st.tsUs = p.tsUs;
    if (dir === 0 && !st.known0) {
      st.known0 = true;
      st.next0 = seq;
    } else if (dir === 1 && !st.known1) {
      st.known1 = true;
      st.next1 = seq;
    }
    const next = dir === 0 ? st.next0 : st.next1;
    const ahead = seqDiff(seq, next);
    if (ahead > 0) {
      parser.gap(dir);
    } else {
      // A retransmission: feed only what lies past what was fed.
      start -= ahead;
      if (start < end) {
        parser.data(dir, p.data.subarray(start, end));
        const moved = (next + (end - start)) >>> 0;
        if (dir === 0) st.next0 = moved;
        else st.next1 = moved;
      }
    }
    if (parser.done) drop(f);
  };

  const onFlowEnd = (f: Flow): void => {
    const st = f.ext?.[key] as ConnState | undefined;
    if (st === undefined) return;
    st.tsUs = f.lastUs > st.tsUs ? f.lastUs : st.tsUs;
    st.parser.end();
    drop(f);
  };

  // Every flow has ended (and been handled above) before onFinish.
  const onFinish = (): void => {};

  return { onPacket, onFlowEnd, onFinish, counters };
}
