import assert from "node:assert/strict";
import { makeAlert, tempStore, waitFor } from "../store/_testing.ts";
import { getBlock, getDecision, listBlocks } from "../store/mod.ts";
import { createVethPair } from "../tests/netns.ts";
import {
  addAddress,
  ignoreWithout,
  nsElements,
  pings,
  tempNetns,
} from "./_testing.ts";
import { Blocker } from "./blocker.ts";
import { Nft } from "./nft.ts";
import { parseBlockPolicy } from "./policy.ts";
import { readSessionPeers } from "./protected.ts";
import { blockerResponder } from "../server/kv_sources.ts";

const { ignore, why } = await ignoreWithout();
const skipped = ignore ? ` (skipped: ${why})` : "";

function attack(n: number, src: string, extra: Record<string, unknown> = {}) {
  return makeAlert(n, {
    src,
    type: "brute_force",
    severity: 2,
    evidence: { attempts: 40, confirmed_source: true, ...extra },
  });
}

Deno.test({
  name:
    "an alert gets its source dropped in the victim namespace, the admin's address is never blocked" +
    skipped,
  ignore,
  async fn() {
    await using pair = await createVethPair();
    const attacker = pair.a, victim = pair.b;
    const adminIp = attacker.ip.replace(/\.1$/, ".3");
    await addAddress(attacker, victim, adminIp);
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, {
      netns: victim.ns,
      protectedAddrs: () => [adminIp],
      policy: parseBlockPolicy({ durations: ["1h"] }),
    });
    const st = await blocker.start();
    assert.equal(st.available, true, st.reason ?? "");
    assert.equal(
      await pings(pair, attacker, victim),
      true,
      "traffic flows before the block",
    );

    const alert = attack(1, attacker.ip);
    const d = blocker.onAlert(alert, true);
    assert.equal(d.outcome, "blocked");
    assert.equal(alert.alert.action, "blocked");
    await waitFor(
      "the element in the set",
      () => nsElements(victim.ns),
      (e) => e.includes(attacker.ip),
    );
    await waitFor(
      "pings to fail",
      () => pings(pair, attacker, victim),
      (ok) => !ok,
    );

    const admin = attack(2, adminIp);
    const d2 = blocker.onAlert(admin, true);
    assert.equal(d2.outcome, "refused");
    assert.equal(d2.outcome === "refused" && d2.reason, "admin_session");
    assert.equal(admin.alert.action, "allowed");
    const own = blocker.onAlert(attack(3, victim.ip), true);
    assert.equal(own.outcome === "refused" && own.reason, "own_address");
    await blocker.idle();
    assert.equal(
      await pings(pair, attacker, victim, adminIp),
      true,
      "the admin still gets through",
    );
    assert.deepEqual(await nsElements(victim.ns), [attacker.ip]);

    const rec = await getBlock(ts.store, attacker.ip);
    assert.equal(rec?.alert_id, alert.netsentinel.id);
    assert.equal(rec?.duration_s, 3600);
    assert.equal(
      (await getDecision(ts.store, adminIp))?.reason,
      "admin_session",
    );
    const state = blocker.state();
    assert.equal(state.blocked_total, 1);
    assert.equal(state.refused_by_reason.admin_session, 1);
    assert.equal(state.latency_ms.samples, 1);
  },
});

Deno.test({
  name: "a block expires: the element leaves the set and traffic flows again" +
    skipped,
  ignore,
  async fn() {
    await using pair = await createVethPair();
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, {
      netns: pair.b.ns,
      policy: parseBlockPolicy({ durations: ["2s"] }),
    });
    await blocker.start();
    assert.equal(
      blocker.onAlert(attack(1, pair.a.ip), true).outcome,
      "blocked",
    );
    await waitFor(
      "the element",
      () => nsElements(pair.b.ns),
      (e) => e.length === 1,
    );
    await waitFor(
      "pings to fail",
      () => pings(pair, pair.a, pair.b),
      (ok) => !ok,
    );
    await waitFor(
      "the element to expire",
      () => nsElements(pair.b.ns),
      (e) => e.length === 0,
    );
    await waitFor(
      "pings to work again",
      () => pings(pair, pair.a, pair.b),
      (ok) => ok,
    );
    assert.deepEqual(await listBlocks(ts.store), []);
    assert.equal(blocker.activeBlocks().length, 0);
  },
});

