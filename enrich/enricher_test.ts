import assert from "node:assert/strict";
import { alertGeo, openEnricher, withHost } from "./enricher.ts";
import { startFakeDns } from "./_test_dns_server.ts";

async function setup(enabled = true) {
  const dns = await startFakeDns({
    ptr: {
      "9.1.168.192.in-addr.arpa": ["nas.lan."],
      "1.0.0.193.in-addr.arpa": ["www.ripe.test."],
    },
    silent: ["2.0.0.193.in-addr.arpa"],
  });
  const { enricher, problems } = await openEnricher({
    rdns: {
      enabled,
      nameServer: { ipAddr: "127.0.0.1", port: dns.port },
      timeoutMs: 300,
    },
  });
  assert.deepEqual(problems, []);
  return {
    dns,
    enricher,
    async [Symbol.asyncDispose]() {
      await enricher.close();
      await dns.close();
    },
  };
}

Deno.test("alertFields() gives geo fields at once and host names once resolved", async () => {
  await using t = await setup();
  const first = t.enricher.alertFields("193.0.0.1", "192.168.1.9");
  // Names are not cached yet: geo only, lookups started in the background.
  assert.deepEqual(first, {
    src_geo: { country: "NL", country_name: "Netherlands", flag: "🇳🇱" },
  });
  const later = await t.enricher.alertFieldsWithin(
    "193.0.0.1",
    "192.168.1.9",
    5_000,
  );
  assert.deepEqual(later, {
    src_geo: { country: "NL", country_name: "Netherlands", flag: "🇳🇱" },
    src_host: "www.ripe.test",
    dest_host: "nas.lan",
  });
  assert.deepEqual(t.enricher.alertFields("193.0.0.1", "192.168.1.9"), later);
  assert.deepEqual(t.enricher.enrichAddr("192.168.1.9"), {
    geo: { scope: "LAN" },
    host: "nas.lan",
  });
  const s = t.enricher.stats();
  assert.equal(s.rdns.found, 2);
  assert.ok(s.geo.hits > 0);
});

Deno.test("alertFieldsWithin() waits only its bound and a late name arrives as an update", async () => {
  await using t = await setup();
  const updates: string[] = [];
  t.enricher.onHostResolved((ip, host) => updates.push(`${ip}=${host}`));
  const f = await t.enricher.alertFieldsWithin("193.0.0.2", "8.8.8.8", 1);
  assert.equal(f.src_host, undefined);
  assert.equal(f.src_geo?.country, "NL");
  assert.equal(f.dest_geo?.country, "US");
  const deadline = Date.now() + 10_000;
  while (updates.length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(updates.sort(), ["193.0.0.2=null", "8.8.8.8=null"]);
});

Deno.test("with reverse DNS off only geo fields are given", async () => {
  await using t = await setup(false);
  assert.deepEqual(
    await t.enricher.alertFieldsWithin("192.168.1.9", "10.0.0.1", 1_000),
    {},
  );
  assert.equal(t.dns.log.length, 0);
});

Deno.test("alertGeo() keeps exactly the alert fields", () => {
  assert.deepEqual(
    alertGeo({
      country: "GB",
      country_name: "United Kingdom",
      flag: "🇬🇧",
      city: "London",
      lat: 51.5,
      lon: -0.1,
      asn: 20712,
      org: "Andrews & Arnold Ltd",
    }),
    {
      country: "GB",
      country_name: "United Kingdom",
      flag: "🇬🇧",
      city: "London",
      asn: 20712,
      org: "Andrews & Arnold Ltd",
    },
  );
  assert.equal(alertGeo({ scope: "LAN" }), undefined);
  assert.equal(alertGeo({}), undefined);
});

Deno.test("withHost() applies a late name to the matching side only", () => {
  const fields = { id: "a1", src_geo: { country: "DE" } };
  const addrs = { src: "198.51.100.7", dest: "10.0.0.2" };
  assert.deepEqual(
    withHost(fields, { ...addrs, ip: "198.51.100.7", host: "x.test" }),
    { id: "a1", src_geo: { country: "DE" }, src_host: "x.test" },
  );
  assert.deepEqual(
    withHost(fields, { ...addrs, ip: "10.0.0.2", host: "pc.lan" }),
    { id: "a1", src_geo: { country: "DE" }, dest_host: "pc.lan" },
  );
  assert.equal(withHost(fields, { ...addrs, ip: "10.0.0.3", host: "o" }), null);
  assert.equal(
    withHost(fields, { ...addrs, ip: "10.0.0.2", host: null }),
    null,
  );
  assert.equal(
    withHost({ dest_host: "pc.lan" }, {
      ...addrs,
      ip: "10.0.0.2",
      host: "pc.lan",
    }),
    null,
  );
});
