import assert from "node:assert/strict";
import { type Alert, AlertAggregator, parsePolicy } from "../alerts/mod.ts";
import { readCaptureFile } from "../capture/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { loadModel } from "../ml/mod.ts";
import { anomalyDetector } from "./anomaly.ts";
import { createDetectors } from "./mod.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url).pathname;
const { model } = await loadModel();

/** Anomaly alerts of a capture with only the anomaly detector on. */
async function anomalies(
  file: string,
  minFlows: number,
  minShare = 0,
): Promise<Alert[]> {
  const off = { enabled: false };
  const policy = parsePolicy({
    detectors: {
      port_scan: off,
      host_sweep: off,
      syn_flood: off,
      udp_flood: off,
      icmp_flood: off,
      brute_force: off,
      dns_tunnel: off,
      malformed_http: off,
      suspicious_port: off,
      external_inbound: off,
      new_host: off,
      anomaly: { min_flows: minFlows, min_share: minShare },
    },
  });
  const out: Alert[] = [];
  const agg = new AlertAggregator({ policy, onFinal: (a) => out.push(a) });
  const pipeline = new Pipeline({
    observers: [
      ...createDetectors(policy, agg.emit, {
        extra: [anomalyDetector(model)],
        admits: agg.admits,
      }),
      agg.observer(),
    ],
  });
  for await (const b of readCaptureFile(`${FIXTURES}${file}`)) {
    pipeline.processBatch(b);
  }
  pipeline.finish();
  return out;
}

Deno.test("anomaly alerts need min_flows flagged flows from one source, and count them all", async () => {
  const single = await anomalies("benign_lan_holdout.pcap", 1);
  const three = await anomalies("benign_lan_holdout.pcap", 3);
  const flagged = (as: Alert[]) =>
    as.reduce((n, a) => n + a.netsentinel.count, 0);
  // One odd flow no longer makes an alert on normal traffic…
  assert.ok(
    three.length < single.length,
    `${three.length} vs ${single.length} alerts`,
  );
  for (const a of three) {
    assert.ok(a.netsentinel.count >= 3, JSON.stringify(a.netsentinel));
    assert.ok(Number(a.netsentinel.evidence.anomalous_flows) >= 3);
  }
  // …and sources that pass it keep every flagged flow in the count.
  const bySrc = (as: Alert[], src: string) =>
    flagged(as.filter((a) => a.src_ip === src));
  for (const src of new Set(three.map((a) => a.src_ip))) {
    assert.equal(bySrc(three, src), bySrc(single, src), src);
  }
  // A scanner produces far more than the minimum: one alert counting them.
  const scan = await anomalies("scan_syn.pcap", 3);
  const fromAttacker = scan.filter((a) => a.src_ip === "10.99.0.66");
  assert.equal(fromAttacker.length, 1);
  const all = (await anomalies("scan_syn.pcap", 1)).filter((a) =>
    a.src_ip === "10.99.0.66"
  );
  assert.equal(fromAttacker[0]!.netsentinel.count, flagged(all));
  assert.ok(fromAttacker[0]!.netsentinel.count >= 1000);
});

Deno.test("anomaly alerts need min_share of the source's flows flagged: busy normal hosts stay quiet, a scanner does not", async () => {
  let counted = 0;
  for (
    const f of [
      "benign_daily_a.pcap",
      "benign_daily_b.pcap",
      "benign_daily_c.pcap",
    ]
  ) {
    const any = await anomalies(f, 3, 0);
    const half = await anomalies(f, 3, 0.5);
    counted += any.length;
    assert.deepEqual(half.map((a) => `${a.src_ip}>${a.dest_ip}`), [], f);
  }
  assert.ok(counted > 0, "without the share, normal hosts alert");
  const scan = await anomalies("scan_syn.pcap", 3, 0.5);
  const fromAttacker = scan.filter((a) => a.src_ip === "10.99.0.66");
  assert.equal(fromAttacker.length, 1);
  assert.ok(fromAttacker[0]!.netsentinel.count >= 1000);
});
