import assert from "node:assert/strict";
import { DNS_MAX_JUMPS, type DnsName, parseDns, readDnsName } from "./dns.ts";
import { newPacket } from "./packet.ts";
import { cat, dnsName, dnsQuery, u16 } from "./_test_frames.ts";

const HEADER = cat(u16(0x4242), u16(0x8180), u16(1), u16(2), u16(0), u16(0));

function nameAt(
  msg: Uint8Array,
  pos: number,
): [string | null, number | string] {
  const out: DnsName = { name: "" };
  const r = readDnsName(msg, 0, pos, msg.length, out);
  return [typeof r === "number" ? out.name : null, r];
}

Deno.test("parseDns() reads the header and the first question", () => {
  const d = newPacket().dns;
  assert.equal(parseDns(dnsQuery("Mail.Example.ORG", 15, 77), d), null);
  assert.equal(d.id, 77);
  assert.equal(d.qr, false);
  assert.equal(d.opcode, 0);
  assert.equal(d.qdcount, 1);
  assert.equal(d.qname, "mail.example.org");
  assert.equal(d.qtype, 15);
  assert.equal(d.qclass, 1);
});

Deno.test("parseDns() takes a message without a question", () => {
  const d = newPacket().dns;
  assert.equal(
    parseDns(cat(u16(5), u16(0x2800), u16(0), u16(0), u16(0), u16(0)), d),
    null,
  );
  assert.equal(d.opcode, 5);
  assert.equal(d.qname, "");
  assert.equal(d.qtype, 0);
  assert.equal(parseDns(new Uint8Array(11), d), "dns_short");
});

Deno.test("readDnsName() follows compression pointers backwards", () => {
  // 12: www.example.com; answer names after the question point into it.
  const q = cat(dnsName("www.example.com"), u16(1), u16(1));
  const a1 = 12 + q.length;
  const a2 = a1 + 2;
  const a3 = a2 + 7;
  const msg = cat(HEADER, q, [0xc0, 12], [4, ...cat("mail"), 0xc0, 16], [
    0xc0,
    a2,
  ]);
  assert.deepEqual(nameAt(msg, a1), ["www.example.com", a1 + 2]);
  assert.deepEqual(nameAt(msg, a2), ["mail.example.com", a2 + 7]);
  // A pointer to a name that ends in a pointer: two jumps.
  assert.deepEqual(nameAt(msg, a3), ["mail.example.com", a3 + 2]);
});

Deno.test("readDnsName() refuses pointers that go forward, loop or jump too often", () => {
  const loop = cat(HEADER, [1, 0x61, 0xc0, 12]);
  assert.deepEqual(nameAt(loop, 12), [null, "dns_bad_pointer"]);
  // 12 points forward to 14, 14 points back to 12: a two-pointer loop.
  const pair = cat(HEADER, [0xc0, 14, 0xc0, 12]);
  assert.deepEqual(nameAt(pair, 12), [null, "dns_bad_pointer"]);
  assert.deepEqual(nameAt(pair, 14), [null, "dns_bad_pointer"]);
  // A chain of pointers, each to the one before it, ending at the name "a".
  const chain = (n: number) => {
    const parts: number[][] = [[1, 0x61, 0]];
    let prev = 12;
    for (let i = 0; i < n; i++) {
      const at = 15 + 2 * i;
      parts.push([0xc0, prev]);
      prev = at;
    }
    return { msg: cat(HEADER, ...parts), last: prev };
  };
  const ok = chain(DNS_MAX_JUMPS);
  assert.deepEqual(nameAt(ok.msg, ok.last), ["a", ok.last + 2]);
  const tooMany = chain(DNS_MAX_JUMPS + 1);
  assert.deepEqual(nameAt(tooMany.msg, tooMany.last), [
    null,
    "dns_bad_pointer",
  ]);
});

Deno.test("readDnsName() stops names longer than 255 bytes, also across pointers", () => {
  const label63 = cat([63], new Uint8Array(63).fill(0x62));
  // 12: three 63-byte labels (192 bytes); then a name of one more 63-byte label pointing there.
  const msg = cat(HEADER, label63, label63, label63, [0], label63, [0xc0, 12]);
  const second = 12 + 3 * 64 + 1;
  assert.deepEqual(nameAt(msg, 12)[1], second);
  assert.deepEqual(nameAt(msg, second), [null, "dns_name_too_long"]);
  // Exactly 255 bytes: 3 labels of 63, one of 61, the root.
  const label61 = cat([61], new Uint8Array(61).fill(0x63));
  const max = cat(HEADER, label63, label63, label63, label61, [0]);
  assert.equal(nameAt(max, 12)[0]?.length, 63 * 3 + 61 + 3);
});
