/**
 * `live` section: the rate `main.ts run` takes from a veth without drops.
 *
 * Two namespaces joined by a veth (tests/netns.ts); `run` captures on side
 * A (blocking in dry-run, so an alert does not change the receive path
 * between steps) while the in-namespace agent polls the dashboard's
 * `/api/stats` (signed in) every {@link POLL_MS} ms. Side B sends at a
 * stepped rate: the frames of the bench's mixed capture (web, TLS, DNS,
 * bulk; thousands of hosts and flows) round and round with
 * bench/_replay_sender.ts, then one step of 60-byte UDP frames of one flow
 * flat out with bench/live_capture_rate.ts's sender. Side A drops every
 * frame at its netdev ingress hook, after the capture tap and before IP
 * (as a mirror port's frames are not for the host): the capture sees them
 * all, the receive path is cheap, and the sender, which shares the two
 * cores, goes faster. Each step reads `/metrics` before and after (frames
 * the pipeline saw; kernel, interface and pipeline-queue drops); stepping
 * stops at the first step with drops. Then `run` is stopped and `tcpdump -i
 * VETH -w /dev/null` (same 8 MiB kernel buffer) takes the same steps alone:
 * the reference, with the drop count from its exit summary.
 *
 * @module
 */
import { createVethPair, type VethPair } from "../tests/netns.ts";
import { type BenchRow, largeCapture } from "./bench.ts";
import {
  ApplianceProcess,
  benchConfig,
  benchDataDir,
  DASH_URL,
  type NsAgent,
  quantile,
  say,
  signedInAgent,
  wall,
} from "./_netns_bench.ts";

const UDP_SENDER = new URL("./live_capture_rate.ts", import.meta.url).pathname;
const MIXED_SENDER = new URL("./_replay_sender.ts", import.meta.url).pathname;
/** Frames of the mixed capture the sender loads and sends round and round. */
const MIXED_FRAMES = 262_144;
/** Interval of the dashboard poller, ms. */
const POLL_MS = 20;
const dec = new TextDecoder();

/** What one step of the flood measured. */
interface Step {
  target: number;
  sent: number;
  ifRx: number;
  seen: number;
  kernel: number;
  iface: number;
  pipeline: number;
  /** ms from the sender's exit until the pipeline count stopped moving. */
  lag: number;
  lat: number[];
}

async function ifaceCounters(
  ns: string,
  iface: string,
): Promise<{ rx: number; dropped: number }> {
  const out = await new Deno.Command("ip", {
    args: ["-n", ns, "-s", "-j", "link", "show", iface],
    stdout: "piped",
  }).output();
  const parsed: unknown = JSON.parse(dec.decode(out.stdout));
  const first: unknown = Array.isArray(parsed) ? parsed[0] : null;
  if (typeof first === "object" && first !== null && "stats64" in first) {
    const s = first.stats64;
    if (typeof s === "object" && s !== null && "rx" in s) {
      const rx = s.rx;
      if (
        typeof rx === "object" && rx !== null && "packets" in rx &&
        "dropped" in rx && typeof rx.packets === "number" &&
        typeof rx.dropped === "number"
      ) {
        return { rx: rx.packets, dropped: rx.dropped };
      }
    }
  }
  throw new Error(`Cannot read the counters of "${iface}" in "${ns}"`);
}

/** What side B sends: the bench's mixed capture, or one 60-byte UDP frame. */
type Traffic = { kind: "mixed"; path: string } | { kind: "udp" };

/** Sends `traffic` from side B at `rate`/s (0: flat out) for `seconds`; resolves to frames sent. */
async function flood(
  pair: VethPair,
  traffic: Traffic,
  rate: number,
  seconds: number,
): Promise<number> {
  const args = traffic.kind === "mixed"
    ? [
      MIXED_SENDER,
      pair.b.iface,
      traffic.path,
      String(MIXED_FRAMES),
      String(rate),
      String(seconds),
    ]
    : [
      UDP_SENDER,
      "send",
      "raw",
      pair.b.iface,
      pair.b.mac,
      pair.a.mac,
      pair.b.ip,
      pair.a.ip,
      String(rate),
      String(seconds),
    ];
  const out = await pair.exec(pair.b, [
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-read",
    ...args,
  ]);
  if (!out.success) {
    throw new Error(`The sender failed: ${dec.decode(out.stderr)}`);
  }
  const r: unknown = JSON.parse(dec.decode(out.stdout));
  if (typeof r !== "object" || r === null || !("sent" in r)) {
    throw new Error("The sender printed no count");
  }
  return Number(r.sent);
}

const K = 'netsentinel_capture_drops_total{where="kernel"}';
const I = 'netsentinel_capture_drops_total{where="interface"}';
const P = 'netsentinel_capture_drops_total{where="pipeline"}';
const PK = "netsentinel_packets_total";

