import assert from "node:assert/strict";
import {
  APP_DNS,
  APP_FAULTS,
  APP_HTTP,
  DecodeCounters,
  decodeFrame,
  formatAddr,
  FRAME_FAULTS,
  type FrameFault,
  linktypeSupported,
  newPacket,
  type Packet,
  TUNNEL_ERSPAN2,
  TUNNEL_NAMES,
} from "./mod.ts";
import { corpusBatches, corpusFiles } from "./_test_frames.ts";

const PRINTABLE = /^[\x20-\x7e]*$/;

/** Decodes every frame of a corpus file, calling `each` after every frame. */
async function decodeFile(
  name: string,
  each: (p: Packet, fault: FrameFault | null, index: number) => void,
): Promise<void> {
  const p = newPacket();
  let index = 0;
  for (const batch of await corpusBatches(name)) {
    for (let i = 0; i < batch.count; i++, index++) {
      let fault;
      try {
        fault = decodeFrame(p, batch, i);
      } catch (e) {
        throw new Error(`Decoding frame ${index + 1} of "${name}" threw`, {
          cause: e,
        });
      }
      each(p, fault, index);
    }
  }
}

/** Decodes frame `n` (1-based, as tcpdump numbers them) of a corpus file. */
async function frame(
  name: string,
  n: number,
): Promise<[Packet, string | null]> {
  const p = newPacket();
  let out: [Packet, string | null] | null = null;
  await decodeFile(name, (q, fault, i) => {
    if (i === n - 1) out = [structuredClone(q), fault];
  });
  assert.ok(out !== null, `${name} has no frame ${n}`);
  return out ?? [p, null];
}

const tuple = (p: Packet) =>
  `${formatAddr(p.ipVersion, p.src)}.${p.srcPort} > ` +
  `${formatAddr(p.ipVersion, p.dst)}.${p.dstPort}`;

Deno.test("decodeFrame() decodes every frame of the tcpdump corpus without throwing", async () => {
  const frameFaults = new Set<string>(FRAME_FAULTS);
  const appFaults = new Set<string>(APP_FAULTS);
  const counters = new DecodeCounters();
  let supported = 0;
  let unsupportedFaults = 0;
  for (const name of corpusFiles()) {
    await decodeFile(name, (p, fault, i) => {
      const where = `${name} frame ${i + 1}`;
      counters.add(p, fault);
      if (fault !== null) assert.ok(frameFaults.has(fault), where);
      if (p.appFault !== null) assert.ok(appFaults.has(p.appFault), where);
      const end = p.frameOffset + p.caplen;
      assert.ok(p.payloadOffset >= p.frameOffset, where);
      assert.ok(
        p.payloadLen >= 0 && p.payloadOffset + p.payloadLen <= end,
        where,
      );
      assert.ok(p.l4Offset < end && p.l3Offset <= end, where);
      if (p.app === APP_DNS) assert.match(p.dns.qname, PRINTABLE, where);
      if (p.app === APP_HTTP) {
        const h = p.http;
        assert.match(
          h.method + h.uri + h.version + h.host + h.userAgent,
          PRINTABLE,
          where,
        );
      }
      if (linktypeSupported(p.linktype)) {
        supported++;
        if (fault === "linktype_unsupported") unsupportedFaults++;
      }
    });
  }
  assert.equal(unsupportedFaults, 0);
  // What the decoder makes of the corpus (many files are deliberately
  // broken): nearly every frame of a supported link type decodes.
  assert.equal(counters.frames, 10183);
  assert.ok(supported > 9500, `${supported} frames of supported link types`);
  const errors = counters.errors - counters.get("linktype_unsupported");
  assert.ok(errors < 200, `${errors} faults`);
  // Tunnelled frames count as what they carry: ERSPAN and VXLAN captures
  // mirror STP, ARP and LLC frames as well as IP.
  assert.ok(counters.ipv4 + counters.ipv6 > 5200);
  assert.ok(counters.tunnel(TUNNEL_ERSPAN2) > 100);
  assert.ok(counters.arp > 2000);
});

