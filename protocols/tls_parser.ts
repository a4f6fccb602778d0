/**
 * TLS in the app layer: the protocol probe (as Suricata detects TLS: a
 * handshake record header, `16 03 0x`, holding a ClientHello or
 * ServerHello, on any port) and the {@link StreamParser} that hands a
 * connection's reassembled streams to {@link TlsStreamParser} and emits its
 * handshake once as a `tls` app-layer record ({@link TlsRecord}).
 *
 * The TLS client is the side whose first bytes are a ClientHello (normally
 * the flow's DIR_TO_SERVER; a connection picked up mid-way may have its
 * sides the other way round).
 *
 * @module
 */
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type Flow,
  type Tunnel,
} from "../flows/mod.ts";
import {
  type ParserOutput,
  type ParserSpec,
  PROBE_MORE,
  PROBE_NO,
  PROBE_YES,
  type StreamParser,
} from "./stream_parser.ts";
import { HS_CLIENT_HELLO, HS_SERVER_HELLO } from "./tls_handshake.ts";
import {
  TlsBufferBudget,
  type TlsHandshake,
  TlsStreamParser,
} from "./tls_stream.ts";

/** Where a handshake came from: the connection, client first. */
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

/** The app-layer record of one connection's TLS handshake. */
export interface TlsRecord {
  readonly kind: "tls";
  readonly handshake: TlsHandshake;
  /**
   * The flow direction the TLS client sent from (DIR_TO_SERVER unless the
   * connection was picked up with its sides the other way round).
   */
  readonly clientDir: number;
}

/**
 * The connection of a `tls` record, client first, addresses copied: what
 * consumers of {@link TlsConnection} (rules, intel, EVE) take.
 */
export function tlsConnectionOf(
  rec: TlsRecord,
  ctx: { readonly flow: Flow; readonly tsUs: number },
): TlsConnection {
  const f = ctx.flow;
  const fromClient = rec.clientDir === DIR_TO_SERVER;
  return {
    flowId: f.id,
    tsUs: ctx.tsUs,
    ipVersion: f.version,
    clientAddr: (fromClient ? f.srcAddr : f.dstAddr).slice(),
    serverAddr: (fromClient ? f.dstAddr : f.srcAddr).slice(),
    clientPort: fromClient ? f.srcPort : f.dstPort,
    serverPort: fromClient ? f.dstPort : f.srcPort,
    tunnel: f.tunnel,
  };
}

/** Ports TLS is expected on (detection is by content on any port). */
export const TLS_PORTS: readonly number[] = [
  443,
  465,
  636,
  853,
  993,
  995,
  8443,
];

/**
 * 0 when `d[off, off + len)` starts with a TLS handshake record whose first
 * message is a ClientHello or ServerHello, 1 when it cannot be, 2 when
 * there are too few bytes to tell.
 */
function looksLikeTls(d: Uint8Array, off: number, len: number): number {
  if (len >= 1 && d[off] !== 22) return 1;
  if (len >= 2 && d[off + 1] !== 3) return 1;
  if (len >= 3 && d[off + 2]! > 4) return 1;
  if (len < 6) return 2;
  const t = d[off + 5];
  return t === HS_CLIENT_HELLO || t === HS_SERVER_HELLO ? 0 : 1;
}

/**
 * The TLS protocol of the app layer: a handshake record with a hello, from
 * either side, on any port. Its parsers share `budget` for the handshake
 * messages they hold.
 */
export function tlsSpec(budget: TlsBufferBudget): ParserSpec {
  // Closed parsers, reused by the next connections (no objects made per
  // connection once the pool has some).
  const pool: TlsAppParser[] = [];
  return {
    name: "tls",
    ports: TLS_PORTS,
    probe(_dir, d, off, len) {
      const r = looksLikeTls(d, off, len);
      return r === 0 ? PROBE_YES : r === 1 ? PROBE_NO : PROBE_MORE;
    },
    create: () => pool.pop() ?? new TlsAppParser(budget),
    recycle(p) {
      if (p instanceof TlsAppParser && pool.length < 256) {
        p.reset();
        pool.push(p);
      }
    },
  };
}

/**
 * The shipped TLS spec (in `DEFAULT_PARSERS`), with a budget of
 * `TLS_BUFFER_MEMCAP` (32 MiB) for the handshake buffers of all its
 * connections.
 */
export const TLS_SPEC: ParserSpec = tlsSpec(new TlsBufferBudget());

/** One connection's TLS parser for the app layer. */
export class TlsAppParser implements StreamParser {
  readonly #budget: TlsBufferBudget;
  #tls: TlsStreamParser | null = null;
  /** The flow direction of the TLS client, once known. */
  #clientDir = -1;
  #out: ParserOutput | null = null;
  #dir = DIR_TO_SERVER;

  /** A parser whose handshake buffers count in `budget`. */
  constructor(budget: TlsBufferBudget = new TlsBufferBudget()) {
    this.#budget = budget;
  }

  #parser(): TlsStreamParser {
    return this.#tls ??= new TlsStreamParser((handshake: TlsHandshake) => {
      const rec: TlsRecord = {
        kind: "tls",
        handshake,
        clientDir: this.#clientDir < 0 ? DIR_TO_SERVER : this.#clientDir,
      };
      this.#out?.emit(rec, this.#dir);
    }, this.#budget);
  }

  data(
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
    out: ParserOutput,
  ): void {
    if (this.#clientDir < 0) {
      // The first hello seen names the client.
      const t = len >= 6 ? buf[off + 5] : -1;
      if (t === HS_CLIENT_HELLO) this.#clientDir = dir;
      else if (t === HS_SERVER_HELLO) {
        this.#clientDir = dir === DIR_TO_SERVER ? DIR_TO_CLIENT : DIR_TO_SERVER;
      } else this.#clientDir = DIR_TO_SERVER;
    }
    this.#out = out;
    this.#dir = dir;
    this.#parser().data(dir === this.#clientDir ? 0 : 1, buf, off, len);
  }

  gap(dir: number, _len: number, out: ParserOutput): void {
    this.#out = out;
    this.#dir = dir;
    const side = this.#clientDir < 0 || dir === this.#clientDir ? 0 : 1;
    this.#parser().gap(side);
  }

  end(_dir: number, _out: ParserOutput): void {
    // Each side stops on its own (encrypted data, a fault); the report
    // waits for close() when the handshake is not over yet.
  }

  close(out: ParserOutput): void {
    this.#out = out;
    this.#tls?.end();
    this.#out = null;
  }

  /** Back to a new connection's state, after {@link close} (for the spec's pool). */
  reset(): void {
    this.#tls?.reset();
    this.#clientDir = -1;
    this.#out = null;
    this.#dir = DIR_TO_SERVER;
  }

  /** Both sides' handshakes are over (or given up): the rest is not read. */
  done(): boolean {
    return this.#tls !== null && this.#tls.done;
  }
}
