import assert from "node:assert/strict";
import { makeAlert, waitFor } from "../store/_testing.ts";
import { ChannelError, hmacHex, sendMessage } from "./channels.ts";
import { alertItem, type Message } from "./message.ts";
import {
  channel,
  haveAiosmtpd,
  httpReceiver,
  makeCert,
  smtpServer,
  syslogListener,
} from "./_testing.ts";

const CI = Deno.env.get("CI") === "true";

function message(n = 1): Message {
  const a = makeAlert(n, { src: "203.0.113.9", severity: 1 });
  const item = alertItem(a, "http://box.test:8080", "203.0.113.9 for 1h");
  return {
    id: `test-${n}`,
    kind: "alerts",
    title: "high: port_scan: TCP SYN port scan: 203.0.113.9 → 10.99.0.10:22",
    severity: 1,
    count: 1,
    items: [item],
    rest: {},
    lines: [],
    created: "2026-12-07T10:00:00.000Z",
    link: item.link ?? null,
  };
}

Deno.test("webhook posts the generic body signed with HMAC-SHA256 over the exact body", async () => {
  await using rx = httpReceiver();
  const c = channel({
    id: "hook",
    kind: "webhook",
    url: `${rx.url}in/hook?x=1`,
    secret: "s3cret-key",
  });
  const answer = await sendMessage(c, message());
  assert.match(answer, /^HTTP 200/);
  assert.equal(rx.got.length, 1);
  const r = rx.got[0]!;
  assert.equal(r.method, "POST");
  assert.equal(r.path, "/in/hook?x=1");
  assert.equal(r.headers["content-type"], "application/json");
  assert.equal(r.headers["x-netsentinel-delivery"], "test-1");
  assert.equal(
    r.headers["x-netsentinel-signature"],
    `sha256=${await hmacHex("s3cret-key", r.body)}`,
  );
  const body = JSON.parse(r.body);
  assert.equal(body.netsentinel.id, "test-1");
  assert.equal(body.netsentinel.count, 1);
  assert.equal(body.netsentinel.items[0].blocked, "203.0.113.9 for 1h");
  assert.equal(
    body.netsentinel.items[0].link,
    `http://box.test:8080/alerts/${body.netsentinel.items[0].id}`,
  );
  assert.match(body.text, /TCP SYN port scan/);
  assert.match(body.text, /blocked 203\.0\.113\.9 for 1h/);
});

Deno.test("webhook presets send the bodies Slack, Discord, Mattermost and Matrix hooks take", async (t) => {
  await using rx = httpReceiver();
  const cases: [string, (b: Record<string, unknown>) => void][] = [
    ["slack", (b) => assert.deepEqual(Object.keys(b), ["text"])],
    [
      "mattermost",
      (b) => assert.deepEqual(Object.keys(b), ["text", "username"]),
    ],
    ["discord", (b) => {
      assert.deepEqual(Object.keys(b), ["content", "username"]);
      assert.ok((b.content as string).length <= 2000);
    }],
    ["matrix", (b) => assert.deepEqual(Object.keys(b), ["text", "username"])],
  ];
  for (const [preset, check] of cases) {
    await t.step(preset, async () => {
      const n = rx.got.length;
      await sendMessage(
        channel({ id: preset, kind: "webhook", preset, url: rx.url + preset }),
        message(),
      );
      const r = rx.got[n]!;
      assert.equal(r.path, `/${preset}`);
      assert.equal(r.headers["x-netsentinel-signature"], undefined);
      const b = JSON.parse(r.body);
      check(b);
      assert.match(b.text ?? b.content, /NetSentinel: high: port_scan/);
    });
  }
});

