import assert from "node:assert/strict";
import { silentLogger } from "../common/logger.ts";
import { openStore } from "../store/mod.ts";
import { Appliance, learningPeriod } from "./appliance.ts";
import { parseConfig } from "./config.ts";

Deno.test("a first start learns hosts for a while, a restart keeps the same end, a used install does not learn", async () => {
  const dir = await Deno.makeTempDir();
  try {
    {
      using store = await openStore(dir);
      const t0 = Date.now();
      const until = await learningPeriod(store, 0, 600);
      assert.ok(until >= t0 + 600_000 && until <= Date.now() + 600_000);
      // Restarted during the period: the same end, even with hosts known by now.
      assert.equal(await learningPeriod(store, 12, 600), until);
    }
    const other = await Deno.makeTempDir();
    try {
      using store = await openStore(other);
      assert.equal(
        await learningPeriod(store, 5, 600),
        0,
        "hosts known: no learning",
      );
      assert.equal(
        await learningPeriod(store, 0, 600),
        0,
        "decided once, never restarted",
      );
    } finally {
      await Deno.remove(other, { recursive: true });
    }
    const off = await Deno.makeTempDir();
    try {
      using store = await openStore(off);
      assert.equal(await learningPeriod(store, 0, 0), 0, "switched off");
    } finally {
      await Deno.remove(off, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with model.retrain on, a replay feeds the retraining sample and /health shows the model and the sample", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-retrain-app-" });
  let ended!: () => void;
  const replayed = new Promise<void>((r) => (ended = r));
  const app = await Appliance.start({
    dataDir: dir,
    configPath: `${dir}/config.json`,
    config: parseConfig({
      model: { retrain: true, retrain_interval: "1h" },
      dashboard: { listen: "127.0.0.1:0" },
      new_host_learning: 0,
    }),
    rawConfig: {},
    source: {
      kind: "replay",
      path: new URL("../tests/fixtures/scan_syn.pcap", import.meta.url)
        .pathname,
      speed: 0,
      loop: false,
    },
    log: silentLogger,
    initialPassword: "retrain test password 42",
    nftCommand: ["/nonexistent/nft"],
    onReplayEnd: () => ended(),
    passwordIterations: 1000,
  });
  try {
    await replayed;
    // The details of /health need sign-in (anonymous callers see states).
    const { token } = await app.server.dashboard.sessions.createToken(
      "test",
      "test",
    );
    const res = await fetch(`${app.server.url}/health`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await res.json();
    const d = body.parts.detector;
    assert.ok(d.detectors.includes("anomaly"), JSON.stringify(d));
    assert.match(d.model, /data\/model\.json$/);
    assert.equal(d.model_trained_at, null);
    assert.equal(typeof d.model_threshold, "number");
    assert.equal(d.retrain.enabled, true);
    assert.equal(d.retrain.interval_s, 3600);
    assert.equal(d.retrain.capacity, 20_000);
    assert.equal(d.retrain.last, null);
    // Every scan flow was scored and offered; the model flags nearly all.
    assert.ok(d.retrain.counters.offered >= 1000, JSON.stringify(d.retrain));
    assert.ok(d.retrain.counters.flagged >= 900, JSON.stringify(d.retrain));
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defrag.* config reaches the pipeline: a replayed nmap -f scan is reassembled, alerted and counted on /metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-defrag-app-" });
  let ended!: () => void;
  const replayed = new Promise<void>((r) => (ended = r));
  const app = await Appliance.start({
    dataDir: dir,
    configPath: `${dir}/config.json`,
    config: parseConfig({
      dashboard: { listen: "127.0.0.1:0" },
      new_host_learning: 0,
      defrag: { memcap_mb: 2, timeout: "10s", max_datagrams: 64 },
    }),
    rawConfig: {},
    source: {
      kind: "replay",
      path: new URL("../tests/fixtures/scan_frag.pcap", import.meta.url)
        .pathname,
      speed: 0,
      loop: false,
    },
    log: silentLogger,
    initialPassword: "defrag test password 42",
    nftCommand: ["/nonexistent/nft"],
    onReplayEnd: () => ended(),
    passwordIterations: 1000,
  });
  try {
    await replayed;
    const defrag = app.pipeline.defrag!;
    assert.equal(defrag.config.memcapBytes, 2 * 1024 * 1024);
    assert.equal(defrag.config.timeoutUs, 10_000_000);
    assert.equal(defrag.config.maxDatagrams, 64);
    const { token } = await app.server.dashboard.sessions.createToken(
      "test",
      "test",
    );
    const auth = { headers: { authorization: `Bearer ${token}` } };
    const metrics = await (await fetch(`${app.server.url}/metrics`, auth))
      .text();
    for (
      const line of [
        'netsentinel_defrag_total{what="fragments"} 3000',
        'netsentinel_defrag_total{what="reassembled"} 1000',
        'netsentinel_defrag_anomalies_total{anomaly="frag_tiny"} 1000',
        'netsentinel_tunnel_packets_total{type="vxlan"} 0',
      ]
    ) assert.ok(metrics.includes(line + "\n"), line);
    // The scan only the reassembled SYNs show.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await fetch(
        `${app.server.url}/api/alerts?type=port_scan`,
        auth,
      );
      const body = await res.json();
      const scans = body.alerts as { src_ip: string }[];
      if (scans.length > 0) {
        assert.equal(scans[0]!.src_ip, "10.99.0.66");
        break;
      }
      assert.ok(Date.now() < deadline, `no port_scan: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