Deno.test({
  name: "repeat offenders are blocked longer each time: 1h, then 4h, then 24h" +
    skipped,
  ignore,
  async fn() {
    await using ns = await tempNetns();
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, { netns: ns.name });
    await blocker.start();
    const first = blocker.onAlert(attack(1, "192.0.2.77"), true);
    assert.equal(first.outcome === "blocked" && first.duration, 3600);
    await blocker.idle();
    // Lifted by hand (a false positive): its offences are forgotten.
    await blocker.unblock("192.0.2.77");
    const again = blocker.onAlert(attack(2, "192.0.2.77"), true);
    assert.equal(again.outcome === "blocked" && again.duration, 3600);
    await blocker.idle();
    // Without manual unblocks the ladder climbs.
    const ladder: number[] = [];
    for (let i = 0; i < 4; i++) {
      const ip = "192.0.2.88";
      const d = blocker.onAlert(attack(20 + i, ip), true);
      if (d.outcome === "blocked") ladder.push(d.duration);
      await blocker.idle();
      // Pretend the block ran out: remove it from KV only, keep the offence.
      await ts.store.kv.delete(["block", ip]);
      await blocker.resyncFromStore({ full: true });
    }
    assert.deepEqual(ladder, [3600, 14400, 86400, 86400]);
  },
});

Deno.test({
  name: "a spoofed-looking flood does not become mass blocking" + skipped,
  ignore,
  async fn() {
    await using ns = await tempNetns();
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, {
      netns: ns.name,
      policy: parseBlockPolicy({ max_blocks_per_minute: 5 }),
    });
    await blocker.start();
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      // SYN flood alerts without confirmed_source: unconfirmed, never blocked.
      const a = makeAlert(i, {
        src: `198.18.${i >> 8}.${i & 255}`,
        type: "syn_flood",
        severity: 1,
        evidence: {},
      });
      const d = blocker.onAlert(a, true);
      const k = d.outcome === "refused" ? d.reason : d.outcome;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    assert.deepEqual({ ...outcomes }, { unconfirmed_source: 200 });
    // And not into a flood of writes: at most 120 decision records a minute.
    assert.equal(blocker.state().decisions_unrecorded, 80);
    await blocker.idle();
    let records = 0;
    for await (const _ of ts.store.kv.list({ prefix: ["decision"] })) records++;
    assert.equal(records, 120);
    // Confirmed sources are blocked up to the cap, the rest refused.
    for (let i = 0; i < 20; i++) {
      const a = attack(300 + i, `198.19.0.${i + 1}`);
      const d = blocker.onAlert(a, true);
      const k = d.outcome === "refused" ? d.reason : d.outcome;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    assert.equal(outcomes.blocked, 5);
    assert.equal(outcomes.rate_limited, 15);
    await blocker.idle();
    assert.equal((await nsElements(ns.name)).length, 5);
    // A flood alert whose detector confirmed the handshake is believed.
    const confirmed = makeAlert(400, {
      src: "198.20.0.1",
      type: "syn_flood",
      severity: 1,
      evidence: { confirmed_source: true },
    });
    assert.equal(
      blocker.onAlert(confirmed, true).outcome === "refused",
      true,
      "still capped",
    );
  },
});

