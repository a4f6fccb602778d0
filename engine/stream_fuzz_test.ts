/**
 * Hostile streams through the whole app layer: many interleaved TCP
 * connections on the HTTP, TLS and DNS ports whose segments are cut,
 * mutated, reordered, overlapped, lost, reset and finished at random. The
 * pipeline must not throw, must give back every parser, buffer and held
 * byte at the end, must give the same records again with its parser pools
 * warm (no state of one connection leaks into the next one's parser), and
 * the same records when an observer of raw stream bytes keeps every flow
 * reassembled (letting a flow's streams go loses no record).
 */
import assert from "node:assert/strict";
import { BatchBuilder } from "../capture/mod.ts";
import { LINKTYPE_ETHERNET } from "../decode/mod.ts";
import { prng } from "../decode/_test_frames.ts";
import {
  type AppContext,
  type AppObserver,
  type AppRecord,
  DNS_TCP_SPEC,
  HTTP_SPEC,
  TlsBufferBudget,
  tlsSpec,
} from "../protocols/mod.ts";
import {
  chromeLikeHello,
  concat,
  handshake,
  records,
  type Segment,
  tcpFrame,
  tls13ServerFlight,
} from "../protocols/_tls_testing.ts";
import { Pipeline } from "./mod.ts";

const enc = new TextEncoder();

