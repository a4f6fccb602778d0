import assert from "node:assert/strict";
import type { Alert } from "../alerts/alert.ts";
import { makeAlert, tempStore, testId } from "./_testing.ts";
import {
  addInboxRule,
  getGroup,
  groupIdOf,
  listGroups,
  listInboxRules,
  removeInboxRule,
  setGroupState,
} from "./inbox.ts";
import { StoreWriter } from "./writer.ts";

const T0 = Date.UTC(2026, 10, 24, 14, 0, 0);

function alertOf(
  n: number,
  src: string,
  dst: string | null,
  o: { type?: "port_scan" | "brute_force"; severity?: 1 | 2 | 3 } = {},
): Alert {
  const a = makeAlert(n, { src, timeMs: T0 + n * 60_000, ...o });
  if (dst === null) delete a.dest_ip;
  else a.dest_ip = dst;
  a.netsentinel.explanation = `alert ${n}`;
  return a;
}

Deno.test("the writer groups alerts by type, signature, source and destination with count, first and last seen and the newest summary", async () => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store);
  w.queueAlert(alertOf(1, "10.0.0.1", "10.0.0.9"), true);
  w.queueAlert(alertOf(2, "10.0.0.1", "10.0.0.9"), true);
  w.queueAlert(alertOf(3, "10.0.0.1", "10.0.0.8"), true);
  w.queueAlert(alertOf(4, "10.0.0.1", null), true);
  w.queueAlert(
    alertOf(5, "10.0.0.1", "10.0.0.9", { type: "brute_force" }),
    true,
  );
  await w.flush();
  w.queueAlert(alertOf(6, "10.0.0.1", "10.0.0.9", { severity: 1 }), true);
  // An update of alert 1 changes neither the count nor the newest alert.
  w.queueAlert(alertOf(1, "10.0.0.1", "10.0.0.9"), false);
  await w.flush();
  const page = await listGroups(ts.store, { view: "all" });
  assert.equal(page.groups.length, 4);
  const g = page.groups.find((x) =>
    x.dest_ip === "10.0.0.9" && x.type === "port_scan"
  )!;
  assert.equal(g.count, 3);
  assert.equal(g.first_seen, new Date(T0 + 60_000).toISOString());
  assert.equal(g.last_seen, new Date(T0 + 6 * 60_000).toISOString());
  assert.deepEqual(g.newest, { id: testId(6), explanation: "alert 6" });
  assert.equal(g.severity, 1);
  assert.equal(page.groups.find((x) => x.dest_ip === null)?.count, 1);
  // The same alert written as new again (a capture replayed twice gives
  // the same ids) is not counted twice.
  w.queueAlert(alertOf(6, "10.0.0.1", "10.0.0.9", { severity: 1 }), true);
  await w.flush();
  assert.equal((await getGroup(ts.store, g.id))?.count, 3);
  // Newest last seen first.
  assert.equal(page.groups[0]!.id, g.id);
  assert.equal(g.id, groupIdOf(alertOf(9, "10.0.0.1", "10.0.0.9")));
});

Deno.test("archived groups leave the inbox, escalated ones list first, and a new alert brings an archived group back", async () => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store);
  for (let i = 0; i < 6; i++) {
    w.queueAlert(alertOf(i, `10.0.1.${i}`, "10.0.0.9"), true);
  }
  await w.flush();
  const ids = (await listGroups(ts.store)).groups.map((g) => g.id);
  assert.equal(ids.length, 6);
  const [newest, second, , , , oldest] = ids;
  const r = await setGroupState(ts.store, [newest!, second!], "archive", "ann");
  assert.equal(r.changed.length, 2);
  assert.deepEqual(r.missing, []);
  // Archiving again changes nothing; an unknown id is reported.
  const again = await setGroupState(
    ts.store,
    [newest!, "bm9uZQ"],
    "archive",
    "ann",
  );
  assert.deepEqual(again.changed, []);
  assert.deepEqual(again.missing, ["bm9uZQ"]);
  await setGroupState(ts.store, [oldest!], "escalate", "bob");
  const inbox = (await listGroups(ts.store, { view: "inbox" })).groups;
  assert.deepEqual(inbox.map((g) => g.id), [oldest, ...ids.slice(2, 5)]);
  assert.equal(inbox[0]!.escalated, true);
  assert.equal(inbox[0]!.escalated_by, "bob");
  const archived = (await listGroups(ts.store, { view: "archived" })).groups;
  assert.deepEqual(archived.map((g) => g.id), [newest, second]);
  assert.deepEqual(
    (await listGroups(ts.store, { view: "escalated" })).groups.map((g) => g.id),
    [oldest],
  );
  // A new alert in an archived group brings it back.
  w.queueAlert(alertOf(10, "10.0.1.5", "10.0.0.9"), true);
  await w.flush();
  const back = (await listGroups(ts.store, { view: "archived" })).groups;
  assert.equal(back.length, 1);
  const g = await getGroup(
    ts.store,
    groupIdOf(alertOf(0, "10.0.1.5", "10.0.0.9")),
  );
  assert.equal(g?.archived, false);
  assert.equal(g?.count, 2);
  // Unescalate and unarchive.
  await setGroupState(ts.store, [oldest!], "unescalate", "bob");
  await setGroupState(ts.store, [second!], "unarchive", "bob");
  assert.equal(
    (await listGroups(ts.store, { view: "escalated" })).groups.length,
    0,
  );
  assert.equal(
    (await listGroups(ts.store, { view: "inbox" })).groups.length,
    6,
  );
});

