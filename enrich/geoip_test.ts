import assert from "node:assert/strict";
import {
  countryFlag,
  countryName,
  GeoDatabaseError,
  geoFieldsFromRecord,
  GeoResolver,
  loadGeoDatabase,
  openGeo,
  parseGeoDatabase,
  SHIPPED_GEO_URL,
} from "./geoip.ts";
import { writeMmdb } from "./_test_mmdb.ts";

Deno.test("shipped database answers well-known addresses of both families", async (t) => {
  const { resolver, problems } = await openGeo();
  assert.deepEqual(problems, []);
  // Registry and operator blocks whose country has been stable for years.
  const cases: [string, string][] = [
    ["193.0.0.1", "NL"], // RIPE NCC, Amsterdam
    ["8.8.8.8", "US"], // Google Public DNS
    ["1.1.1.1", "AU"], // APNIC research prefix
    ["133.1.1.1", "JP"], // Japanese academic block
    ["200.160.0.8", "BR"], // NIC.br
    ["196.216.2.1", "ZA"], // AFRINIC
    ["2001:67c:2e8::1", "NL"], // RIPE NCC
    ["2001:dc0:2001:11::194", "AU"], // APNIC
    ["2001:500:88:200::8", "US"], // ICANN
    ["::ffff:193.0.0.1", "NL"], // IPv4-mapped is looked up as IPv4
  ];
  for (const [ip, cc] of cases) {
    await t.step(`${ip} is in ${cc}`, () => {
      const g = resolver.lookup(ip);
      assert.equal(g.country, cc, JSON.stringify(g));
      assert.equal(g.flag, countryFlag(cc));
      assert.equal(g.country_name, countryName(cc));
      assert.equal(g.scope, undefined);
    });
  }
});

