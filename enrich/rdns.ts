/**
 * Reverse DNS that never blocks its caller: `lookup` answers from a bounded
 * TTL cache at once and starts a PTR query in the background when the answer
 * is not known; `resolve` waits for it at most a short bound; `onResolved`
 * tells listeners (the alert pipeline) when a name arrives so an alert already
 * sent can be updated. Queries go through `Deno.resolveDns` with a timeout
 * each and a cap on how many run at once; names that do not exist are cached
 * too, for less time. The whole thing can be switched off: every query leaks
 * the address to the resolver.
 *
 * @module
 */
import { addrScope, parseHostAddr } from "../decode/mod.ts";
import { Lru } from "./_lru.ts";

/** Options of {@link ReverseDns}. Times are in milliseconds. */
export interface RdnsOptions {
  /** False turns reverse DNS off: no query is ever sent (default true). */
  enabled?: boolean;
  /** The resolver to ask (default: the system's, from /etc/resolv.conf). */
  nameServer?: { ipAddr: string; port?: number };
  /** How long one query may take before it counts as a timeout (default 2,000). */
  timeoutMs?: number;
  /** How long a name is kept (default 3,600,000: one hour). */
  ttlMs?: number;
  /** How long "no such name" (NXDOMAIN, no PTR record) is kept (default 600,000). */
  negativeTtlMs?: number;
  /** How long a timeout or resolver failure is kept before retrying (default 60,000). */
  failureTtlMs?: number;
  /** Addresses kept in the cache (default 4,096). */
  cacheSize?: number;
  /** Queries running at once (default 8). */
  maxInFlight?: number;
  /** Addresses waiting for a free slot; beyond this they are dropped and retried on a later lookup (default 256). */
  maxQueued?: number;
  /**
   * Also look up private, link-local, loopback, CGNAT and unique-local
   * addresses: LAN names are useful (default true). Multicast, broadcast and
   * unspecified addresses are never looked up.
   */
  lookupPrivate?: boolean;
  /** Clock for cache expiry (default `Date.now`). */
  now?: () => number;
  /** Where to warn when a listener throws. */
  log?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/** Counters of a {@link ReverseDns}, for `/metrics`. */
export interface RdnsStats {
  /** Whether lookups are enabled. */
  enabled: boolean;
  /** Lookups answered from the cache (names and negative answers). */
  hits: number;
  /** Lookups that found nothing cached (a query started, joined or queued). */
  misses: number;
  /** Queries that found a name. */
  found: number;
  /** Queries answered "no such name" or with no PTR record. */
  not_found: number;
  /** Queries that took longer than `timeoutMs`. */
  timeouts: number;
  /**
   * Queries that failed otherwise (network error, bad resolver address).
   * `Deno.resolveDns` reports SERVFAIL and REFUSED as not found, so those
   * count in `not_found` and are cached for `negativeTtlMs`.
   */
  failures: number;
  /** Answers whose name was not a plausible host name (ignored). */
  invalid: number;
  /** Lookups dropped because the queue was full. */
  dropped: number;
  /** Queries running now. */
  in_flight: number;
  /** Addresses waiting for a free slot now. */
  queued: number;
  /** Entries in the cache now. */
  cache_size: number;
  /** Entries dropped from the full cache. */
  evictions: number;
}

/** Called when a query finishes: the host name, or null when there is none. */
export type RdnsListener = (ip: string, host: string | null) => void;

interface Entry {
  readonly host: string | null;
  readonly expires: number;
}

interface Pending {
  readonly ptr: string;
  readonly promise: Promise<string | null>;
  readonly settle: (host: string | null) => void;
}

/**
 * The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa` for
 * 1.2.3.4, 32 nibbles under `ip6.arpa` for IPv6 (`Deno.resolveDns` does not
 * build it from an address). IPv4-mapped IPv6 addresses use the IPv4 form.
 * Null when the text is not an address.
 *
 * @example
 * ```ts
 * ptrName("192.0.2.5"); // "5.2.0.192.in-addr.arpa"
 * ptrName("2001:db8::1"); // "1.0.0.0.…8.b.d.0.1.0.0.2.ip6.arpa"
 * ```
 */
export function ptrName(ip: string): string | null {
  const a = parseHostAddr(ip);
  if (a === null) return null;
  if (a.version === 4) {
    const v = a.words[0]!;
    return `${v & 255}.${(v >>> 8) & 255}.${(v >>> 16) & 255}.${
      v >>> 24
    }.in-addr.arpa`;
  }
  const nibbles: string[] = [];
  for (let i = 3; i >= 0; i--) {
    const w = a.words[i]!;
    for (let s = 0; s < 32; s += 4) nibbles.push(((w >>> s) & 15).toString(16));
  }
  return `${nibbles.join(".")}.ip6.arpa`;
}

const HOST_RE =
  /^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$/;

/**
 * Checks a PTR answer before it goes anywhere: lower case, no trailing dot,
 * letters, digits, `-` and `_` in dot-separated labels of at most 63
 * characters, at most 253 in all. Null for anything else (wire text is
 * hostile: it reaches logs, terminals and the dashboard).
 */
export function cleanHostName(name: string): string | null {
  let n = name.toLowerCase();
  if (n.endsWith(".")) n = n.slice(0, -1);
  return n.length > 0 && n.length <= 253 && HOST_RE.test(n) ? n : null;
}

/**
 * A non-blocking reverse DNS resolver with a TTL cache, negative caching, a
 * per-query timeout, a cap on queries in flight and a queue beyond it.
 * Close it (`await rdns.close()` or `await using`) to abort running queries.
 *
 * @example
 * ```ts
 * await using rdns = new ReverseDns({ timeoutMs: 1000 });
 * rdns.onResolved((ip, host) => updateAlerts(ip, host));
 * rdns.lookup("192.0.2.1"); // undefined: pending, a query started
 * await rdns.resolve("192.0.2.1", 200); // the name, null, or undefined if still pending
 * ```
 */
export class ReverseDns {
  /** Whether lookups are enabled. */
  readonly enabled: boolean;
  readonly #nameServer: { ipAddr: string; port?: number } | undefined;
  readonly #timeoutMs: number;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #failureTtlMs: number;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  readonly #lookupPrivate: boolean;
  readonly #now: () => number;
  readonly #log: RdnsOptions["log"];
  readonly #cache: Lru<string, Entry>;
  readonly #pending = new Map<string, Pending>();
  readonly #queue: string[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #controllers = new Set<AbortController>();
  readonly #listeners = new Set<RdnsListener>();
  #closed = false;
  readonly #n = {
    hits: 0,
    misses: 0,
    found: 0,
    not_found: 0,
    timeouts: 0,
    failures: 0,
    invalid: 0,
    dropped: 0,
  };

