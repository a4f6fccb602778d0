import assert from "node:assert/strict";
import {
  isGrease,
  isTlsFault,
  parseCertificate,
  parseClientHello,
  parseServerHello,
} from "./tls_handshake.ts";
import {
  alpnExt,
  certificateBody,
  chromeLikeHello,
  clientHelloBody,
  ext,
  list16Ext,
  serverHelloBody,
  sniExt,
  versionsExt,
} from "./_tls_testing.ts";

Deno.test("parseClientHello() reads every field a fingerprint needs, in wire order with GREASE kept", () => {
  const ch = parseClientHello(chromeLikeHello("www.example.com"));
  assert.ok(!isTlsFault(ch));
  assert.equal(ch.version, 0x0303);
  assert.equal(ch.random.length, 32);
  assert.equal(ch.sessionId.length, 32);
  assert.equal(ch.cipherSuites[0], 0x0a0a);
  assert.equal(ch.cipherSuites.length, 16);
  assert.deepEqual(ch.compressionMethods, [0]);
  assert.equal(ch.extensions[0], 0x1a1a);
  assert.equal(ch.extensions.length, 18);
  assert.equal(ch.hasSni, true);
  assert.equal(ch.sni, "www.example.com");
  assert.deepEqual(ch.supportedGroups, [0x2a2a, 0x001d, 0x0017, 0x0018]);
  assert.deepEqual(ch.ecPointFormats, [0]);
  assert.deepEqual(ch.signatureAlgorithms.slice(0, 2), [0x0403, 0x0804]);
  assert.deepEqual(
    ch.alpn.map((a) => new TextDecoder().decode(a)),
    ["h2", "http/1.1"],
  );
  assert.deepEqual(ch.supportedVersions, [0x3a3a, 0x0304, 0x0303]);
});

Deno.test("parseClientHello() reads a hello without an extensions block", () => {
  const ch = parseClientHello(
    clientHelloBody({ version: 0x0301, ciphers: [4, 5], noExtensions: true }),
  );
  assert.ok(!isTlsFault(ch));
  assert.deepEqual(ch.cipherSuites, [4, 5]);
  assert.deepEqual(ch.extensions, []);
  assert.equal(ch.hasSni, false);
});

Deno.test("parseClientHello() escapes and caps the server name", () => {
  const evil = parseClientHello(
    clientHelloBody({ extensions: [sniExt("evil\x1b[31m.example")] }),
  );
  assert.ok(!isTlsFault(evil));
  assert.equal(evil.sni, "evil\\x1b[31m.example");
  const long = parseClientHello(
    clientHelloBody({ extensions: [sniExt("a".repeat(400))] }),
  );
  assert.ok(!isTlsFault(long));
  assert.equal(long.sni.length, 255);
});

Deno.test("parseClientHello() returns a fault for every truncation, never throws", () => {
  const body = chromeLikeHello();
  // Cut right before the extensions block, it is a valid hello without any.
  const fixedEnd = 2 + 32 + 1 + 32 + 2 + 32 + 2;
  for (let n = 0; n < body.length; n++) {
    const r = parseClientHello(body.subarray(0, n));
    if (n === fixedEnd) {
      assert.ok(!isTlsFault(r) && r.extensions.length === 0);
    } else assert.ok(isTlsFault(r), `prefix of ${n} bytes parsed`);
  }
});

Deno.test("parseClientHello() refuses lengths that overrun their enclosing structure", async (t) => {
  const cases: [string, Uint8Array][] = [
    [
      "session id over 32",
      (() => {
        const b = clientHelloBody({});
        b[34] = 33;
        return b;
      })(),
    ],
    [
      "cipher list longer than the message",
      (() => {
        const b = clientHelloBody({});
        b[35 + 32] = 0x7f;
        return b;
      })(),
    ],
    [
      "odd cipher list length",
      (() => {
        const b = clientHelloBody({ ciphers: [1, 2], noExtensions: true });
        b[35 + 32 + 1] = 3;
        return b;
      })(),
    ],
    [
      "SNI list longer than its extension",
      clientHelloBody({
        extensions: [ext(0, [0, 9, 0, 0, 1, 0x61])],
      }),
    ],
    [
      "ALPN name longer than its list",
      clientHelloBody({
        extensions: [ext(16, [0, 3, 5, 0x68, 0x32])],
      }),
    ],
    [
      "supported_versions list of odd length",
      clientHelloBody({
        extensions: [ext(43, [3, 3, 4, 3])],
      }),
    ],
    [
      "bytes after the extensions",
      (() => {
        const b = clientHelloBody({ extensions: [list16Ext(10, [29])] });
        return new Uint8Array([...b, 0]);
      })(),
    ],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => assert.ok(isTlsFault(parseClientHello(bytes))));
  }
});

