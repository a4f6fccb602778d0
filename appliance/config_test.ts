import assert from "node:assert/strict";
import { ConfigError } from "../common/errors.ts";
import { loadConfig, parseConfig, saveConfig } from "./config.ts";

Deno.test("parseConfig gives the documented defaults for an empty document", () => {
  const c = parseConfig({});
  assert.equal(c.capture.interface, null);
  assert.equal(c.capture.snaplen, 262144);
  assert.deepEqual(c.dashboard.listen, { hostname: "0.0.0.0", port: 8080 });
  assert.equal(c.storage.alert_days, 30);
  assert.equal(c.storage.commit_interval_ms, 1000);
  assert.equal(c.eve.path, "eve.json");
  assert.equal(c.limits.max_flows, 200_000);
  assert.deepEqual(c.stream, {
    depth: 1 << 20,
    memcap: 32 << 20,
    parser_memcap: 32 << 20,
  });
  assert.equal(c.log_level, "info");
  assert.deepEqual(c.pcaps, { max_mb: 256 });
  assert.equal(c.blocking.enabled, true);
  assert.ok(c.policy.detectors.port_scan.enabled);
  assert.deepEqual(c.defrag, {
    enabled: true,
    memcap_mb: 16,
    timeout_s: 30,
    max_fragments: 256,
    max_datagrams: 4096,
  });
});

Deno.test("parseConfig names the field of every invalid value", async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ capture: { snaplen: 10 } }, "capture.snaplen"],
    [{ capture: { interface: "eth0; rm -rf /" } }, "capture.interface"],
    [{ capture: { promisc: "yes" } }, "capture.promisc"],
    [{ dashboard: { listen: "8080" } }, "dashboard.listen"],
    [{ dashboard: { listen: "0.0.0.0:99999" } }, "dashboard.listen"],
    [{ dashboard: { cert: "/x.pem" } }, "dashboard.key"],
    [{ storage: { alert_days: 0 } }, "storage.alert_days"],
    [{ eve: { files: "3" } }, "eve.files"],
    [{ model: { retrain_interval: "soon" } }, "model.retrain_interval"],
    [{ limits: { max_flows: 5 } }, "limits.max_flows"],
    [{ defrag: { memcap_mb: 0 } }, "defrag.memcap_mb"],
    [{ pcaps: { max_mb: 0 } }, "pcaps.max_mb"],
    [{ pcaps: { max_mb: "big" } }, "pcaps.max_mb"],
    [{ pcaps: { max_gb: 1 } }, "pcaps.max_gb"],
    [{ defrag: { timeout: "1h" } }, "defrag.timeout"],
    [{ defrag: { enabled: "no" } }, "defrag.enabled"],
    [{ defrag: { max_fragmnets: 3 } }, "defrag.max_fragmnets"],
    [{ stream: { depth: -1 } }, "stream.depth"],
    [{ stream: { depth: "1 parsec" } }, "stream.depth"],
    [{ stream: { memcap: "1kb" } }, "stream.memcap"],
    [{ stream: { memcap: 1.5 } }, "stream.memcap"],
    [{ stream: { window: 1 } }, "stream.window"],
    [{ stream: { parser_memcap: "1kb" } }, "stream.parser_memcap"],
    [{ stream: { parser_memcap: "2gb" } }, "stream.parser_memcap"],
    [{ log_level: "loud" }, "log_level"],
    [{ captur: {} }, "captur"],
    [{ capture: { snaplne: 100 } }, "capture.snaplne"],
    [{ blocking: { durations: ["1h", "forever"] } }, "blocking.durations[1]"],
    [{ rdns: { timeout_ms: -1 } }, "rdns.timeout_ms"],
    [[], ""],
  ];
  for (const [doc, field] of cases) {
    await t.step(field || "(top level)", () => {
      assert.throws(() => parseConfig(doc), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.ok(
          e.field.startsWith(field),
          `field "${e.field}" should be "${field}": ${e.message}`,
        );
        assert.match(e.message, /^Invalid config "/);
        return true;
      });
    });
  }
});

Deno.test("parseConfig reads stream sizes as bytes or with Suricata's units", () => {
  assert.deepEqual(
    parseConfig({
      stream: { depth: "512kb", memcap: "64mb", parser_memcap: "8mb" },
    }).stream,
    { depth: 512 * 1024, memcap: 64 << 20, parser_memcap: 8 << 20 },
  );
  assert.deepEqual(
    parseConfig({ stream: { depth: 0, memcap: 2_000_000 } }).stream,
    { depth: 0, memcap: 2_000_000, parser_memcap: 32 << 20 },
  );
  assert.equal(
    parseConfig({ stream: { depth: "2 MiB" } }).stream.depth,
    2 << 20,
  );
});

Deno.test("parseConfig takes valid overrides", () => {
  const c = parseConfig({
    capture: { interface: "br-lab", filter: "not port 22", promisc: false },
    dashboard: { listen: "[::1]:9443", cert: "/c.pem", key: "/k.pem" },
    model: { retrain: true, retrain_interval: "12h" },
    log_level: "debug",
    policy: { home_net: ["10.99.0.0/24"] },
    defrag: { memcap_mb: 4, timeout: "1m", max_datagrams: 100 },
    pcaps: { max_mb: 32 },
  });
  assert.equal(c.pcaps.max_mb, 32);
  assert.equal(c.defrag.memcap_mb, 4);
  assert.equal(c.defrag.timeout_s, 60);
  assert.equal(c.defrag.max_datagrams, 100);
  assert.equal(c.capture.interface, "br-lab");
  assert.equal(c.capture.promisc, false);
  assert.deepEqual(c.dashboard.listen, { hostname: "::1", port: 9443 });
  assert.equal(c.model.retrain_interval_s, 43200);
  assert.equal(c.policy.home_net.length, 1);
});

Deno.test("loadConfig starts from defaults without a file and names the file when it is broken", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await loadConfig(`${dir}/config.json`);
    assert.equal(missing.found, false);
    assert.equal(missing.config.capture.snaplen, 262144);
    await Deno.writeTextFile(`${dir}/bad.json`, "{ not json");
    await assert.rejects(loadConfig(`${dir}/bad.json`), /bad\.json": not JSON/);
    await Deno.writeTextFile(
      `${dir}/invalid.json`,
      '{"limits":{"max_hosts":1}}',
    );
    await assert.rejects(
      loadConfig(`${dir}/invalid.json`),
      /invalid\.json: Invalid config "limits\.max_hosts"/,
    );
    await saveConfig(`${dir}/saved.json`, { log_level: "warn" });
    const saved = await loadConfig(`${dir}/saved.json`);
    assert.equal(saved.found, true);
    assert.equal(saved.config.log_level, "warn");
    // It holds notification secrets: readable by the owner only, also
    // when the file was more open before.
    await Deno.chmod(`${dir}/saved.json`, 0o644);
    await saveConfig(`${dir}/saved.json`, { log_level: "info" });
    assert.equal((await Deno.stat(`${dir}/saved.json`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
