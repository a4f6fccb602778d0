import assert from "node:assert/strict";
import { parseFeed } from "./formats.ts";
import { parseIpv4 } from "./prefix_set.ts";

const DIR = new URL("./testdata/", import.meta.url);
const read = (f: string) => Deno.readTextFileSync(new URL(f, DIR));

Deno.test("parseFeed reads each publisher's format", async (t) => {
  await t.step("Feodo Tracker text", () => {
    const p = parseFeed(read("feodo_ipblocklist.txt"), {
      format: "feodo",
      kind: "ip",
    });
    assert.equal(p.entries, 3);
    assert.equal(p.rejected, 0);
    const id = p.ips!.lookup4(parseIpv4("198.51.100.23"));
    assert.equal(p.value(id), "198.51.100.23");
    assert.deepEqual(p.line(id), { no: 11, text: "198.51.100.23" });
    assert.equal(p.ips!.lookup4(parseIpv4("198.51.100.24")), -1);
  });
  await t.step("Feodo Tracker CSV, with the first-seen date", () => {
    const p = parseFeed(read("feodo_ipblocklist.csv"), {
      format: "feodo",
      kind: "ip",
    });
    assert.equal(p.entries, 2);
    const id = p.ips!.lookup4(parseIpv4("203.0.113.66"));
    assert.equal(p.since(id), "2025-11-02 10:11:12");
  });
  await t.step("Spamhaus DROP JSON lines and classic text agree", () => {
    for (const f of ["drop_v4.jsonl", "drop.txt"]) {
      const p = parseFeed(read(f), { format: "spamhaus_drop", kind: "ip" });
      assert.equal(p.entries, 2, f);
      assert.equal(p.rejected, 0, f);
      const id = p.ips!.lookup4(parseIpv4("198.19.4.5"));
      assert.equal(p.value(id), "198.18.0.0/15", f);
    }
  });
  await t.step("SSLBL JA3 and certificate lists", () => {
    const j = parseFeed(read("ja3_fingerprints.csv"), {
      format: "sslbl_ja3",
      kind: "ja3",
    });
    assert.equal(j.entries, 2);
    const id = j.names!.matchExact("8991a387e4cc841740f25d6f5139f92d");
    assert.equal(j.since(id), "2017-07-14 19:01:11");
    const c = parseFeed(read("sslblacklist.csv"), {
      format: "sslbl_cert",
      kind: "cert_sha1",
    });
    assert.equal(c.entries, 2);
    assert.ok(
      c.names!.matchExact("b8a1d6a9a4bd6dcb02f0b40e4c9c4b9c7f3a1e22") >= 0,
    );
  });
  await t.step(
    "URLhaus hostfile: names, and an address goes to the prefix set",
    () => {
      const p = parseFeed(read("urlhaus_hostfile.txt"), {
        format: "urlhaus_hosts",
        kind: "domain",
      });
      assert.equal(p.entries, 3);
      assert.equal(p.rejected, 0);
      assert.ok(p.names!.matchSuffix("cdn.malware-drop.example") >= 0);
      assert.ok(p.ips!.lookup4(parseIpv4("203.0.113.99")) >= 0);
    },
  );
  await t.step("FireHOL netset: a /3 is too wide to be an indicator", () => {
    const p = parseFeed(read("firehol_level1.netset"), {
      format: "firehol",
      kind: "ip",
    });
    assert.equal(p.entries, 3);
    assert.equal(p.rejected, 1);
    assert.equal(p.rejects[0]!.text, "224.0.0.0/3");
  });
  await t.step("plain lists and CSV with a chosen column", () => {
    const p = parseFeed(
      "# bad names\nevil.example # seen 2026\n; x\n// y\n\nBAD.test.\n",
      {
        format: "plain",
        kind: "domain",
      },
    );
    assert.equal(p.entries, 2);
    assert.ok(p.names!.matchSuffix("www.bad.test") >= 0);
    const c = parseFeed(
      'name,url,tag\nx,"http://Evil.Example:80/a?b=1",y\nz,ftp://no,w\n',
      {
        format: "csv",
        kind: "url",
        column: 2,
      },
    );
    assert.equal(c.entries, 1);
    assert.equal(c.rejected, 1);
    assert.ok(c.names!.matchExact("evil.example/a?b=1") >= 0);
  });
});

Deno.test("parseFeed caps indicators and counts the rest", () => {
  const text = Array.from({ length: 100 }, (_, i) => `10.0.${i}.0/24`).join(
    "\n",
  );
  const p = parseFeed(text, { format: "plain", kind: "ip", maxEntries: 40 });
  assert.equal(p.entries, 40);
  assert.equal(p.overLimit, 60);
});
