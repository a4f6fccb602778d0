/**
 * A bounded least-recently-used map, private to `enrich/`: the GeoIP and
 * reverse DNS caches sit on it. A `Map` keeps insertion order, so a hit
 * re-inserts its key and the first key is always the oldest.
 *
 * @module
 */

/** A map holding at most `capacity` entries, dropping the least recently used. */
export class Lru<K, V> {
  readonly #map = new Map<K, V>();
  readonly #capacity: number;
  /** Entries dropped to make room since creation. */
  evictions = 0;

  /** Creates an empty cache; `capacity` below 1 is raised to 1. */
  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  /** How many entries the cache holds now. */
  get size(): number {
    return this.#map.size;
  }

  /** The most entries the cache keeps. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Returns the value for `key` and marks it most recently used. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  /** Returns the value without changing its age (for tests and listings). */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Stores a value as most recently used, dropping the oldest when full. */
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#map.delete(oldest.value);
      this.evictions++;
    }
  }

  /** Removes one entry; true when it was there. */
  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  /** Removes every entry. */
  clear(): void {
    this.#map.clear();
  }
}
