/**
 * Payload keywords with Suricata's semantics, one case table a keyword
 * family, each with rules that must fire and near misses that must not
 * (off-by-one depth/within, wrong direction, negated content), and the
 * subtle cases Suricata's docs describe.
 */
import assert from "node:assert/strict";
import { firing } from "./_testing.ts";

function r(
  sid: number,
  opts: string,
  header = "tcp any any -> any any",
): string {
  return `alert ${header} (msg:"t${sid}"; ${opts} sid:${sid}; rev:1;)`;
}

function fires(rules: string[], payload: string, extra = {}): number[] {
  return firing(rules.join("\n"), { bufs: { pkt_data: payload }, ...extra });
}

Deno.test("content with depth and offset bounds the window exactly (off by one misses)", () => {
  assert.deepEqual(fires([r(1, 'content:"abc"; depth:3;')], "abcx"), [1]);
  assert.deepEqual(fires([r(1, 'content:"abc"; depth:3;')], "xabc"), []);
  assert.deepEqual(fires([r(2, 'content:"abc"; offset:1; depth:3;')], "xabc"), [
    2,
  ]);
  assert.deepEqual(
    fires([r(2, 'content:"abc"; offset:1; depth:3;')], "xxabc"),
    [],
  );
  assert.deepEqual(fires([r(3, 'content:"abc"; offset:2;')], "xabc"), []);
});

Deno.test("distance and within are measured from the end of the previous match", () => {
  const rule = r(1, 'content:"a"; content:"b"; distance:1; within:1;');
  assert.deepEqual(fires([rule], "axb"), [1]);
  assert.deepEqual(fires([rule], "ab"), []);
  assert.deepEqual(fires([rule], "axxb"), []);
  // within counts from the previous match end, distance included.
  const w = r(2, 'content:"a"; content:"bc"; within:3;');
  assert.deepEqual(fires([w], "axbc"), [2]);
  assert.deepEqual(fires([w], "axxbc"), []);
});

Deno.test("a negative distance looks back before the previous match", () => {
  const rule = r(1, 'content:"def"; content:"abc"; distance:-6; within:3;');
  assert.deepEqual(fires([rule], "abcdef"), [1]);
  assert.deepEqual(fires([rule], "xabcdef"), [1]);
  assert.deepEqual(fires([rule], "abcxdef"), []);
});

Deno.test("a relative match after a negated content is relative to the last positive match", () => {
  const rule = r(
    1,
    'content:"a"; content:!"x"; distance:0; within:1; content:"b"; distance:0; within:1;',
  );
  assert.deepEqual(fires([rule], "ab"), [1]);
  assert.deepEqual(fires([rule], "axb"), []);
  const neg = r(2, 'content:"one"; content:!"two"; distance:0;');
  assert.deepEqual(fires([neg], "onethree"), [2]);
  assert.deepEqual(fires([neg], "onetwo"), []);
  // The absent content may appear before the anchor.
  assert.deepEqual(fires([neg], "twoone"), [2]);
});

Deno.test("nocase applies to hex bytes too", () => {
  assert.deepEqual(fires([r(1, 'content:"|41 42|"; nocase;')], "xab"), [1]);
  assert.deepEqual(fires([r(2, 'content:"|41 42|";')], "xab"), []);
  assert.deepEqual(fires([r(3, 'content:"G|45|t"; nocase;')], "get"), [3]);
});

Deno.test("fast_pattern only and chop still require the whole content", () => {
  assert.deepEqual(
    fires([r(1, 'content:"xyz"; fast_pattern:only;')], "__xyz"),
    [1],
  );
  assert.deepEqual(
    fires([r(1, 'content:"xyz"; fast_pattern:only;')], "__xy"),
    [],
  );
  const chop = r(2, 'content:"abcdef"; fast_pattern:2,2;');
  assert.deepEqual(fires([chop], "abcdef"), [2]);
  assert.deepEqual(fires([chop], "xxcdxx"), []);
});

Deno.test("backtracking retries an earlier content at its next occurrence", () => {
  const rule = r(1, 'content:"a"; content:"b"; distance:0; within:1;');
  assert.deepEqual(fires([rule], "axab"), [1]);
});

Deno.test("startswith and endswith pin the content to the buffer's ends", () => {
  assert.deepEqual(fires([r(1, 'content:"GET"; startswith;')], "GET /"), [1]);
  assert.deepEqual(fires([r(1, 'content:"GET"; startswith;')], " GET /"), []);
  assert.deepEqual(fires([r(2, 'content:".exe"; endswith;')], "a.exe"), [2]);
  assert.deepEqual(fires([r(2, 'content:".exe"; endswith;')], "a.exe "), []);
});

Deno.test("isdataat counts from the start or from the previous match", () => {
  assert.deepEqual(fires([r(1, 'content:"a"; isdataat:3;')], "abcd"), [1]);
  assert.deepEqual(fires([r(1, 'content:"a"; isdataat:4;')], "abcd"), []);
  assert.deepEqual(fires([r(2, 'content:"a"; isdataat:3,relative;')], "abcd"), [
    2,
  ]);
  assert.deepEqual(
    fires([r(2, 'content:"a"; isdataat:4,relative;')], "abcd"),
    [],
  );
  // Relative: at least N bytes after the match (Suricata: offset + N <= length).
  assert.deepEqual(fires([r(3, 'content:"a"; isdataat:!1,relative;')], "a"), [
    3,
  ]);
  assert.deepEqual(
    fires([r(3, 'content:"a"; isdataat:!1,relative;')], "ab"),
    [],
  );
});

