import assert from "node:assert/strict";
import { TCP_SYN } from "../decode/mod.ts";
import { parsePolicy } from "../alerts/mod.ts";
import { createDetectors, RULE_DETECTORS, SIGNATURES } from "./mod.ts";
import { run, Traffic } from "./_test_traffic.ts";

Deno.test("createDetectors() builds one detector per enabled type, in a stable order", () => {
  const all = createDetectors(parsePolicy({}), () => {});
  assert.deepEqual(all.map((d) => d.type), RULE_DETECTORS.map(([t]) => t));
  const some = createDetectors(
    parsePolicy({
      detectors: {
        port_scan: { enabled: false },
        new_host: { enabled: false },
      },
    }),
    () => {},
  );
  assert.ok(!some.some((d) => d.type === "port_scan" || d.type === "new_host"));
  assert.equal(some.length, all.length - 2);
});

Deno.test("every signature id is unique and every alert type has one", () => {
  const ids = SIGNATURES.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const [t] of RULE_DETECTORS) {
    assert.ok(SIGNATURES.some((s) => s.type === t), t);
  }
});

Deno.test("every detector's state stays within its cap under a flood of spoofed sources", () => {
  const cap = 64;
  const policy = parsePolicy({
    detectors: {
      port_scan: { max_trackers: cap },
      host_sweep: { max_trackers: cap },
      syn_flood: { max_targets: cap },
      udp_flood: { max_targets: cap },
      icmp_flood: { max_targets: cap },
      brute_force: { max_trackers: cap },
      dns_tunnel: { max_trackers: cap },
      new_host: { max_hosts: cap },
      arp_spoof: { max_bindings: cap },
      nd_spoof: { max_bindings: cap },
      beacon: { max_trackers: cap },
      exfiltration: { max_trackers: cap },
    },
  });
  // Detectors with two tables, each under the cap: per source and per
  // target (distributed scans), bindings and MACs, hosts and pairs.
  const tables: Record<string, number> = {
    port_scan: 2,
    host_sweep: 2,
    arp_spoof: 2,
    nd_spoof: 2,
    exfiltration: 2,
  };
  const t = new Traffic();
  const dns = Uint8Array.from([
    0,
    1,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    3,
    0x61,
    0x62,
    0x63,
    4,
    0x74,
    0x65,
    0x73,
    0x74,
    0,
    0,
    16,
    0,
    1,
  ]);
  for (let i = 0; i < 4000; i++) {
    const s = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const d = `10.200.${(i >> 8) & 255}.${i & 255}`;
    t.tcp(s, 1024 + (i % 60000), d, 80, TCP_SYN);
    t.udp(s, 2000, d, 53, dns);
    t.icmp(s, d, 8);
    t.connection(s, 3000, d, 22, { request: "x", answer: "y" });
    t.connection(s, 3001, `203.0.${(i >> 8) & 255}.${i & 255}`, 443, {
      request: "x",
    });
    const hex = (x: number) => (x & 255).toString(16);
    t.arp(2, `02:00:00:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`, {
      spa: s,
      tpa: d,
    });
  }
  const r = run(t, { policy, batchSize: 1024 });
  for (const d of r.detectors) {
    const max = cap * (tables[d.type] ?? 1);
    assert.ok(d.stateSize() <= max, `${d.type}: ${d.stateSize()}`);
  }
});
