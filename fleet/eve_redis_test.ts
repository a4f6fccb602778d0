import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type EveRedisMode,
  EveRedisShipper,
  readLines,
  withHost,
} from "./eve_redis.ts";
import { ignoreWithoutRedis, startRedis, waitFor } from "./_testing.ts";
import { type RedisTarget, ReplyParser } from "./resp.ts";

const ignore = await ignoreWithoutRedis();

function target(port: number): RedisTarget {
  return {
    host: "127.0.0.1",
    port,
    sentinels: [],
    masterName: "mymaster",
    password: null,
    db: 0,
    timeoutMs: 2000,
  };
}

function eveLine(seq: number): string {
  return JSON.stringify({
    timestamp: new Date(1_700_000_000_000 + seq).toISOString(),
    event_type: "alert",
    src_ip: "203.0.113.7",
    dest_ip: "192.168.1.10",
    alert: { signature: "port scan", signature_id: 1000001 },
    netsentinel: { id: `a${seq}` },
    seq,
  }) + "\n";
}

async function append(path: string, from: number, to: number): Promise<void> {
  let s = "";
  for (let i = from; i < to; i++) s += eveLine(i);
  await Deno.writeTextFile(path, s, { append: true });
}

function shipper(
  dir: string,
  port: number,
  mode: EveRedisMode,
  key = "suricata",
): EveRedisShipper {
  return new EveRedisShipper({
    path: join(dir, "eve.json"),
    rotatedFiles: 5,
    cursorPath: join(dir, "eve-redis.cursor"),
    target: target(port),
    mode,
    key,
    streamMaxlen: 100_000,
    streamTrimExact: false,
    batchSize: 50,
    host: "sensor-a",
    pollMs: 50,
  });
}

function seqs(lines: string[]): number[] {
  return lines.filter((l) => l.length > 0).map((l) => {
    const v = JSON.parse(l);
    assert.equal(v.host, "sensor-a");
    return v.seq as number;
  });
}

Deno.test({
  name:
    "withHost puts the sensor's name first and leaves a record that has one",
  fn() {
    assert.equal(withHost('{"a":1}', '"s"'), '{"host":"s","a":1}');
    assert.equal(withHost('{"host":"x","a":1}', '"s"'), '{"host":"x","a":1}');
  },
});

