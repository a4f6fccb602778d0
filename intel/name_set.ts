/**
 * A compact set of names (domains, hashes, URLs) with allocation-free
 * lookups: every name lives in one string, an open-addressing table of
 * 32-bit hashes points at them. {@link NameSet.matchSuffix} tests a name
 * and each of its parent domains (label boundaries, right to left) in one
 * backward pass: a listed "evil.example" matches "evil.example" and
 * "a.b.evil.example", never "notevil.example". Comparisons are ASCII
 * case-insensitive; callers store names lower-cased.
 *
 * @module
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Hash of s[from..to) read backwards, case-insensitive (the table's hash). */
function hashBack(s: string, from: number, to: number): number {
  let h = FNV_OFFSET;
  for (let i = to - 1; i >= from; i--) {
    h = Math.imul(h ^ lower(s.charCodeAt(i)), FNV_PRIME);
  }
  return h >>> 0;
}

/** Collects names with an id each, then {@link build}s a {@link NameSet}. */
export class NameSetBuilder {
  #names: string[] = [];
  #ids: number[] = [];

  /** Names added so far. */
  get size(): number {
    return this.#names.length;
  }

  /** Adds a name (stored lower-cased); of equal names the first added wins. */
  add(name: string, id: number): void {
    this.#names.push(name.toLowerCase());
    this.#ids.push(id);
  }

  /** Builds the lookup structure. */
  build(): NameSet {
    const n = this.#names.length;
    let cap = 16;
    while (cap < n * 2) cap *= 2;
    const table = new Int32Array(cap).fill(-1);
    const offs = new Uint32Array(n + 1);
    const hashes = new Uint32Array(n);
    const ids = new Int32Array(n);
    const all = this.#names.join("");
    let off = 0, m = 0;
    for (let i = 0; i < n; i++) {
      const s = this.#names[i]!;
      const h = hashBack(s, 0, s.length);
      // Probe for an equal name already present: the first one wins.
      let slot = h & (cap - 1), dup = false;
      while (table[slot]! >= 0) {
        const j = table[slot]!;
        if (
          hashes[j] === h && offs[j + 1]! - offs[j]! === s.length &&
          all.startsWith(s, offs[j]!)
        ) {
          dup = true;
          break;
        }
        slot = (slot + 1) & (cap - 1);
      }
      offs[m] = off;
      if (!dup) {
        table[slot] = m;
        hashes[m] = h;
        ids[m] = this.#ids[i]!;
      } else {
        hashes[m] = h;
        ids[m] = -1;
      }
      off += s.length;
      offs[m + 1] = off;
      m++;
    }
    return new NameSet(all, offs, hashes, ids, table, n);
  }
}

/** The built name set; see the module doc. */
export class NameSet {
  readonly #all: string;
  readonly #offs: Uint32Array;
  readonly #hashes: Uint32Array;
  readonly #ids: Int32Array;
  readonly #table: Int32Array;
  readonly #mask: number;
  /** Names loaded (duplicates included). */
  readonly size: number;

  /** Use {@link NameSetBuilder.build}. */
  constructor(
    all: string,
    offs: Uint32Array,
    hashes: Uint32Array,
    ids: Int32Array,
    table: Int32Array,
    size: number,
  ) {
    this.#all = all;
    this.#offs = offs;
    this.#hashes = hashes;
    this.#ids = ids;
    this.#table = table;
    this.#mask = table.length - 1;
    this.size = size;
  }

  /** Approximate bytes held (one byte a character: names are ASCII). */
  get bytes(): number {
    return this.#all.length + this.#offs.byteLength + this.#hashes.byteLength +
      this.#ids.byteLength + this.#table.byteLength;
  }

  #find(h: number, s: string, from: number, to: number): number {
    const all = this.#all, offs = this.#offs, len = to - from;
    let slot = h & this.#mask;
    for (;;) {
      const j = this.#table[slot]!;
      if (j < 0) return -1;
      if (this.#hashes[j] === h && offs[j + 1]! - offs[j]! === len) {
        const o = offs[j]! - from;
        let k = from;
        while (k < to && all.charCodeAt(o + k) === lower(s.charCodeAt(k))) k++;
        if (k === to) return this.#ids[j]!;
      }
      slot = (slot + 1) & this.#mask;
    }
  }

  /** The id of exactly s[from..to), or -1. */
  matchExact(s: string, from = 0, to = s.length): number {
    if (to <= from) return -1;
    return this.#find(hashBack(s, from, to), s, from, to);
  }

  /**
   * The id of the longest listed domain that is s[from..to) or one of its
   * parents, or -1. A trailing dot is ignored.
   */
  matchSuffix(s: string, from = 0, to = s.length): number {
    if (to > from && s.charCodeAt(to - 1) === 46) to--;
    let h = FNV_OFFSET, best = -1;
    for (let i = to - 1; i >= from; i--) {
      h = Math.imul(h ^ lower(s.charCodeAt(i)), FNV_PRIME);
      if (i === from || s.charCodeAt(i - 1) === 46) {
        const id = this.#find(h >>> 0, s, i, to);
        if (id >= 0) best = id;
      }
    }
    return best;
  }
}
