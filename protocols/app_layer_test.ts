import assert from "node:assert/strict";
import { IPPROTO_TCP, newPacket } from "../decode/mod.ts";
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type Flow,
  FlowTable,
} from "../flows/mod.ts";
import { AppLayer, type AppRecord } from "./mod.ts";
import {
  chromeLikeHello,
  handshake,
  records,
  tls13ServerFlight,
} from "./_tls_testing.ts";

const enc = (s: string) => new TextEncoder().encode(s);

const TLS_CLIENT = records(22, handshake(1, chromeLikeHello("inner.example")));
const TLS_SERVER = tls13ServerFlight();

/** A flow to `port` from a real flow table. */
function flowTo(port: number): Flow {
  const p = newPacket();
  p.ipVersion = 4;
  p.proto = IPPROTO_TCP;
  p.src[0] = 0x0a000001;
  p.dst[0] = 0x0a000002;
  p.srcPort = 40000;
  p.dstPort = port;
  p.tcpFlags = 2;
  return new FlowTable(() => {}).update(p);
}

function layer() {
  const recs: AppRecord[] = [];
  const seen: string[] = [];
  const undetected: Flow[] = [];
  const app = new AppLayer({
    app: (r) => {
      recs.push(r);
      seen.push(r.kind === "http" ? `${r.state} ${r.url} ${r.status}` : r.kind);
    },
    letGo: (f) => {
      undetected.push(f);
      return false;
    },
  });
  return { app, recs, seen, undetected };
}

/** Feeds `s` one byte a call, as 1-byte segments arrive. */
function bytewise(app: AppLayer, f: Flow, dir: number, s: string): void {
  const b = enc(s);
  for (let i = 0; i < b.length; i++) app.data(f, dir, b, i, 1, i);
}

