import assert from "node:assert/strict";
import {
  BatchBuilder,
  type FrameBatch,
  readCaptureFile,
} from "../capture/mod.ts";
import {
  IPPROTO_UDP,
  LINKTYPE_RAW,
  newPacket,
  type Packet,
  TCP_SYN,
} from "../decode/mod.ts";
import type { Tunnel } from "../flows/mod.ts";
import {
  fragmentIpv4,
  ipv4Packet,
  tcpSegment,
} from "../tests/fragment_frames.ts";
import { protocolEvents } from "../events/mod.ts";
import { Pipeline } from "./mod.ts";

const PCAPS = new URL("../../shared/pcaps/", import.meta.url).pathname;

interface TsvRow {
  file: string;
  packets: number;
  linktype: string;
}

async function corpus(): Promise<TsvRow[]> {
  const text = await Deno.readTextFile(`${PCAPS}tcpdump-tests.tsv`);
  return text.trim().split("\n").slice(1).map((line) => {
    const [file, packets, linktype] = line.split("\t");
    return { file: file!, packets: Number(packets), linktype: linktype! };
  });
}

Deno.test("pipeline runs every tcpdump corpus capture end to end without an uncaught error", async () => {
  const rows = await corpus();
  assert.ok(rows.length >= 800, `corpus has ${rows.length} files`);
  const mismatches: string[] = [];
  let events = 0, flows = 0, decoded = 0;
  for (const row of rows) {
    const pipeline = new Pipeline({
      observers: [
        protocolEvents(
          new Set(["dns", "http", "tls", "flow", "anomaly"]),
          (rec) => {
            events++;
            // Every record must serialise: no cycles, no BigInt, no undefined ports.
            JSON.stringify(rec);
          },
        ),
      ],
    });
    const reader = readCaptureFile(`${PCAPS}tcpdump-tests/${row.file}`);
    for await (const batch of reader) pipeline.processBatch(batch);
    pipeline.finish();
    flows += pipeline.flows.counters.created;
    decoded += pipeline.counters.packets - pipeline.counters.decodeErrors;
    if (pipeline.counters.packets !== row.packets) {
      mismatches.push(
        `${row.file} (${row.linktype}): ${pipeline.counters.packets} != ${row.packets}`,
      );
    }
    assert.equal(
      pipeline.flows.size,
      0,
      `${row.file}: flows left after finish`,
    );
    assert.equal(
      pipeline.reassembler!.memUsed,
      0,
      `${row.file}: segments held after finish`,
    );
    assert.equal(
      pipeline.app!.connections,
      0,
      `${row.file}: app-layer connection state left after finish`,
    );
  }
  assert.deepEqual(mismatches, []);
  assert.ok(
    events > 500 && flows > 500 && decoded > 5_000,
    `${events} ${flows} ${decoded}`,
  );
});

Deno.test("pipeline counts protocols and decode faults of a mixed capture", async () => {
  const pipeline = new Pipeline();
  for await (const b of readCaptureFile(`${PCAPS}tcpdump-tests/dns_tcp.pcap`)) {
    pipeline.processBatch(b);
  }
  const c = pipeline.counters;
  assert.equal(c.packets, 11);
  assert.equal(c.tcp, 11);
  assert.equal(c.decodeErrors, 0);
  assert.equal(pipeline.flows.size, 1);
  pipeline.finish();
  assert.equal(pipeline.flows.size, 0);
  assert.equal(pipeline.hosts.size, 2);
});

Deno.test("pipeline with an expire budget ends a burst of timeouts over several ticks", async () => {
  const ended: string[] = [];
  const budgeted = new Pipeline({
    expireBudget: 2,
    observers: [{ onFlowEnd: (_f, reason) => ended.push(reason) }],
  });
  const whole = new Pipeline();
  for await (const b of readCaptureFile(`${PCAPS}tcpdump-tests/dns_tcp.pcap`)) {
    budgeted.processBatch(b);
    whole.processBatch(b);
  }
  // Five distinct UDP flows, all idle past their timeout by the tick.
  for (const p of [budgeted, whole]) {
    for (let i = 0; i < 5; i++) p.flows.update(udp(i, p.nowUs));
  }
  const later = budgeted.nowUs + 3600e6;
  whole.tick(later);
  budgeted.tick(later);
  assert.ok(budgeted.expiring);
  assert.equal(ended.length, 2);
  while (budgeted.expiring) budgeted.tick(later);
  assert.equal(budgeted.flows.size, whole.flows.size);
  assert.equal(budgeted.flows.size, 0);
  assert.equal(ended.length, 6);
});

