/**
 * Bench: threat intelligence, each figure beside a reference from the same
 * run.
 *
 * - Load time and memory of 1,000,000 IPv4 + 100,000 IPv6 prefixes and of
 *   500,000 domains (feed text → the matching structures), beside putting
 *   the same lines in a JS `Set` (exact match only, no prefixes, no parent
 *   domains). Each in a fresh process (bench/_intel_child.ts), so memory is
 *   its own: the V8 heap and ArrayBuffer growth, plus the feed text kept for
 *   the alerts' lines.
 * - Lookups per second: longest-prefix IPv4 and IPv6, domain-and-parents,
 *   beside `Set.has` of address or name strings.
 * - The offline rate (`analyze`) of the large mixed capture with feeds of
 *   the default feeds' sizes loaded (`--intel`), beside `analyze` without.
 *
 *   deno task bench --only intel [--quick]
 *
 * @module
 */
import { join } from "node:path";
import { type BenchRow, largeCapture, timed } from "./bench.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const CHILD = `${ROOT}bench/_intel_child.ts`;

/** Entries of the default feeds, rounded up from their size in late 2026. */
export const DEFAULT_FEED_SIZES = {
  spamhaus_drop: 1_500,
  feodo: 1_000,
  sslbl_ja3: 150,
  sslbl_certs: 5_000,
  urlhaus_hosts: 20_000,
} as const;

async function child(
  mode: string,
  n4: number,
  n6: number,
  nd: number,
): Promise<Record<string, number>> {
  const r = await timed(Deno.execPath(), [
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    CHILD,
    mode,
    String(n4),
    String(n6),
    String(nd),
  ], { stdout: "piped" });
  if (r.code !== 0) throw new Error(`bench/_intel_child.ts ${mode} failed`);
  return JSON.parse(r.stdout);
}

function hex(rnd: () => number, n: number): string {
  let s = "";
  while (s.length < n) s += rnd().toString(16).padStart(8, "0");
  return s.slice(0, n);
}

