import assert from "node:assert/strict";
import { UserError } from "../common/errors.ts";
import { analyzeFiles, loadPolicyFile } from "./analyze.ts";
import type { EveRecord } from "../events/mod.ts";

const SCAN =
  new URL("../tests/fixtures/scan_syn.pcap", import.meta.url).pathname;

Deno.test("loadPolicyFile() refuses a bad policy with one line naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(
      bad,
      JSON.stringify({ detectors: { port_scan: { ports: 0 } } }),
    );
    await assert.rejects(
      () => loadPolicyFile(bad),
      (e: Error) =>
        e instanceof UserError && !e.message.includes("\n") &&
        e.message.includes(bad) &&
        e.message.includes('"detectors.port_scan.ports"'),
    );
    await Deno.writeTextFile(`${dir}/broken.json`, "{ not json");
    await assert.rejects(() => loadPolicyFile(`${dir}/broken.json`), UserError);
    await assert.rejects(
      () => loadPolicyFile(`${dir}/missing.json`),
      UserError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyzeFiles() applies the policy: a disabled detector raises nothing, counts land in the stats", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/p.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({ detectors: { port_scan: { enabled: false } } }),
    );
    const run = async (policy?: Awaited<ReturnType<typeof loadPolicyFile>>) => {
      const recs: EveRecord[] = [];
      const stats = await analyzeFiles([SCAN], {
        events: new Set(["alert"]),
        sink: (r) => recs.push(r),
        policy,
      });
      return { recs, stats };
    };
    const on = await run();
    assert.equal(on.stats.files[0]!.alerts_by_type.port_scan, 1);
    assert.equal(on.stats.total.alerts, on.recs.length);
    const off = await run(await loadPolicyFile(path));
    assert.equal(off.stats.files[0]!.alerts_by_type.port_scan, undefined);
    assert.ok(off.stats.files[0]!.alert_pipeline!.detections >= 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
