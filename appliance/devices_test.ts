import assert from "node:assert/strict";
import { batchOf, cat } from "../decode/_test_frames.ts";
import { parseCidr } from "../decode/mod.ts";
import { udpFrame } from "../devices/_test_frames.ts";
import type { ApplianceEvent } from "../common/appliance_event.ts";
import { Pipeline } from "../engine/mod.ts";
import { StoreWriter } from "../store/mod.ts";
import { tempStore } from "../store/_testing.ts";
import { DeviceKeeper, SILENT_AFTER_MS } from "./devices.ts";

const PI = "b8:27:eb:12:34:56", PLUG = "24:62:ab:0c:33:91";
const T0 = 1_700_000_000_000_000;

function talk(mac: string, ip: string, tsUs: number) {
  return udpFrame({
    srcMac: mac,
    dstMac: "00:11:22:33:44:55",
    src: ip,
    dst: "192.168.1.1",
    sport: 1000,
    dport: 9,
    tsUs,
  }, cat("x"));
}

Deno.test("a known device not heard from for an hour of packet time went silent, once, and again after it came back", async () => {
  await using t = await tempStore();
  const writer = new StoreWriter(t.store, { intervalMs: 10 });
  const events: ApplianceEvent[] = [];
  const keeper = new DeviceKeeper({
    store: t.store,
    writer,
    oui: null,
    edits: new Map([[PI, { name: "Kitchen <Pi>", known: true }]]),
    homeNet: () => [parseCidr("192.168.1.0/24")!],
    events: (e) => events.push(e),
  });
  const p = new Pipeline({ observers: [keeper.inventory] });
  const hour = SILENT_AFTER_MS * 1000;
  p.processBatch(
    batchOf([talk(PI, "192.168.1.57", T0), talk(PLUG, "192.168.1.52", T0)]),
  );
  await keeper.save();
  assert.equal(events.length, 0);
  // Only the plug talks for an hour: the Pi (known) went silent, the plug
  // is not watched.
  p.processBatch(batchOf([talk(PLUG, "192.168.1.52", T0 + hour + 1)]));
  await keeper.save();
  assert.equal(events.length, 1);
  assert.equal(events[0]!.type, "device_silent");
  assert.equal(events[0]!.title, "Device Kitchen Pi went silent");
  assert.equal(events[0]!.ip, "192.168.1.57");
  await keeper.save();
  assert.equal(events.length, 1);
  // Back, then quiet again: a second event.
  p.processBatch(batchOf([talk(PI, "192.168.1.57", T0 + 2 * hour)]));
  await keeper.save();
  p.processBatch(batchOf([talk(PLUG, "192.168.1.52", T0 + 3 * hour + 2)]));
  await keeper.save();
  assert.equal(events.length, 2);
  await writer.close();
});