async function step(
  pair: VethPair,
  agent: NsAgent,
  traffic: Traffic,
  rate: number,
  seconds: number,
): Promise<Step> {
  const m0 = await agent.metrics();
  const if0 = await ifaceCounters(pair.a.ns, pair.a.iface);
  const polling = agent.request("poll", {
    url: `${DASH_URL}/api/stats`,
    ms: seconds * 1000,
    everyMs: POLL_MS,
  });
  const sent = await flood(pair, traffic, rate, seconds);
  const end = wall();
  const if1 = await ifaceCounters(pair.a.ns, pair.a.iface);
  // Caught up: the pipeline has counted every frame the interface took in
  // (its own outgoing frames only add to its count). Then wait for the
  // kernel counters, which the capture worker refreshes once a second.
  // With drops it never gets there: then the count stops moving (300 ms).
  let lag = Infinity, last = -1, lastMove = end;
  const until = end + 30_000;
  while (wall() < until) {
    const n = (await agent.metrics()).get(PK) ?? 0;
    if (n - (m0.get(PK) ?? 0) >= if1.rx - if0.rx) {
      lag = wall() - end;
      break;
    }
    if (n !== last) {
      last = n;
      lastMove = wall();
    } else if (wall() - lastMove >= 300) {
      lag = lastMove - end;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const settle = end + 1500 - wall();
  if (settle > 0) await new Promise((r) => setTimeout(r, settle));
  const m1 = await agent.metrics();
  const { lat } = await polling as { lat: number[] };
  const d = (k: string) => (m1.get(k) ?? 0) - (m0.get(k) ?? 0);
  return {
    target: rate,
    sent,
    ifRx: if1.rx - if0.rx,
    seen: d(PK),
    kernel: d(K),
    iface: d(I) + (if1.dropped - if0.dropped),
    pipeline: d(P),
    lag,
    lat,
  };
}

/** tcpdump alone on side A at `rate`: what it captured and dropped. */
async function tcpdumpStep(
  pair: VethPair,
  traffic: Traffic,
  rate: number,
  seconds: number,
): Promise<{ captured: number; dropped: number; sent: number }> {
  const td = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      pair.a.ns,
      "tcpdump",
      "-i",
      pair.a.iface,
      "-n",
      "-B",
      "8192",
      "-w",
      "/dev/null",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const reader = td.stderr.getReader();
  const until = Date.now() + 10_000;
  while (!err.includes("listening on") && Date.now() < until) {
    const r = await reader.read();
    if (r.done) break;
    err += dec.decode(r.value, { stream: true });
  }
  if (!err.includes("listening on")) {
    td.kill("SIGKILL");
    await td.status;
    throw new Error(`tcpdump did not start: ${err}`);
  }
  let sent = 0;
  try {
    sent = await flood(pair, traffic, rate, seconds);
    // Let it drain its buffer before it prints the summary.
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    td.kill("SIGINT");
  }
  while (true) {
    const r = await reader.read();
    if (r.done) break;
    err += dec.decode(r.value, { stream: true });
  }
  await td.status;
  const num = (re: RegExp) => Number(re.exec(err)?.[1] ?? NaN);
  return {
    captured: num(/(\d+) packets? captured/),
    dropped: num(/(\d+) packets? dropped by kernel/),
    sent,
  };
}

function rateName(r: number): string {
  return r === 0 ? "max" : `${r / 1000}k/s`;
}

const dropsOf = (s: Step) => s.kernel + s.iface + s.pipeline;

function logStep(what: string, s: Step): void {
  say(
    `bench: live ${what} ${
      rateName(s.target)
    }: sent ${s.sent}, iface rx ${s.ifRx}, run saw ${s.seen}, drops kernel ${s.kernel} iface ${s.iface} pipeline ${s.pipeline}, caught up ${
      s.lag.toFixed(0)
    } ms after the sender, /api/stats p50 ${
      quantile(s.lat, 0.5).toFixed(1)
    } p99 ${quantile(s.lat, 0.99).toFixed(1)} ms`,
  );
}

/** Drops every frame at side A's netdev ingress hook (after the capture tap). */
async function dropAtIngress(pair: VethPair): Promise<void> {
  for (
    const cmd of [
      ["nft", "add", "table", "netdev", "nsbench"],
      ["nft", "add", "chain", "netdev", "nsbench", "in"].concat(
        `{ type filter hook ingress device "${pair.a.iface}" priority 0; policy drop; }`,
      ),
    ]
  ) {
    const out = await pair.exec(pair.a, cmd);
    if (!out.success) {
      throw new Error(
        `Command failed: "${cmd.join(" ")}": ${dec.decode(out.stderr)}`,
      );
    }
  }
}

/** Live capture rate of `run` with the dashboard polled, beside tcpdump. */
export async function liveBench(quick: boolean): Promise<BenchRow[]> {
  const seconds = quick ? 2 : 4;
  const rates = quick ? [100_000, 200_000, 300_000, 400_000, 0] : [
    100_000,
    150_000,
    200_000,
    250_000,
    300_000,
    350_000,
    400_000,
    500_000,
    0,
  ];
  const mixed: Traffic = {
    kind: "mixed",
    path: (await largeCapture(quick ? 200_000 : 1_000_000)).path,
  };
  await using pair = await createVethPair();
  await dropAtIngress(pair);
  const steps: Step[] = [];
  let udp: Step;
  let idle: number[] = [];
  {
    await using data = await benchDataDir(
      benchConfig(pair.a.iface, { blocking: { dry_run: true } }),
    );
    await using app = ApplianceProcess.run(pair.a.ns, data.dir);
    await using agent = await signedInAgent(pair.a.ns, app);
    const until = Date.now() + 30_000;
    while (true) {
      const h = await agent.get("/health");
      if (/"capture":\{"state":"up"/.test(h.body)) break;
      if (Date.now() > until) {
        throw new Error(`Capture is not up: ${h.body.slice(0, 500)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    idle = (await agent.request("poll", {
      url: `${DASH_URL}/api/stats`,
      ms: seconds * 1000,
      everyMs: POLL_MS,
    })).lat as number[];
    for (const rate of rates) {
      const s = await step(pair, agent, mixed, rate, seconds);
      steps.push(s);
      logStep("mixed", s);
      if (dropsOf(s) > 0) break;
    }
    udp = await step(pair, agent, { kind: "udp" }, 0, seconds);
    logStep("udp flood", udp);
  }
  const okIdx = steps.findLastIndex((s) => dropsOf(s) === 0);
  const ok = okIdx >= 0 ? steps[okIdx]! : null;
  const bad = steps.find((s) => dropsOf(s) > 0) ?? null;
  const ref = async (t: Traffic, s: Step | null) => {
    if (s === null) return null;
    const r = await tcpdumpStep(pair, t, s.target, seconds);
    say(
      `bench: live tcpdump ${t.kind} ${
        rateName(s.target)
      }: sent ${r.sent}, captured ${r.captured}, dropped ${r.dropped}`,
    );
    return r;
  };
  const refOk = await ref(mixed, ok);
  const refBad = await ref(mixed, bad);
  const refUdp = await ref({ kind: "udp" }, udp);
  const rows: BenchRow[] = [];
  const per = (n: number) => `${Math.round(n / seconds / 1000)}k/s`;
  if (ok) {
    rows.push({
      section: "live",
      metric: `mixed traffic: run sees, 0 drops, step ${
        rateName(ok.target)
      } (${seconds} s)`,
      value: ok.seen / seconds,
      unit: "pkts/s",
      reference: `tcpdump -i veth -w /dev/null, same step, ${
        refOk?.dropped ?? "?"
      } dropped`,
      referenceValue: refOk ? refOk.captured / seconds : undefined,
      note: `sent ${per(ok.sent)}; all counted ${
        ok.lag.toFixed(0)
      } ms after the sender stopped`,
    });
  }
  if (bad) {
    rows.push({
      section: "live",
      metric: `mixed traffic: drops at the next step, ${
        rateName(bad.target)
      } (${seconds} s)`,
      value: dropsOf(bad),
      unit: "pkts",
      reference: `tcpdump drops, same step (it captured ${
        refBad ? per(refBad.captured) : "?"
      })`,
      referenceValue: refBad?.dropped,
      note: `sent ${per(bad.sent)}, run saw ${
        per(bad.seen)
      } (kernel ${bad.kernel}, pipeline queue ${bad.pipeline}, iface ${bad.iface})`,
    });
  } else {
    rows.push({
      section: "live",
      metric: "mixed traffic: drops at the next step",
      value: NaN,
      unit: "pkts",
      note: "no step dropped: the sender's top rate is the limit",
    });
  }
  rows.push({
    section: "live",
    metric: `60-byte UDP flood, sender flat out: run sees (drops ${
      dropsOf(udp)
    })`,
    value: udp.seen / seconds,
    unit: "pkts/s",
    reference: `tcpdump alone, same, ${refUdp?.dropped ?? "?"} dropped`,
    referenceValue: refUdp ? refUdp.captured / seconds : undefined,
    note: `sent ${per(udp.sent)} (one flow)`,
  });
  const at = ok ?? steps[0]!;
  const pooled = steps.filter((s) => dropsOf(s) === 0).flatMap((s) => s.lat);
  if (pooled.length === 0) pooled.push(...at.lat);
  const idleNote =
    `${POLL_MS} ms polling, n=${at.lat.length} (idle n=${idle.length})`;
  rows.push({
    section: "live",
    metric: `/api/stats p50 while run sees ${per(at.seen)}`,
    value: quantile(at.lat, 0.5),
    unit: "ms",
    reference: "p50 idle, same appliance",
    referenceValue: quantile(idle, 0.5),
    note: idleNote,
  });
  rows.push({
    section: "live",
    metric: `/api/stats p99 while run sees ${per(at.seen)}`,
    value: quantile(at.lat, 0.99),
    unit: "ms",
    reference: "p99 idle, same appliance",
    referenceValue: quantile(idle, 0.99),
    note: `${idleNote}; all 0-drop steps pooled: p99 ${
      quantile(pooled, 0.99).toFixed(1)
    }, max ${Math.max(...pooled).toFixed(0)} ms`,
  });
  return rows;
}
