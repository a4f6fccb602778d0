import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveDataDir } from "../common/data_dir.ts";
import { tempStore } from "./_testing.ts";
import {
  getSession,
  getToken,
  getUser,
  listSessions,
  putSession,
  putToken,
  putUser,
  sessionAddrs,
} from "./auth.ts";
import {
  deleteBlocks,
  getBlock,
  getBlockHeadVersion,
  listAllow,
  listBlocks,
  parseTarget,
  putAllow,
  putBlock,
} from "./blocks.ts";
import { KV_FILE, openStore, StoreError } from "./store.ts";

Deno.test("openStore() creates the data directory and opens netsentinel.kv in it", async () => {
  const base = await Deno.makeTempDir({ prefix: "ns-open-" });
  try {
    const dir = join(base, "a", "b");
    using store = await openStore(dir);
    await store.kv.set(["probe"], 1);
    assert.equal(store.path, join(dir, KV_FILE));
    assert.ok((await Deno.stat(store.path)).isFile);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("openStore() fails with one clear line when the directory cannot be made", async () => {
  const base = await Deno.makeTempDir({ prefix: "ns-open-" });
  try {
    await Deno.writeTextFile(join(base, "file"), "x");
    await assert.rejects(
      () => openStore(join(base, "file", "sub")),
      (e) =>
        e instanceof StoreError &&
        /Cannot create the data directory/.test(e.message),
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("resolveDataDir() prefers the flag, then the system directory for root, then ./netsentinel-data", async (t) => {
  const base = await Deno.makeTempDir({ prefix: "ns-dd-" });
  try {
    const sys = join(base, "var-lib-netsentinel");
    await t.step("the flag, made absolute", async () => {
      assert.equal(
        await resolveDataDir("rel", { cwd: base }),
        join(base, "rel"),
      );
    });
    await t.step(
      "root and writable: the system directory, created",
      async () => {
        assert.equal(
          await resolveDataDir(undefined, {
            isRoot: true,
            systemDir: sys,
            cwd: base,
          }),
          sys,
        );
        assert.ok((await Deno.stat(sys)).isDirectory);
      },
    );
    await t.step("not root: the local directory", async () => {
      assert.equal(
        await resolveDataDir(undefined, {
          isRoot: false,
          systemDir: sys,
          cwd: base,
        }),
        join(base, "netsentinel-data"),
      );
    });
    await t.step(
      "root but the system path is unusable: the local directory",
      async () => {
        await Deno.writeTextFile(join(base, "plainfile"), "x");
        assert.equal(
          await resolveDataDir(undefined, {
            isRoot: true,
            systemDir: join(base, "plainfile", "x"),
            cwd: base,
          }),
          join(base, "netsentinel-data"),
        );
      },
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("parseTarget() normalises addresses and prefixes", () => {
  assert.equal(parseTarget("10.0.0.7")?.text, "10.0.0.7");
  assert.equal(parseTarget("10.0.0.7/24")?.text, "10.0.0.0/24");
  assert.equal(parseTarget("10.0.0.7/32")?.text, "10.0.0.7");
  assert.equal(parseTarget("::ffff:1.2.3.4")?.text, "1.2.3.4");
  assert.equal(parseTarget("2001:DB8:0:0::1")?.text, "2001:db8::1");
  assert.equal(parseTarget("2001:db8::/32")?.single, false);
  assert.equal(parseTarget("banana"), null);
  assert.equal(parseTarget("10.0.0.1/33"), null);
});

Deno.test("blocks and allow entries past their end are not listed, and changes bump the block head", async () => {
  await using t = await tempStore();
  const s = t.store;
  const now = Date.now();
  const block = (target: string, untilMs: number) => ({
    target,
    version: 4 as const,
    reason: "test",
    source: "cli" as const,
    alert_id: null,
    alert_type: null,
    since: new Date(now).toISOString(),
    until: new Date(untilMs).toISOString(),
    duration_s: 1,
    level: 0,
    by: null,
  });
  assert.equal(await getBlockHeadVersion(s), null);
  await putBlock(s, block("192.0.2.1", now + 60_000));
  const v1 = await getBlockHeadVersion(s);
  await putBlock(s, block("192.0.2.2", now - 1));
  assert.notEqual(await getBlockHeadVersion(s), v1);
  assert.deepEqual((await listBlocks(s)).map((b) => b.target), ["192.0.2.1"]);
  assert.equal(await getBlock(s, "192.0.2.2"), null);
  await putAllow(s, {
    cidr: "198.51.100.0/24",
    note: "office",
    added_by: null,
    since: "x",
    until: null,
  });
  await putAllow(s, {
    cidr: "203.0.113.0/24",
    note: "gone",
    added_by: null,
    since: "x",
    until: new Date(now - 1).toISOString(),
  });
  assert.deepEqual((await listAllow(s)).map((a) => a.cidr), [
    "198.51.100.0/24",
  ]);
  assert.deepEqual(await deleteBlocks(s, ["192.0.2.1", "192.0.2.9"]), [
    "192.0.2.1",
  ]);
  assert.deepEqual(await listBlocks(s), []);
});

Deno.test("users, sessions and tokens round-trip; ended sessions are not listed", async () => {
  await using t = await tempStore();
  const s = t.store;
  const iso = (ms: number) => new Date(ms).toISOString();
  await putUser(s, {
    name: "admin",
    password_hash: "pbkdf2-sha256$600000$c2FsdA$aGFzaA",
    role: "admin",
    created: iso(0),
    updated: iso(0),
  });
  assert.equal((await getUser(s, "admin"))?.role, "admin");
  const session = (id: string, addr: string, endMs: number) => ({
    id_hash: id,
    user: "admin",
    addr,
    created: iso(Date.now()),
    expires: iso(endMs),
    last_seen: iso(Date.now()),
  });
  await putSession(s, session("s1", "10.0.0.5", Date.now() + 3_600_000));
  await putSession(s, session("s2", "10.0.0.6", Date.now() - 1));
  assert.equal((await getSession(s, "s1"))?.addr, "10.0.0.5");
  assert.equal(await getSession(s, "s2"), null);
  assert.equal((await listSessions(s)).length, 1);
  assert.deepEqual(await sessionAddrs(s), ["10.0.0.5"]);
  await putToken(s, {
    hash: "h1",
    name: "grafana",
    prefix: "ns_ab",
    created: iso(0),
    created_by: "admin",
    last_used: null,
  });
  assert.equal((await getToken(s, "h1"))?.name, "grafana");
});
