/**
 * A bounded table keyed by up to two addresses and a number, for detector
 * state (per source, per pair, per target). Lookups allocate nothing: the
 * caller fills the table's scratch key, then calls {@link KeyedTable.get} or
 * {@link KeyedTable.upsert}. When full, the least recently used entry is
 * evicted and its value object is reset and reused (as are entries
 * deleted or expired), so a flood of spoofed addresses costs a bounded
 * amount of memory and no garbage.
 *
 * @module
 */

/** Words in a key: tag, address A (4 words), address B (4 words), extra. */
export const KEY_WORDS = 10;

interface Slot<T> {
  /** Where its key words start in the table's key storage. */
  readonly at: number;
  hash: number;
  value: T;
  lastUs: number;
  chain: Slot<T> | null;
  prev: Slot<T> | null;
  next: Slot<T> | null;
}

function hashKey(k: Uint32Array): number {
  let h = 0x9747b28c;
  for (let i = 0; i < KEY_WORDS; i++) {
    let w = Math.imul(k[i]!, 0xcc9e2d51);
    w = (w << 15) | (w >>> 17);
    h ^= Math.imul(w, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h & 0x3fffffff) >>> 0;
}

function sameKey(keys: Uint32Array, at: number, k: Uint32Array): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (keys[at + i] !== k[i]) return false;
  return true;
}

/** A bounded LRU table of detector state objects. */
export class KeyedTable<T> {
  /** Maximum number of entries. */
  readonly cap: number;
  /** The scratch key: fill with {@link setKey} before get/upsert. */
  readonly key: Uint32Array = new Uint32Array(KEY_WORDS);
  /** Entries evicted to stay under the cap. */
  evicted = 0;
  /** True when the last {@link upsert} created the entry. */
  lastCreated = false;
  /**
   * Bucket chain heads, a power of two long, doubled as the table fills:
   * no allocation per insert or delete (a Map rehashes into new tables as
   * deletions pile up).
   */
  #buckets: (Slot<T> | null)[] = new Array<Slot<T> | null>(64).fill(null);
  #mask = 63;
  /**
   * Key words of every slot, {@link KEY_WORDS} a slot (a small typed array
   * per slot would cost about 0.5 KB in Deno), doubled as slots are made.
   */
  #keys = new Uint32Array(64 * KEY_WORDS);
  #slots = 0;
  /** Slots emptied by delete or expire, reused before new ones are made. */
  #free: Slot<T>[] = [];
  #size = 0;
  #head: Slot<T> | null = null;
  #tail: Slot<T> | null = null;
  #make: () => T;
  #reset: (v: T) => void;
  #onEvict: ((v: T) => void) | null;

  /**
   * Creates a table of at most `cap` entries; `make` builds a value, `reset`
   * clears one for reuse, `onEvict` (optional) sees a value before an LRU
   * eviction resets it.
   */
  constructor(
    cap: number,
    make: () => T,
    reset: (v: T) => void,
    onEvict: ((v: T) => void) | null = null,
  ) {
    this.cap = Math.max(1, cap);
    this.#make = make;
    this.#reset = reset;
    this.#onEvict = onEvict;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#size;
  }

  /**
   * Fills the scratch key: a tag (what the key means), the address version
   * and words of A, optionally B, and an extra number (a port, a hash).
   */
  setKey(
    tag: number,
    version: number,
    a: ArrayLike<number>,
    b: ArrayLike<number> | null,
    extra: number,
  ): void {
    const k = this.key;
    k[0] = (tag << 8) | version;
    k[1] = a[0]!;
    k[2] = a[1]!;
    k[3] = a[2]!;
    k[4] = a[3]!;
    if (b === null) {
      k[5] =
        k[6] =
        k[7] =
        k[8] =
          0;
    } else {
      k[5] = b[0]!;
      k[6] = b[1]!;
      k[7] = b[2]!;
      k[8] = b[3]!;
    }
    k[9] = extra >>> 0;
  }

