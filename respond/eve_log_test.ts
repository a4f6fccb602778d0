import assert from "node:assert/strict";
import { join } from "node:path";
import { makeAlert } from "../store/_testing.ts";
import { EveLog } from "./eve_log.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ns-eve-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function lines(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text === "" || text.endsWith("\n"), "whole lines only");
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("EveLog writes one alert a line with Suricata's field names, in batches", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "eve.json");
    await using eve = await EveLog.open(path, { flushMs: 60_000 });
    for (let i = 0; i < 100; i++) eve.write(makeAlert(i), true);
    eve.write(makeAlert(5, { count: 9 }), false);
    assert.equal(eve.metrics.writes, 0, "nothing written before the interval");
    await eve.flush();
    assert.equal(eve.metrics.writes, 1, "one write for the batch");
    const recs = await lines(path);
    assert.equal(recs.length, 101);
    const r = recs[0]!;
    for (
      const k of [
        "timestamp",
        "event_type",
        "src_ip",
        "src_port",
        "dest_ip",
        "dest_port",
        "proto",
        "alert",
      ]
    ) {
      assert.ok(k in r, k);
    }
    assert.equal(r.event_type, "alert");
    assert.equal((recs[100]!.netsentinel as { count: number }).count, 9);
  });
});

Deno.test("EveLog rotates by size and keeps a bounded number of files, all readable by jq", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "eve.json");
    const oneLine = JSON.stringify(makeAlert(0)).length + 1;
    await using eve = await EveLog.open(path, {
      maxBytes: oneLine * 10,
      maxFiles: 3,
    });
    for (let i = 0; i < 95; i++) eve.write(makeAlert(i), true);
    await eve.flush();
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
      .sort();
    assert.deepEqual(names, [
      "eve.json",
      "eve.json.1",
      "eve.json.2",
      "eve.json.3",
    ]);
    for (const n of names) {
      const st = await Deno.stat(join(dir, n));
      assert.ok(st.size <= oneLine * 10 + 20, `${n} is ${st.size} bytes`);
    }
    // The newest lines are in eve.json, the oldest kept in eve.json.3.
    const cur = await lines(path);
    assert.equal(
      (cur[cur.length - 1]!.netsentinel as { id: string }).id,
      makeAlert(94).netsentinel.id,
    );
    const out = await new Deno.Command("jq", {
      args: [
        "-c",
        "-s",
        "map(.netsentinel.id) | length",
        ...names.map((n) => join(dir, n)),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    // 95 lines of equal size, 10 a file: 5 in eve.json, 10 in each of the 3 kept.
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "35");
    assert.equal(eve.metrics.rotations, 9);
  });
});

Deno.test("EveLog appends to an existing file and counts its size", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "eve.json");
    const first = await EveLog.open(path);
    first.write(makeAlert(1), true);
    await first.close();
    await using second = await EveLog.open(path);
    second.write(makeAlert(2), true);
    await second.flush();
    assert.equal((await lines(path)).length, 2);
  });
});

Deno.test("EveLog skips updates when asked to", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "eve.json");
    await using eve = await EveLog.open(path, { updates: false });
    eve.write(makeAlert(1), true);
    eve.write(makeAlert(1, { count: 2 }), false);
    await eve.flush();
    assert.equal((await lines(path)).length, 1);
  });
});

Deno.test("EveLog trims a huge evidence object the same way the store does", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "eve.json");
    await using eve = await EveLog.open(path);
    eve.write(makeAlert(1, { evidence: { blob: "x".repeat(200_000) } }), true);
    await eve.flush();
    const [rec] = await lines(path);
    const ev =
      (rec!.netsentinel as { evidence: Record<string, unknown> }).evidence;
    assert.deepEqual(ev._trimmed, ["blob"]);
  });
});
