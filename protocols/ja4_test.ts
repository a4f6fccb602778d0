import assert from "node:assert/strict";
import { ja4, ja4Alpn, ja4Raw } from "./ja4.ts";
import { isTlsFault, parseClientHello } from "./tls_handshake.ts";
import {
  alpnExt,
  chromeLikeHello,
  clientHelloBody,
  ext,
  list16Ext,
  pointFormatsExt,
  sniExt,
  versionsExt,
} from "./_tls_testing.ts";

function hello(body: Uint8Array) {
  const ch = parseClientHello(body);
  if (isTlsFault(ch)) throw new Error(ch);
  return ch;
}

// technical_details/JA4.md, "Cipher hash" and "Extension hash": the
// example's ciphers, extensions and signature algorithms (with GREASE
// added, which must not count) give the published fingerprint.
Deno.test("ja4() gives the JA4 specification's example fingerprint", () => {
  const ch = hello(chromeLikeHello());
  const raw = ja4Raw(ch);
  assert.equal(raw.prefix, "t13d1516h2");
  assert.equal(
    raw.ciphers,
    "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9",
  );
  assert.equal(
    raw.extensions,
    "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
  );
  assert.equal(ja4(ch), "t13d1516h2_8daaf6152771_e5627efa2ab1");
});

Deno.test("ja4() hashes the extensions without an underscore when there are no signature algorithms", () => {
  // JA4.md: "0005,000a,…,4469,ff01 = 6d807ffa2a79".
  const exts = [
    0x0005,
    0x0012,
    0x0015,
    0x0017,
    0x001b,
    0x0023,
    0x002d,
    0x0033,
    0x4469,
    0xff01,
  ]
    .map((t) => ext(t, []));
  exts.push(
    list16Ext(0x000a, [29]),
    pointFormatsExt([0]),
    versionsExt([0x0304]),
  );
  // 000d must be in the list for the published string but carry no algorithms.
  exts.push(list16Ext(0x000d, []));
  const ch = hello(
    clientHelloBody({
      ciphers: [0x1301],
      extensions: [sniExt("a.b"), ...exts],
    }),
  );
  assert.equal(ja4(ch).split("_")[2], "6d807ffa2a79");
});

Deno.test("ja4() marks no SNI with i, no ALPN with 00, no ciphers or extensions with zeros", () => {
  const ch = hello(
    clientHelloBody({ version: 0x0301, ciphers: [], noExtensions: true }),
  );
  assert.equal(ja4(ch), "t10i000000_000000000000_000000000000");
  // Only SNI and ALPN: counted, but the extension list to hash is empty.
  const only = hello(clientHelloBody({
    ciphers: [0x002f],
    extensions: [sniExt("x.test"), alpnExt(["http/1.1"])],
  }));
  assert.match(ja4(only), /^t12d0102h1_[0-9a-f]{12}_000000000000$/);
});

Deno.test("ja4() takes the highest non-GREASE supported version and caps counts at 99", () => {
  const ch = hello(clientHelloBody({
    version: 0x0303,
    ciphers: Array.from({ length: 120 }, (_, i) => i + 1),
    extensions: [versionsExt([0xfafa, 0x0302, 0x0304, 0x0303])],
  }));
  assert.match(ja4(ch), /^t13i9901/);
  const unknown = hello(
    clientHelloBody({ extensions: [versionsExt([0x7f1c])] }),
  );
  assert.match(ja4(unknown), /^t00i/);
});

Deno.test("ja4Alpn() follows the specification's ALPN rules", async (t) => {
  const cases: [readonly number[] | undefined, string][] = [
    [undefined, "00"],
    [[], "00"],
    [[0x68, 0x32], "h2"],
    [[...new TextEncoder().encode("http/1.1")], "h1"],
    [[0x68], "hh"],
    // The specification's own table of non-alphanumeric cases.
    [[0xab], "ab"],
    [[0x20], "20"],
    [[0xab, 0xcd], "ad"],
    [[0x20, 0x61], "21"],
    [[0x30, 0xab], "3b"],
    [[0x61, 0x20], "60"],
    [[0x30, 0x31, 0xab, 0xcd], "3d"],
    [[0x30, 0xab, 0xcd, 0x31], "01"],
  ];
  for (const [bytes, want] of cases) {
    await t.step(`${JSON.stringify(bytes)} → ${want}`, () => {
      assert.equal(
        ja4Alpn(bytes === undefined ? undefined : new Uint8Array(bytes)),
        want,
      );
    });
  }
});

Deno.test("ja4() hashes every value of very long lists the same way", () => {
  const ciphers = Array.from({ length: 5000 }, (_, i) => 5000 - i);
  const ch = hello(clientHelloBody({ ciphers, noExtensions: true }));
  const raw = ja4Raw(ch);
  // 0x0a0a (2570) is GREASE: left out.
  const want = ciphers.filter((v) => v !== 0x0a0a).sort((a, b) => a - b)
    .map((v) => v.toString(16).padStart(4, "0")).join(",");
  assert.ok(raw.ciphers === want, "the sorted list of 4999 ciphers");
  assert.match(ja4(ch), /^t12i9900/);
});

Deno.test("ja4() skips a GREASE ALPN value and takes the next", () => {
  const ch = hello(clientHelloBody({
    extensions: [alpnExt([[0x2a, 0x2a], "h2"])],
  }));
  assert.match(ja4(ch), /^t12i0201h2_/);
});