  /** Creates a resolver; nothing is sent until the first lookup. */
  constructor(opts: RdnsOptions = {}) {
    this.enabled = opts.enabled ?? true;
    this.#nameServer = opts.nameServer;
    this.#timeoutMs = opts.timeoutMs ?? 2_000;
    this.#ttlMs = opts.ttlMs ?? 3_600_000;
    this.#negativeTtlMs = opts.negativeTtlMs ?? 600_000;
    this.#failureTtlMs = opts.failureTtlMs ?? 60_000;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 8);
    this.#maxQueued = Math.max(0, opts.maxQueued ?? 256);
    this.#lookupPrivate = opts.lookupPrivate ?? true;
    this.#now = opts.now ?? Date.now;
    this.#log = opts.log;
    this.#cache = new Lru(opts.cacheSize ?? 4_096);
  }

  /**
   * The cached name of an address at once: a string when known, null when
   * there is none (or rDNS is off, or the address is not looked up), and
   * undefined when it is not known yet, in which case a query is started (or
   * queued) unless one is already running. Never waits.
   */
  lookup(ip: string): string | null | undefined {
    if (!this.enabled || this.#closed) return null;
    const e = this.#cache.get(ip);
    if (e !== undefined) {
      if (e.expires > this.#now()) {
        this.#n.hits++;
        return e.host;
      }
      this.#cache.delete(ip);
    }
    this.#n.misses++;
    if (this.#pending.has(ip)) return undefined;
    const ptr = this.#ptrFor(ip);
    if (ptr === null) {
      // Not an address, or one we never ask about: remember that cheaply.
      this.#cache.set(ip, {
        host: null,
        expires: this.#now() + this.#negativeTtlMs,
      });
      return null;
    }
    if (
      this.#pending.size - this.#queue.length >= this.#maxInFlight &&
      this.#queue.length >= this.#maxQueued
    ) {
      this.#n.dropped++;
      return undefined;
    }
    let settle!: (host: string | null) => void;
    const promise = new Promise<string | null>((r) => settle = r);
    this.#pending.set(ip, { ptr, promise, settle });
    this.#queue.push(ip);
    this.#pump();
    return undefined;
  }

