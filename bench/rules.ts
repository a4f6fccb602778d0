/**
 * Rules bench: time and memory to load the full Emerging Threats Open copy
 * (2024-04, `bench/etopen-2024-04.tar.gz`, unpacked once into
 * `.bench-cache/`) beside the shipped set alone, and the offline rate of
 * `analyze` with ET Open loaded beside `--no-rules`, on the bench capture
 * and on a payload-heavy one (the lab's benign capture: HTTP, TLS, DNS,
 * SSH, repeated).
 *
 * @module
 */
import { join } from "node:path";
import { type BenchRow, largeCapture, timed } from "./bench.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CACHE = `${ROOT}.bench-cache/`;
const MAIN = `${ROOT}main.ts`;
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
      metric: "ET Open: resident memory added by loading",
      value: (full.rssDelta - shipped.rssDelta) / 2 ** 20,
      unit: "MiB",
      note: `JS heap +${
        ((full.heapDelta - shipped.heapDelta) / 2 ** 20).toFixed(0)
      } MiB; ${full.states.toLocaleString("en")} prefilter states`,
    },
  ];
  const rate = async (files: string[], packets: number, rules: boolean) => {
    let bestS = Infinity;
    let rss = 0;
    for (let i = 0; i < runs; i++) {
      const r = await timed(Deno.execPath(), [
        "run",
        "-A",
        MAIN,
        "analyze",
        "--no-model",
        ...(rules ? ["--rules", et] : ["--no-rules"]),
        ...files,
      ]);
      if (r.code > 1) throw new Error(`analyze failed (${r.code})`);
      if (r.seconds < bestS) {
        bestS = r.seconds;
        rss = r.rssBytes;
      }
    }
    return { pps: packets / bestS, rss };
  };
  const big = await largeCapture(quick ? 200_000 : 1_000_000);
  const payloadCount = await countPackets(PAYLOAD_PCAP);
  const reps = quick ? 4 : 12;
  const payloadFiles = Array(reps).fill(PAYLOAD_PCAP);
  for (
    const [name, files, packets] of [
      ["bench capture", [big.path], big.packets],
      [
        `payload-heavy (benign.pcap ×${reps})`,
        payloadFiles,
        payloadCount * reps,
      ],
    ] as const
  ) {
    const without = await rate([...files], packets, false);
    const withEt = await rate([...files], packets, true);
    rows.push({
      section: "rules",
      metric: `analyze with ET Open, ${name}`,
      value: withEt.pps,
      unit: "pkts/s",
      reference: "analyze --no-rules",
      referenceValue: without.pps,
      note: `peak RSS ${(withEt.rss / 2 ** 20).toFixed(0)} MiB (without: ${
        (without.rss / 2 ** 20).toFixed(0)
      })`,
    });
  }
  return rows;
}

/** Packets in a classic pcap file (records walked by their headers). */
async function countPackets(path: string): Promise<number> {
  const b = await Deno.readFile(path);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = v.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  let o = 24, n = 0;
  while (o + 16 <= b.length) {
    o += 16 + v.getUint32(o + 8, le);
    n++;
  }
  return n;
}