Deno.test({
  name:
    "resync makes nftables match KV: missing elements added, stray ones removed, ended blocks dropped" +
    skipped,
  ignore,
  async fn() {
    await using ns = await tempNetns();
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, { netns: ns.name });
    await blocker.start();
    const r1 = await blocker.block("192.0.2.0/28", {
      duration: 3600,
      reason: "test",
    });
    assert.equal(r1.ok && r1.applied, true);
    const r2 = await blocker.block("2001:db8:5::1", { duration: 3600 });
    assert.equal(r2.ok && r2.applied, true);
    assert.deepEqual(await nsElements(ns.name), [
      "192.0.2.0/28",
      "2001:db8:5::1",
    ]);

    // Someone edits nftables behind the appliance's back.
    const nft = new Nft({ command: ["ip", "netns", "exec", ns.name, "nft"] });
    await nft.apply({
      remove: [{ target: "192.0.2.0/28", version: 4, timeout: 1 }],
      add: [{ target: "203.0.113.66", version: 4, timeout: 600 }],
    });
    // And a block ends in KV.
    await ts.store.kv.set(["block", "2001:db8:5::1"], {
      ...(r2.ok ? r2.record : {}),
      until: new Date(Date.now() - 1000).toISOString(),
    });
    const res = await blocker.resyncFromStore({ full: true });
    assert.deepEqual(res, {
      checked: true,
      added: 1,
      removed: 2,
      refreshed: 0,
    });
    assert.deepEqual(await nsElements(ns.name), ["192.0.2.0/28"]);

    // A block made by another process (the CLI) is seen at the next resync.
    const cli = new Blocker(ts.store, { netns: ns.name });
    await cli.connect();
    const r3 = await cli.block("198.51.100.9", { duration: 600 });
    assert.equal(r3.ok && r3.applied, true, JSON.stringify(r3));
    await cli.stop();
    assert.ok(!blocker.activeBlocks().some((b) => b.target === "198.51.100.9"));
    const res2 = await blocker.resyncFromStore();
    assert.equal(res2.checked, true);
    assert.ok(blocker.activeBlocks().some((b) => b.target === "198.51.100.9"));
    assert.deepEqual(await nsElements(ns.name), [
      "192.0.2.0/28",
      "198.51.100.9",
    ]);
    // Nothing changed since: the next resync is one small read.
    assert.equal((await blocker.resyncFromStore()).checked, false);
  },
});

Deno.test({
  name:
    "manual blocks refuse protected targets, CIDR blocks absorb smaller ones, allow lifts blocks" +
    skipped,
  ignore,
  async fn() {
    await using ns = await tempNetns();
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, {
      netns: ns.name,
      protectedAddrs: () => ["10.9.9.9"],
    });
    await blocker.connect();
    const lo = await blocker.block("127.0.0.1");
    assert.equal(!lo.ok && lo.reason, "loopback");
    const admin = await blocker.block("10.9.9.0/24");
    assert.equal(!admin.ok && admin.reason, "admin_session");
    await blocker.idle();
    assert.equal(
      (await getDecision(ts.store, "10.9.9.0/24"))?.reason,
      "admin_session",
    );

    assert.equal(
      (await blocker.block("192.0.2.5", { duration: 600 })).ok,
      true,
    );
    assert.equal(
      (await blocker.block("192.0.2.0/24", { duration: 600 })).ok,
      true,
    );
    assert.deepEqual(
      await nsElements(ns.name),
      ["192.0.2.0/24"],
      "the /24 covers the single address",
    );
    const un = await blocker.unblock("192.0.2.5");
    assert.deepEqual(un, {
      removed: true,
      coveredBy: ["192.0.2.0/24"],
      error: null,
    });
    const un2 = await blocker.unblock("192.0.2.0/24");
    assert.equal(un2.removed, true);
    assert.deepEqual(await nsElements(ns.name), []);

    assert.equal(
      (await blocker.block("198.51.100.7", { duration: 600 })).ok,
      true,
    );
    const al = await blocker.allow("198.51.100.0/24", { note: "office" });
    assert.deepEqual(al.lifted, ["198.51.100.7"]);
    assert.deepEqual(await nsElements(ns.name), []);
    const again = await blocker.block("198.51.100.7");
    assert.equal(!again.ok && again.reason, "allowlisted");
    assert.equal(await blocker.disallow("198.51.100.0/24"), true);
    assert.equal(
      (await blocker.block("198.51.100.7", { duration: 60 })).ok,
      true,
    );
    await blocker.stop();
  },
});

