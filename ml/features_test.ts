import assert from "node:assert/strict";
import { parseAddr } from "../decode/mod.ts";
import type { Flow } from "../flows/mod.ts";
import {
  dnsTunnel,
  featureRows,
  icmpEcho,
  synScan,
  T0,
  tcpFrame,
  udpFlood,
} from "./_test_traffic.ts";
import {
  FEATURE_COUNT,
  FEATURE_INDEX,
  FEATURE_NAMES,
  FEATURES,
  fromModelSpace,
  HostWindows,
  isLocalControl,
  nameEntropy,
  newFlowContext,
  portClass,
  toModelSpace,
} from "./features.ts";

function words(ip: string): Uint32Array {
  return parseAddr(ip)!.words;
}

function col(rows: Float64Array, r: number, name: string): number {
  return rows[r * FEATURE_COUNT + FEATURE_INDEX[name]!]!;
}

Deno.test("FEATURES documents every feature once, with a unit-aware formatter", () => {
  assert.equal(new Set(FEATURE_NAMES).size, FEATURE_COUNT);
  for (const f of FEATURES) {
    assert.match(f.name, /^[a-z][a-z0-9_]*$/);
    assert.ok(f.description.length > 10, f.name);
    assert.ok(!f.description.includes("\n"), f.name);
    for (const v of [0, 1, 6, 412, 1e6]) {
      const text = f.phrase(f.format(v));
      assert.equal(typeof text, "string");
      assert.ok(
        text.length > 3 && !text.includes("undefined"),
        `${f.name}: ${text}`,
      );
    }
    if (f.log) assert.notEqual(f.kind, "category", f.name);
  }
  const ports = FEATURES[FEATURE_INDEX.src_ports_10s!]!;
  assert.equal(
    ports.phrase(ports.format(412)),
    "412 distinct destination ports in 10 s",
  );
  const bytes = FEATURES[FEATURE_INDEX.bytes_in!]!;
  assert.equal(bytes.format(1_234_567), "1.2 MB");
});

Deno.test("toModelSpace() logs heavy-tailed features and fromModelSpace() undoes it", () => {
  const raw = new Float64Array(FEATURE_COUNT).fill(0);
  raw[FEATURE_INDEX.pkts_out!] = 99;
  raw[FEATURE_INDEX.proto_class!] = 2;
  const x = new Float64Array(FEATURE_COUNT);
  toModelSpace(raw, x);
  assert.equal(x[FEATURE_INDEX.pkts_out!], Math.log1p(99));
  assert.equal(x[FEATURE_INDEX.proto_class!], 2);
  const i = FEATURE_INDEX.pkts_out!;
  assert.ok(Math.abs(fromModelSpace(i, x[i]!) - 99) < 1e-9);
});

Deno.test("nameEntropy() measures bits per character", () => {
  assert.equal(nameEntropy(""), 0);
  assert.equal(nameEntropy("aaaa"), 0);
  assert.equal(nameEntropy("abcd"), 2);
  assert.equal(nameEntropy("aabb"), 1);
  // Reused counters are left clean between calls.
  assert.equal(nameEntropy("abcd"), 2);
});

Deno.test("portClass() tells well-known, registered and ephemeral ports apart", () => {
  assert.equal(portClass(6, 22), 1);
  assert.equal(portClass(17, 5353), 2);
  assert.equal(portClass(6, 50000), 3);
  assert.equal(portClass(1, 0), 0);
});

Deno.test("HostWindows counts distinct ports and hosts per source in 10 s", async (t) => {
  const w = new HostWindows();
  const out = newFlowContext();
  const src = words("10.0.0.1");
  await t.step("small counts are exact", () => {
    for (const port of [22, 80, 443, 80, 22]) {
      w.flowStarted(src, words("10.0.0.2"), { dstPort: port, tsUs: T0, out });
    }
    w.flowStarted(src, words("10.0.0.3"), { dstPort: 443, tsUs: T0, out });
    assert.equal(out.ports, 3);
    assert.equal(out.hosts, 2);
    assert.equal(out.flows, 6);
  });
  await t.step("failed connections are counted", () => {
    w.connectionFailed(src, T0 + 1e6);
    w.connectionFailed(src, T0 + 2e6);
    w.read(src, T0 + 2e6, out);
    assert.equal(out.failed, 2);
    assert.equal(out.ports, 3);
  });
  await t.step("the window forgets after 10 s", () => {
    w.read(src, T0 + 10.5e6, out);
    assert.equal(out.ports, 0);
    assert.equal(out.flows, 0);
    assert.equal(out.failed, 2); // recorded at T0+1 s and T0+2 s
    w.read(src, T0 + 13e6, out);
    assert.equal(out.failed, 0);
  });
  await t.step("a thousand ports are estimated within 5%", () => {
    const s2 = words("10.0.0.9");
    for (let p = 1; p <= 1000; p++) {
      w.flowStarted(s2, words("10.0.0.2"), {
        dstPort: p,
        tsUs: T0 + 20e6,
        out,
      });
    }
    assert.ok(Math.abs(out.ports - 1000) <= 50, `estimate ${out.ports}`);
    assert.equal(out.hosts, 1);
  });
  await t.step("an unknown source reads as zeros", () => {
    w.read(words("192.0.2.1"), T0, out);
    assert.deepEqual([out.ports, out.hosts, out.flows, out.failed], [
      0,
      0,
      0,
      0,
    ]);
  });
});

