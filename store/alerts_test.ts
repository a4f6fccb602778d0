import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { makeAlert, tempStore, testId, waitFor } from "./_testing.ts";
import {
  followAlerts,
  type FollowedAlert,
  getAlert,
  listAlerts,
  watchAlerts,
} from "./alerts.ts";
import { StoreWriter } from "./writer.ts";

const T0 = Date.UTC(2026, 10, 24, 14, 0, 0);

Deno.test("listAlerts() filters by source, type and time and pages with a cursor", async (t) => {
  await using ts = await tempStore();
  const store = ts.store;
  await using w = new StoreWriter(store);
  for (let i = 0; i < 60; i++) {
    w.queueAlert(
      makeAlert(i, {
        src: i % 3 === 0 ? "10.0.0.3" : "10.0.0.9",
        type: i % 2 === 0 ? "port_scan" : "brute_force",
        timeMs: T0 + i * 60_000,
      }),
      true,
    );
  }
  await w.flush();
  await t.step("newest first by default, limited", async () => {
    const p = await listAlerts(store, { limit: 5 });
    assert.deepEqual(
      p.alerts.map((a) => a.netsentinel.id),
      [59, 58, 57, 56, 55].map(testId),
    );
    assert.notEqual(p.cursor, null);
  });
  await t.step("by source", async () => {
    const p = await listAlerts(store, { src: "10.0.0.3", limit: 100 });
    assert.equal(p.alerts.length, 20);
    assert.ok(p.alerts.every((a) => a.src_ip === "10.0.0.3"));
    assert.equal(p.cursor, null);
  });
  await t.step("by source and type", async () => {
    const p = await listAlerts(store, { src: "10.0.0.3", type: "port_scan" });
    assert.equal(p.alerts.length, 10); // multiples of 6
    assert.ok(
      p.alerts.every((a) => Number(a.netsentinel.id.slice(3)) % 6 === 0),
    );
  });
  await t.step("by time range, oldest first", async () => {
    const p = await listAlerts(store, {
      since: T0 + 10 * 60_000,
      until: T0 + 15 * 60_000,
      order: "oldest",
    });
    assert.deepEqual(
      p.alerts.map((a) => a.netsentinel.id),
      [10, 11, 12, 13, 14].map(testId),
    );
  });
  await t.step("pages cover everything once", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const p = await listAlerts(store, {
        type: "brute_force",
        limit: 7,
        cursor,
      });
      seen.push(...p.alerts.map((a) => a.netsentinel.id));
      if (p.cursor === null) break;
      cursor = p.cursor;
    }
    assert.equal(seen.length, 30);
    assert.equal(new Set(seen).size, 30);
  });
  await t.step("unfiltered pages cover everything once", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const p = await listAlerts(store, { limit: 25, cursor, order: "oldest" });
      seen.push(...p.alerts.map((a) => a.netsentinel.id));
      if (p.cursor === null) break;
      cursor = p.cursor;
    }
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => testId(i)));
  });
});

Deno.test("watchAlerts() delivers new and updated alerts in commit order inside the process", async () => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store, { intervalMs: 50 });
  const ac = new AbortController();
  const got: FollowedAlert[] = [];
  const done = (async () => {
    for await (const f of watchAlerts(ts.store, { signal: ac.signal })) {
      got.push(f);
    }
  })();
  // Let the watcher take its starting point before anything is written.
  await new Promise((r) => setTimeout(r, 50));
  // Alert 9 is created first but committed after alert 10: order follows commits.
  w.queueAlert(makeAlert(10), true);
  await w.flush();
  w.queueAlert(makeAlert(9), true);
  w.queueAlert(makeAlert(10, { count: 4 }), false);
  await w.flush();
  await waitFor("three deliveries", () => got.length, (n) => n >= 3);
  ac.abort();
  await done;
  // Each delivery reads the alert as stored by then, so the first one may
  // already show the update; the ids and new/updated flags follow commits.
  assert.deepEqual(
    got.map((g) => [g.alert.netsentinel.id, g.isNew]),
    [[testId(10), true], [testId(9), true], [testId(10), false]],
  );
  assert.equal(got[2]!.alert.netsentinel.count, 4);
});

Deno.test("followAlerts() resumes after a sequence number", async () => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store);
  for (let i = 0; i < 3; i++) {
    w.queueAlert(makeAlert(i), true);
    await w.flush();
  }
  const ac = new AbortController();
  const got: string[] = [];
  for await (
    const f of followAlerts(ts.store, {
      from: 1,
      mode: "poll",
      intervalMs: 20,
      signal: ac.signal,
    })
  ) {
    got.push(f.alert.netsentinel.id);
    if (got.length === 2) ac.abort();
  }
  assert.deepEqual(got, [testId(1), testId(2)]);
});

Deno.test("KV watch sees no commits of another process, polling the head sees them all", async () => {
  await using ts = await tempStore();
  const store = ts.store;
  await getAlert(store, "none"); // the database exists before the child opens it
  const ac = new AbortController();
  const watched: string[] = [];
  const polled: string[] = [];
  const watching = (async () => {
    for await (
      const f of followAlerts(store, { mode: "watch", signal: ac.signal })
    ) {
      watched.push(f.alert.netsentinel.id);
    }
  })();
  const polling = (async () => {
    for await (
      const f of followAlerts(store, {
        mode: "poll",
        intervalMs: 100,
        signal: ac.signal,
      })
    ) {
      polled.push(f.alert.netsentinel.id);
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  // 30 alerts in 3 commits spread over about 1.5 s.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(new URL("./_alert_writer_child.ts", import.meta.url)),
      ts.dir,
      "30",
      "10",
      "600",
      "500",
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  await waitFor(
    "the poller to see all 30",
    () => polled.length,
    (n) => n === 30,
  );
  ac.abort();
  await Promise.all([watching, polling]);
  assert.deepEqual(polled, Array.from({ length: 30 }, (_, i) => testId(i)));
  assert.deepEqual(watched, [], `watch saw ${watched.length} alerts`);
});
