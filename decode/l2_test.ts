import assert from "node:assert/strict";
import {
  APP_DHCP,
  APP_NONE,
  ARP_REPLY,
  decodeBytes,
  DHCP_OFFER,
  formatAddr,
  formatMac,
  isGroupMac,
  NA_OVERRIDE,
  NA_SOLICITED,
  ND_NEIGHBOR_ADVERT,
  ND_ROUTER_ADVERT,
  newPacket,
  NO_MAC,
} from "./mod.ts";
import {
  arpMessage,
  cat,
  dhcpMessage,
  ethMacs,
  ipv4,
  ipv6,
  ndMessage,
  prng,
  udp,
} from "./_test_frames.ts";

const ATTACKER = "02:99:0a:63:00:42";
const GW = "02:99:0a:63:00:01";
const BCAST = "ff:ff:ff:ff:ff:ff";

Deno.test("decodeBytes() reads an ARP reply and the frame's MACs", () => {
  const p = newPacket();
  const f = ethMacs(
    "02:99:0a:63:00:14",
    ATTACKER,
    0x0806,
    arpMessage({
      op: 2,
      sha: ATTACKER,
      spa: "10.99.0.1",
      tha: "02:99:0a:63:00:14",
      tpa: "10.99.0.20",
    }),
  );
  assert.equal(decodeBytes(p, f), null);
  assert.equal(p.arp, true);
  assert.equal(p.ipVersion, 0);
  assert.equal(p.arpMsg.op, ARP_REPLY);
  assert.equal(formatMac(p.arpMsg.sha), ATTACKER);
  assert.equal(formatAddr(4, [p.arpMsg.spa, 0, 0, 0]), "10.99.0.1");
  assert.equal(formatMac(p.arpMsg.tha), "02:99:0a:63:00:14");
  assert.equal(formatAddr(4, [p.arpMsg.tpa, 0, 0, 0]), "10.99.0.20");
  assert.equal(formatMac(p.ethSrc), ATTACKER);
  assert.equal(formatMac(p.ethDst), "02:99:0a:63:00:14");
  assert.equal(p.appFault, null);
});

Deno.test("formatMac() and isGroupMac() read 48-bit MAC numbers", () => {
  assert.equal(formatMac(0xffffffffffff), BCAST);
  assert.equal(formatMac(0), "00:00:00:00:00:00");
  assert.equal(formatMac(NO_MAC), "");
  assert.equal(isGroupMac(0xffffffffffff), true);
  assert.equal(isGroupMac(0x01005e0000fb), true);
  assert.equal(isGroupMac(0x02990a630042), false);
});

Deno.test("decodeBytes() counts a cut ARP message as arp_short and clears the next frame", () => {
  const p = newPacket();
  const whole = arpMessage({
    op: 1,
    sha: GW,
    spa: "10.99.0.1",
    tpa: "10.99.0.20",
  });
  for (const n of [0, 7, 8, 20, 27]) {
    const f = ethMacs(BCAST, GW, 0x0806, whole.subarray(0, n));
    assert.equal(decodeBytes(p, f), null, `${n} bytes`);
    assert.equal(p.arp, true);
    assert.equal(p.arpMsg.op, 0);
    assert.equal(p.appFault, "arp_short", `${n} bytes`);
  }
  // Non-Ethernet/IPv4 ARP (hardware type 6 is IEEE 802, allowed; 0x0806
  // over IPv6 protocol type is not): no facts, no fault.
  const other = cat(whole.subarray(0, 2), [0x86, 0xdd], whole.subarray(4));
  assert.equal(decodeBytes(p, ethMacs(BCAST, GW, 0x0806, other)), null);
  assert.equal(p.arpMsg.op, 0);
  assert.equal(p.appFault, null);
  // An IP frame after an ARP one has no ARP facts left over.
  decodeBytes(p, ethMacs(BCAST, GW, 0x0806, whole));
  assert.equal(p.arpMsg.op, 1);
  const ip = ethMacs(
    GW,
    ATTACKER,
    0x0800,
    ipv4({ proto: 17 }, udp({ sport: 1, dport: 2 }, new Uint8Array(4))),
  );
  assert.equal(decodeBytes(p, ip), null);
  assert.equal(p.arp, false);
  assert.equal(p.arpMsg.op, 0);
  assert.equal(p.arpMsg.sha, NO_MAC);
});

function ndFrame(body: Uint8Array, hlim = 255, src = "fe80::1"): Uint8Array {
  return ethMacs(
    "33:33:00:00:00:01",
    GW,
    0x86dd,
    ipv6({ src, dst: "ff02::1", nh: 58, hlim }, body),
  );
}

Deno.test("decodeBytes() reads neighbour advertisements and router advertisements", () => {
  const p = newPacket();
  const na = ndMessage({
    type: 136,
    flags: NA_SOLICITED | NA_OVERRIDE,
    target: "fe80::99",
    lla: ATTACKER,
  });
  assert.equal(decodeBytes(p, ndFrame(na)), null);
  assert.equal(p.nd.type, ND_NEIGHBOR_ADVERT);
  assert.equal(formatAddr(6, p.nd.target), "fe80::99");
  assert.equal(formatMac(p.nd.lla), ATTACKER);
  assert.equal(p.nd.flags, NA_SOLICITED | NA_OVERRIDE);
  const ra = ndMessage({ type: 134, lifetime: 0, flags: 0x80, lla: GW });
  assert.equal(decodeBytes(p, ndFrame(ra)), null);
  assert.equal(p.nd.type, ND_ROUTER_ADVERT);
  assert.equal(p.nd.routerLifetime, 0);
  assert.equal(p.nd.flags, 0x80);
  assert.equal(formatMac(p.nd.lla), GW);
  assert.equal(formatAddr(6, p.nd.target), "::", "no target left from the NA");
});

