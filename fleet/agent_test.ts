import assert from "node:assert/strict";
import { join } from "node:path";
import { tempStore } from "../store/_testing.ts";
import { listBlocks } from "../store/mod.ts";
import { Blocker, NO_FACTS, type SystemFacts } from "../respond/mod.ts";
import { FleetAgent, parseDecision } from "./agent.ts";
import { parseFleetConfig } from "./config.ts";
import {
  ignoreWithoutRedis,
  startRedis,
  startSentinel,
  waitFor,
} from "./_testing.ts";

const ignore = await ignoreWithoutRedis();

async function sensor(
  name: string,
  port: number,
  facts: SystemFacts = NO_FACTS,
  redis: Record<string, unknown> = { port, timeout: "1s" },
) {
  const ts = await tempStore();
  const blocker = new Blocker(ts.store, {
    nftables: false,
    systemFacts: () => Promise.resolve(facts),
    resyncIntervalMs: 60_000,
  });
  await blocker.start();
  const agent = new FleetAgent({
    config: parseFleetConfig({
      enabled: true,
      sensor: name,
      redis,
      heartbeat: "500ms",
      stale_after: "2s",
    }),
    store: ts.store,
    blocker,
    eve: null,
    health: () => ({ capture: "up" }),
    syncMs: 50,
  });
  agent.start();
  const targets = async () =>
    (await listBlocks(ts.store)).map((b) => `${b.target}:${b.source}`).sort();
  return {
    name,
    ts,
    blocker,
    agent,
    targets,
    async [Symbol.asyncDispose]() {
      await agent.stop();
      await blocker.stop();
      await ts[Symbol.asyncDispose]();
    },
  };
}

Deno.test({
  name: "parseDecision refuses decisions that are not what a sensor writes",
  fn() {
    const ok = JSON.stringify({
      target: "192.0.2.1",
      sensor: "a",
      reason: "r",
      since: "2026-01-01T00:00:00Z",
      until: "2026-01-01T01:00:00Z",
    });
    assert.equal(parseDecision("192.0.2.1", ok)?.sensor, "a");
    assert.equal(parseDecision("192.0.2.2", ok), null);
    for (
      const bad of [
        "",
        "{",
        "[]",
        "null",
        '{"target":"192.0.2.1"}',
        JSON.stringify({ ...JSON.parse(ok), until: "soon" }),
        JSON.stringify({ ...JSON.parse(ok), sensor: 7 }),
      ]
    ) assert.equal(parseDecision("192.0.2.1", bad), null, bad);
  },
});

Deno.test({
  name:
    "a block made on one sensor is applied on the others, refused where a guard forbids it, and lifted everywhere when lifted on any",
  ignore,
  async fn() {
    await using redis = await startRedis();
    await using a = await sensor("a", redis.port);
    await using b = await sensor("b", redis.port);
    // C's own address is the target: its guard refuses the decision.
    await using c = await sensor("c", redis.port, {
      ...NO_FACTS,
      ownAddrs: ["198.51.100.3"],
    });
    const r1 = await a.blocker.block("203.0.113.9", { duration: 600 });
    assert.ok(r1.ok);
    const r2 = await a.blocker.block("198.51.100.3", { duration: 600 });
    assert.ok(r2.ok);
    await waitFor(
      async () =>
        (await b.targets()).join() ===
          "198.51.100.3:fleet,203.0.113.9:fleet" &&
        (await c.targets()).join() === "203.0.113.9:fleet",
      "the decisions on b and c",
    );
    await waitFor(
      () =>
        a.agent.view().refusals.some((r) =>
          r.sensor === "c" && r.target === "198.51.100.3" &&
          r.reason === "own_address" && r.from === "a"
        ),
      "c's refusal reported to a",
    );
    assert.ok(
      (await redis.cli("HGET", "netsentinel:fleet:refusals", "c|198.51.100.3"))
        .includes("own_address"),
    );
    // Lifted on C (a block C got from the fleet): lifted on A and B.
    await c.blocker.unblock("203.0.113.9");
    await waitFor(
      async () =>
        !(await a.targets()).some((t) => t.startsWith("203.0.113.9")) &&
        !(await b.targets()).some((t) => t.startsWith("203.0.113.9")),
      "the lift on a and b",
    );
    assert.equal(
      await redis.cli("HEXISTS", "netsentinel:fleet:decisions", "203.0.113.9"),
      "0",
    );
    assert.deepEqual(await a.targets(), ["198.51.100.3:cli"]);
  },
});

