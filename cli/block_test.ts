import assert from "node:assert/strict";
import { Blocker } from "../respond/mod.ts";
import { ignoreWithout, nsElements, pings } from "../respond/_testing.ts";
import { makeAlert, tempStore, waitFor } from "../store/_testing.ts";
import { putSession, StoreWriter } from "../store/mod.ts";
import { createVethPair } from "../tests/netns.ts";
import { type CliResult, runCli } from "./_testing.ts";

const { ignore, why } = await ignoreWithout();
const skipped = ignore ? ` (skipped: ${why})` : "";

/** Runs the CLI inside a network namespace (so nft changes stay there). */
function cliIn(ns: string, args: string[]): Promise<CliResult> {
  return runCli(args, { netns: ns });
}

function oneLineError(r: { stderr: string }, re: RegExp): void {
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^netsentinel: /);
  assert.match(lines[0]!, re);
}

Deno.test({
  name:
    "block, blocks, unblock, allow and disallow work on KV and nftables, and the appliance sees them" +
    skipped,
  ignore,
  async fn() {
    await using pair = await createVethPair();
    const attacker = pair.a, victim = pair.b;
    await using ts = await tempStore();
    const data = ["--data", ts.dir];
    const ns = victim.ns;
    // The appliance, running in the victim's namespace on the same database.
    await using appliance = new Blocker(ts.store, { netns: ns });
    await appliance.start();
    assert.equal(await pings(pair, attacker, victim), true);

    const b = await cliIn(ns, [
      "block",
      attacker.ip,
      "--for",
      "1h",
      "--reason",
      "test",
      ...data,
    ]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(
      b.stdout,
      new RegExp(`^Blocked ${attacker.ip.replaceAll(".", "\\.")} for 1h`),
    );
    assert.deepEqual(
      await nsElements(ns),
      [attacker.ip],
      "in nftables as soon as the command returns",
    );
    await waitFor(
      "pings to fail",
      () => pings(pair, attacker, victim),
      (ok) => !ok,
    );
    await appliance.resyncFromStore();
    assert.deepEqual(appliance.activeBlocks().map((x) => x.target), [
      attacker.ip,
    ]);

    const list = await cliIn(ns, ["blocks", ...data]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(
        `${attacker.ip.replaceAll(".", "\\.")}\\s+\\S+\\s+yes\\s+cli\\s+test`,
      ),
    );

    const json = await cliIn(ns, ["blocks", "--format", "json", ...data]);
    assert.equal(JSON.parse(json.stdout).blocks[0].in_nftables, true);

    const host = await cliIn(ns, ["host", attacker.ip, "--json", ...data]);
    assert.equal(host.code, 0, host.stderr);
    assert.equal(JSON.parse(host.stdout).blocked[0].target, attacker.ip);

    const un = await cliIn(ns, ["unblock", attacker.ip, ...data]);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(await nsElements(ns), []);
    await waitFor(
      "pings to work",
      () => pings(pair, attacker, victim),
      (ok) => ok,
    );
    await appliance.resyncFromStore();
    assert.deepEqual(
      appliance.activeBlocks(),
      [],
      "the appliance does not put it back",
    );
    assert.deepEqual(await nsElements(ns), []);
    oneLineError(
      await cliIn(ns, ["unblock", attacker.ip, ...data]),
      /No block of/,
    );

    const al = await cliIn(ns, [
      "allow",
      `${attacker.ip}/32`,
      "--note",
      "lab",
      ...data,
    ]);
    assert.equal(al.code, 0, al.stderr);
    const refused = await cliIn(ns, ["block", attacker.ip, ...data]);
    assert.equal(refused.code, 1);
    oneLineError(refused, /Refusing to block: .* is allowlisted/);
    assert.equal((await cliIn(ns, ["disallow", attacker.ip, ...data])).code, 0);
    oneLineError(
      await cliIn(ns, ["disallow", attacker.ip, ...data]),
      /is not on the allowlist/,
    );
    // The allowlist is capped like blocks: one entry cannot switch
    // blocking off.
    for (const wide of ["0.0.0.0/0", "::/0", "10.0.0.0/7"]) {
      const r = await cliIn(ns, ["allow", wide, ...data]);
      assert.equal(r.code, 1, `${wide}: ${r.stdout}`);
      oneLineError(
        r,
        /^netsentinel: Cannot allowlist: ".*" is too broad \(at most \/(8|32) for IPv[46], as for blocks; add narrower prefixes\)$/,
      );
    }
    const listed = await cliIn(ns, ["blocks", "--format", "json", ...data]);
    assert.deepEqual(JSON.parse(listed.stdout).allow, []);
  },
});

Deno.test({
  name:
    "block refuses loopback, the appliance's own address, a signed-in admin and too broad prefixes" +
    skipped,
  ignore,
  async fn() {
    await using pair = await createVethPair();
    await using ts = await tempStore();
    const data = ["--data", ts.dir];
    const ns = pair.b.ns;
    await putSession(ts.store, {
      id_hash: "h",
      user: "admin",
      addr: "192.0.2.44",
      created: new Date().toISOString(),
      expires: new Date(Date.now() + 3_600_000).toISOString(),
      last_seen: new Date().toISOString(),
    });
    const cases: [string, RegExp][] = [
      ["127.0.0.1", /"127\.0\.0\.1" is loopback/],
      ["::1", /"::1" is loopback/],
      [pair.b.ip, /is the appliance's own address/],
      ["192.0.2.44", /is the address of a signed-in admin session/],
      ["192.0.2.0/24", /contains the address of a signed-in admin session/],
      ["0.0.0.0/0", /too broad/],
      ["224.0.0.1", /multicast/],
    ];
    for (const [target, re] of cases) {
      const r = await cliIn(ns, ["block", target, ...data]);
      assert.equal(r.code, 1, `${target}: ${r.stdout}${r.stderr}`);
      oneLineError(r, re);
    }
    assert.deepEqual(await nsElements(ns), []);
    const usage = await cliIn(ns, ["block", "not-an-ip", ...data]);
    assert.equal(usage.code, 2);
    const dur = await cliIn(ns, [
      "block",
      "192.0.2.7",
      "--for",
      "soon",
      ...data,
    ]);
    assert.equal(dur.code, 2);
  },
});

Deno.test({
  name: "an alert reaches nftables while the appliance also writes it to KV" +
    skipped,
  ignore,
  async fn() {
    // The appliance's path end to end: blocker first (marks the alert), then the store.
    await using pair = await createVethPair();
    await using ts = await tempStore();
    await using writer = new StoreWriter(ts.store);
    await using blocker = new Blocker(ts.store, { netns: pair.b.ns, writer });
    await blocker.start();
    const alert = makeAlert(1, {
      src: pair.a.ip,
      type: "brute_force",
      evidence: { confirmed_source: true },
    });
    blocker.onAlert(alert, true);
    writer.queueAlert(alert, true);
    await writer.flush();
    await blocker.idle();
    const r = await cliIn(pair.b.ns, [
      "alerts",
      "--format",
      "eve",
      "--data",
      ts.dir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).alert.action, "blocked");
    assert.deepEqual(await nsElements(pair.b.ns), [pair.a.ip]);
  },
});
