import assert from "node:assert/strict";
import {
  TLS_MAX_HANDSHAKE,
  TlsBufferBudget,
  type TlsHandshake,
  TlsStreamParser,
} from "./tls_stream.ts";
import { ja4 } from "./ja4.ts";
import { isTlsFault, parseClientHello } from "./tls_handshake.ts";
import {
  certificateBody,
  chromeLikeHello,
  clientHelloBody,
  concat,
  ext,
  handshake,
  records,
  serverHelloBody,
  sniExt,
  tls13ServerFlight,
} from "./_tls_testing.ts";

const CH = handshake(1, chromeLikeHello("split.example"));
const CLIENT = records(22, CH);
const CERT_DER = new Uint8Array([0x30, 3, 2, 1, 7]); // not a certificate: a fault to report
const SERVER12 = concat(
  records(
    22,
    concat(
      handshake(
        2,
        serverHelloBody({ cipher: 0xc02f, extensions: [ext(0xff01, [0])] }),
      ),
      handshake(11, certificateBody([CERT_DER])),
      handshake(14, new Uint8Array(0)),
    ),
  ),
);
const SERVER13 = tls13ServerFlight(records(23, new Uint8Array(40)));

function collect(): { parser: TlsStreamParser; got: TlsHandshake[] } {
  const got: TlsHandshake[] = [];
  return { parser: new TlsStreamParser((hs) => got.push(hs)), got };
}

const WANT_JA4 = (() => {
  const ch = parseClientHello(chromeLikeHello("split.example"));
  if (isTlsFault(ch)) throw new Error(ch);
  return ja4(ch);
})();

Deno.test("TlsStreamParser reads a TLS 1.2 handshake and reports it once at ServerHelloDone", () => {
  const { parser, got } = collect();
  assert.equal(parser.data(0, CLIENT), true);
  assert.equal(parser.data(1, SERVER12), false);
  parser.end();
  assert.equal(got.length, 1);
  const hs = got[0]!;
  assert.equal(hs.sni, "split.example");
  assert.equal(hs.version, 0x0303);
  assert.equal(hs.ja4, WANT_JA4);
  assert.equal(hs.ja3s?.string, "771,49199,65281");
  assert.deepEqual(hs.certs, [CERT_DER]);
  assert.equal(hs.cert, null);
  assert.deepEqual(hs.faults, ["tls_bad_certificate"]);
});

Deno.test("TlsStreamParser reads TLS 1.3's version from the ServerHello and stops at encrypted data", () => {
  const { parser, got } = collect();
  parser.data(0, CLIENT);
  assert.equal(parser.data(1, SERVER13), false);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.version, 0x0304);
  assert.equal(got[0]!.ja3s?.string, "771,4865,43");
  assert.deepEqual(got[0]!.certs, []);
  assert.equal(parser.done, true);
  assert.equal(parser.data(0, records(23, new Uint8Array(9))), false);
});

Deno.test("TlsStreamParser puts a ClientHello back together across records and at every split of the stream", () => {
  // The hello in records of 50 bytes, then cut into two chunks at every offset.
  const spread = records(22, CH, 50);
  assert.ok(spread.length > CH.length + 5 * 5);
  for (let cut = 0; cut <= spread.length; cut++) {
    const { parser, got } = collect();
    parser.data(0, spread.subarray(0, cut));
    parser.data(0, spread.subarray(cut));
    parser.data(1, SERVER13);
    assert.equal(got.length, 1, `cut at ${cut}`);
    assert.equal(got[0]!.ja4, WANT_JA4);
  }
  // One byte at a time.
  const { parser, got } = collect();
  for (let i = 0; i < spread.length; i++) {
    parser.data(0, spread.subarray(i, i + 1));
  }
  for (let i = 0; i < SERVER12.length; i++) {
    parser.data(1, SERVER12.subarray(i, i + 1));
  }
  assert.equal(got.length, 1);
  assert.equal(got[0]!.sni, "split.example");
  assert.deepEqual(got[0]!.certs, [CERT_DER]);
});

Deno.test("TlsStreamParser waits for the client's hello when the server's bytes come first", () => {
  const { parser, got } = collect();
  parser.data(1, SERVER13);
  assert.equal(got.length, 0);
  parser.data(0, CLIENT);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.ja4, WANT_JA4);
});

Deno.test("TlsStreamParser gives up a direction on what is not TLS, oversize records and messages, and gaps", async (t) => {
  await t.step("not TLS", () => {
    const { parser, got } = collect();
    assert.equal(
      parser.data(0, new TextEncoder().encode("GET / HTTP/1.1\r\n")),
      false,
    );
    parser.end();
    assert.equal(got.length, 0);
  });
  await t.step("a record longer than TLS allows", () => {
    const { parser, got } = collect();
    parser.data(0, CLIENT);
    assert.equal(parser.data(1, new Uint8Array([22, 3, 3, 0xff, 0xff])), false);
    parser.end();
    assert.deepEqual(got[0]!.faults, ["tls_record_too_long"]);
  });
  await t.step("a handshake message over the cap", () => {
    const { parser, got } = collect();
    parser.data(0, CLIENT);
    const n = TLS_MAX_HANDSHAKE + 1;
    assert.equal(
      parser.data(
        1,
        records(22, new Uint8Array([11, n >> 16, (n >> 8) & 255, n & 255])),
      ),
      false,
    );
    parser.end();
    assert.deepEqual(got[0]!.faults, ["tls_handshake_too_long"]);
  });
  await t.step("a gap in the server's bytes", () => {
    const { parser, got } = collect();
    parser.data(0, CLIENT);
    parser.gap(1);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.faults, ["tls_gap"]);
    assert.equal(got[0]!.serverHello, null);
  });
  await t.step("a malformed ClientHello", () => {
    const bad = CH.slice();
    bad[4 + 34] = 40; // session id length over 32
    const { parser, got } = collect();
    assert.equal(parser.data(0, records(22, bad)), false);
    parser.end();
    assert.equal(got.length, 0);
  });
});

