import assert from "node:assert/strict";
import { type Alert, type Detection, MAX_UNION } from "./alert.ts";
import { AlertAggregator } from "./aggregator.ts";
import { alertIdTimeUs } from "./alert_id.ts";
import { parsePolicy, type Policy, PolicyHolder } from "./policy.ts";
import { parseAddr } from "../decode/mod.ts";

const T0 = Date.UTC(2026, 0, 1) * 1000;

function det(o: Partial<Detection> & { t?: number } = {}): Detection {
  return {
    type: "port_scan",
    tsUs: T0 + (o.t ?? 0) * 1e6,
    src: "10.99.0.66",
    dest: "10.99.0.10",
    proto: "TCP",
    signature: "TCP SYN (half-open) port scan",
    signatureId: 1000001,
    category: "Detection of a Network Scan",
    severity: 2,
    evidence: { distinct_ports: 15 },
    explanation: "scan",
    ...o,
  };
}

function agg(policy: Policy | PolicyHolder = parsePolicy({})) {
  const finals: Alert[] = [];
  const live: [string, boolean, number][] = [];
  const a = new AlertAggregator({
    policy,
    onFinal: (x) => finals.push(structuredClone(x)),
    onAlert: (x, isNew) =>
      live.push([x.netsentinel.id, isNew, x.netsentinel.count]),
  });
  return { a, finals, live };
}

Deno.test("aggregator: repeats of one (type, source, target) update one alert", () => {
  const { a, finals, live } = agg();
  a.add(det({ t: 0, count: 15 }));
  a.add(
    det({
      t: 5,
      count: 100,
      evidence: { distinct_ports: 115, scan_kind: "syn" },
    }),
  );
  a.add(det({ t: 20, count: 885, evidence: { distinct_ports: 1000 } }));
  a.add(det({ t: 1, dest: "10.99.0.11" }));
  a.finish();
  assert.equal(finals.length, 2);
  const f = finals[0]!;
  assert.equal(f.netsentinel.count, 1000);
  assert.equal(f.netsentinel.first_seen, "2026-01-01T00:00:00.000Z");
  assert.equal(f.netsentinel.last_seen, "2026-01-01T00:00:20.000Z");
  assert.equal(f.timestamp, f.netsentinel.first_seen);
  assert.deepEqual(f.netsentinel.evidence, {
    distinct_ports: 1000,
    scan_kind: "syn",
  });
  assert.equal(finals[1]!.dest_ip, "10.99.0.11");
  // New alerts reach onAlert at once; the update at +5 s waits for the
  // 10 s update interval, the one at +20 s goes out.
  assert.deepEqual(live.map(([, n, c]) => [n, c]), [[true, 15], [false, 1000], [
    true,
    1,
  ]]);
  assert.equal(a.counters.aggregated, 2);
});

Deno.test("aggregator: an updated alert's ports and flow id are those of the detection its explanation comes from", () => {
  const { a, finals } = agg();
  const flow = (t: number, port: number, flowId: number, explanation: string) =>
    det({
      t,
      type: "anomaly",
      destPort: port,
      srcPort: 40000 + port,
      flowId,
      explanation,
    });
  a.add(flow(0, 80, 1, "a big download"));
  a.add(flow(3, 22, 2, "a short ssh session"));
  a.finish();
  const f = finals[0]!;
  assert.equal(f.netsentinel.count, 2);
  assert.equal(f.netsentinel.explanation, "a short ssh session");
  assert.equal(f.dest_port, 22);
  assert.equal(f.src_port, 40022);
  assert.equal(f.flow_id, 2);
});