/** A data directory with the default feeds at their usual sizes, as local files. */
async function defaultSizedFeeds(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ns-bench-intel-" });
  let x = 7;
  const rnd = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  const q = (a: number) =>
    `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  const S = DEFAULT_FEED_SIZES;
  const files: Record<string, string> = {
    spamhaus_drop: Array.from(
      { length: S.spamhaus_drop },
      (_, i) =>
        JSON.stringify({
          cidr: `${q((rnd() & 0xffffff00) >>> 0)}/${22 + (i % 3)}`,
          sblid: `SBL${i}`,
        }),
    ).join("\n"),
    feodo: Array.from({ length: S.feodo }, () => q(rnd())).join("\n"),
    sslbl_ja3: Array.from(
      { length: S.sslbl_ja3 },
      () => `${hex(rnd, 32)},2024-01-01 00:00:00,2024-02-01 00:00:00,Bench`,
    ).join("\n"),
    sslbl_certs: Array.from(
      { length: S.sslbl_certs },
      () => `2024-01-01 00:00:00,${hex(rnd, 40)},Bench C&C`,
    ).join("\n"),
    urlhaus_hosts: Array.from(
      { length: S.urlhaus_hosts },
      (_, i) => `127.0.0.1\th${hex(rnd, 8)}${i}.example`,
    ).join("\n"),
  };
  const { DEFAULT_FEEDS } = await import("../intel/mod.ts");
  const feeds = DEFAULT_FEEDS.map((f) => {
    const path = join(dir, `${f.name}.src`);
    return {
      name: f.name,
      path,
      format: f.format,
      kind: f.kind,
      block: f.block,
    };
  });
  for (const f of feeds) {
    await Deno.writeTextFile(f.path, files[f.name]! + "\n");
  }
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({ intel: { feeds } }),
  );
  const up = await timed(Deno.execPath(), [
    "run",
    "-A",
    MAIN,
    "intel",
    "update",
    "--data",
    dir,
  ]);
  if (up.code !== 0) throw new Error("intel update of the bench feeds failed");
  return dir;
}

/** The intel bench section. */
export async function intelBench(quick: boolean): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n4 = quick ? 200_000 : 1_000_000;
  const n6 = quick ? 20_000 : 100_000;
  const nd = quick ? 100_000 : 500_000;
  const ips = await child("ips", n4, n6, 0);
  const setIps = await child("set-ips", n4, n6, 0);
  const mem = (r: Record<string, number>) =>
    (r.heap_mib ?? 0) + (r.external_mib ?? 0) + (r.text_mib ?? 0);
  const label4 = `${(n4 / 1e6).toLocaleString("en")} M IPv4 + ${
    (n6 / 1e3).toLocaleString("en")
  } k IPv6 prefixes`;
  rows.push(
    {
      section: "intel",
      metric: `load ${label4}`,
      value: ips.load_s!,
      unit: "s",
      reference: "the lines in a JS Set",
      referenceValue: setIps.load_s,
    },
    {
      section: "intel",
      metric: `memory of ${label4}`,
      value: mem(ips),
      unit: "MiB",
      reference: "the lines in a JS Set",
      referenceValue: setIps.heap_mib,
      note: `ranges ${ips.structure_mib!.toFixed(1)} MiB + feed text ${
        ips.text_mib!.toFixed(1)
      } MiB (kept for the alerts' lines)`,
    },
    {
      section: "intel",
      metric: "IPv4 longest-prefix lookups",
      value: ips.lookups4_per_s!,
      unit: "lookups/s",
      reference: "Set.has(dotted quad)",
      referenceValue: setIps.lookups_per_s,
      note: `${(1e9 / ips.lookups4_per_s!).toFixed(0)} ns a lookup`,
    },
    {
      section: "intel",
      metric: "IPv6 longest-prefix lookups",
      value: ips.lookups6_per_s!,
      unit: "lookups/s",
      note: `${(1e9 / ips.lookups6_per_s!).toFixed(0)} ns a lookup`,
    },
  );
  const dom = await child("domains", 0, 0, nd);
  const setDom = await child("set-domains", 0, 0, nd);
  const labelD = `${(nd / 1e3).toLocaleString("en")} k domains`;
  rows.push(
    {
      section: "intel",
      metric: `load ${labelD}`,
      value: dom.load_s!,
      unit: "s",
      reference: "the lines in a JS Set",
      referenceValue: setDom.load_s,
    },
    {
      section: "intel",
      metric: `memory of ${labelD}`,
      value: mem(dom),
      unit: "MiB",
      reference: "the lines in a JS Set",
      referenceValue: setDom.heap_mib,
      note: `name set ${dom.structure_mib!.toFixed(1)} MiB + feed text ${
        dom.text_mib!.toFixed(1)
      } MiB`,
    },
    {
      section: "intel",
      metric: "domain lookups (the name and its parents)",
      value: dom.lookups_per_s!,
      unit: "lookups/s",
      reference: "Set.has(name), exact only",
      referenceValue: setDom.lookups_per_s,
    },
  );
  // The offline rate with the default feeds' sizes loaded, beside without.
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const dir = await defaultSizedFeeds();
  try {
    const runs = quick ? 1 : 3;
    const best = async (args: string[]) => {
      let s = Infinity;
      for (let i = 0; i < runs; i++) {
        const r = await timed(Deno.execPath(), ["run", "-A", MAIN, ...args]);
        if (r.code > 1) throw new Error(`analyze ${args.join(" ")} failed`);
        s = Math.min(s, r.seconds);
      }
      return s;
    };
    const plain = await best(["analyze", "--no-model", path]);
    const intel = await best([
      "analyze",
      "--no-model",
      "--intel",
      "--data",
      dir,
      path,
    ]);
    const total = Object.values(DEFAULT_FEED_SIZES).reduce(
      (a: number, b: number) => a + b,
      0,
    );
    rows.push({
      section: "intel",
      metric: `analyze ${
        packets.toLocaleString("en")
      } pkts with the default feeds' sizes (${
        total.toLocaleString("en")
      } indicators)`,
      value: packets / intel,
      unit: "pkts/s",
      reference: "analyze without feeds",
      referenceValue: packets / plain,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return rows;
}
