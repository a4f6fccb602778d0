/**
 * `latency` section: how long from an attack packet to the alert on the
 * dashboard's `/ws/live`, and from the alert to the attacker's address in
 * nftables.
 *
 * The appliance (bench/_appliance_child.ts `live`: `run`'s parts, plus a
 * line on stdout with the wall time each new alert is raised) captures on
 * side A of a veth; blocking is on (port scans are blocked). The agent in
 * side A is signed in to `/ws/live` and runs `nft monitor`; the agent in
 * side B sends, per trial, 15 crafted SYNs to 15 closed ports of side A
 * from a fresh address of side B's subnet (side A's kernel answers each
 * with a RST), the port-scan threshold. A trial's times, all wall clock:
 * the last SYN's send, the alert raised, the alert message on the
 * WebSocket, the `add element` event of `nft monitor` for that address.
 * Trials start at random moments (0 to 1 s apart), so they sample every
 * phase of the appliance's once-a-second KV commit.
 *
 * References, same run and namespaces: `ping` round trips over the same
 * veth for the first figure, and `nft add element` into a set of a bench
 * table, spawned inside side A, for the second.
 *
 * @module
 */
import { createVethPair } from "../tests/netns.ts";
import type { BenchRow } from "./bench.ts";
import {
  type AgentEvent,
  ApplianceProcess,
  benchConfig,
  benchDataDir,
  DASH_URL,
  NsAgent,
  quantile,
  say,
  signedInAgent,
} from "./_netns_bench.ts";

const CHILD = new URL("./_appliance_child.ts", import.meta.url).pathname;
const SCAN_PORTS = 15;

interface Trial {
  send: number;
  raised: number;
  ws: number;
  nft: number;
}

/** Blocker state as the child prints it on exit. */
interface BlockerLatency {
  p50: number | null;
  p99: number | null;
  samples: number;
}

function within<T>(p: Promise<T | null>, what: string): Promise<T> {
  return p.then((v) => {
    if (v === null) throw new Error(`Timed out waiting for ${what}`);
    return v;
  });
}

