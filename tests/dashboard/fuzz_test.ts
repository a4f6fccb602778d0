/**
 * Fuzzing the dashboard's HTTP surface: random and hostile paths, query
 * strings, headers, cookies and bodies at every route (and beside them),
 * signed in by session or token and anonymous, with every method and as
 * WebSocket upgrades, against the real appliance on an ephemeral loopback
 * port; plus raw requests on a TCP socket for what `fetch` will not send
 * (control characters, bad escapes, broken framing). The process must
 * survive and no answer may be a 500: a handler's error is a 4xx, or a
 * 503 for a part that is down.
 *
 * Bounded by a request count (`FUZZ_REQUESTS`, default 2,500) and a time
 * budget (`FUZZ_SECONDS`, default 60); seeded (`FUZZ_SEED`, default random,
 * printed on failure) so a failure can be replayed.
 *
 * Traffic stays on loopback: bodies never name a notification channel
 * `kind`, so no channel that would deliver elsewhere is ever created, and
 * the URLs in hostile strings point at 127.0.0.1.
 */
import assert from "node:assert/strict";
import { signIn, startAppliance, TEST_PASSWORD } from "./_appliance.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? "") ||
  (crypto.getRandomValues(new Uint32Array(1))[0]! >>> 0);
const REQUESTS = Number(Deno.env.get("FUZZ_REQUESTS") ?? "") || 2500;
const SECONDS = Number(Deno.env.get("FUZZ_SECONDS") ?? "") || 60;

/** mulberry32: small, seeded, good enough to pick cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE: readonly string[] = [
  "",
  " ",
  "0",
  "-1",
  "1e309",
  "NaN",
  "null",
  "true",
  "[]",
  "{}",
  "10000000000000000",
  "99999999999999999999999",
  "-9007199254740993",
  "0x10",
  "1,2,,3",
  "ZZZZZZZZZZ",
  "AQ",
  "AAAA",
  "A".repeat(600),
  "x".repeat(5000),
  "\u0000",
  "\u0001\u0002\u0003",
  "\u000b",
  "\t",
  "\r\n",
  "\r\nset-cookie: x=1",
  "%00",
  "%ff%fe",
  "%",
  "%zz",
  "/",
  "//",
  "/\t/127.0.0.1",
  "/\\127.0.0.1",
  "\\\\127.0.0.1",
  "../../../../etc/passwd",
  "..%2f..%2fetc%2fpasswd",
  "http://127.0.0.1:1/",
  "javascript:alert(1)",
  "<script>alert(1)</script>",
  "\"'><img src=x onerror=alert(1)>",
  "=cmd|' /C calc'!A0",
  "${jndi:ldap://127.0.0.1/a}",
  "{{7*7}}",
  "é",
  "\u202e",
  "\ud800",
  "💥",
  "0.0.0.0/0",
  "::/0",
  "::ffff:127.0.0.1",
  "127.0.0.1",
  "203.0.113.9",
  "203.0.113.0/24",
  "2001:db8::1",
  "fe80::1%eth0",
  "256.256.256.256",
  "1.2.3.4/33",
  "1h",
  "999999999999d",
  "-5m",
  "2026-13-45T99:99:99Z",
  "9999-12-31T23:59:59.999Z",
  "+275760-09-13T00:00:00.000Z",
  "01JTEST0000000000000000001",
  "a".repeat(64),
  "0123456789abcdef".repeat(4),
  "port_scan",
  "csv",
  "json",
  "1s",
  "demo.pcap",
  ".upload-x.pcap",
  "inbox",
  "archived",
  "escalated",
  "pair",
  "forever",
  "1w",
  "1",
  "0",
  "YnJ1dGVfZm9yY2V8MTAwMDEwMHwxOTguNTEuMTAwLjF8MTkyLjE2OC4xLjIw",
];

const QUERY_KEYS: readonly string[] = [
  "cursor",
  "since",
  "until",
  "limit",
  "type",
  "severity",
  "src",
  "dst",
  "view",
  "format",
  "resolution",
  "from",
  "to",
  "next",
  "speed",
  "name",
  "value",
  "q",
  "id",
  "__proto__",
  "constructor",
];

/** Body fields of the routes, never `kind` (see the module doc). */
const BODY_KEYS: readonly string[] = [
  "target",
  "cidr",
  "duration",
  "reason",
  "alert_id",
  "note",
  "name",
  "file",
  "speed",
  "signature_id",
  "ip",
  "dest_ip",
  "type",
  "groups",
  "group_id",
  "scope",
  "until",
  "features",
  "home_net",
  "suppressions",
  "allowlist",
  "detectors",
  "user",
  "password",
  "next",
  "__proto__",
  "constructor",
];

