import assert from "node:assert/strict";
import {
  APP_DNS,
  APP_HTTP,
  decodeBytes,
  DecodeCounters,
  formatAddr,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MAX_TUNNEL_DEPTH,
  newPacket,
  type Packet,
  TUNNEL_4IN6,
  TUNNEL_6IN4,
  TUNNEL_6IN6,
  TUNNEL_ERSPAN1,
  TUNNEL_ERSPAN2,
  TUNNEL_ERSPAN3,
  TUNNEL_GENEVE,
  TUNNEL_GRE,
  TUNNEL_GRETAP,
  TUNNEL_IPIP,
  TUNNEL_NAMES,
  TUNNEL_NONE,
  TUNNEL_TEREDO,
  TUNNEL_VXLAN,
} from "./mod.ts";
import { cat, dnsQuery, eth, ipv4, ipv6, tcp, udp } from "./_test_frames.ts";
import {
  erspan1,
  erspan2,
  erspan3,
  ethernet,
  geneve,
  gre,
  GRE_IPV4,
  GRE_IPV6,
  GRE_TEB,
  teredo,
  vxlan,
} from "../tests/tunnel_frames.ts";

const TEXT = new TextEncoder();
const DNS = dnsQuery("inner.example.org", 1, 0x4242);
const HTTP = TEXT.encode("GET /in HTTP/1.1\r\nHost: inner.test\r\n\r\n");

/** The inner packets: a DNS query over IPv4 and an HTTP request over IPv6. */
const inner4 = ipv4(
  { proto: 17, src: "10.99.0.66", dst: "10.99.0.10" },
  udp({ sport: 40000, dport: 53 }, DNS),
);
const inner6 = ipv6(
  { nh: 6, src: "fd99::66", dst: "fd99::10" },
  tcp({ sport: 40001, dport: 80, flags: 0x18 }, HTTP),
);
const outer4 = (proto: number, payload: Uint8Array) =>
  eth(0x0800, ipv4({ proto, src: "192.0.2.1", dst: "192.0.2.2" }, payload));
const outer6 = (nh: number, payload: Uint8Array) =>
  eth(0x86dd, ipv6({ nh, src: "2001:db8::a", dst: "2001:db8::b" }, payload));
const overUdp = (dport: number, payload: Uint8Array) =>
  outer4(17, udp({ sport: 50000, dport }, payload));

function decode(frame: Uint8Array): Packet {
  const p = newPacket();
  const fault = decodeBytes(p, frame);
  assert.equal(fault, null, `unexpected fault ${fault}`);
  return p;
}

const tuple = (p: Packet) =>
  `${formatAddr(p.ipVersion, p.src)}.${p.srcPort} > ` +
  `${formatAddr(p.ipVersion, p.dst)}.${p.dstPort}`;
const outerTuple = (p: Packet) =>
  `${formatAddr(p.tunnelVersion, p.tunnelSrc)}.${p.tunnelSrcPort} > ` +
  `${formatAddr(p.tunnelVersion, p.tunnelDst)}.${p.tunnelDstPort}`;

function assertInnerDns(p: Packet): void {
  assert.equal(p.ipVersion, 4);
  assert.equal(tuple(p), "10.99.0.66.40000 > 10.99.0.10.53");
  assert.equal(p.proto, IPPROTO_UDP);
  assert.equal(p.app, APP_DNS);
  assert.equal(p.dns.qname, "inner.example.org");
  assert.equal(p.dns.id, 0x4242);
}

function assertInnerHttp(p: Packet): void {
  assert.equal(p.ipVersion, 6);
  assert.equal(tuple(p), "fd99::66.40001 > fd99::10.80");
  assert.equal(p.proto, IPPROTO_TCP);
  assert.equal(p.app, APP_HTTP);
  assert.equal(p.http.host, "inner.test");
}

