import assert from "node:assert/strict";
import { DIR_TO_CLIENT, DIR_TO_SERVER } from "../flows/mod.ts";
import type { AppRecord } from "./app_record.ts";
import { PROBE_MORE, PROBE_NO, PROBE_YES } from "./stream_parser.ts";
import {
  TLS_SPEC,
  TlsAppParser,
  type TlsRecord,
  tlsSpec,
} from "./tls_parser.ts";
import { TlsBufferBudget } from "./tls_stream.ts";
import {
  chromeLikeHello,
  concat,
  ext,
  handshake,
  records,
  serverHelloBody,
} from "./_tls_testing.ts";

const CLIENT = records(22, handshake(1, chromeLikeHello("app.example")));
const SERVER = concat(
  records(
    22,
    handshake(
      2,
      serverHelloBody({ cipher: 0x1301, extensions: [ext(43, [3, 4])] }),
    ),
  ),
  records(23, new Uint8Array(30)),
);

Deno.test("TLS_SPEC takes a handshake record with a hello from either side, on any port", async (t) => {
  const probe = (dir: number, b: Uint8Array, port = 8443) =>
    TLS_SPEC.probe(dir, b, 0, b.length, port);
  await t.step(
    "ClientHello",
    () => assert.equal(probe(DIR_TO_SERVER, CLIENT, 5555), PROBE_YES),
  );
  await t.step(
    "ServerHello",
    () => assert.equal(probe(DIR_TO_CLIENT, SERVER), PROBE_YES),
  );
  await t.step(
    "too few bytes",
    () => assert.equal(probe(DIR_TO_SERVER, CLIENT.subarray(0, 5)), PROBE_MORE),
  );
  await t.step(
    "HTTP",
    () =>
      assert.equal(
        probe(DIR_TO_SERVER, new TextEncoder().encode("GET / HTTP/1.1\r\n")),
        PROBE_NO,
      ),
  );
  await t.step(
    "application data",
    () =>
      assert.equal(
        probe(DIR_TO_SERVER, records(23, new Uint8Array(9))),
        PROBE_NO,
      ),
  );
  await t.step(
    "SSLv2-style first byte",
    () =>
      assert.equal(
        probe(DIR_TO_SERVER, new Uint8Array([0x80, 0x2e, 1, 3, 1, 0])),
        PROBE_NO,
      ),
  );
});

function feed(first: number): TlsRecord[] {
  const got: [AppRecord, number][] = [];
  const out = { emit: (rec: AppRecord, dir: number) => got.push([rec, dir]) };
  const p = new TlsAppParser();
  const other = first === DIR_TO_SERVER ? DIR_TO_CLIENT : DIR_TO_SERVER;
  p.data(first, CLIENT, 0, CLIENT.length, out);
  p.data(other, SERVER, 0, SERVER.length, out);
  p.end(first, out);
  p.end(other, out);
  p.close(out);
  assert.ok(got.every(([, dir]) => dir === other));
  return got.map(([r]) => r as TlsRecord);
}

Deno.test("TlsAppParser emits one tls record, naming the client by its ClientHello", () => {
  const [rec, ...rest] = feed(DIR_TO_SERVER);
  assert.equal(rest.length, 0);
  assert.equal(rec!.kind, "tls");
  assert.equal(rec!.clientDir, DIR_TO_SERVER);
  assert.equal(rec!.handshake.sni, "app.example");
  assert.equal(rec!.handshake.version, 0x0304);
  // A connection picked up with its sides the other way round.
  const [rev] = feed(DIR_TO_CLIENT);
  assert.equal(rev!.clientDir, DIR_TO_CLIENT);
  assert.equal(rev!.handshake.ja4, rec!.handshake.ja4);
});

Deno.test("TlsAppParser reports at close what a cut handshake showed", () => {
  const got: AppRecord[] = [];
  const out = { emit: (rec: AppRecord) => got.push(rec) };
  const p = new TlsAppParser();
  p.data(DIR_TO_SERVER, CLIENT, 0, CLIENT.length, out);
  assert.equal(got.length, 0);
  p.gap(DIR_TO_CLIENT, 100, out);
  p.close(out);
  assert.equal(got.length, 1);
  assert.deepEqual((got[0] as TlsRecord).handshake.faults, ["tls_gap"]);
});

Deno.test("a TLS parser given back to its spec is reused for the next connection with nothing of the last one", () => {
  const budget = new TlsBufferBudget();
  const spec = tlsSpec(budget);
  const parserBudget = { used: 0, cap: 1 << 20 };
  const got: TlsRecord[] = [];
  const out = { emit: (r: AppRecord) => void got.push(r as TlsRecord) };
  // The first connection stops half-way through its hello (a gap): a
  // buffer and a fault are left in the parser when it is closed.
  const first = spec.create(parserBudget);
  first.data(DIR_TO_SERVER, CLIENT, 0, 40, out);
  first.gap(DIR_TO_SERVER, 10, out);
  first.data(DIR_TO_CLIENT, SERVER, 0, SERVER.length, out);
  first.close(out);
  spec.recycle!(first);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.handshake.faults, ["tls_gap"]);
  assert.equal(budget.used, 0, "its buffer went back to the budget");
  // The next connection gets the same object, as new.
  const other = records(22, handshake(1, chromeLikeHello("next.example")));
  const second = spec.create(parserBudget);
  assert.equal(second, first);
  second.data(DIR_TO_SERVER, other, 0, other.length, out);
  second.data(DIR_TO_CLIENT, SERVER, 0, SERVER.length, out);
  assert.equal(second.done?.(), true);
  second.close(out);
  assert.equal(got.length, 2);
  const hs = got[1]!.handshake;
  assert.equal(hs.sni, "next.example");
  assert.deepEqual(hs.faults, []);
  assert.equal(got[1]!.clientDir, DIR_TO_SERVER);
  // The first record is untouched by the reuse.
  assert.equal(got[0]!.handshake.clientHello, null);
});
