/**
 * Bench child (run by bench/intel.ts in a fresh process so its memory is
 * its own): builds one feed kind's structure from generated feed text and
 * prints JSON figures: load time, heap and RSS growth, and lookups per
 * second; or the same for the reference (a JS Set of the lines).
 *
 *   deno run -A --v8-flags=--expose-gc bench/_intel_child.ts ips|domains|set-ips|set-domains N4 N6 ND
 *
 * @module
 */
import { parseFeed } from "../intel/mod.ts";

const [what, n4s, n6s, nds] = Deno.args;
const N4 = Number(n4s), N6 = Number(n6s), ND = Number(nds);

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

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Feed text: N4 IPv4 prefixes (half single addresses, the rest /16–/31), N6 IPv6 /32–/128. */
function ipText(): string {
  const rnd = xorshift(11);
  const parts: string[] = [];
  for (let i = 0; i < N4; i++) {
    const a = rnd();
    // Like real lists: half single addresses, the rest /16–/31 (few wide).
    const bits = i % 2 === 0 ? 32 : 16 + (rnd() % 16);
    const net = bits === 32 ? a : (a & (0xffffffff << (32 - bits))) >>> 0;
    const q = `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${
      net & 255
    }`;
    parts.push(bits === 32 ? q : `${q}/${bits}`);
  }
  for (let i = 0; i < N6; i++) {
    const g = Array.from(
      { length: 8 },
      (_, k) =>
        k === 0
          ? (0x2000 | (rnd() & 0x1fff)).toString(16)
          : (rnd() & 0xffff).toString(16),
    );
    parts.push(`${g.join(":")}/${32 + (rnd() % 97)}`);
  }
  return parts.join("\n") + "\n";
}

function domainText(): string {
  const rnd = xorshift(13);
  const parts: string[] = [];
  for (let i = 0; i < ND; i++) {
    parts.push(`h${rnd().toString(36)}${i}.d${rnd() % 5000}.example`);
  }
  return parts.join("\n") + "\n";
}

function addrs4(n: number): Uint32Array {
  const rnd = xorshift(17);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = rnd();
  return out;
}

const text = what === "ips" || what === "set-ips" ? ipText() : domainText();
gc();
const heap0 = Deno.memoryUsage().heapUsed;
const ext0 = Deno.memoryUsage().external;
const rss0 = Deno.memoryUsage().rss;
const t0 = performance.now();
let result: Record<string, number> = {};
if (what === "ips") {
  const p = parseFeed(text, {
    format: "plain",
    kind: "ip",
    maxEntries: 20_000_000,
  });
  const loadMs = performance.now() - t0;
  gc();
  const heap = Deno.memoryUsage().heapUsed - heap0;
  const rss = Deno.memoryUsage().rss - rss0;
  const ips = p.ips!;
  const q = addrs4(2_000_000);
  let hits = 0;
  for (let i = 0; i < 100_000; i++) if (ips.lookup4(q[i]!) >= 0) hits++;
  const l0 = performance.now();
  hits = 0;
  for (let i = 0; i < q.length; i++) if (ips.lookup4(q[i]!) >= 0) hits++;
  const lookMs = performance.now() - l0;
  const w = new Uint32Array(4);
  const rnd = xorshift(19);
  const l1 = performance.now();
  let hits6 = 0;
  for (let i = 0; i < 1_000_000; i++) {
    w[0] = 0x20000000 | (rnd() & 0x1fffffff);
    w[1] = rnd();
    w[2] = rnd();
    w[3] = rnd();
    if (ips.lookup6(w) >= 0) hits6++;
  }
  const look6Ms = performance.now() - l1;
  result = {
    entries: p.entries,
    load_s: loadMs / 1000,
    heap_mib: heap / 2 ** 20,
    rss_mib: rss / 2 ** 20,
    structure_mib: ips.bytes / 2 ** 20,
    external_mib: (Deno.memoryUsage().external - ext0) / 2 ** 20,
    text_mib: text.length / 2 ** 20,
    lookups4_per_s: q.length / (lookMs / 1000),
    lookups6_per_s: 1_000_000 / (look6Ms / 1000),
    hits4: hits,
    hits6,
  };
} else if (what === "domains") {
  const p = parseFeed(text, {
    format: "plain",
    kind: "domain",
    maxEntries: 20_000_000,
  });
  const loadMs = performance.now() - t0;
  gc();
  const heap = Deno.memoryUsage().heapUsed - heap0;
  const rss = Deno.memoryUsage().rss - rss0;
  const names = p.names!;
  // Queries as the wire has them: a third listed (with a subdomain), the rest not.
  const rnd = xorshift(13);
  const listed: string[] = [];
  for (let i = 0; i < ND; i++) {
    listed.push(`h${rnd().toString(36)}${i}.d${rnd() % 5000}.example`);
  }
  const qs: string[] = [];
  const r2 = xorshift(23);
  for (let i = 0; i < 1_000_000; i++) {
    qs.push(
      i % 3 === 0
        ? `www.${listed[r2() % listed.length]}`
        : `cdn${r2() % 100000}.d${r2() % 5000}.example`,
    );
  }
  let hits = 0;
  const l0 = performance.now();
  for (let i = 0; i < qs.length; i++) {
    if (names.matchSuffix(qs[i]!) >= 0) hits++;
  }
  const lookMs = performance.now() - l0;
  result = {
    entries: p.entries,
    load_s: loadMs / 1000,
    heap_mib: heap / 2 ** 20,
    rss_mib: rss / 2 ** 20,
    structure_mib: names.bytes / 2 ** 20,
    external_mib: (Deno.memoryUsage().external - ext0) / 2 ** 20,
    text_mib: text.length / 2 ** 20,
    lookups_per_s: qs.length / (lookMs / 1000),
    hits,
  };
} else if (what === "set-ips" || what === "set-domains") {
  // The reference: every line in a JS Set (exact match only).
  const set = new Set(text.split("\n"));
  const loadMs = performance.now() - t0;
  gc();
  const heap = Deno.memoryUsage().heapUsed - heap0;
  const rss = Deno.memoryUsage().rss - rss0;
  let keys: string[];
  if (what === "set-ips") {
    const q = addrs4(2_000_000);
    keys = Array.from(
      q,
      (a) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`,
    );
  } else {
    const r2 = xorshift(23);
    keys = Array.from(
      { length: 1_000_000 },
      () => `cdn${r2() % 100000}.d${r2() % 5000}.example`,
    );
  }
  let hits = 0;
  const l0 = performance.now();
  for (let i = 0; i < keys.length; i++) if (set.has(keys[i]!)) hits++;
  const lookMs = performance.now() - l0;
  result = {
    entries: set.size,
    load_s: loadMs / 1000,
    heap_mib: heap / 2 ** 20,
    rss_mib: rss / 2 ** 20,
    lookups_per_s: keys.length / (lookMs / 1000),
    hits,
  };
} else {
  throw new Error(`Unknown bench child mode "${what}"`);
}
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(result) + "\n"));
