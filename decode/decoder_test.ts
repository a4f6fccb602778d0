import assert from "node:assert/strict";
import {
  APP_DNS,
  APP_HTTP,
  APP_NONE,
  APP_TLS,
  decodeAll,
  decodeBytes,
  DecodeCounters,
  decodeFrame,
  FAULTS,
  formatAddr,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  isAppFault,
  LINKTYPE_C_HDLC,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_PPP,
  LINKTYPE_RAW,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
  newPacket,
  type Packet,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
} from "./mod.ts";
import {
  addrBytes,
  batchOf,
  cat,
  clientHello,
  dnsQuery,
  eth,
  ipv4,
  ipv6,
  ipv6Ext,
  tcp,
  u16,
  u32,
  udp,
} from "./_test_frames.ts";

const TEXT = new TextEncoder();

function decoded(
  frame: Uint8Array,
  opts: { linktype?: number; wirelen?: number } = {},
): Packet {
  const p = newPacket();
  const fault = decodeBytes(p, frame, opts);
  assert.equal(fault, null, `unexpected fault ${fault}`);
  assertInFrame(p);
  return p;
}

function faultOf(
  frame: Uint8Array,
  opts: { linktype?: number; wirelen?: number } = {},
): string | null {
  const p = newPacket();
  const f = decodeBytes(p, frame, opts);
  assertInFrame(p);
  return f;
}

/** The record's offsets never leave the frame. */
function assertInFrame(p: Packet): void {
  const end = p.frameOffset + p.caplen;
  assert.ok(p.payloadOffset >= p.frameOffset, "payload before the frame");
  assert.ok(p.payloadLen >= 0 && p.payloadOffset + p.payloadLen <= end);
  assert.ok(p.payloadWireLen >= 0);
  assert.ok(
    p.l3Offset === -1 || (p.l3Offset >= p.frameOffset && p.l3Offset <= end),
  );
  assert.ok(
    p.l4Offset === -1 || (p.l4Offset >= p.frameOffset && p.l4Offset < end),
  );
}

const src = (p: Packet) => formatAddr(p.ipVersion, p.src);
const dst = (p: Packet) => formatAddr(p.ipVersion, p.dst);

const IP4_TCP_SYN = ipv4(
  {
    src: "192.168.1.10",
    dst: "93.184.216.34",
    proto: IPPROTO_TCP,
    ttl: 57,
    id: 0xabcd,
    options: [0x94, 0x04, 0, 0], // router alert
  },
  tcp(
    {
      sport: 51234,
      dport: 443,
      flags: TCP_SYN,
      seq: 0xfedcba98,
      ack: 0,
      window: 29200,
      options: [
        2,
        4,
        0x05,
        0xb4,
        4,
        2,
        8,
        10,
        ...u32(1),
        ...u32(0),
        1,
        3,
        3,
        7,
      ],
    },
    cat("hello"),
  ),
);

Deno.test("decodeFrame() reads Ethernet, 802.1Q, IPv4 with options and TCP with options", () => {
  const frame = eth(0x0800, IP4_TCP_SYN, { vlans: [100] });
  const p = decoded(frame);
  assert.equal(p.vlan, 100);
  assert.equal(p.etherType, 0x0800);
  assert.equal(p.l3Offset, 18);
  assert.equal(p.ipVersion, 4);
  assert.equal(src(p), "192.168.1.10");
  assert.equal(dst(p), "93.184.216.34");
  assert.deepEqual([...p.src], [0xc0a8010a, 0, 0, 0]);
  assert.equal(p.proto, IPPROTO_TCP);
  assert.equal(p.ttl, 57);
  assert.equal(p.ipId, 0xabcd);
  assert.equal(p.ipLen, 24 + 40 + 5);
  assert.equal(p.fragment, false);
  assert.equal(p.l4Offset, 18 + 24);
  assert.equal(p.srcPort, 51234);
  assert.equal(p.dstPort, 443);
  assert.equal(p.tcpFlags, TCP_SYN);
  assert.equal(p.tcpSeq, 0xfedcba98);
  assert.equal(p.tcpAck, 0);
  assert.equal(p.tcpWindow, 29200);
  assert.equal(p.icmpType, -1);
  assert.equal(p.payloadOffset, 18 + 24 + 40);
  assert.equal(p.payloadLen, 5);
  assert.equal(p.payloadWireLen, 5);
  assert.equal(p.app, APP_NONE);
});

Deno.test("decodeFrame() takes the outermost tag of stacked 802.1ad, 0x9100 and 802.1Q tags", async (t) => {
  for (const tpid of [0x88a8, 0x9100, 0x8100]) {
    await t.step(`outer TPID 0x${tpid.toString(16)}`, () => {
      const inner = cat(u16(0x8100), u16(0x2000 | 7), u16(0x0800), IP4_TCP_SYN);
      const p = decoded(
        cat(
          eth(0x8100, new Uint8Array(0)).subarray(0, 12),
          u16(tpid),
          u16(42),
          inner,
        ),
      );
      assert.equal(p.vlan, 42);
      assert.equal(p.l3Offset, 22);
      assert.equal(p.dstPort, 443);
    });
  }
});

Deno.test("decodeFrame() reads IPv6 with hop-by-hop, routing and destination options, then UDP", () => {
  const payload = cat("abcdefgh");
  const l4 = udp({ sport: 5000, dport: 6000 }, payload);
  // hop-by-hop -> routing -> destination options (16 bytes) -> UDP
  const exts = cat(
    ipv6Ext(43),
    ipv6Ext(60),
    ipv6Ext(IPPROTO_UDP, [1, 10, ...new Array(10).fill(0)]),
  );
  const frame = eth(
    0x86dd,
    ipv6(
      { nh: 0, src: "2001:db8::a", dst: "ff02::fb", hlim: 1 },
      cat(exts, l4),
    ),
  );
  const p = decoded(frame);
  assert.equal(p.ipVersion, 6);
  assert.equal(src(p), "2001:db8::a");
  assert.equal(dst(p), "ff02::fb");
  assert.equal(p.ttl, 1);
  assert.equal(p.ipLen, 40 + exts.length + 16);
  assert.equal(p.proto, IPPROTO_UDP);
  assert.equal(p.srcPort, 5000);
  assert.equal(p.dstPort, 6000);
  assert.equal(p.l4Offset, 14 + 40 + exts.length);
  assert.equal(p.payloadLen, 8);
  assert.equal(p.payloadWireLen, 8);
  assert.equal(p.ipId, 0);
  assert.equal(p.fragment, false);
});

