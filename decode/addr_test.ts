import assert from "node:assert/strict";
import {
  addrScope,
  anyCidrContains,
  cidrContains,
  formatAddr,
  parseAddr,
  parseCidr,
  parseHostAddr,
} from "./addr.ts";

function roundTrip(text: string): string | null {
  const a = parseAddr(text);
  return a === null ? null : formatAddr(a.version, a.words);
}

Deno.test("formatAddr() writes IPv4 as a dotted quad from word 0", () => {
  assert.equal(formatAddr(4, Uint32Array.of(0x0a000001)), "10.0.0.1");
  assert.equal(formatAddr(4, [0xffffffff]), "255.255.255.255");
  assert.equal(formatAddr(4, [-1]), "255.255.255.255");
});

Deno.test("formatAddr() writes IPv6 in RFC 5952 form", async (t) => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0], "::"],
    [[0, 0, 0, 1], "::1"],
    [[0x20010db8, 0, 0, 1], "2001:db8::1"],
    // The longest run of zero groups is compressed, the first on a tie.
    [[0x20010000, 0x00010000, 0, 1], "2001:0:1::1"],
    [[0x20010db8, 0, 0x00010000, 1], "2001:db8::1:0:0:1"],
    // A single zero group is never compressed.
    [[0x00010002, 0x00030004, 0x00050006, 0x00070000], "1:2:3:4:5:6:7:0"],
    [[0x00000002, 0x00030004, 0x00050006, 0x00070008], "0:2:3:4:5:6:7:8"],
    [[0xfe800000, 0, 0x021122ff, 0xfe334455], "fe80::211:22ff:fe33:4455"],
    // IPv4-mapped addresses keep the dotted tail.
    [[0, 0, 0xffff, 0xc0a80101], "::ffff:192.168.1.1"],
  ];
  for (const [words, text] of cases) {
    await t.step(text, () => assert.equal(formatAddr(6, words), text));
  }
});

