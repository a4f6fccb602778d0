import assert from "node:assert/strict";
import { CLOSE_SLOW, LiveHub } from "./live_hub.ts";

async function waitFor(
  what: string,
  ok: () => boolean,
  ms = 10_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Serves `hub` on a free loopback port: every request becomes a client. */
function serveHub(hub: LiveHub): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      hub.add(socket, { kind: "hello", user: "test", t: 0 });
      return response;
    },
  );
}

Deno.test("LiveHub drops a client that stops reading instead of buffering without bound, and keeps the others", async () => {
  const hub = new LiveHub({ maxBufferedBytes: 256 * 1024 });
  const server = serveHub(hub);
  const port = server.addr.port;
  // A well-behaved client.
  const good = new WebSocket(`ws://127.0.0.1:${port}/`);
  let goodGot = 0;
  good.onmessage = () => goodGot++;
  // A client that completes the handshake and then never reads.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(512);
  const n = await conn.read(buf);
  assert.match(
    new TextDecoder().decode(buf.subarray(0, n ?? 0)),
    /^HTTP\/1\.1 101/,
  );
  try {
    await waitFor("both clients", () => hub.size === 2 && goodGot >= 1);
    const big = "x".repeat(64 * 1024);
    let sent = 0;
    while (hub.metrics().dropped === 0) {
      // One broadcast a tick: the good client keeps up, the silent one cannot.
      hub.broadcast({ kind: "host", host: { ip: big, first_seen: "" } });
      sent++;
      assert.ok(sent < 5000, "the silent client was never dropped");
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(hub.size, 1);
    assert.equal(hub.metrics().dropped, 1);
    const before = goodGot;
    hub.broadcast({ kind: "host", host: { ip: "192.0.2.1", first_seen: "" } });
    await waitFor("the good client's next message", () => goodGot > before);
    assert.equal(CLOSE_SLOW, 4008);
  } finally {
    conn.close();
    const closed = new Promise((r) => (good.onclose = r));
    good.close();
    await closed;
    hub.closeAll();
    await server.shutdown();
  }
});

Deno.test("LiveHub refuses clients beyond its cap", async () => {
  const hub = new LiveHub({ maxClients: 1 });
  const server = serveHub(hub);
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  const a = new WebSocket(url);
  await new Promise((r) => (a.onmessage = r));
  const b = new WebSocket(url);
  const code = await new Promise<number>((r) => (b.onclose = (e) => r(e.code)));
  assert.equal(code, 4009);
  assert.equal(hub.metrics().refused, 1);
  const closed = new Promise((r) => (a.onclose = r));
  a.close();
  await closed;
  await server.shutdown();
});