Deno.test("decodeFrame() reads an IPv6 fragment header and skips the transport of later fragments", () => {
  const l4 = udp(
    { sport: 53, dport: 40000, length: 3000 },
    new Uint8Array(1232),
  );
  const first = decoded(
    eth(0x86dd, ipv6({ nh: 44 }, cat([IPPROTO_UDP, 0, 0, 1], u32(77), l4))),
  );
  assert.equal(first.fragment, true);
  assert.equal(first.fragOffset, 0);
  assert.equal(first.srcPort, 53);
  assert.equal(first.payloadWireLen, 1232);
  // A later fragment whose payload happens to look like a destination-options header.
  const later = decoded(
    eth(
      0x86dd,
      ipv6(
        { nh: 44 },
        cat([IPPROTO_UDP, 0, ...u16(1240)], u32(77), [60, 200, 1, 2]),
      ),
    ),
  );
  assert.equal(later.fragment, true);
  assert.equal(later.fragOffset, 1240);
  assert.equal(later.proto, IPPROTO_UDP);
  assert.equal(later.srcPort, 0);
  assert.equal(later.l4Offset, -1);
  assert.equal(later.payloadOffset, 14 + 48);
  assert.equal(later.payloadLen, 4);
  // An AH header before the transport is skipped.
  const ah = cat(
    [IPPROTO_TCP, 4],
    [0, 0],
    u32(1),
    u32(2),
    new Array(12).fill(0),
  );
  const p = decoded(
    eth(
      0x86dd,
      ipv6({ nh: 51 }, cat(ah, tcp({ sport: 1, dport: 2, flags: TCP_ACK }))),
    ),
  );
  assert.equal(p.proto, IPPROTO_TCP);
  assert.equal(p.dstPort, 2);
});

Deno.test("decodeFrame() stops at ESP and no-next-header", () => {
  const esp = decoded(
    eth(
      0x86dd,
      ipv6({ nh: 0 }, cat(ipv6Ext(50), u32(0x100), u32(1), "secret")),
    ),
  );
  assert.equal(esp.proto, 50);
  assert.equal(esp.srcPort, 0);
  assert.equal(esp.payloadLen, 14);
  const none = decoded(eth(0x86dd, ipv6({ nh: 59 }, new Uint8Array(0))));
  assert.equal(none.proto, 59);
  assert.equal(none.payloadLen, 0);
});

Deno.test("decodeFrame() reads ICMP and ICMPv6 type and code", () => {
  const echo = cat([8, 0, 0, 0], u16(1), u16(2), "ping");
  const p4 = decoded(eth(0x0800, ipv4({ proto: IPPROTO_ICMP }, echo)));
  assert.equal(p4.icmpType, 8);
  assert.equal(p4.icmpCode, 0);
  assert.equal(p4.srcPort, 0);
  assert.equal(p4.payloadLen, 4);
  const unreach = cat([1, 4, 0, 0], u32(0), new Uint8Array(40));
  const p6 = decoded(eth(0x86dd, ipv6({ nh: IPPROTO_ICMPV6 }, unreach)));
  assert.equal(p6.proto, IPPROTO_ICMPV6);
  assert.equal(p6.icmpType, 1);
  assert.equal(p6.icmpCode, 4);
  const ns = decoded(
    eth(
      0x86dd,
      ipv6(
        { nh: IPPROTO_ICMPV6 },
        cat([135, 0, 0, 0], u32(0), addrBytes("fe80::1")),
      ),
    ),
  );
  assert.equal(ns.icmpType, 135);
});

Deno.test("decodeFrame() reads the ports of SCTP, DCCP and UDP-Lite", () => {
  const sctp = cat(u16(36412), u16(38412), u32(0xdeadbeef), u32(0), [
    1,
    0,
    0,
    4,
  ]);
  const p = decoded(eth(0x0800, ipv4({ proto: 132 }, sctp)));
  assert.equal(p.srcPort, 36412);
  assert.equal(p.dstPort, 38412);
  assert.equal(p.payloadOffset, 14 + 20 + 12);
  assert.equal(p.payloadLen, 4);
  const dccp = cat(
    u16(5001),
    u16(39420),
    [4, 0, 0, 0],
    new Uint8Array(8),
    "data",
  );
  const q = decoded(eth(0x86dd, ipv6({ nh: 33 }, dccp)));
  assert.equal(q.dstPort, 39420);
  assert.equal(q.payloadLen, 4);
  const lite = decoded(
    eth(
      0x0800,
      ipv4({ proto: 136 }, udp({ sport: 9, dport: 10, length: 8 }, cat("xy"))),
    ),
  );
  assert.equal(lite.srcPort, 9);
  assert.equal(lite.payloadLen, 2);
});