Deno.test("aggregator: a detection the other way round under a key of both hosts leaves the alert's ports and flow as they were", () => {
  const { a, finals } = agg();
  const conn = (t: number, src: string, dest: string, port: number) =>
    det({
      t,
      type: "suspicious_port",
      src,
      dest,
      destPort: port,
      srcPort: 40000 + t,
      flowId: t + 1,
      key: "10.99.0.10<>10.99.0.66",
      explanation: `${src} to ${dest}:${port}`,
    });
  a.add(conn(0, "10.99.0.66", "10.99.0.10", 4444));
  a.add(conn(1, "10.99.0.66", "10.99.0.10", 6667));
  a.add(conn(2, "10.99.0.10", "10.99.0.66", 4444));
  a.finish();
  assert.equal(finals.length, 1);
  const f = finals[0]!;
  assert.deepEqual(
    [f.src_ip, f.src_port, f.dest_ip, f.dest_port, f.flow_id],
    ["10.99.0.66", 40001, "10.99.0.10", 6667, 2],
  );
  assert.equal(f.netsentinel.count, 3);
  assert.equal(f.netsentinel.explanation, "10.99.0.10 to 10.99.0.66:4444");
});

Deno.test("aggregator: evidence lists a detection names in union accumulate across the alert, bounded; others are replaced", () => {
  const { a, finals } = agg();
  const inbound = (t: number, ports: string[], union?: string[]) =>
    det({
      t,
      type: "external_inbound",
      src: "203.0.113.66",
      evidence: { ports, port: Number(ports[0]!.slice(4)), other: [t] },
      ...(union ? { union } : {}),
    });
  a.add(inbound(0, ["TCP/22"], ["ports"]));
  a.add(inbound(1, ["TCP/3306"], ["ports"]));
  a.add(inbound(2, ["TCP/22"], ["ports"]));
  for (let i = 0; i < 100; i++) {
    a.add(inbound(3, [`TCP/${1000 + i}`], ["ports"]));
  }
  a.add(det({ t: 0, src: "10.99.0.70", evidence: { ports: ["TCP/1"] } }));
  a.add(det({ t: 1, src: "10.99.0.70", evidence: { ports: ["TCP/2"] } }));
  a.finish();
  const byType = new Map(finals.map((f) => [f.netsentinel.type, f]));
  const e = byType.get("external_inbound")!.netsentinel.evidence;
  const ports = e.ports as string[];
  assert.deepEqual(ports.slice(0, 3), ["TCP/22", "TCP/3306", "TCP/1000"]);
  assert.equal(ports.length, MAX_UNION);
  assert.equal(e.port, 1099);
  assert.deepEqual(e.other, [3]);
  // Without union the newest list wins, as before.
  assert.deepEqual(byType.get("port_scan")!.netsentinel.evidence.ports, [
    "TCP/2",
  ]);
});

Deno.test("aggregator: an alert is final after its window without detections", () => {
  const { a, finals } = agg(parsePolicy({ aggregation: { window_s: 60 } }));
  a.add(det({ t: 0 }));
  a.tick(T0 + 59e6);
  assert.equal(finals.length, 0);
  a.tick(T0 + 61e6);
  assert.equal(finals.length, 1);
  a.add(det({ t: 100 }));
  a.finish();
  assert.equal(finals.length, 2);
  assert.notEqual(finals[0]!.netsentinel.id, finals[1]!.netsentinel.id);
});

Deno.test("aggregator: a long attack continues in a new alert after max_open_s", () => {
  const { a, finals } = agg(
    parsePolicy({ aggregation: { max_open_s: 100, window_s: 60 } }),
  );
  for (let t = 0; t <= 250; t += 10) a.add(det({ t }));
  a.finish();
  assert.deepEqual(finals.map((f) => f.netsentinel.count), [10, 10, 6]);
});

Deno.test("aggregator: allow-listed sources and destinations are dropped and counted", () => {
  const { a, finals } = agg(parsePolicy({
    allowlist: { sources: ["10.99.0.64/30"], destinations: ["10.99.0.11"] },
  }));
  a.add(det());
  a.add(det({ src: "10.99.0.20", dest: "10.99.0.11" }));
  a.add(det({ src: "10.99.0.20" }));
  a.finish();
  assert.deepEqual(finals.map((f) => f.src_ip), ["10.99.0.20"]);
  assert.equal(a.counters.allowlisted, 2);
});