Deno.test({
  name:
    "without CAP_NET_ADMIN the blocker reports itself unavailable and detection goes on" +
    skipped,
  ignore,
  async fn() {
    await using ns = await tempNetns();
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, {
      nftCommand: [
        "ip",
        "netns",
        "exec",
        ns.name,
        "setpriv",
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-net_admin",
        "nft",
      ],
      systemFacts: () =>
        Promise.resolve({
          ownAddrs: [],
          broadcasts: [],
          gateways: [],
          dnsServers: [],
        }),
    });
    const st = await blocker.start();
    assert.equal(st.available, false);
    assert.equal(st.mode, "unavailable");
    assert.match(
      st.reason ?? "",
      /permission denied \(run as root or grant CAP_NET_ADMIN\)/,
    );
    assert.match(st.nft_version ?? "", /nftables/);
    const d = blocker.onAlert(attack(1, "192.0.2.1"), true);
    assert.equal(d.outcome === "refused" && d.reason, "blocker_unavailable");
    const m = await blocker.block("192.0.2.2", { duration: 60 });
    assert.equal(m.ok && m.applied, false);
    assert.match(m.ok ? m.error ?? "" : "", /CAP_NET_ADMIN/);
    assert.equal(
      (await listBlocks(ts.store)).length,
      1,
      "KV keeps the manual block for later",
    );
  },
});

/** A process in namespace `ns`, killed on dispose. */
function spawnIn(ns: string, cmd: string[]): AsyncDisposable {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

Deno.test({
  name:
    "whoever is logged in over SSH is never blocked automatically; by hand they can be, and once they leave alerts block them" +
    skipped,
  ignore,
  async fn() {
    await using pair = await createVethPair();
    const attacker = pair.a, victim = pair.b;
    await using ts = await tempStore();
    await using blocker = new Blocker(ts.store, {
      netns: victim.ns,
      policy: parseBlockPolicy({ durations: ["1h"] }),
      resyncIntervalMs: 100,
    });
    assert.equal((await blocker.start()).available, true);
    // A session to the victim's port 22 from the address an alert will name.
    const server = spawnIn(victim.ns, ["nc", "-k", "-l", "22"]);
    await waitFor(
      "the listener",
      () => readSessionPeers([22], victim.ns),
      () => true,
    );
    let client: AsyncDisposable | null = null;
    await waitFor(
      "the session in /proc/net/tcp",
      async () => {
        client ??= spawnIn(attacker.ns, ["nc", victim.ip, "22"]);
        return await readSessionPeers([22], victim.ns);
      },
      (peers) => peers.includes(attacker.ip),
    );
    // The blocker sees it with its next resync.
    await waitFor(
      "the blocker to see the session",
      () => blocker.state().ssh_sessions,
      (n) => n === 1,
    );
    // The Blocks page says so.
    assert.match(
      blockerResponder(ts.store, blocker).state().detail,
      /1 SSH session to this box: never blocked by an alert/,
    );
    const d1 = blocker.onAlert(attack(1, attacker.ip), true);
    assert.equal(d1.outcome === "refused" && d1.reason, "ssh_session");
    await blocker.idle();
    assert.equal(
      (await getDecision(ts.store, attacker.ip))?.reason,
      "ssh_session",
    );
    assert.deepEqual(await nsElements(victim.ns), []);

    // The owner may still block a logged-in intruder by hand.
    const manual = await blocker.block(attacker.ip, { duration: 60 });
    assert.equal(manual.ok, true, JSON.stringify(manual));
    assert.deepEqual(await nsElements(victim.ns), [attacker.ip]);
    assert.equal((await blocker.unblock(attacker.ip)).removed, true);

    // Session over: the next alert blocks.
    await (client as AsyncDisposable | null)?.[Symbol.asyncDispose]();
    await server[Symbol.asyncDispose]();
    await waitFor(
      "the blocker to see the session end",
      () => blocker.state().ssh_sessions,
      (n) => n === 0,
    );
    assert.equal(
      blocker.onAlert(attack(2, attacker.ip), true).outcome,
      "blocked",
    );
    await waitFor(
      "the element in the set",
      () => nsElements(victim.ns),
      (e) => e.includes(attacker.ip),
    );
  },
});