function udp(i: number, tsUs: number): Packet {
  const p = newPacket();
  p.ipVersion = 4;
  p.proto = IPPROTO_UDP;
  p.src[0] = 0x0a000001 + i;
  p.dst[0] = 0x0a0000fe;
  p.srcPort = 5000;
  p.dstPort = 53;
  p.tsUs = tsUs;
  p.wirelen = 60;
  return p;
}

/** A batch of raw IP packets (link type RAW), 1 ms apart from `t0`. */
function rawBatch(
  packets: Uint8Array[],
  t0 = 1_700_000_000_000_000,
): FrameBatch {
  const b = new BatchBuilder(packets.length + 1, 1 << 20);
  packets.forEach((d, i) =>
    b.push(d, 0, d.length, d.length, t0 + i * 1000, LINKTYPE_RAW)
  );
  return b.take()!;
}

/** `nmap -f` in bytes: SYNs to `ports`, each cut into 8-byte fragments. */
function fragmentedScan(ports: number[]): Uint8Array[] {
  return ports.flatMap((port, i) =>
    fragmentIpv4(
      ipv4Packet(
        { src: "10.99.0.66", dst: "10.99.0.10", proto: 6, id: 100 + i },
        tcpSegment(45678, port, TCP_SYN),
      ),
      8,
    )
  );
}

Deno.test("pipeline reassembles fragments before flows: observers see the whole SYNs, anomalies by Suricata's names", () => {
  const seen: string[] = [];
  const anomalies: string[] = [];
  const pipeline = new Pipeline({
    observers: [{
      onPacket: (p) => seen.push(`${p.dstPort}:${p.tcpFlags}`),
      onAnomaly: (_p, event) => anomalies.push(event),
    }],
  });
  const ports = [21, 22, 23, 25, 80];
  pipeline.processBatch(rawBatch(fragmentedScan(ports)));
  assert.deepEqual(seen, ports.map((p) => `${p}:${TCP_SYN}`));
  assert.equal(pipeline.counters.packets, 15, "every frame counted");
  assert.equal(pipeline.counters.fragments, 10, "non-first fragments");
  assert.equal(pipeline.counters.tcp, 15);
  assert.equal(pipeline.flows.counters.created, 5);
  assert.equal(pipeline.defrag!.counters.reassembled, 5);
  assert.deepEqual(anomalies, new Array(5).fill("decoder.ipv4.frag_tiny"));
  const attacker = pipeline.hosts.get(4, Uint32Array.of(0x0a630042, 0, 0, 0));
  assert.equal(attacker?.pktsSent, 15, "hosts count the frames");

  // Without defragmentation the fragments stay unseen, as before.
  const off: string[] = [];
  const old = new Pipeline({
    defrag: false,
    observers: [{ onPacket: (p) => off.push(`${p.dstPort}`) }],
  });
  old.processBatch(rawBatch(fragmentedScan(ports)));
  assert.deepEqual(off, ["0", "0", "0", "0", "0"], "first fragments, no ports");
  assert.equal(old.counters.fragments, 10);
  assert.equal(old.defrag, null);
});

Deno.test("pipeline decodes a reassembled tunnel packet and counts its tunnel", () => {
  const inner = ipv4Packet(
    { src: "10.99.0.66", dst: "10.99.0.10", proto: 6, id: 1 },
    tcpSegment(40000, 443, TCP_SYN),
  );
  const outer = ipv4Packet(
    { src: "192.0.2.1", dst: "192.0.2.2", proto: 4, id: 2 },
    inner,
  );
  const tunnels: (Tunnel | null)[] = [];
  const pipeline = new Pipeline({
    observers: [{ onPacket: (_p, ctx) => tunnels.push(ctx.tunnel) }],
  });
  pipeline.processBatch(rawBatch(fragmentIpv4(outer, 16)));
  assert.equal(tunnels.length, 1);
  assert.deepEqual(tunnels[0], {
    src_ip: "192.0.2.1",
    dest_ip: "192.0.2.2",
    proto: "IPv4",
    depth: 1,
    type: "ipip",
  });
  assert.equal(pipeline.decode.tunnelSnapshot().ipip, 1);
  assert.ok(
    pipeline.hosts.get(4, Uint32Array.of(0x0a63000a, 0, 0, 0)),
    "inner host",
  );
});

