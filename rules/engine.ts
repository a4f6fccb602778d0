/**
 * The rule engine: compiled rules grouped by inspection entry point
 * (per packet, per stream chunk, per transaction), a prefilter automaton
 * per inspection buffer of each, and the full evaluation of the candidate
 * rules in Suricata's order (action order pass → drop → reject → alert,
 * then rules that set flowbits before those that test them, then
 * priority). A matching `pass` rule ends the inspection of that packet or
 * transaction. Flowbits live per flow; threshold and detection_filter per
 * rule and tracked address. Reference:
 * https://docs.suricata.io/en/latest/rules/intro.html#action-order,
 * .../flow-keywords.html, .../thresholding.html.
 *
 * The engine never sees a Packet: an adapter fills an {@link Inspection}
 * (addresses, ports, flags, flow facts and the named buffers) and calls an
 * entry point. Nothing is allocated per inspection unless a rule matches
 * (or a candidate's pcre needs the buffer's text).
 *
 * @module
 */
import {
  AddrIndex,
  plainAddrs,
  plainPorts,
  PortIndex,
  v4Span,
} from "./addr_index.ts";
import { BUFFER_COUNT, BUFFERS } from "./buffers.ts";
import { cmpMatches } from "./compile.ts";
import { type MatchBuffer, matchList } from "./match.ts";
import { type AddrExpr, addrMatches, portMatches } from "./parse.ts";
import { Prefilter } from "./prefilter.ts";
import type { Rule } from "./rule.ts";
import { ACTIONS } from "./parse.ts";

/** What an adapter fills for one inspection (reused). */
export interface Inspection {
  tsUs: number;
  /** 4 or 6. */
  version: number;
  src: Uint32Array;
  dst: Uint32Array;
  srcPort: number;
  dstPort: number;
  /** IP protocol. */
  proto: number;
  ttl: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
  /** Payload bytes of the packet (dsize). */
  payloadLen: number;
  /** 0 to server, 1 to client. */
  dir: number;
  established: boolean;
  /** Flow id (-1 when none). */
  flowId: number;
  /** App-layer protocol of the flow ("" when not known). */
  app: string;
  /** Payload bytes each way so far (stream_size). */
  toServerBytes: number;
  toClientBytes: number;
  /** Buffers by id; `filled[id]` is 1 when buffer `id` holds data now. */
  readonly bufs: MatchBuffer[];
  readonly filled: Uint8Array;
}

/** Creates an empty inspection record with a buffer slot per buffer id. */
export function newInspection(): Inspection {
  return {
    tsUs: 0,
    version: 4,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    srcPort: 0,
    dstPort: 0,
    proto: 0,
    ttl: 0,
    tcpFlags: 0,
    icmpType: -1,
    icmpCode: -1,
    payloadLen: 0,
    dir: 0,
    established: false,
    flowId: -1,
    app: "",
    toServerBytes: 0,
    toClientBytes: 0,
    bufs: Array.from({ length: BUFFER_COUNT }, () => ({
      data: new Uint8Array(0),
      len: 0,
      text: null,
    })),
    filled: new Uint8Array(BUFFER_COUNT),
  };
}

/** Called for every rule that matched and may alert. */
export type OnMatch = (rule: Rule, insp: Inspection) => void;

/** Counters of an engine. */
export interface EngineCounters {
  inspections: number;
  candidates: number;
  matches: number;
  alerts: number;
  passed: number;
  thresholded: number;
}

const SCOPES = ["packet", "stream", "tx_request", "tx_response"] as const;
/** Transport classes of the prefilter groups. */
const P_TCP = 0, P_UDP = 1, P_OTHER = 2;
const S_PACKET = 0, S_STREAM = 1, S_TX_REQ = 2, S_TX_RESP = 3;

interface ScopeGroup {
  /** Rules without a pattern indexed by the IPv4 addresses they name. */
  addr: AddrIndex;
  /** Rules without a pattern indexed by the ports they name. */
  port: PortIndex;
  /** Rules without a pattern naming IPv6 addresses: for IPv6 packets. */
  alwaysV6: Int32Array;
  /**
   * Prefilter per group and inspection buffer (`pf[dir * 3 + transport][ib]`,
   * transport 0 TCP, 1 UDP, 2 other).
   */
  pf: Array<Array<Prefilter | null>>;
  /** Inspection buffers with a prefilter, per group. */
  pfIbs: number[][];
  /** Rules without a prefilter pattern, in order. */
  always: Int32Array;
}

