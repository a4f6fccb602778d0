/**
 * The shape of a stream-fed application-layer parser, and how one is
 * chosen for a connection. A parser is made per TCP flow once the
 * protocol is detected; it sees both directions' reassembled bytes in
 * order, gaps, and ends, and emits {@link AppRecord}s.
 *
 * Detection follows Suricata's app-layer protocol detection
 * (https://docs.suricata.io/en/latest/rules/app-layer.html): each parser
 * probes the first bytes a direction sent, by content on any port (HTTP
 * methods and status lines, TLS record headers) or only on its ports where
 * content alone is too weak (DNS over TCP). The first parser to say yes
 * gets the flow; a direction whose first {@link PROBE_MAX} bytes no parser
 * accepts leaves the flow undetected.
 *
 * @module
 */
import type { AppRecord } from "./app_record.ts";

/** Where a parser sends its records. */
export interface ParserOutput {
  /** A finished record, completed by a message in direction `dir`. */
  emit(rec: AppRecord, dir: number): void;
}

/** One connection's parser (both directions). */
export interface StreamParser {
  /** In-order bytes `buf[off, off + len)` of direction `dir` (transient: copy what you keep). */
  data(
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
    out: ParserOutput,
  ): void;
  /** `len` bytes of direction `dir` are missing: resynchronise or give the direction up. */
  gap(dir: number, len: number, out: ParserOutput): void;
  /** No more bytes will come in direction `dir`. */
  end(dir: number, out: ParserOutput): void;
  /** The flow ended: emit whatever is pending. Called once, last. */
  close(out: ParserOutput): void;
  /**
   * True once neither direction wants more bytes (optional: without it a
   * parser reads to the flow's end). A TLS parser is done when both sides'
   * handshakes are over: what follows is encrypted. The app layer then
   * lets the flow's streams go (the reassembler stops, unless an observer
   * reads stream bytes) and, once they have stopped, calls `close`. Suricata
   * likewise stops inspecting a TLS session's content once it is encrypted
   * (suricata.yaml `app-layer.protocols.tls.encryption-handling`, whose
   * `default` inspects only the handshake).
   */
  done?(): boolean;
  /**
   * After a data() call: the offset in that call's `buf` from which the
   * connection carries another protocol (an HTTP CONNECT answered 2xx: the
   * tunnelled one, TLS most often), reported once; -1 otherwise (optional).
   * The app layer then closes this parser and detects the rest afresh, as
   * Suricata changes protocol after a CONNECT.
   */
  changeAt?(): number;
}

/** What a probe decided. */
export const PROBE_NO = 0;
/** The bytes are this protocol. */
export const PROBE_YES = 1;
/** Too few bytes to tell. */
export const PROBE_MORE = 2;

/** Bytes of each direction a flow's detection looks at, at most. */
export const PROBE_MAX = 64;

/** A protocol the app layer can detect and parse. */
export interface ParserSpec {
  /** The app-layer protocol name (EVE `app_proto`): "http", "dns", "tls". */
  readonly name: string;
  /** Server ports the protocol is expected on (probes may require them). */
  readonly ports: readonly number[];
  /**
   * Looks at the first bytes direction `dir` sent (`data[off, off + len)`,
   * everything so far, at most {@link PROBE_MAX}); `port` is the flow's
   * server port. Returns {@link PROBE_YES}, {@link PROBE_NO} or
   * {@link PROBE_MORE}.
   */
  probe(
    dir: number,
    data: Uint8Array,
    off: number,
    len: number,
    port: number,
  ): number;
  /**
   * A parser for one new connection. Buffers it grows beyond a small fixed
   * size are counted in `budget` (shared by every connection), and not
   * grown when it is spent.
   */
  create(budget: ParserBudget): StreamParser;
  /**
   * Takes back a parser of this spec after its `close`, for `create` to
   * hand out again (optional: without it the parser is left to the GC).
   */
  recycle?(parser: StreamParser): void;
}

/**
 * Bytes of parser buffers (message heads, kept bodies, messages split
 * across segments) held by all connections together, and the cap. A
 * parser that would pass the cap keeps what it has (a head or body is then
 * cut short and flagged) instead of growing.
 */
export interface ParserBudget {
  used: number;
  readonly cap: number;
}

/** Accounted per parser made (its objects), and per buffer (its backing store). */
export const PARSER_OVERHEAD = 1024;
/** Accounted per parser buffer besides its bytes. */
export const BUFFER_OVERHEAD = 256;

/** 32 MiB of parser buffers for all connections (beside `stream.memcap`). */
export const DEFAULT_PARSER_MEMCAP = 32 << 20;

/** Takes `n` bytes from `b`; false (nothing taken) when that would pass its cap. */
export function takeBudget(b: ParserBudget, n: number): boolean {
  if (b.used + n > b.cap) return false;
  b.used += n;
  return true;
}

/**
 * Copies of small byte ranges that no caller's buffer shares, packed into
 * 16 KiB slabs shared by the copies that follow (one ArrayBuffer for dozens
 * of HTTP heads or DNS messages instead of one each; a slab lives as long as
 * a copy in it). Ranges over `max` bytes get an ArrayBuffer of their own.
 */
export class SlabCopier {
  #slab: Uint8Array;
  #at = 0;

  /** Copies up to `max` bytes go into slabs of `size` bytes. */
  constructor(readonly max = 1024, readonly size = 16 * 1024) {
    this.#slab = new Uint8Array(size);
  }

  /** A copy of `src[from, to)`. */
  copy(src: Uint8Array, from: number, to: number): Uint8Array {
    const n = to - from;
    if (n > this.max) return src.slice(from, to);
    if (this.#at + n > this.size) {
      this.#slab = new Uint8Array(this.size);
      this.#at = 0;
    }
    const at = this.#at, sl = this.#slab;
    for (let i = 0; i < n; i++) sl[at + i] = src[from + i]!;
    this.#at = at + n;
    return sl.subarray(at, at + n);
  }
}
