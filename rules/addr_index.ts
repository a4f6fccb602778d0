/**
 * The header prefilters for rules without a content to prefilter on:
 * IP-reputation rules (ET's tor, ciarmy, drop, compromised, botcc lists:
 * `alert ip [1.2.3.4, 5.6.7.0/24, …] any -> $HOME_NET any`) would
 * otherwise be evaluated for every packet. A rule whose source or
 * destination is a plain list of addresses and ranges is indexed by its
 * IPv4 ones; an IPv4 packet looks up its two addresses (a map for single
 * hosts, /16 buckets for ranges) and only the rules found are evaluated.
 * The rules naming IPv6 addresses are evaluated for IPv6 packets only.
 * A rule names addresses on both sides is indexed by the narrower one
 * (`$HOME_NET -> [feodo list]` by the list, not by every home address).
 * A rule whose addresses are wide (`$EXTERNAL_NET any -> $HOME_NET 22`)
 * but whose ports are a few (ET's scan and policy rules on flags alone) is
 * indexed by those ports instead: a packet looks up its two ports.
 * Either way the index only proposes candidates; the engine evaluates
 * every condition.
 *
 * @module
 */
import type { AddrExpr, PortExpr } from "./parse.ts";

/** What an address expression names: IPv4 ranges, and whether IPv6 too. */
export interface PlainAddrs {
  readonly v4: Array<[number, number]>;
  readonly v6: boolean;
}

/**
 * The addresses an expression names when it is a plain list (addresses,
 * ranges, CIDRs, nested lists, no negation, no `any`), else null.
 */
export function plainAddrs(e: AddrExpr): PlainAddrs | null {
  switch (e.k) {
    case "v4":
      return { v4: [[e.lo, e.hi]], v6: false };
    case "v6":
      return { v4: [], v6: true };
    case "list": {
      if (e.neg.length > 0 || e.pos.length === 0) return null;
      const v4: Array<[number, number]> = [];
      let v6 = false;
      for (const p of e.pos) {
        const r = plainAddrs(p);
        if (r === null) return null;
        v4.push(...r.v4);
        v6 ||= r.v6;
      }
      return { v4, v6 };
    }
    default:
      return null;
  }
}

/** How many IPv4 addresses a plain list names (overlaps counted twice). */
export function v4Span(a: PlainAddrs): number {
  let n = 0;
  for (const [lo, hi] of a.v4) n += hi - lo + 1;
  return n;
}

/**
 * The ports an expression names when it is a plain list of ports and
 * ranges (no negation, no `any`) of at most `max` ports, else null.
 */
export function plainPorts(e: PortExpr, max = 64): number[] | null {
  const out: number[] = [];
  const walk = (x: PortExpr): boolean => {
    switch (x.k) {
      case "range":
        if (x.hi - x.lo + 1 + out.length > max) return false;
        for (let p = x.lo; p <= x.hi; p++) out.push(p);
        return true;
      case "list":
        if (x.neg.length > 0 || x.pos.length === 0) return false;
        for (const y of x.pos) if (!walk(y)) return false;
        return true;
      default:
        return false;
    }
  };
  return walk(e) ? out : null;
}

/** Rules by the ports they name (either side; the engine checks which). */
export class PortIndex {
  readonly #byPort = new Map<number, number[]>();
  /** Number of rules indexed. */
  size = 0;

  /** Indexes `rule` under `ports`. */
  add(rule: number, ports: readonly number[]): void {
    for (const p of ports) {
      let l = this.#byPort.get(p);
      if (l === undefined) this.#byPort.set(p, l = []);
      if (l[l.length - 1] !== rule) l.push(rule);
    }
    this.size++;
  }

  /** Calls `hit` with every rule naming port `p` (a rule may come twice). */
  lookup(p: number, hit: (rule: number) => void): void {
    const l = this.#byPort.get(p);
    if (l !== undefined) { for (let i = 0; i < l.length; i++) hit(l[i]!); }
  }
}

/** Widest range bucketed (a /8 spans 256 buckets); wider ones stay unindexed. */
const MAX_BUCKETS = 256;

/** Rules by the IPv4 addresses they name. */
export class AddrIndex {
  readonly #hosts = new Map<number, number[]>();
  readonly #buckets = new Map<number, number[]>();
  /** Ranges as flat triples lo, hi, rule. */
  readonly #ranges: number[] = [];
  /** Number of rules indexed. */
  size = 0;

  /**
   * Indexes `rule` under `ranges`; false (nothing indexed) when a range is
   * too wide to be worth it.
   */
  add(rule: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
    for (const [lo, hi] of ranges) {
      if ((hi >>> 16) - (lo >>> 16) >= MAX_BUCKETS) return false;
    }
    for (const [lo, hi] of ranges) {
      if (lo === hi) {
        let l = this.#hosts.get(lo);
        if (l === undefined) this.#hosts.set(lo, l = []);
        if (l[l.length - 1] !== rule) l.push(rule);
        continue;
      }
      const at = this.#ranges.length;
      this.#ranges.push(lo, hi, rule);
      for (let b = lo >>> 16; b <= hi >>> 16; b++) {
        let l = this.#buckets.get(b);
        if (l === undefined) this.#buckets.set(b, l = []);
        l.push(at);
      }
    }
    this.size++;
    return true;
  }

  /** Calls `hit` with every rule naming address `a` (a rule may come twice). */
  lookup(a: number, hit: (rule: number) => void): void {
    const h = this.#hosts.get(a);
    if (h !== undefined) { for (let i = 0; i < h.length; i++) hit(h[i]!); }
    const b = this.#buckets.get(a >>> 16);
    if (b === undefined) return;
    const r = this.#ranges;
    for (let i = 0; i < b.length; i++) {
      const at = b[i]!;
      if (a >= r[at]! && a <= r[at + 1]!) hit(r[at + 2]!);
    }
  }
}
