/**
 * Test helper process for the crash test of notify/: a notifier with one
 * webhook channel. Mode "feed" raises alerts one after the other and prints
 * `ACK <n>` once alert n is in KV (its digest or the outbox), until killed.
 * Mode "drain" only starts the notifier, which sends what KV holds.
 * Arguments: DATA_DIR URL MODE.
 *
 * @module
 */
import { makeAlert } from "../store/_testing.ts";
import { openStore } from "../store/mod.ts";
import { parseNotifyConfig } from "./config.ts";
import { Notifier } from "./notifier.ts";

const [dir, url, mode] = Deno.args;
const store = await openStore(dir!);
const out = new TextEncoder();
const notifier = new Notifier(
  store,
  parseNotifyConfig({
    channels: [{
      id: "hook",
      kind: "webhook",
      url,
      digest: 0,
      rate_limit: { messages: 1000, per: "1m" },
    }],
  }),
  { backoffMs: Array(1000).fill(50) },
);
await notifier.start();
Deno.stdout.writeSync(out.encode("READY\n"));
if (mode === "feed") {
  for (let n = 0;; n++) {
    notifier.alert(makeAlert(n, { src: `10.66.${(n >> 8) & 255}.${n & 255}` }));
    await notifier.idle();
    Deno.stdout.writeSync(out.encode(`ACK ${n}\n`));
    await new Promise((r) => setTimeout(r, n % 3));
  }
}
