/**
 * Feeds TLS connections' TCP payloads, in sequence order, to a
 * {@link TlsStreamParser} per connection, as a pipeline observer. A
 * connection is taken up when a segment starts with a TLS handshake record
 * holding a ClientHello; from then on each direction's next expected
 * sequence number is tracked: a segment that starts there is fed, the new
 * tail of a retransmission that overlaps it is fed, and a segment beyond it
 * (a hole) gives that direction up (`tls_gap`). This is the in-order part
 * of TCP reassembly only, enough for the handshakes of ordinary captures;
 * the `reassembly/` stage replaces it once it is in.
 *
 * Bounded: at most `maxConnections` handshakes are followed at once (more
 * are counted and skipped); a connection's state goes when its handshake is
 * reported or its flow ends.
 *
 * @module
 */
import { IPPROTO_TCP, type Packet } from "../decode/mod.ts";
import type {
  Flow,
  FlowObserver,
  PacketContext,
  Tunnel,
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
  /** Next expected sequence number per parser direction (client 0). */
  next: [number, number];
  /** Whether `next` is known per direction. */
  known: [boolean, boolean];
  /** The flow direction (DIR_TO_SERVER/DIR_TO_CLIENT) of the TLS client. */
  clientDir: number;
  conn: {
    flowId: number;
    tsUs: number;
    ipVersion: 4 | 6;
    clientAddr: Uint32Array;
    serverAddr: Uint32Array;
    clientPort: number;
    serverPort: number;
    tunnel: Tunnel | null;
  };
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

/**
 * Builds the observer that reads TLS handshakes from TCP payloads and hands
 * each to `sink` with its connection.
 */
export function tlsObserver(
  sink: TlsHandshakeSink,
  opts: TlsObserverOptions = {},
): TlsObserver {
  const max = opts.maxConnections ?? 4096;
  const counters = opts.counters ?? newTlsObserverCounters();
  const conns = new Map<number, ConnState>();
  let current: ConnState | null = null;
  const report = (hs: TlsHandshake): void => {
    const st = current!;
    counters.handshakes++;
    for (const f of hs.faults) {
      counters.faults[f] = (counters.faults[f] ?? 0) + 1;
    }
    sink(hs, st.conn);
  };

  const onPacket = (p: Packet, ctx: PacketContext): void => {
    if (p.proto !== IPPROTO_TCP || p.payloadLen === 0) return;
    const f = ctx.flow;
    let st = conns.get(f.id);
    if (st === undefined) {
      if (!startsClientHello(p)) return;
      if (conns.size >= max) {
        counters.skippedFull++;
        return;
      }
      counters.connections++;
      st = {
        parser: new TlsStreamParser((hs) => report(hs)),
        next: [0, 0],
        known: [false, false],
        clientDir: ctx.dir,
        conn: {
          flowId: f.id,
          tsUs: p.tsUs,
          ipVersion: p.ipVersion === 6 ? 6 : 4,
          clientAddr: p.src.slice(),
          serverAddr: p.dst.slice(),
          clientPort: p.srcPort,
          serverPort: p.dstPort,
          tunnel: f.tunnel,
        },
      };
      conns.set(f.id, st);
    }
    const dir = ctx.dir === st.clientDir ? 0 : 1;
    if (st.parser.isDone(dir)) return;
    let start = p.payloadOffset;
    const end = start + p.payloadLen;
    const seq = p.tcpSeq >>> 0;
    if (!st.known[dir]) {
      st.known[dir] = true;
      st.next[dir] = seq;
    }
    const ahead = seqDiff(seq, st.next[dir]);
    if (ahead > 0) {
      current = st;
      st.conn.tsUs = p.tsUs;
      st.parser.gap(dir);
    } else {
      // A retransmission: feed only what lies past what was fed.
      start -= ahead;
      if (start < end) {
        current = st;
        st.conn.tsUs = p.tsUs;
        st.parser.data(dir, p.data.subarray(start, end));
        st.next[dir] = (st.next[dir] + (end - start)) >>> 0;
      }
    }
    if (st.parser.done) conns.delete(f.id);
  };

  const onFlowEnd = (f: Flow): void => {
    const st = conns.get(f.id);
    if (st === undefined) return;
    conns.delete(f.id);
    current = st;
    st.conn.tsUs = f.lastUs;
    st.parser.end();
  };

  const onFinish = (): void => {
    for (const st of conns.values()) {
      current = st;
      st.parser.end();
    }
    conns.clear();
  };

  return { onPacket, onFlowEnd, onFinish, counters };
}