  #find(h: number): Slot<T> | null {
    let s: Slot<T> | null = this.#buckets[h & this.#mask]!;
    const keys = this.#keys, k = this.key;
    while (s !== null && (s.hash !== h || !sameKey(keys, s.at, k))) {
      s = s.chain;
    }
    return s;
  }

  /** The value for the scratch key, or null (does not change LRU order). */
  get(): T | null {
    return this.#find(hashKey(this.key))?.value ?? null;
  }

  /**
   * The value for the scratch key, created (or recycled from the least
   * recently used entry) when absent; marks it used at `nowUs`.
   */
  upsert(nowUs: number): T {
    const h = hashKey(this.key);
    let s = this.#find(h);
    this.lastCreated = s === null;
    if (s === null) {
      if (this.#size >= this.cap && this.#head !== null) {
        s = this.#head;
        this.evicted++;
        this.#onEvict?.(s.value);
        this.#remove(s);
        this.#reset(s.value);
      } else if (this.#free.length > 0) {
        s = this.#free.pop()!;
      } else {
        const at = this.#slots++ * KEY_WORDS;
        if (at >= this.#keys.length) {
          const keys = new Uint32Array(this.#keys.length * 2);
          keys.set(this.#keys);
          this.#keys = keys;
        }
        s = {
          at,
          hash: 0,
          value: this.#make(),
          lastUs: 0,
          chain: null,
          prev: null,
          next: null,
        };
      }
      this.#keys.set(this.key, s.at);
      s.hash = h;
      if (this.#size >= this.#buckets.length) this.#grow();
      const b = h & this.#mask;
      s.chain = this.#buckets[b]!;
      this.#buckets[b] = s;
      this.#size++;
    } else if (this.#tail !== s) {
      this.#unlink(s);
    } else {
      if (nowUs > s.lastUs) s.lastUs = nowUs;
      return s.value;
    }
    if (nowUs > s.lastUs || this.lastCreated) s.lastUs = nowUs;
    s.prev = this.#tail;
    s.next = null;
    if (this.#tail) this.#tail.next = s;
    else this.#head = s;
    this.#tail = s;
    return s.value;
  }

  /** Doubles the buckets and re-links every entry. */
  #grow(): void {
    const n = this.#buckets.length * 2;
    const buckets = new Array<Slot<T> | null>(n).fill(null);
    const mask = n - 1;
    for (let s = this.#head; s !== null; s = s.next) {
      const b = s.hash & mask;
      s.chain = buckets[b]!;
      buckets[b] = s;
    }
    this.#buckets = buckets;
    this.#mask = mask;
  }

  #unlink(s: Slot<T>): void {
    if (s.prev) s.prev.next = s.next;
    else this.#head = s.next;
    if (s.next) s.next.prev = s.prev;
    else this.#tail = s.prev;
    s.prev = s.next = null;
  }

  #remove(s: Slot<T>): void {
    this.#unlink(s);
    const b = s.hash & this.#mask;
    let prev: Slot<T> | null = null;
    let cur: Slot<T> | null = this.#buckets[b]!;
    while (cur !== null && cur !== s) {
      prev = cur;
      cur = cur.chain;
    }
    if (cur === s) {
      if (prev) prev.chain = s.chain;
      else this.#buckets[b] = s.chain;
    }
    s.chain = null;
    this.#size--;
  }

  /** Removes (and resets) the entry for the scratch key; true when there was one. */
  delete(): boolean {
    const s = this.#find(hashKey(this.key));
    if (s === null) return false;
    this.#remove(s);
    this.#reset(s.value);
    this.#free.push(s);
    return true;
  }

  /**
   * Drops (and resets) every entry not used since `cutoffUs`, oldest first;
   * `onDrop` sees each value before it is reset. Returns how many.
   */
  expire(cutoffUs: number, onDrop: ((v: T) => void) | null = null): number {
    let n = 0;
    let s = this.#head;
    while (s !== null && s.lastUs < cutoffUs) {
      const next: Slot<T> | null = s.next;
      onDrop?.(s.value);
      this.#remove(s);
      this.#reset(s.value);
      this.#free.push(s);
      n++;
      s = next;
    }
    return n;
  }

  /** Visits every value, least recently used first; do not insert meanwhile. */
  forEach(fn: (v: T) => void): void {
    for (let s = this.#head; s !== null; s = s.next) fn(s.value);
  }
}