Deno.test("decodeFrame() reads Linux cooked captures v1 and v2", () => {
  const ip = ipv4(
    { proto: IPPROTO_UDP, src: "10.9.8.7" },
    udp({ sport: 1, dport: 2 }, cat("x")),
  );
  const sll = cat(
    u16(0),
    u16(1),
    u16(6),
    [1, 2, 3, 4, 5, 6, 0, 0],
    u16(0x0800),
    ip,
  );
  const p1 = decoded(sll, { linktype: LINKTYPE_LINUX_SLL });
  assert.equal(p1.l3Offset, 16);
  assert.equal(src(p1), "10.9.8.7");
  assert.equal(p1.payloadLen, 1);
  const ip6 = ipv6(
    { nh: IPPROTO_TCP },
    tcp({ sport: 22, dport: 50000, flags: TCP_ACK | TCP_PSH }),
  );
  const sll2 = cat(u16(0x86dd), u16(0), u32(3), u16(1), [4, 6], [
    1,
    2,
    3,
    4,
    5,
    6,
    0,
    0,
  ], ip6);
  const p2 = decoded(sll2, { linktype: LINKTYPE_LINUX_SLL2 });
  assert.equal(p2.l3Offset, 20);
  assert.equal(p2.ipVersion, 6);
  assert.equal(p2.srcPort, 22);
  assert.equal(p2.tcpFlags, TCP_ACK | TCP_PSH);
  // A cooked frame with an 802.3 protocol value is not IP and not a fault.
  const llc = decoded(
    cat(u16(0), u16(1), u16(6), new Array(8).fill(0), u16(4), [0x42, 0x42, 3]),
    {
      linktype: LINKTYPE_LINUX_SLL,
    },
  );
  assert.equal(llc.ipVersion, 0);
  assert.equal(llc.etherType, 0);
});

Deno.test("decodeFrame() reads BSD loopback families in both byte orders, and LOOP", async (t) => {
  const ip4 = ipv4(
    { proto: IPPROTO_UDP },
    udp({ sport: 7, dport: 9 }, new Uint8Array(0)),
  );
  const ip6 = ipv6(
    { nh: IPPROTO_UDP },
    udp({ sport: 7, dport: 9 }, new Uint8Array(0)),
  );
  const le = (x: number) => [x & 255, (x >> 8) & 255, 0, 0];
  const cases: [string, number[], Uint8Array, number, number][] = [
    ["AF_INET little-endian", le(2), ip4, LINKTYPE_NULL, 4],
    ["AF_INET big-endian", u32(2), ip4, LINKTYPE_NULL, 4],
    ["AF_INET6 24 little-endian", le(24), ip6, LINKTYPE_NULL, 6],
    ["AF_INET6 28 big-endian", u32(28), ip6, LINKTYPE_NULL, 6],
    ["AF_INET6 30 little-endian", le(30), ip6, LINKTYPE_NULL, 6],
    ["AF_INET6 30 big-endian", u32(30), ip6, LINKTYPE_NULL, 6],
    ["LOOP AF_INET", u32(2), ip4, LINKTYPE_LOOP, 4],
    ["LOOP AF_INET6", u32(24), ip6, LINKTYPE_LOOP, 6],
  ];
  for (const [name, hdr, ip, lt, version] of cases) {
    await t.step(name, () => {
      const p = decoded(cat(hdr, ip), { linktype: lt });
      assert.equal(p.ipVersion, version);
      assert.equal(p.l3Offset, 4);
      assert.equal(p.dstPort, 9);
    });
  }
  await t.step("an unknown family is not IP", () => {
    const p = decoded(cat(le(7), ip4), { linktype: LINKTYPE_NULL });
    assert.equal(p.ipVersion, 0);
  });
});

Deno.test("decodeFrame() reads raw IP link types by their version nibble", async (t) => {
  const ip4 = ipv4(
    { proto: IPPROTO_TCP, dst: "1.1.1.1" },
    tcp({ sport: 1000, dport: 80, flags: TCP_SYN }),
  );
  const ip6 = ipv6(
    { nh: IPPROTO_TCP, dst: "2606:4700::1111" },
    tcp({ sport: 1000, dport: 80, flags: TCP_SYN }),
  );
  for (const lt of [LINKTYPE_RAW, LINKTYPE_RAW_12, LINKTYPE_RAW_14]) {
    await t.step(`link type ${lt}`, () => {
      assert.equal(dst(decoded(ip4, { linktype: lt })), "1.1.1.1");
      assert.equal(dst(decoded(ip6, { linktype: lt })), "2606:4700::1111");
      assert.equal(
        faultOf(cat([0x55], ip4), { linktype: lt }),
        "ip_bad_version",
      );
      assert.equal(faultOf(new Uint8Array(0), { linktype: lt }), "ip_short");
    });
  }
  await t.step("IPV4 and IPV6 link types insist on their version", () => {
    assert.equal(decoded(ip4, { linktype: LINKTYPE_IPV4 }).ipVersion, 4);
    assert.equal(decoded(ip6, { linktype: LINKTYPE_IPV6 }).ipVersion, 6);
    assert.equal(faultOf(ip6, { linktype: LINKTYPE_IPV4 }), "ipv4_bad_version");
    assert.equal(
      faultOf(ip4, { linktype: LINKTYPE_IPV6 }),
      "ipv6_bad_version",
    );
  });
});

Deno.test("decodeFrame() unwraps PPPoE, MPLS, PPP and Cisco HDLC", () => {
  const ip = ipv4(
    { proto: IPPROTO_UDP, src: "100.64.1.2" },
    udp({ sport: 5, dport: 6 }, new Uint8Array(0)),
  );
  const pppoe = decoded(
    eth(
      0x8864,
      cat([0x11, 0], u16(0x1234), u16(ip.length + 2), u16(0x0021), ip),
    ),
  );
  assert.equal(pppoe.etherType, 0x0800);
  assert.equal(src(pppoe), "100.64.1.2");
  const lcp = decoded(
    eth(0x8864, cat([0x11, 0], u16(0x1234), u16(6), u16(0xc021), [1, 1, 0, 4])),
  );
  assert.equal(lcp.ipVersion, 0);
  const mpls = decoded(
    eth(
      0x8847,
      cat(u32((1000 << 12) | 64), u32((2000 << 12) | 0x100 | 64), ip),
    ),
  );
  assert.equal(mpls.l3Offset, 22);
  assert.equal(src(mpls), "100.64.1.2");
  const ppp = decoded(cat([0xff, 0x03], u16(0x0021), ip), {
    linktype: LINKTYPE_PPP,
  });
  assert.equal(ppp.l3Offset, 4);
  const pfc = decoded(cat([0x21], ip), { linktype: LINKTYPE_PPP });
  assert.equal(pfc.l3Offset, 1);
  const hdlc = decoded(cat([0x0f, 0], u16(0x0800), ip), {
    linktype: LINKTYPE_C_HDLC,
  });
  assert.equal(hdlc.dstPort, 6);
});

