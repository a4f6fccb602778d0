import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runCli } from "../cli/_testing.ts";
import { analyzeFiles } from "../cli/analyze.ts";
import { readCaptureFile } from "../capture/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { formatAddr } from "../decode/mod.ts";
import type { Alert } from "../alerts/mod.ts";
import {
  AlertPcaps,
  FIRST_PER_FLOW,
  LAST_PER_FLOW,
  MAX_FLOWS_PER_ALERT,
  PacketRing,
} from "./mod.ts";

const FIXTURES = fileURLToPath(new URL("../tests/fixtures/", import.meta.url));
const CI = Deno.env.get("CI") === "true";

async function hasTool(name: string): Promise<boolean> {
  try {
    const r = await new Deno.Command(name, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}
const noTcpdump = !CI &&
  !(await hasTool("tcpdump") && await hasTool("tshark"));

/** How many packets Wireshark's tshark reads in `file` (fails on a broken file). */
async function tsharkCount(file: string): Promise<number> {
  const r = await new Deno.Command("tshark", {
    args: ["-n", "-r", file, "-T", "fields", "-e", "frame.number"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(
    r.success,
    `tshark -r ${file}: ${new TextDecoder().decode(r.stderr)}`,
  );
  return new TextDecoder().decode(r.stdout).trim().split("\n").length;
}

/** Every attack fixture: the ones not recorded as normal traffic. */
async function attackFixtures(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(FIXTURES)) {
    if (e.isFile && e.name.endsWith(".pcap") && !e.name.startsWith("benign")) {
      out.push(FIXTURES + e.name);
    }
  }
  return out.sort();
}

/** The packets tcpdump reads in `file`: their two addresses; throws when it fails. */
async function tcpdumpAddrs(file: string): Promise<[string, string][]> {
  const r = await new Deno.Command("tcpdump", {
    args: ["-nr", file, "-q", "-t"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  assert.ok(r.success, `tcpdump -r ${file} failed: ${err}`);
  assert.doesNotMatch(err, /truncated|bogus|invalid/i, file);
  const out: [string, string][] = [];
  for (const line of new TextDecoder().decode(r.stdout).split("\n")) {
    if (line === "") continue;
    const m = /^(IP6?) (\S+) > (\S+?):/.exec(line);
    assert.ok(m, `${file}: not an IP packet: ${line}`);
    const strip = (t: string) => {
      // IPv4 "a.b.c.d.port", IPv6 "x::y.port": drop the port when present.
      if (m[1] === "IP") return t.split(".").slice(0, 4).join(".");
      const dot = t.lastIndexOf(".");
      return dot < 0 ? t : t.slice(0, dot);
    };
    out.push([strip(m[2]!), strip(m[3]!)]);
  }
  return out;
}

Deno.test({
  name:
    "analyze --pcap-dir writes, for every attack fixture's alerts, a pcap tcpdump and Wireshark's tshark read, holding only packets between the alert's source and its target (or of its source's probes)" +
    (noTcpdump ? " (skipped: tcpdump or tshark not installed)" : ""),
  ignore: noTcpdump,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ns-pcaps-" });
    try {
      const files = await attackFixtures();
      const r = await runCli([
        "analyze",
        "--pcap-dir",
        dir,
        ...files,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const alerts = r.stdout.trim().split("\n").map((l) =>
        JSON.parse(l) as Alert
      );
      assert.ok(alerts.length >= files.length, "every fixture raises alerts");
      const written = new Set<string>();
      for await (const e of Deno.readDir(dir)) written.add(e.name);
      let checked = 0;
      const types = new Set<string>();
      for (const a of alerts) {
        const name = `${a.netsentinel.id}.pcap`;
        if (!written.has(name)) {
          // Only link-layer alerts may have no IP packets behind them.
          assert.ok(
            ["arp_spoof", "nd_spoof", "rogue_ra", "rogue_dhcp"].includes(
              a.netsentinel.type,
            ) || a.src_ip === undefined,
            `no pcap for ${a.netsentinel.type} ${a.src_ip} > ${a.dest_ip}`,
          );
          continue;
        }
        const pkts = await tcpdumpAddrs(`${dir}/${name}`);
        assert.ok(pkts.length > 0, name);
        // Wireshark reads it too, every packet.
        assert.equal(await tsharkCount(`${dir}/${name}`), pkts.length, name);
        for (const [s, d] of pkts) {
          const ok = a.dest_ip === undefined
            ? s === a.src_ip || d === a.src_ip
            : (s === a.src_ip && d === a.dest_ip) ||
              (s === a.dest_ip && d === a.src_ip);
          assert.ok(
            ok,
            `${a.netsentinel.type} ${a.src_ip} > ${a.dest_ip}: packet ${s} > ${d}`,
          );
        }
        checked++;
        types.add(a.netsentinel.type);
      }
      for (
        const t of [
          "port_scan",
          "host_sweep",
          "brute_force",
          "syn_flood",
          "dns_tunnel",
        ]
      ) {
        assert.ok(types.has(t), `a pcap of a ${t} alert was checked`);
      }
      assert.ok(checked >= files.length, `${checked} pcaps checked`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Alerts of `file` with the ring that saw its packets. */
async function alertsWithRing(
  file: string,
  ringBytes?: number,
): Promise<{ alerts: Alert[]; ring: PacketRing }> {
  const ring = new PacketRing(ringBytes);
  const pipeline = new Pipeline({ observers: [ring] });
  for await (const b of readCaptureFile(file)) pipeline.processBatch(b);
  pipeline.finish();
  const alerts: Alert[] = [];
  await analyzeFiles([file], {
    events: new Set(["alert"]),
    sink: (r) => alerts.push(r as unknown as Alert),
  });
  return { alerts, ring };
}

Deno.test("a scan's pcap holds a sample of its probes: at most 200 flows, each with at most its first and last 32 packets", async () => {
  const { alerts, ring } = await alertsWithRing(FIXTURES + "scan_syn.pcap");
  const scan = alerts.find((a) => a.netsentinel.type === "port_scan")!;
  assert.ok(scan);
  const got = ring.select(scan)!;
  assert.equal(got.flows, MAX_FLOWS_PER_ALERT);
  assert.ok(got.frames.length >= MAX_FLOWS_PER_ALERT);
  assert.ok(
    got.frames.length <= MAX_FLOWS_PER_ALERT * (FIRST_PER_FLOW + LAST_PER_FLOW),
  );
  for (let i = 1; i < got.frames.length; i++) {
    assert.ok(got.frames[i]!.tsUs >= got.frames[i - 1]!.tsUs, "time order");
  }
});

Deno.test("a long flow keeps its first 32 and last 32 packets only, the ring stays within its memory, and the oldest flows are evicted for room", async () => {
  const { alerts, ring } = await alertsWithRing(FIXTURES + "exfil_upload.pcap");
  const a = alerts.find((x) => x.netsentinel.type === "exfiltration")!;
  assert.ok(a, "exfil_upload raises exfiltration");
  const got = ring.select(a)!;
  // One upload flow of many packets: 64 kept.
  assert.ok(got.frames.length <= got.flows * 64, `${got.frames.length}`);
  assert.ok(got.frames.length >= 64);
  // A tiny ring (64 slots) under a scan: evicts, never holds more.
  const small = await alertsWithRing(FIXTURES + "scan_syn.pcap", 1);
  assert.equal(small.ring.slots, 64);
  assert.ok(small.ring.counters.evicted > 0);
  const scan = small.alerts.find((x) => x.netsentinel.type === "port_scan")!;
  const sel = small.ring.select(scan);
  assert.ok(sel === null || sel.frames.length <= 64);
});

Deno.test("an alert's pcap holds exactly the first 32 and the last 32 packets of each of its flows", async () => {
  const file = FIXTURES + "exfil_upload.pcap";
  const ring = new PacketRing();
  // What every flow carried, in order: a recording observer beside the ring.
  const seen = new Map<number, { ts: number[]; a: string; b: string }>();
  const pipeline = new Pipeline({
    observers: [ring, {
      onPacket(p, ctx) {
        let r = seen.get(ctx.flow.id);
        if (r === undefined) {
          const f = ctx.flow;
          r = {
            ts: [],
            a: formatAddr(f.version, f.srcAddr),
            b: formatAddr(f.version, f.dstAddr),
          };
          seen.set(f.id, r);
        }
        r.ts.push(p.tsUs);
      },
    }],
  });
  for await (const b of readCaptureFile(file)) pipeline.processBatch(b);
  pipeline.finish();
  const alerts: Alert[] = [];
  await analyzeFiles([file], {
    events: new Set(["alert"]),
    sink: (r) => alerts.push(r as unknown as Alert),
  });
  const a = alerts.find((x) => x.netsentinel.type === "exfiltration")!;
  const got = ring.select(a)!;
  const expected: number[] = [];
  let flows = 0, long = 0;
  for (const r of seen.values()) {
    const pair = [r.a, r.b].sort().join(" ");
    if (pair !== [a.src_ip, a.dest_ip!].sort().join(" ")) continue;
    flows++;
    if (r.ts.length > 64) long++;
    expected.push(
      ...(r.ts.length <= 64
        ? r.ts
        : [...r.ts.slice(0, 32), ...r.ts.slice(-32)]),
    );
  }
  assert.ok(long > 0, "the upload is longer than 64 packets");
  assert.equal(got.flows, flows);
  assert.deepEqual(
    got.frames.map((f) => f.tsUs),
    expected.sort((x, y) => x - y),
  );
});

Deno.test("under a flood of alerts the pcap folder stays within its cap, the oldest files removed first, and a reopened folder keeps the cap", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-pcapcap-" });
  try {
    const { alerts, ring } = await alertsWithRing(
      FIXTURES + "brute_ssh.pcap",
    );
    const base = alerts.find((a) => a.netsentinel.type === "brute_force")!;
    const one = ring.select(base)!;
    let size = 24;
    for (const f of one.frames) size += 16 + f.data.length;
    const cap = size * 5 + 100; // room for five
    const errors: string[] = [];
    const store = await AlertPcaps.open(dir, cap, (m) => errors.push(m));
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `01M89X825QMPNY4FX7S0GP${String(i).padStart(4, "0")}`;
      ids.push(id);
      assert.ok(store.capture(
        { ...base, netsentinel: { ...base.netsentinel, id } },
        ring,
      ));
      if (i % 7 === 0) await store.flush();
    }
    await store.flush();
    assert.deepEqual(errors, []);
    let total = 0;
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      names.push(e.name);
      total += (await Deno.stat(`${dir}/${e.name}`)).size;
    }
    assert.ok(total <= cap, `${total} > ${cap}`);
    assert.deepEqual(names.sort(), ids.slice(-5).map((i) => `${i}.pcap`));
    assert.equal(store.path(ids[0]!), null);
    assert.equal(store.path(ids[39]!), `${dir}/${ids[39]}.pcap`);
    assert.ok(store.counters.removed >= 35);
    // Reopened with a smaller cap: the oldest go first.
    const again = await AlertPcaps.open(dir, size * 2 + 10, () => {});
    assert.equal(again.counters.files, 2);
    assert.notEqual(again.path(ids[39]!), null);
    assert.equal(again.path(ids[35]!), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a hostile alert id is refused, never turned into a path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-pcapid-" });
  try {
    const store = await AlertPcaps.open(dir, 1 << 20, () => {});
    for (
      const bad of [
        "../../etc/passwd",
        "",
        "01M89X825QMPNY4FX7S0GP2D1",
        "01M89X825QMPNY4FX7S0GP2D19/",
        "01m89x825qmpny4fx7s0gp2d19",
        "%2e%2e",
        "\u0000".repeat(26),
      ]
    ) {
      assert.throws(() => store.path(bad), RangeError, JSON.stringify(bad));
    }
    assert.equal(store.path("01M89X825QMPNY4FX7S0GP2D19"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