Deno.test("decodeBytes() ignores ND with a hop limit below 255 and refuses zero-length options", () => {
  const p = newPacket();
  const na = ndMessage({ type: 136, target: "fe80::99", lla: ATTACKER });
  assert.equal(decodeBytes(p, ndFrame(na, 64)), null);
  assert.equal(p.nd.type, 0, "an off-link (routed) ND message is invalid");
  assert.equal(p.appFault, null);
  const bad = ndMessage({ type: 135, target: "fe80::1", options: [1, 0] });
  assert.equal(decodeBytes(p, ndFrame(bad)), null);
  assert.equal(p.nd.type, 0);
  assert.equal(p.appFault, "nd_bad_option");
  const short = ndMessage({ type: 136, target: "fe80::1" }).subarray(0, 12);
  assert.equal(decodeBytes(p, ndFrame(short)), null);
  assert.equal(p.nd.type, 0);
  assert.equal(p.appFault, "nd_short");
});

function dhcpFrame(payload: Uint8Array): Uint8Array {
  return ethMacs(
    BCAST,
    "02:99:0a:63:00:4d",
    0x0800,
    ipv4(
      { src: "10.99.0.77", dst: "255.255.255.255", proto: 17 },
      udp({ sport: 67, dport: 68 }, payload),
    ),
  );
}

Deno.test("decodeBytes() reads a DHCP offer: server, router, DNS servers, lease", () => {
  const p = newPacket();
  const offer = dhcpMessage({
    op: 2,
    type: DHCP_OFFER,
    chaddr: "02:99:00:00:dc:02",
    yiaddr: "10.99.0.170",
    serverId: "10.99.0.77",
    router: "10.99.0.77",
    dns: ["10.99.0.77", "9.9.9.9"],
    lease: 120,
    before: [0, 0, 12, 3, 0x61, 0x62, 0x63],
  });
  assert.equal(decodeBytes(p, dhcpFrame(offer)), null);
  assert.equal(p.app, APP_DHCP);
  const d = p.dhcp;
  assert.equal(d.op, 2);
  assert.equal(d.msgType, DHCP_OFFER);
  assert.equal(formatMac(d.chaddr), "02:99:00:00:dc:02");
  const ip = (x: number) => formatAddr(4, [x, 0, 0, 0]);
  assert.equal(ip(d.yiaddr), "10.99.0.170");
  assert.equal(ip(d.serverId), "10.99.0.77");
  assert.equal(ip(d.router), "10.99.0.77");
  assert.deepEqual([...d.dns.subarray(0, d.dnsCount)].map(ip), [
    "10.99.0.77",
    "9.9.9.9",
  ]);
  assert.equal(d.leaseS, 120);
});

Deno.test("decodeBytes() names broken DHCP messages and keeps no facts", () => {
  const p = newPacket();
  const ok = dhcpMessage({ op: 2, type: 2, chaddr: "02:00:00:00:00:01" });
  // Cut before the cookie; no cookie; an option past the end before the type.
  const cases: [Uint8Array, string][] = [
    [ok.subarray(0, 200), "dhcp_short"],
    [cat(ok.subarray(0, 236), [1, 2, 3, 4], ok.subarray(240)), "dhcp_short"],
    [
      dhcpMessage({
        op: 2,
        type: 2,
        chaddr: "02:00:00:00:00:01",
        before: [12, 200, 1, 2],
      }).subarray(0, 246),
      "dhcp_bad_option",
    ],
    [
      dhcpMessage({ op: 2, type: 2, chaddr: "02:00:00:00:00:01" }).subarray(
        0,
        240,
      ),
      "dhcp_short",
    ],
  ];
  for (const [payload, fault] of cases) {
    assert.equal(decodeBytes(p, dhcpFrame(payload)), null);
    assert.equal(p.app, APP_NONE);
    assert.equal(p.appFault, fault);
    assert.equal(p.dhcp.msgType, 0);
    assert.equal(p.dhcp.dnsCount, 0);
  }
});

Deno.test("decodeBytes() survives random bytes as ARP, ND and DHCP payloads", () => {
  const rnd = prng(23);
  const p = newPacket();
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(rnd() * 400);
    const junk = new Uint8Array(n);
    for (let k = 0; k < n; k++) junk[k] = Math.floor(rnd() * 256);
    const kind = i % 3;
    if (kind === 1 && n > 0) junk[0] = 133 + (i % 5);
    const frame = kind === 0
      ? ethMacs(BCAST, GW, 0x0806, junk)
      : kind === 1
      ? ndFrame(junk)
      : dhcpFrame(junk);
    const fault = decodeBytes(p, frame);
    assert.ok(fault === null || (kind === 1 && fault === "icmp_short"), fault!);
    if (p.app !== APP_NONE) assert.equal(p.appFault, null);
    assert.ok(p.dhcp.dnsCount <= 4);
    assert.ok(p.arpMsg.op >= 0 && p.arpMsg.op <= 0xffff);
  }
});
