/**
 * Bench: the alert inbox (store/inbox.ts) over many alerts. 100,000 alerts
 * (20,000 with --quick) in 2,000 groups go through the real writer, which
 * keeps the group index as it commits; then
 *
 * - writing: alerts a second through the writer (alerts and their groups),
 *   beside the same alerts' own keys committed directly in batches of the
 *   same size (what the writer did before groups);
 * - the first inbox page (50 groups) read from the index, beside the
 *   existing alert list's first page (50 alerts) and beside grouping by
 *   reading every alert (what the index saves);
 * - a page filtered by source (4 groups of 50 alerts each), beside the alert
 *   list filtered by the same source (both read their by-source index).
 *
 * Reads are the median of several runs on a database just written (the
 * SQLite pages are cached: the best case of an SD card).
 *
 *   deno run -A bench/inbox.ts [--quick]   (or: deno task bench --only inbox)
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";
import {
  alertBySrcKey,
  alertByTimeKey,
  alertByTypeKey,
  alertKey,
  alertTimeMs,
  groupIdOf,
  listAlerts,
  listGroups,
  openStore,
  parseStoredAlert,
  StoreWriter,
} from "../store/mod.ts";
import type { BenchRow } from "./bench.ts";
import { printRows } from "./_print.ts";

const T0 = Date.UTC(2026, 10, 1);
const SOURCES = 500;
const TARGETS = 4;

function alertOf(n: number): Alert {
  const src = `10.${(n % SOURCES) >> 8}.${n % SOURCES & 255}.1`;
  const dst = `192.168.1.${1 + (Math.floor(n / SOURCES) % TARGETS)}`;
  const ts = new Date(T0 + n * 20_000).toISOString();
  const id = "01K" + String(n).padStart(23, "0");
  return {
    timestamp: ts,
    event_type: "alert",
    src_ip: src,
    src_port: 40000 + (n % 1000),
    dest_ip: dst,
    dest_port: 22,
    proto: "TCP",
    alert: {
      action: "allowed",
      signature_id: 1000001,
      rev: 1,
      signature: "TCP SYN (half-open) port scan",
      category: "Attempted Information Leak",
      severity: 2,
    },
    netsentinel: {
      id,
      type: "port_scan",
      count: 120,
      first_seen: ts,
      last_seen: ts,
      evidence: { distinct_ports: 120, window_s: 0.24 },
      explanation:
        `${src} probed 120 distinct TCP ports of ${dst} in 0.238 s (syn scan)`,
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeRuns(
  runs: number,
  fn: () => Promise<unknown>,
): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** The `inbox` bench section. */
export async function inboxBench(quick: boolean): Promise<BenchRow[]> {
  const n = quick ? 20_000 : 100_000;
  const batch = 2000;
  const dir = await Deno.makeTempDir({ prefix: "ns-bench-inbox-" });
  const refDir = await Deno.makeTempDir({ prefix: "ns-bench-inbox-ref-" });
  try {
    using store = await openStore(dir);
    using ref = await openStore(refDir);
    // Writing through the writer: alerts and their groups.
    const writer = new StoreWriter(store);
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) {
      for (let k = i; k < Math.min(n, i + batch); k++) {
        writer.queueAlert(alertOf(k), true);
      }
      await writer.flush();
    }
    const writeMs = performance.now() - t0;
    await writer.close();
    const groupErrors = writer.metrics.groupErrors;
    // Reference: the alerts' own keys, committed directly.
    const expireIn = ref.retention.alertMs;
    const r0 = performance.now();
    for (let i = 0; i < n; i += batch) {
      let atomic = ref.kv.atomic();
      let ops = 0;
      for (let k = i; k < Math.min(n, i + batch); k++) {
        const a = alertOf(k);
        const id = a.netsentinel.id;
        atomic.set(alertKey(id), a, { expireIn })
          .set(alertBySrcKey(a.src_ip, id), null, { expireIn })
          .set(alertByTypeKey(a.netsentinel.type, id), null, { expireIn })
          .set(alertByTimeKey(alertTimeMs(a), id), null, { expireIn });
        ops += 4;
        if (ops >= 800) {
          await atomic.commit();
          atomic = ref.kv.atomic();
          ops = 0;
        }
      }
      if (ops > 0) await atomic.commit();
    }
    const refMs = performance.now() - r0;

    const first = await listGroups(store, { view: "inbox", limit: 50 });
    if (first.groups.length !== 50) {
      throw new Error(`bench/inbox: ${first.groups.length} groups on a page`);
    }
    const runs = quick ? 5 : 15;
    const pageMs = await timeRuns(
      runs,
      () => listGroups(store, { view: "inbox", limit: 50 }),
    );
    const listMs = await timeRuns(runs, () => listAlerts(store, { limit: 50 }));
    // What the index saves: grouping by reading every alert.
    const s0 = performance.now();
    const byGroup = new Map<string, number>();
    for await (const e of store.kv.list({ prefix: ["alert"] })) {
      const a = parseStoredAlert(e.value);
      if (a === null) continue;
      const g = groupIdOf(a);
      byGroup.set(g, (byGroup.get(g) ?? 0) + 1);
    }
    const scanMs = performance.now() - s0;
    const src = alertOf(7).src_ip;
    const bySrc = await listGroups(store, { view: "all", src, limit: 50 });
    const srcMs = await timeRuns(
      runs,
      () => listGroups(store, { view: "all", src, limit: 50 }),
    );
    const alertsSrcMs = await timeRuns(
      runs,
      () => listAlerts(store, { src, limit: 50 }),
    );
    return [
      {
        section: "inbox",
        metric: `writing ${n.toLocaleString("en")} alerts with their groups`,
        value: n / (writeMs / 1000),
        unit: "alerts/s",
        reference: "the alerts' own keys alone",
        referenceValue: n / (refMs / 1000),
        note:
          `${byGroup.size} groups; batches of ${batch}; ${groupErrors} group errors`,
      },
      {
        section: "inbox",
        metric: "first inbox page (50 groups)",
        value: pageMs,
        unit: "ms",
        reference: "first alert list page (50 alerts)",
        referenceValue: listMs,
        note: `grouping by reading all ${n.toLocaleString("en")} alerts: ${
          scanMs.toFixed(0)
        } ms`,
      },
      {
        section: "inbox",
        metric: `groups of one source (${bySrc.groups.length})`,
        value: srcMs,
        unit: "ms",
        reference: "alerts of that source (50)",
        referenceValue: alertsSrcMs,
        note: "read from the by-source index",
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(refDir, { recursive: true });
  }
}

if (import.meta.main) {
  printRows(await inboxBench(Deno.args.includes("--quick")));
}