Deno.test("TlsStreamParser survives random and mutated streams (fuzz)", () => {
  let seed = 99;
  const rnd = () =>
    (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const streams = [CLIENT, SERVER12, SERVER13, records(22, CH, 7)];
  let reported = 0;
  for (let i = 0; i < 5000; i++) {
    const { parser, got } = collect();
    for (let dir = 0; dir < 2; dir++) {
      const b = (rnd() < 0.1
        ? crypto.getRandomValues(new Uint8Array(Math.floor(rnd() * 400)))
        : streams[Math.floor(rnd() * streams.length)]!).slice();
      const flips = Math.floor(rnd() * 5);
      for (let k = 0; k < flips && b.length > 0; k++) {
        b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      }
      let p = 0;
      while (p < b.length) {
        const n = 1 + Math.floor(rnd() * 64);
        parser.data(dir, b.subarray(p, p + n));
        p += n;
      }
    }
    parser.end();
    assert.ok(got.length <= 1);
    reported += got.length;
  }
  assert.ok(reported > 0);
});

Deno.test("TlsStreamParser holds about what arrived of a big message, not what its header claims", () => {
  const budget = new TlsBufferBudget();
  const got: TlsHandshake[] = [];
  const p = new TlsStreamParser((hs) => got.push(hs), budget);
  p.data(0, CLIENT);
  // A Certificate header claiming 128 KiB, then 10 bytes of it.
  const n = TLS_MAX_HANDSHAKE;
  p.data(
    1,
    records(
      22,
      new Uint8Array([
        11,
        n >> 16,
        (n >> 8) & 255,
        n & 255,
        ...new Array(10).fill(1),
      ]),
    ),
  );
  assert.ok(
    budget.used > 0 && budget.used <= 256,
    `holds ${budget.used} bytes`,
  );
  p.end();
  assert.equal(budget.used, 0);
  assert.equal(got.length, 1);
});

Deno.test("TlsStreamParser gives directions up once the shared budget is spent, and frees it all at the end", () => {
  const budget = new TlsBufferBudget(64 * 1024);
  const parsers: TlsStreamParser[] = [];
  const faults: string[] = [];
  // 300 connections each holding 1 KiB of an unfinished message.
  for (let i = 0; i < 300; i++) {
    const p = new TlsStreamParser((hs) => faults.push(...hs.faults), budget);
    p.data(0, CLIENT);
    const n = 100_000;
    p.data(
      1,
      records(
        22,
        concat(
          new Uint8Array([11, n >> 16, (n >> 8) & 255, n & 255]),
          new Uint8Array(1020),
        ),
      ),
    );
    assert.ok(budget.used <= budget.limit);
    parsers.push(p);
  }
  assert.ok(budget.refused > 0);
  for (const p of parsers) p.end();
  assert.equal(budget.used, 0);
  assert.equal(faults.filter((f) => f === "tls_memcap").length, budget.refused);
});

Deno.test("TlsStreamParser reuses a dropped first buffer for the next connection, never one a parsed hello keeps", () => {
  const budget = new TlsBufferBudget();
  const hellos: TlsHandshake[] = [];
  const sink = (hs: TlsHandshake) => void hellos.push(hs);
  // A hello of exactly 256 handshake bytes, split: it is put together in
  // a first-size buffer and parsed from it (the hello's byte views keep it).
  const body = (pad: number) =>
    clientHelloBody({
      extensions: [sniExt("kept.example"), ext(21, new Array(pad).fill(0))],
    });
  const small = body(256 - 4 - body(0).length);
  assert.equal(small.length, 252);
  const a = new TlsStreamParser(sink, budget);
  const aBytes = records(22, handshake(1, small));
  a.data(0, aBytes.subarray(0, 60));
  a.data(0, aBytes.subarray(60));
  a.end();
  const kept = hellos[0]!.clientHello!;
  assert.equal(kept.sni, "kept.example");
  const random = kept.random.slice();
  assert.equal(
    budget.spare.length,
    0,
    "the parsed hello's buffer is not spare",
  );
  // A connection whose hello is cut by a gap lets its first buffer go spare…
  const b = new TlsStreamParser(sink, budget);
  b.data(0, CLIENT.subarray(0, 60));
  b.gap(0);
  b.end();
  assert.equal(budget.spare.length, 1);
  // …and the next one takes it, and reads its hello whole.
  const c = new TlsStreamParser(sink, budget);
  const other = records(
    22,
    handshake(
      1,
      chromeLikeHello("next.example").map((x, i) =>
        i >= 2 && i < 34 ? 0xee : x
      ),
    ),
  );
  c.data(0, other.subarray(0, 60));
  assert.equal(budget.spare.length, 0, "the spare buffer was taken");
  c.data(0, other.subarray(60));
  c.end();
  assert.equal(hellos.at(-1)!.clientHello!.sni, "next.example");
  assert.deepEqual(kept.random, random, "the kept hello's bytes are intact");
  assert.equal(budget.used, 0);
});
