import assert from "node:assert/strict";
import { Pipeline } from "../engine/mod.ts";
import {
  benignTraffic,
  dnsTunnel,
  featureRows,
  type Frame,
  synScan,
  T0,
  toBatches,
  udpFlood,
} from "./_test_traffic.ts";
import { FEATURE_COUNT, FEATURE_NAMES } from "./features.ts";
import { trainModel } from "./model.ts";
import {
  acceptNewModel,
  type AnomalyFinding,
  createAnomalyScorer,
  FeatureVectorError,
  FLOW_FIELDS,
  FlowDescriptionError,
  parseDetectBody,
  parseFeatureVector,
  parseFlowDescription,
  scoreRequest,
} from "./scorer.ts";
import { FEATURE_INDEX } from "./features.ts";
import { TCP_STATE_NAMES } from "../flows/mod.ts";

const benign = featureRows(benignTraffic({ seed: 1, seconds: 600 }));
const model = trainModel(benign.rows, { seed: 1 });
const scanFrames = synScan({
  attacker: "10.99.0.66",
  target: "10.99.0.10",
  ports: 300,
  t: T0,
});
const scan = featureRows(scanFrames);

function rowsOf(rows: Float64Array, count: number): Float64Array[] {
  return Array.from(
    { length: count },
    (_, r) => rows.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT),
  );
}

function runScorer(
  frames: Frame[],
): { findings: AnomalyFinding[]; scored: number } {
  const findings: AnomalyFinding[] = [];
  const scorer = createAnomalyScorer(model, (a) => findings.push(a));
  const p = new Pipeline({ observers: [scorer] });
  for (const b of toBatches(frames)) p.processBatch(b);
  p.finish();
  assert.equal(scorer.counters.flagged, findings.length);
  return { findings, scored: scorer.counters.scored };
}

Deno.test("the anomaly scorer reports scan, flood and tunnel flows with reasons", async (t) => {
  const attacks: Array<[string, Frame[], string]> = [
    ["port scan", scanFrames, "10.99.0.66"],
    [
      "UDP flood",
      udpFlood({
        attacker: "10.99.0.67",
        target: "10.99.0.10",
        packets: 500,
        t: T0,
      }),
      "10.99.0.67",
    ],
    [
      "DNS tunnel",
      dnsTunnel({ client: "10.99.0.21", queries: 40, t: T0 }),
      "10.99.0.21",
    ],
  ];
  for (const [name, frames, src] of attacks) {
    await t.step(name, () => {
      const { findings, scored } = runScorer(frames);
      assert.ok(
        findings.length >= 0.9 * scored,
        `${findings.length} of ${scored}`,
      );
      const a = findings[findings.length - 1]!;
      assert.equal(a.src, src);
      assert.equal(a.dest, "10.99.0.10");
      assert.ok(a.score >= a.threshold);
      assert.equal(a.threshold, model.threshold);
      assert.ok(a.reasons.length >= 1);
      assert.ok(
        a.explanation.length > 10 && !/NaN|undefined/.test(a.explanation),
      );
      assert.equal(typeof a.evidence.score, "number");
      assert.equal(Object.keys(a.features).length, FEATURE_COUNT);
      assert.ok(a.tsUs >= T0);
      assert.ok(a.flowId > 0);
      JSON.stringify(a); // JSON-safe
    });
  }
});

Deno.test("the anomaly scorer leaves held-out benign traffic mostly alone", () => {
  const { findings, scored } = runScorer(
    benignTraffic({ seed: 2, seconds: 300 }),
  );
  assert.ok(scored > 300);
  assert.ok(
    findings.length / scored <= 0.03,
    `${findings.length} of ${scored}`,
  );
});

Deno.test("the anomaly scorer fills ports for TCP and UDP flows only", () => {
  const { findings } = runScorer(scanFrames);
  const a = findings[0]!;
  assert.equal(a.proto, "TCP");
  assert.equal(typeof a.srcPort, "number");
  assert.equal(typeof a.destPort, "number");
});

Deno.test("parseFeatureVector() takes an array or an object of features by name", () => {
  const v = scan.rows.slice(0, FEATURE_COUNT);
  const arr = Array.from(v);
  const obj = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, arr[i]]));
  assert.deepEqual(parseFeatureVector(arr), v);
  assert.deepEqual(parseFeatureVector(obj), v);
  assert.deepEqual(parseFeatureVector({ features: arr }), v);
  assert.deepEqual(parseFeatureVector({ features: obj }), v);
});

