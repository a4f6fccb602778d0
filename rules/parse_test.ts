/**
 * The rule language's outer grammar, variables, and refusals: every bad
 * rule is refused with its file, line, sid and reason while the others
 * load; hostile rule text never throws past the loader.
 */
import assert from "node:assert/strict";
import { contentBytes, parseMetadata } from "./compile.ts";
import { parsePcre } from "./_pcre.ts";
import {
  addrMatches,
  parseAddr,
  parsePorts,
  portMatches,
  splitRule,
} from "./parse.ts";
import { loadText } from "./_testing.ts";
import { ruleVars } from "./rule_vars.ts";

Deno.test("splitRule reads the header and options with escaped ; and quotes", () => {
  const r = splitRule(
    'alert tcp [10.0.0.0/8, 192.168.0.0/16] any <> $EXTERNAL_NET [80, 8080] (msg:"a \\"b\\"\\; c"; content:"x\\;y"; sid:1;)',
  );
  assert.equal(r.action, "alert");
  assert.equal(r.dir, "<>");
  assert.equal(r.src, "[10.0.0.0/8,192.168.0.0/16]");
  assert.equal(r.dstPorts, "[80,8080]");
  assert.deepEqual(r.options.map((o) => o.key), ["msg", "content", "sid"]);
  assert.equal(r.options[0]!.value, '"a \\"b\\"\\; c"');
  const loaded = loadText(
    'alert tcp any any -> any any (msg:"a \\"b\\"\\; c"; content:"x\\;y"; sid:1;)',
  );
  assert.equal(loaded.rules[0]!.msg, 'a "b"; c');
});

Deno.test("content decodes hex, escapes and mixed text", () => {
  assert.deepEqual([...contentBytes('"a|0d 0A|b"')], [97, 13, 10, 98]);
  assert.deepEqual([...contentBytes('"|41|\\"|42|"')], [65, 34, 66]);
  assert.deepEqual([...contentBytes('"\\\\x"')], [92, 120]);
  assert.throws(() => contentBytes('"|4|"'));
  assert.throws(() => contentBytes('"|zz|"'));
  assert.throws(() => contentBytes('"|41"'));
});

Deno.test("address and port expressions resolve variables, lists, ranges and negation", () => {
  const vars = ruleVars(["10.1.0.0/16"], { MY_PORTS: "[22,2222]" });
  const home = parseAddr("$HOME_NET", vars);
  const ext = parseAddr("$EXTERNAL_NET", vars);
  const w = (
    s: string,
  ) => [s.split(".").reduce((a, b) => a * 256 + Number(b), 0)];
  assert.equal(addrMatches(home, 4, w("10.1.2.3")), true);
  assert.equal(addrMatches(home, 4, w("10.2.2.3")), false);
  assert.equal(addrMatches(ext, 4, w("10.2.2.3")), true);
  const range = parseAddr("10.0.0.5-10.0.0.7", vars);
  assert.equal(addrMatches(range, 4, w("10.0.0.7")), true);
  assert.equal(addrMatches(range, 4, w("10.0.0.8")), false);
  const v6 = parseAddr("[2001:db8::/32, !2001:db8::1]", vars);
  assert.equal(addrMatches(v6, 6, [0x20010db8, 0, 0, 2]), true);
  assert.equal(addrMatches(v6, 6, [0x20010db8, 0, 0, 1]), false);
  assert.equal(addrMatches(v6, 4, w("1.2.3.4")), false);
  const ports = parsePorts("[$MY_PORTS, 1000:1010, !1005]", vars);
  assert.equal(portMatches(ports, 2222), true);
  assert.equal(portMatches(ports, 1004), true);
  assert.equal(portMatches(ports, 1005), false);
  assert.equal(portMatches(parsePorts("!80", vars), 80), false);
  assert.equal(portMatches(parsePorts(":1023", vars), 1023), true);
  assert.throws(() => parsePorts("70000", vars));
  assert.throws(() => parseAddr("$NOPE", vars));
});

