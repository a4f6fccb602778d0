/**
 * Benchmark: GeoIP lookups against the shipped country database. Prints the
 * time to open it, the cost of one lookup per address cold (a cache miss:
 * parse, scope check, tree walk, record decode, flag and name) and cached (an
 * LRU hit), for IPv4 and IPv6, the raw `mmdb-lib` walk for comparison, and
 * the memory the opened database holds. Not part of the product.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/geo_lookup.ts [--n 200000]`
 * (without `--expose-gc` the heap figure is left out).
 *
 * @module
 */
import {
  GeoResolver,
  loadGeoDatabase,
  SHIPPED_GEO_URL,
} from "../enrich/mod.ts";

const encoder = new TextEncoder();

/** Prints one line of results on standard output. */
function say(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

const nArg = Deno.args.indexOf("--n");
const N = nArg >= 0 ? Number(Deno.args[nArg + 1]) : 200_000;

/** A small seeded generator, so every run looks up the same addresses. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

function ipv4s(n: number, rnd: () => number): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const a = rnd();
    const first = a >>> 24;
    // Public unicast only, like the sources of real alerts.
    if (first === 0 || first === 10 || first === 127 || first >= 224) continue;
    // join() makes flat strings (a template literal makes rope strings that
    // shrink once hashed, which would muddle the heap figure below).
    out.push([first, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join("."));
  }
  return out;
}

function ipv6s(n: number, rnd: () => number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    // 2000::/3, global unicast: mostly allocated space.
    const h = (0x2000 | (rnd() & 0x1fff)).toString(16);
    const g = Array.from({ length: 7 }, () => (rnd() & 0xffff).toString(16));
    out.push([h, ...g].join(":"));
  }
  return out;
}

function perAddr(label: string, addrs: string[], fn: (a: string) => unknown) {
  // One warm-up pass over a slice, then the timed pass.
  for (let i = 0; i < Math.min(2000, addrs.length); i++) fn(addrs[i]!);
  const t0 = performance.now();
  let sink = 0;
  for (const a of addrs) if (fn(a)) sink++;
  const ms = performance.now() - t0;
  say(
    `${label.padEnd(44)} ${
      (ms * 1000 / addrs.length).toFixed(2).padStart(7)
    } µs/addr  (${addrs.length} lookups, ${sink} with data)`,
  );
}

say(`Deno ${Deno.version.deno}, ${Deno.build.target}`);
const rss0 = Deno.memoryUsage().rss;
const t0 = performance.now();
const db = await loadGeoDatabase(SHIPPED_GEO_URL);
const openMs = performance.now() - t0;
const rss1 = Deno.memoryUsage().rss;
say(
  `database: ${db.path.split("/").pop()} (${db.type}), ${
    (db.bytes / 1e6).toFixed(2)
  } MB, built ${db.buildEpoch.toISOString().slice(0, 10)}`,
);
say(
  `open (read + check + probe): ${openMs.toFixed(1)} ms, RSS +${
    ((rss1 - rss0) / 1e6).toFixed(1)
  } MB`,
);

const rnd = xorshift(0x5eed);
const v4 = ipv4s(N, rnd);
const v6 = ipv6s(N, rnd);

// First, while the heap is fresh (later phases leave garbage that a forced
// collection does not always clear): what 100,000 cached results cost.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  const count = Math.min(100_000, v4.length);
  gc();
  const before = Deno.memoryUsage().heapUsed;
  const full = new GeoResolver([db], { cacheSize: count });
  for (let i = 0; i < count; i++) full.lookup(v4[i]!);
  gc();
  const after = Deno.memoryUsage().heapUsed;
  say(
    `${full.stats().cache_size} cached results: heap +${
      ((after - before) / 1e6).toFixed(1)
    } MB, ${Math.round((after - before) / count)} bytes each`,
  );
}

// Cold: a resolver whose cache never holds the next address.
const cold = new GeoResolver([db], { cacheSize: 1 });
perAddr("cold lookup, IPv4 (cache miss)", v4, (a) => cold.lookup(a).country);
perAddr("cold lookup, IPv6 (cache miss)", v6, (a) => cold.lookup(a).country);

// Raw tree walk + decode, without parsing, scope check, names or flags.
perAddr("raw mmdb-lib record, IPv4", v4, (a) => db.record(a, 4));
perAddr("raw mmdb-lib record, IPv6", v6, (a) => db.record(a, 6));

// Cached: 1,000 hot addresses looked up over and over.
const hot = new GeoResolver([db], { cacheSize: 10_000 });
const hotV4 = v4.slice(0, 1000);
const hotV6 = v6.slice(0, 1000);
const repeat = (xs: string[]) =>
  Array.from({ length: N }, (_, i) => xs[i % xs.length]!);
perAddr(
  "cached lookup, IPv4 (LRU hit)",
  repeat(hotV4),
  (a) => hot.lookup(a).country,
);
perAddr(
  "cached lookup, IPv6 (LRU hit)",
  repeat(hotV6),
  (a) => hot.lookup(a).country,
);
const s = hot.stats();
say(`cached resolver: ${s.hits} hits, ${s.misses} misses`);