Deno.test("parseFeatureVector() names the bad field", async (t) => {
  const arr = Array.from(scan.rows.slice(0, FEATURE_COUNT));
  const obj = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, arr[i]]));
  const { src_ports_10s: _, ...missing } = obj;
  const cases: Array<[string, unknown, string]> = [
    ["a string", "hello", "(body)"],
    ["null", null, "(body)"],
    ["a short array", arr.slice(1), "(body)"],
    ["a string in the array", arr.map((x, i) => (i === 3 ? "3" : x)), "[3]"],
    ["NaN in a wrapped array", {
      features: arr.map((x, i) => (i === 5 ? NaN : x)),
    }, "features[5]"],
    ["a missing feature", missing, "src_ports_10s"],
    ["an unknown feature", { ...obj, ports: 4 }, "ports"],
    [
      "a null feature",
      { features: { ...obj, duration: null } },
      "features.duration",
    ],
    ["a field beside features", { features: arr, model: "x" }, "model"],
  ];
  for (const [name, body, field] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseFeatureVector(body), (e: unknown) => {
        assert.ok(e instanceof FeatureVectorError, String(e));
        assert.equal(e.field, field);
        assert.ok(e.message.includes(`"${field}"`), e.message);
        return true;
      });
    });
  }
});

Deno.test("scoreRequest() answers score, verdict and explanation", () => {
  const bad = scoreRequest(
    Array.from(scan.rows.slice(0, FEATURE_COUNT)),
    model,
  );
  assert.equal(bad.verdict, "anomalous");
  assert.ok(bad.score >= bad.threshold);
  assert.ok(bad.explanation.length > 10);
  let normal = null;
  for (let r = 0; r < benign.count && normal === null; r++) {
    const res = scoreRequest(
      Array.from(benign.rows.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT)),
      model,
    );
    if (res.verdict === "normal") normal = res;
  }
  assert.ok(normal);
  assert.ok(normal.score < normal.threshold);
  assert.match(normal.explanation, /^Within normal for this network/);
});

Deno.test("acceptNewModel() takes a fair retrain and refuses a poisoned one", async (t) => {
  const known = rowsOf(scan.rows, scan.count);
  await t.step("the same traffic, another seed: accepted", () => {
    const d = acceptNewModel(
      model,
      trainModel(benign.rows, { seed: 2 }),
      known,
    );
    assert.deepEqual(d.reasons, []);
    assert.equal(d.accept, true);
    assert.equal(d.newRecall, 1);
  });
  await t.step("normal that swallowed the scan: refused", () => {
    // An attacker who scanned through the training period: 20% scans.
    const poison = new Float64Array(benign.rows.length + scan.rows.length);
    poison.set(benign.rows);
    poison.set(scan.rows, benign.rows.length);
    const candidate = trainModel(poison, { seed: 1 });
    const d = acceptNewModel(model, candidate, known);
    assert.equal(d.accept, false);
    assert.ok(d.newRecall < d.oldRecall);
    assert.ok(
      d.reasons.some((r) => r.includes("held-out anomalies")),
      d.reasons.join("; "),
    );
  });
  await t.step("a threshold that moved too far: refused", () => {
    const candidate = trainModel(benign.rows, { seed: 1, contamination: 0.3 });
    const d = acceptNewModel(model, candidate, known, {
      maxThresholdShift: 0.01,
    });
    assert.equal(d.accept, false);
    assert.match(d.reasons.join("; "), /threshold moved from/);
  });
  await t.step("nothing to check against: refused", () => {
    const d = acceptNewModel(model, model, []);
    assert.equal(d.accept, false);
    assert.match(d.reasons[0]!, /no held-out anomalies/);
  });
});

Deno.test("the anomaly scorer tells onScored about every scored flow", () => {
  const seen: number[] = [];
  const findings: AnomalyFinding[] = [];
  const scorer = createAnomalyScorer(model, (a) => findings.push(a), {
    onScored: (_f, vec, score) => {
      assert.equal(vec.length, FEATURE_COUNT);
      seen.push(score);
    },
  });
  const p = new Pipeline({ observers: [scorer] });
  for (const b of toBatches(scanFrames)) p.processBatch(b);
  p.finish();
  assert.equal(seen.length, scorer.counters.scored);
  assert.equal(
    seen.filter((x) => x >= model.threshold).length,
    findings.length,
  );
});

const F = FEATURE_INDEX as Record<string, number>;

