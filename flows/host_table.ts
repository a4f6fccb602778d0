/**
 * The host table: traffic counters per IP address, bounded, least recently
 * seen evicted first. Updated per packet without allocation (a host record
 * is allocated once per new address).
 *
 * @module
 */
import { formatAddr } from "../decode/mod.ts";

/** What the pipeline knows about one address. */
export interface Host {
  version: 4 | 6;
  /**
   * Address words (see the decoder's address representation), as a plain
   * array: a host record is made per new address, and a small typed array
   * of its own costs about 0.5 KB in Deno (a backing store outside the heap).
   */
  readonly addr: readonly number[];
  /** First and last packet time seen, µs since the epoch. */
  firstUs: number;
  lastUs: number;
  pktsSent: number;
  pktsRecv: number;
  bytesSent: number;
  bytesRecv: number;
  /** Flows this host started (client side). */
  flowsStarted: number;
  /** Free slot for later stages (detector windows); cleared on eviction. */
  ext: Record<string, unknown> | null;
  /** @internal */
  hash: number;
  /** @internal */
  chain: Host | null;
  /** @internal */
  prev: Host | null;
  /** @internal */
  next: Host | null;
  /** @internal cached text form */
  text: string;
}

/** Called when a host is evicted to make room (for persisting its counters). */
export type HostEvictHandler = (h: Host) => void;

function hostHash(w: ArrayLike<number>): number {
  let h = 0x2545f491;
  for (let i = 0; i < 4; i++) {
    let k = Math.imul(w[i]!, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h & 0x3fffffff;
}

/** Returns the address of a host as text, formatted once and cached. */
export function hostIp(h: Host): string {
  if (h.text === "") h.text = formatAddr(h.version, h.addr);
  return h.text;
}

/** The bounded host table. */
export class HostTable {
  readonly maxHosts: number;
  /** Bucket chain heads, a power of two long, doubled as the table fills (no allocation per host, unlike a Map). */
  #buckets: (Host | null)[] = new Array<Host | null>(1024).fill(null);
  #mask = 1023;
  #size = 0;
  #head: Host | null = null;
  #tail: Host | null = null;
  #onEvict: HostEvictHandler | null;
  /** Hosts evicted to stay under the cap. */
  evicted = 0;
  /** True when the last {@link touch} created the host. */
  lastCreated = false;

  /** Creates a table of at most `maxHosts` hosts. */
  constructor(maxHosts = 65_536, onEvict: HostEvictHandler | null = null) {
    this.maxHosts = maxHosts;
    this.#onEvict = onEvict;
  }

  /** Number of hosts held. */
  get size(): number {
    return this.#size;
  }

  /** Finds a host without creating it. */
  get(version: number, addr: ArrayLike<number>): Host | null {
    let h: Host | null = this.#buckets[hostHash(addr) & this.#mask]!;
    while (h !== null) {
      if (
        h.version === version && h.addr[0] === addr[0] &&
        h.addr[1] === addr[1] && h.addr[2] === addr[2] && h.addr[3] === addr[3]
      ) return h;
      h = h.chain;
    }
    return null;
  }

  /**
   * Finds or creates the host for an address and marks it seen at `tsUs`.
   * {@link lastCreated} tells whether it is new.
   */
  touch(version: 4 | 6, addr: ArrayLike<number>, tsUs: number): Host {
    let h = this.get(version, addr);
    this.lastCreated = h === null;
    if (h === null) {
      if (this.#size >= this.maxHosts && this.#head) this.#evict(this.#head);
      const hash = hostHash(addr);
      if (this.#size >= this.#buckets.length) this.#grow();
      const b = hash & this.#mask;
      h = {
        version,
        addr: [addr[0]!, addr[1]!, addr[2]!, addr[3]!],
        firstUs: tsUs,
        lastUs: tsUs,
        pktsSent: 0,
        pktsRecv: 0,
        bytesSent: 0,
        bytesRecv: 0,
        flowsStarted: 0,
        ext: null,
        hash,
        chain: this.#buckets[b]!,
        prev: null,
        next: null,
        text: "",
      };
      this.#buckets[b] = h;
      this.#size++;
    } else {
      if (tsUs > h.lastUs) h.lastUs = tsUs;
      if (this.#tail === h) return h;
      this.#unlink(h);
    }
    h.prev = this.#tail;
    if (this.#tail) this.#tail.next = h;
    else this.#head = h;
    this.#tail = h;
    return h;
  }

  #unlink(h: Host): void {
    if (h.prev) h.prev.next = h.next;
    else this.#head = h.next;
    if (h.next) h.next.prev = h.prev;
    else this.#tail = h.prev;
    h.prev = h.next = null;
  }

  #evict(h: Host): void {
    this.#unlink(h);
    const b = h.hash & this.#mask;
    let prev: Host | null = null;
    let cur: Host | null = this.#buckets[b]!;
    while (cur !== null && cur !== h) {
      prev = cur;
      cur = cur.chain;
    }
    if (prev) prev.chain = h.chain;
    else this.#buckets[b] = h.chain;
    this.#size--;
    this.evicted++;
    this.#onEvict?.(h);
  }

  /** Doubles the buckets and re-links every host. */
  #grow(): void {
    const n = this.#buckets.length * 2;
    const buckets = new Array<Host | null>(n).fill(null);
    const mask = n - 1;
    for (let h = this.#head; h !== null; h = h.next) {
      const b = h.hash & mask;
      h.chain = buckets[b]!;
      buckets[b] = h;
    }
    this.#buckets = buckets;
    this.#mask = mask;
  }

  /** Visits hosts from least to most recently seen; do not mutate. */
  forEach(fn: (h: Host) => void): void {
    for (let h = this.#head; h !== null; h = h.next) fn(h);
  }
}
