/**
 * The application layer: receives the reassembler's streams (it is the
 * reassembler's {@link StreamSink}) and UDP datagrams, detects each
 * connection's protocol by probing its first bytes (see
 * `stream_parser.ts`), feeds the chosen parser, and hands records, stream
 * bytes and stream events on to the pipeline's observers.
 *
 * @module
 */
import { APP_DNS, type Packet } from "../decode/mod.ts";
import { DIR_TO_SERVER, type Flow } from "../flows/mod.ts";
import type {
  StreamAnomaly,
  StreamEndReason,
  StreamSink,
} from "../reassembly/mod.ts";
import type { AppContext, AppRecord } from "./app_record.ts";
import { DnsTcpParser, parseDnsMessage } from "./dns.ts";
import { HttpParser, looksLikeRequest, looksLikeResponse } from "./http.ts";
import { TLS_SPEC, tlsSpec } from "./tls_parser.ts";
import { TlsBufferBudget } from "./tls_stream.ts";
import {
  DEFAULT_PARSER_MEMCAP,
  PARSER_OVERHEAD,
  type ParserBudget,
  type ParserOutput,
  type ParserSpec,
  PROBE_MAX,
  PROBE_MORE,
  PROBE_NO,
  PROBE_YES,
  type StreamParser,
  takeBudget,
} from "./stream_parser.ts";

/** Where the app layer's output goes (the engine fans it out to observers). */
export interface AppLayerOutput {
  /** A finished record. */
  app(rec: AppRecord, ctx: AppContext): void;
  /** In-order stream bytes (before the parser sees them). */
  data?(
    flow: Flow,
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
    streamOff: number,
  ): void;
  /** A hole in a stream. */
  gap?(flow: Flow, dir: number, len: number): void;
  /** A stream anomaly. */
  anomaly?(flow: Flow, dir: number, event: StreamAnomaly): void;
  /**
   * The app layer wants no more of the flow's streams: no parser took it,
   * its protocol's records have no reader, or its parser is done (a TLS
   * handshake over). Called once per flow. True when the streams stopped
   * (no more of the flow's bytes, gaps or ends will come): the app layer
   * then lets the flow's state go at once.
   */
  letGo?(flow: Flow): boolean;
}

/** Counters of the app layer. */
export interface AppLayerCounters {
  /** Connections detected, by protocol. */
  detected: Record<string, number>;
  /** Connections no parser took. */
  undetected: number;
  /** Connections detected but not parsed: the parser memory budget was spent. */
  skipped: number;
  /**
   * Connections whose protocol changed (a CONNECT answered 2xx) and whose
   * rest was detected afresh (counted again in `detected` or `undetected`).
   */
  changed: number;
  /** Records emitted, by kind. */
  records: Record<string, number>;
}

/** HTTP ports where any printable first byte is taken as a request (as the policy's `malformed_http.ports`). */
export const HTTP_PORTS: readonly number[] = [
  80,
  591,
  3128,
  8000,
  8008,
  8080,
  8081,
  8888,
];

const KNOWN_METHODS = new Set([
  "GET",
  "POST",
  "HEAD",
  "PUT",
  "DELETE",
  "OPTIONS",
  "CONNECT",
  "TRACE",
  "PATCH",
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
  "REPORT",
  "SEARCH",
  "M-SEARCH",
  "NOTIFY",
  "SUBSCRIBE",
  "PURGE",
]);

/**
 * HTTP/1.x: on its ports any printable first byte from the client; on any
 * port a known method and a space from the client, or `HTTP/` from the
 * server.
 */