Deno.test("bad rules are refused with file, line, sid and reason while the others load", () => {
  const text = [
    "# a comment",
    '#alert tcp any any -> any any (msg:"off"; sid:10;)',
    'alert tcp any any -> any any (msg:"ok"; content:"a"; sid:1;)',
    'alert tcp any any -> any any (msg:"kw"; xbits:set,a,track ip_src; sid:2;)',
    'alert tcp any any -> any any (msg:"depth"; content:"abcd"; depth:2; sid:3;)',
    'alert ftp-data any any -> any any (msg:"proto"; sid:4;)',
    'alert tcp any any -> $NOPE any (msg:"var"; sid:5;)',
    'alert tcp any any -> any any (msg:"nosemi"; sid:6)',
    'alert tcp any any -> any any (msg:"pcre"; pcre:"/a++/"; sid:7;)',
    "garbage",
    'alert tcp any any -> any any (msg:"cont"; \\',
    '  content:"b"; sid:8;)',
  ].join("\n");
  const r = loadText(text);
  assert.deepEqual(r.rules.map((x) => x.sid), [1, 8]);
  assert.equal(r.disabled, 1);
  const got = r.refused.map((x) => [x.line, x.sid, x.reason]);
  assert.deepEqual(got, [
    [4, 2, "unsupported keyword: xbits"],
    [5, 3, "bad value"],
    [6, 4, "unsupported protocol: ftp-data"],
    [7, 5, "undefined variable"],
    [8, null, "bad options"],
    [9, 7, "unsupported pcre: possessive quantifier"],
    [10, null, "bad rule"],
  ]);
  assert.equal(r.rules[1]!.line, 11);
  assert.match(r.refused[1]!.detail, /depth 2 shorter than content/);
});

Deno.test("meta keywords fill the alert fields; classtype gives category and priority", () => {
  const r = loadText(
    'alert tcp any any -> any any (msg:"ET SCAN x"; content:"a"; classtype:attempted-recon; reference:url,example.org; metadata:created_at 2020_01_01, tool nmap, tool other; sid:2000001; rev:3; gid:1;)\n' +
      'alert tcp any any -> any any (msg:"p"; content:"a"; classtype:attempted-recon; priority:1; sid:2;)',
  );
  const [a, b] = r.rules;
  assert.equal(a!.category, "Attempted Information Leak");
  assert.equal(a!.priority, 2);
  assert.equal(a!.rev, 3);
  assert.equal(a!.group, "SCAN");
  assert.deepEqual(parseMetadata(a!.metadataText), {
    created_at: ["2020_01_01"],
    tool: ["nmap", "other"],
  });
  assert.equal(b!.priority, 1);
});

Deno.test("pcre translation keeps PCRE's meaning or refuses with the construct", () => {
  assert.equal(parsePcre('"/a.b/"').re.test("a\rb"), true);
  assert.equal(parsePcre('"/a.b/s"').re.test("a\nb"), true);
  assert.equal(parsePcre('"/ab$/"').re.test("xab\n"), true);
  assert.equal(parsePcre('"/ab$/E"').re.test("xab\n"), false);
  assert.equal(parsePcre('"/\\Aab/"').re.test("ab"), true);
  assert.equal(parsePcre('"/a b # c/x"').re.test("ab"), true);
  assert.equal(parsePcre('"/(?i)abc/"').re.test("ABC"), true);
  assert.equal(parsePcre('"/[[:digit:]]+x/"').re.test("12x"), true);
  assert.equal(parsePcre('"/(?P<n>a)(?P=n)/"').re.test("aa"), true);
  assert.equal(parsePcre('"/\\x{41}/"').re.test("A"), true);
  assert.equal(parsePcre('"/x/U"').buffer, "http.uri");
  assert.equal(parsePcre('!"/x/R"').negated, true);
  for (
    const bad of [
      '"/(?>a)/"',
      '"/a*+/"',
      '"/\\Qa\\E/"',
      '"/a/G"',
      '"/(?R)/"',
      '"/a/"x',
      "x",
    ]
  ) {
    assert.throws(() => parsePcre(bad), bad);
  }
});

Deno.test("hostile rule text is refused, never thrown, and never stops the load", () => {
  const seeds = [
    'alert tcp any any -> any any (msg:"x"; content:"|41 42|"; distance:-5; within:2; pcre:"/(a|b)*c/Ri"; byte_jump:4,0,relative,little,align; sid:1;)',
    'alert http $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:"y"; flow:established,to_server; http.uri; content:"/a"; bsize:>3; flowbits:set,z; threshold:type limit, track by_src, count 1, seconds 60; sid:2;)',
  ];
  let seed = 12345;
  const rnd = () =>
    (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const alphabet = '()[];:"|\\!$,-<>/ \t\nabcdefxyz0123456789{}*+?^.';
  for (let i = 0; i < 3000; i++) {
    const base = seeds[i % seeds.length]!;
    const chars = [...base];
    const n = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < n; k++) {
      const at = Math.floor(rnd() * chars.length);
      const op = rnd();
      const c = alphabet[Math.floor(rnd() * alphabet.length)]!;
      if (op < 0.4) chars[at] = c;
      else if (op < 0.7) chars.splice(at, 1);
      else chars.splice(at, 0, c.repeat(1 + Math.floor(rnd() * 40)));
    }
    const text = chars.join("") + "\n" + seeds[0]!.replace("sid:1", "sid:99");
    const r = loadText(text);
    assert.ok(
      r.rules.some((x) => x.sid === 99),
      `lost the good rule after: ${text}`,
    );
    for (const x of r.refused) {
      assert.notEqual(x.reason, "internal error", `${x.detail} for ${text}`);
    }
  }
});