Deno.test({
  name: "readLines returns whole lines only and the offset after them",
  async fn() {
    const dir = await Deno.makeTempDir();
    const p = join(dir, "eve.json");
    await Deno.writeTextFile(p, '{"a":1}\n{"a":2}\n{"a":3');
    const r = await readLines(p, 0, 10);
    assert.deepEqual(r.lines, ['{"a":1}', '{"a":2}']);
    assert.equal(r.end, 16);
    const r2 = await readLines(p, 8, 1);
    assert.deepEqual(r2.lines, ['{"a":2}']);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "EVE to Redis writes every record once in each of Suricata's modes",
  ignore,
  async fn(t) {
    await using redis = await startRedis();
    for (const mode of ["lpush", "rpush", "xadd"] as const) {
      await t.step(mode, async () => {
        const dir = await Deno.makeTempDir();
        await append(join(dir, "eve.json"), 0, 120);
        const s = shipper(dir, redis.port, mode, `eve-${mode}`);
        s.start();
        const key = `eve-${mode}`;
        if (mode === "xadd") {
          await waitFor(
            async () => (await redis.cli("XLEN", key)) === "120",
            "120 entries",
          );
          const out = await redis.cli("--no-raw", "XRANGE", key, "-", "+");
          // Each entry has the one field "eve" holding the record.
          assert.equal((out.match(/"eve"/g) ?? []).length, 120);
          const raw = (await redis.cli("XRANGE", key, "-", "+")).split("\n")
            .filter((l) => l.startsWith("{"));
          assert.deepEqual(seqs(raw), [...Array(120).keys()]);
        } else {
          await waitFor(
            async () => (await redis.cli("LLEN", key)) === "120",
            "120 records",
          );
          const got = seqs(
            (await redis.cli("LRANGE", key, "0", "-1")).split("\n"),
          );
          const want = [...Array(120).keys()];
          assert.deepEqual(got, mode === "rpush" ? want : want.reverse());
        }
        await s.stop();
        assert.equal(s.state().sent, 120);
        await Deno.remove(dir, { recursive: true });
      });
    }
    await t.step("publish", async () => {
      const dir = await Deno.makeTempDir();
      const sub = new Deno.Command("redis-cli", {
        args: ["-p", String(redis.port), "SUBSCRIBE", "eve-chan"],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = sub.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      const readUntil = async (pred: () => boolean) => {
        while (!pred()) {
          const r = await reader.read();
          if (r.done) break;
          text += r.value;
        }
      };
      await readUntil(() => text.includes("eve-chan"));
      await waitFor(
        async () =>
          (await redis.cli("PUBSUB", "NUMSUB", "eve-chan")).endsWith("1"),
        "the subscriber",
      );
      await append(join(dir, "eve.json"), 0, 30);
      const s = shipper(dir, redis.port, "publish", "eve-chan");
      s.start();
      await readUntil(() => (text.match(/"seq":29/g) ?? []).length > 0);
      const got = seqs(text.split("\n").filter((l) => l.startsWith("{")));
      assert.deepEqual(got, [...Array(30).keys()]);
      await s.stop();
      sub.kill();
      await reader.cancel();
      await sub.status;
      await Deno.remove(dir, { recursive: true });
    });
  },
});

Deno.test({
  name:
    "a Redis outage mid-stream: records written meanwhile are sent on its return, none lost or doubled",
  ignore,
  async fn() {
    await using redis = await startRedis();
    const dir = await Deno.makeTempDir();
    const eve = join(dir, "eve.json");
    await append(eve, 0, 500);
    const s = shipper(dir, redis.port, "rpush");
    s.start();
    await waitFor(
      async () => Number(await redis.cli("LLEN", "suricata")) > 0,
      "the first records",
    );
    await redis.kill();
    await append(eve, 500, 2000);
    await waitFor(() => !s.state().connected, "the shipper to see it down");
    await waitFor(
      () => s.state().pending_bytes > 0,
      "pending bytes while down",
    );
    assert.ok(s.state().down_since !== null);
    await redis.restart();
    await append(eve, 2000, 2100);
    await waitFor(
      async () => (await redis.cli("LLEN", "suricata")) === "2100",
      "all 2100 records",
    );
    const got = seqs(
      (await redis.cli("LRANGE", "suricata", "0", "-1")).split("\n"),
    );
    assert.deepEqual(got, [...Array(2100).keys()]);
    assert.ok(s.state().reconnects >= 1);
    assert.equal(s.state().pending_bytes, 0);
    await s.stop();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "a batch Redis applied whose reply was lost is not sent again (Redis' cursor is ahead of the local one)",
  ignore,
  async fn() {
    await using redis = await startRedis();
    const dir = await Deno.makeTempDir();
    const eve = join(dir, "eve.json");
    await append(eve, 0, 100);
    const cursorPath = join(dir, "eve-redis.cursor");
    const s1 = shipper(dir, redis.port, "rpush");
    s1.start();
    await waitFor(
      async () => (await redis.cli("LLEN", "suricata")) === "100",
      "100 records",
    );
    await s1.stop();
    // The local cursor as it was before the last batch's EXEC reply came.
    const [ino] = (await Deno.readTextFile(cursorPath)).split(":");
    await Deno.writeTextFile(cursorPath, `${ino}:0`);
    await append(eve, 100, 150);
    const s2 = shipper(dir, redis.port, "rpush");
    s2.start();
    await waitFor(
      async () => (await redis.cli("LLEN", "suricata")) === "150",
      "150 records",
    );
    await s2.stop();
    assert.equal(s2.state().resends_avoided, 1);
    const got = seqs(
      (await redis.cli("LRANGE", "suricata", "0", "-1")).split("\n"),
    );
    assert.deepEqual(got, [...Array(150).keys()]);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "a file rotated while Redis is away is finished before the new one is begun",
  ignore,
  async fn() {
    await using redis = await startRedis();
    const dir = await Deno.makeTempDir();
    const eve = join(dir, "eve.json");
    await append(eve, 0, 50);
    const s = shipper(dir, redis.port, "rpush");
    s.start();
    await waitFor(
      async () => (await redis.cli("LLEN", "suricata")) === "50",
      "50 records",
    );
    await redis.kill();
    await append(eve, 50, 300);
    await Deno.rename(eve, `${eve}.1`);
    await append(eve, 300, 400);
    await redis.restart();
    await waitFor(
      async () => (await redis.cli("LLEN", "suricata")) === "400",
      "400 records",
    );
    const got = seqs(
      (await redis.cli("LRANGE", "suricata", "0", "-1")).split("\n"),
    );
    assert.deepEqual(got, [...Array(400).keys()]);
    await s.stop();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "the RESP parser takes any bytes: replies, undefined for more, or a RangeError",
  fn() {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const pieces = [
      "+OK\r\n",
      "-ERR x\r\n",
      ":12\r\n",
      "$3\r\nabc\r\n",
      "*2\r\n",
      "$-1\r\n",
      "*-1\r\n",
      "$999999999999\r\n",
      "*99999999\r\n",
      "?\r\n",
      "\r\n",
      ":x\r\n",
    ];
    for (let n = 0; n < 2000; n++) {
      const p = new ReplyParser();
      let text = "";
      for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) {
        text += rand() < 0.8
          ? pieces[Math.floor(rand() * pieces.length)]!
          : String.fromCharCode(Math.floor(rand() * 256));
      }
      const bytes = new TextEncoder().encode(text);
      const cut = Math.floor(rand() * bytes.length);
      try {
        p.push(bytes.subarray(0, cut));
        while (p.next() !== undefined) { /* drain */ }
        p.push(bytes.subarray(cut));
        while (p.next() !== undefined) { /* drain */ }
      } catch (e) {
        assert.ok(e instanceof RangeError, String(e));
      }
    }
  },
});