Deno.test("listGroups() filters by type, severity, source, destination and time and pages with a cursor across the pinned groups", async () => {
  await using ts = await tempStore();
  await using w = new StoreWriter(ts.store);
  for (let i = 0; i < 30; i++) {
    w.queueAlert(
      alertOf(i, `10.0.2.${i % 10}`, `10.0.3.${i % 3}`, {
        type: i % 2 === 0 ? "port_scan" : "brute_force",
        severity: i % 5 === 0 ? 1 : 3,
      }),
      true,
    );
  }
  await w.flush();
  const all = (await listGroups(ts.store, { view: "all", limit: 1000 })).groups;
  assert.equal(all.length, 30);
  await setGroupState(ts.store, [all[20]!.id, all[25]!.id], "escalate", "x");
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 20; pages++) {
    const p = await listGroups(ts.store, {
      view: "all",
      limit: 7,
      ...(cursor ? { cursor } : {}),
    });
    seen.push(...p.groups.map((g) => g.id));
    if (p.cursor === null) break;
    cursor = p.cursor;
  }
  assert.equal(seen.length, 30);
  assert.equal(new Set(seen).size, 30);
  assert.deepEqual(seen.slice(0, 2), [all[20]!.id, all[25]!.id]);
  const by = async (q: Parameters<typeof listGroups>[1]) =>
    (await listGroups(ts.store, { view: "all", limit: 1000, ...q })).groups;
  assert.equal((await by({ type: "brute_force" })).length, 15);
  assert.equal((await by({ severities: [1] })).length, 6);
  assert.equal((await by({ src: "10.0.2.4" })).length, 3);
  assert.equal((await by({ dst: "10.0.3.0" })).length, 10);
  assert.equal(
    (await by({ since: T0 + 10 * 60_000, until: T0 + 20 * 60_000 })).length,
    10,
  );
  await assert.rejects(
    () => listGroups(ts.store, { cursor: "nonsense" }),
    TypeError,
  );
});

Deno.test("an auto-archive rule archives the groups it matches and new alerts it matches arrive archived until it expires or is removed", async () => {
  let now = Date.UTC(2026, 11, 1);
  await using ts = await tempStore({ now: () => now });
  await using w = new StoreWriter(ts.store);
  w.queueAlert(alertOf(1, "10.0.4.1", "10.0.0.9"), true);
  w.queueAlert(alertOf(2, "10.0.4.2", "10.0.0.9"), true);
  await w.flush();
  const { rule, archived } = await addInboxRule(ts.store, {
    signature_id: 1000001,
    type: "port_scan",
    src_ip: "10.0.4.1",
    dest_ip: null,
    reason: "our scanner",
    created_by: "ann",
    expires: now + 3_600_000,
  });
  assert.equal(archived, 1);
  assert.deepEqual(
    (await listGroups(ts.store)).groups.map((g) => g.src_ip),
    ["10.0.4.2"],
  );
  // A new alert of the rule's source arrives archived.
  w.queueAlert(alertOf(3, "10.0.4.1", "10.0.0.7"), true);
  await w.flush();
  const g3 = await getGroup(
    ts.store,
    groupIdOf(alertOf(3, "10.0.4.1", "10.0.0.7")),
  );
  assert.equal(g3?.archived, true);
  assert.equal(g3?.archived_by, `rule ${rule.id}`);
  assert.deepEqual((await listInboxRules(ts.store)).map((r) => r.id), [
    rule.id,
  ]);
  // Past its expiry the rule no longer applies and is no longer listed.
  now += 3_600_001;
  assert.deepEqual(await listInboxRules(ts.store), []);
  w.queueAlert(alertOf(4, "10.0.4.1", "10.0.0.6"), true);
  await w.flush();
  const g4 = await getGroup(
    ts.store,
    groupIdOf(alertOf(4, "10.0.4.1", "10.0.0.6")),
  );
  assert.equal(g4?.archived, false);
  // Removing.
  const r2 = await addInboxRule(ts.store, {
    signature_id: 1000001,
    type: "port_scan",
    src_ip: null,
    dest_ip: "10.0.0.5",
    reason: "",
    created_by: "ann",
    expires: null,
  });
  assert.equal(await removeInboxRule(ts.store, r2.rule.id), true);
  assert.equal(await removeInboxRule(ts.store, r2.rule.id), false);
  w.queueAlert(alertOf(5, "10.0.4.9", "10.0.0.5"), true);
  await w.flush();
  const g5 = await getGroup(
    ts.store,
    groupIdOf(alertOf(5, "10.0.4.9", "10.0.0.5")),
  );
  assert.equal(g5?.archived, false);
});

