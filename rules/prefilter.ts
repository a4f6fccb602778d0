/**
 * The multi-pattern prefilter: an Aho-Corasick automaton over each rule's
 * fast pattern (ASCII case folded), built once per inspection buffer, so a
 * buffer is scanned once whatever the number of rules and only the rules
 * whose pattern occurs are evaluated in full. Flat typed arrays laid out
 * for few cache lines a byte (a scan of a packet starts cold, behind the
 * rest of the pipeline): one 4-int record per state (its dense row or its
 * edges, failure link, first state with outputs), edges packed as
 * `target << 8 | byte` in one array sorted by byte, a dense 256-entry row
 * (a full DFA, case folding built in) for the root and the states one
 * byte deep. Bytes that start no pattern are skipped in a tight loop at
 * the root. Scanning allocates nothing.
 *
 * @module
 */
import { FOLD } from "./match.ts";

/** Ints per state record: edges (or ~dense row), edge end, fail, outLink. */
const REC = 4;

/** A built automaton. */
export class Prefilter {
  /**
   * Per state `s` at `s * REC`: `~row` (< 0) when the state has a dense
   * row, else the start of its edges; the end of its edges; its failure
   * link; the first state with outputs on its dictionary chain (0: none).
   */
  readonly #st: Int32Array;
  readonly #dense: Int32Array;
  readonly #edges: Int32Array;
  readonly #dict: Int32Array;
  /**
   * Bit `a << 8 | b` set when raw bytes `a b` may begin a match (they
   * fold to a pattern's first two bytes, or `a` alone is a pattern).
   */
  readonly #pair: Int32Array;
  readonly #outStart: Int32Array;
  readonly #outRules: Int32Array;
  /** Number of states. */
  readonly states: number;
  /** Number of distinct patterns. */
  readonly patterns: number;

  /** Bytes of the dense rows. */
  get denseBytes(): number {
    return this.#dense.byteLength;
  }

  /** Bytes held by the automaton's arrays. */
  get bytes(): number {
    return this.#st.byteLength + this.#dense.byteLength +
      this.#pair.byteLength +
      this.#edges.byteLength + this.#dict.byteLength +
      this.#outStart.byteLength + this.#outRules.byteLength;
  }