Deno.test("decodeFrame() unwraps every tunnel kind and keeps the outer addresses", async (t) => {
  const cases: [string, Uint8Array, number, string, number, "dns" | "http"][] =
    [
      [
        "GRE, IPv4",
        outer4(47, gre(GRE_IPV4, inner4)),
        TUNNEL_GRE,
        "",
        47,
        "dns",
      ],
      [
        "GRE with checksum, key and sequence, IPv6",
        outer4(47, gre(GRE_IPV6, inner6, { checksum: true, key: 9, seq: 3 })),
        TUNNEL_GRE,
        "",
        47,
        "http",
      ],
      [
        "gretap (transparent Ethernet bridging)",
        outer4(47, gre(GRE_TEB, ethernet(0x0800, inner4), { key: 1 })),
        TUNNEL_GRETAP,
        "",
        47,
        "dns",
      ],
      [
        "ERSPAN type I",
        outer4(47, erspan1(ethernet(0x0800, inner4))),
        TUNNEL_ERSPAN1,
        "",
        47,
        "dns",
      ],
      [
        "ERSPAN type II",
        outer4(47, erspan2(ethernet(0x86dd, inner6), { vlan: 10 })),
        TUNNEL_ERSPAN2,
        "",
        47,
        "http",
      ],
      [
        "ERSPAN type III with the platform subheader",
        outer4(47, erspan3(ethernet(0x0800, inner4), { subheader: true })),
        TUNNEL_ERSPAN3,
        "",
        47,
        "dns",
      ],
      [
        "VXLAN",
        overUdp(4789, vxlan(ethernet(0x0800, inner4))),
        TUNNEL_VXLAN,
        "50000>4789",
        17,
        "dns",
      ],
      [
        "Geneve with options, Ethernet",
        overUdp(
          6081,
          geneve(GRE_TEB, ethernet(0x86dd, inner6), {
            options: [1, 2, 0x80, 1, 0, 0, 0, 7],
          }),
        ),
        TUNNEL_GENEVE,
        "50000>6081",
        17,
        "http",
      ],
      [
        "Geneve, IPv4 directly",
        overUdp(6081, geneve(GRE_IPV4, inner4)),
        TUNNEL_GENEVE,
        "50000>6081",
        17,
        "dns",
      ],
      [
        "Teredo",
        overUdp(3544, teredo(inner6)),
        TUNNEL_TEREDO,
        "50000>3544",
        17,
        "http",
      ],
      [
        "Teredo with an origin indication",
        overUdp(3544, teredo(inner6, { origin: true })),
        TUNNEL_TEREDO,
        "50000>3544",
        17,
        "http",
      ],
      ["IP in IP", outer4(4, inner4), TUNNEL_IPIP, "", 4, "dns"],
      ["6in4 (sit)", outer4(41, inner6), TUNNEL_6IN4, "", 41, "http"],
      ["4in6 (ip6tnl)", outer6(4, inner4), TUNNEL_4IN6, "", 4, "dns"],
      ["6in6", outer6(41, inner6), TUNNEL_6IN6, "", 41, "http"],
    ];
  for (const [name, frame, kind, ports, proto, app] of cases) {
    await t.step(name, () => {
      const p = decode(frame);
      if (app === "dns") assertInnerDns(p);
      else assertInnerHttp(p);
      assert.equal(p.tunnelDepth, 1);
      assert.equal(p.tunnelType, kind);
      assert.equal(p.tunnelKinds, 1 << kind);
      assert.equal(p.tunnelProto, proto);
      const v6 = kind === TUNNEL_4IN6 || kind === TUNNEL_6IN6;
      assert.equal(p.tunnelVersion, v6 ? 6 : 4);
      const [sp, dp] = ports === "" ? [0, 0] : ports.split(">").map(Number);
      assert.equal(
        outerTuple(p),
        v6
          ? "2001:db8::a.0 > 2001:db8::b.0"
          : `192.0.2.1.${sp} > 192.0.2.2.${dp}`,
      );
      assert.ok(p.payloadOffset + p.payloadLen <= frame.length);
    });
  }
});

Deno.test("decodeFrame() unwraps nested tunnels up to the depth bound and counts deeper ones as a fault", () => {
  // IPv4 in GRE in VXLAN in IP in IP: three layers.
  const three = outer4(
    4,
    ipv4(
      { proto: 17, src: "198.51.100.1", dst: "198.51.100.2" },
      udp(
        { sport: 1234, dport: 4789 },
        vxlan(ethernet(
          0x0800,
          ipv4(
            { proto: 47, src: "172.16.0.1", dst: "172.16.0.2" },
            gre(GRE_IPV4, inner4),
          ),
        )),
      ),
    ),
  );
  const p = decode(three);
  assertInnerDns(p);
  assert.equal(p.tunnelDepth, MAX_TUNNEL_DEPTH);
  assert.equal(p.tunnelType, TUNNEL_IPIP, "the outermost kind");
  assert.equal(
    p.tunnelKinds,
    (1 << TUNNEL_IPIP) | (1 << TUNNEL_VXLAN) | (1 << TUNNEL_GRE),
  );
  assert.equal(outerTuple(p), "192.0.2.1.0 > 192.0.2.2.0");
  const counters = new DecodeCounters();
  counters.add(p, null);
  assert.equal(counters.tunnel(TUNNEL_VXLAN), 1);
  assert.equal(counters.tunnelSnapshot().gre, 1);
  assert.equal(counters.tunnelSnapshot().ipip, 1);
  assert.equal(counters.tunnelSnapshot().geneve, 0);

  const four = outer4(4, three.subarray(14));
  const q = newPacket();
  const fault = decodeBytes(q, four);
  assert.equal(fault, "tunnel_too_deep");
  counters.add(q, fault);
  assert.equal(counters.get("tunnel_too_deep"), 1);
});

