import assert from "node:assert/strict";
import { parseClientHello } from "./tls.ts";
import { newPacket } from "./packet.ts";
import { cat, clientHello } from "./_test_frames.ts";

Deno.test("parseClientHello() reads the SNI and the highest listed version", () => {
  const t = newPacket().tls;
  const hello = clientHello({
    sni: "Www.Example.com",
    versions: [0x7a7a, 0x0303, 0x0302],
  });
  assert.equal(parseClientHello(hello, t), null);
  assert.equal(t.sni, "Www.Example.com");
  assert.equal(t.version, 0x0303);
});

Deno.test("parseClientHello() ignores GREASE and draft versions", () => {
  const t = newPacket().tls;
  parseClientHello(
    clientHello({ versions: [0x1a1a, 0x7f1c], legacy: 0x0301 }),
    t,
  );
  assert.equal(t.version, 0x0301);
});

Deno.test("parseClientHello() caps and escapes the server name", () => {
  const t = newPacket().tls;
  parseClientHello(clientHello({ sni: "a".repeat(300) }), t);
  assert.equal(t.sni.length, 255);
  parseClientHello(clientHello({ sni: "evil\x1b[31m.example" }), t);
  assert.equal(t.sni, "evil\\x1b[31m.example");
});

Deno.test("parseClientHello() refuses what is not a ClientHello and lengths that overrun", () => {
  const t = newPacket().tls;
  assert.equal(parseClientHello(cat("GET / HTTP/1.1\r\n"), t), "tls_short");
  // A ServerHello (handshake type 2).
  const server = clientHello({ sni: "x" });
  server[5] = 2;
  assert.equal(parseClientHello(server, t), "tls_short");
  // Handshake length smaller than the fields it must hold.
  const tiny = clientHello({ sni: "x" });
  tiny[6] = 0;
  tiny[7] = 0;
  tiny[8] = 10;
  assert.equal(parseClientHello(tiny, t), "tls_bad_len");
  // An SNI list longer than its extension: record 5, handshake 4, version 2,
  // random 32, session id 33, ciphers 6, compression 2, extensions length 2,
  // GREASE 4, then the SNI type (90), length (92) and list length (94).
  const hello = clientHello({ sni: "abc" });
  assert.deepEqual([...hello.subarray(90, 96)], [0, 0, 0, 8, 0, 6]);
  hello[94] = 0x40;
  assert.equal(parseClientHello(hello, t), "tls_bad_len");
});