Deno.test("dsize and bsize compare sizes with Suricata's operators", () => {
  assert.deepEqual(fires([r(1, "dsize:4;")], "abcd"), [1]);
  assert.deepEqual(fires([r(1, "dsize:4;")], "abcde"), []);
  assert.deepEqual(fires([r(2, "dsize:>4;")], "abcde"), [2]);
  assert.deepEqual(fires([r(3, "dsize:2<>5;")], "abcde"), []);
  assert.deepEqual(fires([r(3, "dsize:2<>5;")], "abcd"), [3]);
  const uri = (u: string) =>
    firing(
      r(4, 'http.uri; content:"/a"; bsize:3;', "http any any -> any any"),
      { app: "http", bufs: { "http.uri": u } },
      "tx",
    );
  assert.deepEqual(uri("/ab"), [4]);
  assert.deepEqual(uri("/abc"), []);
});

Deno.test("byte_test and byte_jump read numbers at absolute and relative offsets", () => {
  const bin = String.fromCharCode(
    0,
    5,
    1,
    0,
    0x41,
    0x42,
    0x43,
    0x44,
    0x45,
    0x46,
  );
  assert.deepEqual(fires([r(1, "byte_test:2,=,5,0;")], bin), [1]);
  assert.deepEqual(fires([r(1, "byte_test:2,=,6,0;")], bin), []);
  assert.deepEqual(fires([r(2, "byte_test:2,=,1,2,little;")], bin), [2]);
  assert.deepEqual(fires([r(3, "byte_test:1,&,4,1;")], bin), [3]);
  assert.deepEqual(fires([r(3, "byte_test:1,!&,4,1;")], bin), []);
  assert.deepEqual(fires([r(4, "byte_test:3,>,99,0,string,dec;")], "123x"), [
    4,
  ]);
  assert.deepEqual(
    fires([r(4, "byte_test:3,>,123,0,string,dec;")], "123x"),
    [],
  );
  // byte_jump: skip the length-prefixed field, then match right after it.
  const jump = r(5, 'byte_jump:2,0; content:"EF"; within:2;');
  const pkt = String.fromCharCode(0, 4) + "ABCDEF";
  assert.deepEqual(fires([jump], pkt), [5]);
  const miss = r(6, 'byte_jump:2,0; content:"DE"; within:2;');
  assert.deepEqual(fires([miss], pkt), []);
});

Deno.test("pcre runs as a JavaScript RegExp with R, A and i", () => {
  assert.deepEqual(fires([r(1, 'pcre:"/a[0-9]{2}b/";')], "xa12b"), [1]);
  assert.deepEqual(fires([r(1, 'pcre:"/a[0-9]{2}b/";')], "xa1b"), []);
  assert.deepEqual(fires([r(2, 'content:"x"; pcre:"/^a1/R";')], "xa1"), [2]);
  assert.deepEqual(fires([r(2, 'content:"x"; pcre:"/^a1/R";')], "xza1"), []);
  assert.deepEqual(fires([r(3, 'pcre:"/HELLO/i";')], "hello"), [3]);
  assert.deepEqual(fires([r(4, 'pcre:!"/evil/";')], "good"), [4]);
  assert.deepEqual(fires([r(4, 'pcre:!"/evil/";')], "evil"), []);
  // PCRE's dot matches \r (JavaScript's does not); it never matches \n.
  assert.deepEqual(fires([r(5, 'pcre:"/a.b/";')], "a\rb"), [5]);
  assert.deepEqual(fires([r(5, 'pcre:"/a.b/";')], "a\nb"), []);
});

Deno.test("pcre buffer flags select the HTTP buffer", () => {
  const rule = r(
    1,
    'content:"/x"; http_uri; pcre:"/\\/x\\d+$/U";',
    "http any any -> any any",
  );
  const f = (u: string) =>
    firing(rule, { app: "http", bufs: { "http.uri": u } }, "tx");
  assert.deepEqual(f("/x12"), [1]);
  assert.deepEqual(f("/x12a"), []);
});

Deno.test("dotprefix and to_lowercase transform the buffer before matching", () => {
  const rule = r(
    1,
    'dns.query; dotprefix; content:".evil.test"; endswith;',
    "dns any any -> any any",
  );
  const q = (name: string) =>
    firing(
      rule,
      { app: "dns", proto: 17, dp: 53, bufs: { "dns.query": name } },
      "tx",
    );
  assert.deepEqual(q("evil.test"), [1]);
  assert.deepEqual(q("a.evil.test"), [1]);
  assert.deepEqual(q("notevil.test"), []);
  const lower = r(
    2,
    'http.header_names; to_lowercase; content:"|0d 0a|x-evil|0d 0a|";',
    "http any any -> any any",
  );
  const h = (names: string) =>
    firing(lower, { app: "http", bufs: { "http.header_names": names } }, "tx");
  assert.deepEqual(h("\r\nHost\r\nX-Evil\r\n\r\n"), [2]);
  assert.deepEqual(h("\r\nHost\r\nX-Evilish\r\n\r\n"), []);
});

Deno.test("legacy content modifiers move the content to their buffer", () => {
  const rule = r(
    1,
    'content:"POST"; http_method; content:"/login"; http_uri; content:"pass="; http_client_body;',
    "http any any -> any any",
  );
  const f = (body: string) =>
    firing(rule, {
      app: "http",
      bufs: {
        "http.method": "POST",
        "http.uri": "/login",
        "http.request_body": body,
      },
    }, "tx");
  assert.deepEqual(f("user=a&pass=b"), [1]);
  assert.deepEqual(f("user=a"), []);
});