Deno.test("HostWindows drops the least recently active source when full", () => {
  const w = new HostWindows({ maxSources: 2 });
  const out = newFlowContext();
  const dst = words("10.0.0.2");
  w.flowStarted(words("10.0.0.1"), dst, { dstPort: 1, tsUs: T0, out });
  w.flowStarted(words("10.0.0.3"), dst, { dstPort: 1, tsUs: T0, out });
  w.flowStarted(words("10.0.0.1"), dst, { dstPort: 2, tsUs: T0, out });
  w.flowStarted(words("10.0.0.4"), dst, { dstPort: 1, tsUs: T0, out });
  assert.equal(w.size, 2);
  assert.equal(w.dropped, 1);
  w.read(words("10.0.0.3"), T0, out);
  assert.equal(out.flows, 0);
  w.read(words("10.0.0.1"), T0, out);
  assert.equal(out.flows, 2);
});

Deno.test("FeatureExtractor describes a full TCP session from its flow record", () => {
  const c = "10.99.0.20", s = "10.99.0.10";
  const sport = 40000, dport = 443;
  const frames = [
    { tsUs: T0, data: tcpFrame(c, s, { sport, dport, flags: 2 }) },
    {
      tsUs: T0 + 1000,
      data: tcpFrame(s, c, { sport: dport, dport: sport, flags: 18 }),
    },
    { tsUs: T0 + 2000, data: tcpFrame(c, s, { sport, dport, flags: 16 }) },
    {
      tsUs: T0 + 3000,
      data: tcpFrame(c, s, { sport, dport, flags: 24, payload: 300 }),
    },
    {
      tsUs: T0 + 9000,
      data: tcpFrame(s, c, {
        sport: dport,
        dport: sport,
        flags: 24,
        payload: 1000,
      }),
    },
    { tsUs: T0 + 10000, data: tcpFrame(c, s, { sport, dport, flags: 17 }) },
    {
      tsUs: T0 + 11000,
      data: tcpFrame(s, c, { sport: dport, dport: sport, flags: 17 }),
    },
    { tsUs: T0 + 12000, data: tcpFrame(c, s, { sport, dport, flags: 16 }) },
  ];
  const { rows, count } = featureRows(frames);
  assert.equal(count, 1);
  const v = (n: string) => col(rows, 0, n);
  assert.equal(v("proto_class"), 0);
  assert.equal(v("port_class"), 1);
  assert.equal(v("duration"), 0.012);
  assert.equal(v("pkts_out"), 5);
  assert.equal(v("pkts_in"), 3);
  assert.equal(v("payload_out"), 300);
  assert.equal(v("payload_in"), 1000);
  assert.equal(v("bytes_out"), 5 * 54 + 300);
  assert.equal(v("syn"), 1);
  assert.equal(v("fin"), 2);
  assert.equal(v("rst"), 0);
  assert.equal(v("tcp_state"), 5);
  assert.equal(v("no_reply"), 0);
  assert.equal(v("iat_max"), 6);
  assert.ok(Math.abs(v("iat_mean") - 12 / 7) < 1e-9);
  assert.equal(v("src_ports_10s"), 1);
  assert.equal(v("src_failed_10s"), 0);
  for (let i = 0; i < FEATURE_COUNT; i++) assert.ok(Number.isFinite(rows[i]!));
});

