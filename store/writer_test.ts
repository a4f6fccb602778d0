import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { makeAlert, tempStore, testId } from "./_testing.ts";
import { getAlert, getAlertHead, listAlerts } from "./alerts.ts";
import { getHost, listStats, mergeHost, minuteBucket } from "./hosts.ts";
import { TRIM_MARKER } from "./limits.ts";
import { type CommitInfo, StoreWriter } from "./writer.ts";

Deno.test("StoreWriter writes 2,500 alerts in several commits, none over 1,000 mutations", async () => {
  await using t = await tempStore();
  const commits: CommitInfo[] = [];
  await using w = new StoreWriter(t.store, {
    onCommit: (c) => commits.push(c),
  });
  for (let i = 0; i < 2500; i++) w.queueAlert(makeAlert(i), true);
  await w.flush();
  assert.ok(commits.length >= 10, `${commits.length} commits`);
  for (const c of commits) {
    assert.ok(c.mutations <= 1000, `${c.mutations} mutations`);
  }
  assert.equal(commits.reduce((n, c) => n + c.newIds.length, 0), 2500);
  assert.deepEqual(commits.map((c) => c.seq), commits.map((_, i) => i + 1));
  const { head } = await getAlertHead(t.store);
  assert.equal(head.total, 2500);
  assert.equal(head.last_id, testId(2499));
  const page = await listAlerts(t.store, { limit: 10_000 });
  assert.equal(page.alerts.length, 2500);
  assert.equal(w.metrics.alerts, 2500);
  assert.equal(w.metrics.commits, commits.length);
});

Deno.test("StoreWriter trims a huge evidence object instead of failing the write", async () => {
  await using t = await tempStore();
  await using w = new StoreWriter(t.store);
  w.queueAlert(
    makeAlert(1, { evidence: { blob: "Z".repeat(500_000), n: 3 } }),
    true,
  );
  await w.flush();
  const a = await getAlert(t.store, testId(1));
  assert.ok(a);
  assert.deepEqual(a.netsentinel.evidence[TRIM_MARKER], ["blob"]);
  assert.equal(a.netsentinel.evidence.n, 3);
  assert.equal(w.metrics.trimmed, 1);
  assert.equal(w.metrics.errors, 0);
});

Deno.test("StoreWriter keeps the newest version of an alert and remembers it was new", async () => {
  await using t = await tempStore();
  const commits: CommitInfo[] = [];
  await using w = new StoreWriter(t.store, {
    onCommit: (c) => commits.push(c),
  });
  w.queueAlert(makeAlert(7, { count: 1 }), true);
  w.queueAlert(makeAlert(7, { count: 5 }), false);
  await w.flush();
  assert.equal(commits.length, 1);
  assert.deepEqual(commits[0]!.newIds, [testId(7)]);
  assert.deepEqual(commits[0]!.updatedIds, []);
  assert.equal((await getAlert(t.store, testId(7)))?.netsentinel.count, 5);
  w.queueAlert(makeAlert(7, { count: 9 }), false);
  await w.flush();
  assert.deepEqual(commits[1]!.updatedIds, [testId(7)]);
});

Deno.test("StoreWriter commits at most about once per interval under a steady load", async () => {
  await using t = await tempStore();
  const commitTimes: number[] = [];
  await using w = new StoreWriter(t.store, {
    intervalMs: 200,
    urgentMs: 200, // this test is about the interval: no early commits for new alerts
    // Flush starts, not commit ends: how long KV takes to commit varies
    // with the machine's load, the schedule does not.
    onCommit: (c) => commitTimes.push(c.flushStart),
  });
  const t0 = performance.now();
  // 1,200 alerts and host/stats updates spread over about 1.2 s.
  for (let i = 0; i < 60; i++) {
    for (let j = 0; j < 20; j++) w.queueAlert(makeAlert(i * 20 + j), true);
    w.queueStats("1m", minuteBucket(Date.now()), { packets: i });
    await new Promise((r) => setTimeout(r, 20));
  }
  await w.flush();
  const m = w.metrics;
  assert.equal(m.alerts, 1200);
  // Each flush of ~20-100 alerts fits one commit, so commits ≈ flushes.
  assert.equal(m.commits, m.flushes);
  const elapsed = performance.now() - t0;
  assert.ok(
    m.flushes <= Math.ceil(elapsed / 200) + 1,
    `${m.flushes} flushes in ${Math.round(elapsed)} ms`,
  );
  const gaps = commitTimes.slice(1).map((t1, i) => t1 - commitTimes[i]!);
  // The final explicit flush may come early; every timer-driven one waits the interval.
  const early = gaps.filter((g) => g < 200 * 0.9);
  assert.ok(early.length <= 1, `gaps: ${gaps.map(Math.round).join(", ")}`);
});