Deno.test("parseFlowDescription() maps a flow description onto the feature vector", () => {
  const v = parseFlowDescription({
    proto: "tcp",
    dest_port: 22,
    duration_s: 0.4,
    pkts_toserver: 3,
    pkts_toclient: 0,
    bytes_toserver: 180,
    bytes_toclient: 0,
    syn: 3,
    rst: 0,
  });
  const want: Record<string, number> = {
    proto_class: 0,
    port_class: 1,
    app: 0,
    duration: 0.4,
    pkts_out: 3,
    pkts_in: 0,
    bytes_out: 180,
    bytes_in: 0,
    payload_out: 0,
    payload_in: 0,
    pkt_size_mean: 60,
    pkt_size_sd: 0,
    iat_mean: 200,
    iat_max: 200,
    syn: 3,
    rst: 0,
    fin: 0,
    tcp_state: 1, // syn_sent: nothing came back
    no_reply: 1,
    icmp_type: -1,
    dns_qname_len: 0,
    dns_qname_entropy: 0,
    dns_qtype: 0,
    src_ports_10s: 1,
    src_hosts_10s: 1,
    src_flows_10s: 1,
    src_failed_10s: 1,
  };
  assert.deepEqual(
    Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, v[i]])),
    want,
  );
});

Deno.test("parseFlowDescription() gives every feature of a real flow when every field is given", () => {
  // Every benign flow of the synthetic traffic, described field by field,
  // must come back as the extractor's vector (DNS names aside: a name with
  // the same length and entropy is not recoverable from the vector).
  const ports = [undefined, 80, 8080, 50000];
  let checked = 0;
  for (let r = 0; r < benign.count; r++) {
    const v = benign.rows.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT);
    const get = (n: string) => v[F[n]!]!;
    const proto = ["tcp", "udp", "icmp", "other"][get("proto_class")]!;
    const d: Record<string, unknown> = {
      proto,
      app_proto: ["none", "dns", "http", "tls"][get("app")],
      duration_s: get("duration"),
      pkts_toserver: get("pkts_out"),
      pkts_toclient: get("pkts_in"),
      bytes_toserver: get("bytes_out"),
      bytes_toclient: get("bytes_in"),
      payload_toserver: get("payload_out"),
      payload_toclient: get("payload_in"),
      pkt_size_sd: get("pkt_size_sd"),
      iat_mean_ms: get("iat_mean"),
      iat_max_ms: get("iat_max"),
      src_ports_10s: get("src_ports_10s"),
      src_hosts_10s: get("src_hosts_10s"),
      src_flows_10s: get("src_flows_10s"),
      src_failed_10s: get("src_failed_10s"),
    };
    const port = ports[get("port_class")];
    if (port !== undefined) d.dest_port = port;
    if (proto === "tcp") {
      d.syn = get("syn");
      d.rst = get("rst");
      d.fin = get("fin");
      d.tcp_state = TCP_STATE_NAMES[get("tcp_state")];
    }
    if (proto === "icmp" && get("icmp_type") >= 0) {
      d.icmp_type = get("icmp_type");
    }
    if (get("dns_qtype") > 0) d.dns_qtype = get("dns_qtype");
    const got = parseFlowDescription(d);
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const name = FEATURE_NAMES[i]!;
      if (name === "dns_qname_len" || name === "dns_qname_entropy") continue;
      if (name === "dns_qtype" && get("dns_qtype") === 0) continue;
      const a = got[i]!, b = v[i]!;
      assert.ok(
        Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)),
        `flow ${r}: ${name} ${a} != ${b}`,
      );
    }
    checked++;
  }
  assert.ok(checked > 100, `${checked}`);
});

Deno.test("parseFlowDescription() takes DNS names and types by name", () => {
  const v = parseFlowDescription({
    proto: "UDP",
    dest_port: 53,
    app_proto: "dns",
    dns_query: "abcd.",
    dns_qtype: "txt",
  });
  assert.equal(v[F.dns_qname_len!], 4);
  assert.equal(v[F.dns_qname_entropy!], 2);
  assert.equal(v[F.dns_qtype!], 16);
  assert.equal(parseFlowDescription({ dns_query: "x" })[F.dns_qtype!], 1);
  assert.equal(
    parseFlowDescription({ dns_qtype: "TYPE65399" })[F.dns_qtype!],
    65399,
  );
});

