import assert from "node:assert/strict";
import { makeAlert, tempStore, testId, waitFor } from "../store/_testing.ts";
import { setGroupState, StoreWriter } from "../store/mod.ts";
import { cliCommand, runCli } from "./_testing.ts";

Deno.test("alerts lists stored alerts as a table, EVE JSON and escaped CSV, with filters", async (t) => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store);
  const now = Date.now();
  for (let i = 0; i < 12; i++) {
    const a = makeAlert(i, {
      src: i < 4 ? "192.0.2.4" : "192.0.2.9",
      type: i % 2 ? "brute_force" : "port_scan",
      timeMs: now - (12 - i) * 600_000,
    });
    if (i === 11) a.alert.signature = "=cmd|' /C calc'!A0";
    w.queueAlert(a, true);
  }
  await w.flush();
  const data = ["--data", ts.dir];
  await t.step("table, newest N oldest first", async () => {
    const r = await runCli(["alerts", ...data, "--limit", "3"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.ok(
      lines[0]!.endsWith(testId(9)) && lines[2]!.endsWith(testId(11)),
      r.stdout,
    );
  });
  await t.step("eve with --src and --type, one object a line", async () => {
    const r = await runCli([
      "alerts",
      ...data,
      "--format",
      "eve",
      "--src",
      "192.0.2.4",
      "--type",
      "brute_force",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const recs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(recs.map((x) => x.netsentinel.id), [testId(1), testId(3)]);
    assert.equal(recs[0].event_type, "alert");
  });
  await t.step("--since as a duration", async () => {
    const r = await runCli([
      "alerts",
      ...data,
      "--format",
      "eve",
      "--since",
      "25m",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").length, 2);
  });
  await t.step("csv escapes a formula from the wire", async () => {
    const r = await runCli([
      "alerts",
      ...data,
      "--format",
      "csv",
      "--limit",
      "1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [header, row] = r.stdout.trim().split("\n");
    assert.match(header!, /^id,timestamp,/);
    assert.ok(row!.includes(`'=cmd|' /C calc'!A0`), String(row));
    assert.ok(!/(^|,)=/.test(row!), "no cell starts with =");
  });
  await t.step("bad usage and a missing database", async () => {
    const bad = await runCli(["alerts", ...data, "--type", "nope"]);
    assert.equal(bad.code, 2);
    const missing = await runCli(["alerts", "--data", ts.dir + "/absent"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^netsentinel: No database in/);
  });
});

Deno.test("alerts --follow prints alerts another process commits, then exits 0 on SIGTERM", async () => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store);
  w.queueAlert(makeAlert(1), true);
  await w.flush();
  const child = cliCommand([
    "alerts",
    "--data",
    ts.dir,
    "--format",
    "eve",
    "--follow",
    "--poll-ms",
    "100",
  ]).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let reading = reader.read();
  const pump = async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      reading,
      new Promise<null>((res) => timer = setTimeout(() => res(null), 50)),
    ]);
    clearTimeout(timer);
    if (r && !r.done) {
      text += r.value;
      reading = reader.read();
    }
    return text;
  };
  await waitFor("the existing alert", pump, (s) => s.includes(testId(1)));
  for (let i = 2; i <= 4; i++) {
    w.queueAlert(makeAlert(i), true);
    await w.flush();
  }
  w.queueAlert(makeAlert(2, { count: 7 }), false); // updates are not printed again
  await w.flush();
  await waitFor("three new alerts", pump, (s) => s.includes(testId(4)));
  child.kill("SIGTERM");
  const status = await child.status;
  for (let r = await reading; !r.done; r = await reader.read()) text += r.value;
  const ids = text.trim().split("\n").map((l) => JSON.parse(l).netsentinel.id);
  assert.deepEqual(ids, [1, 2, 3, 4].map(testId));
  assert.equal(status.code, 0, await new Response(child.stderr).text());
});

Deno.test("alerts --groups lists the inbox's groups of a view, as a table or JSON", async () => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store);
  for (let i = 0; i < 6; i++) {
    w.queueAlert(
      makeAlert(i, { src: i < 4 ? "192.0.2.4" : "192.0.2.9" }),
      true,
    );
  }
  await w.flush();
  const data = ["--data", ts.dir];
  const table = await runCli(["alerts", "--groups", ...data]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split("\n");
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /sev 2 {2}x2 +port_scan +192\.0\.2\.9 -> 10\.99\.0\.10 {2}TCP SYN port scan {2}\S+$/,
  );
  assert.match(lines[1]!, /x4 +port_scan +192\.0\.2\.4 /);
  const json = await runCli([
    "alerts",
    "--groups",
    "--format",
    "eve",
    "--src",
    "192.0.2.4",
    ...data,
  ]);
  const groups = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(groups.map((g) => [g.src_ip, g.count]), [["192.0.2.4", 4]]);
  await setGroupState(ts.store, [groups[0].id], "archive", "test");
  const archived = await runCli([
    "alerts",
    "--groups",
    "--view",
    "archived",
    ...data,
  ]);
  assert.match(archived.stdout, /\[archived\]/);
  assert.equal(archived.stdout.trim().split("\n").length, 1);
  const bad = await runCli(["alerts", "--groups", "--view", "spam", ...data]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--view/);
  const follow = await runCli(["alerts", "--groups", "--follow", ...data]);
  assert.equal(follow.code, 2);
});
