/**
 * Test helper process for the restart test: commits alerts at a high rate
 * through a StoreWriter and blocks some of their sources in a network
 * namespace, printing `ACK <id>,<id>,…` after every commit (those alerts
 * are acknowledged as committed) until it is killed.
 * Arguments: DATA_DIR NETNS.
 *
 * @module
 */
import { makeAlert } from "../store/_testing.ts";
import { openStore, StoreWriter } from "../store/mod.ts";
import { Blocker } from "./blocker.ts";
import { parseBlockPolicy } from "./policy.ts";

const [dir, netns] = Deno.args;
const store = await openStore(dir!);
const out = new TextEncoder();
const writer = new StoreWriter(store, {
  intervalMs: 100,
  onCommit: (c) => {
    if (c.newIds.length === 0) return;
    Deno.stdout.writeSync(out.encode(`ACK ${c.newIds.join(",")}\n`));
  },
});
const blocker = new Blocker(store, {
  netns,
  writer,
  policy: parseBlockPolicy({ max_blocks_per_minute: 100_000 }),
});
const st = await blocker.start();
Deno.stdout.writeSync(out.encode(`READY ${st.available}\n`));
for (let n = 0;; n++) {
  const src = `10.66.${(n >> 8) & 255}.${n & 255}`;
  const alert = makeAlert(n, {
    src,
    type: "brute_force",
    evidence: { confirmed_source: true },
  });
  if (n % 25 === 0) blocker.onAlert(alert, true);
  writer.queueAlert(alert, true);
  if (n % 50 === 49) await new Promise((r) => setTimeout(r, 5));
}