Deno.test("special-purpose ranges are labelled instead of looked up", async (t) => {
  const { resolver } = await openGeo();
  const cases: [string, string][] = [
    ["10.1.2.3", "LAN"],
    ["172.16.5.4", "LAN"],
    ["192.168.1.1", "LAN"],
    ["fd12:3456::1", "LAN"],
    ["127.0.0.1", "loopback"],
    ["::1", "loopback"],
    ["169.254.1.1", "link-local"],
    ["fe80::1", "link-local"],
    ["100.64.0.1", "CGNAT"],
    ["224.0.0.251", "multicast"],
    ["ff02::fb", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["0.0.0.0", "unspecified"],
    ["192.0.2.7", "documentation"],
    ["2001:db8::1", "documentation"],
    ["::ffff:192.168.0.1", "LAN"],
  ];
  for (const [ip, label] of cases) {
    await t.step(`${ip} is labelled ${label}`, () => {
      assert.deepEqual(resolver.lookup(ip), { scope: label });
    });
  }
  await t.step("text that is not an address gives an empty result", () => {
    assert.deepEqual(resolver.lookup("not-an-ip"), {});
    assert.deepEqual(resolver.lookup("1.2.3.256"), {});
  });
});

Deno.test("countryFlag() and countryName() turn codes into emoji and English names", () => {
  assert.equal(countryFlag("DE"), "🇩🇪");
  assert.equal(countryFlag("de"), "🇩🇪");
  assert.equal(countryFlag("US"), "🇺🇸");
  assert.equal(countryName("DE"), "Germany");
  assert.equal(countryName("gb"), "United Kingdom");
  assert.equal(countryName("XK"), "Kosovo");
  for (const bad of ["ZZ", "AA", "A1", "", "DEU", "1"]) {
    assert.equal(countryName(bad), undefined, bad);
    assert.equal(countryFlag(bad), undefined, bad);
  }
});

Deno.test("geoFieldsFromRecord() reads fields whatever the schema", async (t) => {
  await t.step("GeoIP2 City", () => {
    assert.deepEqual(
      geoFieldsFromRecord({
        city: { geoname_id: 1, names: { en: "Berlin", de: "Berlin" } },
        country: { iso_code: "DE", names: { en: "Germany" } },
        location: { latitude: 52.5, longitude: 13.4, accuracy_radius: 20 },
        registered_country: { iso_code: "FR" },
      }),
      {
        country: "DE",
        country_name: "Germany",
        city: "Berlin",
        lat: 52.5,
        lon: 13.4,
      },
    );
  });
  await t.step("GeoLite2 ASN", () => {
    assert.deepEqual(
      geoFieldsFromRecord({
        autonomous_system_number: 3320,
        autonomous_system_organization: "Deutsche Telekom AG",
      }),
      { asn: 3320, org: "Deutsche Telekom AG" },
    );
  });
  await t.step("registered country when the country is missing", () => {
    assert.deepEqual(
      geoFieldsFromRecord({ registered_country: { iso_code: "se" } }),
      { country: "SE" },
    );
  });
  await t.step("ip-location-db flat City", () => {
    assert.deepEqual(
      geoFieldsFromRecord({
        city: "Lyon",
        country_code: "FR",
        latitude: 45.75,
        longitude: 4.85,
        postcode: "69001",
      }),
      { country: "FR", city: "Lyon", lat: 45.75, lon: 4.85 },
    );
  });
  await t.step("ipinfo Lite", () => {
    assert.deepEqual(
      geoFieldsFromRecord({
        asn: "AS15169",
        as_name: "Google LLC",
        as_domain: "google.com",
        country: "United States",
        country_code: "US",
      }),
      {
        country: "US",
        country_name: "United States",
        asn: 15169,
        org: "Google LLC",
      },
    );
  });
  await t.step("GeoIP2 Enterprise traits", () => {
    assert.deepEqual(
      geoFieldsFromRecord({
        traits: { autonomous_system_number: 64500, isp: "Example ISP" },
      }),
      { asn: 64500, org: "Example ISP" },
    );
  });
  await t.step("values of the wrong type or range are ignored", () => {
    assert.deepEqual(
      geoFieldsFromRecord({
        country: { iso_code: "Germany" },
        city: { names: { en: "\u001b[31mred" } },
        location: { latitude: 123, longitude: 5 },
        asn: -1,
        organization: 42,
      }),
      {},
    );
    assert.deepEqual(geoFieldsFromRecord(null), {});
    assert.deepEqual(geoFieldsFromRecord("US"), {});
    assert.deepEqual(geoFieldsFromRecord([1, 2]), {});
  });
});

Deno.test("user City and ASN databases are merged with the shipped one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const city = `${dir}/city.mmdb`;
    const asn = `${dir}/asn.mmdb`;
    await Deno.writeFile(
      city,
      writeMmdb({
        type: "Test-City",
        networks: [
          ["81.2.69.0/24", {
            country: { iso_code: "GB", names: { en: "United Kingdom" } },
            city: { names: { en: "London" } },
            location: { latitude: 51.5142, longitude: -0.0931 },
          }],
          ["81.2.69.160/27", { city: { names: { en: "Islington" } } }],
          ["193.0.0.0/24", { country: { iso_code: "SE" } }],
          ["2a02:8010::/32", { city: { names: { en: "Bath" } } }],
        ],
      }),
    );
    // An IPv4-only tree: IPv6 lookups must skip it, not walk it.
    await Deno.writeFile(
      asn,
      writeMmdb({
        type: "Test-ASN",
        ipVersion: 4,
        networks: [["81.2.69.0/24", {
          autonomous_system_number: 20712,
          autonomous_system_organization: "Andrews & Arnold Ltd",
        }]],
      }),
    );
    const { resolver, problems } = await openGeo({ extra: [city, asn] });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      resolver.databases.map((d) => d.type),
      ["Test-City", "Test-ASN", "country ipvAll"],
    );
    assert.deepEqual(resolver.lookup("81.2.69.1"), {
      country: "GB",
      country_name: "United Kingdom",
      flag: "🇬🇧",
      city: "London",
      lat: 51.5142,
      lon: -0.0931,
      asn: 20712,
      org: "Andrews & Arnold Ltd",
    });
    // The more specific network has only a city; the country comes from the
    // shipped database, the AS from the ASN one.
    const islington = resolver.lookup("81.2.69.170");
    assert.equal(islington.city, "Islington");
    assert.equal(islington.country, "GB");
    assert.equal(islington.asn, 20712);
    // The user's database comes first and wins over the shipped one.
    assert.equal(resolver.lookup("193.0.0.1").country, "SE");
    const bath = resolver.lookup("2a02:8010::1");
    assert.equal(bath.city, "Bath");
    assert.equal(bath.asn, undefined);
    assert.equal(typeof bath.country, "string");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreadable or wrong-format database gives a clear error and the shipped one still answers", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const text = `${dir}/notes.mmdb`;
    await Deno.writeTextFile(text, "this is not a database\n".repeat(100));
    const legacy = `${dir}/GeoIP.dat`;
    await Deno.writeFile(
      legacy,
      new Uint8Array([...new Uint8Array(64), 0xff, 0xff, 0xff, 1, 2, 3]),
    );
    const shipped = await Deno.readFile(SHIPPED_GEO_URL);
    const truncated = `${dir}/truncated.mmdb`;
    // Keep the metadata but lose most of the tree and data.
    await Deno.writeFile(truncated, shipped.slice(shipped.length - 65_536));
    const empty = `${dir}/empty.mmdb`;
    await Deno.writeFile(empty, new Uint8Array(0));
    const missing = `${dir}/missing.mmdb`;

    const cases: [string, string][] = [
      [missing, "file not found"],
      [dir, "is a directory"],
      [text, "not a MaxMind DB file"],
      [empty, "not a MaxMind DB file"],
      [legacy, "legacy GeoIP .dat format (use a MaxMind DB .mmdb file)"],
    ];
    for (const [path, detail] of cases) {
      await t.step(
        `${path.slice(dir.length + 1) || "a directory"}: ${detail}`,
        async () => {
          await assert.rejects(loadGeoDatabase(path), (e: unknown) => {
            assert.ok(e instanceof GeoDatabaseError);
            assert.equal(
              e.message,
              `Cannot open GeoIP database "${path}": ${detail}`,
            );
            assert.equal(e.path, path);
            return true;
          });
        },
      );
    }
    await t.step("a truncated file is reported as corrupt", async () => {
      await assert.rejects(
        loadGeoDatabase(truncated),
        (e: unknown) =>
          e instanceof GeoDatabaseError &&
          e.message.startsWith(
            `Cannot open GeoIP database "${truncated}": corrupt MaxMind DB file`,
          ),
      );
    });
    await t.step(
      "openGeo() reports each bad file and falls back to the shipped one",
      async () => {
        const warnings: Record<string, unknown>[] = [];
        const { resolver, problems } = await openGeo({
          extra: [text, missing, truncated],
          log: { warn: (msg, f) => warnings.push({ msg, ...f }) },
        });
        assert.deepEqual(problems.map((p) => p.path), [
          text,
          missing,
          truncated,
        ]);
        assert.equal(warnings.length, 3);
        assert.equal(warnings[0]!.msg, "geoip database skipped");
        assert.equal(resolver.databases.length, 1);
        assert.equal(resolver.lookup("193.0.0.1").country, "NL");
      },
    );
    await t.step("with no database at all, labels still work", async () => {
      const { resolver, problems } = await openGeo({
        shipped: missing,
      });
      assert.equal(problems.length, 1);
      assert.deepEqual(resolver.lookup("8.8.8.8"), {});
      assert.deepEqual(resolver.lookup("10.0.0.1"), { scope: "LAN" });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a gzip-compressed database is unpacked in memory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/city.mmdb.gz`;
    const bytes = writeMmdb({
      type: "Test-City",
      networks: [["81.2.69.0/24", { city: { names: { en: "London" } } }]],
    });
    const gz = await new Response(
      new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).arrayBuffer();
    await Deno.writeFile(path, new Uint8Array(gz));
    const db = await loadGeoDatabase(path);
    assert.equal(db.type, "Test-City");
    assert.throws(
      () => parseGeoDatabase(new Uint8Array(gz), "x.mmdb.gz"),
      /Cannot open GeoIP database "x\.mmdb\.gz": gzip-compressed \(unpack it first\)/,
    );
    const r = new GeoResolver([db]);
    assert.equal(r.lookup("81.2.69.9").city, "London");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the shipped database is found beside the code and describes itself", async () => {
  const db = await loadGeoDatabase(SHIPPED_GEO_URL);
  assert.equal(db.ipVersion, 6);
  assert.ok(db.bytes > 1_000_000);
  assert.ok(db.buildEpoch.getUTCFullYear() >= 2025);
});

Deno.test("lookups are cached per address in a bounded LRU", async () => {
  const { resolver } = await openGeo({ cacheSize: 2 });
  const first = resolver.lookup("193.0.0.1");
  assert.equal(resolver.lookup("193.0.0.1"), first);
  assert.deepEqual(resolver.stats(), {
    hits: 1,
    misses: 1,
    errors: 0,
    cache_size: 1,
    evictions: 0,
  });
  resolver.lookup("8.8.8.8");
  resolver.lookup("10.0.0.1");
  const s = resolver.stats();
  assert.equal(s.cache_size, 2);
  assert.equal(s.evictions, 1);
  assert.ok(Object.isFrozen(first));
});