const CONTENT_TYPES: readonly string[] = [
  "application/json",
  "application/json; charset=utf-8",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
  "application/vnd.tcpdump.pcap",
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/json\u0001",
  "",
];

interface Fuzzer {
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
  hostile(): string;
  json(depth?: number): unknown;
}

function fuzzer(seed: number): Fuzzer {
  const r = rng(seed);
  const f: Fuzzer = {
    int: (n) => Math.floor(r() * n),
    pick: (xs) => xs[Math.floor(r() * xs.length)]!,
    chance: (p) => r() < p,
    hostile() {
      if (r() < 0.15) {
        // Random bytes as text, any code unit.
        const n = f.int(40);
        return String.fromCharCode(
          ...Array.from({ length: n }, () => f.int(r() < 0.8 ? 128 : 0x10000)),
        );
      }
      return f.pick(HOSTILE);
    },
    json(depth = 0): unknown {
      switch (f.int(depth > 2 ? 5 : 8)) {
        case 0:
          return f.hostile();
        case 1:
          return f.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 65536, 3]);
        case 2:
          return f.pick([true, false, null]);
        case 3:
          return f.hostile();
        case 4:
          return f.int(1000);
        case 5:
          return Array.from({ length: f.int(5) }, () => f.json(depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (let i = f.int(6); i > 0; i--) {
            // defineProperty: "__proto__" becomes a key, not the prototype.
            Object.defineProperty(
              o,
              f.chance(0.8) ? f.pick(BODY_KEYS) : f.hostile(),
              { value: f.json(depth + 1), enumerable: true, writable: true },
            );
          }
          return o;
        }
      }
    },
  };
  return f;
}

