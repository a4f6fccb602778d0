/**
 * Test helper process: writes alerts through a StoreWriter into a data
 * directory and prints `ACK <seq> <last new id> <acked total>` after every
 * commit. Arguments: DATA_DIR COUNT BATCH PAUSE_MS INTERVAL_MS FIRST.
 * COUNT 0 writes until killed.
 *
 * @module
 */
import { makeAlert } from "./_testing.ts";
import { openStore } from "./store.ts";
import { StoreWriter } from "./writer.ts";

const [dir, countArg, batchArg, pauseArg, intervalArg, firstArg] = Deno.args;
const count = Number(countArg ?? 0);
const batch = Number(batchArg ?? 10);
const pause = Number(pauseArg ?? 10);
const first = Number(firstArg ?? 0);
const store = await openStore(dir!);
let acked = 0;
const out = new TextEncoder();
const writer = new StoreWriter(store, {
  intervalMs: Number(intervalArg ?? 1000),
  onCommit: (c) => {
    acked += c.newIds.length;
    const last = c.newIds[c.newIds.length - 1] ?? "-";
    Deno.stdout.writeSync(out.encode(`ACK ${c.seq} ${last} ${acked}\n`));
  },
});
for (let n = first; count === 0 || n < first + count;) {
  for (let j = 0; j < batch && (count === 0 || n < first + count); j++, n++) {
    writer.queueAlert(
      makeAlert(n, { src: `10.66.${(n >> 8) & 255}.${n & 255}` }),
      true,
    );
  }
  await new Promise((r) => setTimeout(r, pause));
}
await writer.close();
store.close();
Deno.stdout.writeSync(out.encode("DONE\n"));
