import assert from "node:assert/strict";
import { ConfigError } from "../common/errors.ts";
import { configErrorField } from "../common/_testing.ts";
import {
  defaultPolicy,
  inHomeNet,
  parsePolicy,
  PolicyHolder,
} from "./policy.ts";
import { parseAddr } from "../decode/mod.ts";

Deno.test("policy: the shipped defaults parse and enable every detector", () => {
  const p = defaultPolicy();
  assert.equal(p.detectors.port_scan.ports, 15);
  assert.equal(p.detectors.port_scan.window_s, 300);
  assert.equal(p.detectors.new_host.severity, 4);
  assert.equal(p.detectors.brute_force.services.get(22), "ssh");
  assert.ok(p.suspicious_ports.some((s) => s.from === 6660 && s.to === 6669));
  for (const d of Object.values(p.detectors)) assert.equal(d.enabled, true);
});

Deno.test("policy: fields left out keep their defaults; arrays replace", () => {
  const p = parsePolicy({
    home_net: ["10.99.0.0/24"],
    detectors: { port_scan: { ports: 20 }, new_host: { enabled: false } },
  });
  assert.equal(p.detectors.port_scan.ports, 20);
  assert.equal(p.detectors.port_scan.window_s, 300);
  assert.equal(p.detectors.new_host.enabled, false);
  assert.equal(p.home_net.length, 1);
  const a = parseAddr("10.99.0.7")!;
  assert.ok(inHomeNet(p, 4, a.words));
  assert.ok(!inHomeNet(p, 4, parseAddr("10.98.0.7")!.words));
  assert.ok(inHomeNet(defaultPolicy(), 6, parseAddr("fd00::1")!.words));
});

