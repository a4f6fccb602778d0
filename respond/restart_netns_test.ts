import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { tempStore } from "../store/_testing.ts";
import { getAlerts, listBlocks, openStore } from "../store/mod.ts";
import { ignoreWithout, nsElements, tempNetns } from "./_testing.ts";
import { Blocker } from "./blocker.ts";
import { Nft } from "./nft.ts";

const { ignore, why } = await ignoreWithout();
const skipped = ignore ? ` (skipped: ${why})` : "";

Deno.test({
  name:
    "after kill -9 every acknowledged alert is in KV and nftables matches KV after the restart" +
    skipped,
  ignore,
  async fn() {
    await using ns = await tempNetns();
    await using ts = await tempStore();
    ts.store.close(); // the child owns the database until it dies
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        fileURLToPath(new URL("./_crash_child.ts", import.meta.url)),
        ts.dir,
        ns.name,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const acked: string[] = [];
    let commits = 0, ready = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let buf = "";
    const deadline = Date.now() + 30_000;
    let killed = false;
    while (true) {
      const r = await reader.read();
      if (r.done) break;
      buf += r.value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("READY")) ready = line;
        if (line.startsWith("ACK ")) {
          acked.push(...line.slice(4).split(","));
          commits++;
        }
      }
      if (!killed && (commits >= 15 || Date.now() > deadline)) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
    const status = await child.status;
    const stderr = await new Response(child.stderr).text();
    assert.equal(ready, "READY true", stderr);
    assert.equal(status.signal, "SIGKILL", stderr);
    assert.ok(
      commits >= 15,
      `only ${commits} commits before the deadline: ${stderr}`,
    );

    // Restart: a new process opens the database and the blocker.
    using store = await openStore(ts.dir);
    const found = await getAlerts(store, acked);
    const foundIds = new Set(found.map((a) => a.netsentinel.id));
    const missing = acked.filter((id) => !foundIds.has(id));
    assert.deepEqual(
      missing.slice(0, 5),
      [],
      `${missing.length} of ${acked.length} acknowledged alerts missing`,
    );

    // Meanwhile someone changed nftables: a stray element, a missing one.
    const kvBlocks = await listBlocks(store);
    assert.ok(kvBlocks.length > 0, "the child blocked something");
    const nft = new Nft({ command: ["ip", "netns", "exec", ns.name, "nft"] });
    await nft.applyEach({
      remove: [{ target: kvBlocks[0]!.target, version: 4, timeout: 1 }],
      add: [{ target: "203.0.113.99", version: 4, timeout: 600 }],
    });
    await using blocker = new Blocker(store, { netns: ns.name });
    const st = await blocker.start();
    assert.equal(st.available, true);
    const kvTargets = kvBlocks.map((b) => b.target).sort();
    assert.deepEqual(await nsElements(ns.name), kvTargets);
  },
});
