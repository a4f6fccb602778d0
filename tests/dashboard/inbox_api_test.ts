/**
 * The inbox API against the real appliance (KV at a temporary path, the
 * batched writer, the aggregator, replay): groups built as alerts are
 * written, archive / escalate one or many, auto-archive rules, and mutes
 * (the policy's suppressions) that end by the clock: a replayed attack is
 * dropped while muted and raised again once the mute's `until` passes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Alert } from "../../alerts/alert.ts";
import type { AlertGroup } from "../../store/mod.ts";
import {
  apiCall,
  signIn,
  startAppliance,
  type TestAppliance,
  waitFor,
} from "./_appliance.ts";
import { SCANNER, writeDashboardCapture } from "./_captures.ts";

function alertOf(n: number, src: string, sid = 1000100): Alert {
  const ts = new Date(Date.now() - 60_000 + n * 100).toISOString();
  return {
    timestamp: ts,
    event_type: "alert",
    src_ip: src,
    src_port: 40000,
    dest_ip: "192.168.1.20",
    dest_port: 22,
    proto: "TCP",
    alert: {
      action: "allowed",
      signature_id: sid,
      rev: 1,
      signature: "SSH brute force",
      category: "Attempted Administrator Privilege Gain",
      severity: 1,
    },
    netsentinel: {
      id: "01JTEST" + String(n).padStart(19, "0"),
      type: "brute_force",
      count: 12,
      first_seen: ts,
      last_seen: ts,
      evidence: {},
      explanation: `attempt ${n}`,
    },
  };
}

async function groups(
  app: TestAppliance,
  cookie: string,
  query = "",
): Promise<AlertGroup[]> {
  const r = await apiCall(app.url, cookie, "GET", `/api/inbox${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data.groups as AlertGroup[];
}

Deno.test("the inbox API lists groups and archives, escalates and bulk-archives them; bad parameters are 400s naming them", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  for (let i = 0; i < 12; i++) {
    app.writer.queueAlert(alertOf(i, `198.51.100.${i % 4}`), true);
  }
  await app.writer.flush();
  const all = await groups(app, cookie);
  assert.equal(all.length, 4);
  assert.ok(all.every((g) => g.count === 3));
  assert.equal(all[0]!.src_ip, "198.51.100.3");
  assert.equal(all[0]!.newest.explanation, "attempt 11");

  const [a, b, c, d] = all.map((g) => g.id);
  let r = await apiCall(app.url, cookie, "POST", "/api/inbox/archive", {
    groups: [a],
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.data.changed, [a]);
  r = await apiCall(app.url, cookie, "POST", "/api/inbox/escalate", {
    groups: [d],
  });
  assert.deepEqual(r.data.changed, [d]);
  assert.deepEqual((await groups(app, cookie)).map((g) => g.id), [d, b, c]);
  assert.deepEqual(
    (await groups(app, cookie, "?view=archived")).map((g) => g.id),
    [a],
  );
  assert.deepEqual(
    (await groups(app, cookie, "?view=escalated")).map((g) => g.id),
    [d],
  );
  // Bulk.
  r = await apiCall(app.url, cookie, "POST", "/api/inbox/archive", {
    groups: [b, c, d],
  });
  assert.deepEqual(r.data.changed, [b, c, d]);
  assert.deepEqual(await groups(app, cookie), []);
  assert.equal((await groups(app, cookie, "?view=archived")).length, 4);
  // Filters.
  assert.deepEqual(
    (await groups(app, cookie, "?view=all&src=198.51.100.2")).map((g) => g.id),
    [b],
  );
  assert.equal(
    (await groups(app, cookie, "?view=all&dst=192.168.1.99")).length,
    0,
  );
  const one = await apiCall(app.url, cookie, "GET", `/api/inbox/groups/${a}`);
  assert.equal(one.data.archived, true);
  assert.equal(one.data.archived_by, "admin");

  // Validation: every bad parameter is a 400 naming it.
  const bad: [string, string, unknown, string][] = [
    ["GET", "/api/inbox?view=spam", undefined, "view"],
    ["GET", "/api/inbox?dst=nope", undefined, "dst"],
    ["GET", "/api/inbox?src=nope", undefined, "src"],
    ["GET", "/api/inbox?severity=9", undefined, "severity"],
    ["GET", "/api/inbox?limit=0", undefined, "limit"],
    ["GET", "/api/inbox?cursor=zz", undefined, "cursor"],
    ["GET", "/api/inbox?since=never", undefined, "since"],
    ["POST", "/api/inbox/archive", { groups: [] }, "groups"],
    ["POST", "/api/inbox/archive", { groups: "x" }, "groups"],
    ["POST", "/api/inbox/archive", { groups: ["a/b"] }, "groups[0]"],
    ["POST", "/api/suppressions", { group_id: a, duration: "2h" }, "duration"],
    ["POST", "/api/suppressions", { group_id: a, until: "yesterday" }, "until"],
    ["POST", "/api/suppressions", {
      group_id: a,
      until: "2001-01-01T00:00:00Z",
    }, "until"],
    ["POST", "/api/suppressions", { group_id: a, scope: "both" }, "scope"],
    ["POST", "/api/suppressions", { group_id: "bm9uZQ" }, "group_id"],
    [
      "POST",
      "/api/suppressions",
      { signature_id: -1, ip: "1.2.3.4" },
      "signature_id",
    ],
    ["POST", "/api/suppressions", {
      signature_id: 5,
      ip: "1.2.3.4",
      scope: "pair",
    }, "dest_ip"],
    ["POST", "/api/inbox/rules", { signature_id: 5, ip: "1.2.3.4" }, "type"],
    ["POST", "/api/inbox/rules", { group_id: a, reason: 7 }, "reason"],
    ["DELETE", "/api/inbox/rules/nope", undefined, "id"],
    ["DELETE", "/api/suppressions/nope", undefined, "id"],
  ];
  for (const [method, path, body, field] of bad) {
    const x = await apiCall(app.url, cookie, method, path, body);
    assert.equal(x.status, 400, `${method} ${path} → ${x.status}`);
    assert.match(
      String(x.data.error),
      new RegExp(`"${field.replace(/[[\]]/g, "\\$&")}"`),
      `${method} ${path}: ${x.data.error}`,
    );
  }
  assert.equal(
    (await apiCall(app.url, cookie, "POST", "/api/inbox/frobnicate", {
      groups: [a],
    })).status,
    404,
  );
  // A cross-origin request from a session is refused (CSRF).
  const cross = await fetch(app.url + "/api/inbox/unarchive", {
    method: "POST",
    headers: {
      cookie,
      origin: "http://evil.example",
      "content-type": "application/json",
    },
    body: JSON.stringify({ groups: [a] }),
  });
  assert.equal(cross.status, 403);
  await cross.body?.cancel();
  const anon = await fetch(app.url + "/api/inbox");
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
});

Deno.test("an auto-archive rule made from a group archives it and new alerts it matches arrive archived; removing it ends that", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  app.writer.queueAlert(alertOf(1, "198.51.100.1"), true);
  await app.writer.flush();
  const [g] = await groups(app, cookie);
  const made = await apiCall(app.url, cookie, "POST", "/api/inbox/rules", {
    group_id: g!.id,
    scope: "src",
    duration: "1w",
    reason: "our pentest box",
  });
  assert.equal(made.status, 201, JSON.stringify(made.data));
  assert.equal(made.data.archived, 1);
  const rule = made.data.rule as { id: string; expires: number };
  assert.ok(rule.expires > Date.now());
  const listed = await apiCall(app.url, cookie, "GET", "/api/inbox/rules");
  assert.deepEqual(
    (listed.data.rules as { id: string; reason: string; src_ip: string }[])
      .map((r) => [r.id, r.reason, r.src_ip]),
    [[rule.id, "our pentest box", "198.51.100.1"]],
  );
  assert.deepEqual(await groups(app, cookie), []);
  // A new alert from that source to another target arrives archived.
  const other = alertOf(2, "198.51.100.1");
  other.dest_ip = "192.168.1.30";
  app.writer.queueAlert(other, true);
  await app.writer.flush();
  assert.deepEqual(await groups(app, cookie), []);
  const archived = await groups(app, cookie, "?view=archived");
  assert.equal(archived.length, 2);
  assert.ok(archived.every((x) => x.archived_by === `rule ${rule.id}`));
  // Removed: the next one lands in the inbox.
  const del = await apiCall(
    app.url,
    cookie,
    "DELETE",
    `/api/inbox/rules/${rule.id}`,
  );
  assert.equal(del.status, 200);
  assert.equal(
    (await apiCall(app.url, cookie, "DELETE", `/api/inbox/rules/${rule.id}`))
      .status,
    404,
  );
  app.writer.queueAlert(alertOf(3, "198.51.100.1"), true);
  await app.writer.flush();
  assert.equal((await groups(app, cookie)).length, 1);
});

Deno.test("a mute of a group's source holds while it lasts and ends when its time passes: the replayed scan is raised again", async () => {
  const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
  try {
    const t0 = (Date.now() - 3_600_000) * 1000;
    // Each capture scans another home host: a new scan, not more of the last.
    const runs = [["a", 0, "192.168.1.20"], ["b", 1000, "192.168.1.21"], [
      "c",
      2000,
      "192.168.1.22",
    ]] as const;
    for (const [name, offS, target] of runs) {
      await writeDashboardCapture(join(caps, `${name}.pcap`), {
        startUs: t0 + offS * 1e6,
        seconds: 3,
        scanAtS: 1,
        scanTarget: target,
      });
    }
    await using app = await startAppliance({ capturesDir: caps });
    const cookie = await signIn(app.url);
    const replay = async (file: string) => {
      const r = await apiCall(app.url, cookie, "POST", "/api/replay/start", {
        file,
        speed: 0,
      });
      assert.equal(r.status, 200, JSON.stringify(r.data));
      await waitFor(
        `replay of ${file} to finish`,
        () => app.replay.status(),
        (s) => s.source === file && s.state === "finished",
      );
    };
    const scanGroups = async () => (await groups(
      app,
      cookie,
      `?view=all&type=port_scan&src=${SCANNER}`,
    ));
    const scanGroup = async () => (await scanGroups())[0];
    await replay("a.pcap");
    const g = await waitFor("the scan's group", scanGroup, (x) => !!x);
    assert.equal(g!.count, 1);

    // Long enough for one replay on a loaded machine (it takes under 1 s).
    const until = Date.now() + 8000;
    const m = await apiCall(app.url, cookie, "POST", "/api/suppressions", {
      group_id: g!.id,
      scope: "src",
      until: new Date(until).toISOString(),
      reason: "scanme is ours",
    });
    assert.equal(m.status, 201, JSON.stringify(m.data));
    const mute = m.data.suppression as { id: string; track: string };
    assert.equal(mute.track, "by_src");
    const listed = await apiCall(app.url, cookie, "GET", "/api/suppressions");
    const view = (listed.data.suppressions as {
      id: string;
      active: boolean;
      note: string;
      created_by: string;
      remaining_s: number;
    }[]).find((s) => s.id === mute.id);
    assert.equal(view?.active, true);
    assert.equal(view?.note, "scanme is ours");
    assert.equal(view?.created_by, "admin");
    assert.ok(view!.remaining_s > 0);

    // While muted the scan of b.pcap is dropped by the aggregator.
    const before = app.app.aggregator.counters.suppressed;
    await replay("b.pcap");
    assert.ok(Date.now() < until, "b.pcap was replayed within the mute");
    assert.ok(app.app.aggregator.counters.suppressed > before);
    assert.equal((await scanGroups()).length, 1);
    // The mute ends by the clock (nothing restarted): polled, not slept.
    await waitFor(
      "the mute to end",
      async () =>
        ((await apiCall(app.url, cookie, "GET", "/api/suppressions")).data
          .suppressions as { id: string; active: boolean }[]).find((s) =>
            s.id === mute.id
          )?.active,
      (active) => active === false,
      20_000,
    );
    const suppressed = app.app.aggregator.counters.suppressed;
    await replay("c.pcap");
    // c's scan is raised (b's tracker, muted then, may report again too).
    await waitFor(
      "the scan raised again",
      scanGroups,
      (x) => x.some((g) => g.dest_ip === "192.168.1.22"),
    );
    assert.equal(app.app.aggregator.counters.suppressed, suppressed);
    // Removing the (ended) mute.
    const del = await apiCall(
      app.url,
      cookie,
      "DELETE",
      `/api/suppressions/${mute.id}`,
    );
    assert.equal(del.status, 200);
    const left = await apiCall(app.url, cookie, "GET", "/api/suppressions");
    assert.deepEqual(left.data.suppressions, []);
  } finally {
    await Deno.remove(caps, { recursive: true });
  }
});

Deno.test("mutes by destination and by pair land in the policy as by_dst and by_pair suppressions; the same target again updates it", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  app.writer.queueAlert(alertOf(1, "198.51.100.1"), true);
  await app.writer.flush();
  const [g] = await groups(app, cookie);
  const pair = await apiCall(app.url, cookie, "POST", "/api/suppressions", {
    group_id: g!.id,
    scope: "pair",
    duration: "1d",
    reason: "backup job",
  });
  assert.equal(pair.status, 201);
  const dst = await apiCall(app.url, cookie, "POST", "/api/suppressions", {
    group_id: g!.id,
    scope: "dst",
    duration: "forever",
  });
  assert.equal(dst.status, 201);
  const again = await apiCall(app.url, cookie, "POST", "/api/suppressions", {
    group_id: g!.id,
    scope: "pair",
    duration: "1h",
    reason: "backup job, shorter",
  });
  assert.equal(again.status, 200);
  assert.equal(again.data.existed, true);
  const doc = (await apiCall(app.url, cookie, "GET", "/api/config")).data;
  const supp = doc.suppressions as Record<string, unknown>[];
  assert.deepEqual(
    supp.map((s) => [s.track, s.ip, s.dest_ip ?? null, s.note]),
    [
      ["by_pair", "198.51.100.1", "192.168.1.20", "backup job, shorter"],
      ["by_dst", "192.168.1.20", null, "Muted from group of SSH brute force"],
    ],
  );
  assert.equal(supp[1]!.expires, undefined);
  const left = Date.parse(String(supp[0]!.expires)) - Date.now();
  assert.ok(left > 0 && left <= 3_600_000, String(left));
});