export const HTTP_SPEC: ParserSpec = {
  name: "http",
  ports: HTTP_PORTS,
  probe(dir, d, off, len, port) {
    if (dir !== DIR_TO_SERVER) {
      return looksLikeResponse(d, off, len) === 1
        ? PROBE_YES
        : looksLikeResponse(d, off, len) === 0
        ? PROBE_NO
        : PROBE_MORE;
    }
    const c0 = d[off]!;
    if (HTTP_PORTS.includes(port)) {
      return c0 >= 0x21 && c0 <= 0x7e ? PROBE_YES : PROBE_NO;
    }
    const r = looksLikeRequest(d, off, len);
    if (r !== 1) return r === 0 ? PROBE_NO : PROBE_MORE;
    let m = "";
    for (let i = off; d[i] !== 0x20; i++) m += String.fromCharCode(d[i]!);
    return KNOWN_METHODS.has(m) ? PROBE_YES : PROBE_NO;
  },
  create: (budget) => HttpParser.take(budget),
  recycle: (p) => {
    if (p instanceof HttpParser) HttpParser.recycle(p);
  },
};

/** DNS ports (DNS, mDNS, LLMNR). */
export const DNS_PORTS: readonly number[] = [53, 5353, 5355];

/** DNS over TCP: on its ports, a length prefix and a plausible header. */
export const DNS_TCP_SPEC: ParserSpec = {
  name: "dns",
  ports: DNS_PORTS,
  probe(_dir, d, off, len, port) {
    if (!DNS_PORTS.includes(port)) return PROBE_NO;
    if (len < 14) return PROBE_MORE;
    const mlen = (d[off]! << 8) | d[off + 1]!;
    const qd = (d[off + 6]! << 8) | d[off + 7]!;
    return mlen >= 12 && qd <= 64 ? PROBE_YES : PROBE_NO;
  },
  create: (budget) => new DnsTcpParser(budget),
};

/** The parsers shipped, in probing order. */
export const DEFAULT_PARSERS: readonly ParserSpec[] = [
  HTTP_SPEC,
  TLS_SPEC,
  DNS_TCP_SPEC,
];

/**
 * The shipped parsers with the TLS handshake buffers bounded by a budget
 * of their own of `memcap` bytes (`stream.parser_memcap`; the HTTP and DNS
 * parsers share the app layer's budget, its constructor's `parserMemcap`).
 */
export function parsersWithMemcap(memcap: number): ParserSpec[] {
  return [HTTP_SPEC, tlsSpec(new TlsBufferBudget(memcap)), DNS_TCP_SPEC];
}

/**
 * Per-flow app-layer state, in plain fields (one object a slot, reused:
 * no arrays of its own to load).
 */
class FlowApp {
  flowId = -1;
  spec: ParserSpec | null = null;
  parser: StreamParser | null = null;
  failed = false;
  /** Bytes each direction sent before detection (copied only when a probe wanted more). */
  prefix0: Uint8Array | null = null;
  prefix1: Uint8Array | null = null;
  prefixLen0 = 0;
  prefixLen1 = 0;
  /** Directions whose probes all said no (bit `1 << dir`). */
  no = 0;
  /** The flow's streams were let go ({@link AppLayerOutput.letGo}). */
  let = false;
  /** Directions whose stream ended (bit `1 << dir`). */
  ended = 0;
  /** The connection changed protocol once (after a CONNECT): no second change. */
  changed = false;
  reset(): void {
    this.flowId = -1;
    this.spec = null;
    this.parser = null;
    this.failed = false;
    this.let = false;
    this.ended = 0;
    this.changed = false;
    this.dropPrefixes();
    this.no = 0;
  }
  prefix(dir: number): Uint8Array | null {
    return dir === 0 ? this.prefix0 : this.prefix1;
  }
  prefixLen(dir: number): number {
    return dir === 0 ? this.prefixLen0 : this.prefixLen1;
  }
  setPrefix(dir: number, p: Uint8Array | null, len: number): void {
    if (dir === 0) {
      this.prefix0 = p;
      this.prefixLen0 = len;
    } else {
      this.prefix1 = p;
      this.prefixLen1 = len;
    }
  }
  dropPrefixes(): void {
    this.prefix0 = this.prefix1 = null;
    this.prefixLen0 = this.prefixLen1 = 0;
  }
}

