import assert from "node:assert/strict";
import { DIR_TO_CLIENT, DIR_TO_SERVER } from "../flows/mod.ts";
import {
  type AppRecord,
  type DnsMessage,
  DnsTcpParser,
  parseDnsMessage,
  type ParserOutput,
} from "./mod.ts";

/** Wire form of a name (no compression). */
function name(n: string): number[] {
  const out: number[] = [];
  for (const l of n.split(".")) {
    out.push(l.length, ...[...l].map((c) => c.charCodeAt(0)));
  }
  out.push(0);
  return out;
}

const u16 = (n: number) => [n >> 8, n & 255];
const u32 = (n: number) => [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255];

function rr(owner: number[], type: number, ttl: number, rdata: number[]) {
  return [
    ...owner,
    ...u16(type),
    ...u16(1),
    ...u32(ttl),
    ...u16(rdata.length),
    ...rdata,
  ];
}

/** A response to "example.com A" with one record of each supported type. */
function response(): Uint8Array {
  const q = name("example.com");
  const ptr = [0xc0, 12]; // pointer to the question name
  const answers = [
    rr(ptr, 1, 300, [93, 184, 216, 34]),
    rr(ptr, 28, 300, [
      0x26,
      0x06,
      0x28,
      0,
      0x02,
      0x20,
      0,
      1,
      0x02,
      0x48,
      0x18,
      0x93,
      0x25,
      0xc8,
      0x19,
      0x46,
    ]),
    rr(ptr, 5, 60, name("www.example.net")),
    rr(ptr, 15, 3600, [...u16(10), ...name("mail.example.com")]),
    rr(ptr, 16, 120, [
      5,
      ..."v=spf".split("").map((c) => c.charCodeAt(0)),
      3,
      0x61,
      0x01,
      0x62,
    ]),
    rr(ptr, 33, 30, [
      ...u16(1),
      ...u16(5),
      ...u16(5060),
      ...name("sip.example.com"),
    ]),
    rr(ptr, 12, 10, [...name("host")]),
  ];
  const auth = [rr(ptr, 2, 86400, name("ns1.example.com"))];
  return new Uint8Array([
    ...u16(0x1234),
    ...u16(0x8180),
    ...u16(1),
    ...u16(answers.length),
    ...u16(1),
    ...u16(0),
    ...q,
    ...u16(1),
    ...u16(1),
    ...answers.flat(),
    ...auth.flat(),
  ]);
}

Deno.test("parseDnsMessage() reads questions and the data of A, AAAA, CNAME, MX, TXT, SRV, PTR and NS records", () => {
  const m = parseDnsMessage(response(), 0, response().length)!;
  assert.equal(m.id, 0x1234);
  assert.equal(m.qr, true);
  assert.equal(m.rcode, 0);
  assert.deepEqual(m.queries, [{ rrname: "example.com", rrtype: 1 }]);
  assert.deepEqual(
    m.answers.map((a) => [a.rrtype, a.ttl, a.rdata]),
    [
      [1, 300, "93.184.216.34"],
      [28, 300, "2606:2800:220:1:248:1893:25c8:1946"],
      [5, 60, "www.example.net"],
      [15, 3600, "mail.example.com"],
      [16, 120, "v=spfa\\x01b"],
      [33, 30, "sip.example.com"],
      [12, 10, "host"],
    ],
  );
  assert.equal(m.answers[3]!.preference, 10);
  assert.deepEqual(m.answers[5]!.srv, {
    priority: 1,
    weight: 5,
    port: 5060,
    name: "sip.example.com",
  });
  assert.equal(m.answers[0]!.rrname, "example.com");
  assert.deepEqual(m.authorities.map((a) => a.rdata), ["ns1.example.com"]);
  assert.equal(m.truncated, false);
});

Deno.test("parseDnsMessage() keeps what it read when records run past the end, and refuses a bad header", () => {
  const r = response();
  const m = parseDnsMessage(r, 0, r.length - 30)!;
  assert.equal(m.truncated, true);
  assert.ok(m.answers.length >= 4);
  assert.equal(parseDnsMessage(r, 0, 11), null);
  // Every cut and every single-byte change: no throw, also when every
  // field is read (questions and records are read when first asked for).
  const readAll = (m: DnsMessage | null) => void JSON.stringify(m);
  for (let cut = 0; cut <= r.length; cut++) readAll(parseDnsMessage(r, 0, cut));
  for (let i = 0; i < r.length; i++) {
    for (const v of [0, 0x3f, 0xc0, 0xff]) {
      const b = r.slice();
      b[i] = v;
      readAll(parseDnsMessage(b, 0, b.length));
    }
  }
});

Deno.test("parseDnsMessage() keeps its own copy: records read later are the same after the buffer is reused", () => {
  const r = response();
  const buf = new Uint8Array(r.length + 9);
  buf.set(r, 9);
  const m = parseDnsMessage(buf, 9, buf.length)!;
  const fresh = parseDnsMessage(r, 0, r.length)!;
  const before = JSON.stringify(fresh);
  buf.fill(0xc0); // the capture buffer holds the next batch
  assert.equal(JSON.stringify(m), before);
  assert.equal(m.answers[0]!.rdata, "93.184.216.34");
  assert.deepEqual(
    JSON.parse(before).queries,
    [{ rrname: "example.com", rrtype: 1 }],
  );
});

Deno.test("DnsTcpParser splits length-prefixed messages across segments, several per connection", () => {
  const query = new Uint8Array([
    ...u16(0x1234),
    ...u16(0x0100),
    ...u16(1),
    0,
    0,
    0,
    0,
    0,
    0,
    ...name("example.com"),
    ...u16(1),
    ...u16(1),
  ]);
  const resp = response();
  const frame = (m: Uint8Array) => new Uint8Array([...u16(m.length), ...m]);
  const toServer = new Uint8Array([...frame(query), ...frame(query)]);
  const toClient = new Uint8Array([...frame(resp), ...frame(resp)]);
  for (const step of [1, 2, 3, 13, 1000]) {
    const got: [DnsMessage, number][] = [];
    const out: ParserOutput = {
      emit: (rec: AppRecord, dir: number) => {
        if (rec.kind === "dns") got.push([rec, dir]);
      },
    };
    const p = new DnsTcpParser();
    for (
      const [dir, b] of [[DIR_TO_SERVER, toServer], [
        DIR_TO_CLIENT,
        toClient,
      ]] as const
    ) {
      for (let i = 0; i < b.length; i += step) {
        p.data(dir, b, i, Math.min(step, b.length - i), out);
      }
    }
    assert.deepEqual(
      got.map(([m, d]) => [m.qr, d, m.answers.length]),
      [[false, 0, 0], [false, 0, 0], [true, 1, 7], [true, 1, 7]],
      `step ${step}`,
    );
  }
});
