import assert from "node:assert/strict";
import { parseFeedConfig } from "./config.ts";
import { IntelService } from "./service.ts";
import { parseIntelConfig } from "./config.ts";
import { readFeedStatus, updateFeed } from "./update.ts";

/** A feed server on loopback whose answers the test changes. */
function feedServer() {
  const files = new Map<string, { body: string; etag?: string }>();
  const seen: { path: string; inm: string | null; ims: string | null }[] = [];
  let slowRelease: (() => void) | null = null;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const path = new URL(req.url).pathname;
      seen.push({
        path,
        inm: req.headers.get("if-none-match"),
        ims: req.headers.get("if-modified-since"),
      });
      if (path === "/slow") {
        // Headers at once, then a body that never ends (until the test is done).
        const enc = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(enc.encode("203.0.113.1\n"));
            slowRelease = () => {
              try {
                c.close();
              } catch { /* cancelled */ }
            };
          },
        });
        return new Response(body);
      }
      const f = files.get(path);
      if (!f) return new Response("not here", { status: 404 });
      if (f.etag && req.headers.get("if-none-match") === f.etag) {
        return new Response(null, { status: 304, headers: { etag: f.etag } });
      }
      return new Response(f.body, {
        headers: {
          ...(f.etag ? { etag: f.etag } : {}),
          "last-modified": "Sat, 05 Dec 2026 10:00:00 GMT",
        },
      });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    files,
    seen,
    async [Symbol.asyncDispose]() {
      (slowRelease as (() => void) | null)?.();
      await server.shutdown();
    },
  };
}

const LIMITS = { max_bytes: 100_000, max_entries: 100_000, timeout_s: 2 };

function ips(n: number, from = 0): string {
  return Array.from(
    { length: n },
    (_, i) => `198.51.${(from + i) >> 8}.${(from + i) & 255}`,
  ).join("\n") + "\n";
}

function feed(url: string, name = "c2") {
  return parseFeedConfig({
    name,
    url,
    format: "plain",
    kind: "ip",
    block: true,
  }, "f");
}