Deno.test("parseFlowDescription() names the bad field", async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ["not an object", [1, 2], "flow"],
    ["an unknown field", { dport: 22 }, "flow.dport"],
    ["a port as text", { dest_port: "22" }, "flow.dest_port"],
    ["a port out of range", { dest_port: 70000 }, "flow.dest_port"],
    ["a port for ICMP", { proto: "icmp", dest_port: 1 }, "flow.dest_port"],
    ["an unknown protocol", { proto: "sctp" }, "flow.proto"],
    ["a negative duration", { duration_s: -1 }, "flow.duration_s"],
    ["a fractional packet count", { pkts_toserver: 1.5 }, "flow.pkts_toserver"],
    ["SYNs for UDP", { proto: "udp", syn: 1 }, "flow.syn"],
    ["an unknown TCP state", { tcp_state: "open" }, "flow.tcp_state"],
    ["an unknown application", { app_proto: "ftp" }, "flow.app_proto"],
    ["an ICMP type for TCP", { icmp_type: 8 }, "flow.icmp_type"],
    ["a DNS name too long", { dns_query: "a".repeat(254) }, "flow.dns_query"],
    ["an unknown DNS type", { dns_qtype: "BOGUS" }, "flow.dns_qtype"],
    ["a null count", { src_flows_10s: null }, "flow.src_flows_10s"],
  ];
  for (const [name, flow, field] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseDetectBody({ flow }), (e: unknown) => {
        assert.ok(e instanceof FlowDescriptionError, String(e));
        assert.ok(e instanceof TypeError);
        assert.equal(e.field, field);
        assert.ok(e.message.includes(`"${field}"`), e.message);
        return true;
      });
    });
  }
  await t.step("a field beside flow", () => {
    assert.throws(
      () => parseDetectBody({ flow: {}, features: [] }),
      (e: unknown) =>
        e instanceof FlowDescriptionError && e.field === "features",
    );
  });
});

Deno.test("every flow description field is documented in ml/README.md", async () => {
  const readme = await Deno.readTextFile(
    new URL("./README.md", import.meta.url),
  );
  for (const f of FLOW_FIELDS) {
    assert.ok(readme.includes(`| \`${f.name}\``), `${f.name} not in the table`);
  }
});

Deno.test("scoreRequest() scores a flow description and returns the vector it scored", () => {
  const res = scoreRequest({
    flow: {
      proto: "tcp",
      dest_port: 22,
      pkts_toserver: 1,
      pkts_toclient: 1,
      rst: 1,
      src_ports_10s: 300,
      src_flows_10s: 300,
      src_failed_10s: 300,
    },
  }, model);
  assert.equal(res.verdict, "anomalous");
  assert.equal(res.features.src_ports_10s, 300);
  assert.equal(res.features.tcp_state, 6);
  assert.equal(Object.keys(res.features).length, FEATURE_COUNT);
});

Deno.test("the anomaly scorer counts flows evicted from a full flow table without scoring them", () => {
  const findings: AnomalyFinding[] = [];
  const scorer = createAnomalyScorer(model, (a) => findings.push(a));
  // A table of 1000 flows: a scan of 300 ports fits, one of 1300 evicts.
  const frames = synScan({
    attacker: "10.99.0.66",
    target: "10.99.0.10",
    ports: 1300,
    t: T0,
  });
  const p = new Pipeline({ flows: { maxFlows: 1000 }, observers: [scorer] });
  for (const b of toBatches(frames)) p.processBatch(b);
  p.finish();
  const c = scorer.counters;
  assert.equal(c.evicted, p.flows.counters.evicted);
  assert.ok(c.evicted > 0);
  assert.equal(c.scored + c.evicted, p.flows.counters.created);
  assert.equal(findings.length, c.flagged);
});

Deno.test("the anomaly scorer explains a flagged flow only when admit() takes it", () => {
  const asked: number[] = [];
  const findings: AnomalyFinding[] = [];
  const scorer = createAnomalyScorer(model, (a) => findings.push(a), {
    admit: (f) => {
      asked.push(f.id);
      return asked.length % 2 === 1;
    },
  });
  const p = new Pipeline({ observers: [scorer] });
  for (const b of toBatches(scanFrames)) p.processBatch(b);
  p.finish();
  const c = scorer.counters;
  assert.ok(c.flagged > 10);
  assert.equal(asked.length, c.flagged);
  assert.equal(c.declined, Math.floor(c.flagged / 2));
  assert.equal(findings.length, c.flagged - c.declined);
  assert.deepEqual(
    findings.map((f) => f.flowId),
    asked.filter((_, i) => i % 2 === 0),
  );
});