/** The app layer of one pipeline. */
export class AppLayer implements StreamSink {
  readonly counters: AppLayerCounters = {
    detected: {},
    undetected: 0,
    skipped: 0,
    changed: 0,
    records: {},
  };
  /** Packet time of the packet being processed, µs (set by the engine). */
  tsUs = 0;
  /** Parser buffer bytes held by all connections, under their cap. */
  readonly budget: ParserBudget;
  #specs: readonly ParserSpec[];
  #outSink: AppLayerOutput;
  /** Per-flow state by the flow's slot (made at a flow's first stream byte, let go at its end). */
  #bySlot: (FlowApp | null)[] = [];
  /** States of ended flows, for the next ones. */
  #pool: FlowApp[] = [];
  #live = 0;
  /** The state found last (its flow id says whether it is still that flow's). */
  #last: FlowApp = new FlowApp();
  #ctx: AppContext;
  #flow: Flow | null = null;
  #parserOut: ParserOutput;
  /** Whether some observer reads records of a kind (default: all are read). */
  #wants: (kind: string) => boolean = () => true;

  /** An app layer probing `specs` in order and reporting to `out`. */
  constructor(
    out: AppLayerOutput,
    specs: readonly ParserSpec[] = DEFAULT_PARSERS,
    parserMemcap: number = DEFAULT_PARSER_MEMCAP,
  ) {
    this.budget = { used: 0, cap: parserMemcap };
    this.#specs = specs;
    this.#outSink = out;
    this.#ctx = {
      flow: null as unknown as Flow,
      dir: DIR_TO_SERVER,
      tsUs: 0,
      transport: "tcp",
    };
    this.#parserOut = {
      emit: (rec, dir) => this.#emit(rec, this.#flow!, dir, "tcp"),
    };
  }

  /**
   * Tells the app layer how to ask whether some observer reads records of
   * a kind (asked once per detected connection, so readers that change,
   * like a rule set loaded later, are followed). A connection whose
   * protocol is detected but whose records nobody reads is counted and
   * named (`app_proto`) but not parsed, and its streams are let go (as a
   * protocol set to `detection-only` in suricata.yaml's
   * `app-layer.protocols`).
   */
  setReaders(wants: (kind: string) => boolean): void {
    this.#wants = wants;
  }

  #emit(
    rec: AppRecord,
    flow: Flow,
    dir: number,
    transport: "tcp" | "udp",
  ): void {
    const ctx = this.#ctx;
    ctx.flow = flow;
    ctx.dir = dir;
    ctx.tsUs = this.tsUs > flow.lastUs ? flow.lastUs : this.tsUs;
    if (ctx.tsUs === 0) ctx.tsUs = flow.lastUs;
    ctx.transport = transport;
    const r = this.counters.records;
    r[rec.kind] = (r[rec.kind] ?? 0) + 1;
    this.#outSink.app(rec, ctx);
  }

  #state(flow: Flow, create: boolean): FlowApp | null {
    // A segment's bytes and the gap after them come one after the other.
    const last = this.#last;
    if (last.flowId === flow.id) return last;
    const slot = flow.slot;
    let s = slot < this.#bySlot.length ? this.#bySlot[slot]! : null;
    if (s !== null && s.flowId === flow.id) return (this.#last = s);
    if (!create) return null;
    if (s === null) {
      s = this.#pool.pop() ?? new FlowApp();
      this.#live++;
      while (this.#bySlot.length <= slot) this.#bySlot.push(null);
      this.#bySlot[slot] = s;
    } else s.reset();
    s.flowId = flow.id;
    return (this.#last = s);
  }

  /** Reassembled bytes of one direction (the reassembler's sink). */
  data(
    flow: Flow,
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
    streamOff: number,
  ): void {
    this.#outSink.data?.(flow, dir, buf, off, len, streamOff);
    const s = this.#state(flow, true)!;
    const parser = s.parser;
    if (parser !== null) {
      this.#flow = flow;
      parser.data(dir, buf, off, len, this.#parserOut);
      if (parser.changeAt !== undefined) {
        const at = parser.changeAt();
        if (at >= 0 && !s.changed) {
          this.#change(flow, s, dir, buf, at, off + len - at);
          return;
        }
      }
      if (parser.done?.() === true) this.#letGo(flow, s);
      return;
    }
    if (s.failed) return;
    this.#probe(flow, s, dir, buf, off, len);
  }

  /**
   * The connection carries another protocol from here (its parser said so:
   * a CONNECT answered 2xx): the parser is closed (it emits what it holds)
   * and the protocol of the rest is detected afresh, from `buf[at, at + n)`
   * on in direction `dir` and from the next bytes in the other. Once per
   * connection.
   */
  #change(
    flow: Flow,
    s: FlowApp,
    dir: number,
    buf: Uint8Array,
    at: number,
    n: number,
  ): void {
    this.#closeParser(flow, s);
    s.failed = false;
    s.no = 0;
    s.dropPrefixes();
    s.changed = true;
    this.counters.changed++;
    if (n > 0) this.#probe(flow, s, dir, buf, at, n);
  }

  /** Probes a direction's first bytes; on a match, creates the parser and feeds it. */
  #probe(
    flow: Flow,
    s: FlowApp,
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
  ): void {
    let d = buf, o = off, n = len;
    const had = s.prefixLen(dir);
    if (had > 0) {
      // Earlier bytes of this direction wait in the prefix: probe them with these.
      const p = s.prefix(dir)!;
      const take = Math.min(len, PROBE_MAX - had);
      p.set(buf.subarray(off, off + take), had);
      s.setPrefix(dir, p, had + take);
      d = p;
      o = 0;
      n = had + take;
    }
    let more = false;
    for (const spec of this.#specs) {
      const r = spec.probe(dir, d, o, Math.min(n, PROBE_MAX), flow.dstPort);
      if (r === PROBE_YES) {
        this.#start(flow, s, spec, dir, buf, off, len, had);
        return;
      }
      if (r === PROBE_MORE) more = true;
    }
    if (more && n < PROBE_MAX) {
      if (had === 0) {
        const p = s.prefix(dir) ?? new Uint8Array(PROBE_MAX);
        p.set(buf.subarray(off, off + len));
        s.setPrefix(dir, p, len);
      }
      return;
    }
    s.no |= 1 << dir;
    s.setPrefix(dir, null, 0);
    if ((s.no & (1 << (dir ^ 1))) !== 0 || s.prefixLen(dir ^ 1) === 0) {
      this.#fail(flow, s);
    }
  }

  #start(
    flow: Flow,
    s: FlowApp,
    spec: ParserSpec,
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
    had: number,
  ): void {
    if (!this.#wants(spec.name)) {
      // Detected, but nobody reads its records: named, not parsed.
      const c = this.counters.detected;
      c[spec.name] = (c[spec.name] ?? 0) + 1;
      if (flow.appProto === "") flow.appProto = spec.name;
      s.failed = true;
      s.dropPrefixes();
      this.#letGo(flow, s);
      return;
    }
    // A parser's objects count in the budget: a flood of connections
    // cannot make more than it allows.
    if (!takeBudget(this.budget, PARSER_OVERHEAD)) {
      this.counters.skipped++;
      this.#fail(flow, s);
      return;
    }
    s.spec = spec;
    const parser = spec.create(this.budget);
    s.parser = parser;
    const c = this.counters.detected;
    c[spec.name] = (c[spec.name] ?? 0) + 1;
    if (flow.appProto === "") flow.appProto = spec.name;
    this.#flow = flow;
    const out = this.#parserOut;
    // The other direction's waiting bytes first (they came earlier).
    const other = dir ^ 1;
    const op = s.prefix(other);
    if (op !== null && s.prefixLen(other) > 0) {
      parser.data(other, op, 0, s.prefixLen(other), out);
    }
    if (had > 0) parser.data(dir, s.prefix(dir)!, 0, had, out);
    parser.data(dir, buf, off, len, out);
    s.dropPrefixes();
    if (parser.done?.() === true) this.#letGo(flow, s);
  }

  #fail(flow: Flow, s: FlowApp): void {
    s.failed = true;
    s.dropPrefixes();
    this.counters.undetected++;
    this.#letGo(flow, s);
  }

  /**
   * Tells the output, once, that the flow's streams are of no more use;
   * when they stop, the parser (done, or none) is closed and the state let
   * go now, while in cache, not at the flow's end.
   */
  #letGo(flow: Flow, s: FlowApp): void {
    if (s.let) return;
    s.let = true;
    if (this.#outSink.letGo?.(flow) === true) this.#release(flow, s);
  }

  /** A hole in a stream (the reassembler's sink). */
  gap(flow: Flow, dir: number, len: number): void {
    this.#outSink.gap?.(flow, dir, len);
    const s = this.#state(flow, false);
    if (s === null) return;
    const parser = s.parser;
    if (parser !== null) {
      this.#flow = flow;
      parser.gap(dir, len, this.#parserOut);
      if (parser.done?.() === true) this.#letGo(flow, s);
    } else if (!s.failed) this.#fail(flow, s);
  }

  /**
   * A direction ended (the reassembler's sink). Once both have, no more
   * bytes can come: the parser is closed and the flow's state let go now,
   * while they are still in cache, not when the flow table ends the flow
   * (seconds later, after its close linger).
   */
  end(flow: Flow, dir: number, _reason: StreamEndReason): void {
    const s = this.#state(flow, false);
    if (s === null) return;
    if (s.parser !== null) {
      this.#flow = flow;
      s.parser.end(dir, this.#parserOut);
    }
    s.ended |= 1 << dir;
    if (s.ended === 3) this.#release(flow, s);
  }

  /** A stream anomaly (the reassembler's sink). */
  anomaly(flow: Flow, dir: number, event: StreamAnomaly): void {
    this.#outSink.anomaly?.(flow, dir, event);
  }

  /** The flow ended (after the reassembler flushed it): the parser emits what is pending. */
  flowEnd(flow: Flow): void {
    const s = this.#state(flow, false);
    if (s !== null) this.#release(flow, s);
  }

  /** Closes the flow's parser, if it has one (it emits what it holds), and gives it back. */
  #closeParser(flow: Flow, s: FlowApp): void {
    const parser = s.parser;
    if (parser === null) return;
    this.#flow = flow;
    parser.close(this.#parserOut);
    this.budget.used -= PARSER_OVERHEAD;
    s.spec!.recycle?.(parser);
    s.spec = null;
    s.parser = null;
  }

  /** Closes the flow's parser (it emits what is pending) and lets its state go. */
  #release(flow: Flow, s: FlowApp): void {
    this.#closeParser(flow, s);
    s.reset();
    // Let go: a table of 200,000 flows would otherwise keep a state per
    // slot that ever carried data.
    this.#bySlot[flow.slot] = null;
    this.#live--;
    if (this.#pool.length < 4096) this.#pool.push(s);
  }

  /** Connections with app-layer state now (each made at its first stream byte). */
  get connections(): number {
    return this.#live;
  }

  /**
   * A UDP datagram: DNS messages on the DNS ports (the decoder recognised
   * the header) become records.
   */
  datagram(p: Packet, flow: Flow, dir: number): void {
    if (p.app !== APP_DNS) return;
    const m = parseDnsMessage(
      p.data,
      p.payloadOffset,
      p.payloadOffset + p.payloadLen,
    );
    if (m === null) return;
    if (flow.appProto === "") flow.appProto = "dns";
    this.#emit(m, flow, dir, "udp");
  }
}