Deno.test("decodeFrame() returns null for ARP and other non-IP frames", () => {
  const arp = cat(u16(1), u16(0x0800), [6, 4], u16(1), new Uint8Array(20));
  const p = decoded(eth(0x0806, arp));
  assert.equal(p.arp, true);
  assert.equal(p.ipVersion, 0);
  assert.equal(p.etherType, 0x0806);
  const lldp = decoded(eth(0x88cc, new Uint8Array(30)));
  assert.equal(lldp.arp, false);
  assert.equal(lldp.ipVersion, 0);
  assert.equal(lldp.etherType, 0x88cc);
  // 802.3 with a length field and LLC (spanning tree).
  const stp = decoded(eth(38, cat([0x42, 0x42, 3], new Uint8Array(35))));
  assert.equal(stp.etherType, 0);
  assert.equal(stp.ipVersion, 0);
});

Deno.test("decodeFrame() marks IPv4 fragments and reads no transport from later ones", () => {
  const body = udp(
    { sport: 4000, dport: 33000, length: 8 + 2000 },
    new Uint8Array(1472),
  );
  const first = decoded(
    eth(0x0800, ipv4({ proto: IPPROTO_UDP, frag: 0x2000, id: 9 }, body)),
  );
  assert.equal(first.fragment, true);
  assert.equal(first.fragOffset, 0);
  assert.equal(first.srcPort, 4000);
  assert.equal(first.payloadLen, 1472);
  assert.equal(first.payloadWireLen, 1472);
  assert.equal(first.app, APP_NONE);
  const later = decoded(
    eth(
      0x0800,
      ipv4({ proto: IPPROTO_UDP, frag: 185, id: 9 }, new Uint8Array(536)),
    ),
  );
  assert.equal(later.fragment, true);
  assert.equal(later.fragOffset, 1480);
  assert.equal(later.ipId, 9);
  assert.equal(later.srcPort, 0);
  assert.equal(later.dstPort, 0);
  assert.equal(later.l4Offset, -1);
  assert.equal(later.payloadOffset, 34);
  assert.equal(later.payloadLen, 536);
  const df = decoded(
    eth(
      0x0800,
      ipv4(
        { proto: IPPROTO_UDP, frag: 0x4000 },
        udp({ sport: 1, dport: 2 }, cat("")),
      ),
    ),
  );
  assert.equal(df.fragment, false);
});

Deno.test("decodeFrame() bounds the payload by the IP length, not Ethernet padding", () => {
  const ip = ipv4(
    { proto: IPPROTO_UDP },
    udp({ sport: 1, dport: 2 }, cat("hi")),
  );
  const padded = cat(eth(0x0800, ip), new Uint8Array(60 - 14 - ip.length));
  const p = decoded(padded);
  assert.equal(p.ipLen, 30);
  assert.equal(p.payloadLen, 2);
  assert.equal(p.payloadWireLen, 2);
});

Deno.test("decodeFrame() keeps the wire lengths of a frame cut by the snap length", () => {
  const ip = ipv4(
    { proto: IPPROTO_TCP },
    tcp({ sport: 1, dport: 2, flags: TCP_ACK }, new Uint8Array(1000)),
  );
  const whole = eth(0x0800, ip);
  const p = decoded(whole.slice(0, 96), { wirelen: whole.length });
  assert.equal(p.ipLen, 1040);
  assert.equal(p.payloadWireLen, 1000);
  assert.equal(p.payloadLen, 96 - 54);
  // TCP options cut by the capture: an empty payload, no fault.
  const opts = eth(
    0x0800,
    ipv4(
      { proto: IPPROTO_TCP },
      tcp({ sport: 1, dport: 2, flags: 2, options: new Array(20).fill(1) }),
    ),
  );
  const q = decoded(opts.slice(0, 60), { wirelen: opts.length });
  assert.equal(q.dstPort, 2);
  assert.equal(q.payloadLen, 0);
  assert.equal(q.payloadOffset, 60);
});

Deno.test("decodeFrame() takes a zero IP or UDP length as the rest of the frame (offload, BIG TCP)", () => {
  const tso = decoded(
    eth(
      0x0800,
      ipv4(
        { proto: IPPROTO_TCP, totalLength: 0 },
        tcp({ sport: 1, dport: 80, flags: TCP_ACK }, new Uint8Array(3000)),
      ),
    ),
  );
  assert.equal(tso.ipLen, 3040);
  assert.equal(tso.payloadWireLen, 3000);
  const big6 = decoded(
    eth(
      0x86dd,
      ipv6(
        { nh: IPPROTO_UDP, plen: 0 },
        udp({ sport: 1, dport: 4789, length: 0 }, new Uint8Array(70000)),
      ),
    ),
  );
  assert.equal(big6.ipLen, 40 + 70008);
  assert.equal(big6.payloadWireLen, 70000);
});

