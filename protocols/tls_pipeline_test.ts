import assert from "node:assert/strict";
import { BatchBuilder } from "../capture/mod.ts";
import { formatAddr, LINKTYPE_ETHERNET } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import {
  type AppObserver,
  type AppRecord,
  type TlsConnection,
  tlsConnectionOf,
  type TlsHandshake,
} from "./mod.ts";
import {
  chromeLikeHello,
  concat,
  handshake,
  records,
  type Segment,
  tcpFrame,
  tls13ServerFlight,
} from "./_tls_testing.ts";

const CLIENT = records(22, handshake(1, chromeLikeHello("obs.example")), 120);
const SERVER = tls13ServerFlight();

/**
 * Runs segments (in this order) through the pipeline (reassembly and app
 * layer); returns the tls records' handshakes and connections.
 */
function run(
  segments: Segment[],
  extra: AppObserver[] = [],
  stats: { bytes: number; letGo: number } = { bytes: 0, letGo: 0 },
): [TlsHandshake, TlsConnection][] {
  const got: [TlsHandshake, TlsConnection][] = [];
  const b = new BatchBuilder(segments.length + 1, 1 << 16);
  let ts = 1_700_000_000_000_000;
  for (const s of segments) {
    const f = tcpFrame(s);
    b.push(f, 0, f.length, f.length, ts += 1000, LINKTYPE_ETHERNET);
  }
  const pipeline = new Pipeline({
    observers: [{
      onApp(rec: AppRecord, ctx) {
        if (rec.kind === "tls") {
          got.push([rec.handshake, tlsConnectionOf(rec, ctx)]);
        }
      },
    }, ...extra],
  });
  pipeline.processBatch(b.take()!);
  pipeline.finish();
  stats.bytes = pipeline.reassembly!.bytes;
  stats.letGo = pipeline.reassembly!.letGo;
  return got;
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

Deno.test("the pipeline reads a ClientHello cut into segments, and names client and server", () => {
  const got = run([
    ...HANDSHAKE,
    ...cut(CLIENT, 1000, 100, true),
    ...cut(SERVER, 5000, 1460, false),
  ]);
  assert.equal(got.length, 1);
  const [hs, c] = got[0]!;
  assert.equal(hs.sni, "obs.example");
  assert.equal(hs.version, 0x0304);
  assert.deepEqual(hs.faults, []);
  assert.equal(formatAddr(c.ipVersion, c.clientAddr), "10.0.0.1");
  assert.equal(c.clientPort, 40000);
  assert.equal(formatAddr(c.ipVersion, c.serverAddr), "10.0.0.2");
  assert.equal(c.serverPort, 443);
});

Deno.test("the pipeline reads a ClientHello through retransmissions and overlaps across the sequence wrap", () => {
  const segs = cut(CLIENT, 0xfffffff0, 50, true);
  const withRetx = [segs[0]!, segs[1]!, segs[0]!, {
    ...segs[1]!,
    payload: concat(segs[1]!.payload!, segs[2]!.payload!),
  }, ...segs.slice(2)];
  const got = run([
    { fromClient: true, seq: 0xffffffef, flags: 0x02 },
    { fromClient: false, seq: 4999, flags: 0x12 },
    ...withRetx,
    ...cut(SERVER, 5000, 1460, false),
  ]);
  assert.equal(got.length, 1);
  assert.equal(got[0]![0].sni, "obs.example");
  assert.deepEqual(got[0]![0].faults, []);
});

Deno.test("the pipeline names the TLS client by its ClientHello when the capture starts with the server's bytes", () => {
  // No handshake seen and the server's flight first: the flow's first
  // sender is the server, the TLS client is still 10.0.0.1.
  const acked = (segs: Segment[], ack: number) =>
    segs.map((g) => ({ ...g, ack }));
  const got = run([
    ...acked(cut(SERVER, 5000, 1460, false), 1000),
    ...acked(cut(CLIENT, 1000, 1460, true), 5000 + SERVER.length),
  ]);
  assert.equal(got.length, 1);
  const [hs, c] = got[0]!;
  assert.equal(hs.sni, "obs.example");
  assert.equal(formatAddr(c.ipVersion, c.clientAddr), "10.0.0.1");
  assert.equal(c.serverPort, 443);
});

Deno.test("the pipeline reports what a handshake with a hole showed", () => {
  const segs = cut(CLIENT, 1000, 100, true);
  const got = run([
    ...HANDSHAKE,
    segs[0]!,
    ...segs.slice(2), // the second segment never arrives
    ...cut(SERVER, 5000, 1460, false),
  ]);
  assert.equal(got.length, 1);
  assert.equal(got[0]![0].clientHello, null);
  assert.ok(got[0]![0].faults.includes("tls_gap"));
  assert.equal(got[0]![0].ja3s?.string, "771,4865,43");
});

Deno.test("the pipeline stops reassembling a TLS connection once both handshakes are over, unless an observer reads stream bytes", () => {
  // After the handshake: 20 segments of encrypted application data each way.
  const appData = records(23, new Uint8Array(1000).fill(0xab));
  const after: Segment[] = [];
  let c = 1000 + CLIENT.length, sv = 5000 + SERVER.length;
  for (let i = 0; i < 20; i++) {
    after.push({ fromClient: true, seq: c, payload: appData });
    after.push({ fromClient: false, seq: sv, payload: appData });
    c += appData.length;
    sv += appData.length;
  }
  const segments = [
    ...HANDSHAKE,
    ...cut(CLIENT, 1000, 100, true),
    ...cut(SERVER, 5000, 1460, false),
    ...after,
  ];
  const let_go = { bytes: 0, letGo: 0 };
  const got = run(segments, [], let_go);
  assert.equal(got.length, 1);
  assert.equal(got[0]![0].sni, "obs.example");
  // Only the handshakes were reassembled, none of the encrypted rest.
  assert.equal(let_go.bytes, CLIENT.length + SERVER.length);
  assert.equal(let_go.letGo, 1, "counted as let go");
  // An observer of stream bytes gets every byte: nothing is let go.
  let seen = 0;
  const all = { bytes: 0, letGo: 0 };
  const got2 = run(segments, [{
    onStreamData: (_f, _d, _b, _o, len) => void (seen += len),
  }], all);
  assert.equal(got2.length, 1);
  const total = CLIENT.length + SERVER.length + 40 * appData.length;
  assert.equal(all.bytes, total);
  assert.equal(all.letGo, 0);
  assert.equal(seen, total);
});