/** A URL path segment from a hostile string (as a browser would escape it, or raw). */
function segment(f: Fuzzer): string {
  const s = f.hostile();
  if (f.chance(0.7)) {
    try {
      return encodeURIComponent(s);
    } catch {
      return "x"; // A lone surrogate.
    }
  }
  return s.replace(/[\/?#]/g, "");
}

function makePath(f: Fuzzer, pattern: string): string {
  if (f.chance(0.1)) {
    // Beside the routes: unknown, doubled, dotted paths.
    return f.pick([
      "/",
      "//",
      "/api",
      "/api/",
      "/api//alerts",
      "/api/alerts/",
      "/./api/alerts",
      "/static/../api/alerts",
      "/static/%2e%2e/%2e%2e/etc/passwd",
      "/static/",
      "/ws/live/",
      "/signin/",
      "/health/x",
      "/metrics.txt",
    ]) + (f.chance(0.5) ? "/" + segment(f) : "");
  }
  return pattern.split("/").map((p) => p.startsWith(":") ? segment(f) : p)
    .join("/");
}

function makeQuery(f: Fuzzer): string {
  if (f.chance(0.3)) return "";
  const parts: string[] = [];
  for (let i = 1 + f.int(4); i > 0; i--) {
    const k = f.chance(0.85) ? f.pick(QUERY_KEYS) : segment(f);
    const v = f.hostile();
    let ev: string;
    try {
      ev = f.chance(0.8) ? encodeURIComponent(v) : v.replace(/[#&]/g, "");
    } catch {
      ev = "x";
    }
    parts.push(`${k}=${ev}`);
  }
  return "?" + parts.join("&");
}

interface Creds {
  cookie: string;
  token: string;
  url: string;
}

function makeHeaders(f: Fuzzer, c: Creds): Headers {
  const h = new Headers();
  const set = (k: string, v: string) => {
    try {
      h.set(k, v);
    } catch {
      // A value Headers refuses (NUL, CR, LF, above U+00FF): fetch could
      // not send it either; the raw socket part covers those.
    }
  };
  const who = f.int(20);
  switch (who < 7 ? 0 : who < 13 ? 1 : who < 15 ? 2 : who < 17 ? 3 : 4) {
    case 0:
      set("cookie", c.cookie);
      break;
    case 1:
      set("authorization", `Bearer ${c.token}`);
      break;
    case 2:
      set(
        "cookie",
        f.pick([
          "ns_session=" + f.hostile(),
          "ns_session=",
          "ns_session",
          "=; ;=;",
          `${c.cookie}; ${c.cookie}`,
          "x".repeat(4000),
        ]),
      );
      break;
    case 3:
      set(
        "authorization",
        f.pick(["Bearer", "Bearer ", "Basic YTpi", "Bearer nst_", "Bearer "]) +
          f.hostile(),
      );
      break;
    default:
      break; // Anonymous.
  }
  if (f.chance(0.7)) {
    set(
      "origin",
      f.chance(0.7)
        ? c.url
        : f.pick(["null", "http://127.0.0.1:1", f.hostile()]),
    );
  }
  if (f.chance(0.2)) {
    set("sec-fetch-site", f.pick(["same-origin", "cross-site"]));
  }
  if (f.chance(0.5)) set("content-type", f.pick(CONTENT_TYPES));
  if (f.chance(0.15)) {
    set("upgrade", f.pick(["websocket", "WebSocket", "h2c", f.hostile()]));
    set(
      "connection",
      f.pick(["upgrade", "Upgrade", "keep-alive", f.hostile()]),
    );
    if (f.chance(0.6)) {
      set(
        "sec-websocket-key",
        f.pick(["dGhlIHNhbXBsZSBub25jZQ==", f.hostile()]),
      );
    }
    if (f.chance(0.6)) {
      set("sec-websocket-version", f.pick(["13", "8", f.hostile()]));
    }
  }
  if (f.chance(0.1)) {
    set("range", f.pick(["bytes=0-1", "bytes=-1", "bytes=9-1", f.hostile()]));
  }
  if (f.chance(0.1)) set("if-none-match", f.hostile());
  if (f.chance(0.1)) {
    set("if-match", f.pick(["*", '"0"', 'W/"x", "y"', ",,,", f.hostile()]));
  }
  if (f.chance(0.1)) {
    set("accept-encoding", f.pick(["gzip", "br", "*", f.hostile()]));
  }
  if (f.chance(0.05)) set("x-forwarded-for", f.hostile());
  return h;
}

function makeBody(
  f: Fuzzer,
  method: string,
  path: string,
): BodyInit | undefined {
  if (method === "GET" || method === "HEAD") return undefined;
  if (path === "/signin" && f.chance(0.5)) {
    // The right password with a hostile `next`: what reaches `Location`.
    return new URLSearchParams({
      user: "admin",
      password: TEST_PASSWORD,
      next: f.hostile(),
    }).toString();
  }
  switch (f.int(6)) {
    case 0:
      return undefined;
    case 1:
      return JSON.stringify(f.json());
    case 2: {
      const p = new URLSearchParams();
      for (let i = f.int(4); i >= 0; i--) {
        p.set(f.pick(BODY_KEYS), f.hostile());
      }
      return p.toString();
    }
    case 3:
      return crypto.getRandomValues(new Uint8Array(f.int(2000)));
    case 4:
      return f.pick(["{", "[1,", '"x', "nul", '{"a":1}garbage', "\u0000"]);
    default: {
      // A pcap header (maybe broken) and random packet bytes.
      const b = crypto.getRandomValues(new Uint8Array(24 + f.int(600)));
      new DataView(b.buffer).setUint32(0, 0xa1b2c3d4);
      return b;
    }
  }
}

/**
 * A copy of `doc` with one random leaf (or a key) replaced by hostile
 * JSON: bodies that get past the first checks of a handler.
 */
function mutate(f: Fuzzer, doc: unknown, depth = 0): unknown {
  if (depth > 6 || f.chance(0.15)) return f.json();
  if (Array.isArray(doc)) {
    if (doc.length === 0) return [f.json()];
    const out = [...doc];
    const i = f.int(out.length);
    out[i] = mutate(f, out[i], depth + 1);
    return out;
  }
  if (typeof doc === "object" && doc !== null) {
    const out: Record<string, unknown> = { ...doc };
    const keys = Object.keys(out);
    if (keys.length === 0 || f.chance(0.1)) {
      Object.defineProperty(out, f.chance(0.5) ? f.hostile() : "__proto__", {
        value: f.json(),
        enumerable: true,
        writable: true,
      });
      return out;
    }
    const k = f.pick(keys);
    if (f.chance(0.1)) delete out[k];
    else out[k] = mutate(f, out[k], depth + 1);
    return out;
  }
  return f.json();
}

/** A flow description `POST /api/detect` accepts. */
const DETECT_FLOW = {
  flow: {
    proto: "tcp",
    dest_port: 22,
    app_proto: "none",
    duration_s: 0,
    pkts_toserver: 1,
    pkts_toclient: 0,
    bytes_toserver: 60,
    bytes_toclient: 0,
    syn: true,
    tcp_state: "syn_sent",
    dns_query: "example.com",
    dns_qtype: 1,
    src_ports_10s: 500,
    src_hosts_10s: 1,
    src_flows_10s: 500,
    src_failed_10s: 500,
  },
};

/** Raw requests `fetch` cannot make; resolves to the status (0: no answer). */
async function rawRequest(port: number, bytes: Uint8Array): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
    const buf = new Uint8Array(512);
    let text = "";
    const until = Date.now() + 5000;
    while (!text.includes("\r\n") && Date.now() < until) {
      const n = await Promise.race([
        conn.read(buf),
        new Promise<null>((r) => setTimeout(r, 1000, null)),
      ]);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // Reset by the server: refused, not crashed.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

Deno.test("fuzzed requests at every route never crash the appliance or answer 500", async () => {
  await using app = await startAppliance({ signinMax: 1_000_000 });
  const f = fuzzer(SEED);
  const cookie = await signIn(app.url);
  const tokenRes = await fetch(app.url + "/api/tokens", {
    method: "POST",
    headers: { cookie, origin: app.url, "content-type": "application/json" },
    body: JSON.stringify({ name: "fuzz" }),
  });
  const token: string = (await tokenRes.json()).token;
  let creds: Creds = { cookie, token, url: app.url };
  const routes = [
    ...app.server.dashboard.routes,
    { method: "GET", pattern: "/static/bundle/client.js" },
    { method: "GET", pattern: "/static/:file" },
  ];
  const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const deadline = Date.now() + SECONDS * 1000;
  let sent = 0;
  for (; sent < REQUESTS && Date.now() < deadline; sent++) {
    const route = f.pick(routes);
    const path = makePath(f, route.pattern);
    const url = app.url + path + makeQuery(f);
    const method = f.chance(0.65) ? route.method : f.pick(methods);
    const headers = makeHeaders(f, creds);
    const body = makeBody(f, method, path);
    let status: number;
    try {
      const res = await fetch(url, {
        method,
        headers,
        body,
        redirect: "manual",
      });
      status = res.status;
      await res.body?.cancel();
    } catch (e) {
      // fetch refused to send it (an invalid URL): nothing reached the server.
      if (
        e instanceof TypeError && !/connection|reset|closed/i.test(e.message)
      ) {
        continue;
      }
      throw new Error(`Seed ${SEED}: ${method} ${url.slice(0, 200)}: ${e}`);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status === 500) {
      failures.push(`${method} ${url.slice(0, 200)} → 500`);
    }
    // The fuzz may sign the session out or revoke the token (or a body
    // may pass for the policy): sign in again so later requests still
    // reach the handlers behind sign-in.
    if (path.startsWith("/signout") || path.startsWith("/api/tokens/")) {
      const check = await fetch(app.url + "/api/tokens", {
        headers: { cookie: creds.cookie },
      });
      const ok = check.status === 200;
      const list = ok ? await check.json() : null;
      if (!ok) await check.body?.cancel();
      const c2 = ok ? creds.cookie : await signIn(app.url);
      let t2 = creds.token;
      if (
        !list?.tokens.some((t: { prefix: string }) =>
          creds.token.startsWith(t.prefix)
        )
      ) {
        const r = await fetch(app.url + "/api/tokens", {
          method: "POST",
          headers: {
            cookie: c2,
            origin: app.url,
            "content-type": "application/json",
          },
          body: JSON.stringify({ name: "fuzz" }),
        });
        t2 = (await r.json()).token;
      }
      creds = { cookie: c2, token: t2, url: app.url };
    }
  }

  // Valid documents with one hostile part: the policy (PUT /api/config),
  // a flow to score, a block, an allowlist entry, a suppression (mute),
  // an inbox action and an auto-archive rule.
  const policy = await (await fetch(app.url + "/api/config", {
    headers: { cookie: creds.cookie },
  })).json();
  const documents: [string, string, unknown][] = [
    ["PUT", "/api/config", policy],
    ["POST", "/api/detect", DETECT_FLOW],
    ["POST", "/api/blocks", {
      target: "203.0.113.9",
      duration: "1h",
      reason: "fuzz",
    }],
    ["POST", "/api/allowlist", { cidr: "198.51.100.0/24", note: "fuzz" }],
    ["POST", "/api/suppressions", { signature_id: 1000100, ip: "203.0.113.9" }],
    ["POST", "/api/suppressions", {
      signature_id: 1000100,
      type: "port_scan",
      ip: "203.0.113.9",
      dest_ip: "192.0.2.1",
      scope: "pair",
      until: "2030-01-01T00:00:00Z",
      reason: "fuzz",
    }],
    ["POST", "/api/inbox/archive", { groups: ["YnJ1dGVfZm9yY2V8MQ"] }],
    ["POST", "/api/inbox/escalate", { groups: ["YnJ1dGVfZm9yY2V8MQ", "x"] }],
    ["POST", "/api/inbox/rules", {
      signature_id: 1000100,
      type: "port_scan",
      ip: "203.0.113.9",
      scope: "src",
      duration: "1h",
      reason: "fuzz",
    }],
    ["POST", "/api/replay/start", { file: "demo.pcap", speed: 0 }],
  ];
  for (let i = 0; i < 600 && Date.now() < deadline + 30_000; i++) {
    const [method, path, doc] = f.pick(documents);
    const body = JSON.stringify(mutate(f, doc));
    const res = await fetch(app.url + path, {
      method,
      headers: {
        authorization: `Bearer ${creds.token}`,
        "content-type": "application/json",
      },
      body,
    });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status === 500) {
      failures.push(`${method} ${path} ${body.slice(0, 300)} → 500`);
    }
    await res.body?.cancel();
  }
  await fetch(app.url + "/api/replay/stop", {
    method: "POST",
    headers: { authorization: `Bearer ${creds.token}` },
  }).then((r) => r.body?.cancel());

  // What fetch will not send, on a raw socket.
  const port = Number(new URL(app.url).port);
  const raw = [
    "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /%zz%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /signin?next=/%01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /api/alerts HTTP/1.1\r\nHost: x\r\nCookie: ns_session=\x7f\r\n\r\n",
    "GET /health HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
    "GET /health HTTP/1.1\r\nHost: \xff\r\n\r\n",
    "POST /signin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde",
    "POST /api/replay/start HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "GET /ws/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Cookie: ${creds.cookie}\r\nOrigin: ${app.url}\r\n\r\n`,
    "GET " + "/a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET / HTTP/1.1\r\n" + "X: y\r\n".repeat(500) + "\r\n",
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "BREW /coffee HTCPCP/1.0\r\n\r\n",
  ];
  for (let i = 0; i < 100; i++) {
    const line = f.pick(raw);
    const bytes = Uint8Array.from(line, (c) => c.charCodeAt(0) & 0xff);
    const status = await rawRequest(port, bytes);
    if (status === 500) {
      failures.push(`raw ${JSON.stringify(line.slice(0, 120))} → 500`);
    }
  }

  // Real WebSocket clients with garbage frames and abrupt closes.
  const DenoWebSocket = WebSocket as unknown as new (
    url: string,
    opts: { headers: Record<string, string> },
  ) => WebSocket;
  for (let i = 0; i < 10; i++) {
    const ws = new DenoWebSocket(app.url.replace("http", "ws") + "/ws/live", {
      headers: { cookie: creds.cookie, origin: app.url },
    });
    const closed = new Promise<void>((r) => ws.onclose = () => r());
    ws.onerror = () => {};
    await new Promise<void>((r) => {
      ws.onopen = () => r();
      closed.then(r);
    });
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(f.hostile());
      ws.send(crypto.getRandomValues(new Uint8Array(f.int(4096))));
      ws.close(f.pick([1000, 3000, 4999]), f.hostile().slice(0, 20));
    }
    await closed;
  }

  // Still alive and answering (a fuzzed upload may have left the replay
  // "failed": /health then says 503, which is its job).
  const health = await fetch(app.url + "/health");
  assert.ok([200, 503].includes(health.status), `/health ${health.status}`);
  await health.body?.cancel();
  const alive = await fetch(app.url + "/api/alerts", {
    headers: { authorization: `Bearer ${creds.token}` },
  });
  assert.equal(alive.status, 200);
  await alive.body?.cancel();
  assert.deepEqual(
    failures,
    [],
    `seed ${SEED}, ${sent} requests; statuses ${
      JSON.stringify(Object.fromEntries(statuses))
    }`,
  );
  assert.ok(sent >= 100, `only ${sent} requests were sent`);
  assert.ok((statuses.get(200) ?? 0) > 0, "some requests reached handlers");
});
