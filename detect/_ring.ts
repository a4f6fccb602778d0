/**
 * A small fixed-capacity set of distinct keys (up to four 32-bit words: a
 * port, an address) with the time each was last seen, for sliding-window
 * distinct counts. When full, a new key replaces the one seen longest ago.
 * Linear scans: meant for capacities of a few dozen to a few thousand, used
 * per probe (a failed connection), not per packet.
 *
 * @module
 */
import type { Slab } from "./_slab.ts";

/** Distinct keys with last-seen times. */
export class DistinctRing {
  readonly capacity: number;
  #words: Uint32Array;
  #times: Float64Array;
  #n = 0;

  /**
   * Creates a ring of `capacity` keys (at least 1), its storage from `slab`
   * when given (many rings, one backing store).
   */
  constructor(capacity: number, slab: Slab | null = null) {
    this.capacity = Math.max(1, capacity | 0);
    const n = this.capacity;
    this.#words = slab ? slab.u32(n * 4) : new Uint32Array(n * 4);
    this.#times = slab ? slab.f64(n) : new Float64Array(n);
  }

  /** Forgets every key. */
  clear(): void {
    this.#n = 0;
  }

  /** Number of keys held (seen at any time). */
  get size(): number {
    return this.#n;
  }

  /**
   * Records key (a, b, c, d) seen at `tUs`. Returns true when the key was
   * not held before.
   */
  add(a: number, b: number, c: number, d: number, tUs: number): boolean {
    const w = this.#words, t = this.#times, n = this.#n;
    a >>>= 0, b >>>= 0, c >>>= 0, d >>>= 0;
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      if (w[o] === a && w[o + 1] === b && w[o + 2] === c && w[o + 3] === d) {
        if (tUs > t[i]!) t[i] = tUs;
        return false;
      }
    }
    let slot = n;
    if (n < this.capacity) {
      this.#n = n + 1;
    } else {
      slot = 0;
      for (let i = 1; i < n; i++) if (t[i]! < t[slot]!) slot = i;
    }
    const o = slot * 4;
    w[o] = a;
    w[o + 1] = b;
    w[o + 2] = c;
    w[o + 3] = d;
    t[slot] = tUs;
    return true;
  }

  /** Number of keys seen at or after `sinceUs`. */
  countSince(sinceUs: number): number {
    let c = 0;
    const t = this.#times;
    for (let i = 0; i < this.#n; i++) if (t[i]! >= sinceUs) c++;
    return c;
  }

  /** Earliest last-seen time among keys seen at or after `sinceUs` (Infinity when none). */
  firstSince(sinceUs: number): number {
    let m = Infinity;
    const t = this.#times;
    for (let i = 0; i < this.#n; i++) {
      const x = t[i]!;
      if (x >= sinceUs && x < m) m = x;
    }
    return m;
  }

  /** Visits the keys held (word 0..3), in slot order. */
  forEach(fn: (a: number, b: number, c: number, d: number) => void): void {
    const w = this.#words;
    for (let i = 0; i < this.#n; i++) {
      const o = i * 4;
      fn(w[o]!, w[o + 1]!, w[o + 2]!, w[o + 3]!);
    }
  }
}

/**
 * An exact set of 17-bit keys (a port plus a protocol bit) as a bitset of
 * 16 KiB, with a count. Allocated only for trackers that already alert.
 */
export class PortBitset {
  readonly bits = new Uint32Array(4096);
  count = 0;

  /** Adds key `k` (0..131071); returns true when new. */
  add(k: number): boolean {
    const i = (k >>> 5) & 4095, m = 1 << (k & 31);
    const w = this.bits[i]!;
    if (w & m) return false;
    this.bits[i] = w | m;
    this.count++;
    return true;
  }
}
