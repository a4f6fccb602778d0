import assert from "node:assert/strict";
import {
  decodeBytes,
  formatAddr,
  LINKTYPE_RAW,
  newPacket,
  type Packet,
  TCP_SYN,
} from "../decode/mod.ts";
import {
  DEFRAG_DEFAULTS,
  type DefragAnomaly,
  type DefragConfig,
  Defragmenter,
} from "./mod.ts";
import {
  echoRequest,
  fragmentIpv4,
  fragmentIpv6,
  ipv4Fragment,
  ipv4Packet,
  ipv6Fragment,
  ipv6Packet,
  tcpSegment,
} from "../tests/fragment_frames.ts";

const SEC = 1_000_000;

/** A defragmenter and what it reported. */
function setup(config: Partial<DefragConfig> = {}) {
  const anomalies: string[] = [];
  const d = new Defragmenter(config, (p, kind: DefragAnomaly) => {
    anomalies.push(`${formatAddr(p.ipVersion, p.src)} ${kind}`);
  });
  const p = newPacket();
  /** Decodes a raw IP fragment at packet time `tsUs` and adds it. */
  const add = (ip: Uint8Array, tsUs = 0): Uint8Array | null => {
    assert.equal(
      decodeBytes(p, ip, { linktype: LINKTYPE_RAW, tsUs }),
      null,
      "fragment decodes",
    );
    assert.equal(p.fragment, true, "a fragment");
    const n = d.add(p);
    return n === 0 ? null : d.output.slice(0, n);
  };
  return { d, add, anomalies };
}

function decodeRaw(ip: Uint8Array): Packet {
  const p = newPacket();
  assert.equal(decodeBytes(p, ip, { linktype: LINKTYPE_RAW }), null);
  return p;
}

/** The same bytes, IPv4 header checksum aside (the rebuilt one is computed). */
function withoutChecksum(ip: Uint8Array): number[] {
  const b = [...ip];
  b[10] = b[11] = 0;
  return b;
}

const HTTP = new TextEncoder().encode(
  "GET /fragmented HTTP/1.1\r\nHost: frag.test\r\n\r\n",
);
const syn = ipv4Packet(
  { src: "10.99.0.66", dst: "10.99.0.10", proto: 6, id: 0x1111 },
  tcpSegment(40000, 80, 0x18, HTTP),
);

