import assert from "node:assert/strict";
import { ja3, ja3s, md5Hex } from "./ja3.ts";
import {
  isTlsFault,
  parseClientHello,
  parseServerHello,
} from "./tls_handshake.ts";
import {
  chromeLikeHello,
  clientHelloBody,
  ext,
  list16Ext,
  pointFormatsExt,
  serverHelloBody,
} from "./_tls_testing.ts";

function hello(body: Uint8Array) {
  const ch = parseClientHello(body);
  if (isTlsFault(ch)) throw new Error(ch);
  return ch;
}

// The two examples of Salesforce's JA3 README ("How it works"), rebuilt as
// ClientHellos: the string and the hash must be the published ones.
Deno.test("ja3() gives the JA3 README's examples for the hellos they describe", () => {
  const withExts = hello(clientHelloBody({
    version: 769,
    ciphers: [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
    extensions: [ext(0, []), list16Ext(10, [23, 24, 25]), pointFormatsExt([0])],
  }));
  assert.deepEqual(ja3(withExts), {
    string:
      "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
    hash: "ada70206e40642a3e4461f35503241d5",
  });
  const bare = hello(clientHelloBody({
    version: 769,
    ciphers: [4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99],
    noExtensions: true,
  }));
  assert.deepEqual(ja3(bare), {
    string: "769,4-5-10-9-100-98-3-6-19-18-99,,,",
    hash: "de350869b8c85de67a350c8d186f11e6",
  });
});

Deno.test("ja3() drops GREASE from ciphers, extensions and groups and keeps wire order", () => {
  const fp = ja3(hello(chromeLikeHello()));
  assert.equal(
    fp.string,
    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53," +
      "0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513-21,29-23-24,0",
  );
  assert.equal(fp.hash, md5Hex(fp.string));
  assert.match(fp.hash, /^[0-9a-f]{32}$/);
});

Deno.test("ja3s() is version, cipher and extensions of the ServerHello", () => {
  const sh = parseServerHello(serverHelloBody({
    cipher: 0x1301,
    extensions: [ext(0x0033, [0, 0x1d, 0, 0]), ext(43, [3, 4])],
  }));
  assert.ok(!isTlsFault(sh));
  const fp = ja3s(sh);
  assert.equal(fp.string, "771,4865,51-43");
  assert.equal(fp.hash, md5Hex("771,4865,51-43"));
  const bare = parseServerHello(serverHelloBody({ cipher: 0xc02f }));
  assert.ok(!isTlsFault(bare));
  assert.equal(ja3s(bare).string, "771,49199,");
});