Deno.test("decodeFrame() returns the reason for each malformed frame", async (t) => {
  const l4 = tcp({ sport: 1, dport: 2, flags: TCP_SYN });
  const ip = ipv4({ proto: IPPROTO_TCP }, l4);
  const ip6 = ipv6(
    { nh: IPPROTO_UDP },
    udp({ sport: 1, dport: 2 }, new Uint8Array(4)),
  );
  const cases: [string, Uint8Array, number, string][] = [
    ["eth_short", new Uint8Array(13), 1, "eth_short"],
    ["vlan_short", eth(0x8100, new Uint8Array(3)), 1, "vlan_short"],
    [
      "too many tags",
      eth(
        0x8100,
        cat(
          ...new Array(9).fill(cat(u16(1), u16(0x8100))),
          u16(1),
          u16(0x0800),
          ip,
        ),
      ),
      1,
      "encap_too_deep",
    ],
    [
      "MPLS without bottom",
      eth(0x8847, cat(...new Array(10).fill(u32(64)))),
      1,
      "encap_too_deep",
    ],
    ["mpls_short", eth(0x8847, cat(u32(0x100 | 64))), 1, "mpls_short"],
    ["pppoe_short", eth(0x8864, new Uint8Array(7)), 1, "pppoe_short"],
    ["sll_short", new Uint8Array(15), LINKTYPE_LINUX_SLL, "sll_short"],
    ["sll2_short", new Uint8Array(19), LINKTYPE_LINUX_SLL2, "sll_short"],
    ["null_short", new Uint8Array(3), LINKTYPE_NULL, "null_short"],
    ["ppp_short", new Uint8Array([0xff, 0x03]), LINKTYPE_PPP, "ppp_short"],
    ["unsupported link type", ip, 105, "linktype_unsupported"],
    ["ipv4_short", eth(0x0800, ip.subarray(0, 19)), 1, "ipv4_short"],
    [
      "ipv4_bad_version",
      eth(0x0800, cat([0x65], ip.subarray(1))),
      1,
      "ipv4_bad_version",
    ],
    [
      "ipv4_bad_ihl",
      eth(0x0800, ipv4({ proto: 6, ihl: 4 }, l4)),
      1,
      "ipv4_bad_ihl",
    ],
    [
      "total length below the header",
      eth(0x0800, ipv4({ proto: 6, totalLength: 19 }, l4)),
      1,
      "ipv4_bad_len",
    ],
    [
      "total length beyond the frame",
      eth(0x0800, ipv4({ proto: 6, totalLength: 41 }, l4)),
      1,
      "ipv4_bad_len",
    ],
    ["ipv6_short", eth(0x86dd, ip6.subarray(0, 39)), 1, "ipv6_short"],
    [
      "ipv6_bad_version",
      eth(0x86dd, cat([0x40], ip6.subarray(1))),
      1,
      "ipv6_bad_version",
    ],
    [
      "ipv6_bad_len",
      eth(
        0x86dd,
        ipv6({ nh: 17, plen: 13 }, udp({ sport: 1, dport: 2 }, cat(""))),
      ),
      1,
      "ipv6_bad_len",
    ],
    [
      "ipv6_ext_short",
      eth(0x86dd, ipv6({ nh: 0 }, cat([17, 1], new Uint8Array(8)))),
      1,
      "ipv6_ext_short",
    ],
    [
      "ipv6 fragment header short",
      eth(0x86dd, ipv6({ nh: 44 }, new Uint8Array(7))),
      1,
      "ipv6_ext_short",
    ],
    [
      "ipv6_ext_too_many",
      eth(
        0x86dd,
        ipv6(
          { nh: 60 },
          cat(...new Array(9).fill(cat(ipv6Ext(60))), ipv6Ext(59)),
        ),
      ),
      1,
      "ipv6_ext_too_many",
    ],
    [
      "tcp_short",
      eth(0x0800, ipv4({ proto: 6 }, l4.subarray(0, 19))),
      1,
      "tcp_short",
    ],
    [
      "tcp data offset below 20",
      eth(
        0x0800,
        ipv4(
          { proto: 6 },
          tcp({ sport: 1, dport: 2, flags: 2, dataOffset: 4 }),
        ),
      ),
      1,
      "tcp_bad_off",
    ],
    [
      "tcp data offset past the packet",
      eth(
        0x0800,
        ipv4(
          { proto: 6 },
          tcp({ sport: 1, dport: 2, flags: 2, dataOffset: 6 }),
        ),
      ),
      1,
      "tcp_bad_off",
    ],
    [
      "udp_short",
      eth(0x0800, ipv4({ proto: 17 }, new Uint8Array(7))),
      1,
      "udp_short",
    ],
    [
      "udp length below 8",
      eth(
        0x0800,
        ipv4({ proto: 17 }, udp({ sport: 1, dport: 2, length: 7 }, cat(""))),
      ),
      1,
      "udp_bad_len",
    ],
    [
      "udp length past the packet",
      eth(
        0x0800,
        ipv4({ proto: 17 }, udp({ sport: 1, dport: 2, length: 9 }, cat(""))),
      ),
      1,
      "udp_bad_len",
    ],
    [
      "icmp_short",
      eth(0x0800, ipv4({ proto: 1 }, new Uint8Array(3))),
      1,
      "icmp_short",
    ],
    [
      "sctp_short",
      eth(0x0800, ipv4({ proto: 132 }, new Uint8Array(11))),
      1,
      "sctp_short",
    ],
    [
      "dccp_short",
      eth(0x0800, ipv4({ proto: 33 }, new Uint8Array(11))),
      1,
      "dccp_short",
    ],
    [
      "dccp_bad_off",
      eth(
        0x0800,
        ipv4({ proto: 33 }, cat([0, 1, 0, 2, 2], new Uint8Array(11))),
      ),
      1,
      "dccp_bad_off",
    ],
    [
      "udplite_short",
      eth(0x0800, ipv4({ proto: 136 }, new Uint8Array(7))),
      1,
      "udplite_short",
    ],
    [
      "icmpv6 short",
      eth(0x86dd, ipv6({ nh: 58 }, new Uint8Array(2))),
      1,
      "icmp_short",
    ],
  ];
  for (const [name, frame, linktype, fault] of cases) {
    await t.step(name, () => assert.equal(faultOf(frame, { linktype }), fault));
  }
  await t.step("ipv4 options not captured", () => {
    const opts = new Array(20).fill(1);
    const whole = eth(0x0800, ipv4({ proto: 6, options: opts }, l4));
    const cut = whole.subarray(0, 40);
    assert.equal(faultOf(cut, { wirelen: whole.length }), "ipv4_short");
  });
  assert.deepEqual(
    new Set(cases.map((c) => c[3])).difference(new Set(FAULTS)),
    new Set(),
  );
});