Deno.test("decodeFrame() reads the addresses, ports and TCP fields tcpdump prints", async (t) => {
  // Expected values from `tcpdump -nn -S -e -r FILE`.
  const cases: [string, number, string, string][] = [
    [
      "dns_tcp.pcap",
      1,
      "192.168.1.11.33779 > 209.87.249.18.53",
      "S 603899916 0 64240",
    ],
    [
      "dns_tcp.pcap",
      2,
      "209.87.249.18.53 > 192.168.1.11.33779",
      "SA 2043824403 603899917 64240",
    ],
    ["quic_handshake.pcap", 1, "::1.50606 > ::1.443", "UDP"], // NULL, AF 30
    ["ikev2four.pcap", 1, "192.168.1.2.500 > 192.168.1.1.500", "UDP"], // NULL, AF 2
    ["forces1.pcap", 1, "150.140.254.202.57077 > 211.129.72.8.6704", "SCTP"], // LINUX_SLL
    [
      "dccp_partial_csum_v6_simple.pcap",
      2,
      "3ffe::2.5001 > 3ffe::1.52921",
      "DCCP",
    ],
    ["mpls-ldp-hello.pcap", 1, "10.1.1.3.646 > 224.0.0.2.646", "UDP"], // PPP
    [
      "ipv6-routing-header.pcap",
      3,
      "2200::244:212:3fff:feae:22f7.5645 > 2200::240:2:0:0:4.5642",
      "UDP",
    ],
    ["LINKTYPE_IPV6.pcap", 1, "2001:db8::1.12345 > 2620:fe::9.53", "UDP"],
    ["LINKTYPE_RAW_ipv4.pcap", 1, "192.168.1.100.12345 > 9.9.9.9.53", "UDP"],
  ];
  const flags = (f: number) =>
    (f & 2 ? "S" : "") + (f & 16 ? "A" : "") + (f & 1 ? "F" : "");
  for (const [name, n, expected, detail] of cases) {
    await t.step(`${name} frame ${n}`, async () => {
      const [p, fault] = await frame(name, n);
      assert.equal(fault, null);
      assert.equal(tuple(p), expected);
      if (p.proto === 6) {
        assert.equal(
          `${flags(p.tcpFlags)} ${p.tcpSeq} ${p.tcpAck} ${p.tcpWindow}`,
          detail,
        );
      } else {
        const names: Record<number, string> = {
          17: "UDP",
          132: "SCTP",
          33: "DCCP",
        };
        assert.equal(names[p.proto], detail);
      }
    });
  }
  await t.step("802.1ad_QinQ.pcap frame 1 is ARP under VLAN 200", async () => {
    const [p, fault] = await frame("802.1ad_QinQ.pcap", 1);
    assert.equal(fault, null);
    assert.equal(p.arp, true);
    assert.equal(p.vlan, 200);
  });
});

Deno.test("decodeFrame() finds the DNS questions tcpdump prints in the corpus", async (t) => {
  // file, frame, qname, qtype, response, id, answers (from `tcpdump -nn -r`).
  const cases: [string, number, string, number, boolean, number, number][] = [
    ["dns_udp.pcap", 1, "www.tcpdump.org", 1, false, 22836, 0],
    ["dns_udp.pcap", 2, "www.tcpdump.org", 1, true, 22836, 2],
    ["dns_tcp.pcap", 4, "www.tcpdump.org", 1, false, 17177, 0],
    ["dns_tcp.pcap", 6, "www.tcpdump.org", 1, true, 17177, 2],
    ["dnssec.pcap", 1, "monadic.cynic.net", 44, false, 20972, 0],
    ["dnssec.pcap", 2, "monadic.cynic.net", 44, true, 20972, 3],
    ["dns-uri.pcap", 1, "_http.dns.test", 256, false, 44845, 0],
    ["dns-uri.pcap", 3, "_ftp.dns.test", 256, false, 25957, 0],
    ["dns-badcookie.pcap", 1, "", 6, false, 63147, 0],
    ["LINKTYPE_IPV4.pcap", 1, "example.com", 1, false, 4660, 0],
  ];
  for (const [name, n, qname, qtype, qr, id, ancount] of cases) {
    await t.step(`${name} frame ${n}: ${qname || "."}`, async () => {
      const [p] = await frame(name, n);
      assert.equal(p.app, APP_DNS);
      assert.equal(p.dns.qname, qname);
      assert.equal(p.dns.qtype, qtype);
      assert.equal(p.dns.qr, qr);
      assert.equal(p.dns.id, id);
      assert.equal(p.dns.ancount, ancount);
    });
  }
  await t.step("malformed DNS messages are counted, not parsed", async () => {
    assert.equal(
      (await frame("dns_fwdptr.pcap", 1))[0].appFault,
      "dns_bad_pointer",
    );
    assert.equal(
      (await frame("dns-badlabel.pcap", 1))[0].appFault,
      "dns_name_too_long",
    );
    // An empty datagram to port 53 (tcpdump: "[length 0 < 12] (invalid)").
    assert.equal((await frame("dns-zlip-1.pcap", 1))[0].appFault, "dns_short");
  });
});