  /**
   * Like {@link lookup}, but waits up to `maxWaitMs` for a query to finish.
   * Resolves to the name, null when there is none, or undefined when the
   * answer is still pending after the wait (or the lookup was dropped); the
   * query goes on and {@link onResolved} listeners hear of it.
   */
  async resolve(
    ip: string,
    maxWaitMs: number,
  ): Promise<string | null | undefined> {
    const now = this.lookup(ip);
    if (now !== undefined) return now;
    const p = this.#pending.get(ip);
    if (p === undefined || maxWaitMs <= 0) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), maxWaitMs);
    });
    try {
      return await Promise.race([p.promise, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Calls `listener(ip, host)` each time a query finishes (host null when
   * there is no name). Returns a function that removes the listener.
   */
  onResolved(listener: RdnsListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Current counters. */
  stats(): RdnsStats {
    return {
      enabled: this.enabled,
      ...this.#n,
      in_flight: this.#pending.size - this.#queue.length,
      queued: this.#queue.length,
      cache_size: this.#cache.size,
      evictions: this.#cache.evictions,
    };
  }

  /**
   * Stops: queued lookups are dropped, running queries aborted, and the
   * returned promise settles once they have all finished. Later lookups
   * answer null.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const ip of this.#queue.splice(0)) {
      const p = this.#pending.get(ip);
      this.#pending.delete(ip);
      p?.settle(null);
    }
    for (const c of this.#controllers) c.abort();
    await Promise.allSettled([...this.#running]);
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #ptrFor(ip: string): string | null {
    const a = parseHostAddr(ip);
    if (a === null) return null;
    switch (addrScope(a.version, a.words)) {
      case "public":
        break;
      case "multicast":
      case "broadcast":
      case "unspecified":
        return null;
      default:
        if (!this.#lookupPrivate) return null;
    }
    return ptrName(ip);
  }

  #pump(): void {
    while (
      !this.#closed && this.#queue.length > 0 &&
      this.#pending.size - this.#queue.length < this.#maxInFlight
    ) {
      const ip = this.#queue.shift()!;
      const p = this.#pending.get(ip);
      if (p === undefined) continue;
      const run = this.#query(ip, p);
      this.#running.add(run);
      run.finally(() => this.#running.delete(run));
    }
  }

  async #query(ip: string, p: Pending): Promise<void> {
    const ac = new AbortController();
    this.#controllers.add(ac);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.#timeoutMs);
    let host: string | null = null;
    let ttl = this.#failureTtlMs;
    try {
      const names = await Deno.resolveDns(p.ptr, "PTR", {
        ...(this.#nameServer ? { nameServer: this.#nameServer } : {}),
        signal: ac.signal,
      });
      for (const n of names) {
        host = cleanHostName(n);
        if (host !== null) break;
      }
      if (host !== null) {
        this.#n.found++;
        ttl = this.#ttlMs;
      } else {
        if (names.length > 0) this.#n.invalid++;
        else this.#n.not_found++;
        ttl = this.#negativeTtlMs;
      }
    } catch (e) {
      if (timedOut) this.#n.timeouts++;
      else if (e instanceof Deno.errors.NotFound) {
        this.#n.not_found++;
        ttl = this.#negativeTtlMs;
      } else if (!this.#closed) this.#n.failures++;
    } finally {
      clearTimeout(timer);
      this.#controllers.delete(ac);
    }
    this.#pending.delete(ip);
    if (!this.#closed) {
      this.#cache.set(ip, { host, expires: this.#now() + ttl });
    }
    p.settle(host);
    if (!this.#closed) {
      for (const l of this.#listeners) {
        try {
          l(ip, host);
        } catch (e) {
          // A broken listener must not stop the others or the queue.
          this.#log?.warn("rdns listener failed", { ip, error: e });
        }
      }
    }
    this.#pump();
  }
}
