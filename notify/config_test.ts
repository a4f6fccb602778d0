import assert from "node:assert/strict";
import { configErrorField } from "../common/_testing.ts";
import { ConfigError } from "../common/errors.ts";
import {
  keepSecrets,
  maskChannel,
  parseChannel,
  parseNotifyConfig,
  SECRET_MASK,
} from "./config.ts";

Deno.test("a channel takes its defaults: severity 2 and up, every event, 12 messages an hour, a 1 minute digest", () => {
  const c = parseChannel(
    { id: "a", kind: "ntfy", topic: "home" },
    "notify.channels[0]",
  );
  assert.equal(c.name, "a");
  assert.deepEqual(c.target, {
    kind: "ntfy",
    url: "https://ntfy.sh/",
    topic: "home",
    token: null,
  });
  assert.equal(c.route.min_severity, 2);
  assert.equal(c.route.events.length, 7);
  assert.equal(c.pacing.rate_messages, 12);
  assert.equal(c.pacing.rate_per_s, 3600);
  assert.equal(c.pacing.digest_s, 60);
  assert.equal(c.pacing.quiet, null);
});

Deno.test("bad channel values are refused naming the field", async (t) => {
  const base = { id: "x", kind: "webhook", url: "https://h.test/in" };
  const cases: [Record<string, unknown>, string][] = [
    [{ ...base, url: "javascript:alert(1)" }, "c.url"],
    [{ ...base, url: "file:///etc/passwd" }, "c.url"],
    [{ ...base, url: "https://user:pw@h.test/" }, "c.url"],
    [{ ...base, url: "https://h.test/\r\nX-Evil: 1" }, "c.url"],
    [{ ...base, preset: "teams" }, "c.preset"],
    [{ ...base, id: "../etc" }, "c.id"],
    [{ ...base, id: "" }, "c.id"],
    [{ ...base, name: "a\nb" }, "c.name"],
    [{ ...base, bogus: 1 }, "c.bogus"],
    [{ ...base, kind: "pager" }, "c.kind"],
    [{ ...base, route: { min_severity: 0 } }, "c.route.min_severity"],
    [{ ...base, route: { types: ["nope"] } }, "c.route.types[0]"],
    [{ ...base, route: { sources: ["10.0.0.0/99"] } }, "c.route.sources[0]"],
    [{ ...base, route: { events: ["reboot"] } }, "c.route.events[0]"],
    [{ ...base, rate_limit: { messages: 0 } }, "c.rate_limit.messages"],
    [{ ...base, rate_limit: { per: "1s" } }, "c.rate_limit.per"],
    [{ ...base, digest: "soon" }, "c.digest"],
    [
      { ...base, quiet_hours: { from: "25:00", to: "07:00" } },
      "c.quiet_hours.from",
    ],
    [{ ...base, daily_summary: { hour: 24 } }, "c.daily_summary.hour"],
    [
      { id: "t", kind: "telegram", token: "123:abc/../x", chat_id: 1 },
      "c.token",
    ],
    [{
      id: "t",
      kind: "telegram",
      token: "123456:ABCdefGhIJKlmno",
      chat_id: "1; rm",
    }, "c.chat_id"],
    [{ id: "n", kind: "ntfy", topic: "a/b" }, "c.topic"],
    [{ id: "g", kind: "gotify", url: "https://g.test" }, "c.token"],
    [{
      id: "m",
      kind: "email",
      host: "smtp.test",
      from: "a@b.test",
      to: ["x@y.test\r\nBcc: z@z.test"],
    }, "c.to[0]"],
    [{
      id: "m",
      kind: "email",
      host: "smtp.test",
      from: "a@b.test",
      to: [],
      port: 70000,
    }, "c.port"],
    [
      { id: "m", kind: "email", host: "smtp test", from: "a@b.test", to: [] },
      "c.host",
    ],
    [
      { id: "s", kind: "syslog", host: "h.test", app_name: "net sentinel" },
      "c.app_name",
    ],
    [
      { id: "s", kind: "syslog", host: "h.test", transport: "sctp" },
      "c.transport",
    ],
  ];
  for (const [doc, field] of cases) {
    await t.step(`${field}: ${JSON.stringify(doc).slice(0, 60)}`, () => {
      assert.equal(configErrorField(() => parseChannel(doc, "c")), field);
    });
  }
});

Deno.test("the public URL is an http(s) address without query or fragment", () => {
  assert.equal(
    parseNotifyConfig({ public_url: "https://box.lan:8080" }).public_url,
    "https://box.lan:8080/",
  );
  for (const bad of ["ftp://box/", "https://box/?a=1", "https://box/#x", 5]) {
    assert.equal(
      configErrorField(() => parseNotifyConfig({ public_url: bad })),
      "notify.public_url",
    );
  }
});

