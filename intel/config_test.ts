import assert from "node:assert/strict";
import { configErrorField } from "../common/_testing.ts";
import { DEFAULT_FEEDS, parseIntelConfig } from "./config.ts";

Deno.test("intel config: absent feeds are the five suggested ones, [] is none", () => {
  const d = parseIntelConfig(undefined);
  assert.deepEqual(d.feeds.map((f) => f.name), [
    "spamhaus_drop",
    "feodo",
    "sslbl_ja3",
    "sslbl_certs",
    "urlhaus_hosts",
  ]);
  assert.deepEqual(d.feeds, DEFAULT_FEEDS);
  assert.ok(d.feeds.every((f) => f.url?.startsWith("https://") && f.licence));
  assert.deepEqual(parseIntelConfig({ feeds: [] }).feeds, []);
});

Deno.test("intel config: a bad feed is refused naming the field", () => {
  const feed = { name: "x", url: "https://e.example/x.txt", kind: "ip" };
  const cases: [unknown, string][] = [
    [{ feeds: [{ ...feed, name: "Bad Name" }] }, "intel.feeds[0].name"],
    [{ feeds: [{ ...feed, url: "ftp://e.example/x" }] }, "intel.feeds[0].url"],
    [{ feeds: [{ ...feed, path: "/tmp/x" }] }, "intel.feeds[0]"],
    [{ feeds: [{ name: "x", kind: "ip" }] }, "intel.feeds[0]"],
    [{ feeds: [{ ...feed, format: "xml" }] }, "intel.feeds[0].format"],
    [
      { feeds: [{ ...feed, format: "feodo", kind: "domain" }] },
      "intel.feeds[0].kind",
    ],
    [
      { feeds: [{ name: "x", url: "https://e.example/x" }] },
      "intel.feeds[0].kind",
    ],
    [{ feeds: [{ ...feed, severity: 0 }] }, "intel.feeds[0].severity"],
    [{ feeds: [{ ...feed, interval: "1m" }] }, "intel.feeds[0].interval"],
    [{ feeds: [{ ...feed, colour: "red" }] }, "intel.feeds[0].colour"],
    [{ feeds: [feed, feed] }, "intel.feeds[1].name"],
    [{ max_mb: 0 }, "intel.max_mb"],
    [{ timeout: "forever" }, "intel.timeout"],
    [{ feeds: "all" }, "intel.feeds"],
  ];
  for (const [input, field] of cases) {
    assert.equal(
      configErrorField(() => parseIntelConfig(input)),
      field,
      JSON.stringify(input),
    );
  }
});