interface IbInfo {
  buf: number;
  transforms: string[];
}

const MAX_RATE_KEYS = 65536;
/**
 * A rule without a pattern whose narrower address side names more than
 * this many IPv4 addresses is indexed by its ports when it names a few.
 */
const PORT_OVER_ADDR = 65536;

/** See the module doc. */
export class RuleEngine {
  /** The rules in evaluation order (`rules[i].idx === i`). */
  readonly rules: readonly Rule[];
  /** Matches per rule (by idx). */
  readonly hits: Uint32Array;
  /** 1 for each buffer id some rule inspects (others need not be filled). */
  readonly usedBuffers: Uint8Array = new Uint8Array(BUFFER_COUNT);
  readonly counters: EngineCounters = {
    inspections: 0,
    candidates: 0,
    matches: 0,
    alerts: 0,
    passed: 0,
    thresholded: 0,
  };
  readonly #groups: ScopeGroup[];
  readonly #ibs: IbInfo[] = [];
  readonly #ibBuf: MatchBuffer[] = [];
  readonly #ibStamp: Uint32Array;
  readonly #mark: Uint32Array;
  readonly #cand: Int32Array;
  #ncand = 0;
  #stamp = 0;
  /** Receives every alerting match; replaceable (a new run, a new sink). */
  onMatch: OnMatch;
  readonly #hit: (r: number) => void;
  readonly #flowbits = new Map<number, Set<number>>();
  /** Per rule: ids of its source and destination expressions. */
  readonly #srcAddr: Int32Array;
  readonly #dstAddr: Int32Array;
  /** Memo of expression results per inspection (index id * 2 + side). */
  readonly #addrStamp: Uint32Array;
  readonly #addrVal: Uint8Array;
  readonly #rates = new Map<string, { start: number; count: number }>();