Deno.test("EVE records of tunnelled traffic carry the tunnel object; anomalies are EVE anomaly records", () => {
  const records: Record<string, unknown>[] = [];
  const pipeline = new Pipeline({
    observers: [
      protocolEvents(
        new Set(["dns", "flow", "anomaly"]),
        (r) => records.push(r),
      ),
    ],
  });
  const query = new Uint8Array([
    0x12,
    0x34,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    3,
    0x77,
    0x77,
    0x77,
    4,
    0x74,
    0x65,
    0x73,
    0x74,
    0,
    0,
    1,
    0,
    1,
  ]);
  const udpDns = new Uint8Array([
    0x9c,
    0x40,
    0,
    53,
    0,
    8 + query.length,
    0,
    0,
    ...query,
  ]);
  const inner = ipv4Packet({
    src: "10.99.0.20",
    dst: "10.99.0.10",
    proto: 17,
    id: 3,
  }, udpDns);
  const outer = ipv4Packet({
    src: "192.0.2.1",
    dst: "192.0.2.2",
    proto: 4,
    id: 4,
  }, inner);
  pipeline.processBatch(rawBatch([outer, ...fragmentedScan([80]).slice(0, 1)]));
  pipeline.finish();
  const dns = records.find((r) => r.event_type === "dns")!;
  const tunnel = {
    src_ip: "192.0.2.1",
    dest_ip: "192.0.2.2",
    proto: "IPv4",
    depth: 1,
    type: "ipip",
  };
  assert.equal(dns.src_ip, "10.99.0.20");
  assert.deepEqual(dns.tunnel, tunnel);
  const flow = records.find((r) => r.event_type === "flow")!;
  assert.deepEqual(flow.tunnel, tunnel);
  const anomaly = records.find((r) => r.event_type === "anomaly")!;
  assert.equal(anomaly.src_ip, "10.99.0.66");
  assert.equal(anomaly.proto, "TCP");
  assert.deepEqual(anomaly.anomaly, {
    type: "decode",
    event: "decoder.ipv4.frag_tiny",
  });
});

Deno.test("pipeline hands observers reassembled stream bytes and app-layer records", async () => {
  const data: number[] = [0, 0];
  const kinds: string[] = [];
  let dnsAnswers = 0;
  const pipeline = new Pipeline({
    observers: [{
      onStreamData(_f, dir, _d, _off, len) {
        data[dir]! += len;
      },
      onApp(rec) {
        kinds.push(rec.kind === "http" ? `http ${rec.state}` : rec.kind);
        if (rec.kind === "dns") dnsAnswers += rec.answers.length;
      },
    }],
  });
  for (const f of ["ipv4_tcp_http_xml.pcap", "dns_tcp.pcap", "dns_udp.pcap"]) {
    for await (const b of readCaptureFile(`${PCAPS}tcpdump-tests/${f}`)) {
      pipeline.processBatch(b);
    }
  }
  pipeline.finish();
  assert.ok(data[0]! > 0 && data[1]! > 0, `${data}`);
  // The HTTP capture holds one response whose request was not captured.
  assert.ok(kinds.includes("http complete"), kinds.join(","));
  assert.equal(kinds.filter((k) => k === "dns").length, 4);
  assert.equal(dnsAnswers, 4);
  assert.equal(pipeline.reassembly!.bytes, data[0]! + data[1]!);
});

Deno.test("pipeline hands ARP frames to onLinkFrame with their MACs and IP packets to onPacket only", () => {
  const arp = new Uint8Array([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ...[0x02, 0x99, 0x0a, 0x63, 0x00, 0x42],
    0x08,
    0x06,
    ...[0, 1, 8, 0, 6, 4, 0, 1],
    ...[0x02, 0x99, 0x0a, 0x63, 0x00, 0x42, 10, 99, 0, 66],
    ...[0, 0, 0, 0, 0, 0, 10, 99, 0, 1],
  ]);
  const ip = ipv4Packet(
    { src: "10.0.0.1", dst: "10.0.0.2", proto: IPPROTO_UDP, id: 1 },
    new Uint8Array([0, 53, 0, 53, 0, 8, 0, 0]),
  );
  const b = new BatchBuilder(4, 4096);
  b.push(arp, 0, arp.length, arp.length, 1_000_000, 1);
  b.push(ip, 0, ip.length, ip.length, 1_000_100, LINKTYPE_RAW);
  const seen: string[] = [];
  const pipeline = new Pipeline({
    observers: [{
      onLinkFrame: (p: Packet) =>
        seen.push(`link ${p.arpMsg.op} ${p.ethSrc.toString(16)}`),
      onPacket: (p: Packet) => seen.push(`ip ${p.ipVersion}`),
    }],
  });
  pipeline.processBatch(b.take()!);
  assert.deepEqual(seen, ["link 1 2990a630042", "ip 4"]);
  assert.equal(pipeline.counters.arp, 1);
});