Deno.test({
  name:
    "while Redis is away sensors keep blocking locally, and on its return blocks and lifts made meanwhile reach the others",
  ignore,
  async fn() {
    await using redis = await startRedis();
    await using a = await sensor("a", redis.port);
    await using b = await sensor("b", redis.port);
    assert.ok((await a.blocker.block("203.0.113.20", { duration: 600 })).ok);
    await waitFor(
      async () => (await b.targets()).includes("203.0.113.20:fleet"),
      "the first decision on b",
    );
    await redis.kill();
    await waitFor(
      () => !a.agent.state().connected && !b.agent.state().connected,
      "both to see Redis down",
    );
    assert.ok(a.agent.view().down_since !== null);
    // Local blocking goes on; a lift on b waits in KV.
    assert.ok((await a.blocker.block("203.0.113.21", { duration: 600 })).ok);
    await b.blocker.unblock("203.0.113.20");
    await waitFor(
      () => b.agent.state().pending_lifts === 1,
      "b's pending lift",
    ).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(b.agent.state())}`);
    });
    await redis.restart();
    await waitFor(
      async () =>
        (await b.targets()).join() === "203.0.113.21:fleet" &&
        (await a.targets()).join() === "203.0.113.21:cli",
      "both caught up",
    );
    assert.ok(a.agent.state().connected && b.agent.state().connected);
  },
});

Deno.test({
  name: "a sensor that stops sending heartbeats is shown stale by the others",
  ignore,
  async fn() {
    await using redis = await startRedis();
    await using a = await sensor("a", redis.port);
    const b = await sensor("b", redis.port);
    await waitFor(
      () =>
        a.agent.view().sensors.map((s) => `${s.sensor}:${s.stale}`).join() ===
          "a:false,b:false",
      "both fresh",
    );
    await b[Symbol.asyncDispose]();
    await waitFor(
      () =>
        a.agent.view().sensors.map((s) => `${s.sensor}:${s.stale}`).join() ===
          "a:false,b:true",
      "b stale",
    );
  },
});

Deno.test({
  name:
    "fleet alerts come from the EVE file with the sensor named, newest record of an alert once",
  ignore,
  async fn() {
    await using redis = await startRedis();
    await using ts = await tempStore();
    const dir = await Deno.makeTempDir();
    const eve = join(dir, "eve.json");
    const line = (id: string, count: number) =>
      JSON.stringify({
        event_type: "alert",
        netsentinel: { id, count },
      }) + "\n";
    await Deno.writeTextFile(eve, line("x", 1) + line("y", 1) + line("x", 2));
    const blocker = new Blocker(ts.store, {
      nftables: false,
      systemFacts: () => Promise.resolve(NO_FACTS),
    });
    const agent = new FleetAgent({
      config: parseFleetConfig({
        enabled: true,
        sensor: "pi-1",
        redis: { port: redis.port },
      }),
      store: ts.store,
      blocker,
      eve: { path: eve, rotatedFiles: 5, cursorPath: join(dir, "cur") },
      health: () => ({}),
      syncMs: 50,
    });
    agent.start();
    await waitFor(
      async () => (await redis.cli("XLEN", "netsentinel:fleet:alerts")) === "3",
      "three records",
    );
    const got = await agent.alerts({ limit: 10 });
    assert.deepEqual(
      got.map((
        a,
      ) => [a.sensor, (a.eve.netsentinel as { count: number }).count]),
      [["pi-1", 2], ["pi-1", 1]],
    );
    assert.deepEqual(await agent.alerts({ sensor: "other" }), []);
    await agent.stop();
    await blocker.stop();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "hostile fleet data in Redis (malformed decisions, heartbeats, refusals, stream entries, wrong key types) is dropped and the agent goes on",
  ignore,
  async fn() {
    await using redis = await startRedis();
    const P = "netsentinel:fleet";
    const junk = [
      "",
      "{",
      "[]",
      "null",
      "7",
      '{"target":"x"}',
      '{"sensor":{},"at":[]}',
      '{"at":"2026-99-99"}',
      "\u0001\uffff",
      "x".repeat(100_000),
    ];
    for (const [i, j] of junk.entries()) {
      await redis.cli("HSET", `${P}:decisions`, `203.0.113.${i}`, j);
      await redis.cli("HSET", `${P}:sensors`, `s${i}`, j);
      await redis.cli("HSET", `${P}:refusals`, `s${i}|203.0.113.${i}`, j);
      await redis.cli("HSET", `${P}:lifted`, `203.0.113.${i}`, j);
      await redis.cli("XADD", `${P}:alerts`, "*", "eve", j);
      await redis.cli("XADD", `${P}:alerts`, "*", "other", j);
    }
    // A decision for a target that is no address at all.
    await redis.cli(
      "HSET",
      `${P}:decisions`,
      "not-an-ip",
      JSON.stringify({
        target: "not-an-ip",
        sensor: "evil",
        reason: "r",
        since: new Date().toISOString(),
        until: new Date(Date.now() + 600_000).toISOString(),
      }),
    );
    await redis.cli("SET", `${P}:version`, "not a number");
    await using a = await sensor("a", redis.port);
    await waitFor(
      () => a.agent.state().last_sync !== null,
      "a reconcile over the junk",
    );
    assert.deepEqual(await a.targets(), []);
    assert.deepEqual(
      a.agent.view().sensors.map((s) => s.sensor),
      ["a"],
    );
    assert.ok((await a.agent.alerts({ limit: 100 })).length <= 10);
    // The junk decisions were pruned; the address-less one was refused here.
    await waitFor(
      async () =>
        (await redis.cli("HGET", `${P}:refusals`, "a|not-an-ip")).includes(
          "invalid",
        ),
      "the refusal of the address-less decision",
    );
    // A wrong key type makes commands fail; the agent reports and retries.
    await redis.cli("DEL", `${P}:decisions`);
    await redis.cli("SET", `${P}:decisions`, "a string");
    await redis.cli("INCR", `${P}:version`);
    assert.ok((await a.blocker.block("203.0.113.50", { duration: 60 })).ok);
    await redis.cli("DEL", `${P}:decisions`);
    await waitFor(
      async () =>
        (await redis.cli("HEXISTS", `${P}:decisions`, "203.0.113.50")) === "1",
      "the agent to recover and publish",
    );
    assert.ok(a.agent.state().connected);
  },
});

Deno.test({
  name:
    "through Sentinel the fleet follows a failover: blocks made after the primary died reach the other sensor via the promoted replica",
  ignore,
  async fn() {
    await using primary = await startRedis();
    await using replica = await startRedis({
      args: ["--replicaof", "127.0.0.1", String(primary.port)],
    });
    await waitFor(
      async () =>
        (await replica.cli("INFO", "replication")).includes(
          "master_link_status:up",
        ),
      "the replica in sync",
    );
    await using sentinel = await startSentinel(primary.port);
    const viaSentinel = {
      sentinels: [`127.0.0.1:${sentinel.port}`],
      master_name: "mymaster",
      timeout: "1s",
    };
    await using a = await sensor("a", 0, NO_FACTS, viaSentinel);
    await using b = await sensor("b", 0, NO_FACTS, viaSentinel);
    assert.ok((await a.blocker.block("203.0.113.30", { duration: 600 })).ok);
    await waitFor(
      async () => (await b.targets()).includes("203.0.113.30:fleet"),
      "the first block on b",
    );
    await primary.kill();
    await waitFor(
      async () => (await replica.cli("ROLE")).startsWith("master"),
      "the replica promoted",
      30_000,
    );
    assert.ok((await a.blocker.block("203.0.113.31", { duration: 600 })).ok);
    await waitFor(
      async () => (await b.targets()).includes("203.0.113.31:fleet"),
      "the block made after the failover on b",
      30_000,
    );
    assert.equal(
      await replica.cli(
        "HEXISTS",
        "netsentinel:fleet:decisions",
        "203.0.113.31",
      ),
      "1",
    );
  },
});
