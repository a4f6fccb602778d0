/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded through
 * splitmix32), so training and synthetic data are reproducible: the same
 * seed gives the same sequence on every platform.
 *
 * @module
 */

/** A seeded generator of 32-bit integers and doubles in [0, 1). */
export class Prng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /**
   * Creates a generator from a seed (any finite number; only its low 32 bits
   * of the integer part count).
   *
   * @example
   * ```ts
   * const r = new Prng(42);
   * const u = r.next(); // same value on every run
   * ```
   */
  constructor(seed: number) {
    let x = (Math.trunc(seed) >>> 0) | 0;
    const sm = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.#s0 = sm();
    this.#s1 = sm();
    this.#s2 = sm();
    this.#s3 = sm();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** The next unsigned 32-bit integer. */
  nextU32(): number {
    const s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.#s1 = s1 ^ n2;
    this.#s0 = s0 ^ n3;
    this.#s2 = n2 ^ t;
    this.#s3 = (n3 << 11) | (n3 >>> 21);
    return result >>> 0;
  }

  /** The next double, uniform in [0, 1) (32 bits of randomness). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform integer in [0, n) for 1 ≤ n ≤ 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal variate (Box–Muller; uses two draws). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
