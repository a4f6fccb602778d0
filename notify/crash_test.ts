import assert from "node:assert/strict";
import { waitFor } from "../store/_testing.ts";
import { notifyOutboxPrefix, openStore } from "../store/mod.ts";
import type { Message } from "./message.ts";
import { httpReceiver } from "./_testing.ts";

const CHILD = new URL("./_notify_child.ts", import.meta.url).pathname;

function start(dir: string, url: string, mode: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", CHILD, dir, url, mode],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const reading = (async () => {
    let buf = "";
    for await (const s of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += s;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  return { child, lines, reading, stderr };
}

Deno.test("a kill -9 while the channel is down loses no acknowledged alert and sends none twice once it is back", async () => {
  await using rx = httpReceiver();
  rx.down = true;
  const dir = await Deno.makeTempDir({ prefix: "ns-notify-crash-" });
  try {
    const url = rx.url + "hook";
    const feed = start(dir, url, "feed");
    const acked = () => feed.lines.filter((l) => l.startsWith("ACK ")).length;
    await waitFor("acknowledged alerts", acked, (n) => n >= 40, 30_000);
    await waitFor("refused sends", () => rx.refused, (n) => n >= 2);
    feed.child.kill("SIGKILL");
    const status = await feed.child.status;
    await feed.reading;
    assert.equal(status.signal, "SIGKILL", await feed.stderr);
    const ackedIds = new Set(
      feed.lines.filter((l) => l.startsWith("ACK ")).map((l) =>
        Number(l.slice(4))
      ),
    );
    assert.equal(rx.got.length, 0);

    rx.down = false;
    const drain = start(dir, url, "drain");
    const seen = () =>
      rx.got.flatMap((g) =>
        (JSON.parse(g.body).netsentinel as Message).items.map((i) => i.src)
      );
    try {
      await waitFor(
        "every acknowledged alert",
        () => new Set(seen()).size,
        (n) => n >= ackedIds.size,
        30_000,
      );
      // Nothing more can come once the outbox in KV is empty.
      using store = await openStore(dir);
      await waitFor("an empty outbox", async () => {
        let n = 0;
        for await (
          const _ of store.kv.list({ prefix: notifyOutboxPrefix() })
        ) n++;
        return n;
      }, (n) => n === 0);
    } finally {
      drain.child.kill("SIGTERM");
      await drain.child.status;
      await drain.reading;
      await drain.stderr;
    }
    const srcs = seen();
    for (const n of ackedIds) {
      const src = `10.66.${(n >> 8) & 255}.${n & 255}`;
      assert.ok(srcs.includes(src), `alert ${n} lost`);
    }
    assert.equal(new Set(srcs).size, srcs.length, "an alert was sent twice");
    const ids = rx.got.map((g) => g.headers["x-netsentinel-delivery"]);
    assert.equal(new Set(ids).size, ids.length, "a message was sent twice");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