Deno.test("decodeFrame() leaves packets that only look like tunnels as they are", async (t) => {
  const cases: [string, Uint8Array, number][] = [
    [
      "Teredo authentication (negotiation)",
      overUdp(3544, teredo(inner6, { auth: true })),
      17,
    ],
    [
      "a Teredo bubble (no payload)",
      overUdp(3544, ipv6({ nh: 59, plen: 0 }, new Uint8Array(0))),
      17,
    ],
    [
      "UDP 3544 whose IPv6 length does not fill the datagram",
      overUdp(3544, cat(inner6, [0, 0, 0, 0])),
      17,
    ],
    [
      "VXLAN without the I flag",
      overUdp(4789, cat([0, 0, 0, 0, 0, 0, 0, 0], ethernet(0x0800, inner4))),
      17,
    ],
    [
      "Geneve version 1",
      overUdp(6081, cat([0x40], geneve(GRE_IPV4, inner4).subarray(1))),
      17,
    ],
    [
      "GRE version 1 (PPTP)",
      outer4(47, gre(GRE_IPV4, inner4, { version: 1 })),
      47,
    ],
    ["GRE carrying an unknown protocol", outer4(47, gre(0x8909, inner4)), 47],
    [
      "ERSPAN III of frame type 2 (not Ethernet)",
      outer4(47, erspan3(ethernet(0x0800, inner4), { frameType: 2 })),
      47,
    ],
    ["protocol 4 with an IPv6 packet", outer4(4, inner6), 4],
    [
      "VXLAN from port 4789 (a reply port, not the tunnel)",
      outer4(
        17,
        udp({ sport: 4789, dport: 50000 }, vxlan(ethernet(0x0800, inner4))),
      ),
      17,
    ],
  ];
  for (const [name, frame, proto] of cases) {
    await t.step(name, () => {
      const p = decode(frame);
      assert.equal(p.tunnelDepth, 0);
      assert.equal(p.tunnelType, TUNNEL_NONE);
      assert.equal(formatAddr(p.ipVersion, p.src), "192.0.2.1");
      assert.equal(p.proto, proto);
    });
  }
});

Deno.test("decodeFrame() clears the tunnel fields for the next frame", () => {
  const p = newPacket();
  assert.equal(decodeBytes(p, outer6(4, inner4)), null);
  assert.equal(p.tunnelDepth, 1);
  assert.equal(decodeBytes(p, eth(0x0800, inner4)), null);
  assertInnerDns(p);
  assert.equal(p.tunnelDepth, 0);
  assert.equal(p.tunnelType, TUNNEL_NONE);
  assert.equal(p.tunnelKinds, 0);
  assert.equal(p.tunnelVersion, 0);
  assert.deepEqual([...p.tunnelSrc, ...p.tunnelDst], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(p.tunnelProto + p.tunnelSrcPort + p.tunnelDstPort, 0);
  // An IPv4 packet inside IPv6 leaves no IPv6 words behind.
  assert.equal(decodeBytes(p, outer6(4, inner4)), null);
  assert.deepEqual([...p.src], [0x0a630042, 0, 0, 0]);
});

Deno.test("decodeFrame() reports a broken inner packet by its own fault", () => {
  const p = newPacket();
  const cut = inner4.subarray(0, 16);
  assert.equal(decodeBytes(p, outer4(4, cut)), "ipv4_short");
  assert.equal(
    decodeBytes(p, overUdp(4789, vxlan(ethernet(0x8100, new Uint8Array(2))))),
    "vlan_short",
  );
});

Deno.test("TUNNEL_NAMES names every kind once", () => {
  assert.equal(new Set(TUNNEL_NAMES).size, TUNNEL_NAMES.length);
  assert.equal(TUNNEL_NAMES[TUNNEL_6IN4], "6in4");
  assert.equal(TUNNEL_NAMES.length, TUNNEL_6IN6 + 1);
});
