import assert from "node:assert/strict";
import { ConfigError } from "../common/errors.ts";
import { parseEnrichConfig, parseNameServer } from "./enrich_config.ts";

Deno.test("parseEnrichConfig() turns the config sections into options", () => {
  assert.deepEqual(parseEnrichConfig(undefined), {});
  assert.deepEqual(parseEnrichConfig({}), {});
  assert.deepEqual(
    parseEnrichConfig({
      geoip: {
        databases: ["/data/City.mmdb", "/data/ASN.mmdb"],
        shipped: true,
        cache_size: 500,
      },
      rdns: {
        enabled: true,
        server: "192.168.1.1:5353",
        timeout_ms: 1500,
        ttl_s: 7200,
        negative_ttl_s: 300,
        failure_ttl_s: 30,
        cache_size: 100,
        max_in_flight: 4,
        max_queued: 10,
        lookup_private: false,
      },
    }),
    {
      geo: {
        extra: ["/data/City.mmdb", "/data/ASN.mmdb"],
        shipped: true,
        cacheSize: 500,
      },
      rdns: {
        enabled: true,
        nameServer: { ipAddr: "192.168.1.1", port: 5353 },
        timeoutMs: 1500,
        ttlMs: 7_200_000,
        negativeTtlMs: 300_000,
        failureTtlMs: 30_000,
        cacheSize: 100,
        maxInFlight: 4,
        maxQueued: 10,
        lookupPrivate: false,
      },
    },
  );
  assert.deepEqual(parseEnrichConfig({ rdns: { enabled: false } }), {
    rdns: { enabled: false },
  });
});

Deno.test("parseEnrichConfig() names the bad field", async (t) => {
  const cases: [unknown, string][] = [
    [[], 'Invalid config "enrich": expected an object, got an array'],
    [
      { geo: {} },
      'Invalid config "enrich.geo": unknown key (known: geoip, rdns)',
    ],
    [
      { geoip: { databases: "/x.mmdb" } },
      'Invalid config "enrich.geoip.databases": expected a list of .mmdb file paths',
    ],
    [
      { rdns: { timeout_ms: 0 } },
      'Invalid config "enrich.rdns.timeout_ms": expected an integer from 1 to 60000, got 0',
    ],
    [
      { rdns: { enabled: "yes" } },
      'Invalid config "enrich.rdns.enabled": expected true or false, got "yes"',
    ],
    [
      { rdns: { server: "dns.example" } },
      'Invalid config "enrich.rdns.server": expected an IP address with an optional port ("192.168.1.1:53")',
    ],
  ];
  for (const [input, message] of cases) {
    await t.step(message, () => {
      assert.throws(
        () => parseEnrichConfig(input, "enrich"),
        (e: unknown) => e instanceof ConfigError && e.message === message,
      );
    });
  }
});

Deno.test("parseNameServer() reads addresses with optional ports", () => {
  assert.deepEqual(parseNameServer("10.0.0.1"), {
    ipAddr: "10.0.0.1",
    port: 53,
  });
  assert.deepEqual(parseNameServer("10.0.0.1:5353"), {
    ipAddr: "10.0.0.1",
    port: 5353,
  });
  assert.deepEqual(parseNameServer("::1"), { ipAddr: "::1", port: 53 });
  assert.deepEqual(parseNameServer("[fd00::53]:54"), {
    ipAddr: "fd00::53",
    port: 54,
  });
  assert.equal(parseNameServer("10.0.0.1:0"), null);
  assert.equal(parseNameServer("10.0.0.1:70000"), null);
  assert.equal(parseNameServer("resolver"), null);
});