Deno.test("channel ids must be unique", () => {
  assert.equal(
    configErrorField(() =>
      parseNotifyConfig({
        channels: [
          { id: "a", kind: "ntfy", topic: "x" },
          { id: "a", kind: "ntfy", topic: "y" },
        ],
      })
    ),
    "notify.channels[1].id",
  );
});

Deno.test("secrets are masked in views and kept when an edit sends the mask back", () => {
  const stored = {
    id: "w",
    kind: "webhook",
    url: "https://hooks.slack.com/services/T000/B000/XXXX",
    secret: "hmac-key-1",
  };
  const shown = maskChannel(stored);
  assert.equal(shown.secret, SECRET_MASK);
  assert.equal(shown.url, `https://hooks.slack.com/${SECRET_MASK}`);
  assert.ok(!JSON.stringify(shown).includes("XXXX"));
  assert.ok(!JSON.stringify(shown).includes("hmac-key-1"));
  const edited = keepSecrets({ ...shown, name: "Slack" }, stored);
  assert.equal(edited.secret, "hmac-key-1");
  assert.equal(edited.url, stored.url);
  const replaced = keepSecrets({ ...shown, secret: "new-key" }, stored);
  assert.equal(replaced.secret, "new-key");
  const tg = maskChannel({
    id: "t",
    kind: "telegram",
    token: "1:abc",
    chat_id: 1,
  });
  assert.equal(tg.token, SECRET_MASK);
});

/** A small seeded generator (xorshift32). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

const HOSTILE: unknown[] = [
  null,
  undefined,
  true,
  -1,
  0,
  1.5,
  1e309,
  NaN,
  2 ** 53,
  "",
  " ",
  "\u0000",
  "a\r\nb",
  "x".repeat(100_000),
  "../../etc/passwd",
  "javascript:alert(1)",
  "http://",
  "https://[::1",
  "%00",
  "__proto__",
  "constructor",
  "💥",
  "10.0.0.0/33",
  "22:60",
  [],
  [null],
  ["x".repeat(5000)],
  {},
  { __proto__: { polluted: true } },
  JSON.parse('{"__proto__": {"polluted": true}}'),
];

const FIELDS = [
  "id",
  "name",
  "kind",
  "enabled",
  "url",
  "preset",
  "secret",
  "topic",
  "token",
  "chat_id",
  "host",
  "port",
  "security",
  "username",
  "password",
  "from",
  "to",
  "ca",
  "transport",
  "facility",
  "app_name",
  "route",
  "rate_limit",
  "digest",
  "quiet_hours",
  "daily_summary",
  "__proto__",
];

Deno.test("hostile channel configs (20,000 generated) give a ConfigError or a valid channel, never another error", () => {
  const r = rng(17);
  const pick = <T>(l: readonly T[]): T => l[Math.floor(r() * l.length)]!;
  const good = {
    webhook: { url: "https://h.test/x" },
    ntfy: { topic: "t" },
    gotify: { url: "https://g.test/", token: "t" },
    telegram: { token: "123456:ABCdefGhIJKlmno", chat_id: 5 },
    email: { host: "smtp.test", from: "a@b.test", to: ["c@d.test"] },
    syslog: { host: "127.0.0.1" },
  } as Record<string, Record<string, unknown>>;
  let valid = 0;
  for (let i = 0; i < 20_000; i++) {
    const kind = pick(Object.keys(good));
    const doc: Record<string, unknown> = { id: "c1", kind, ...good[kind] };
    const n = 1 + Math.floor(r() * 3);
    for (let k = 0; k < n; k++) {
      const f = pick(FIELDS);
      const v = r() < 0.3
        ? {
          [
            pick([
              "min_severity",
              "types",
              "sources",
              "events",
              "from",
              "to",
              "hour",
              "messages",
              "per",
              "x",
            ])
          ]: pick(HOSTILE),
        }
        : pick(HOSTILE);
      doc[f] = v;
    }
    try {
      const c = parseChannel(doc, "c");
      valid++;
      assert.ok(/^[a-z0-9][a-z0-9_-]{0,31}$/.test(c.id));
      const strings = [c.name, ...Object.values(c.target)].flat()
        .filter((v): v is string => typeof v === "string");
      for (const v of strings) {
        assert.ok(![...v].some((ch) => ch.charCodeAt(0) < 0x20), v);
      }
      maskChannel(doc);
    } catch (e) {
      if (!(e instanceof ConfigError)) {
        throw new Error(
          `not a ConfigError for ${JSON.stringify(doc).slice(0, 300)}: ${e}`,
        );
      }
    }
  }
  assert.ok(({} as Record<string, unknown>).polluted === undefined);
  assert.ok(valid > 100, `${valid} valid`);
});
