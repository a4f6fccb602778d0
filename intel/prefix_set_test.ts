import assert from "node:assert/strict";
import {
  formatPrefix,
  parseIpv4,
  parsePrefix,
  PrefixSetBuilder,
} from "./prefix_set.ts";
import { parseAddr } from "../decode/mod.ts";

function ip4(s: string): number {
  const v = parseIpv4(s);
  assert.ok(v >= 0, s);
  return v;
}

Deno.test("prefix set answers the longest prefix holding an IPv4 address", () => {
  const b = new PrefixSetBuilder();
  b.addText("10.0.0.0/8", 0);
  b.addText("10.1.0.0/16", 1);
  b.addText("10.1.2.0/24", 2);
  b.addText("10.1.2.3", 3);
  b.addText("192.0.2.0/24", 4);
  b.addText("192.0.2.0/24", 5); // duplicate: the first wins
  b.addText("0.0.0.0/8", 6);
  const s = b.build();
  assert.equal(s.lookup4(ip4("10.1.2.3")), 3);
  assert.equal(s.lookup4(ip4("10.1.2.4")), 2);
  assert.equal(s.lookup4(ip4("10.1.3.0")), 1);
  assert.equal(s.lookup4(ip4("10.1.255.255")), 1);
  assert.equal(s.lookup4(ip4("10.2.0.0")), 0);
  assert.equal(s.lookup4(ip4("10.255.255.255")), 0);
  assert.equal(s.lookup4(ip4("11.0.0.0")), -1);
  assert.equal(s.lookup4(ip4("9.255.255.255")), -1);
  assert.equal(s.lookup4(ip4("192.0.2.200")), 4);
  assert.equal(s.lookup4(ip4("0.1.2.3")), 6);
  assert.equal(s.lookup4(ip4("255.255.255.255")), -1);
});

Deno.test("prefix set answers the longest IPv6 prefix", () => {
  const b = new PrefixSetBuilder();
  b.addText("2001:db8::/32", 0);
  b.addText("2001:db8:1::/48", 1);
  b.addText("2001:db8:1::5", 2);
  b.addText("ffff::/16", 3);
  const s = b.build();
  const w = (t: string) => parseAddr(t)!.words;
  assert.equal(s.lookup(6, w("2001:db8:1::5")), 2);
  assert.equal(s.lookup(6, w("2001:db8:1::6")), 1);
  assert.equal(s.lookup(6, w("2001:db8:2::1")), 0);
  assert.equal(s.lookup(6, w("2001:db9::1")), -1);
  assert.equal(s.lookup(6, w("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), 3);
  assert.equal(s.lookup(6, w("::1")), -1);
});

Deno.test("prefix set agrees with a linear scan on random prefixes", () => {
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const list: { net: number; bits: number }[] = [];
  const b = new PrefixSetBuilder();
  for (let i = 0; i < 12000; i++) {
    const bits = 8 + (rnd() % 25);
    const net = bits === 32
      ? rnd()
      : (rnd() & (0xffffffff << (32 - bits))) >>> 0;
    // Cluster addresses so prefixes nest often.
    const clustered = ((0x0a000000 | (net & 0x00ffffff)) &
      (bits === 0 ? 0 : (0xffffffff << (32 - bits)))) >>> 0;
    const n = bits >= 8 ? clustered : net;
    list.push({ net: n, bits });
    b.add4(n, bits, i);
  }
  const s = b.build();
  for (let q = 0; q < 20000; q++) {
    const a = q % 4 === 0 ? rnd() : (0x0a000000 | (rnd() & 0x00ffffff)) >>> 0;
    let best = -1, bestBits = -1;
    for (let i = 0; i < list.length; i++) {
      const { net, bits } = list[i]!;
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      if (((a & mask) >>> 0) === net && bits > bestBits) {
        best = i;
        bestBits = bits;
      }
    }
    assert.equal(s.lookup4(a), best, `address ${a.toString(16)}`);
  }
});

Deno.test("parsePrefix refuses what is not an address or prefix", () => {
  const p = { version: 4 as 4 | 6, v4: 0, v6: new Uint32Array(4), bits: 0 };
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4/33",
      "1.2.3.4/",
      "::1/129",
      "1::2::3",
      "g::1",
      "1.2.3.4-1.2.3.9",
      "example.com",
    ]
  ) {
    assert.equal(parsePrefix(bad, p), false, bad);
  }
  assert.ok(parsePrefix("192.0.2.77/24", p));
  assert.equal(formatPrefix(4, [p.v4], p.bits), "192.0.2.0/24");
  assert.ok(parsePrefix("2001:DB8::1/32", p));
  assert.equal(formatPrefix(6, p.v6, p.bits), "2001:db8::/32");
  assert.ok(parsePrefix("::ffff:192.0.2.1", p));
  assert.equal(formatPrefix(6, p.v6, p.bits), "::ffff:c000:201");
});