  /** Builds the engine over compiled rules; `onMatch` receives alerts. */
  constructor(rules: readonly Rule[], onMatch: OnMatch) {
    const order = (r: Rule) => ACTIONS.indexOf(r.action);
    const sorted = [...rules].sort((a, b) =>
      order(a) - order(b) ||
      Number(b.setsBits) - Number(a.setsBits) ||
      a.priority - b.priority ||
      a.sid - b.sid
    );
    sorted.forEach((r, i) => r.idx = i);
    this.rules = sorted;
    this.hits = new Uint32Array(sorted.length);
    this.#mark = new Uint32Array(sorted.length);
    const exprIds = new Map<AddrExpr, number>();
    const idOf = (e: AddrExpr) => {
      let id = exprIds.get(e);
      if (id === undefined) exprIds.set(e, id = exprIds.size);
      return id;
    };
    this.#srcAddr = Int32Array.from(sorted, (r) => idOf(r.src));
    this.#dstAddr = Int32Array.from(sorted, (r) => idOf(r.dst));
    this.#addrStamp = new Uint32Array(exprIds.size * 2);
    this.#addrVal = new Uint8Array(exprIds.size * 2);
    this.#cand = new Int32Array(sorted.length);
    this.onMatch = onMatch;
    // Inspection buffers: one per buffer and transform chain.
    const ibKey = new Map<string, number>();
    for (let b = 0; b < BUFFER_COUNT; b++) {
      ibKey.set(`${b}|`, b);
      this.#ibs.push({ buf: b, transforms: [] });
    }
    for (const r of sorted) {
      for (const l of r.lists) {
        this.usedBuffers[l.buf] = 1;
        const k = `${l.buf}|${l.transforms.join(",")}`;
        let ib = ibKey.get(k);
        if (ib === undefined) {
          ib = this.#ibs.length;
          ibKey.set(k, ib);
          this.#ibs.push({ buf: l.buf, transforms: l.transforms });
        }
        l.ib = ib;
      }
    }
    for (let i = 0; i < this.#ibs.length; i++) {
      this.#ibBuf.push({ data: new Uint8Array(256), len: 0, text: null });
    }
    this.#ibStamp = new Uint32Array(this.#ibs.length);
    this.#groups = SCOPES.map((_, s) => this.#buildGroup(sorted, s));
    this.#hit = (r: number) => {
      if (this.#mark[r] !== this.#stamp) {
        this.#mark[r] = this.#stamp;
        this.#cand[this.#ncand++] = r;
      }
    };
  }

  #buildGroup(rules: readonly Rule[], scope: number): ScopeGroup {
    const split = scope === S_PACKET || scope === S_STREAM;
    const entries = new Map<number, Array<[Uint8Array, number]>>();
    const always: number[] = [];
    const addr = new AddrIndex();
    const port = new PortIndex();
    const alwaysV6: number[] = [];
    for (const r of rules) {
      if (scopeOf(r) !== scope) continue;
      if (r.fast === null) {
        // A rule naming addresses: indexed by them (either side, so a <>
        // rule or a reply is found too; evaluation decides), by the
        // narrower side when both name some; a rule whose addresses are
        // wide but whose ports are few, by its ports.
        const s = plainAddrs(r.src), d = plainAddrs(r.dst);
        const named = s === null
          ? d
          : d === null || v4Span(s) <= v4Span(d)
          ? s
          : d;
        const sp = plainPorts(r.srcPorts), dp = plainPorts(r.dstPorts);
        const ports = sp === null
          ? dp
          : dp === null || sp.length <= dp.length
          ? sp
          : dp;
        if (
          ports !== null &&
          (named === null || named.v6 || v4Span(named) > PORT_OVER_ADDR)
        ) {
          port.add(r.idx, ports);
        } else if (named === null) always.push(r.idx);
        else if (named.v4.length > 0 && !addr.add(r.idx, named.v4)) {
          if (ports !== null) port.add(r.idx, ports);
          else always.push(r.idx);
        } else if (named.v6) alwaysV6.push(r.idx);
        continue;
      }
      // Packet and stream rules are grouped by direction (a to_server
      // rule's pattern is not looked for in what the server sends);
      // transaction scopes are one direction already.
      // … and by transport (TCP, UDP, other): a TCP rule's pattern is not
      // looked for in UDP payloads.
      const ib = r.fast.list.ib;
      const dirs = split ? (r.flowDir < 0 ? [0, 1] : [r.flowDir]) : [0];
      const protos = !split
        ? [0]
        : r.ipProto === 6
        ? [P_TCP]
        : r.ipProto === 17
        ? [P_UDP]
        : r.ipProto !== 0
        ? [P_OTHER]
        : r.app === "dns"
        ? [P_TCP, P_UDP]
        : [P_TCP, P_UDP, P_OTHER];
      for (const d of dirs) {
        for (const pc of protos) {
          const key = (ib * 2 + d) * 3 + pc;
          let e = entries.get(key);
          if (e === undefined) entries.set(key, e = []);
          e.push([r.fast.bytes, r.idx]);
        }
      }
    }
    const pf: Array<Array<Prefilter | null>> = [];
    const pfIbs: number[][] = [];
    for (let k = 0; k < 6; k++) {
      pf.push(this.#ibs.map(() => null));
      pfIbs.push([]);
    }
    for (const [key, e] of entries) {
      const p = new Prefilter(e);
      const pc = key % 3, d = Math.floor(key / 3) & 1;
      const ib = Math.floor(key / 6);
      const slots = split ? [d * 3 + pc] : [0, 1, 2, 3, 4, 5];
      for (const slot of slots) {
        pf[slot]![ib] = p;
        pfIbs[slot]!.push(ib);
      }
    }
    for (const l of pfIbs) l.sort((a, b) => a - b);
    return {
      addr,
      port,
      pf,
      pfIbs,
      always: Int32Array.from(always),
      alwaysV6: Int32Array.from(alwaysV6),
    };
  }

  /** Number of automaton states over every prefilter (a size figure). */
  get prefilterStates(): number {
    let n = 0;
    for (const g of this.#groups) {
      const seen = new Set<Prefilter>();
      for (const row of g.pf) {
        for (const p of row) if (p !== null) seen.add(p);
      }
      for (const p of seen) n += p.states;
    }
    return n;
  }

  /** Bytes held by every prefilter's arrays, and how many automata. */
  get prefilterBytes(): { bytes: number; automata: number; dense: number } {
    let bytes = 0, automata = 0, dense = 0;
    for (const g of this.#groups) {
      const seen = new Set<Prefilter>();
      for (const row of g.pf) {
        for (const p of row) if (p !== null) seen.add(p);
      }
      for (const p of seen) {
        bytes += p.bytes;
        dense += p.denseBytes;
        automata++;
      }
    }
    return { bytes, automata, dense };
  }

  /** Per-packet inspection: payload (`pkt_data`) and header rules. */
  inspectPacket(insp: Inspection): void {
    this.#inspect(insp, S_PACKET);
  }

  /** Per-stream-chunk inspection: `stream` buffer and only_stream rules. */
  inspectStream(insp: Inspection): void {
    this.#inspect(insp, S_STREAM);
  }

  /**
   * Per-transaction inspection: HTTP, DNS and TLS buffers. With `dir` 0
   * the client's side (request, query, ClientHello: rules on request-side
   * buffers), with 1 the server's (response, certificate: rules using a
   * response-side buffer, or a to_client rule on headers).
   */
  inspectTx(insp: Inspection): void {
    this.#inspect(insp, insp.dir === 1 ? S_TX_RESP : S_TX_REQ);
  }

  /** Clears per-run state (flowbits, thresholds, hits, counters). */
  reset(): void {
    this.#flowbits.clear();
    this.#rates.clear();
    this.hits.fill(0);
    for (const k of Object.keys(this.counters) as (keyof EngineCounters)[]) {
      this.counters[k] = 0;
    }
  }

  /** Forgets the flowbits of a flow that ended. */
  flowEnded(flowId: number): void {
    this.#flowbits.delete(flowId);
  }

  #inspect(insp: Inspection, scope: number): void {
    const g = this.#groups[scope]!;
    this.counters.inspections++;
    this.#stamp = (this.#stamp + 1) >>> 0 || 1;
    this.#ncand = 0;
    const pc = insp.proto === 6 ? P_TCP : insp.proto === 17 ? P_UDP : P_OTHER;
    const slot = (insp.dir === 1 ? 3 : 0) + pc;
    const ibs = g.pfIbs[slot]!, pfs = g.pf[slot]!;
    for (let k = 0; k < ibs.length; k++) {
      const ib = ibs[k]!;
      const mb = this.#ibData(insp, ib);
      if (mb === null || mb.len === 0) continue;
      pfs[ib]!.scan(mb.data, mb.len, this.#hit);
    }
    const always = g.always;
    for (let k = 0; k < always.length; k++) this.#hit(always[k]!);
    if (insp.version === 4) {
      if (g.addr.size > 0) {
        g.addr.lookup(insp.src[0]! >>> 0, this.#hit);
        g.addr.lookup(insp.dst[0]! >>> 0, this.#hit);
      }
    } else {
      const v6 = g.alwaysV6;
      for (let k = 0; k < v6.length; k++) this.#hit(v6[k]!);
    }
    if (g.port.size > 0) {
      g.port.lookup(insp.srcPort, this.#hit);
      g.port.lookup(insp.dstPort, this.#hit);
    }
    const n = this.#ncand;
    if (n === 0) return;
    this.counters.candidates += n;
    const cand = this.#cand;
    // Insertion sort: candidate lists are short.
    for (let i = 1; i < n; i++) {
      const x = cand[i]!;
      let j = i - 1;
      while (j >= 0 && cand[j]! > x) {
        cand[j + 1] = cand[j]!;
        j--;
      }
      cand[j + 1] = x;
    }
    for (let i = 0; i < n; i++) {
      const r = this.rules[cand[i]!]!;
      if (!this.#evaluate(r, insp)) continue;
      this.counters.matches++;
      this.hits[r.idx]!++;
      this.#applyFlowbits(r, insp);
      if (r.action === "pass") {
        this.counters.passed++;
        return;
      }
      if (r.noalert) continue;
      if (!this.#rateAllows(r, insp)) {
        this.counters.thresholded++;
        continue;
      }
      this.counters.alerts++;
      this.onMatch(r, insp);
    }
  }

  /** The data of inspection buffer `ib` now, transformed, or null. */
  #ibData(insp: Inspection, ib: number): MatchBuffer | null {
    const info = this.#ibs[ib]!;
    if (insp.filled[info.buf] !== 1) return null;
    const base = insp.bufs[info.buf]!;
    if (info.transforms.length === 0) return base;
    const out = this.#ibBuf[ib]!;
    if (this.#ibStamp[ib] === this.#stamp) return out;
    this.#ibStamp[ib] = this.#stamp;
    transform(base, info.transforms, out);
    return out;
  }

  #evaluate(r: Rule, x: Inspection): boolean {
    if (r.ipProto !== 0 && r.ipProto !== x.proto) return false;
    if (r.ipProto === 0 && r.app === "dns" && x.proto !== 6 && x.proto !== 17) {
      return false;
    }
    if (r.app !== "") {
      const same = x.app === r.app;
      if (r.appNegated ? same || x.app === "" : !same) return false;
    }
    if (r.flowDir >= 0 && x.dir !== r.flowDir) return false;
    if (r.established === 1 && !x.established) return false;
    if (r.established === 0 && x.established) return false;
    const sa = this.#srcAddr[r.idx]!, da = this.#dstAddr[r.idx]!;
    const fwd = portMatches(r.srcPorts, x.srcPort) &&
      portMatches(r.dstPorts, x.dstPort) &&
      this.#addrIs(sa, r.src, x, 0) && this.#addrIs(da, r.dst, x, 1);
    if (!fwd) {
      if (!r.bidir) return false;
      if (
        !(portMatches(r.srcPorts, x.dstPort) &&
          portMatches(r.dstPorts, x.srcPort) &&
          this.#addrIs(sa, r.src, x, 1) && this.#addrIs(da, r.dst, x, 0))
      ) return false;
    }
    if (r.dsize !== null && !cmpMatches(r.dsize, x.payloadLen)) return false;
    if (r.ttl !== null && !cmpMatches(r.ttl, x.ttl)) return false;
    if (
      r.itype !== null && (x.icmpType < 0 || !cmpMatches(r.itype, x.icmpType))
    ) {
      return false;
    }
    if (
      r.icode !== null && (x.icmpCode < 0 || !cmpMatches(r.icode, x.icmpCode))
    ) {
      return false;
    }
    if (r.ipProtoCmp !== null && !cmpMatches(r.ipProtoCmp, x.proto)) {
      return false;
    }
    if (r.flags !== null) {
      if (x.proto !== 6) return false;
      const f = x.tcpFlags & ~r.flags.ignore & 0xff;
      const w = r.flags.want;
      switch (r.flags.mode) {
        case "+":
          if ((f & w) !== w) return false;
          break;
        case "*":
          if ((f & w) === 0) return false;
          break;
        case "!":
          if ((f & w) === w) return false;
          break;
        default:
          if (f !== w) return false;
      }
    }
    if (r.streamSize !== null) {
      const c = r.streamSize.cmp;
      const srv = x.dir === 0 ? x.toClientBytes : x.toServerBytes;
      const cli = x.dir === 0 ? x.toServerBytes : x.toClientBytes;
      const s = r.streamSize.side;
      const ok = s === "server"
        ? cmpMatches(c, srv)
        : s === "client"
        ? cmpMatches(c, cli)
        : s === "both"
        ? cmpMatches(c, srv) && cmpMatches(c, cli)
        : cmpMatches(c, srv) || cmpMatches(c, cli);
      if (!ok) return false;
    }
    if (r.flowbits.length > 0 && !this.#flowbitsHold(r, x)) return false;
    for (let i = 0; i < r.lists.length; i++) {
      const l = r.lists[i]!;
      const mb = this.#ibData(x, l.ib);
      if (mb === null) return false;
      if (l.size !== null && !cmpMatches(l.size, mb.len)) return false;
      if (l.matches.length > 0 && !matchList(l.matches, mb)) return false;
    }
    return true;
  }

  /**
   * Whether address expression `e` (id `id`) holds for the inspection's
   * source (`which` 0) or destination (1), memoised per inspection: rules
   * share a few expressions ($HOME_NET, $EXTERNAL_NET, any).
   */
  #addrIs(id: number, e: AddrExpr, x: Inspection, which: number): boolean {
    const k = id * 2 + which;
    if (this.#addrStamp[k] === this.#stamp) return this.#addrVal[k] === 1;
    const v = addrMatches(e, x.version, which === 0 ? x.src : x.dst);
    this.#addrStamp[k] = this.#stamp;
    this.#addrVal[k] = v ? 1 : 0;
    return v;
  }

  #flowbitsHold(r: Rule, x: Inspection): boolean {
    const set = x.flowId < 0 ? undefined : this.#flowbits.get(x.flowId);
    for (const f of r.flowbits) {
      if (f.op !== "isset" && f.op !== "isnotset") continue;
      const want = f.op === "isset";
      let ok: boolean;
      if (f.join === "|") {
        ok = false;
        for (const b of f.bits) if ((set?.has(b) ?? false) === want) ok = true;
      } else {
        ok = true;
        for (const b of f.bits) if ((set?.has(b) ?? false) !== want) ok = false;
      }
      if (!ok) return false;
    }
    return true;
  }

  #applyFlowbits(r: Rule, x: Inspection): void {
    if (!r.setsBits || x.flowId < 0) return;
    let set = this.#flowbits.get(x.flowId);
    for (const f of r.flowbits) {
      if (f.op === "isset" || f.op === "isnotset") continue;
      if (set === undefined) this.#flowbits.set(x.flowId, set = new Set());
      for (const b of f.bits) {
        if (f.op === "set") set.add(b);
        else if (f.op === "unset") set.delete(b);
        else if (set.has(b)) set.delete(b);
        else set.add(b);
      }
    }
  }

  /** Threshold and detection_filter (Suricata's thresholding.html). */
  #rateAllows(r: Rule, x: Inspection): boolean {
    let ok = true;
    for (const spec of [r.detectionFilter, r.threshold]) {
      if (spec === null) continue;
      const track = spec.track === "by_rule"
        ? ""
        : spec.track === "by_dst"
        ? addrKey(x.version, x.dst)
        : spec.track === "by_src"
        ? addrKey(x.version, x.src)
        : addrKey(x.version, x.src) + ">" + addrKey(x.version, x.dst);
      const key = `${spec.type}:${r.gid}:${r.sid}:${track}`;
      let e = this.#rates.get(key);
      const winUs = spec.seconds * 1e6;
      if (e === undefined || x.tsUs - e.start >= winUs) {
        if (e === undefined && this.#rates.size >= MAX_RATE_KEYS) {
          this.#rates.clear();
        }
        e = { start: x.tsUs, count: 0 };
        this.#rates.set(key, e);
      }
      e.count++;
      switch (spec.type) {
        case "limit":
          ok &&= e.count <= spec.count;
          break;
        case "threshold":
          if (e.count >= spec.count) {
            e.count = 0;
          } else ok = false;
          break;
        case "both":
          ok &&= e.count === spec.count;
          break;
        default: // detection_filter
          ok &&= e.count > spec.count;
      }
    }
    return ok;
  }
}

/**
 * Where a rule is inspected: 0 per packet, 1 per stream chunk, 2 on the
 * client's side of a transaction, 3 on the server's.
 */
export function scopeOf(r: Rule): number {
  if (r.tx) {
    let resp = false;
    for (const l of r.lists) {
      const side = BUFFERS[l.buf]!.side;
      if (side === "resp" || (side === "both" && r.flowDir === 1)) resp = true;
    }
    return resp ? S_TX_RESP : S_TX_REQ;
  }
  if (r.streamMode === 1) return S_STREAM;
  return S_PACKET;
}

function addrKey(version: number, w: Uint32Array): string {
  return version === 4 ? String(w[0]) : `${w[0]}:${w[1]}:${w[2]}:${w[3]}`;
}

/** Applies transforms to `src` into `out` (growing its storage when short). */
function transform(
  src: MatchBuffer,
  transforms: readonly string[],
  out: MatchBuffer,
): void {
  const need = src.len + 1;
  if (out.data.length < need * 2) out.data = new Uint8Array(need * 2);
  let d = out.data;
  d.set(src.data.subarray(0, src.len));
  let len = src.len;
  for (const t of transforms) {
    switch (t) {
      case "dotprefix":
        d.copyWithin(1, 0, len);
        d[0] = 46;
        len++;
        break;
      case "to_lowercase":
        for (let i = 0; i < len; i++) {
          const c = d[i]!;
          if (c >= 65 && c <= 90) d[i] = c + 32;
        }
        break;
      case "to_uppercase":
        for (let i = 0; i < len; i++) {
          const c = d[i]!;
          if (c >= 97 && c <= 122) d[i] = c - 32;
        }
        break;
      case "strip_whitespace": {
        let o = 0;
        for (let i = 0; i < len; i++) {
          const c = d[i]!;
          if (c !== 32 && (c < 9 || c > 13)) d[o++] = c;
        }
        len = o;
        break;
      }
      case "compress_whitespace": {
        let o = 0;
        let ws = false;
        for (let i = 0; i < len; i++) {
          const c = d[i]!;
          const isWs = c === 32 || (c >= 9 && c <= 13);
          if (isWs && ws) continue;
          ws = isWs;
          d[o++] = isWs ? 32 : c;
        }
        len = o;
        break;
      }
    }
    if (d.length < len + 1) {
      const n = new Uint8Array((len + 1) * 2);
      n.set(d.subarray(0, len));
      d = out.data = n;
    }
  }
  out.len = len;
  out.text = null;
}

export { BUFFERS };
