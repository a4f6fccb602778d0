/**
 * Typed arrays for detector state, carved out of shared buffers. In Deno a
 * small typed array of its own costs about half a kilobyte beyond its data
 * (a backing store outside the V8 heap, allocated with malloc, and its
 * bookkeeping); a view into a shared buffer about 0.15 KB, on the heap.
 * Trackers are made once per table slot and recycled (see `_table.ts`), so
 * what a slab hands out is never returned: it grows with the tables, up to
 * their caps.
 *
 * @module
 */

/** Bytes of one shared buffer. */
const CHUNK_BYTES = 64 * 1024;
/** Larger arrays get a buffer of their own. */
const MAX_SHARED = 4096;

/** Hands out small zeroed typed arrays backed by shared 64 KiB buffers. */
export class Slab {
  #buf = new ArrayBuffer(0);
  #used = 0;

  /** A zeroed Uint32Array of `n` elements. */
  u32(n: number): Uint32Array {
    const at = this.#reserve(n * 4);
    return at < 0 ? new Uint32Array(n) : new Uint32Array(this.#buf, at, n);
  }

  /** A zeroed Float64Array of `n` elements. */
  f64(n: number): Float64Array {
    const at = this.#reserve(n * 8);
    return at < 0 ? new Float64Array(n) : new Float64Array(this.#buf, at, n);
  }

  /**
   * Offset of `bytes` (rounded up to 8) in the current buffer, starting a
   * new one when it is full; -1 for a request too big to share.
   */
  #reserve(bytes: number): number {
    const need = (bytes + 7) & ~7;
    if (need > MAX_SHARED) return -1;
    if (this.#used + need > this.#buf.byteLength) {
      this.#buf = new ArrayBuffer(CHUNK_BYTES);
      this.#used = 0;
    }
    const at = this.#used;
    this.#used += need;
    return at;
  }
}