Deno.test("decodeFrame() resets every field a previous frame set", () => {
  const p = newPacket();
  const dns = eth(
    0x86dd,
    ipv6(
      { nh: 0 },
      cat(
        ipv6Ext(44),
        [IPPROTO_UDP, 0, 0, 1],
        u32(5),
        udp({ sport: 5353, dport: 5353 }, dnsQuery("host.local")),
      ),
    ),
    { vlans: [3] },
  );
  assert.equal(decodeBytes(p, dns), null);
  assert.equal(p.app, APP_DNS);
  assert.equal(p.fragment, true);
  const arp = eth(0x0806, new Uint8Array(28));
  assert.equal(decodeBytes(p, arp, { tsUs: 5 }), null);
  const fresh = newPacket();
  for (const key of Object.keys(fresh) as (keyof Packet)[]) {
    const meta = ["data", "view", "tsUs", "caplen", "wirelen", "linktype"];
    const link = ["etherType", "arp", "l3Offset", "ethSrc", "ethDst"];
    if ([...meta, ...link].includes(key)) continue;
    assert.deepEqual(p[key], fresh[key], `field ${key}`);
  }
  assert.equal(p.arp, true);
  assert.equal(p.ethDst, 0x000102030405);
  assert.equal(p.ethSrc, 0x060708090a0b);
  assert.equal(p.payloadOffset, 0);
  // A faulty frame after an HTTP request leaves no stale facts either.
  const http = eth(
    0x0800,
    ipv4(
      { proto: 6 },
      tcp({ sport: 1, dport: 80, flags: 0x18 }, cat("GET / HTTP/1.0\r\n\r\n")),
    ),
  );
  assert.equal(decodeBytes(p, http), null);
  assert.equal(p.http.method, "GET");
  assert.equal(decodeBytes(p, new Uint8Array(5)), "eth_short");
  assert.equal(p.app, APP_NONE);
  assert.equal(p.http.method, "");
  assert.equal(p.ipVersion, 0);
  assert.deepEqual([...p.src], [0, 0, 0, 0]);
});

Deno.test("decodeFrame() decodes frames of a batch in place and rejects an index outside it", () => {
  const frames = [
    eth(0x0800, IP4_TCP_SYN),
    eth(0x0806, new Uint8Array(28)),
    new Uint8Array(10),
    eth(0x86dd, ipv6({ nh: 58 }, cat([128, 0, 0, 0], u32(1)))),
  ];
  const batch = batchOf(
    frames.map((data, i) => ({
      data,
      linktype: 1,
      wirelen: data.length,
      tsUs: 1000 + i,
    })),
  );
  const p = newPacket();
  assert.equal(decodeFrame(p, batch, 3), null);
  assert.equal(p.icmpType, 128);
  assert.equal(p.tsUs, 1003);
  assert.equal(p.frameOffset, batch.offsets[3]);
  assert.equal(p.l3Offset, batch.offsets[3]! + 14);
  assert.equal(decodeFrame(p, batch, 0), null);
  assert.equal(p.dstPort, 443);
  assert.equal(p.payloadOffset, 14 + 24 + 40);
  assert.throws(() => decodeFrame(p, batch, 4), RangeError);
  assert.throws(() => decodeFrame(p, batch, -1), RangeError);
  // A caplen past the end of the buffer is clipped, not read.
  batch.caplens[3] = 1 << 20;
  assert.equal(decodeFrame(p, batch, 3), null);
  assert.equal(p.caplen, batch.data.length - batch.offsets[3]!);
  batch.offsets[3] = batch.data.length + 100;
  assert.equal(decodeFrame(p, batch, 3), "eth_short");
  assert.equal(p.frameOffset + p.caplen, batch.data.length);
  assert.equal(p.payloadOffset, batch.data.length);
});

Deno.test("decodeAll() hands over decoded frames and counts every outcome", () => {
  const frames = [
    eth(0x0800, IP4_TCP_SYN),
    eth(0x0806, new Uint8Array(28)),
    new Uint8Array(10),
    eth(0x86dd, ipv6({ nh: 58 }, cat([128, 0, 0, 0], u32(1)))),
    eth(0x88cc, new Uint8Array(20)),
    eth(
      0x0800,
      ipv4({ proto: 17 }, udp({ sport: 1, dport: 53 }, cat([0, 1, 2]))),
    ),
  ];
  const batch = batchOf(
    frames.map((data) => ({
      data,
      linktype: 1,
      wirelen: data.length,
      tsUs: 0,
    })),
  );
  const counters = new DecodeCounters();
  const seen: number[] = [];
  const n = decodeAll(batch, {
    counters,
    onPacket: (p) => seen.push(p.ipVersion),
  });
  assert.equal(n, 5);
  assert.deepEqual(seen, [4, 0, 6, 0, 4]);
  assert.equal(counters.frames, 6);
  assert.equal(counters.ipv4, 2);
  assert.equal(counters.ipv6, 1);
  assert.equal(counters.arp, 1);
  assert.equal(counters.other, 1);
  assert.equal(counters.errors, 1);
  assert.equal(counters.appErrors, 1);
  const snap = counters.snapshot();
  assert.equal(snap.eth_short, 1);
  assert.equal(snap.dns_short, 1);
  assert.equal(snap.tcp_short, 0);
  assert.deepEqual(Object.keys(snap), [...FAULTS]);
  counters.count("tcp_short");
  assert.equal(counters.get("tcp_short"), 1);
  assert.equal(isAppFault("dns_short"), true);
  assert.equal(isAppFault("tcp_short"), false);
  counters.reset();
  assert.equal(counters.errors + counters.appErrors + counters.frames, 0);
});