Deno.test("aggregator: suppressions match signature or type, address and track, until they expire", async (t) => {
  const cases: [string, unknown, Partial<Detection>, boolean][] = [
    [
      "by signature and source",
      { signature_id: 1000001, ip: "10.99.0.66", track: "by_src" },
      {},
      true,
    ],
    ["other signature", { signature_id: 1000002, ip: "10.99.0.66" }, {}, false],
    [
      "by type and destination",
      { type: "port_scan", ip: "10.99.0.0/28", track: "by_dst" },
      {},
      true,
    ],
    [
      "by_dst does not match the source",
      { type: "port_scan", ip: "10.99.0.66", track: "by_dst" },
      {},
      false,
    ],
    [
      "by_either matches the destination",
      { type: "port_scan", ip: "10.99.0.10" },
      {},
      true,
    ],
    ["other type", { type: "host_sweep", ip: "10.99.0.66" }, {}, false],
    [
      "by pair",
      {
        type: "port_scan",
        ip: "10.99.0.66",
        dest_ip: "10.99.0.10",
        track: "by_pair",
      },
      {},
      true,
    ],
    [
      "by pair, another destination",
      {
        type: "port_scan",
        ip: "10.99.0.66",
        dest_ip: "10.99.0.11",
        track: "by_pair",
      },
      {},
      false,
    ],
    [
      "expired",
      { type: "port_scan", ip: "10.99.0.66", expires: "2025-12-31T00:00:00Z" },
      {},
      false,
    ],
    [
      "not yet expired",
      { type: "port_scan", ip: "10.99.0.66", expires: "2026-02-01T00:00:00Z" },
      {},
      true,
    ],
  ];
  for (const [name, s, d, suppressed] of cases) {
    await t.step(name, () => {
      const { a, finals } = agg(parsePolicy({ suppressions: [s] }));
      a.add(det(d));
      a.finish();
      assert.equal(finals.length, suppressed ? 0 : 1);
      assert.equal(a.counters.suppressed, suppressed ? 1 : 0);
    });
  }
});

Deno.test("aggregator: with a clock, suppression expiries are compared with it, not with packet time", () => {
  const policy = parsePolicy({
    suppressions: [{
      type: "port_scan",
      ip: "10.99.0.66",
      expires: "2026-06-01T00:00:00Z",
    }],
  });
  let clockUs = Date.parse("2026-05-31T23:59:59Z") * 1000;
  const finals: Alert[] = [];
  const a = new AlertAggregator({
    policy,
    onFinal: (f) => finals.push(f),
    clockUs: () => clockUs,
  });
  // Packet time far past the expiry: the clock says the mute holds.
  a.add(det({ t: 2e7 }));
  assert.equal(a.counters.suppressed, 1);
  clockUs = Date.parse("2026-06-01T00:00:01Z") * 1000;
  a.add(det({ t: 2e7 + 1 }));
  a.finish();
  assert.equal(a.counters.suppressed, 1);
  assert.equal(finals.length, 1);
});

Deno.test("aggregator: disabled detectors' detections are dropped (policy read at each detection)", () => {
  const h = new PolicyHolder(parsePolicy({}));
  const { a, finals } = agg(h);
  a.add(det({ t: 0 }));
  h.replace({ detectors: { port_scan: { enabled: false } } });
  a.add(det({ t: 1, dest: "10.99.0.12" }));
  a.finish();
  assert.equal(finals.length, 1);
  assert.equal(a.counters.disabled, 1);
});

Deno.test("aggregator: the rate cap bounds new alerts in packet time and keeps a reserve per type", () => {
  const { a, finals } = agg(
    parsePolicy({ rate_limit: { alerts_per_s: 10, burst: 100 } }),
  );
  // A flood of 5000 distinct new_host-like alerts within 10 s …
  for (let i = 0; i < 5000; i++) {
    a.add(
      det({
        type: "new_host",
        src: `10.1.${i >> 8}.${i & 255}`,
        dest: undefined,
        tsUs: T0 + i * 2000,
      }),
    );
  }
  // … and then a flood alert of another type.
  a.add(det({ type: "syn_flood", tsUs: T0 + 10e6, key: "flood>10.99.0.10" }));
  a.finish();
  const hosts = finals.filter((f) => f.netsentinel.type === "new_host").length;
  // burst 100 + 10/s over 10 s, plus the type's reserve (5 + 1/s).
  assert.ok(hosts >= 200 && hosts <= 220, String(hosts));
  assert.equal(a.counters.rateLimited, 5000 - hosts);
  assert.equal(
    finals.filter((f) => f.netsentinel.type === "syn_flood").length,
    1,
  );
});

