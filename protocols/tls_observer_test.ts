import assert from "node:assert/strict";
import { BatchBuilder } from "../capture/mod.ts";
import { formatAddr, LINKTYPE_ETHERNET } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { type TlsConnection, type TlsHandshake, tlsObserver } from "./mod.ts";
import {
  chromeLikeHello,
  concat,
  ext,
  handshake,
  records,
  type Segment,
  serverHelloBody,
  tcpFrame,
} from "./_tls_testing.ts";

const CLIENT = records(22, handshake(1, chromeLikeHello("obs.example")), 120);
const SERVER = concat(
  records(
    22,
    handshake(
      2,
      serverHelloBody({ cipher: 0x1301, extensions: [ext(43, [3, 4])] }),
    ),
  ),
  records(20, new Uint8Array([1])),
);

/** Runs segments (in this order) through a pipeline with a TLS observer. */
function run(
  segments: Segment[],
  opts: { maxConnections?: number } = {},
): {
  got: [TlsHandshake, TlsConnection][];
  counters: ReturnType<typeof tlsObserver>["counters"];
} {
  const got: [TlsHandshake, TlsConnection][] = [];
  const obs = tlsObserver((hs, c) => got.push([hs, c]), opts);
  const b = new BatchBuilder(segments.length + 1, 1 << 16);
  let ts = 1_700_000_000_000_000;
  for (const s of segments) {
    const f = tcpFrame(s);
    b.push(f, 0, f.length, f.length, ts += 1000, LINKTYPE_ETHERNET);
  }
  const pipeline = new Pipeline({ observers: [obs] });
  pipeline.processBatch(b.take()!);
  pipeline.finish();
  return { got, counters: obs.counters };
}

/** The client's bytes cut into segments of `size` from sequence `isn`. */
function cut(
  bytes: Uint8Array,
  isn: number,
  size: number,
  fromClient: boolean,
): Segment[] {
  const out: Segment[] = [];
  for (let o = 0; o < bytes.length; o += size) {
    out.push({
      fromClient,
      seq: isn + o,
      payload: bytes.subarray(o, o + size),
    });
  }
  return out;
}

const HANDSHAKE: Segment[] = [
  { fromClient: true, seq: 999, flags: 0x02 },
  { fromClient: false, seq: 4999, flags: 0x12 },
];

Deno.test("tlsObserver reads a ClientHello cut into segments, and names client and server", () => {
  const { got, counters } = run([
    ...HANDSHAKE,
    ...cut(CLIENT, 1000, 100, true),
    ...cut(SERVER, 5000, 1460, false),
  ]);
  assert.equal(got.length, 1);
  const [hs, c] = got[0]!;
  assert.equal(hs.sni, "obs.example");
  assert.equal(hs.version, 0x0304);
  assert.equal(formatAddr(c.ipVersion, c.clientAddr), "10.0.0.1");
  assert.equal(c.clientPort, 40000);
  assert.equal(formatAddr(c.ipVersion, c.serverAddr), "10.0.0.2");
  assert.equal(c.serverPort, 443);
  assert.deepEqual(counters, {
    connections: 1,
    handshakes: 1,
    skippedFull: 0,
    faults: {},
  });
});

Deno.test("tlsObserver feeds only the new tail of retransmissions and overlaps", () => {
  const segs = cut(CLIENT, 0xfffffff0, 50, true); // across the 2^32 wrap too
  const withRetx = [segs[0]!, segs[1]!, segs[0]!, {
    ...segs[1]!,
    payload: concat(segs[1]!.payload!, segs[2]!.payload!),
  }, ...segs.slice(2)];
  const { got } = run([...withRetx, ...cut(SERVER, 5000, 1460, false)]);
  assert.equal(got.length, 1);
  assert.equal(got[0]![0].sni, "obs.example");
  assert.deepEqual(got[0]![0].faults, []);
});

Deno.test("tlsObserver gives a direction up at a hole and still reports what it read", () => {
  const segs = cut(CLIENT, 1000, 100, true);
  const { got } = run([
    segs[0]!,
    ...segs.slice(2), // the second segment never arrives
    ...cut(SERVER, 5000, 1460, false),
  ]);
  assert.equal(got.length, 1);
  assert.equal(got[0]![0].clientHello, null);
  assert.deepEqual(got[0]![0].faults, ["tls_gap"]);
  assert.equal(got[0]![0].ja3s?.string, "771,4865,43");
});

Deno.test("tlsObserver follows at most maxConnections handshakes at once", () => {
  const hello = (port: number): Segment => ({
    fromClient: true,
    seq: 1000,
    payload: CLIENT,
    clientPort: port,
  });
  const answer = (port: number): Segment => ({
    fromClient: false,
    seq: 5000,
    payload: SERVER,
    clientPort: port,
  });
  const { got, counters } = run(
    [hello(40001), hello(40002), answer(40001), hello(40003), answer(40003)],
    { maxConnections: 1 },
  );
  assert.deepEqual(got.map(([, c]) => c.clientPort), [40001, 40003]);
  assert.equal(counters.skippedFull, 1);
  assert.equal(counters.connections, 2);
});