Deno.test("FeatureExtractor sees a port scan in the source's window", () => {
  const { rows, count, src } = featureRows(
    synScan({
      attacker: "10.99.0.66",
      target: "10.99.0.10",
      ports: 300,
      t: T0,
    }),
  );
  assert.equal(count, 300);
  for (let r = 0; r < count; r++) {
    assert.equal(src[r], "10.99.0.66");
    assert.equal(col(rows, r, "tcp_state"), 6);
    assert.equal(col(rows, r, "pkts_out"), 1);
  }
  const ports = Array.from(
    { length: count },
    (_, r) => col(rows, r, "src_ports_10s"),
  );
  assert.ok(Math.max(...ports) >= 280, `max ports ${Math.max(...ports)}`);
  const failed = Array.from(
    { length: count },
    (_, r) => col(rows, r, "src_failed_10s"),
  );
  assert.ok(Math.max(...failed) >= 250, `max failed ${Math.max(...failed)}`);
});

Deno.test("FeatureExtractor keeps the longest and most random DNS name of a flow", () => {
  const { rows, count } = featureRows(
    dnsTunnel({ client: "10.99.0.21", queries: 3, t: T0 }),
  );
  assert.equal(count, 3);
  assert.equal(col(rows, 0, "app"), 1);
  assert.equal(col(rows, 0, "dns_qname_len"), 50 + 1 + 40 + 11);
  assert.equal(col(rows, 0, "dns_qtype"), 16);
  assert.ok(col(rows, 0, "dns_qname_entropy") > 4.5);
});

Deno.test("FeatureExtractor marks one-way UDP and ICMP flows", () => {
  const flood = featureRows(
    udpFlood({
      attacker: "10.99.0.66",
      target: "10.99.0.10",
      packets: 50,
      t: T0,
    }),
  );
  assert.equal(col(flood.rows, 0, "proto_class"), 1);
  assert.equal(col(flood.rows, 0, "no_reply"), 1);
  assert.ok(col(flood.rows, flood.count - 1, "src_flows_10s") >= 49);
  const ping = featureRows([
    { tsUs: T0, data: icmpEcho("10.99.0.20", "10.99.0.10") },
  ]);
  assert.equal(col(ping.rows, 0, "proto_class"), 2);
  assert.equal(col(ping.rows, 0, "icmp_type"), 8);
  assert.equal(col(ping.rows, 0, "port_class"), 0);
});

Deno.test("isLocalControl() passes over IGMP, ND, DHCP, mDNS, LLMNR and multicast or broadcast flows, not unicast ones", () => {
  const flow = (o: {
    v?: 4 | 6;
    proto: number;
    dst: number[];
    sport?: number;
    dport?: number;
    icmp?: number;
  }) =>
    ({
      version: o.v ?? 4,
      proto: o.proto,
      dstAddr: Uint32Array.from(o.dst),
      srcPort: o.sport ?? 0,
      dstPort: o.dport ?? 0,
      icmpType: o.icmp ?? -1,
    }) as unknown as Flow;
  const ip = (
    a: number,
    b: number,
    c: number,
    d: number,
  ) => [((a << 24) | (b << 16) | (c << 8) | d) >>> 0, 0, 0, 0];
  const yes = [
    flow({ proto: 2, dst: ip(224, 0, 0, 22) }),
    flow({ proto: 17, dst: ip(224, 0, 0, 251), sport: 5353, dport: 5353 }),
    flow({ proto: 17, dst: ip(10, 0, 0, 2), sport: 5353, dport: 40000 }),
    flow({ proto: 17, dst: ip(239, 255, 255, 250), sport: 40000, dport: 1900 }),
    flow({ proto: 17, dst: ip(255, 255, 255, 255), sport: 68, dport: 67 }),
    flow({ proto: 17, dst: ip(10, 0, 0, 150), sport: 67, dport: 68 }),
    flow({ v: 6, proto: 58, dst: [0xfe800000, 0, 0, 1], icmp: 135 }),
    flow({ v: 6, proto: 17, dst: [0xff020000, 0, 0, 0xfb], dport: 5353 }),
  ];
  const no = [
    flow({ proto: 6, dst: ip(10, 0, 0, 10), sport: 40000, dport: 22 }),
    flow({ proto: 17, dst: ip(10, 0, 0, 10), sport: 40000, dport: 123 }),
    flow({ proto: 17, dst: ip(10, 0, 0, 10), sport: 40000, dport: 67 }),
    flow({ proto: 1, dst: ip(10, 0, 0, 10), icmp: 8 }),
    flow({ v: 6, proto: 58, dst: [0x20010db8, 0, 0, 1], icmp: 128 }),
  ];
  for (const f of yes) assert.equal(isLocalControl(f), true, JSON.stringify(f));
  for (const f of no) assert.equal(isLocalControl(f), false, JSON.stringify(f));
});