Deno.test("aggregator: enrich runs before sinks see an alert", () => {
  const seen: string[] = [];
  const a = new AlertAggregator({
    policy: parsePolicy({}),
    enrich: (x) => {
      x.netsentinel.src_host = "scanner.lab";
    },
    onAlert: (x) => seen.push(x.netsentinel.src_host ?? ""),
    onFinal: (x) => seen.push(x.netsentinel.src_host ?? ""),
  });
  a.add(det());
  a.finish();
  assert.deepEqual(seen, ["scanner.lab", "scanner.lab"]);
});

Deno.test("aggregator: alerts are EVE shaped and their ids sort by time and repeat across runs", () => {
  const run = () => {
    const { a, finals } = agg();
    a.add(det({ t: 3, flowId: 77, srcPort: 4000, destPort: 22 }));
    a.add(det({ t: 1, dest: "10.99.0.99" }));
    a.finish();
    return finals;
  };
  const one = run(), two = run();
  assert.deepEqual(one, two);
  const f = one.find((x) => x.flow_id === 77)!;
  assert.deepEqual(Object.keys(f), [
    "timestamp",
    "flow_id",
    "event_type",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "alert",
    "netsentinel",
  ]);
  assert.deepEqual(f.alert, {
    action: "allowed",
    signature_id: 1000001,
    rev: 1,
    signature: "TCP SYN (half-open) port scan",
    category: "Detection of a Network Scan",
    severity: 2,
  });
  const ids = one.map((x) => x.netsentinel.id);
  assert.ok(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id)));
  assert.deepEqual([...ids].sort(), ids); // finish() goes oldest first
  assert.equal(alertIdTimeUs(ids[0]!), T0 + 1e6);
});

Deno.test("aggregator: admits() turns down only detections add() would drop, counted alike", async (t) => {
  const words = (ip: string) => parseAddr(ip)!.words;
  const run = (policy: Policy, ds: Detection[]) => {
    const plain = agg(policy), checked = agg(policy);
    let declined = 0;
    for (const d of ds) {
      plain.a.add(d);
      const ok = checked.a.admits(
        d.type,
        d.tsUs,
        4,
        words(d.src),
        d.dest === undefined ? null : words(d.dest),
      );
      if (ok) checked.a.add(d);
      else declined++;
    }
    plain.a.finish();
    checked.a.finish();
    assert.deepEqual(checked.a.counters, plain.a.counters);
    assert.deepEqual(checked.finals, plain.finals);
    return declined;
  };
  const flows = (n: number) => {
    const ds: Detection[] = [];
    for (let i = 1; i <= n; i++) {
      ds.push(det({ type: "anomaly", src: `10.0.0.${i}` }));
    }
    return ds;
  };
  await t.step("rate-limited new alerts", () => {
    // (No hold for a rule to name the source: with one, tokens are taken
    // when held detections are released, and admits() cannot know.)
    const policy = parsePolicy({
      rate_limit: { alerts_per_s: 1, burst: 1 },
      detectors: { anomaly: { corroborate_s: 0 } },
    });
    // One token in the global bucket, one in the type's reserve; the repeat
    // of the first source folds into its open alert.
    const ds = [...flows(6), det({ type: "anomaly", src: "10.0.0.1" })];
    assert.equal(run(policy, ds), 4);
  });
  await t.step("a disabled detector", () => {
    const policy = parsePolicy({ detectors: { anomaly: { enabled: false } } });
    assert.equal(run(policy, flows(3)), 3);
  });
  await t.step("allow-listed sources are left to add()", () => {
    const policy = parsePolicy({
      rate_limit: { alerts_per_s: 1, burst: 1 },
      allowlist: { sources: ["10.0.0.0/29"] },
      detectors: { anomaly: { corroborate_s: 0 } },
    });
    assert.equal(run(policy, flows(10)), 1);
  });
});

// One incident, one alert (step 4a).

