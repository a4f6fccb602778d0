/**
 * Rules bench: time and memory to load the full Emerging Threats Open copy
 * (2024-04, `bench/etopen-2024-04.tar.gz`, unpacked once into
 * `.bench-cache/`) beside the shipped set alone, and the offline pipeline's
 * rate (analyze's: every detector, loading excluded) with ET Open loaded
 * beside no rules, on the bench capture and on a payload-heavy one (the
 * lab's benign capture: HTTP, TLS, DNS, SSH, repeated), per CPU second
 * and per wall second, and the appliance's resident memory under the
 * memory section's SYN flood with ET Open loaded beside none.
 *
 * @module
 */
import { join } from "node:path";
import { createVethPair } from "../tests/netns.ts";
import { type BenchRow, largeCapture, timed } from "./bench.ts";
import { say } from "./_netns_bench.ts";
import { feed, type RssEvent } from "./memory.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CACHE = `${ROOT}.bench-cache/`;
const TARBALL = `${ROOT}bench/etopen-2024-04.tar.gz`;
const PAYLOAD_PCAP = `${ROOT}tests/fixtures/benign.pcap`;

/** Unpacks the ET Open copy once; returns its rules directory. */
async function etOpenDir(): Promise<string> {
  const dir = join(CACHE, "etopen-2024-04");
  try {
    await Deno.stat(join(dir, "rules", "emerging-scan.rules"));
  } catch {
    await Deno.mkdir(dir, { recursive: true });
    const r = await new Deno.Command("tar", {
      args: ["xzf", TARBALL, "-C", dir],
    }).output();
    if (!r.success) throw new Error(`Cannot unpack ${TARBALL}`);
  }
  return join(dir, "rules");
}

interface LoadFigures {
  ms: number;
  cpuS: number;
  rules: number;
  refused: number;
  states: number;
  prefilterBytes: number;
  rssDelta: number;
  heapDelta: number;
  rss: number;
}