Deno.test("parseServerHello() takes the negotiated version from supported_versions (TLS 1.3)", () => {
  const sh13 = parseServerHello(serverHelloBody({
    cipher: 0x1301,
    extensions: [ext(0x0033, [0, 0x1d, 0, 0]), ext(43, [3, 4])],
  }));
  assert.ok(!isTlsFault(sh13));
  assert.equal(sh13.version, 0x0303);
  assert.equal(sh13.negotiatedVersion, 0x0304);
  assert.equal(sh13.cipherSuite, 0x1301);
  assert.deepEqual(sh13.extensions, [0x0033, 43]);
  const sh12 = parseServerHello(serverHelloBody({
    extensions: [ext(0xff01, [0]), alpnExt(["h2"])],
  }));
  assert.ok(!isTlsFault(sh12));
  assert.equal(sh12.negotiatedVersion, 0x0303);
  assert.equal(new TextDecoder().decode(sh12.alpn!), "h2");
  const bare = parseServerHello(serverHelloBody({}));
  assert.ok(!isTlsFault(bare));
  assert.deepEqual(bare.extensions, []);
  assert.equal(
    parseServerHello(serverHelloBody({ extensions: [ext(43, [3, 4, 0])] })),
    "tls_hs_bad_extension",
  );
  const body = serverHelloBody({ extensions: [ext(43, [3, 4])] });
  const fixedEnd = 2 + 32 + 1 + 32 + 3;
  for (let n = 0; n < body.length; n++) {
    const r = parseServerHello(body.subarray(0, n));
    assert.equal(isTlsFault(r), n !== fixedEnd, `prefix of ${n} bytes`);
  }
});

Deno.test("parseCertificate() returns the chain's DER certificates and refuses overruns", () => {
  const a = new Uint8Array([0x30, 1, 0]), b = new Uint8Array([0x30, 2, 1, 2]);
  const chain = parseCertificate(certificateBody([a, b]));
  assert.ok(!isTlsFault(chain));
  assert.deepEqual(chain, [a, b]);
  assert.deepEqual(parseCertificate(certificateBody([])), []);
  const body = certificateBody([a, b]);
  for (let n = 0; n < body.length; n++) {
    assert.ok(isTlsFault(parseCertificate(body.subarray(0, n))));
  }
  const bad = certificateBody([a]);
  bad[5] = 9; // the certificate's length overruns the list
  assert.equal(parseCertificate(bad), "tls_hs_bad_len");
});

Deno.test("isGrease() is true for exactly the 16 RFC 8701 values", () => {
  let n = 0;
  for (let v = 0; v < 0x10000; v++) if (isGrease(v)) n++;
  assert.equal(n, 16);
  assert.ok(isGrease(0x0a0a) && isGrease(0xfafa) && !isGrease(0x0a1a));
});

Deno.test("handshake parsers survive random and mutated input (fuzz)", () => {
  let seed = 12345;
  const rnd = () =>
    (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const base = [
    chromeLikeHello(),
    serverHelloBody({ extensions: [ext(43, [3, 4]), versionsExt([0x0304])] }),
    certificateBody([new Uint8Array(40).fill(0x30)]),
  ];
  for (let i = 0; i < 20000; i++) {
    const src = base[i % 3]!;
    const b = rnd() < 0.2
      ? crypto.getRandomValues(new Uint8Array(Math.floor(rnd() * 300)))
      : src.slice(0, Math.max(1, Math.floor(src.length * (0.5 + rnd()))));
    const flips = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < flips && b.length > 0; k++) {
      b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    }
    parseClientHello(b);
    parseServerHello(b);
    parseCertificate(b);
  }
});