function anomaly(o: Partial<Detection> & { t?: number } = {}): Detection {
  return det({
    type: "anomaly",
    signature: "Anomalous traffic (Isolation Forest)",
    signatureId: 1000901,
    category: "Unusual Traffic",
    severity: 3,
    evidence: { score: 0.75, threshold: 0.6966, anomalous_flows: 3 },
    explanation: "10 failed connections in 10 s (normal 0)",
    count: 3,
    ...o,
  });
}

Deno.test("aggregator: an anomaly about a source a later rule alert names is attached to that alert, not raised", () => {
  const { a, finals, live } = agg();
  a.add(anomaly({ t: 0, flowId: 7 }));
  a.add(
    anomaly({
      t: 1,
      count: 1,
      evidence: { score: 0.81, threshold: 0.6966 },
      explanation: "worst",
    }),
  );
  a.tick(T0 + 30e6);
  assert.equal(live.length, 0, "held while no rule has spoken");
  a.add(det({ t: 64, type: "brute_force", signatureId: 1000601 }));
  a.finish();
  assert.deepEqual(finals.map((f) => f.netsentinel.type), ["brute_force"]);
  assert.deepEqual(finals[0]!.netsentinel.anomaly, {
    flows: 4,
    score: 0.81,
    threshold: 0.6966,
    explanation: "worst",
    flow_id: 7,
    first_seen: "2026-01-01T00:00:00.000Z",
    last_seen: "2026-01-01T00:00:01.000Z",
  });
  assert.equal(a.counters.corroborated, 2);
  assert.equal(a.counters.alerts, 1);
});

Deno.test("aggregator: an anomaly about an address a rule alert already named (as target, listed source or decoy) is attached", () => {
  const { a, finals } = agg();
  a.add(
    det({ t: 0, type: "dns_tunnel", src: "10.99.0.66", dest: "10.99.0.10" }),
  );
  a.add(det({
    t: 0,
    src: "10.99.0.71",
    dest: "10.99.0.12",
    evidence: {
      sources: ["10.99.0.71", "10.99.0.72"],
      decoys: ["10.99.0.201"],
    },
  }));
  a.add(anomaly({ t: 5, src: "10.99.0.10", dest: "198.51.100.53" }));
  a.add(anomaly({ t: 6, src: "10.99.0.72" }));
  a.add(anomaly({ t: 7, src: "10.99.0.201" }));
  a.finish();
  assert.deepEqual(
    finals.map((f) => [f.netsentinel.type, f.netsentinel.anomaly?.flows]),
    [["dns_tunnel", 3], ["port_scan", 6]],
  );
});

Deno.test("aggregator: an anomaly no rule names within corroborate_s is raised alone once the hold is over", () => {
  const { a, finals, live } = agg(
    parsePolicy({ detectors: { anomaly: { corroborate_s: 120 } } }),
  );
  a.add(anomaly({ t: 0 }));
  a.add(det({ t: 10, src: "10.99.0.5" })); // names someone else
  a.tick(T0 + 119e6);
  assert.equal(live.filter(([, n]) => n).length, 1);
  a.tick(T0 + 121e6);
  assert.equal(live.filter(([, n]) => n).length, 2);
  // A rule naming the source after the hold no longer takes it.
  a.add(det({ t: 125, type: "brute_force" }));
  a.finish();
  const an = finals.find((f) => f.netsentinel.type === "anomaly")!;
  assert.equal(an.netsentinel.count, 3);
  assert.equal(an.timestamp, "2026-01-01T00:00:00.000Z");
  assert.equal(
    finals.find((f) => f.netsentinel.type === "brute_force")!.netsentinel
      .anomaly,
    undefined,
  );
});

Deno.test("aggregator: a rule alert stops explaining corroborate_s after its last detection", () => {
  const { a, finals } = agg(
    parsePolicy({ detectors: { anomaly: { corroborate_s: 60 } } }),
  );
  a.add(det({ t: 0 }));
  a.add(anomaly({ t: 59 }));
  a.add(anomaly({ t: 200, dest: "10.99.0.11" }));
  a.finish();
  assert.deepEqual(
    finals.map((f) => [f.netsentinel.type, f.netsentinel.anomaly?.flows]),
    [["port_scan", 3], ["anomaly", undefined]],
  );
});