  constructor(entries: ReadonlyArray<readonly [Uint8Array, number]>) {
    // Build a trie with Map children.
    const kids: Array<Map<number, number>> = [new Map()];
    const rulesAt: number[][] = [[]];
    const depth: number[] = [0];
    let patterns = 0;
    for (const [pat, rule] of entries) {
      let s = 0;
      for (let i = 0; i < pat.length; i++) {
        const c = FOLD[pat[i]!]!;
        let t = kids[s]!.get(c);
        if (t === undefined) {
          t = kids.length;
          kids.push(new Map());
          rulesAt.push([]);
          depth.push(depth[s]! + 1);
          kids[s]!.set(c, t);
        }
        s = t;
      }
      if (rulesAt[s]!.length === 0) patterns++;
      rulesAt[s]!.push(rule);
    }
    const n = kids.length;
    this.states = n;
    this.patterns = patterns;
    // Flatten edges.
    const edgeStart = new Int32Array(n + 1);
    let total = 0;
    for (let s = 0; s < n; s++) {
      edgeStart[s] = total;
      total += kids[s]!.size;
    }
    edgeStart[n] = total;
    const edgeByte = new Uint8Array(total);
    const edgeTo = new Int32Array(total);
    for (let s = 0; s < n; s++) {
      const ks = [...kids[s]!.keys()].sort((a, b) => a - b);
      let o = edgeStart[s]!;
      for (const c of ks) {
        edgeByte[o] = c;
        edgeTo[o++] = kids[s]!.get(c)!;
      }
    }
    const root = new Int32Array(256);
    for (const [c, t] of kids[0]!) root[c] = t;
    // Dense rows (a full DFA) for the root and the states one byte deep:
    // most payload bytes start or break a match there.
    const rowOf = new Int32Array(n).fill(-1);
    rowOf[0] = 0;
    let rows = 1;
    for (const [, t] of kids[0]!) rowOf[t] = rows++;
    // Rows are indexed by the raw byte: case folding is built in.
    const dense = new Int32Array(rows * 256);
    const rowFor = (st: number, base: number) => {
      for (let b = 0; b < 256; b++) {
        const c = FOLD[b]!;
        // A depth-1 state fails to the root: a missing edge goes where the
        // root's would.
        dense[base + b] = kids[st]!.get(c) ?? (st === 0 ? 0 : root[c]!);
      }
    };
    rowFor(0, 0);
    for (const [, t] of kids[0]!) rowFor(t, rowOf[t]! * 256);
    // Failure links, breadth first.
    const fail = new Int32Array(n);
    const dict = new Int32Array(n);
    const queue = new Int32Array(n);
    let qh = 0, qt = 0;
    for (const [, t] of kids[0]!) queue[qt++] = t;
    const go = (s: number, c: number): number => {
      for (;;) {
        if (s === 0) return root[c]!;
        const t = this.#edge(edgeStart, edgeByte, edgeTo, s, c);
        if (t >= 0) return t;
        s = fail[s]!;
      }
    };
    while (qh < qt) {
      const s = queue[qh++]!;
      for (const [c, t] of kids[s]!) {
        fail[t] = go(fail[s]!, c);
        if (fail[t] === t) fail[t] = 0;
        const f = fail[t]!;
        dict[t] = rulesAt[f]!.length > 0 ? f : dict[f]!;
        queue[qt++] = t;
      }
    }
    const outStart = new Int32Array(n + 1);
    let outs = 0;
    for (let s = 0; s < n; s++) {
      outStart[s] = outs;
      outs += rulesAt[s]!.length;
    }
    outStart[n] = outs;
    const outRules = new Int32Array(outs);
    for (let s = 0, o = 0; s < n; s++) {
      for (const r of rulesAt[s]!) outRules[o++] = r;
    }
    // The first state with outputs on each state's dictionary chain (0: none).
    const st = new Int32Array(n * REC);
    for (let q = 0; q < n; q++) {
      const b = q * REC;
      st[b] = rowOf[q]! >= 0 ? ~rowOf[q]! : edgeStart[q]!;
      st[b + 1] = edgeStart[q + 1]!;
      st[b + 2] = fail[q]!;
      st[b + 3] = q !== 0 && outStart[q + 1]! > outStart[q]! ? q : dict[q]!;
    }
    const edges = new Int32Array(total);
    for (let k = 0; k < total; k++) edges[k] = edgeTo[k]! << 8 | edgeByte[k]!;
    const pair = new Int32Array(65536 / 32);
    const set = (k: number) => pair[k >>> 5]! |= 1 << (k & 31);
    for (let a = 0; a < 256; a++) {
      const d1 = root[FOLD[a]!]!;
      if (d1 === 0) continue;
      const only = outStart[d1 + 1]! > outStart[d1]!;
      for (let b = 0; b < 256; b++) {
        if (only || kids[d1]!.has(FOLD[b]!)) set(a << 8 | b);
      }
    }
    this.#pair = pair;
    this.#st = st;
    this.#dense = dense;
    this.#edges = edges;
    this.#dict = dict;
    this.#outStart = outStart;
    this.#outRules = outRules;
  }

  #edge(
    start: Int32Array,
    bytes: Uint8Array,
    to: Int32Array,
    s: number,
    c: number,
  ): number {
    let lo = start[s]!, hi = start[s + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = bytes[mid]!;
      if (b === c) return to[mid]!;
      if (b < c) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Scans `data[0, len)` and calls `hit` with the index of every rule whose
   * pattern occurs (a rule may be reported more than once).
   */
  scan(data: Uint8Array, len: number, hit: (rule: number) => void): void {
    const st = this.#st, dense = this.#dense, edges = this.#edges;
    const dict = this.#dict, pair = this.#pair;
    const outStart = this.#outStart, outRules = this.#outRules;
    let s = 0;
    for (let i = 0; i < len; i++) {
      if (s === 0) {
        // At the root a byte whose pair with the next begins no pattern
        // leads back to the root: skip it.
        while (i + 1 < len) {
          const k = data[i]! << 8 | data[i + 1]!;
          if ((pair[k >>> 5]! & (1 << (k & 31))) !== 0) break;
          i++;
        }
        s = dense[data[i]!]!;
      } else {
        let e = st[s * REC]!;
        if (e < 0) s = dense[~e * 256 + data[i]!]!;
        else {
          const c = FOLD[data[i]!]!;
          for (;;) {
            // Sparse edges: binary search over the sorted bytes.
            let lo = e, hi = st[s * REC + 1]! - 1, t = -1;
            while (lo <= hi) {
              const mid = (lo + hi) >> 1;
              const x = edges[mid]!;
              const b = x & 255;
              if (b === c) {
                t = x >> 8;
                break;
              }
              if (b < c) lo = mid + 1;
              else hi = mid - 1;
            }
            if (t >= 0) {
              s = t;
              break;
            }
            s = st[s * REC + 2]!;
            e = st[s * REC]!;
            if (e < 0) {
              s = dense[~e * 256 + c]!;
              break;
            }
          }
        }
      }
      let o = st[s * REC + 3]!;
      while (o !== 0) {
        for (let k = outStart[o]!, end = outStart[o + 1]!; k < end; k++) {
          hit(outRules[k]!);
        }
        o = dict[o]!;
      }
    }
  }
}