Deno.test("StoreWriter commits a new alert without waiting for the full interval", async () => {
  await using t = await tempStore();
  let committed: (ids: string[]) => void = () => {};
  const first = new Promise<string[]>((r) => committed = r);
  await using w = new StoreWriter(t.store, {
    intervalMs: 60_000,
    urgentMs: 50,
    onCommit: (c) => committed(c.newIds),
  });
  // A host record alone would wait for the minute-long interval…
  w.queueHost({
    ip: "10.0.0.8",
    first_seen: "2026-11-24T14:00:00.000Z",
    last_seen: "2026-11-24T14:00:01.000Z",
    bytes: 1,
    packets: 1,
  });
  // …a new alert takes it along at once.
  w.queueAlert(makeAlert(3), true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ids = await Promise.race([
    first,
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error("no commit within 10 s")), 10_000);
    }),
  ]);
  clearTimeout(timer);
  assert.deepEqual(ids, [testId(3)]);
  assert.equal(w.pending, 0);
});

Deno.test("StoreWriter writes alerts with the retention expiry and hosts and stats with theirs", async () => {
  await using t = await tempStore({
    retention: { alertMs: 3_600_000, hostMs: 7_200_000 },
  });
  await using w = new StoreWriter(t.store);
  const before = Date.now();
  w.queueAlert(makeAlert(1), true);
  w.queueHost({
    ip: "10.0.0.9",
    first_seen: "2026-11-24T14:00:00.000Z",
    last_seen: "2026-11-24T14:00:01.000Z",
    bytes: 100,
    packets: 2,
  });
  w.queueStats("1m", 60_000 * 100, { packets: 5 });
  await w.flush();
  const after = Date.now();
  // KV does not expose expiry; its SQLite file does (expiration_ms per row).
  const db = new DatabaseSync(t.store.path, { readOnly: true });
  try {
    const rows = db.prepare("select k, expiration_ms from kv").all() as {
      k: Uint8Array;
      expiration_ms: number;
    }[];
    const text = (k: Uint8Array) => new TextDecoder().decode(k);
    const exp = (prefix: string) =>
      rows.filter((r) => text(r.k).includes(prefix)).map((r) =>
        r.expiration_ms
      );
    for (
      const kind of [
        "\u0002alert\u0000",
        "alert_by_src",
        "alert_by_type",
        "alert_by_time",
      ]
    ) {
      const e = exp(kind);
      assert.ok(e.length >= 1, kind);
      for (const x of e) {
        assert.ok(
          x >= before + 3_600_000 && x <= after + 3_600_000,
          `${kind} expires at ${x}`,
        );
      }
    }
    for (const x of exp("\u0002host\u0000")) {
      assert.ok(x >= before + 7_200_000 && x <= after + 7_200_000);
    }
    for (const x of exp("\u0002stats\u0000")) {
      assert.ok(x >= before + 7 * 86_400_000 && x <= after + 7 * 86_400_000);
    }
    const head = rows.filter((r) => text(r.k).includes("alert_head"));
    assert.equal(head[0]?.expiration_ms, -1, "the head never expires");
  } finally {
    db.close();
  }
});

