import assert from "node:assert/strict";
import {
  cleanHostName,
  ptrName,
  type RdnsOptions,
  ReverseDns,
} from "./rdns.ts";
import { type FakeZone, startFakeDns } from "./_test_dns_server.ts";

const ZONE: FakeZone = {
  ptr: {
    "10.2.0.192.in-addr.arpa": ["web.example.test."],
    "11.2.0.192.in-addr.arpa": ["Mail.Example.TEST."],
    "5.1.168.192.in-addr.arpa": ["printer.lan."],
    "12.2.0.192.in-addr.arpa": ["bad name!.test."],
    "4.4.8.8.in-addr.arpa": ["public.example.test."],
    [ptrName("2001:db8::10")!]: ["v6.example.test."],
  },
  nxdomain: ["20.2.0.192.in-addr.arpa"],
  servfail: ["30.2.0.192.in-addr.arpa"],
  silent: [
    "40.2.0.192.in-addr.arpa",
    "41.2.0.192.in-addr.arpa",
    "42.2.0.192.in-addr.arpa",
    "43.2.0.192.in-addr.arpa",
  ],
};

/** Polls `check` until it returns true or the deadline passes. */
async function waitFor(
  what: string,
  check: () => boolean,
  show: () => unknown,
  deadlineMs = 10_000,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error(
        `Timed out waiting for ${what}: ${JSON.stringify(show())}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(opts: RdnsOptions = {}) {
  const dns = await startFakeDns(ZONE);
  const rdns = new ReverseDns({
    nameServer: { ipAddr: "127.0.0.1", port: dns.port },
    timeoutMs: 300,
    ...opts,
  });
  return {
    dns,
    rdns,
    async [Symbol.asyncDispose]() {
      await rdns.close();
      await dns.close();
    },
  };
}

Deno.test("ptrName() builds in-addr.arpa and ip6.arpa names", () => {
  assert.equal(ptrName("192.0.2.5"), "5.2.0.192.in-addr.arpa");
  assert.equal(ptrName("::ffff:192.0.2.5"), "5.2.0.192.in-addr.arpa");
  assert.equal(
    ptrName("2001:db8::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
  );
  assert.equal(ptrName("example.com"), null);
  assert.equal(ptrName("1.2.3"), null);
});

Deno.test("cleanHostName() keeps plausible host names only", () => {
  assert.equal(cleanHostName("Mail.Example.TEST."), "mail.example.test");
  assert.equal(cleanHostName("_dmarc.x-y.test"), "_dmarc.x-y.test");
  for (
    const bad of [
      "",
      ".",
      "a..b",
      "bad name.test",
      "x\u001b[31m.test",
      "a".repeat(64) + ".test",
      "é.test",
    ]
  ) {
    assert.equal(cleanHostName(bad), null, JSON.stringify(bad));
  }
  assert.equal(cleanHostName(("a".repeat(60) + ".").repeat(5)), null);
});

Deno.test("a name is looked up once in the background and then served from the cache", async () => {
  await using t = await setup();
  assert.equal(t.rdns.lookup("192.0.2.10"), undefined);
  assert.equal(t.rdns.lookup("192.0.2.10"), undefined, "still pending");
  assert.equal(await t.rdns.resolve("192.0.2.10", 5_000), "web.example.test");
  assert.equal(t.rdns.lookup("192.0.2.10"), "web.example.test");
  assert.equal(await t.rdns.resolve("192.0.2.11", 5_000), "mail.example.test");
  assert.equal(await t.rdns.resolve("2001:db8::10", 5_000), "v6.example.test");
  assert.equal(t.dns.queries("10.2.0.192.in-addr.arpa"), 1);
  const s = t.rdns.stats();
  assert.equal(s.found, 3);
  assert.equal(s.hits, 1);
  assert.equal(s.in_flight, 0);
  assert.equal(s.cache_size, 3);
});

Deno.test("a missing name is cached as a negative answer for less time", async () => {
  let now = 1_000_000;
  await using t = await setup({
    now: () => now,
    ttlMs: 60_000,
    negativeTtlMs: 10_000,
  });
  assert.equal(await t.rdns.resolve("192.0.2.20", 5_000), null, "NXDOMAIN");
  assert.equal(await t.rdns.resolve("192.0.2.21", 5_000), null, "no record");
  assert.equal(await t.rdns.resolve("192.0.2.10", 5_000), "web.example.test");
  assert.equal(t.rdns.lookup("192.0.2.20"), null);
  assert.equal(t.dns.queries("20.2.0.192.in-addr.arpa"), 1);
  assert.equal(t.rdns.stats().not_found, 2);

  now += 20_000; // past the negative TTL, within the positive one
  assert.equal(t.rdns.lookup("192.0.2.10"), "web.example.test");
  assert.equal(t.rdns.lookup("192.0.2.20"), undefined, "asked again");
  assert.equal(await t.rdns.resolve("192.0.2.20", 5_000), null);
  assert.equal(t.dns.queries("20.2.0.192.in-addr.arpa"), 2);

  now += 60_000; // past the positive TTL
  assert.equal(t.rdns.lookup("192.0.2.10"), undefined);
  assert.equal(await t.rdns.resolve("192.0.2.10", 5_000), "web.example.test");
  assert.equal(t.dns.queries("10.2.0.192.in-addr.arpa"), 2);
});

Deno.test("a query that takes too long times out and is cached as a failure", async () => {
  await using t = await setup({ timeoutMs: 200 });
  const heard: [string, string | null][] = [];
  t.rdns.onResolved((ip, host) => heard.push([ip, host]));
  // A short wait gives up while the query goes on.
  assert.equal(await t.rdns.resolve("192.0.2.40", 1), undefined);
  await waitFor("the timeout", () => heard.length === 1, () => t.rdns.stats());
  assert.deepEqual(heard, [["192.0.2.40", null]]);
  const s = t.rdns.stats();
  assert.equal(s.timeouts, 1);
  assert.equal(s.in_flight, 0);
  assert.equal(t.rdns.lookup("192.0.2.40"), null, "cached as a failure");
  assert.equal(t.dns.queries("40.2.0.192.in-addr.arpa") >= 1, true);
});

Deno.test("a SERVFAIL answer is cached like a missing name", async () => {
  await using t = await setup();
  assert.equal(await t.rdns.resolve("192.0.2.30", 5_000), null);
  assert.equal(t.rdns.lookup("192.0.2.30"), null);
  assert.equal(t.dns.queries("30.2.0.192.in-addr.arpa"), 1);
  // Deno.resolveDns reports SERVFAIL as NotFound, like NXDOMAIN.
  const s = t.rdns.stats();
  assert.equal(s.not_found, 1, JSON.stringify(s));
  assert.equal(s.timeouts, 0);
});

Deno.test("an answer that is not a plausible host name is ignored", async () => {
  await using t = await setup();
  assert.equal(await t.rdns.resolve("192.0.2.12", 5_000), null);
  assert.equal(t.rdns.stats().invalid, 1);
});

Deno.test("lookups beyond the in-flight cap are queued, then dropped, never blocking", async () => {
  await using t = await setup({ timeoutMs: 200, maxInFlight: 2, maxQueued: 1 });
  for (const ip of ["192.0.2.40", "192.0.2.41", "192.0.2.42", "192.0.2.43"]) {
    assert.equal(t.rdns.lookup(ip), undefined);
  }
  let s = t.rdns.stats();
  assert.equal(s.in_flight, 2);
  assert.equal(s.queued, 1);
  assert.equal(s.dropped, 1);
  assert.equal(await t.rdns.resolve("192.0.2.43", 1_000), undefined, "dropped");
  // The queued address starts once a slot frees up.
  await waitFor(
    "three timeouts",
    () => t.rdns.stats().timeouts === 3,
    () => t.rdns.stats(),
  );
  s = t.rdns.stats();
  assert.equal(s.in_flight, 0);
  assert.equal(s.queued, 0);
  assert.equal(t.dns.queries("42.2.0.192.in-addr.arpa") >= 1, true);
  assert.equal(t.dns.queries("43.2.0.192.in-addr.arpa"), 0);
});

Deno.test("listeners hear each finished query until they unsubscribe", async () => {
  await using t = await setup();
  const heard: string[] = [];
  const off = t.rdns.onResolved((ip, host) => heard.push(`${ip}=${host}`));
  t.rdns.onResolved(() => {
    throw new Error("a broken listener");
  });
  await t.rdns.resolve("192.0.2.10", 5_000);
  await t.rdns.resolve("192.0.2.20", 5_000);
  off();
  await t.rdns.resolve("192.0.2.11", 5_000);
  assert.deepEqual(heard, ["192.0.2.10=web.example.test", "192.0.2.20=null"]);
});

Deno.test("private addresses are looked up unless switched off", async () => {
  {
    await using t = await setup();
    assert.equal(await t.rdns.resolve("192.168.1.5", 5_000), "printer.lan");
    assert.equal(t.rdns.lookup("224.0.0.251"), null, "multicast never");
    assert.equal(t.rdns.lookup("not an ip"), null);
  }
  {
    await using t = await setup({ lookupPrivate: false });
    assert.equal(t.rdns.lookup("192.168.1.5"), null);
    assert.equal(t.rdns.lookup("192.0.2.10"), null, "documentation range");
    // Public: asked, but only of the loopback test resolver.
    assert.equal(await t.rdns.resolve("8.8.4.4", 5_000), "public.example.test");
    assert.equal(t.dns.queries("5.1.168.192.in-addr.arpa"), 0);
  }
});

Deno.test("with reverse DNS disabled nothing is ever sent", async () => {
  await using t = await setup({ enabled: false });
  assert.equal(t.rdns.lookup("192.0.2.10"), null);
  assert.equal(await t.rdns.resolve("192.0.2.10", 1_000), null);
  assert.equal(t.dns.log.length, 0);
  assert.equal(t.rdns.stats().enabled, false);
});

Deno.test("close() aborts running queries and later lookups answer null", async () => {
  const t = await setup({ timeoutMs: 60_000 });
  try {
    assert.equal(t.rdns.lookup("192.0.2.40"), undefined);
    const waiting = t.rdns.resolve("192.0.2.41", 60_000);
    await t.rdns.close();
    assert.equal(await waiting, null);
    assert.equal(t.rdns.stats().in_flight, 0);
    assert.equal(t.rdns.lookup("192.0.2.10"), null);
  } finally {
    await t.dns.close();
  }
});
