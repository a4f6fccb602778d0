import assert from "node:assert/strict";
import zlib from "node:zlib";
import { DIR_TO_CLIENT, DIR_TO_SERVER } from "../flows/mod.ts";
import {
  type AppRecord,
  HTTP_BODY_INFLATE_MAX,
  HTTP_BODY_KEEP,
  httpBuffer,
  HttpParser,
  type HttpTransaction,
  normalizeUri,
  type ParserOutput,
} from "./mod.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) =>
  b === null ? null : new TextDecoder().decode(b);

interface Emitted {
  tx: HttpTransaction;
  dir: number;
  state: string;
}

/** A parser and what it emitted. */
function parser(): { p: HttpParser; out: ParserOutput; got: Emitted[] } {
  const got: Emitted[] = [];
  const out: ParserOutput = {
    emit(rec: AppRecord, dir: number) {
      assert.equal(rec.kind, "http");
      if (rec.kind === "http") got.push({ tx: rec, dir, state: rec.state });
    },
  };
  return { p: new HttpParser(), out, got };
}

/** Feeds `text` to direction `dir`, in chunks of `step` bytes (0: whole). */
function feed(
  k: { p: HttpParser; out: ParserOutput },
  dir: number,
  data: string | Uint8Array,
  step = 0,
): void {
  const b = typeof data === "string" ? enc(data) : data;
  if (step <= 0) {
    k.p.data(dir, b, 0, b.length, k.out);
    return;
  }
  // Feed from a bigger buffer at an offset, as the reassembler does.
  const big = new Uint8Array(b.length + 7);
  big.set(b, 7);
  for (let i = 0; i < b.length; i += step) {
    k.p.data(dir, big, 7 + i, Math.min(step, b.length - i), k.out);
  }
}

const REQ1 = "GET /a?x=1 HTTP/1.1\r\nHost: Example.COM:8080\r\n" +
  "User-Agent: curl/7.88.1\r\nAccept: */*\r\nCookie: s=1\r\n\r\n";
const RES1 = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" +
  "Content-Length: 5\r\nSet-Cookie: k=v\r\nServer: nginx\r\n\r\nhello";
const REQ2 = "POST /login HTTP/1.1\r\nHost: example.com\r\n" +
  "Content-Length: 7\r\nReferer: http://example.com/\r\n\r\nu=a&p=b";
const RES2 = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";

Deno.test("HttpParser pairs every request of a keep-alive connection with its response", () => {
  for (const step of [0, 1, 3, 17]) {
    const k = parser();
    feed(k, DIR_TO_SERVER, REQ1, step);
    feed(k, DIR_TO_CLIENT, RES1, step);
    feed(k, DIR_TO_SERVER, REQ2, step);
    feed(k, DIR_TO_CLIENT, RES2, step);
    assert.deepEqual(
      k.got.map((g) => `${g.tx.txId}:${g.state}:${g.dir}`),
      ["0:request:0", "0:complete:1", "1:request:0", "1:complete:1"],
      `step ${step}`,
    );
    const [a, , b] = k.got.map((g) => g.tx);
    assert.equal(a!.method, "GET");
    assert.equal(a!.url, "/a?x=1");
    assert.equal(a!.protocol, "HTTP/1.1");
    assert.equal(a!.hostname, "example.com");
    assert.equal(a!.status, 200);
    assert.equal(dec(a!.response!.body), "hello");
    assert.equal(a!.response!.bodyLength, 5);
    assert.equal(b!.method, "POST");
    assert.equal(dec(b!.request!.body), "u=a&p=b");
    assert.equal(b!.status, 401);
  }
});

Deno.test("HttpParser pairs pipelined requests with responses in order", () => {
  const k = parser();
  feed(
    k,
    DIR_TO_SERVER,
    "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" +
      "HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n",
  );
  assert.equal(k.got.length, 3);
  feed(
    k,
    DIR_TO_CLIENT,
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n11" +
      "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n22" +
      // A HEAD response announces a length but has no body.
      "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
  );
  const done = k.got.filter((g) => g.state === "complete").map((g) => g.tx);
  assert.deepEqual(done.map((t) => [t.url, t.status, dec(t.response!.body)]), [
    ["/1", 200, "11"],
    ["/2", 404, "22"],
    ["/3", 200, ""],
  ]);
});