// Application facts, frame level.

function udp4(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  return eth(
    0x0800,
    ipv4({ proto: IPPROTO_UDP }, udp({ sport, dport }, payload)),
  );
}

function tcp4(
  sport: number,
  dport: number,
  payload: Uint8Array | string,
): Uint8Array {
  const body = typeof payload === "string" ? TEXT.encode(payload) : payload;
  return eth(
    0x0800,
    ipv4(
      { proto: IPPROTO_TCP },
      tcp({ sport, dport, flags: TCP_ACK | TCP_PSH }, body),
    ),
  );
}

Deno.test("decodeFrame() reads the DNS question on ports 53, 5353 and 5355, over UDP and TCP", async (t) => {
  for (const port of [53, 5353, 5355]) {
    await t.step(`UDP port ${port}`, () => {
      const p = decoded(
        udp4(40000, port, dnsQuery("WwW.ExAmple.COM", 28, 0x1234)),
      );
      assert.equal(p.app, APP_DNS);
      assert.equal(p.dns.qname, "www.example.com");
      assert.equal(p.dns.qtype, 28);
      assert.equal(p.dns.qclass, 1);
      assert.equal(p.dns.id, 0x1234);
      assert.equal(p.dns.qr, false);
      assert.equal(p.dns.flags, 0x0100);
      assert.equal(p.dns.qdcount, 1);
      assert.equal(p.dns.ancount, 0);
    });
  }
  await t.step("a response from port 53", () => {
    const msg = dnsQuery("a.b", 1, 7);
    msg[2] = 0x81;
    msg[3] = 0x83; // QR, RD, RA, NXDOMAIN
    const p = decoded(udp4(53, 40000, msg));
    assert.equal(p.dns.qr, true);
    assert.equal(p.dns.rcode, 3);
    assert.equal(p.dns.opcode, 0);
  });
  await t.step("TCP with the length prefix", () => {
    const msg = dnsQuery("tcp.example", 16);
    const p = decoded(tcp4(40000, 53, cat(u16(msg.length), msg)));
    assert.equal(p.app, APP_DNS);
    assert.equal(p.dns.qname, "tcp.example");
    assert.equal(p.dns.qtype, 16);
  });
  await t.step("a TCP segment without payload is not DNS", () => {
    const p = decoded(tcp4(40000, 53, ""));
    assert.equal(p.app, APP_NONE);
    assert.equal(p.appFault, null);
  });
  await t.step("a message cut by the snap length is not a fault", () => {
    const frame = udp4(40000, 53, dnsQuery("a-rather-long-name.example.org"));
    const p = decoded(frame.subarray(0, frame.length - 10), {
      wirelen: frame.length,
    });
    assert.equal(p.app, APP_NONE);
    assert.equal(p.appFault, null);
  });
  await t.step("an empty datagram on port 53 is dns_short", () => {
    const p = decoded(udp4(40000, 53, new Uint8Array(0)));
    assert.equal(p.appFault, "dns_short");
  });
});

Deno.test("decodeFrame() stops at a DNS pointer loop and counts it", async (t) => {
  const header = cat(u16(1), u16(0x0100), u16(1), u16(0), u16(0), u16(0));
  const cases: [string, Uint8Array, string][] = [
    [
      "a pointer to itself",
      cat(header, [0xc0, 12], u16(1), u16(1)),
      "dns_bad_pointer",
    ],
    [
      "a label, then a pointer back to it",
      cat(header, [1, 0x61, 0xc0, 12], u16(1), u16(1)),
      "dns_bad_pointer",
    ],
    [
      "a forward pointer",
      cat(header, [0xc0, 16], u16(1), u16(1), [1, 0x61, 0]),
      "dns_bad_pointer",
    ],
    [
      "a pointer into the header",
      cat(header, [0xc0, 2], u16(1), u16(1)),
      "dns_bad_pointer",
    ],
    [
      "a reserved label type",
      cat(header, [0x41, 0], u16(1), u16(1)),
      "dns_bad_label",
    ],
    [
      "a name over 255 bytes",
      cat(
        header,
        ...new Array(5).fill(cat([63], new Uint8Array(63).fill(0x61))),
        [0],
        u16(1),
        u16(1),
      ),
      "dns_name_too_long",
    ],
    ["a label past the end", cat(header, [5, 0x61]), "dns_short"],
    ["no room for type and class", cat(header, [1, 0x61, 0], [0]), "dns_short"],
  ];
  for (const [name, msg, fault] of cases) {
    await t.step(name, () => {
      const p = decoded(udp4(40000, 53, msg));
      assert.equal(p.app, APP_NONE);
      assert.equal(p.appFault, fault);
      assert.equal(p.dns.qname, "");
    });
  }
});

Deno.test("decodeFrame() escapes DNS name bytes that are not printable", () => {
  const name = cat([3, 0x61, 0x2e, 0x62], [4, 0x00, 0x5c, 0xff, 0x20], [0]);
  const msg = cat(
    u16(1),
    u16(0x0100),
    u16(1),
    u16(0),
    u16(0),
    u16(0),
    name,
    u16(1),
    u16(1),
  );
  const p = decoded(udp4(40000, 53, msg));
  assert.equal(p.dns.qname, "a\\x2eb.\\x00\\x5c\\xff\\x20");
  const root = decoded(
    udp4(
      40000,
      53,
      cat(u16(1), u16(0), u16(1), u16(0), u16(0), u16(0), [0], u16(2), u16(1)),
    ),
  );
  assert.equal(root.dns.qname, "");
  assert.equal(root.dns.qtype, 2);
});

