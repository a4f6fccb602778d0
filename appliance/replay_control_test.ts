import assert from "node:assert/strict";
import { silentLogger } from "../common/logger.ts";
import { ApplianceReplay } from "./replay_control.ts";

const CAPTURE = new URL("../tests/fixtures/scan_syn.pcap", import.meta.url);

Deno.test("parallel uploads leave no file behind and never show as stored captures", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-replay-" });
  try {
    const bytes = await Deno.readFile(CAPTURE);
    const replay = new ApplianceReplay({
      dir,
      onBatch: () => {},
      log: silentLogger,
    });
    const starts = await Promise.allSettled(
      Array.from(
        { length: 8 },
        (_, i) =>
          replay.start({ kind: "upload", name: `up${i}.pcap`, bytes }, 1),
      ),
    );
    for (const s of starts) assert.equal(s.status, "fulfilled");
    // While the last one plays, its file is not offered as a stored capture.
    const names = (await replay.captures()).map((c) => c.name);
    assert.deepEqual(names.filter((n) => n !== "demo.pcap"), []);
    await replay.stop();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("uploads a previous run left behind are removed, stored captures stay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-replay-" });
  try {
    const bytes = await Deno.readFile(CAPTURE);
    await Deno.writeFile(`${dir}/.upload-1733500000000.pcap`, bytes);
    await Deno.writeFile(
      `${dir}/.upload-0b6f1c9e-8d4f-4a55-9d2e-3f1f2a1b4c5d.pcap`,
      bytes,
    );
    await Deno.writeFile(`${dir}/kept.pcap`, bytes);
    const replay = new ApplianceReplay({
      dir,
      onBatch: () => {},
      log: silentLogger,
    });
    assert.equal(await replay.removeStaleUploads(), 2);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
      "kept.pcap",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