Deno.test("HttpParser de-chunks bodies (extensions, trailers) and skips interim responses", () => {
  for (const step of [0, 1, 5]) {
    const k = parser();
    feed(
      k,
      DIR_TO_SERVER,
      "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" +
        "Expect: 100-continue\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\n" +
        "X-Trailer: 1\r\n\r\n",
      step,
    );
    feed(
      k,
      DIR_TO_CLIENT,
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n" +
        "Transfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
      step,
    );
    const tx = k.got.at(-1)!.tx;
    assert.equal(k.got.at(-1)!.state, "complete", `step ${step}`);
    assert.equal(dec(tx.request!.body), "Wikipedia");
    assert.equal(tx.status, 201);
    assert.equal(dec(tx.response!.body), "0123456789");
    assert.equal(tx.response!.bodyLength, 10);
  }
});

Deno.test("HttpParser decodes gzip and deflate bodies within a bound (a decompression bomb stops there)", () => {
  const text = "hello compressed world ".repeat(50);
  for (
    const [name, z] of [["gzip", zlib.gzipSync], [
      "deflate",
      zlib.deflateSync,
    ]] as const
  ) {
    const body = new Uint8Array(z(enc(text)));
    const k = parser();
    feed(k, DIR_TO_SERVER, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    const head = enc(
      `HTTP/1.1 200 OK\r\nContent-Encoding: ${name}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    feed(k, DIR_TO_CLIENT, head);
    feed(k, DIR_TO_CLIENT, body, 7);
    assert.equal(dec(k.got.at(-1)!.tx.response!.body), text, name);
  }
  // 50 MB of zeros in about 50 KB of gzip: only the bound comes out.
  const bomb = new Uint8Array(zlib.gzipSync(new Uint8Array(50_000_000)));
  const k = parser();
  feed(k, DIR_TO_SERVER, "GET /bomb HTTP/1.1\r\nHost: a\r\n\r\n");
  feed(
    k,
    DIR_TO_CLIENT,
    `HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`,
  );
  feed(k, DIR_TO_CLIENT, bomb, 1460);
  const r = k.got.at(-1)!.tx.response!;
  assert.ok(r.body.length > 0 && r.body.length <= HTTP_BODY_INFLATE_MAX);
  assert.equal(r.bodyLength, bomb.length);
  assert.equal(r.bodyIncomplete, bomb.length > HTTP_BODY_KEEP);
});

Deno.test("HttpParser ends a body at the close when the response has no length", () => {
  const k = parser();
  feed(k, DIR_TO_SERVER, "GET / HTTP/1.0\r\n\r\n");
  feed(
    k,
    DIR_TO_CLIENT,
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nab",
  );
  feed(k, DIR_TO_CLIENT, "cd");
  assert.equal(k.got.length, 1);
  k.p.end(DIR_TO_CLIENT, k.out);
  assert.equal(k.got.length, 2);
  assert.equal(dec(k.got[1]!.tx.response!.body), "abcd");
});

Deno.test("HttpParser completes a request that got no response when the connection closes", () => {
  const k = parser();
  feed(k, DIR_TO_SERVER, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  k.p.close(k.out);
  assert.deepEqual(k.got.map((g) => g.state), ["request", "complete"]);
  assert.equal(k.got[1]!.tx.response, null);
});

Deno.test("HttpParser shortens a body over a gap, keeps a head cut by a gap, and resynchronises on the next request", () => {
  const k = parser();
  feed(
    k,
    DIR_TO_SERVER,
    "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01",
  );
  k.p.gap(DIR_TO_SERVER, 4, k.out);
  feed(k, DIR_TO_SERVER, "6789");
  assert.equal(k.got.length, 1);
  const r = k.got[0]!.tx.request!;
  assert.equal(r.bodyLength, 10);
  assert.equal(r.bodyIncomplete, true);
  assert.equal(dec(r.body), "016789");
  // A gap inside the next head: that request is lost, the one after is read.
  feed(k, DIR_TO_SERVER, "GET /lost HTTP/1.1\r\nHo");
  k.p.gap(DIR_TO_SERVER, 10, k.out);
  feed(k, DIR_TO_SERVER, "st: a\r\n\r\n");
  feed(k, DIR_TO_SERVER, "GET /found HTTP/1.1\r\nHost: a\r\n\r\n");
  // The cut head is kept as a truncated request.
  assert.deepEqual(k.got.map((g) => g.tx.url), ["/a", "/lost", "/found"]);
  assert.equal(k.got[1]!.tx.request!.truncated, true);
  assert.equal(k.got[2]!.tx.request!.truncated, false);
});

Deno.test("HttpParser stops after 101 Switching Protocols", () => {
  const k = parser();
  feed(
    k,
    DIR_TO_SERVER,
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
  );
  feed(
    k,
    DIR_TO_CLIENT,
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
  );
  feed(k, DIR_TO_SERVER, "GET /not-http HTTP/1.1\r\n\r\n");
  assert.deepEqual(k.got.map((g) => g.state), ["request", "complete"]);
  assert.equal(k.got[1]!.tx.status, 101);
});

Deno.test("HttpParser survives hostile bytes and mutated messages (fuzz)", () => {
  let seed = 7;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const base = enc(
    REQ1 + REQ2 +
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\n",
  );
  const resp = enc(
    RES1 + RES2 + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  );
  for (let round = 0; round < 300; round++) {
    const k = parser();
    for (
      const [dir, src] of [[DIR_TO_SERVER, base], [
        DIR_TO_CLIENT,
        resp,
      ]] as const
    ) {
      const b = src.slice();
      for (let i = 0; i < 1 + rand() * 20; i++) {
        b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      }
      let o = 0;
      while (o < b.length) {
        const n = 1 + Math.floor(rand() * 40);
        if (rand() < 0.05) k.p.gap(dir, n, k.out);
        else k.p.data(dir, b, o, Math.min(n, b.length - o), k.out);
        o += n;
      }
    }
    k.p.close(k.out);
    for (const g of k.got) {
      assert.ok(g.tx.request === null || g.tx.request.raw.length <= 65536);
    }
  }
});

Deno.test("httpBuffer() builds Suricata's sticky buffers", () => {
  const k = parser();
  feed(
    k,
    DIR_TO_SERVER,
    "GET http://example.com/a/./b/../c//d%2Fe?q=%41+b HTTP/1.1\r\nHost: WWW.Example.com:8080\r\n" +
      "User-Agent: UA\r\nCookie: sid=1\r\nReferer: http://r/\r\n\r\n",
  );
  feed(k, DIR_TO_CLIENT, RES1);
  const tx = k.got.at(-1)!.tx;
  const b = (n: Parameters<typeof httpBuffer>[1], dir = DIR_TO_SERVER) =>
    dec(httpBuffer(tx, n, dir));
  assert.equal(
    b("http.uri.raw"),
    "http://example.com/a/./b/../c//d%2Fe?q=%41+b",
  );
  assert.equal(b("http.uri"), "/a/c/d/e?q=A+b");
  assert.equal(b("http.method"), "GET");
  assert.equal(b("http.protocol"), "HTTP/1.1");
  assert.equal(
    b("http.request_line"),
    "GET http://example.com/a/./b/../c//d%2Fe?q=%41+b HTTP/1.1",
  );
  assert.equal(b("http.host"), "www.example.com");
  assert.equal(b("http.host.raw"), "WWW.Example.com:8080");
  assert.equal(b("http.user_agent"), "UA");
  assert.equal(b("http.cookie"), "sid=1");
  assert.equal(b("http.referer"), "http://r/");
  assert.equal(
    b("http.header"),
    "Host: WWW.Example.com:8080\r\nUser-Agent: UA\r\nReferer: http://r/\r\n",
  );
  assert.equal(
    b("http.header_names"),
    "\r\nHost\r\nUser-Agent\r\nCookie\r\nReferer\r\n\r\n",
  );
  assert.ok(b("http.start")!.startsWith("GET http://"));
  assert.ok(b("http.start")!.endsWith("\r\n\r\n"));
  assert.equal(b("http.stat_code", DIR_TO_CLIENT), "200");
  assert.equal(b("http.stat_msg", DIR_TO_CLIENT), "OK");
  assert.equal(b("http.response_line", DIR_TO_CLIENT), "HTTP/1.1 200 OK");
  assert.equal(b("http.server", DIR_TO_CLIENT), "nginx");
  assert.equal(b("http.content_type", DIR_TO_CLIENT), "text/html");
  assert.equal(b("http.cookie", DIR_TO_CLIENT), "k=v");
  assert.equal(b("http.response_body", DIR_TO_CLIENT), "hello");
  assert.equal(
    b("http.header", DIR_TO_CLIENT),
    "Content-Type: text/html\r\nContent-Length: 5\r\nServer: nginx\r\n",
  );
  assert.equal(b("http.location", DIR_TO_CLIENT), null);
  // Cached: the same bytes come back.
  assert.equal(httpBuffer(tx, "http.uri"), httpBuffer(tx, "http.uri"));
});

Deno.test("normalizeUri() removes dot segments and decodes percent escapes", () => {
  const n = (s: string) => dec(normalizeUri(enc(s)));
  assert.equal(n("/"), "/");
  assert.equal(n("/a/../../b"), "/b");
  assert.equal(n("/a/b/.."), "/a/");
  assert.equal(n("/a/./"), "/a/");
  assert.equal(n("/%2e%2e/etc/passwd"), "/etc/passwd");
  assert.equal(n("/x%zz%4"), "/x%zz%4");
  assert.equal(n("/p?a=/../b"), "/p?a=/../b");
  assert.equal(n("https://h"), "");
});

Deno.test("HttpParser keeps every connection's buffers within the shared budget and gives them back", () => {
  const budget = { used: 0, cap: 256 * 1024 };
  const parsers: HttpParser[] = [];
  const out: ParserOutput = { emit() {} };
  const head = enc("GET /" + "a".repeat(60_000)); // a head that never ends
  const body = new Uint8Array(20_000);
  for (let i = 0; i < 50; i++) {
    const p = new HttpParser(budget);
    parsers.push(p);
    p.data(DIR_TO_SERVER, head, 0, head.length, out);
    p.data(
      DIR_TO_CLIENT,
      enc("HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n"),
      0,
      41,
      out,
    );
    p.data(DIR_TO_CLIENT, body, 0, body.length, out);
    assert.ok(budget.used <= budget.cap, `${budget.used}`);
  }
  assert.ok(budget.used > budget.cap / 2, "the budget was used");
  for (const p of parsers) p.close(out);
  assert.equal(budget.used, 0);
});

Deno.test("HttpParser.take hands out a recycled parser that reads its next connection as a new one would", () => {
  const first = { used: 0, cap: 1 << 20 };
  const got: Emitted[] = [];
  const out: ParserOutput = {
    emit(rec: AppRecord, dir: number) {
      if (rec.kind === "http") got.push({ tx: rec, dir, state: rec.state });
    },
  };
  // A connection left in every odd state: an upgrade on one side, a
  // chunked body in progress and a request waiting on the other.
  const a = HttpParser.take(first);
  const k = { p: a, out };
  feed(
    k,
    DIR_TO_SERVER,
    "GET /ws HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\n",
  );
  feed(
    k,
    DIR_TO_CLIENT,
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
  );
  a.close(out);
  assert.equal(first.used, 0);
  HttpParser.recycle(a);
  // A parser not closed is not taken back.
  const open = new HttpParser();
  HttpParser.recycle(open);
  const second = { used: 0, cap: 1 << 20 };
  const b = HttpParser.take(second);
  assert.equal(b, a, "the closed parser is handed out again");
  assert.notEqual(HttpParser.take(second), open);
  got.length = 0;
  const k2 = { p: b, out };
  feed(k2, DIR_TO_SERVER, REQ1);
  // The request waiting for its response counts in the new budget.
  assert.ok(second.used > 0);
  feed(k2, DIR_TO_CLIENT, RES1);
  feed(k2, DIR_TO_SERVER, REQ2);
  feed(k2, DIR_TO_CLIENT, RES2);
  assert.deepEqual(
    got.map((g) => `${g.tx.txId}:${g.state}:${g.dir}`),
    ["0:request:0", "0:complete:1", "1:request:0", "1:complete:1"],
  );
  const tx = got[0]!.tx;
  assert.equal(tx.url, "/a?x=1");
  assert.equal(tx.status, 200);
  assert.equal(dec(tx.response!.body), "hello");
  b.close(out);
  assert.equal(second.used, 0);
  assert.equal(first.used, 0);
});