Deno.test("Defragmenter rebuilds an IPv4 datagram from fragments in any order", () => {
  const { d, add, anomalies } = setup();
  const frags = fragmentIpv4(syn, 24);
  assert.equal(frags.length, 3);
  assert.equal(add(frags[2]!), null);
  assert.equal(add(frags[0]!), null);
  const whole = add(frags[1]!);
  assert.ok(whole !== null);
  assert.deepEqual(withoutChecksum(whole), withoutChecksum(syn));
  const p = decodeRaw(whole);
  assert.equal(p.fragment, false);
  assert.equal(p.srcPort, 40000);
  assert.equal(p.http.host, "frag.test");
  // The rebuilt header checksum is right: summing the header gives 0xffff.
  let sum = 0;
  for (let k = 0; k < 20; k += 2) sum += (whole[k]! << 8) | whole[k + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  assert.equal(sum, 0xffff);
  assert.equal(d.counters.reassembled, 1);
  assert.equal(d.datagrams, 0);
  assert.equal(d.memoryBytes, 0);
  assert.deepEqual(anomalies, []);
});

Deno.test("Defragmenter rebuilds an IPv6 datagram, keeping the headers before the fragment header", () => {
  const { add } = setup();
  const ping = ipv6Packet(
    { src: "fd99::66", dst: "fd99::10", nh: 58 },
    echoRequest(128, 3000),
  );
  const frags = fragmentIpv6(ping, 1232);
  assert.equal(frags.length, 3);
  assert.equal(add(frags[1]!), null);
  assert.equal(add(frags[2]!), null);
  const whole = add(frags[0]!);
  assert.ok(whole !== null);
  assert.deepEqual([...whole], [...ping]);
  const p = decodeRaw(whole);
  assert.equal(p.icmpType, 128);
  assert.equal(p.ipLen, 40 + 3008);

  // A destination options header before the fragment header stays.
  const { add: add2 } = setup();
  const opts = [44, 0, 1, 4, 0, 0, 0, 0]; // next: fragment; PadN
  const withExt = (f: Uint8Array) => {
    const out = new Uint8Array(f.length + 8);
    out.set(f.subarray(0, 40));
    out.set(opts, 40);
    out.set(f.subarray(40), 48);
    out[6] = 60;
    const plen = out.length - 40;
    out[4] = plen >> 8;
    out[5] = plen & 0xff;
    return out;
  };
  const parts = fragmentIpv6(ping, 1600, 77).map(withExt);
  assert.equal(add2(parts[0]!), null);
  const w2 = add2(parts[1]!);
  assert.ok(w2 !== null);
  assert.equal(w2.length, 40 + 8 + 3008);
  assert.equal(w2[6], 60, "the base header still names the options");
  assert.equal(w2[40], 58, "the options now name ICMPv6");
  assert.equal(decodeRaw(w2).icmpType, 128);
});

Deno.test("Defragmenter ignores an exact repeat, and counts one with other bytes as an overlap, the first copy kept", () => {
  const { d, add, anomalies } = setup();
  const frags = fragmentIpv4(syn, 24);
  add(frags[0]!);
  assert.equal(add(frags[0]!), null);
  assert.equal(d.counters.duplicates, 1);
  add(frags[1]!);
  const forged = frags[1]!.slice();
  forged[25] = forged[25]! ^ 0xff;
  assert.equal(add(forged), null);
  assert.deepEqual(anomalies, ["10.99.0.66 frag_overlap"]);
  const whole = add(frags[2]!);
  assert.ok(whole !== null);
  assert.deepEqual(withoutChecksum(whole), withoutChecksum(syn));
});

Deno.test("Defragmenter drops a datagram whose fragments overlap, and its later fragments", () => {
  const { d, add, anomalies } = setup();
  const hdr = syn.subarray(0, 20);
  const data = syn.subarray(20);
  add(ipv4Fragment(hdr, 0, data.subarray(0, 24), true));
  // 16..40 overlaps 0..24 past its end: the datagram is dropped.
  assert.equal(add(ipv4Fragment(hdr, 16, data.subarray(16, 40), true)), null);
  assert.deepEqual(anomalies, ["10.99.0.66 frag_overlap"]);
  assert.equal(
    add(ipv4Fragment(hdr, 24, data.subarray(24), false)),
    null,
    "the rest no longer completes it",
  );
  assert.equal(d.counters.reassembled, 0);
  assert.equal(d.counters.dropped, 2);
  assert.equal(d.datagrams, 1, "kept as dropped until its timeout");
  assert.equal(d.memoryBytes < 1000, true);
  // Its timeout frees it without counting it as timed out.
  add(fragmentIpv4(syn, 24)[0]!.map((b, i) => i === 5 ? 0x22 : b), 31 * SEC);
  assert.equal(d.counters.timeouts, 0);
});

Deno.test("Defragmenter names a fragment inside one already held a Teardrop overlap", () => {
  const { d, add, anomalies } = setup();
  const hdr = syn.subarray(0, 20);
  const data = syn.subarray(20);
  // Teardrop's shape: 0..48, then 8..24 within it.
  add(ipv4Fragment(hdr, 0, data.subarray(0, 48), true));
  assert.equal(add(ipv4Fragment(hdr, 8, data.subarray(8, 24), false)), null);
  assert.deepEqual(anomalies, ["10.99.0.66 frag_teardrop"]);
  assert.equal(d.counters.frag_teardrop, 1);
  assert.equal(d.counters.frag_overlap, 0);

  // IPv6 overlaps are dropped alike (RFC 5722).
  const v6 = setup();
  const ping = ipv6Packet(
    { src: "fd99::66", dst: "fd99::10", nh: 58 },
    echoRequest(128, 200),
  );
  const body = ping.subarray(40);
  v6.add(
    ipv6Fragment(
      ping,
      { nh: 58, id: 5, off: 0, more: true },
      body.subarray(0, 64),
    ),
  );
  v6.add(
    ipv6Fragment(
      ping,
      { nh: 58, id: 5, off: 56, more: false },
      body.subarray(56),
    ),
  );
  assert.deepEqual(v6.anomalies, ["fd99::66 frag_overlap"]);
  assert.equal(v6.d.counters.reassembled, 0);
});

Deno.test("Defragmenter counts a first fragment too short for the TCP header (nmap -f) and still rebuilds it", () => {
  const { d, add, anomalies } = setup();
  const probe = ipv4Packet(
    { src: "10.99.0.66", dst: "10.99.0.10", proto: 6, id: 0x2222 },
    tcpSegment(55555, 22, TCP_SYN),
  );
  const frags = fragmentIpv4(probe, 8);
  assert.equal(frags.length, 3);
  let whole: Uint8Array | null = null;
  for (const f of frags) whole = add(f) ?? whole;
  assert.deepEqual(anomalies, ["10.99.0.66 frag_tiny"]);
  assert.ok(whole !== null);
  const p = decodeRaw(whole);
  assert.equal(p.tcpFlags, TCP_SYN);
  assert.equal(p.dstPort, 22);
  assert.equal(d.counters.frag_tiny, 1);
});

Deno.test("Defragmenter drops a datagram of too many fragments, one past 65,535 bytes, and bad lengths", () => {
  const { d, add, anomalies } = setup({ maxFragments: 4 });
  const big = ipv4Packet(
    { src: "10.0.0.1", dst: "10.0.0.2", proto: 17, id: 9 },
    new Uint8Array(80),
  );
  const frags = fragmentIpv4(big, 8);
  for (const f of frags) assert.equal(add(f), null);
  assert.equal(d.counters.frag_too_many, 1);
  assert.equal(d.counters.reassembled, 0);

  const hdr = ipv4Packet(
    { src: "10.0.0.3", dst: "10.0.0.2", proto: 17, id: 10 },
    new Uint8Array(0),
  );
  assert.equal(add(ipv4Fragment(hdr, 65528, new Uint8Array(16), false)), null);
  assert.equal(d.counters.frag_pkt_too_large, 1);
  // Not the last, and 12 bytes: not a multiple of 8.
  assert.equal(add(ipv4Fragment(hdr, 0, new Uint8Array(12), true)), null);
  // Data past the end the last fragment set.
  const hdr2 = hdr.slice();
  hdr2[5] = 11;
  add(ipv4Fragment(hdr2, 16, new Uint8Array(8), false));
  add(ipv4Fragment(hdr2, 24, new Uint8Array(8), true));
  assert.equal(d.counters.frag_invalid_length, 2);
  assert.deepEqual(anomalies, [
    "10.0.0.1 frag_too_many",
    "10.0.0.3 frag_pkt_too_large",
    "10.0.0.3 frag_invalid_length",
    "10.0.0.3 frag_invalid_length",
  ]);
});

Deno.test("Defragmenter drops a datagram that does not complete within the timeout (packet time)", () => {
  const { d, add } = setup({ timeoutUs: 30 * SEC });
  const frags = fragmentIpv4(syn, 24);
  add(frags[0]!, 1 * SEC);
  add(frags[1]!, 2 * SEC);
  d.expire(31 * SEC);
  assert.equal(d.datagrams, 1, "not yet: 30 s after the first fragment");
  assert.equal(add(frags[2]!, 31 * SEC + 1), null, "too late");
  assert.equal(d.counters.timeouts, 1);
  assert.equal(d.counters.reassembled, 0);
  // The late fragment began a new datagram of its own, which also times out.
  d.expire(62 * SEC);
  assert.equal(d.datagrams, 0);
  assert.equal(d.memoryBytes, 0);
  assert.equal(d.counters.timeouts, 2);
});

Deno.test("Defragmenter stays under its memcap and datagram cap under a flood of fragments", () => {
  const memcap = 1 << 20;
  const { d, add } = setup({ memcapBytes: memcap, maxDatagrams: 2000 });
  const body = new Uint8Array(1480);
  let peak = 0, peakDatagrams = 0;
  // 20,000 first fragments of datagrams that never complete, from 250
  // sources: 30 MB of fragment data against a 1 MiB memcap.
  for (let i = 0; i < 20_000; i++) {
    const hdr = ipv4Packet(
      {
        src: `10.1.${i % 250}.1`,
        dst: "10.99.0.10",
        proto: 17,
        id: i & 0xffff,
      },
      new Uint8Array(0),
    );
    add(ipv4Fragment(hdr, 0, body, true), i * 10);
    peak = Math.max(peak, d.memoryBytes);
    peakDatagrams = Math.max(peakDatagrams, d.datagrams);
  }
  assert.ok(peak <= memcap, `peak ${peak}`);
  assert.ok(peakDatagrams <= 2000);
  assert.ok(d.counters.evicted > 19_000, `${d.counters.evicted} evicted`);
  // Room is still made for a datagram that completes.
  const whole = fragmentIpv4(syn, 24).map((f) => add(f, 300_000)).at(-1);
  assert.ok(whole);
  assert.equal(d.counters.reassembled, 1);
});

Deno.test("DEFRAG_DEFAULTS are the documented limits", () => {
  assert.deepEqual(DEFRAG_DEFAULTS, {
    memcapBytes: 16 * 1024 * 1024,
    timeoutUs: 30 * SEC,
    maxFragments: 256,
    maxDatagrams: 4096,
  });
});