Deno.test("ntfy publishes JSON to the server's root with priority from severity, tags, click and token", async () => {
  await using rx = httpReceiver();
  const c = channel({
    id: "phone",
    kind: "ntfy",
    url: rx.url,
    topic: "home-ids",
    token: "tk_abcdef",
  });
  await sendMessage(c, message());
  const r = rx.got[0]!;
  assert.equal(r.method, "POST");
  assert.equal(r.path, "/");
  assert.equal(r.headers.authorization, "Bearer tk_abcdef");
  const b = JSON.parse(r.body);
  assert.equal(b.topic, "home-ids");
  assert.equal(b.priority, 5);
  assert.deepEqual(b.tags, ["rotating_light", "high", "port_scan"]);
  assert.match(b.click, /^http:\/\/box\.test:8080\/alerts\//);
  assert.match(b.title, /^NetSentinel: /);
});

Deno.test("Gotify gets POST /message with the app token header and a priority", async () => {
  await using rx = httpReceiver();
  const c = channel({
    id: "gotify",
    kind: "gotify",
    url: rx.url + "gotify",
    token: "AppTokenXYZ",
  });
  await sendMessage(c, { ...message(), severity: 2 });
  const r = rx.got[0]!;
  assert.equal(r.path, "/gotify/message");
  assert.equal(r.headers["x-gotify-key"], "AppTokenXYZ");
  const b = JSON.parse(r.body);
  assert.equal(b.priority, 5);
  assert.match(b.message, /Stands for 1 alert/);
});

Deno.test("Telegram gets sendMessage at the configured Bot API base URL", async () => {
  await using rx = httpReceiver();
  const token = "123456:ABCdefGhIJKlmnoPQRstu";
  const c = channel({
    id: "tg",
    kind: "telegram",
    url: rx.url + "tgproxy/",
    token,
    chat_id: -1001234,
  });
  await sendMessage(c, message());
  const r = rx.got[0]!;
  assert.equal(r.method, "POST");
  assert.equal(r.path, `/tgproxy/bot${token}/sendMessage`);
  const b = JSON.parse(r.body);
  assert.equal(b.chat_id, -1001234);
  assert.ok(b.text.length <= 4096);
  assert.match(b.text, /TCP SYN port scan/);
});

Deno.test("a refused send is a ChannelError with the receiver's answer and no secret in it", async () => {
  await using rx = httpReceiver();
  rx.down = true;
  const token = "123456:ABCdefGhIJKlmnoPQRstu";
  const c = channel({
    id: "tg",
    kind: "telegram",
    url: rx.url,
    token,
    chat_id: 5,
  });
  await assert.rejects(() => sendMessage(c, message()), (e: unknown) => {
    assert.ok(e instanceof ChannelError);
    assert.match(e.message, /HTTP 503: receiver down/);
    assert.ok(!e.message.includes("ABCdefGhIJKlmnoPQRstu"), e.message);
    return true;
  });
});

Deno.test("syslog sends RFC 5424 over UDP and over TCP with octet counting", async () => {
  await using l = await syslogListener();
  for (const transport of ["udp", "tcp"]) {
    await sendMessage(
      channel({
        id: transport,
        kind: "syslog",
        host: "127.0.0.1",
        port: l.port,
        transport,
      }),
      message(),
    );
  }
  await waitFor(
    "a message over each transport",
    () => [l.udp.length, l.tcp.length],
    ([u, t]) => u! >= 1 && t! >= 1,
  );
  for (const line of [l.udp[0], l.tcp[0]]) {
    assert.ok(line, JSON.stringify(l));
    // facility 4 (security) × 8 + severity 2 (crit) = 34
    assert.match(
      line,
      /^<34>1 2026-12-07T10:00:00\.000Z \S+ netsentinel \d+ alert \[netsentinel@32473 id="test-1" count="1" severity="1"\] \uFEFFhigh: port_scan/,
    );
  }
});

const noSmtp = !(await haveAiosmtpd());

Deno.test({
  name:
    "email goes through an SMTP server with STARTTLS and login, and with implicit TLS, to every recipient" +
    (noSmtp && !CI ? " (skipped: no python3-aiosmtpd)" : ""),
  ignore: noSmtp && !CI,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ns-smtp-" });
    try {
      const tls = await makeCert(dir);
      for (const mode of ["starttls", "tls"] as const) {
        await using smtp = await smtpServer(mode, tls, "ns", "mail-pass-1");
        const c = channel({
          id: "mail",
          kind: "email",
          host: "127.0.0.1",
          port: smtp.port,
          security: mode,
          username: "ns",
          password: "mail-pass-1",
          from: "netsentinel@home.test",
          to: ["me@home.test", "you@home.test"],
          ca: tls.ca,
        });
        const answer = await sendMessage(c, message());
        assert.match(answer, /^SMTP 250/);
        await waitFor("the mail", () => smtp.mails.length, (n) => n >= 1);
        assert.equal(smtp.mails.length, 1);
        const m = smtp.mails[0]!;
        assert.equal(m.from, "netsentinel@home.test");
        assert.deepEqual(m.to, ["me@home.test", "you@home.test"]);
        assert.equal(m.tls, true);
        assert.equal(m.auth, true);
        assert.match(m.subject, /^\[NetSentinel\] high: port_scan: .* → /);
        assert.equal(m.message_id, "<test-1@netsentinel>");
        assert.match(
          m.text,
          /TCP SYN port scan: 203\.0\.113\.9 → 10\.99\.0\.10:22/,
        );
        assert.match(m.text, /http:\/\/box\.test:8080\/alerts\/01J/);
        // A wrong password is refused with the server's answer, not the password.
        await assert.rejects(
          () =>
            sendMessage({
              ...c,
              target: {
                ...c.target,
                password: "wrong-pass-2",
              } as typeof c.target,
            }, message()),
          (e: unknown) => {
            assert.ok(e instanceof ChannelError);
            assert.match(e.message, /535|auth/i);
            assert.ok(!e.message.includes("wrong-pass-2"), e.message);
            return true;
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("syslog sends RFC 5424 over TLS to a collector with a private CA", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-syslog-tls-" });
  try {
    const tls = await makeCert(dir);
    await using l = await syslogListener(tls);
    const c = channel({
      id: "siem",
      kind: "syslog",
      host: "127.0.0.1",
      port: l.port,
      transport: "tls",
      ca: tls.ca,
      facility: 10,
      app_name: "ns-lab",
    });
    assert.match(await sendMessage(c, message()), /^TLS message sent/);
    await waitFor("the message", () => l.tcp.length, (n) => n >= 1);
    // facility 10 (authpriv) × 8 + severity 2 (crit) = 82
    assert.match(
      l.tcp[0]!,
      /^<82>1 \S+ \S+ ns-lab \d+ alert \[netsentinel@32473 id="test-1"/,
    );
    // Without the CA the certificate is refused, and said so.
    const untrusted = channel({
      id: "siem",
      kind: "syslog",
      host: "127.0.0.1",
      port: l.port,
      transport: "tls",
    });
    await assert.rejects(() => sendMessage(untrusted, message()), ChannelError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
