/**
 * Measurements behind the figures in the storage and blocking docs (not a
 * test: prints figures). Needs root, iproute2 and nft; works in a throwaway
 * network namespace and a temporary data directory.
 *
 *   deno run -A respond/_measure.ts [SECONDS]
 *
 * 1. Alert → block latency: alerts one at a time (each its own nft
 *    transaction) and in bursts of 50 (one transaction); from `onAlert` to
 *    the nft transaction's end, and to the element being listed by a
 *    separate `nft list` poller.
 * 2. KV writes in steady state: a StoreWriter under a constant load of
 *    alerts, host updates and stats rollups; commits and mutations per
 *    second.
 *
 * @module
 */
import { makeAlert } from "../store/_testing.ts";
import { openStore, StoreWriter } from "../store/mod.ts";
import { Blocker } from "./blocker.ts";
import { Nft } from "./nft.ts";
import { parseBlockPolicy } from "./policy.ts";
import { tempNetns } from "./_testing.ts";

const out = new TextEncoder();
function say(s: string): void {
  Deno.stdout.writeSync(out.encode(s + "\n"));
}

function pct(xs: number[], q: number): string {
  const s = [...xs].sort((a, b) => a - b);
  const v = s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return v === undefined ? "-" : v.toFixed(1);
}

const seconds = Number(Deno.args[0] ?? 20);
const dir = await Deno.makeTempDir({ prefix: "ns-measure-" });
try {
  await using ns = await tempNetns();
  using store = await openStore(dir);
  const nft = new Nft({ command: ["ip", "netns", "exec", ns.name, "nft"] });

  // 1. Latency.
  await using blocker = new Blocker(store, {
    netns: ns.name,
    policy: parseBlockPolicy({ max_blocks_per_minute: 100_000 }),
  });
  await blocker.start();
  const single: number[] = [];
  const present: number[] = [];
  for (let i = 0; i < 200; i++) {
    const ip = `198.18.${i >> 8}.${(i & 255) + 0}`;
    const t0 = performance.now();
    blocker.onAlert(
      makeAlert(i, {
        src: ip,
        type: "brute_force",
        evidence: { confirmed_source: true },
      }),
      true,
    );
    // Poll the set as an outside observer would.
    while (true) {
      const els = await nft.listElements();
      if (els.some((e) => e.target === ip)) break;
    }
    present.push(performance.now() - t0);
    await blocker.idle();
  }
  const st1 = blocker.state();
  single.push(st1.latency_ms.p50 ?? NaN, st1.latency_ms.p99 ?? NaN);
  say(
    `alert → nft transaction done, one at a time (n=200): p50 ${st1.latency_ms.p50} ms, p99 ${st1.latency_ms.p99} ms`,
  );
  say(
    `alert → element listed by "nft list" (n=200, includes the poller's own nft runs): p50 ${
      pct(present, 0.5)
    } ms, p99 ${pct(present, 0.99)} ms`,
  );
  const bursts: number[] = [];
  for (let b = 0; b < 20; b++) {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) {
      const n = 1000 + b * 50 + i;
      blocker.onAlert(
        makeAlert(n, {
          src: `198.19.${n >> 8 & 255}.${n & 255}`,
          type: "brute_force",
          evidence: { confirmed_source: true },
        }),
        true,
      );
    }
    await blocker.idle();
    bursts.push(performance.now() - t0);
  }
  say(
    `burst of 50 alerts → all 50 in nftables and KV (n=20 bursts): p50 ${
      pct(bursts, 0.5)
    } ms, p99 ${pct(bursts, 0.99)} ms`,
  );
  const st2 = blocker.state();
  say(
    `all automatic blocks (n=${st2.latency_ms.samples}, last 1000): p50 ${st2.latency_ms.p50} ms, p99 ${st2.latency_ms.p99} ms`,
  );

  // 2. KV writes in steady state.
  const commitsAt: number[] = [];
  let mutations = 0;
  await using writer = new StoreWriter(store, {
    onCommit: (c) => {
      commitsAt.push(performance.now());
      mutations += c.mutations;
    },
  });
  const t0 = performance.now();
  let n = 10_000;
  while (performance.now() - t0 < seconds * 1000) {
    // Per 100 ms: 5 alerts (2 new, 3 updates), 20 host updates, one stats rollup.
    for (let i = 0; i < 2; i++) writer.queueAlert(makeAlert(n++), true);
    for (let i = 0; i < 3; i++) {
      writer.queueAlert(makeAlert(n - 1 - i, { count: n }), false);
    }
    for (let h = 0; h < 20; h++) {
      writer.queueHost({
        ip: `10.0.${h}.${n & 255}`,
        first_seen: "2026-11-24T14:00:00.000Z",
        last_seen: new Date().toISOString(),
        bytes: n * 100,
        packets: n,
      });
    }
    writer.queueStats("1m", Math.floor(Date.now() / 60_000) * 60_000, {
      packets: n * 1000,
      bytes: n * 80_000,
      by_proto: { TCP: n * 800, UDP: n * 150, ICMP: n * 50 },
      top_ports: Array.from(
        { length: 10 },
        (_, i) => ({ port: 1000 + i, packets: n }),
      ),
    });
    await new Promise((r) => setTimeout(r, 100));
  }
  await writer.flush();
  const elapsed = (performance.now() - t0) / 1000;
  const m = writer.metrics;
  say(
    `steady state over ${elapsed.toFixed(1)} s: ${m.commits} commits (${
      (m.commits / elapsed).toFixed(2)
    }/s), ${m.flushes} flushes, ${mutations} mutations (${
      (mutations / elapsed).toFixed(0)
    }/s), ${
      (m.bytes / elapsed / 1024).toFixed(1)
    } KiB/s, ${m.alerts} alert writes, ${m.hosts} host writes, ${m.stats} stats writes`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