Deno.test("parseAddr() reads IPv4 and IPv6 text into words", () => {
  assert.deepEqual(parseAddr("10.0.0.1"), {
    version: 4,
    words: Uint32Array.of(0x0a000001, 0, 0, 0),
  });
  assert.deepEqual(
    parseAddr("2001:db8::ff00:42:8329")?.words,
    Uint32Array.of(0x20010db8, 0, 0x0000ff00, 0x00428329),
  );
  assert.deepEqual(
    parseAddr("::ffff:1.2.3.4")?.words,
    Uint32Array.of(0, 0, 0xffff, 0x01020304),
  );
  assert.equal(roundTrip("fe80::1%eth0"), "fe80::1");
  assert.equal(roundTrip("1:2:3:4:5:6:1.2.3.4"), "1:2:3:4:5:6:102:304");
  assert.equal(roundTrip("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
});

Deno.test("parseAddr() returns null for text that is not an address", async (t) => {
  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.",
    "256.1.1.1",
    "1.2.3.-1",
    "0x1.2.3.4",
    " 1.2.3.4",
    "010.0.0.1",
    "1.2.3.04",
    "1.2.3.4/24",
    "1::2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:::2",
    ":1::",
    "1::2::3",
    "12345::",
    "g::1",
    "1.2.3.4::",
    "::ffff:1.2.3.4:5",
    "::1.2.3",
  ];
  for (const text of bad) {
    await t.step(
      JSON.stringify(text),
      () => assert.equal(parseAddr(text), null),
    );
  }
});

Deno.test("parseAddr() and formatAddr() round-trip canonical addresses", () => {
  for (
    const text of [
      "0.0.0.0",
      "192.168.100.200",
      "::",
      "::1",
      "1::",
      "2001:db8::",
      "2001:db8:1:2:3:4:5:6",
      "::ffff:10.0.0.1",
    ]
  ) {
    assert.equal(roundTrip(text), text);
  }
});

Deno.test("parseHostAddr() trims the text and reads IPv4-mapped IPv6 as IPv4", () => {
  const mapped = parseHostAddr(" ::ffff:192.0.2.1 ")!;
  assert.equal(mapped.version, 4);
  assert.equal(formatAddr(4, mapped.words), "192.0.2.1");
  assert.deepEqual([...mapped.words], [0xc0000201, 0, 0, 0]);
  const v6 = parseHostAddr("2001:db8::1")!;
  assert.equal(v6.version, 6);
  assert.equal(formatAddr(6, v6.words), "2001:db8::1");
  assert.equal(parseHostAddr("10.0.0.1")!.version, 4);
  assert.equal(parseHostAddr("nas"), null);
});

Deno.test("parseCidr() clears host bits and normalises the text", () => {
  assert.equal(parseCidr("10.1.2.3/8")?.text, "10.0.0.0/8");
  assert.equal(parseCidr("2001:db8::1/48")?.text, "2001:db8::/48");
  assert.equal(parseCidr("1.2.3.4")?.text, "1.2.3.4/32");
  assert.equal(parseCidr("::1")?.text, "::1/128");
  assert.equal(parseCidr("0.0.0.0/0")?.text, "0.0.0.0/0");
  assert.equal(parseCidr("fe80::/10")?.text, "fe80::/10");
  assert.equal(parseCidr(" 192.168.0.0/16 ")?.text, "192.168.0.0/16");
  assert.equal(parseCidr("10.0.0.0/33"), null);
  assert.equal(parseCidr("::/129"), null);
  assert.equal(parseCidr("10.0.0.0/"), null);
  assert.equal(parseCidr("10.0.0.0/x"), null);
  assert.equal(parseCidr("nonsense/8"), null);
});

Deno.test("cidrContains() matches addresses inside the prefix only", () => {
  const v4 = parseCidr("10.1.0.0/16")!;
  const w = (s: string) => parseAddr(s)!.words;
  assert.equal(cidrContains(v4, 4, w("10.1.255.255")), true);
  assert.equal(cidrContains(v4, 4, w("10.2.0.0")), false);
  assert.equal(cidrContains(v4, 6, w("::a01:1")), false);
  assert.equal(cidrContains(parseCidr("0.0.0.0/0")!, 4, w("8.8.8.8")), true);
  assert.equal(cidrContains(parseCidr("1.2.3.4/32")!, 4, w("1.2.3.4")), true);
  assert.equal(cidrContains(parseCidr("1.2.3.4/32")!, 4, w("1.2.3.5")), false);
  const v6 = parseCidr("2001:db8:abcd:1200::/56")!;
  assert.equal(cidrContains(v6, 6, w("2001:db8:abcd:12ff::1")), true);
  assert.equal(cidrContains(v6, 6, w("2001:db8:abcd:1300::1")), false);
  assert.equal(cidrContains(parseCidr("::/0")!, 6, w("ff02::1")), true);
  const list = [v4, v6];
  assert.equal(anyCidrContains(list, 6, w("2001:db8:abcd:1234::")), true);
  assert.equal(anyCidrContains(list, 4, w("192.168.0.1")), false);
  assert.equal(anyCidrContains([], 4, w("10.1.0.1")), false);
});

Deno.test("addrScope() labels special ranges and calls the rest public", async (t) => {
  const cases: [string, string][] = [
    ["127.0.0.1", "loopback"],
    ["10.1.1.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["169.254.10.1", "link-local"],
    ["100.64.0.1", "cgnat"],
    ["224.0.0.251", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["0.0.0.0", "unspecified"],
    ["198.51.100.7", "documentation"],
    ["8.8.8.8", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["fe80::1", "link-local"],
    ["fd12:3456::1", "unique-local"],
    ["ff02::fb", "multicast"],
    ["2001:db8::1", "documentation"],
    ["2606:4700::1111", "public"],
    ["::ffff:192.168.1.1", "private"],
    ["::ffff:8.8.8.8", "public"],
  ];
  for (const [text, scope] of cases) {
    await t.step(`${text} is ${scope}`, () => {
      const a = parseAddr(text)!;
      assert.equal(addrScope(a.version, a.words), scope);
    });
  }
});
