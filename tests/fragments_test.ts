/**
 * IP fragments made by real tools in two namespaces, recorded by tcpdump and
 * analysed: `nmap -f` (every SYN cut into 8-byte fragments) raises the
 * port_scan naming the attacker only because defrag/ reassembles them (with
 * `defrag.enabled` off the same capture raises none), and `ping -s 3000`
 * over IPv4 and IPv6 (the kernel fragments the echo requests and replies;
 * `nmap -6 -f` is refused by nmap: "fragmentation [is] not supported with
 * IPv6") becomes one ICMP flow of whole packets each way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { analyzeFiles } from "../cli/analyze.ts";
import { readCaptureFile } from "../capture/mod.ts";
import type { DefragCounters } from "../defrag/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { EveRecord } from "../events/mod.ts";
import { mustRun, recordCapture, runCommand } from "./e2e/_lab.ts";
import { createVethPair } from "./netns.ts";

const TOOLS = ["ip", "tcpdump", "nmap", "ping"];

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces)";
  const missing: string[] = [];
  for (const t of TOOLS) {
    const r = await runCommand(["sh", "-c", `command -v ${t}`]);
    if (!r.success) missing.push(t);
  }
  return missing.length > 0
    ? `missing ${missing.join(", ")} (./run.sh setup test)`
    : null;
}

const why = await unavailable();
const ignore = why !== null && Deno.env.get("CI") !== "true";

async function analyze(
  file: string,
): Promise<{ records: EveRecord[]; defrag: DefragCounters }> {
  const records: EveRecord[] = [];
  const stats = await analyzeFiles([file], {
    events: new Set(["alert", "flow", "anomaly"]),
    sink: (r) => records.push(r),
  });
  const f = stats.files[0]!;
  assert.equal(f.error, null);
  return { records, defrag: { ...f.defrag } };
}

const typeOf = (r: EveRecord) =>
  (r.netsentinel as { type?: string } | undefined)?.type;

Deno.test({
  name:
    "nmap -f and ping -s 3000 (IPv4, IPv6) recorded in namespaces are reassembled: the fragmented scan raises port_scan naming the attacker" +
    (ignore ? ` (skipped: ${why})` : ""),
  ignore,
  async fn() {
    await using pair = await createVethPair();
    const dir = await Deno.makeTempDir({ prefix: "ns-frags-" });
    try {
      const v6 = { a: "fd55:f4a6::1", b: "fd55:f4a6::2" };
      for (const end of [pair.a, pair.b]) {
        const addr = end === pair.a ? v6.a : v6.b;
        await mustRun([
          "ip",
          "-n",
          end.ns,
          "-6",
          "addr",
          "add",
          `${addr}/64`,
          "dev",
          end.iface,
          "nodad",
        ]);
      }
      const a = (...cmd: string[]) =>
        mustRun(["ip", "netns", "exec", pair.a.ns, ...cmd]);
      // Both families answer before anything is recorded (a probe sent
      // while the link still comes up is lost, and nmap may not resend it).
      await a("ping", "-c", "1", "-W", "5", pair.b.ip);
      await a("ping", "-6", "-c", "1", "-W", "5", v6.b);
      const file = join(dir, "frags.pcap");
      const stop = await recordCapture(pair.b.ns, pair.b.iface, file);
      await a(
        "nmap",
        "-n",
        "-Pn",
        "-sS",
        "-f",
        "--max-rate",
        "1000",
        "-p",
        "1-100",
        pair.b.ip,
      );
      await a("ping", "-c", "3", "-i", "0.2", "-s", "3000", pair.b.ip);
      await a("ping", "-6", "-c", "3", "-i", "0.2", "-s", "3000", v6.b);
      await stop();

      // What tcpdump saw: fragments of both families.
      const text = await mustRun(["tcpdump", "-nr", file]);
      assert.match(text, /frag \(\d+\|\d+\)/, "IPv6 fragments");
      const v4frags = await mustRun([
        "tcpdump",
        "-nr",
        file,
        "ip[6:2] & 0x3fff != 0",
      ]);
      const n4 = v4frags.trim().split("\n").length;
      // 100 probes of 3 fragments; a loaded machine may lose a few frames
      // on the way to tcpdump, so the checks below allow for that.
      assert.ok(n4 >= 150, `${n4} IPv4 fragments`);

      const { records, defrag } = await analyze(file);
      const scans = records.filter((r) => typeOf(r) === "port_scan");
      assert.equal(scans.length, 1, JSON.stringify(scans));
      assert.equal(scans[0]!.src_ip, pair.a.ip);
      assert.equal(scans[0]!.dest_ip, pair.b.ip);
      assert.equal(
        (scans[0]!.netsentinel as { evidence: { scan_kind: string } }).evidence
          .scan_kind,
        "syn",
      );
      // nmap -f's first fragments are tiny (RFC 1858): one anomaly each.
      const tiny = records.filter((r) =>
        (r.anomaly as { event?: string } | undefined)?.event ===
          "decoder.ipv4.frag_tiny"
      );
      assert.ok(tiny.every((r) => r.src_ip === pair.a.ip));
      assert.equal(defrag.frag_overlap, 0);
      // Every datagram whose fragments were all recorded is reassembled.
      assert.ok(tiny.length >= 50, `${tiny.length} probes`);
      assert.ok(defrag.reassembled >= 56, JSON.stringify(defrag));
      assert.equal(defrag.dropped + defrag.evicted, 0);

      // The pings are one ICMP flow of whole packets: 3 echo requests of
      // 3000 + 8 bytes and their replies, so each way holds whole IP
      // packets (at least two, if a frame was lost to the capture; ICMPv6
      // flows also hold the neighbour discovery).
      for (
        const [x, y, proto, hdr] of [
          [pair.a.ip, pair.b.ip, "ICMP", 20],
          [v6.a, v6.b, "IPv6-ICMP", 40],
        ] as const
      ) {
        const flow = records.find((r) =>
          r.event_type === "flow" && r.proto === proto &&
          [x, y].includes(String(r.src_ip)) &&
          [x, y].includes(String(r.dest_ip))
        );
        assert.ok(flow, `${proto} flow`);
        const f = flow.flow as Record<string, number>;
        assert.ok(f.pkts_toserver! >= 2 && f.pkts_toclient! >= 2, proto);
        const whole = 2 * (3000 + 8 + hdr);
        assert.ok(
          f.bytes_toserver! >= whole && f.bytes_toclient! >= whole,
          `${proto}: ${JSON.stringify(f)}`,
        );
      }

      // Before defrag/ (or with it off) the same capture hides the scan.
      const seen = new Set<number>();
      const off = new Pipeline({
        defrag: false,
        observers: [{
          onPacket: (p) => {
            if (p.tcpFlags === 2) seen.add(p.dstPort);
          },
        }],
      });
      for await (const b of readCaptureFile(file)) off.processBatch(b);
      assert.equal(seen.size, 0, "no SYN is seen whole without reassembly");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