Deno.test("aggregator: new_host explains nothing; with corroborate_s 0 an anomaly is raised at once", () => {
  const { a, finals, live } = agg(
    parsePolicy({ detectors: { anomaly: { corroborate_s: 0 } } }),
  );
  a.add(det({ t: 0, type: "new_host", dest: undefined }));
  a.add(anomaly({ t: 1 }));
  assert.equal(live.length, 2);
  a.finish();
  assert.deepEqual(finals.map((f) => f.netsentinel.type).sort(), [
    "anomaly",
    "new_host",
  ]);
});

Deno.test("aggregator: anomalies held are bounded; a flood of them from many sources releases the oldest first", () => {
  const { a, finals } = agg(
    parsePolicy({ rate_limit: { alerts_per_s: 1e6, burst: 1e6 } }),
  );
  for (let i = 0; i < 5000; i++) {
    a.add(
      anomaly({ t: 0, src: `10.${i >> 16 & 255}.${i >> 8 & 255}.${i & 255}` }),
    );
  }
  // 4,096 held at most: the first 904 were raised to make room.
  assert.equal(a.openCount, 904);
  a.add(det({ t: 1, src: "10.0.19.135" })); // source 4999, still held
  a.finish();
  assert.equal(a.counters.corroborated, 1);
  assert.equal(
    finals.filter((f) => f.netsentinel.type === "anomaly").length,
    4999,
  );
});

Deno.test("aggregator: an evidence-only anomaly is attached to a rule alert naming its source, and otherwise dropped, never raised", () => {
  const { a, finals } = agg();
  a.add(anomaly({ t: 0, src: "10.99.0.5", evidenceOnly: true, count: 1 }));
  a.add(anomaly({ t: 1, evidenceOnly: true, count: 1 }));
  a.add(det({ t: 2 }));
  a.tick(T0 + 200e6);
  a.finish();
  assert.deepEqual(
    finals.map((f) => [f.netsentinel.type, f.netsentinel.anomaly?.flows]),
    [["port_scan", 1]],
  );
  assert.equal(a.counters.corroborated, 1);
  assert.equal(a.counters.uncorroborated, 1);
  const none = agg(
    parsePolicy({ detectors: { anomaly: { corroborate_s: 0 } } }),
  );
  none.a.add(anomaly({ t: 0, evidenceOnly: true }));
  none.a.finish();
  assert.deepEqual(none.finals, []);
  assert.equal(none.a.counters.uncorroborated, 1);
});

function sig(
  sid: number,
  o: Partial<Detection> & { t?: number } = {},
): Detection {
  return det({
    type: "signature",
    signature: `rule ${sid}`,
    signatureId: sid,
    gid: 1,
    rev: 1,
    category: "Attempted User Privilege Gain",
    severity: 1,
    evidence: { classtype: "attempted-user", rule_action: "alert" },
    explanation: `Rule 1:${sid}:1 matched`,
    key: `1:${sid}:${o.src ?? "10.99.0.66"}>${o.dest ?? "10.99.0.10"}`,
    ...o,
  });
}

function brute(t: number, o: Partial<Detection> = {}): Detection {
  return det({
    t,
    type: "brute_force",
    signature: "HTTP authentication brute force (401 answers)",
    signatureId: 1000306,
    destPort: 80,
    ...o,
  });
}

Deno.test("aggregator: signatures between the addresses a brute force names, before or after it, are attached to its alert, not raised", () => {
  const { a, finals, live } = agg();
  // hydra: the User-Agent and Basic credentials match at the first request,
  // the brute force is named at the tenth 401.
  a.add(sig(1900004, { t: 0 }));
  a.add(sig(1900201, { t: 0 }));
  a.add(sig(1900004, { t: 0.5 }));
  assert.equal(live.length, 0, "held, not raised");
  a.add(brute(0.8));
  a.add(sig(1900004, { t: 1, count: 2 }));
  a.add(brute(1.5));
  a.tick(T0 + 60e6);
  a.finish();
  assert.equal(finals.length, 1);
  const f = finals[0]!;
  assert.equal(f.netsentinel.type, "brute_force");
  assert.deepEqual(
    f.netsentinel.signatures?.map((s) => [s.signature_id, s.count]),
    [[1900004, 4], [1900201, 1]],
  );
  const s = f.netsentinel.signatures![0]!;
  assert.equal(s.classtype, "attempted-user");
  assert.equal(s.first_seen, "2026-01-01T00:00:00.000Z");
  assert.equal(s.last_seen, "2026-01-01T00:00:01.000Z");
  assert.equal(a.counters.signaturesAttached, 4, "detections attached");
  assert.ok(live.every(([id]) => id === f.netsentinel.id));
});