Deno.test("policy: invalid documents are rejected naming the field", async (t) => {
  const cases: [string, unknown, string][] = [
    ["not an object", [], "policy"],
    ["unknown top-level field", { homenet: [] }, "homenet"],
    ["bad version", { version: 2 }, "version"],
    ["bad CIDR", { home_net: ["10.0.0.0/33"] }, "home_net[0]"],
    [
      "unknown detector",
      { detectors: { port_scanner: {} } },
      "detectors.port_scanner",
    ],
    [
      "unknown detector field",
      { detectors: { port_scan: { port: 3 } } },
      "detectors.port_scan.port",
    ],
    [
      "threshold out of range",
      { detectors: { port_scan: { ports: 1 } } },
      "detectors.port_scan.ports",
    ],
    [
      "non-integer threshold",
      { detectors: { host_sweep: { hosts: 2.5 } } },
      "detectors.host_sweep.hosts",
    ],
    [
      "bad severity",
      { detectors: { dns_tunnel: { severity: 0 } } },
      "detectors.dns_tunnel.severity",
    ],
    [
      "enabled not boolean",
      { detectors: { syn_flood: { enabled: "yes" } } },
      "detectors.syn_flood.enabled",
    ],
    ["bad service name", {
      detectors: { brute_force: { services: { "22": "sshd" } } },
    }, "detectors.brute_force.services.22"],
    ["bad service port", {
      detectors: { brute_force: { services: { ssh: "ssh" } } },
    }, "detectors.brute_force.services.ssh"],
    [
      "suspicious port without reason",
      { suspicious_ports: [{ port: 1 }] },
      "suspicious_ports[0].reason",
    ],
    [
      "bad port range",
      { suspicious_ports: [{ port: "9-1", reason: "x" }] },
      "suspicious_ports[0].port",
    ],
    [
      "bad proto",
      { exposed: [{ port: 80, proto: "sctp" }] },
      "exposed[0].proto",
    ],
    [
      "bad exposed host",
      { exposed: [{ port: 80, hosts: ["nas"] }] },
      "exposed[0].hosts[0]",
    ],
    [
      "allowlist not array",
      { allowlist: { sources: "10.0.0.1" } },
      "allowlist.sources",
    ],
    [
      "suppression without target",
      { suppressions: [{ ip: "10.0.0.1" }] },
      "suppressions[0]",
    ],
    ["suppression bad type", {
      suppressions: [{ type: "scan", ip: "10.0.0.1" }],
    }, "suppressions[0].type"],
    ["suppression bad expiry", {
      suppressions: [{ type: "port_scan", ip: "10.0.0.1", expires: "soon" }],
    }, "suppressions[0].expires"],
    ["suppression by pair without a destination", {
      suppressions: [{ type: "port_scan", ip: "10.0.0.1", track: "by_pair" }],
    }, "suppressions[0].dest_ip"],
    ["suppression destination without by_pair", {
      suppressions: [{
        type: "port_scan",
        ip: "10.0.0.1",
        dest_ip: "10.0.0.2",
      }],
    }, "suppressions[0].dest_ip"],
    ["suppression bad track", {
      suppressions: [{ type: "port_scan", ip: "10.0.0.1", track: "src" }],
    }, "suppressions[0].track"],
    [
      "rate not a number",
      { rate_limit: { alerts_per_s: "10" } },
      "rate_limit.alerts_per_s",
    ],
    [
      "aggregation window zero",
      { aggregation: { window_s: 0 } },
      "aggregation.window_s",
    ],
    [
      "suppression without an address",
      { suppressions: [{ type: "port_scan" }] },
      "suppressions[0].ip",
    ],
    [
      "too many login paths",
      {
        detectors: {
          brute_force: { http_login_paths: Array(257).fill("/login") },
        },
      },
      "detectors.brute_force.http_login_paths",
    ],
    [
      "malformed_http port out of range",
      { detectors: { malformed_http: { ports: [80, 0] } } },
      "detectors.malformed_http.ports[1]",
    ],
    [
      "burst not an integer",
      { rate_limit: { burst: 1.5 } },
      "rate_limit.burst",
    ],
    [
      "allowed DNS domain that is a URL",
      {
        detectors: {
          dns_tunnel: { allow_domains: ["example.com", "https://x.test/"] },
        },
      },
      "detectors.dns_tunnel.allow_domains[1]",
    ],
    [
      "allowed DNS domain with an empty label",
      { detectors: { dns_tunnel: { allow_domains: ["a..example.com"] } } },
      "detectors.dns_tunnel.allow_domains[0]",
    ],
    [
      "protected address that is no address",
      { detectors: { arp_spoof: { protected: ["10.0.0.1", "gateway"] } } },
      "detectors.arp_spoof.protected[1]",
    ],
    [
      "flood rate of zero",
      { detectors: { nd_spoof: { flood_pps: 0 } } },
      "detectors.nd_spoof.flood_pps",
    ],
    [
      "rogue DHCP server list that is a string",
      { detectors: { rogue_dhcp: { servers: "10.0.0.1" } } },
      "detectors.rogue_dhcp.servers",
    ],
    [
      "beacon score above 1",
      { detectors: { beacon: { threshold: 1.5 } } },
      "detectors.beacon.threshold",
    ],
    [
      "beacon series too short to score",
      { detectors: { beacon: { min_connections: 3 } } },
      "detectors.beacon.min_connections",
    ],
    [
      "exfiltration below a kilobyte",
      { detectors: { exfiltration: { min_bytes: 10 } } },
      "detectors.exfiltration.min_bytes",
    ],
    [
      "distributed scan with one source",
      { detectors: { port_scan: { sources: 1 } } },
      "detectors.port_scan.sources",
    ],
  ];
  for (const [name, input, field] of cases) {
    await t.step(
      `${name} → ${field}`,
      () => assert.equal(configErrorField(() => parsePolicy(input)), field),
    );
  }
});

Deno.test("policy: the holder keeps the old policy when a new one is invalid", () => {
  const h = new PolicyHolder();
  const seen: number[] = [];
  h.onChange((p) => seen.push(p.detectors.port_scan.ports));
  h.replace({ detectors: { port_scan: { ports: 30 } } });
  assert.equal(h.current.detectors.port_scan.ports, 30);
  assert.throws(
    () => h.replace({ detectors: { port_scan: { ports: -1 } } }),
    ConfigError,
  );
  assert.equal(h.current.detectors.port_scan.ports, 30);
  assert.deepEqual(seen, [30]);
});

Deno.test("policy: allowed DNS domains are read as queries name them", () => {
  const p = parsePolicy({
    detectors: {
      dns_tunnel: {
        allow_domains: [" *.AV.Vendor.Example. ", ".cdn.test", "x_y.test"],
      },
    },
  });
  assert.deepEqual(p.detectors.dns_tunnel.allow_domains, [
    "av.vendor.example",
    "cdn.test",
    "x_y.test",
  ]);
  // The shipped list: reputation services that speak DNS.
  assert.ok(
    defaultPolicy().detectors.dns_tunnel.allow_domains.includes("sophosxl.net"),
  );
});