async function loadOnce(paths: string[]): Promise<LoadFigures> {
  const r = await timed(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}bench/_rules_load.ts`,
    ...paths,
  ], { stdout: "piped" });
  if (r.code !== 0) throw new Error("rules load child failed");
  return JSON.parse(r.stdout) as LoadFigures;
}

/** The rules section. */
export async function rulesBench(quick: boolean): Promise<BenchRow[]> {
  const et = await etOpenDir();
  const runs = quick ? 1 : 3;
  const best = async (paths: string[]) => {
    let b: LoadFigures | null = null;
    for (let i = 0; i < runs; i++) {
      const f = await loadOnce(paths);
      if (b === null || f.ms < b.ms) b = f;
    }
    return b!;
  };
  const shipped = await best([]);
  const full = await best([et]);
  const rows: BenchRow[] = [
    {
      section: "rules",
      metric: `load ET Open (${
        full.rules.toLocaleString("en")
      } rules, ${full.refused} refused)`,
      value: full.ms / 1000,
      unit: "s",
      reference: `shipped set, ${shipped.rules} rules`,
      referenceValue: shipped.ms / 1000,
    },
    {
      section: "rules",
      metric: "load ET Open: CPU time (user + system)",
      value: full.cpuS,
      unit: "s",
      reference: "shipped set",
      referenceValue: shipped.cpuS,
      note: "wall time above grows with the machine's load; this does not",
    },
    {
      section: "rules",
      metric: "ET Open: resident memory added by loading",
      value: (full.rssDelta - shipped.rssDelta) / 2 ** 20,
      unit: "MiB",
      note: `JS heap +${
        ((full.heapDelta - shipped.heapDelta) / 2 ** 20).toFixed(0)
      } MiB; ${full.states.toLocaleString("en")} prefilter states in ${
        (full.prefilterBytes / 2 ** 20).toFixed(1)
      } MiB of typed arrays`,
    },
  ];
  // Processing rate with the set loaded (loading excluded), every
  // detector on, in a child process per run.
  // Runs without and with rules alternate, so both see the same load;
  // the rate is per CPU second (user + system of the child's processing),
  // which the machine's load does not stretch as it does wall time.
  interface Rate {
    pps: number;
    cpuPps: number;
    rss: number;
  }
  const rateOnce = async (files: string[], rules: boolean): Promise<Rate> => {
    const r = await timed(Deno.execPath(), [
      "run",
      "-A",
      `${ROOT}bench/_rules_rate.ts`,
      ...(rules ? ["--rules", et] : ["--no-rules"]),
      ...files,
    ], { stdout: "piped" });
    if (r.code !== 0) throw new Error(`rules rate child failed (${r.code})`);
    const o = JSON.parse(r.stdout) as {
      packets: number;
      seconds: number;
      cpuSeconds: number;
    };
    return {
      pps: o.packets / o.seconds,
      cpuPps: o.packets / o.cpuSeconds,
      rss: r.rssBytes,
    };
  };
  const better = (a: Rate | null, b: Rate) =>
    a === null || b.cpuPps > a.cpuPps ? b : a;
  const rates = async (files: string[]) => {
    let without: Rate | null = null, withEt: Rate | null = null;
    for (let i = 0; i < runs; i++) {
      without = better(without, await rateOnce(files, false));
      withEt = better(withEt, await rateOnce(files, true));
    }
    return { without: without!, withEt: withEt! };
  };
  const big = await largeCapture(quick ? 200_000 : 1_000_000);
  const reps = quick ? 4 : 12;
  const payloadFiles = Array(reps).fill(PAYLOAD_PCAP);
  for (
    const [name, files] of [
      ["bench capture", [big.path]],
      [`payload-heavy (benign.pcap ×${reps})`, payloadFiles],
    ] as const
  ) {
    const { without, withEt } = await rates([...files]);
    rows.push({
      section: "rules",
      metric: `pipeline with ET Open loaded, ${name}, per CPU second`,
      value: withEt.cpuPps,
      unit: "pkts/s",
      reference: "no rules, same pipeline",
      referenceValue: without.cpuPps,
      note: `${(100 * withEt.cpuPps / without.cpuPps).toFixed(0)} %; by wall ${
        (withEt.pps / 1000).toFixed(0)
      }k against ${(without.pps / 1000).toFixed(0)}k (${
        (100 * withEt.pps / without.pps).toFixed(0)
      } %); peak RSS ${(withEt.rss / 2 ** 20).toFixed(0)} MiB (without: ${
        (without.rss / 2 ** 20).toFixed(0)
      })`,
    });
  }
  rows.push(...await floodWithRules(et, quick));
  return rows;
}

/**
 * The appliance's memory under the memory section's SYN flood (spoofed
 * sources; the flow and host tables fill up to their limits) with ET Open
 * loaded beside none, measured together in one process each (RSS after a
 * full collection, with the unit's V8 flags): the figure to hold against
 * the unit's `MemoryMax=512M`.
 */
async function floodWithRules(
  et: string,
  quick: boolean,
): Promise<BenchRow[]> {
  if (Deno.uid() !== 0) {
    say("bench: rules flood skipped (needs root for a network namespace)");
    return [];
  }
  const n = quick ? 250_000 : 2_000_000;
  await using pair = await createVethPair();
  const last = (ev: RssEvent[]) =>
    ev.filter((e) => e.phase === "flood").at(-1)!;
  const without = await feed(pair.a.ns, pair.a.iface, "flood", n);
  const withEt = await feed(pair.a.ns, pair.a.iface, "flood", n, {
    rules: { paths: [et] },
  });
  const w = last(withEt), o = last(without);
  const idleW = withEt.find((e) => e.phase === "idle")!;
  const idleO = without.find((e) => e.phase === "idle")!;
  const mib = (b: number) => b / 2 ** 20;
  const peak = Math.max(...withEt.map((e) => e.hwm));
  return [{
    section: "rules",
    metric: `RSS with ET Open loaded under a SYN flood, ${
      n.toLocaleString("en")
    } spoofed sources`,
    value: mib(w.rss),
    unit: "MiB",
    reference: "no rules, same flood",
    referenceValue: mib(o.rss),
    note: `peak ${mib(peak).toFixed(0)} MiB against MemoryMax 512; JS heap ${
      mib(w.heap).toFixed(0)
    } MiB (without: ${mib(o.heap).toFixed(0)}); idle after loading ${
      mib(idleW.rss).toFixed(0)
    } MiB (without: ${mib(idleO.rss).toFixed(0)})`,
  }];
}