Deno.test("aggregator: a signature no rule alert explains is raised with its own times once corroborate_s is over; other pairs and 0 are not held", () => {
  const { a, finals, live } = agg(
    parsePolicy({ detectors: { signature: { corroborate_s: 10 } } }),
  );
  a.add(sig(1900301, { t: 0 }));
  a.add(brute(1, { src: "10.99.0.67" })); // another source: explains nothing
  a.tick(T0 + 9e6);
  assert.deepEqual(live.filter(([, isNew]) => isNew).length, 1);
  a.tick(T0 + 10e6);
  const raised = live.filter(([, isNew]) => isNew);
  assert.equal(raised.length, 2);
  a.add(sig(1900301, { t: 11 }));
  a.finish();
  const s = finals.find((f) => f.netsentinel.type === "signature")!;
  assert.equal(s.timestamp, "2026-01-01T00:00:00.000Z");
  assert.equal(s.netsentinel.count, 2, "later matches fold into its alert");
  assert.equal(
    finals.find((f) => f.netsentinel.type === "brute_force")!.netsentinel
      .signatures,
    undefined,
  );

  const now = agg(
    parsePolicy({ detectors: { signature: { corroborate_s: 0 } } }),
  );
  now.a.add(sig(1900301, { t: 0 }));
  assert.equal(now.live.length, 1, "raised at once");
  now.a.add(brute(1));
  now.a.add(sig(1900302, { t: 1 }));
  now.a.finish();
  assert.deepEqual(
    now.finals.map((f) => [
      f.netsentinel.type,
      f.netsentinel.signatures?.length,
    ]),
    [["signature", undefined], ["brute_force", 1]],
  );
});

Deno.test("aggregator: a signature about another service of the same two hosts is another incident; a port scan's alert covers every port", () => {
  const { a, finals } = agg();
  a.add(brute(0, { destPort: 22 }));
  a.add(sig(2024364, { t: 1, destPort: 80 })); // an NSE request to the web server
  a.add(det({ t: 2, src: "10.99.0.67" })); // a port scan: no port
  a.add(sig(2024364, { t: 3, src: "10.99.0.67", destPort: 80 }));
  a.add(sig(1900004, { t: 3, destPort: 22, key: "other" })); // same service
  a.finish();
  assert.deepEqual(
    finals.map((f) => [
      f.netsentinel.type,
      f.src_ip,
      f.netsentinel.signatures?.map((s) => s.signature_id),
    ]),
    [
      ["brute_force", "10.99.0.66", [1900004]],
      ["signature", "10.99.0.66", undefined],
      ["port_scan", "10.99.0.67", [2024364]],
    ],
  );
});

Deno.test("aggregator: a signature alert explains anomalies about its addresses, but other rules' signatures stay alerts of their own", () => {
  const { a, finals } = agg(
    parsePolicy({ detectors: { signature: { corroborate_s: 0 } } }),
  );
  a.add(sig(1900301, { t: 0 }));
  a.add(sig(1900302, { t: 1 }));
  a.add(anomaly({ t: 2 }));
  a.finish();
  assert.deepEqual(
    finals.map((f) => [
      f.netsentinel.type,
      f.alert.signature_id,
      f.netsentinel.signatures?.length,
      f.netsentinel.anomaly?.flows,
    ]),
    [
      ["signature", 1900301, undefined, undefined],
      // The newest alert naming the address carries it.
      ["signature", 1900302, undefined, 3],
    ],
  );
});