Deno.test("a protocol whose records nobody reads is detected and named but not parsed, and a reader added later is followed", async () => {
  const FIX = new URL("../tests/fixtures/", import.meta.url).pathname;
  const batches: FrameBatch[] = [];
  for (const f of ["tls12.pcap", "http_keepalive.pcap"]) {
    for await (const b of readCaptureFile(`${FIX}${f}`)) batches.push(b);
  }
  const run = (kinds: readonly ("http" | "tls" | "dns")[] | undefined) => {
    const got: string[] = [];
    const protos: string[] = [];
    const p = new Pipeline({
      observers: [{
        appKinds: kinds,
        onApp(rec) {
          got.push(rec.kind);
        },
        onFlowEnd(f) {
          protos.push(`${f.id} ${f.appProto}`);
        },
      }],
    });
    for (const b of batches) p.processBatch(b);
    p.finish();
    return { got, protos, p };
  };
  const all = run(undefined);
  const http = run(["http"]);
  assert.ok(all.got.includes("tls") && all.got.includes("http"));
  assert.ok(!http.got.includes("tls"));
  assert.deepEqual(
    http.got,
    all.got.filter((k) => k === "http"),
  );
  // Detected and named the same; TLS streams let go, so fewer bytes.
  assert.deepEqual(http.p.appCounters!.detected, all.p.appCounters!.detected);
  assert.ok(http.p.appCounters!.detected.tls! > 0);
  assert.deepEqual(http.protos, all.protos);
  assert.equal(http.p.appCounters!.records.tls, undefined);
  assert.ok(http.p.reassembly!.bytes < all.p.reassembly!.bytes);

  // A TLS reader added between two captures: the second one's handshakes
  // are parsed, the first one's were not.
  const read = async (f: string, p: Pipeline) => {
    for await (const b of readCaptureFile(`${FIX}${f}`)) p.processBatch(b);
  };
  const late: string[] = [];
  const p = new Pipeline({ observers: [{ appKinds: ["http"], onApp() {} }] });
  await read("tls12.pcap", p);
  p.addObserver({
    appKinds: ["tls"],
    onApp: (rec) => void (rec.kind === "tls" && late.push(rec.kind)),
  });
  await read("tls13.pcap", p);
  p.finish();
  const only13: string[] = [];
  const q = new Pipeline({
    observers: [{
      onApp: (rec) => void (rec.kind === "tls" && only13.push(rec.kind)),
    }],
  });
  await read("tls13.pcap", q);
  q.finish();
  assert.ok(only13.length > 0);
  assert.deepEqual(late, only13);
});

Deno.test("stream.parser_memcap bounds the parsers' buffers: 1,000 unfinished HTTP heads overrun 1 MiB (connections skipped, the budget never passed) and fit the default", () => {
  const head = new TextEncoder().encode("GET /" + "a".repeat(2000));
  const b = new BatchBuilder(1001, 4 << 20);
  for (let i = 0; i < 1000; i++) {
    const ip = ipv4Packet(
      { src: "10.0.0.1", dst: "10.0.0.2", proto: 6, id: i },
      tcpSegment(20000 + i, 80, 0x18, head),
    );
    b.push(ip, 0, ip.length, ip.length, 1_000_000 + i, LINKTYPE_RAW);
  }
  const batch = b.take()!;
  const run = (parserMemcap?: number) => {
    let peak = 0;
    const p = new Pipeline({
      ...(parserMemcap === undefined ? {} : { parserMemcap }),
      observers: [{
        appKinds: ["http"],
        onApp() {},
        onPacket() {
          peak = Math.max(peak, p.app!.budget.used);
        },
      }],
    });
    p.processBatch(batch);
    const out = {
      cap: p.app!.budget.cap,
      peak,
      skipped: p.appCounters!.skipped,
      detected: p.appCounters!.detected.http ?? 0,
    };
    p.finish();
    return out;
  };
  const small = run(1 << 20);
  assert.equal(small.cap, 1 << 20);
  assert.ok(small.peak <= 1 << 20, `held ${small.peak}`);
  assert.ok(small.skipped > 0, "connections past the budget are skipped");
  const dflt = run();
  assert.equal(dflt.cap, 32 << 20);
  assert.equal(dflt.skipped, 0);
  assert.ok(dflt.peak > 1 << 20, `the default held ${dflt.peak}`);
});
