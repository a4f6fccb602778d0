/**
 * The appliance as `run` builds it, with hooks the benches need and the
 * CLI does not offer. Run inside a namespace the bench made.
 *
 *   deno run -A bench/_appliance_child.ts live DATA_DIR
 *   deno run -A --v8-flags=--expose-gc bench/_appliance_child.ts memory DATA_DIR flows|flood N
 *
 * `live`: `Appliance.start` with the data directory's config and live
 * capture (as `run`), printing one JSON line a new alert with the wall
 * time the aggregator raised it (`{"ev":"alert","t",…}`); on SIGTERM it
 * prints the blocker's state (its own alert → nft timing) and stops.
 *
 * `memory`: the appliance with no packet source, fed synthetic frames
 * in-process through its pipeline in batches of 4,096 (yielding to the event
 * loop between batches, as live batches arrive): `flows` opens N TCP
 * connections (handshake and one request each, none closed) from 5,000
 * inside clients to 64 outside servers; `flood` sends N SYNs from N
 * distinct spoofed outside sources to one inside server. Prints
 * `{"ev":"rss",…}` lines (after a full GC) at idle and at checkpoints.
 * Frame times are wall-clock, so the appliance's own timers see them as
 * current.
 *
 * @module
 */
import { join } from "node:path";
import { Appliance, type PacketSourceSpec } from "../appliance/appliance.ts";
import { loadConfig } from "../appliance/config.ts";
import { BatchBuilder } from "../capture/mod.ts";
import { createLogger } from "../common/logger.ts";

const enc = new TextEncoder();

function print(o: Record<string, unknown>): void {
  Deno.stdout.writeSync(enc.encode(JSON.stringify(o) + "\n"));
}

function wall(): number {
  return performance.timeOrigin + performance.now();
}

async function start(
  dataDir: string,
  source: "live" | "none",
  onAlert?: Parameters<typeof Appliance.start>[0]["onAlert"],
): Promise<Appliance> {
  const configPath = join(dataDir, "config.json");
  const loaded = await loadConfig(configPath);
  const config = loaded.config;
  const spec: PacketSourceSpec = source === "live"
    ? {
      kind: "live",
      iface: config.capture.interface,
      filter: config.capture.filter,
    }
    : { kind: "none" };
  return await Appliance.start({
    dataDir,
    configPath,
    config,
    rawConfig: loaded.raw,
    source: spec,
    log: createLogger({ level: config.log_level }),
    initialPassword: Deno.env.get("NETSENTINEL_PASSWORD"),
    ...(onAlert ? { onAlert } : {}),
  });
}

/** Waits for SIGTERM. */
function terminated(): Promise<void> {
  return new Promise((res) => {
    const on = () => {
      Deno.removeSignalListener("SIGTERM", on);
      res();
    };
    Deno.addSignalListener("SIGTERM", on);
  });
}

async function live(dataDir: string): Promise<void> {
  const app = await start(dataDir, "live", (a, isNew) => {
    if (!isNew) return;
    print({
      ev: "alert",
      t: wall(),
      src: a.src_ip,
      type: a.netsentinel.type,
      action: a.alert.action,
    });
  });
  await terminated();
  print({ ev: "blocker", state: app.blocker.state() });
  await app.stop();
}

/** Reads VmRSS after a full GC (when exposed), in bytes. */
function rss(): {
  rss: number;
  hwm: number;
  heap: number;
  heapTotal: number;
  external: number;
} {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const s = Deno.readTextFileSync("/proc/self/status");
  const kb = (k: string) =>
    Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) * 1024;
  const m = Deno.memoryUsage();
  return {
    rss: kb("VmRSS"),
    hwm: kb("VmHWM"),
    heap: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
  };
}

/** Writes an Ethernet/IPv4/TCP frame into `out` (54 bytes + payload). */
function tcpFrame(
  out: Uint8Array,
  src: number,
  dst: number,
  sport: number,
  dport: number,
  flags: number,
  payload: number,
): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.fill(0);
  out.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, 40 + payload);
  v.setUint8(22, 64);
  v.setUint8(23, 6);
  v.setUint32(26, src);
  v.setUint32(30, dst);
  v.setUint16(34, sport);
  v.setUint16(36, dport);
  v.setUint32(38, sport * 7 + 1);
  v.setUint8(46, 0x50);
  v.setUint8(47, flags);
  v.setUint16(48, 64240);
  // Payload bytes stay zero: a request the decoders do not recognise.
}

async function memory(dataDir: string, kind: string, n: number) {
  const app = await start(dataDir, "none");
  // Let the appliance settle (first ticks, first commit) before idle.
  await new Promise((r) => setTimeout(r, 1500));
  print({ ev: "rss", phase: "idle", ...rss() });
  const b = new BatchBuilder(4096, 4096 * 160);
  let ts = 0;
  const flush = async () => {
    const batch = b.take();
    if (batch === null) return;
    app.pipeline.processBatch(batch);
    await new Promise((r) => setTimeout(r, 0));
  };
  const push = async (
    src: number,
    dst: number,
    sport: number,
    dport: number,
    flags: number,
    payload = 0,
  ) => {
    if (b.full) await flush();
    ts = Math.max(ts + 1, Date.now() * 1000);
    const len = 54 + payload;
    tcpFrame(
      b.reserveFrame(len, len, ts, 1),
      src,
      dst,
      sport,
      dport,
      flags,
      payload,
    );
  };
  const t0 = performance.now();
  if (kind === "flows") {
    const clients = 5000;
    for (let i = 0; i < n; i++) {
      const c = 0x0a010000 + (i % clients) + 1; // 10.1.x.y
      const s = 0x5db8d800 + (i % 64); // 93.184.216.x
      const sport = 20000 + Math.floor(i / clients);
      await push(c, s, sport, 443, 0x02);
      await push(s, c, 443, sport, 0x12);
      await push(c, s, sport, 443, 0x10);
      await push(c, s, sport, 443, 0x18, 100);
    }
    await flush();
    print({
      ev: "rss",
      phase: "flows",
      flows: app.pipeline.flows.size,
      hosts: app.pipeline.hosts.size,
      seconds: (performance.now() - t0) / 1000,
      alerts: app.aggregator.counters.alerts,
      ...rss(),
    });
  } else {
    const target = 0x0a010001; // 10.1.0.1
    const marks = new Set([100_000, 500_000, 1_000_000, 2_000_000, n]);
    for (let i = 1; i <= n; i++) {
      // Distinct public sources: an odd multiplier is a bijection mod 2^24.
      const src = 0x0b000000 + ((i * 2654435761) % 0x1000000);
      await push(src >>> 0, target, 1024 + (i % 60000), 80, 0x02);
      if (marks.has(i)) {
        await flush();
        print({
          ev: "rss",
          phase: "flood",
          sources: i,
          flows: app.pipeline.flows.size,
          hosts: app.pipeline.hosts.size,
          seconds: (performance.now() - t0) / 1000,
          alerts: app.aggregator.counters.alerts,
          ...rss(),
        });
      }
    }
  }
  await app.stop();
}

async function main(args: string[]): Promise<void> {
  const [mode, dataDir, kind, n] = args;
  if (mode === "live" && dataDir) await live(dataDir);
  else if (mode === "memory" && dataDir && kind && n) {
    await memory(dataDir, kind, Number(n));
  } else {
    throw new Error(
      "Usage: _appliance_child.ts live DIR | memory DIR flows|flood N",
    );
  }
}

if (import.meta.main) await main(Deno.args);
