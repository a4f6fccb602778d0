import assert from "node:assert/strict";
import { makeAlert, tempStore } from "../store/_testing.ts";
import { getDecision, StoreWriter } from "../store/mod.ts";
import { Blocker, isConfirmedSource } from "./blocker.ts";
import { DEFAULT_BLOCK_POLICY, parseBlockPolicy } from "./policy.ts";
import { NO_FACTS } from "./protected.ts";

const noFacts = () => Promise.resolve(NO_FACTS);

Deno.test("a blocker without nft says so with the fix, and refuses instead of throwing", async () => {
  await using ts = await tempStore();
  await using blocker = new Blocker(ts.store, {
    nftCommand: ["/nonexistent/nft"],
    systemFacts: noFacts,
  });
  const st = await blocker.start();
  assert.equal(st.available, false);
  assert.equal(st.mode, "unavailable");
  assert.equal(
    st.reason,
    'Cannot run "/nonexistent/nft": not found (install nftables)',
  );
  const a = makeAlert(1, { src: "192.0.2.1", type: "brute_force" });
  const d = blocker.onAlert(a, true);
  assert.equal(d.outcome === "refused" && d.reason, "blocker_unavailable");
  assert.equal(a.alert.action, "allowed");
  await blocker.idle();
  assert.equal(
    (await getDecision(ts.store, "192.0.2.1"))?.reason,
    "blocker_unavailable",
  );
});

Deno.test("dry-run records what would be blocked and never touches nftables", async () => {
  await using ts = await tempStore();
  await using writer = new StoreWriter(ts.store);
  await using blocker = new Blocker(ts.store, {
    nftCommand: ["/nonexistent/nft"],
    systemFacts: noFacts,
    writer,
    policy: parseBlockPolicy({ dry_run: true }),
  });
  await blocker.start();
  const a = makeAlert(1, { src: "192.0.2.9", type: "port_scan" });
  const d = blocker.onAlert(a, true);
  assert.deepEqual(d, {
    outcome: "would_block",
    target: "192.0.2.9",
    duration: 3600,
    level: 0,
  });
  assert.equal(a.alert.action, "allowed");
  // The same source again within the would-be block: nothing new.
  assert.equal(
    blocker.onAlert(makeAlert(2, { src: "192.0.2.9" }), false).outcome,
    "skipped",
  );
  await writer.flush();
  const rec = await getDecision(ts.store, "192.0.2.9");
  assert.equal(rec?.outcome, "would_block");
  assert.equal(rec?.alert_id, a.netsentinel.id);
  assert.equal(blocker.state().would_block_total, 1);
  assert.equal(blocker.state().mode, "dry_run");
});

Deno.test("policy decides which alerts block: type, severity, enabled", async (t) => {
  await using ts = await tempStore();
  await using blocker = new Blocker(ts.store, {
    nftCommand: ["/nonexistent/nft"],
    systemFacts: noFacts,
  });
  const cases: [string, ReturnType<typeof makeAlert>, string][] = [
    [
      "a type that does not block",
      makeAlert(1, { src: "192.0.2.1", type: "new_host" }),
      "type",
    ],
    [
      "a low severity",
      makeAlert(2, { src: "192.0.2.2", severity: 3 }),
      "severity",
    ],
  ];
  for (const [name, alert, reason] of cases) {
    await t.step(name, () => {
      const d = blocker.onAlert(alert, true);
      assert.equal(d.outcome === "skipped" && d.reason, reason);
    });
  }
  await t.step("blocking disabled", () => {
    blocker.setPolicy(parseBlockPolicy({ enabled: false }));
    const d = blocker.onAlert(makeAlert(3, { src: "192.0.2.3" }), true);
    assert.equal(d.outcome === "skipped" && d.reason, "disabled");
    assert.equal(blocker.state().mode, "disabled");
  });
});

Deno.test("isConfirmedSource() trusts the detector's field, else treats flood types as unconfirmed", () => {
  const p = DEFAULT_BLOCK_POLICY;
  const flood = (ev: Record<string, unknown>) =>
    makeAlert(1, { type: "syn_flood", evidence: ev });
  const scan = (ev: Record<string, unknown>) =>
    makeAlert(1, { type: "port_scan", evidence: ev });
  assert.equal(isConfirmedSource(flood({}), p), false);
  assert.equal(isConfirmedSource(flood({ confirmed_source: true }), p), true);
  assert.equal(isConfirmedSource(scan({}), p), true);
  assert.equal(isConfirmedSource(scan({ confirmed_source: false }), p), false);
  assert.equal(
    isConfirmedSource(scan({ confirmed_source: "yes" }), p),
    true,
    "only booleans count",
  );
});

Deno.test("a signature alert blocks only when blocking.signature_categories lists its category", async () => {
  await using ts = await tempStore();
  await using writer = new StoreWriter(ts.store);
  await using blocker = new Blocker(ts.store, {
    nftCommand: ["/nonexistent/nft"],
    systemFacts: noFacts,
    writer,
    policy: parseBlockPolicy({ dry_run: true }),
  });
  await blocker.start();
  const sig = (n: number, src: string) => {
    const a = makeAlert(n, { src, type: "signature", severity: 1 });
    a.alert.category = "A Network Trojan was detected";
    a.netsentinel.evidence = { classtype: "trojan-activity" };
    return a;
  };
  const none = blocker.onAlert(sig(1, "192.0.2.21"), true);
  assert.equal(none.outcome === "skipped" && none.reason, "category");
  blocker.setPolicy(
    parseBlockPolicy({
      dry_run: true,
      signature_categories: ["trojan-activity"],
    }),
  );
  assert.equal(
    blocker.onAlert(sig(2, "192.0.2.22"), true).outcome,
    "would_block",
  );
  blocker.setPolicy(
    parseBlockPolicy({
      dry_run: true,
      signature_categories: ["A Network Trojan was detected"],
    }),
  );
  assert.equal(
    blocker.onAlert(sig(3, "192.0.2.23"), true).outcome,
    "would_block",
  );
  // Attached to a rule alert whose type does not block (one incident, one
  // alert), the signature still blocks as it would have alone.
  const host = makeAlert(4, {
    src: "192.0.2.24",
    type: "suspicious_port",
    severity: 1,
  });
  host.netsentinel.signatures = [{
    signature_id: 2000001,
    rev: 1,
    signature: "trojan check-in",
    category: "A Network Trojan was detected",
    classtype: "trojan-activity",
    severity: 1,
    count: 1,
    first_seen: host.netsentinel.first_seen,
    last_seen: host.netsentinel.last_seen,
  }];
  assert.equal(blocker.onAlert(host, true).outcome, "would_block");
  blocker.setPolicy(
    parseBlockPolicy({
      dry_run: true,
      signature_categories: ["trojan-activity"],
    }),
  );
  const host2 = { ...structuredClone(host), src_ip: "192.0.2.25" };
  host2.netsentinel.id = makeAlert(5).netsentinel.id;
  assert.equal(blocker.onAlert(host2, true).outcome, "would_block");
  blocker.setPolicy(parseBlockPolicy({ dry_run: true }));
  const host3 = { ...structuredClone(host), src_ip: "192.0.2.26" };
  host3.netsentinel.id = makeAlert(6).netsentinel.id;
  const d3 = blocker.onAlert(host3, true);
  assert.equal(d3.outcome === "skipped" && d3.reason, "type");
  assert.throws(
    () => parseBlockPolicy({ signature_categories: [7] }),
    /blocking\.signature_categories\[0\]/,
  );
});