Deno.test("decodeFrame() finds the HTTP requests in the corpus", async (t) => {
  const cases: [string, number, string, string, string, string][] = [
    ["print-flags.pcap", 4, "GET", "/", "HTTP/1.1", "localhost"],
    ["accecn_handshake.pcap", 4, "GET", "/1M", "HTTP/1.1", "66.228.43.12"],
    [
      "ipv4_tcp_http_xml_tso.pcap",
      1,
      "POST",
      "http://gwm-ml-a2.wsodqa.com//research/module-loader/module-loader.asp?",
      "HTTP/1.1",
      "gwm-ml-a2.wsodqa.com",
    ],
  ];
  for (const [name, n, method, uri, version, host] of cases) {
    await t.step(`${name}: ${method} ${host}`, async () => {
      const [p] = await frame(name, n);
      assert.equal(p.app, APP_HTTP);
      assert.equal(p.http.method, method);
      assert.ok(p.http.uri.startsWith(uri), p.http.uri);
      assert.equal(p.http.version, version);
      assert.equal(p.http.host, host);
    });
  }
});

Deno.test("decodeFrame() names the faults of the corpus's broken headers", async (t) => {
  const cases: [string, number, string][] = [
    ["ipv4_invalid_hdr_length.pcap", 1, "ipv4_bad_ihl"],
    ["ipv4_invalid_total_length.pcap", 1, "ipv4_bad_len"],
    ["ipv6-bad-version.pcap", 2, "ipv6_bad_version"],
    ["ipv6_39_byte_header.pcap", 1, "ipv6_short"],
    ["ipv6-next-header-oobr-1.pcap", 1, "ipv6_ext_short"],
    ["tcp_header_heapoverflow.pcap", 1, "tcp_short"],
    ["udp-length-heapoverflow.pcap", 1, "udp_short"],
  ];
  for (const [name, n, fault] of cases) {
    await t.step(`${name}: ${fault}`, async () => {
      assert.equal((await frame(name, n))[1], fault);
    });
  }
});

Deno.test("decodeFrame() unwraps the tunnels of the corpus's real captures", async (t) => {
  // Inner and outer tuples as `tcpdump -nn -r FILE` prints them (Geneve,
  // VXLAN, IPv6 in IPv6); for ERSPAN, which this tcpdump prints only as
  // "gre-proto-0x88be", read from the bytes `tcpdump -xx` shows.
  const cases: [string, number, string, string, string, number][] = [
    [
      "geneve.pcap",
      3,
      "geneve",
      "30.0.0.2.51225 > 30.0.0.1.22",
      "20.0.0.2.43443 > 20.0.0.1.6081",
      6,
    ],
    [
      "vxlan.pcap",
      1,
      "vxlan",
      "192.168.203.3.0 > 192.168.203.5.0",
      "192.168.203.1.45149 > 192.168.202.1.4789",
      1,
    ],
    [
      "bigtcp-ipv6-geneve-ipv4.pcap",
      1,
      "geneve",
      "192.168.1.2.43959 > 192.168.1.1.39887",
      "2604:1380:4091:ce00::b.55411 > 2604:1380:4091:ce00::d.6081",
      6,
    ],
    [
      "ipv6-srh-ext-header.pcap",
      1,
      "6in6",
      "a:b:c:12::1.0 > b2::2.0",
      "a:b:c:12::1.0 > a:b:c:2::f1:0.0",
      58,
    ],
    [
      "erspan-type-i-4.pcap",
      1,
      "erspan1",
      "10.1.1.100.0 > 10.1.1.1.0",
      "20.1.1.1.0 > 30.1.1.2.0",
      1,
    ],
    [
      "erspan-type-ii-1.pcap",
      1,
      "erspan2",
      "10.48.6.1.0 > 224.0.0.13.0",
      "1.1.1.2.0 > 192.168.255.5.0",
      103,
    ],
    [
      "erspan-type-iii-ft-0.pcap",
      1,
      "erspan3",
      "10.29.11.1.0 > 10.29.20.21.0",
      "10.29.30.104.0 > 10.29.11.13.0",
      1,
    ],
  ];
  for (const [name, n, kind, inner, outer, proto] of cases) {
    await t.step(`${name} frame ${n}: ${kind}`, async () => {
      const [p, fault] = await frame(name, n);
      assert.equal(fault, null);
      assert.equal(TUNNEL_NAMES[p.tunnelType], kind);
      assert.equal(p.tunnelDepth, 1);
      assert.equal(tuple(p), inner);
      assert.equal(p.proto, proto);
      assert.equal(
        `${formatAddr(p.tunnelVersion, p.tunnelSrc)}.${p.tunnelSrcPort} > ` +
          `${formatAddr(p.tunnelVersion, p.tunnelDst)}.${p.tunnelDstPort}`,
        outer,
      );
    });
  }
  await t.step("ERSPAN III of frame type 7 stays a GRE packet", async () => {
    const [p, fault] = await frame("erspan-type-iii-ft-7.pcap", 1);
    assert.equal(fault, null);
    assert.equal(p.tunnelDepth, 0);
    assert.equal(p.proto, 47);
  });
});