Deno.test("decodeFrame() reads an HTTP request line with Host and User-Agent", () => {
  const req =
    "POST /login?next=%2F HTTP/1.1\r\nhOsT:  Example.com:8080 \r\nAccept: */*\r\n" +
    "User-Agent: Mozilla/5.0 (X11)\r\nHost: second.example\r\n\r\nuser=a";
  const p = decoded(tcp4(50000, 8080, req));
  assert.equal(p.app, APP_HTTP);
  assert.equal(p.http.method, "POST");
  assert.equal(p.http.uri, "/login?next=%2F");
  assert.equal(p.http.version, "HTTP/1.1");
  assert.equal(p.http.host, "Example.com:8080");
  assert.equal(p.http.userAgent, "Mozilla/5.0 (X11)");
});

Deno.test("decodeFrame() tells HTTP requests from other text protocols", async (t) => {
  const cases: [string, string, boolean][] = [
    ["HTTP/0.9 GET", "GET /\r\n", true],
    ["a request line cut by the segment", "GET /a/very/long/path?q=", true],
    ["a URI with a space", "GET /a b HTTP/1.0\r\n\r\n", true],
    ["an extension method", "PROPFIND /dav HTTP/1.1\r\n\r\n", true],
    ["an SMTP command", "EHLO mail.example\r\n", false],
    ["an FTP command", "USER anonymous\r\n", false],
    ["an HTTP response", "HTTP/1.1 200 OK\r\n\r\n", false],
    ["a lower-case method", "get / HTTP/1.1\r\n", false],
    ["no target", "GET  HTTP/1.1\r\n", false],
    ["a method without a space", "GETTING", false],
  ];
  for (const [name, text, isHttp] of cases) {
    await t.step(name, () => {
      const p = decoded(tcp4(50000, 80, text));
      assert.equal(p.app === APP_HTTP, isHttp);
      if (!isHttp) assert.equal(p.http.method, "");
    });
  }
  await t.step("control characters are escaped and long values capped", () => {
    const ua = "x".repeat(2000);
    const req =
      `GET /\x1b[2J\x7f\xe9 HTTP/1.1\r\nUser-Agent: ${ua}\r\nHost: a\tb\r\n\r\n`;
    const p = decoded(tcp4(50000, 80, cat(req)));
    assert.equal(p.http.uri, "/\\x1b[2J\\x7f\\xe9");
    assert.equal(p.http.userAgent.length, 512);
    assert.equal(p.http.host, "a\\x09b");
  });
});

Deno.test("decodeFrame() reads the SNI and version of a TLS ClientHello on any port", () => {
  const p = decoded(
    tcp4(
      50000,
      8443,
      clientHello({
        sni: "api.example.net",
        versions: [0x3a3a, 0x0304, 0x0303],
      }),
    ),
  );
  assert.equal(p.app, APP_TLS);
  assert.equal(p.tls.sni, "api.example.net");
  assert.equal(p.tls.version, 0x0304);
  const old = decoded(tcp4(50000, 443, clientHello({ sni: "old.example" })));
  assert.equal(old.tls.version, 0x0303);
  const noSni = decoded(tcp4(50000, 443, clientHello({ versions: [0x0303] })));
  assert.equal(noSni.app, APP_TLS);
  assert.equal(noSni.tls.sni, "");
});

Deno.test("decodeFrame() reads what a segment holds of a ClientHello that spans segments", () => {
  const hello = clientHello({
    sni: "split.example",
    versions: [0x0304],
    pad: 2000,
  });
  // The SNI comes before the padding: found in the first segment.
  const p = decoded(tcp4(50000, 443, hello.subarray(0, 1400)));
  assert.equal(p.app, APP_TLS);
  assert.equal(p.tls.sni, "split.example");
  assert.equal(p.tls.version, 0x0304);
  assert.equal(p.appFault, null);
  // Cut before the extensions: a ClientHello with the legacy version only.
  const q = decoded(tcp4(50000, 443, hello.subarray(0, 60)));
  assert.equal(q.app, APP_TLS);
  assert.equal(q.tls.sni, "");
  assert.equal(q.tls.version, 0x0303);
});

Deno.test("decodeFrame() counts a ClientHello whose lengths overrun their structure", () => {
  const hello = clientHello({ sni: "x.example", versions: [0x0304] });
  const badExt = hello.slice();
  // The extensions block length (after 5 + 4 + 2 + 32 + 33 + 2 + 4 + 2 bytes).
  const at = 5 + 4 + 2 + 32 + 33 + 6 + 2;
  badExt[at] = 0xff;
  const p = decoded(tcp4(50000, 443, badExt));
  assert.equal(p.app, APP_NONE);
  assert.equal(p.appFault, "tls_bad_len");
  assert.equal(p.tls.sni, "");
  const badSid = hello.slice();
  badSid[5 + 4 + 2 + 32] = 33;
  assert.equal(decoded(tcp4(50000, 443, badSid)).appFault, "tls_bad_len");
});

Deno.test("decodeFrame() reads a ClientHello that Deno's own TLS client sent", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = Deno.connectTls({
    hostname: "localhost",
    port: listener.addr.port,
  })
    .then((c) => c.handshake().finally(() => c.close()))
    .catch((e: unknown) => e); // the server hangs up mid-handshake
  const conn = await listener.accept();
  const buf = new Uint8Array(16384);
  let n = 0;
  // Read until the whole first record is in.
  while (n < 5 || n < 5 + ((buf[3]! << 8) | buf[4]!)) {
    const r = await conn.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  conn.close();
  listener.close();
  await client;
  const p = decoded(tcp4(50000, 443, buf.subarray(0, n)));
  assert.equal(p.app, APP_TLS);
  assert.equal(p.tls.sni, "localhost");
  assert.equal(p.tls.version, 0x0304);
});
