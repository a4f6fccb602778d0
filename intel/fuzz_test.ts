/**
 * Hostile feed files: random bytes, real feeds with bytes changed, cut at
 * every length, and crafted nasties (huge lines, NUL bytes, nested quotes,
 * prefixes of every length, deep JSON), through every format and kind. The
 * parser must never throw, every indicator it keeps must be findable again,
 * and nothing it keeps may be wider than the limits.
 */
import assert from "node:assert/strict";
import { prng } from "../decode/_test_frames.ts";
import {
  FEED_FORMATS,
  FORMAT_KIND,
  INDICATOR_KINDS,
  type ParsedFeed,
  parseFeed,
} from "./formats.ts";
import { IntelIndex } from "./intel_index.ts";
import { parseFeedConfig } from "./config.ts";

const DIR = new URL("./testdata/", import.meta.url);
const SAMPLES = [...Deno.readDirSync(DIR)].map((e) =>
  Deno.readTextFileSync(new URL(e.name, DIR))
);

function shapes() {
  const out: {
    format: typeof FEED_FORMATS[number];
    kind: typeof INDICATOR_KINDS[number];
  }[] = [];
  for (const format of FEED_FORMATS) {
    const fixed = FORMAT_KIND[format];
    for (const kind of fixed === null ? INDICATOR_KINDS : [fixed]) {
      out.push({ format, kind });
    }
  }
  return out;
}

/** Every indicator kept is found again by a lookup of its own value. */
function consistent(p: ParsedFeed, what: string): void {
  assert.ok(p.entries >= 0 && p.rejected >= 0, what);
  if (p.entries === 0) return;
  const idx = new IntelIndex();
  idx.set(
    parseFeedConfig(
      { name: "f", path: "/x", format: "plain", kind: p.kind },
      "f",
    ),
    p,
    null,
  );
  for (let id = 0; id < Math.min(p.entries, 50); id++) {
    const v = p.value(id);
    assert.notEqual(v, "", `${what}: indicator ${id} has no value`);
    const line = p.line(id);
    assert.ok(line.no >= 1 && line.text.length <= 512, what);
    if ((p.kind === "ip" || p.kind === "domain") && v.includes("/")) {
      const bits = Number(v.slice(v.indexOf("/") + 1));
      assert.ok(
        v.includes(":") ? bits >= 16 : bits >= 8,
        `${what}: ${v} too wide`,
      );
    }
    if (p.kind === "domain" && !/^[\d.]+$|:/.test(v)) {
      assert.ok(v.includes("."), `${what}: single-label ${v}`);
    }
    const probe = (p.kind === "ip" || p.kind === "domain") && v.includes("/")
      ? v.slice(0, v.indexOf("/"))
      : v;
    if (p.kind === "url") continue; // a URL lookup goes through normalisation again
    assert.ok(
      idx.lookup(probe).length > 0,
      `${what}: kept ${JSON.stringify(v)} but cannot find it`,
    );
  }
}

Deno.test("parseFeed() survives random bytes in every format and kind", () => {
  const rnd = prng(0x1d7e1);
  const dec = new TextDecoder();
  for (let i = 0; i < 300; i++) {
    const bytes = new Uint8Array(Math.floor(rnd() * 2000));
    for (let k = 0; k < bytes.length; k++) {
      // Mostly printable, with newlines, separators and some raw bytes.
      const r = rnd();
      bytes[k] = r < 0.1
        ? 10
        : r < 0.15
        ? 44
        : r < 0.2
        ? 46
        : r < 0.25
        ? 47
        : r < 0.9
        ? 32 + Math.floor(rnd() * 95)
        : Math.floor(rnd() * 256);
    }
    const text = dec.decode(bytes);
    for (const s of shapes()) {
      consistent(
        parseFeed(text, { ...s, column: 1 + (i % 3) }),
        `${s.format}/${s.kind} #${i}`,
      );
    }
  }
});

Deno.test("parseFeed() survives real feeds with bytes changed and cut at every length", () => {
  const rnd = prng(0xfeed);
  for (const sample of SAMPLES) {
    for (let i = 0; i < 60; i++) {
      const chars = [...sample];
      const n = 1 + Math.floor(rnd() * 8);
      for (let k = 0; k < n; k++) {
        chars[Math.floor(rnd() * chars.length)] = String.fromCharCode(
          Math.floor(rnd() * 128),
        );
      }
      const text = chars.join("");
      for (const s of shapes()) {
        consistent(parseFeed(text, s), `${s.format}/${s.kind} mutated`);
      }
    }
    for (let cut = 0; cut <= sample.length; cut += 7) {
      for (const s of shapes()) {
        consistent(
          parseFeed(sample.slice(0, cut), s),
          `${s.format}/${s.kind} cut ${cut}`,
        );
      }
    }
  }
});

Deno.test("parseFeed() refuses crafted nasties without throwing or keeping them", () => {
  const nasty = [
    "0.0.0.0/0\n::/0\n128.0.0.0/1\n2000::/3\n",
    "x".repeat(1_000_000),
    "1.2.3.4" + " ".repeat(5000) + "\n",
    "\0\0\0\n1.2.3.4\0\n",
    '"' + '""'.repeat(10000) + '"\n',
    "[".repeat(100000) + "\n",
    '{"cidr":' + "[".repeat(5000) + "\n",
    '{"cidr":{"toString":1}}\n{"cidr":null}\n{"__proto__":{"cidr":"1.2.3.0/24"}}\n',
    "com\n.\n..\n*.\n-.example\nexample..com\n" + "a".repeat(64) + ".com\n",
    "http://user:pw@evil.example/\nhttp:///x\njavascript:alert(1)\n",
    "\r\n\r\n\uFEFF1.2.3.4\r\n",
    "1.2.3.4/08\n1.2.3.4/ 8\n01.2.3.4\n1.2.3.256\n::ffff:1.2.3.4/200\n",
  ];
  for (const text of nasty) {
    for (const s of shapes()) {
      const p = parseFeed(text, s);
      consistent(
        p,
        `${s.format}/${s.kind} ${JSON.stringify(text.slice(0, 30))}`,
      );
    }
  }
  const wide = parseFeed(nasty[0]!, { format: "plain", kind: "ip" });
  assert.equal(wide.entries, 0);
  assert.equal(wide.rejected, 4);
  const long = parseFeed(nasty[1]!, { format: "plain", kind: "domain" });
  assert.deepEqual(long.rejects, [{ line: 1, text: "(line too long)" }]);
  const names = parseFeed(nasty[8]!, { format: "plain", kind: "domain" });
  assert.equal(names.entries, 0);
});