Deno.test("AppLayer detects HTTP from 1-byte segments on any port by a known method", () => {
  const { app, seen } = layer();
  const f = flowTo(31337);
  bytewise(app, f, DIR_TO_SERVER, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  bytewise(app, f, DIR_TO_CLIENT, "HTTP/1.1 204 No Content\r\n\r\n");
  app.flowEnd(f);
  assert.equal(f.appProto, "http");
  assert.deepEqual(seen, ["request /x 0", "complete /x 204"]);
  assert.deepEqual(app.counters.detected, { http: 1 });
});

Deno.test("AppLayer takes any printable request on an HTTP port, and nothing binary", () => {
  const { app, recs, undetected } = layer();
  const f = flowTo(80);
  bytewise(app, f, DIR_TO_SERVER, "get / http/1.1\r\n\r\n");
  app.flowEnd(f);
  assert.equal(recs.length, 2);
  const g = flowTo(80);
  // Binary that is no protocol here (a TLS record header would be TLS).
  app.data(g, DIR_TO_SERVER, new Uint8Array([0x00, 5, 0xff, 0x10, 2]), 0, 5, 0);
  assert.deepEqual(undetected, [g]);
  // SMTP-like commands on another port are not HTTP.
  const h = flowTo(2525);
  bytewise(app, h, DIR_TO_SERVER, "HELO x\r\n");
  assert.equal(undetected.length, 2);
  assert.equal(app.counters.undetected, 2);
});

Deno.test("AppLayer detects DNS over TCP on its port only", () => {
  const { app, recs } = layer();
  const msg = [
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
  ];
  const framed = new Uint8Array([0, msg.length, ...msg]);
  const f = flowTo(53);
  for (let i = 0; i < framed.length; i++) {
    app.data(f, DIR_TO_SERVER, framed, i, 1, i);
  }
  assert.equal(f.appProto, "dns");
  assert.equal(recs.length, 1);
  assert.equal(recs[0]!.kind === "dns" && recs[0]!.queries[0]!.rrname, "a");
  const g = flowTo(5000);
  app.data(g, DIR_TO_SERVER, framed, 0, framed.length, 0);
  assert.equal(g.appProto, "");
});

Deno.test("AppLayer makes a connection's state at its first stream byte and lets it go when the flow ends", () => {
  const { app } = layer();
  // Flows of one table (distinct slots and ids).
  const table = new FlowTable(() => {});
  const open = (sport: number) => {
    const p = newPacket();
    p.ipVersion = 4;
    p.proto = IPPROTO_TCP;
    p.src[0] = 0x0a000001;
    p.dst[0] = 0x0a000002;
    p.srcPort = sport;
    p.dstPort = 80;
    p.tcpFlags = 2;
    return table.update(p);
  };
  const flows = [open(40000), open(40001), open(40002)];
  // A gap alone (a hole before any byte) makes no state.
  for (const f of flows) app.gap(f, DIR_TO_SERVER, 100);
  assert.equal(app.connections, 0);
  assert.equal(app.budget.used, 0);
  for (const f of flows) {
    bytewise(app, f, DIR_TO_SERVER, "GET /a HTTP/1.1\r\nHost: h\r\n");
  }
  assert.equal(app.connections, 3);
  assert.ok(app.budget.used > 0, "parsers and their head buffers are counted");
  for (const f of flows) app.flowEnd(f);
  assert.equal(app.connections, 0);
  assert.equal(app.budget.used, 0);
  // The states are reused by the next connections, counted the same way.
  const next = open(40003);
  bytewise(app, next, DIR_TO_SERVER, "GET /b HTTP/1.1\r\n\r\n");
  assert.equal(app.connections, 1);
  app.flowEnd(next);
  assert.equal(app.connections, 0);
});

Deno.test("AppLayer closes a connection's parser when both streams end, not at the flow's end", () => {
  const { app, seen } = layer();
  const f = flowTo(80);
  bytewise(app, f, DIR_TO_SERVER, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  // The request waits for a response that never comes.
  assert.deepEqual(seen, ["request /a 0"]);
  app.end(f, DIR_TO_SERVER, "fin");
  assert.equal(app.connections, 1, "one side still open: the parser stays");
  app.end(f, DIR_TO_CLIENT, "fin");
  // Both ended: the parser emitted what it held and the state is gone.
  assert.deepEqual(seen, ["request /a 0", "complete /a 0"]);
  assert.equal(app.connections, 0);
  assert.equal(app.budget.used, 0);
  // The flow's later end finds nothing left to close.
  app.flowEnd(f);
  assert.deepEqual(seen, ["request /a 0", "complete /a 0"]);
  assert.equal(app.connections, 0);
});

Deno.test("AppLayer lets a flow's streams go once its parser is done (an HTTP upgrade)", () => {
  const { app, seen, undetected } = layer();
  const f = flowTo(80);
  bytewise(
    app,
    f,
    DIR_TO_SERVER,
    "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  );
  assert.deepEqual(undetected, []);
  const ok = enc(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
  );
  app.data(f, DIR_TO_CLIENT, ok, 0, ok.length, 0);
  // Past the 101 nothing is HTTP: the streams are of no more use.
  assert.deepEqual(undetected, [f]);
  assert.deepEqual(seen, ["request /ws 0", "complete /ws 101"]);
  app.flowEnd(f);
  assert.equal(app.connections, 0);
});

Deno.test("AppLayer parses the TLS inside an HTTP CONNECT tunnel: the protocol is detected afresh after the 2xx", () => {
  const { app, recs, seen } = layer();
  const f = flowTo(3128);
  bytewise(
    app,
    f,
    DIR_TO_SERVER,
    "CONNECT secure.example:443 HTTP/1.1\r\nHost: secure.example:443\r\n\r\n",
  );
  // The proxy's answer and the server's first TLS bytes in one segment.
  const ok = enc("HTTP/1.1 200 Connection established\r\n\r\n");
  const both = new Uint8Array(ok.length + TLS_SERVER.length);
  both.set(ok);
  both.set(TLS_SERVER, ok.length);
  app.data(f, DIR_TO_CLIENT, both, 0, both.length, 0);
  app.data(f, DIR_TO_SERVER, TLS_CLIENT, 0, TLS_CLIENT.length, 70);
  app.flowEnd(f);
  assert.deepEqual(seen, [
    "request secure.example:443 0",
    "complete secure.example:443 200",
    "tls",
  ]);
  const tls = recs[2]!;
  assert.ok(tls.kind === "tls");
  assert.equal(tls.handshake.sni, "inner.example");
  assert.equal(tls.clientDir, DIR_TO_SERVER);
  assert.deepEqual(tls.handshake.faults, []);
  assert.equal(app.counters.changed, 1);
  assert.deepEqual(app.counters.detected, { http: 1, tls: 1 });
  assert.equal(f.appProto, "http", "the flow keeps its first protocol's name");
  assert.equal(app.connections, 0);
  assert.equal(app.budget.used, 0);
});

Deno.test("AppLayer does not change protocol after a refused CONNECT or a websocket upgrade", () => {
  const { app, seen } = layer();
  const f = flowTo(3128);
  bytewise(app, f, DIR_TO_SERVER, "CONNECT a.example:443 HTTP/1.1\r\n\r\n");
  bytewise(
    app,
    f,
    DIR_TO_CLIENT,
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
  );
  // Still HTTP: the next request on the connection is read as one.
  bytewise(app, f, DIR_TO_SERVER, "GET /x HTTP/1.1\r\n\r\n");
  app.flowEnd(f);
  assert.deepEqual(seen, [
    "request a.example:443 0",
    "complete a.example:443 403",
    "request /x 0",
    "complete /x 0",
  ]);
  const g = flowTo(80);
  bytewise(
    app,
    g,
    DIR_TO_SERVER,
    "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
  );
  const up = enc("HTTP/1.1 101 Switching Protocols\r\n\r\n");
  const frames = new Uint8Array([0x16, 3, 1, 0, 5, 2, 0, 0, 1, 0]);
  const both = new Uint8Array(up.length + frames.length);
  both.set(up);
  both.set(frames, up.length);
  app.data(g, DIR_TO_CLIENT, both, 0, both.length, 0);
  app.flowEnd(g);
  assert.equal(app.counters.changed, 0);
  assert.deepEqual(app.counters.detected, { http: 2 });
});