/** Deletes every group key and the grouped-through mark: a database as an older NetSentinel left it. */
async function forgetGroups(kv: Deno.Kv): Promise<void> {
  for await (const e of kv.list({ prefix: [] })) {
    const k0 = String(e.key[0]);
    if (
      k0.startsWith("alert_group") ||
      (k0 === "meta" && e.key[1] === "alert_groups_through")
    ) await kv.delete(e.key);
  }
}

Deno.test("a database written before the inbox is grouped from its stored alerts when a writer starts", async () => {
  await using ts = await tempStore();
  {
    await using w = new StoreWriter(ts.store);
    for (let i = 0; i < 5; i++) {
      w.queueAlert(
        alertOf(i, "10.0.2.1", i < 3 ? "10.0.0.9" : "10.0.0.8"),
        true,
      );
    }
    await w.flush();
  }
  await forgetGroups(ts.store.kv);
  assert.equal((await listGroups(ts.store, { view: "all" })).groups.length, 0);
  await using w = new StoreWriter(ts.store);
  await w.groupPending();
  const groups = (await listGroups(ts.store, { view: "all" })).groups;
  assert.deepEqual(groups.map((g) => [g.dest_ip, g.count]), [
    ["10.0.0.8", 2],
    ["10.0.0.9", 3],
  ]);
  assert.deepEqual(groups[0]!.newest, {
    id: testId(4),
    explanation: "alert 4",
  });
  // Grouped once: a later start and a new alert count each alert once.
  await w.groupPending();
  w.queueAlert(alertOf(5, "10.0.2.1", "10.0.0.9"), true);
  await w.flush();
  const g9 = (await listGroups(ts.store, { view: "all" })).groups
    .find((g) => g.dest_ip === "10.0.0.9")!;
  assert.equal(g9.count, 4);
  assert.equal(w.metrics.groupErrors, 0);
});

Deno.test("alert batches whose groups were never written (a crash between the two commits) are folded in once by the next writer", async () => {
  await using ts = await tempStore();
  const kv = ts.store.kv;
  const a1 = alertOf(1, "10.0.3.1", "10.0.0.9");
  const a2 = alertOf(2, "10.0.3.1", "10.0.0.9");
  const a3 = alertOf(3, "10.0.3.2", "10.0.0.9");
  {
    await using w = new StoreWriter(ts.store);
    w.queueAlert(a1, true);
    await w.flush();
    // The groups as batch 1 left them.
    const after1: Deno.KvEntry<unknown>[] = [];
    for await (const e of kv.list({ prefix: [] })) {
      if (String(e.key[0]).startsWith("alert_group")) after1.push(e);
    }
    w.queueAlert(a2, true);
    w.queueAlert(a3, true);
    await w.flush();
    // As if the process died between batch 2's alerts and their groups.
    await forgetGroups(kv);
    for (const e of after1) await kv.set(e.key, e.value);
    await kv.set(["meta", "alert_groups_through"], 1);
  }
  assert.equal((await getGroup(ts.store, groupIdOf(a1)))?.count, 1);
  assert.equal(await getGroup(ts.store, groupIdOf(a3)), null);
  await using w = new StoreWriter(ts.store);
  await w.groupPending();
  assert.equal((await getGroup(ts.store, groupIdOf(a1)))?.count, 2);
  assert.equal((await getGroup(ts.store, groupIdOf(a3)))?.count, 1);
  // Dying after the groups but before the mark: folding again counts once.
  await kv.set(["meta", "alert_groups_through"], 1);
  await w.groupPending();
  assert.equal((await getGroup(ts.store, groupIdOf(a1)))?.count, 2);
  assert.equal((await getGroup(ts.store, groupIdOf(a3)))?.count, 1);
  // And the writer goes on from there.
  w.queueAlert(alertOf(4, "10.0.3.2", "10.0.0.9"), true);
  await w.flush();
  assert.equal((await getGroup(ts.store, groupIdOf(a3)))?.count, 2);
  assert.equal(w.metrics.groupErrors, 0);
});
