/**
 * Rules bench: time and memory to load the full Emerging Threats Open copy
 * (2024-04, `bench/etopen-2024-04.tar.gz`, unpacked once into
 * `.bench-cache/`) beside the shipped set alone, and the offline pipeline's
 * rate (analyze's: every detector, loading excluded) with ET Open loaded
 * beside no rules, on the bench capture and on a payload-heavy one (the
 * lab's benign capture: HTTP, TLS, DNS, SSH, repeated).
 *
 * @module
 */
import { join } from "node:path";
import { type BenchRow, largeCapture, timed } from "./bench.ts";

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
      } MiB; ${full.states.toLocaleString("en")} prefilter states`,
    },
  ];
  // Processing rate with the set loaded (loading excluded), every
  // detector on, in a child process per run.
  const rate = async (files: string[], rules: boolean) => {
    let best: { pps: number; rss: number } | null = null;
    for (let i = 0; i < runs; i++) {
      const r = await timed(Deno.execPath(), [
        "run",
        "-A",
        `${ROOT}bench/_rules_rate.ts`,
        ...(rules ? ["--rules", et] : ["--no-rules"]),
        ...files,
      ], { stdout: "piped" });
      if (r.code !== 0) throw new Error(`rules rate child failed (${r.code})`);
      const o = JSON.parse(r.stdout) as { packets: number; seconds: number };
      const pps = o.packets / o.seconds;
      if (best === null || pps > best.pps) best = { pps, rss: r.rssBytes };
    }
    return best!;
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
    const without = await rate([...files], false);
    const withEt = await rate([...files], true);
    rows.push({
      section: "rules",
      metric: `pipeline with ET Open loaded, ${name}`,
      value: withEt.pps,
      unit: "pkts/s",
      reference: "no rules, same pipeline",
      referenceValue: without.pps,
      note: `${(100 * withEt.pps / without.pps).toFixed(0)} %; peak RSS ${
        (withEt.rss / 2 ** 20).toFixed(0)
      } MiB (without: ${(without.rss / 2 ** 20).toFixed(0)})`,
    });
  }
  return rows;
}