Deno.test("a feed update stores the copy, then asks with its ETag and keeps it on 304", async () => {
  await using srv = feedServer();
  const dataDir = await Deno.makeTempDir();
  try {
    srv.files.set("/c2.txt", { body: "# C2\n" + ips(10), etag: '"v1"' });
    const f = feed(`${srv.url}/c2.txt`);
    const o = { dataDir, fetch, limits: LIMITS };
    const r1 = await updateFeed(f, o);
    assert.equal(r1.outcome, "updated", r1.message);
    assert.equal(r1.status.entries, 10);
    assert.equal(srv.seen.at(-1)!.inm, null);
    const r2 = await updateFeed(f, o);
    assert.equal(r2.outcome, "not_modified", r2.message);
    assert.equal(srv.seen.at(-1)!.inm, '"v1"');
    assert.equal(srv.seen.at(-1)!.ims, "Sat, 05 Dec 2026 10:00:00 GMT");
    const s = await readFeedStatus(dataDir, "c2");
    assert.equal(s.entries, 10);
    assert.equal(s.etag, '"v1"');
    // A restart without network still has the copy.
    const svc = new IntelService({
      config: parseIntelConfig({
        feeds: [{ name: "c2", url: `${srv.url}/c2.txt`, kind: "ip" }],
      }),
      dataDir,
      fetch: null,
    });
    await svc.load();
    assert.equal(svc.index.lookup("198.51.0.7")[0]?.feed, "c2");
    assert.deepEqual(svc.index.lookup("198.51.0.77"), []);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a broken, shrunken, missing, oversized or slow feed keeps the last good copy and says why", async () => {
  await using srv = feedServer();
  const dataDir = await Deno.makeTempDir();
  try {
    srv.files.set("/c2.txt", { body: ips(100), etag: '"a"' });
    const f = feed(`${srv.url}/c2.txt`);
    const o = { dataDir, fetch, limits: LIMITS };
    assert.equal((await updateFeed(f, o)).outcome, "updated");
    const cases: [string, () => void, RegExp][] = [
      [
        "broken",
        () =>
          srv.files.set("/c2.txt", {
            body: "<html>oops</html>\n<p>moved</p>\n",
            etag: '"b"',
          }),
        /no indicator in it \(2 bad lines; line 1: "<html>oops<\/html>"\)/,
      ],
      [
        "mostly garbage",
        () =>
          srv.files.set("/c2.txt", {
            body: ips(60) + "x\n".repeat(61),
            etag: '"c"',
          }),
        /more bad lines \(61\) than indicators \(60\)/,
      ],
      [
        "shrunken",
        () => srv.files.set("/c2.txt", { body: ips(49), etag: '"d"' }),
        /shrank from 100 to 49 indicators/,
      ],
      ["missing", () => srv.files.delete("/c2.txt"), /HTTP 404/],
      [
        "oversized",
        () =>
          srv.files.set("/c2.txt", {
            body: "#".repeat(200_000) + "\n" + ips(100),
            etag: '"e"',
          }),
        /larger than 0\.1 MB \(raise intel\.max_mb\)/,
      ],
    ];
    for (const [what, change, why] of cases) {
      change();
      const r = await updateFeed(f, o);
      assert.equal(r.outcome === "kept" || r.outcome === "failed", true, what);
      assert.match(r.message, why, what);
      assert.match(r.message, /kept the copy of .*, 100 indicators/, what);
      const s = await readFeedStatus(dataDir, "c2");
      assert.equal(s.entries, 100, what);
      assert.match(s.last_error ?? "", why, what);
      const copy = await Deno.readTextFile(`${dataDir}/intel/c2.txt`);
      assert.equal(copy, ips(100), what);
    }
    const slow = feed(`${srv.url}/slow`, "slow");
    const r = await updateFeed(slow, {
      ...o,
      limits: { ...LIMITS, timeout_s: 1 },
    });
    assert.equal(r.outcome, "failed");
    assert.match(
      r.message,
      /no complete answer within 1 s \(raise intel\.timeout\)/,
    );
    assert.match(r.message, /\(no copy yet\)/);
    // Shrinking by less than half is a normal update.
    srv.files.set("/c2.txt", { body: ips(51), etag: '"f"' });
    const ok = await updateFeed(f, o);
    assert.equal(ok.outcome, "updated", ok.message);
    assert.equal((await readFeedStatus(dataDir, "c2")).last_error, null);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("the service updates due feeds, reports age and size, and marks a feed stale after three intervals", async () => {
  await using srv = feedServer();
  const dataDir = await Deno.makeTempDir();
  try {
    srv.files.set("/c2.txt", { body: ips(5), etag: '"1"' });
    let now = Date.parse("2026-12-07T12:00:00Z");
    const config = parseIntelConfig({
      feeds: [
        {
          name: "c2",
          url: `${srv.url}/c2.txt`,
          interval: "1h",
          block: true,
          kind: "ip",
        },
        {
          name: "gone",
          url: `${srv.url}/gone.txt`,
          interval: "1h",
          kind: "ip",
        },
      ],
    });
    const svc = new IntelService({
      config,
      dataDir,
      fetch,
      now: () => now,
      checkMs: 3_600_000,
    });
    await svc.load();
    svc.start();
    const deadline = Date.now() + 10_000;
    while (svc.views()[1]!.last_error === null) {
      assert.ok(Date.now() < deadline, JSON.stringify(svc.views()));
      await new Promise((r) => setTimeout(r, 20));
    }
    await svc.stop();
    const [c2, gone] = svc.views();
    assert.equal(c2!.entries, 5);
    assert.equal(c2!.bytes, ips(5).length);
    assert.equal(c2!.age_s, 0);
    assert.equal(c2!.stale, false);
    assert.equal(gone!.stale, true);
    assert.match(gone!.last_error!, /HTTP 404/);
    now += 3 * 3600_000 + 1000;
    assert.equal(svc.views()[0]!.stale, true);
    assert.equal(svc.views()[0]!.age_s, 3 * 3600 + 1);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