/** Packet → alert on /ws/live and alert → nft element, beside ping and nft add. */
export async function latencyBench(quick: boolean): Promise<BenchRow[]> {
  const trials = quick ? 8 : 30;
  await using pair = await createVethPair();
  const prefix = pair.a.ip.slice(0, pair.a.ip.lastIndexOf(".") + 1);
  const srcOf = (i: number) => `${prefix}${20 + i}`;
  // Side A answers the spoofed sources without ARP.
  for (let i = 0; i <= trials; i++) {
    const out = await new Deno.Command("ip", {
      args: [
        "-n",
        pair.a.ns,
        "neigh",
        "replace",
        srcOf(i),
        "lladdr",
        pair.b.mac,
        "dev",
        pair.a.iface,
        "nud",
        "permanent",
      ],
    }).output();
    if (!out.success) throw new Error(`Cannot add a neighbour ${srcOf(i)}`);
  }
  await using data = await benchDataDir(
    benchConfig(pair.a.iface, {
      blocking: { max_blocks_per_minute: 10_000 },
    }),
  );
  const raised: AgentEvent[] = [];
  let blocker: BlockerLatency | null = null;
  const app = ApplianceProcess.spawn(pair.a.ns, [CHILD, "live", data.dir], {
    onLine: (line) => {
      const e = JSON.parse(line) as AgentEvent & { state?: unknown };
      if (e.ev === "alert") raised.push(e);
      if (e.ev === "blocker") {
        blocker = (e.state as { latency_ms: BlockerLatency }).latency_ms;
      }
    },
  });
  const results: Trial[] = [];
  let ping: number[] = [];
  const nftAdd: number[] = [];
  try {
    await using a = await signedInAgent(pair.a.ns, app);
    await using b = NsAgent.start(pair.b.ns);
    const until = Date.now() + 30_000;
    while (!/"capture":\{"state":"up"/.test((await a.get("/health")).body)) {
      if (Date.now() > until) throw new Error("Capture is not up");
      await new Promise((r) => setTimeout(r, 50));
    }
    await a.request("ws", { url: DASH_URL });
    await a.request("monitor");
    await b.request("raw", {
      iface: pair.b.iface,
      srcMac: pair.b.mac,
      dstMac: pair.a.mac,
    });
    // Trial 0 warms the path up and is not counted.
    for (let i = 0; i <= trials; i++) {
      const src = srcOf(i);
      const ports = Array.from({ length: SCAN_PORTS }, (_, k) => 2000 + k);
      // A random phase against the appliance's 1 s timers (KV commits),
      // or every trial would start right after the previous commit.
      await new Promise((r) => setTimeout(r, Math.random() * 1000));
      const mark = a.events.length;
      const sent = await b.request("syns", {
        src,
        dst: pair.a.ip,
        sport: 40000 + i,
        ports,
      });
      const ws = await within(
        a.waitEvent(
          (e) => e.ev === "alert" && e.src === src && e.type === "port_scan",
          15_000,
          mark,
        ),
        `the port_scan alert of ${src} on /ws/live`,
      );
      const nft = await within(
        a.waitEvent(
          (e) =>
            e.ev === "nft" && typeof e.line === "string" &&
            new RegExp(`[{ ,]${src.replaceAll(".", "\\.")}[ ,}]`).test(e.line),
          15_000,
          mark,
        ),
        `${src} in nftables`,
      );
      const r = raised.find((e) => e.src === src && e.type === "port_scan");
      if (r === undefined) throw new Error(`No alert raised for ${src}`);
      const t: Trial = {
        send: sent.t as number,
        raised: r.t,
        ws: ws.t,
        nft: nft.t,
      };
      if (i > 0) results.push(t);
      say(
        `bench: latency trial ${i}: raised +${
          (t.raised - t.send).toFixed(1)
        }, /ws/live +${(t.ws - t.send).toFixed(1)}, nft element +${
          (t.nft - t.send).toFixed(1)
        } ms`,
      );
    }
    const out = await b.request("exec", {
      cmd: ["ping", "-n", "-c", String(trials * 2), "-i", "0.02", pair.a.ip],
    });
    ping = [...(out.stdout as string).matchAll(/time=([\d.]+) ms/g)].map((m) =>
      Number(m[1])
    );
    for (
      const cmd of [
        ["nft", "add", "table", "inet", "nsbench"],
        [
          "nft",
          "add",
          "set",
          "inet",
          "nsbench",
          "s4",
          "{ type ipv4_addr; flags timeout; }",
        ],
      ]
    ) {
      const r = await a.request("exec", { cmd });
      if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
    }
    for (let i = 0; i < trials; i++) {
      const r = await a.request("exec", {
        cmd: [
          "nft",
          "add",
          "element",
          "inet",
          "nsbench",
          "s4",
          `{ 198.18.0.${i + 1} timeout 1h }`,
        ],
      });
      if (r.code !== 0) throw new Error(`nft add element: ${r.stderr}`);
      nftAdd.push(r.ms as number);
    }
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${app.log.slice(-2000)}`);
  } finally {
    await app.stop();
  }
  const d = (f: (t: Trial) => number) => results.map(f);
  const toWs = d((t) => t.ws - t.send);
  const toRaised = d((t) => t.raised - t.send);
  const raisedToWs = d((t) => t.ws - t.raised);
  const toNft = d((t) => t.nft - t.raised);
  const q = (xs: number[], p: number) => quantile(xs, p).toFixed(1);
  const own = blocker as BlockerLatency | null;
  const n = `n=${results.length}`;
  return [
    {
      section: "latency",
      metric: "packet sent → alert on /ws/live, p50",
      value: quantile(toWs, 0.5),
      unit: "ms",
      reference: `ping RTT p50, same veth, n=${ping.length}`,
      referenceValue: quantile(ping, 0.5),
      note: `${n}; alert raised +${q(toRaised, 0.5)} ms, then +${
        q(raisedToWs, 0.5)
      } ms to the socket (KV commit, watch)`,
    },
    {
      section: "latency",
      metric: "packet sent → alert on /ws/live, p99",
      value: quantile(toWs, 0.99),
      unit: "ms",
      reference: "ping RTT p99",
      referenceValue: quantile(ping, 0.99),
      note: `${n}; alert raised p99 +${q(toRaised, 0.99)} ms`,
    },
    {
      section: "latency",
      metric: "alert raised → nftables element (nft monitor), p50",
      value: quantile(toNft, 0.5),
      unit: "ms",
      reference: `nft add element alone p50, n=${nftAdd.length}`,
      referenceValue: quantile(nftAdd, 0.5),
      note: `${n}; blocker's own alert → nft done p50 ${
        own?.p50?.toFixed(1) ?? "-"
      } ms`,
    },
    {
      section: "latency",
      metric: "alert raised → nftables element (nft monitor), p99",
      value: quantile(toNft, 0.99),
      unit: "ms",
      reference: "nft add element alone p99",
      referenceValue: quantile(nftAdd, 0.99),
      note: `${n}; blocker's own p99 ${own?.p99?.toFixed(1) ?? "-"} ms`,
    },
  ];
}