/** Seed messages each direction may carry (then cut and mutated). */
const CLIENT_SEEDS: Uint8Array[] = [
  enc.encode(
    "GET /a?x=1 HTTP/1.1\r\nHost: fuzz.example\r\nUser-Agent: f\r\n\r\n",
  ),
  enc.encode(
    "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
  ),
  enc.encode(
    "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  ),
  records(22, handshake(1, chromeLikeHello("fuzz.example")), 90),
  // DNS over TCP: a length prefix, then a query for "a" (A, IN).
  new Uint8Array([
    0,
    19,
    0x12,
    0x34,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0x61,
    0,
    0,
    1,
    0,
    1,
  ]),
];
const SERVER_SEEDS: Uint8Array[] = [
  enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
  enc.encode(
    "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  ),
  enc.encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
  tls13ServerFlight(records(23, new Uint8Array(40))),
];
const PORTS = [80, 443, 8080, 53, 5555];
// TLS seeds twice as likely: parsers of both protocols get reused often.
CLIENT_SEEDS.push(CLIENT_SEEDS[3]!);
SERVER_SEEDS.push(SERVER_SEEDS[3]!);
// A CONNECT tunnel: the request, then the tunnelled hello; the proxy's 2xx
// with the server's first TLS bytes in the same stream.
CLIENT_SEEDS.push(
  concat(
    enc.encode("CONNECT t.example:443 HTTP/1.1\r\n\r\n"),
    CLIENT_SEEDS[3]!,
  ),
);
SERVER_SEEDS.push(
  concat(
    enc.encode("HTTP/1.1 200 Connection established\r\n\r\n"),
    SERVER_SEEDS[3]!,
  ),
);

/** Segments of `n` hostile connections, interleaved. */
function hostileSegments(seed: number, n: number): Segment[] {
  const r = prng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const conns: Segment[][] = [];
  for (let i = 0; i < n; i++) {
    const clientPort = 20000 + i;
    const serverPort = pick(PORTS);
    const cIsn = Math.floor(r() * 2 ** 32), sIsn = Math.floor(r() * 2 ** 32);
    const segs: Segment[] = [];
    const seg = (
      fromClient: boolean,
      seq: number,
      flags: number,
      p?: Uint8Array,
    ) =>
      segs.push({
        fromClient,
        seq: seq >>> 0,
        flags,
        payload: p,
        clientPort,
        serverPort,
        ack: fromClient ? sIsn + 1 : cIsn + 1,
      });
    const shook = r() < 0.7;
    if (shook) {
      seg(true, cIsn, 0x02);
      seg(false, sIsn, 0x12);
    }
    // Without the handshake the server may be heard first (the flow's
    // first sender, its DIR_TO_SERVER, is then the server).
    const serverFirst = !shook && r() < 0.7;
    // Each side's bytes: a seed, sometimes mutated, sometimes two in a row.
    const bytesOf = (seeds: Uint8Array[]) => {
      let b: Uint8Array = pick(seeds).slice();
      if (r() < 0.3) b = concat(b, pick(seeds));
      if (r() < 0.4) {
        for (let k = 0; k < 1 + r() * 4; k++) {
          b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        }
      }
      if (r() < 0.1) b = b.subarray(0, Math.floor(r() * b.length));
      return b;
    };
    const sides = [
      [true, bytesOf(CLIENT_SEEDS), cIsn],
      [false, bytesOf(SERVER_SEEDS), sIsn],
    ] as const;
    for (
      const [fromClient, bytes, isn] of serverFirst
        ? [sides[1], sides[0]]
        : sides
    ) {
      let o = 0;
      while (o < bytes.length) {
        const len = 1 + Math.floor(r() * 40);
        // Some pieces lost, some sent twice, some overlapping the last.
        const back = r() < 0.1 ? Math.floor(r() * 8) : 0;
        const at = Math.max(0, o - back);
        if (r() > 0.05) {
          seg(fromClient, isn + 1 + at, 0x18, bytes.subarray(at, o + len));
        }
        if (r() < 0.05) {
          seg(fromClient, isn + 1 + at, 0x18, bytes.subarray(at, o + len));
        }
        o += len;
      }
      const end = r();
      if (end < 0.6) seg(fromClient, isn + 1 + bytes.length, 0x11);
      else if (end < 0.7) seg(fromClient, isn + 1 + bytes.length, 0x04);
    }
    // Reorder within the connection a little.
    for (let k = 0; k < segs.length; k++) {
      if (r() < 0.15 && k + 1 < segs.length) {
        [segs[k], segs[k + 1]] = [segs[k + 1]!, segs[k]!];
      }
    }
    conns.push(segs);
  }
  // Interleave: take the next segment of a random connection still sending.
  const out: Segment[] = [];
  const next = conns.map(() => 0);
  let left = conns.reduce((s, c) => s + c.length, 0);
  while (left > 0) {
    const i = Math.floor(r() * conns.length);
    if (next[i]! < conns[i]!.length) {
      out.push(conns[i]![next[i]!++]!);
      left--;
    }
  }
  return out;
}

/** A line per record: what a reader of it would log. */
function describe(rec: AppRecord, ctx: AppContext): string {
  const head = `${ctx.flow.srcPort}>${ctx.flow.dstPort} ${ctx.dir} ${rec.kind}`;
  if (rec.kind === "http") {
    return `${head} ${rec.state} ${rec.method} ${rec.url} ${rec.status}`;
  }
  if (rec.kind === "tls") {
    const h = rec.handshake;
    return `${head} client ${rec.clientDir} ${h.sni} ${h.version} ${h.ja3?.hash} ${h.ja3s?.hash} ${h.ja4} ${h.faults}`;
  }
  return `${head} ${rec.id} ${rec.queries.map((q) => q.rrname)}`;
}

interface Run {
  lines: string[];
  connections: number;
  budget: number;
  tlsBudget: number;
  memUsed: number;
  streamBytes: number;
}

/**
 * Runs `segments` through a pipeline reading every record. `tight`: small
 * budgets (stream memcap 512 KiB, parsers 256 KiB), so that running out is
 * part of the test; otherwise the defaults, which these streams never reach.
 */
function run(
  segments: Segment[],
  tight: boolean,
  extra: AppObserver[] = [],
): Run {
  const lines: string[] = [];
  const tlsBudget = new TlsBufferBudget(tight ? 1 << 20 : undefined);
  const p = new Pipeline({
    observers: [
      { onApp: (rec, ctx) => void lines.push(describe(rec, ctx)) },
      ...extra,
    ],
    parsers: [HTTP_SPEC, tlsSpec(tlsBudget), DNS_TCP_SPEC],
    parserMemcap: tight ? 256 * 1024 : undefined,
    stream: tight ? { memcap: 512 * 1024 } : {},
  });
  let ts = 1_700_000_000_000_000;
  for (let i = 0; i < segments.length; i += 256) {
    const part = segments.slice(i, i + 256);
    const b = new BatchBuilder(part.length + 1, 1 << 20);
    for (const s of part) {
      const f = tcpFrame(s);
      b.push(f, 0, f.length, f.length, ts += 100, LINKTYPE_ETHERNET);
    }
    p.processBatch(b.take()!);
  }
  p.finish();
  return {
    lines,
    connections: p.app!.connections,
    budget: p.app!.budget.used,
    tlsBudget: tlsBudget.used,
    memUsed: p.reassembler!.memUsed,
    streamBytes: p.reassembly!.bytes,
  };
}

Deno.test("hostile interleaved streams through the app layer: nothing thrown, everything given back, the same records with warm pools and with every flow kept", () => {
  for (const seed of [1, 2, 3]) {
    const segments = hostileSegments(seed, 400);
    for (const tight of [true, false]) {
      const what = `seed ${seed}${tight ? ", small budgets" : ""}`;
      const first = run(segments, tight);
      assert.ok(first.lines.length > 100, `${what}: records were made`);
      for (const k of ["http", "tls", "dns"]) {
        assert.ok(
          first.lines.some((l) => l.includes(` ${k} `)),
          `${what}: some ${k} records`,
        );
      }
      assert.equal(first.connections, 0, `${what}: parser states left`);
      assert.equal(first.budget, 0, `${what}: parser budget left`);
      assert.equal(first.tlsBudget, 0, `${what}: TLS buffers left`);
      assert.equal(first.memUsed, 0, `${what}: held segments left`);
      // Again, with the parser pools warm from the first run.
      const again = run(segments, tight);
      assert.deepEqual(again.lines, first.lines, `${what}: pooled parsers`);
      if (tight) continue; // what runs out depends on what else is held
      // With an observer of raw stream bytes nothing is let go: the same
      // records (a parser let go early emits what it holds early: the same
      // set), more bytes reassembled.
      let seen = 0;
      const kept = run(segments, tight, [{
        onStreamData: (_f, _d, _b, _o, len) => void (seen += len),
      }]);
      assert.deepEqual(
        kept.lines.toSorted(),
        first.lines.toSorted(),
        `${what}: flows kept`,
      );
      assert.equal(seen, kept.streamBytes);
      assert.ok(kept.streamBytes > first.streamBytes, `${what}: let go`);
      assert.equal(kept.connections, 0);
      assert.equal(kept.budget, 0);
      assert.equal(kept.tlsBudget, 0);
    }
  }
});