Deno.test("StoreWriter merges host records and keeps the latest stats rollup per bucket", async () => {
  await using t = await tempStore();
  await using w = new StoreWriter(t.store);
  const a = {
    ip: "10.0.0.9",
    first_seen: "2026-11-24T14:00:00.000Z",
    last_seen: "2026-11-24T14:00:01.000Z",
    bytes: 100,
    packets: 2,
    bytes_in: 60,
  };
  w.queueHost(mergeHost(null, a));
  await w.flush();
  const prev = await getHost(t.store, "10.0.0.9");
  w.queueHost(mergeHost(prev, {
    ...a,
    first_seen: "2026-11-24T14:05:00.000Z",
    last_seen: "2026-11-24T14:05:00.000Z",
    bytes: 50,
    packets: 1,
    bytes_in: 10,
    rdns: "printer.lan",
  }));
  w.queueStats("1m", 120_000, { packets: 1 });
  w.queueStats("1m", 120_000, { packets: 2 });
  w.queueStats("1m", 180_000, { packets: 3 });
  await w.flush();
  const h = await getHost(t.store, "10.0.0.9");
  assert.equal(h?.bytes, 150);
  assert.equal(h?.packets, 3);
  assert.equal(h?.bytes_in, 70);
  assert.equal(h?.first_seen, "2026-11-24T14:00:00.000Z");
  assert.equal(h?.last_seen, "2026-11-24T14:05:00.000Z");
  assert.equal(h?.rdns, "printer.lan");
  const stats = await listStats(t.store, "1m", { from: 0, to: 10_000_000 });
  assert.deepEqual(stats, [
    { bucket: 120_000, rollup: { packets: 2 } },
    { bucket: 180_000, rollup: { packets: 3 } },
  ]);
});

Deno.test("StoreWriter refuses a record too large for one KV value at once", async () => {
  await using t = await tempStore();
  await using w = new StoreWriter(t.store);
  assert.throws(() => w.queueSet(["x"], "y".repeat(70_000)), RangeError);
  w.queueSet(["x"], { ok: true }, { expireIn: 60_000 });
  await w.flush();
  assert.deepEqual((await t.store.kv.get(["x"])).value, { ok: true });
});

Deno.test("StoreWriter refuses keys and ids KV could never write at once", async () => {
  await using t = await tempStore();
  await using w = new StoreWriter(t.store);
  assert.throws(() => w.queueSet(["bad", "k".repeat(3000)], 1), RangeError);
  const a = makeAlert(1);
  a.netsentinel.id = "x".repeat(500);
  assert.throws(() => w.queueAlert(a, true), RangeError);
  assert.equal(w.pending, 0);
});

Deno.test("StoreWriter keeps queued items when a commit fails", async () => {
  await using t = await tempStore();
  const w = new StoreWriter(t.store);
  w.queueAlert(makeAlert(1), true);
  w.queueHost({
    ip: "10.0.0.1",
    first_seen: "2026-11-24T14:00:00.000Z",
    last_seen: "2026-11-24T14:00:00.000Z",
    bytes: 1,
    packets: 1,
  });
  t.store.close(); // the database goes away under the writer
  await assert.rejects(() => w.flush(), /Cannot write to the database/);
  assert.equal(w.metrics.errors, 1);
  assert.equal(w.pending, 2, "both items are still queued");
  await assert.rejects(() => w.close(), /Cannot write to the database/);
});

Deno.test("StoreWriter spreads a backlog of host records over several scheduled flushes", async () => {
  await using t = await tempStore();
  let flushed: () => void = () => {};
  const first = new Promise<void>((r) => flushed = r);
  await using w = new StoreWriter(t.store, {
    intervalMs: 50,
    maxPerFlush: 100,
    onCommit: () => flushed(),
  });
  const host = (i: number) =>
    mergeHost(null, {
      ip: `10.1.${i >> 8}.${i & 255}`,
      first_seen: "2026-11-24T14:00:00.000Z",
      last_seen: "2026-11-24T14:00:01.000Z",
      bytes: i,
      packets: 1,
    });
  for (let i = 0; i < 250; i++) w.queueHost(host(i));
  w.queueAlert(makeAlert(1), true);
  await first;
  // The first flush took every alert and the oldest 100 host records.
  assert.equal(w.metrics.alerts, 1);
  assert.equal(w.metrics.hosts, 100);
  assert.equal(w.pending, 150);
  assert.equal((await getHost(t.store, "10.1.0.99"))?.bytes, 99);
  assert.equal(await getHost(t.store, "10.1.0.100"), null);
  // An explicit flush takes everything left.
  await w.flush();
  assert.equal(w.pending, 0);
  assert.equal(w.metrics.hosts, 250);
  assert.equal((await getHost(t.store, "10.1.0.249"))?.bytes, 249);
});
