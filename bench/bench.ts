/**
 * `deno task bench`: speed and memory figures, each beside a reference
 * measured in the same run on the same input.
 *
 *   deno task bench [--quick] [--json OUT] [--only offline,...]
 *
 * Sections: offline, anomaly, live, memory, latency, startup, tls, notify,
 * rules, defrag, watchers, devices, intel, stream, fleet, pcaps, inbox. Big inputs are generated once and cached in
 * `.bench-cache/`
 * (gitignored). The live,
 * memory, latency and startup sections run the appliance in network
 * namespaces they make and remove (tests/netns.ts), so they need root,
 * iproute2, nftables and tcpdump; all their traffic stays inside those
 * namespaces. The whole bench takes about 5 minutes on 2 cores, `--quick`
 * about one.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { writeMixedCapture } from "./_traffic.ts";
import { anomalyBench } from "./anomaly_score.ts";
import { defragBench } from "./defrag_tunnels.ts";
import { pcapsBench } from "./pcaps.ts";
import { watchersBench } from "./watchers.ts";
import { devicesBench } from "./devices.ts";
import { latencyBench } from "./latency.ts";
import { liveBench } from "./live.ts";
import { memoryBench } from "./memory.ts";
import { notifyBench } from "./notify_cost.ts";
import { fleetBench } from "./fleet_redis.ts";
import { rulesBench } from "./rules.ts";
import { startupBench } from "./startup.ts";
import { streamBench } from "./stream_reassembly.ts";
import { tlsBench } from "./tls_handshake.ts";
import { intelBench } from "./intel.ts";
import { inboxBench } from "./inbox.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CACHE = `${ROOT}.bench-cache/`;
const MAIN = `${ROOT}main.ts`;

/** One row of the bench table. */
export interface BenchRow {
  section: string;
  metric: string;
  value: number;
  unit: string;
  reference?: string;
  referenceValue?: number;
  note?: string;
}

const enc = new TextEncoder();
function say(s: string): void {
  Deno.stderr.writeSync(enc.encode(s + "\n"));
}

/** Runs a command, sampling its peak RSS from /proc; returns wall seconds and peak RSS in bytes. */
export async function timed(
  cmd: string,
  args: string[],
  opts: { stdout?: "null" | "piped" } = {},
): Promise<
  { seconds: number; rssBytes: number; code: number; stdout: string }
> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    stdout: opts.stdout ?? "null",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  const sample = async () => {
    try {
      const s = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const m = /VmHWM:\s+(\d+) kB/.exec(s);
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // The process has exited between samples.
    }
  };
  const timer = setInterval(sample, 50);
  const out = await child.output();
  clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (!out.success) {
    say(new TextDecoder().decode(out.stderr));
  }
  return {
    seconds,
    rssBytes: peak,
    code: out.code,
    stdout: opts.stdout === "piped" ? new TextDecoder().decode(out.stdout) : "",
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes (once) the large mixed capture; returns its path and frame count.
 * `mixed2_`: its TCP segments carry real sequence and acknowledgement
 * numbers (the earlier `mixed_` files had seq 0 on every segment, which
 * reassembly read as overlaps); the same frames otherwise.
 */
export async function largeCapture(
  packets: number,
): Promise<{ path: string; packets: number }> {
  await Deno.mkdir(CACHE, { recursive: true });
  const path = `${CACHE}mixed2_${packets}.pcap`;
  const countPath = `${path}.count`;
  if (await exists(countPath)) {
    return { path, packets: Number(await Deno.readTextFile(countPath)) };
  }
  say(`bench: writing ${packets} packets to ${path}`);
  const n = await writeMixedCapture(path, { packets, clients: 5000, seed: 7 });
  await Deno.writeTextFile(countPath, String(n));
  return { path, packets: n };
}

async function findTool(name: string): Promise<string | null> {
  for (const dir of ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]) {
    if (await exists(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** Offline: analyze packets/s vs tcpdump on the same file. */
async function offline(quick: boolean): Promise<BenchRow[]> {
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const rows: BenchRow[] = [];
  const best = async (cmd: string, args: string[], runs: number) => {
    let b = { seconds: Infinity, rssBytes: 0 };
    for (let i = 0; i < runs; i++) {
      const r = await timed(cmd, args);
      if (r.code > 1) {
        throw new Error(`${cmd} ${args.join(" ")} failed (${r.code})`);
      }
      if (r.seconds < b.seconds) b = r;
    }
    return b;
  };
  const runs = quick ? 1 : 3;
  const tcpdump = await findTool("tcpdump");
  let refW: number | undefined, refN: number | undefined;
  if (tcpdump) {
    refW = packets /
      (await best(tcpdump, ["-r", path, "-w", "/dev/null"], runs)).seconds;
    refN = packets / (await best(tcpdump, ["-n", "-r", path], runs)).seconds;
  }
  const analyze = await best(Deno.execPath(), [
    "run",
    "-A",
    MAIN,
    "analyze",
    path,
  ], runs);
  const flows = await best(
    Deno.execPath(),
    ["run", "-A", MAIN, "analyze", "--events", "alert,dns,http,tls,flow", path],
    runs,
  );
  const ref = tcpdump ? "tcpdump -r FILE -w /dev/null" : "tcpdump missing";
  rows.push({
    section: "offline",
    metric: `analyze ${packets.toLocaleString("en")} pkts`,
    value: packets / analyze.seconds,
    unit: "pkts/s",
    reference: ref,
    referenceValue: refW,
  });
  rows.push({
    section: "offline",
    metric: "analyze --events all (EVE to /dev/null)",
    value: packets / flows.seconds,
    unit: "pkts/s",
    reference: "tcpdump -nr FILE > /dev/null",
    referenceValue: refN,
  });
  rows.push({
    section: "offline",
    metric: "analyze peak RSS",
    value: analyze.rssBytes / 2 ** 20,
    unit: "MiB",
  });
  return rows;
}

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  if (unit === "pkts/s" || unit === "lookups/s") {
    return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${(v / 1e3).toFixed(0)} k`;
  }
  if (Number.isInteger(v)) return String(v);
  return v >= 100 ? v.toFixed(0) : v.toFixed(2);
}

/** Formats rows as the printed table. */
export function formatTable(rows: BenchRow[]): string {
  const cells = rows.map((r) => [
    r.section,
    r.metric,
    `${fmt(r.value, r.unit)} ${r.unit}`,
    r.reference
      ? `${fmt(r.referenceValue, r.unit)} ${r.unit} (${r.reference})`
      : "",
    r.note ?? "",
  ]);
  const head = [
    "section",
    "metric",
    "NetSentinel",
    "reference, same run",
    "note",
  ];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => c[i]!.length))
  );
  const line = (c: string[]) =>
    c.map((x, i) => x.padEnd(widths[i]!)).join("  ").trimEnd();
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
  ].join("\n");
}

/** Bench sections by name; later sections register here. */
export const SECTIONS: Record<string, (quick: boolean) => Promise<BenchRow[]>> =
  {
    offline,
    anomaly: anomalyBench,
    live: liveBench,
    memory: memoryBench,
    latency: latencyBench,
    startup: startupBench,
    tls: tlsBench,
    notify: notifyBench,
    rules: rulesBench,
    defrag: defragBench,
    watchers: watchersBench,
    devices: devicesBench,
    intel: intelBench,
    stream: streamBench,
    fleet: fleetBench,
    pcaps: pcapsBench,
    inbox: inboxBench,
  };

const USAGE =
  `Usage: deno task bench [--quick] [--json OUT] [--only SECTION,...]

Speed and memory, each figure beside a reference measured in the same run.
Sections: ${Object.keys(SECTIONS).join(", ")} (default: all, about 5 minutes;
--quick about one). live, memory, latency and startup need root, iproute2,
nftables and tcpdump (network namespaces the bench makes and removes).`;

/** Exit code 2 with one line on stderr (a bad flag or section). */
function usageError(message: string): never {
  say(`bench: ${message} (deno task bench --help)`);
  Deno.exit(2);
}

async function main(): Promise<void> {
  let values: { quick?: boolean; json?: string; only?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        quick: { type: "boolean" },
        json: { type: "string" },
        only: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usageError((e as Error).message);
  }
  if (values.help) {
    Deno.stdout.writeSync(enc.encode(USAGE + "\n"));
    return;
  }
  const names = values.only ? values.only.split(",") : Object.keys(SECTIONS);
  const unknown = names.filter((n) => !(n in SECTIONS));
  if (unknown.length > 0) {
    usageError(
      `unknown section ${unknown.map((n) => `"${n}"`).join(", ")} (have ${
        Object.keys(SECTIONS).join(", ")
      })`,
    );
  }
  const rows: BenchRow[] = [];
  const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  say(
    `bench: ${navigator.hardwareConcurrency} CPUs, load average ${load()}`,
  );
  for (const n of names) {
    const fn = SECTIONS[n]!;
    say(`bench: ${n}…`);
    rows.push(...await fn(values.quick ?? false));
  }
  say(`bench: done, load average ${load()}`);
  Deno.stdout.writeSync(enc.encode(formatTable(rows) + "\n"));
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify(rows, null, 2) + "\n");
  }
}

if (import.meta.main) await main();
