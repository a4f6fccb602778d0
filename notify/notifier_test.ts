import assert from "node:assert/strict";
import {
  type Alert,
  AlertAggregator,
  type Detection,
  parsePolicy,
} from "../alerts/mod.ts";
import { makeAlert, tempStore, waitFor } from "../store/_testing.ts";
import { parseNotifyConfig } from "./config.ts";
import { alertItem, type Message, plainDeviceName } from "./message.ts";
import { Notifier } from "./notifier.ts";
import { createLogger } from "../common/logger.ts";
import { type HttpReceiver, httpReceiver } from "./_testing.ts";

/** A clock the test moves. */
function clock(start: number) {
  const c = { t: start, now: () => c.t };
  return c;
}

function config(rx: HttpReceiver, extra: Record<string, unknown> = {}) {
  return parseNotifyConfig({
    public_url: "http://box.test:8080/",
    channels: [{ id: "hook", kind: "webhook", url: rx.url + "hook", ...extra }],
  });
}

function messages(rx: HttpReceiver): Message[] {
  return rx.got.map((r) => JSON.parse(r.body).netsentinel as Message);
}

const T0 = new Date(2026, 11, 7, 12, 0, 0).getTime(); // local noon

Deno.test("alerts within the digest window become one message listing the first 20 and counting the rest", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const c = clock(T0);
  const n = new Notifier(tmp.store, config(rx, { digest: "5m" }), {
    now: c.now,
  });
  await n.start();
  try {
    for (let i = 0; i < 25; i++) {
      c.t += 1000;
      n.alert(makeAlert(i, { type: i < 22 ? "port_scan" : "brute_force" }));
      n.tick();
    }
    await n.idle();
    assert.equal(rx.got.length, 0, "nothing before the window ends");
    c.t = T0 + 301_000;
    n.tick();
    await waitFor("the digest", () => rx.got.length, (k) => k >= 1);
    const [m] = messages(rx);
    assert.equal(m!.count, 25);
    assert.equal(m!.items.length, 20);
    assert.deepEqual(m!.rest, { brute_force: 3, port_scan: 2 });
    assert.match(
      m!.title,
      /^25 alerts and events \(port_scan ×22, brute_force ×3\)/,
    );
    assert.equal(m!.link, "http://box.test:8080/alerts");
    const text = JSON.parse(rx.got[0]!.body).text as string;
    assert.match(text, /Stands for 25 alerts and events/);
    assert.match(text, /… and 5 more: brute_force ×3, port_scan ×2/);
  } finally {
    await n.stop();
  }
});

Deno.test("a flood of 10,000 alerts in a minute gives at most the configured messages, each saying how many it stands for", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const c = clock(T0);
  const n = new Notifier(
    tmp.store,
    config(rx, { digest: 0, rate_limit: { messages: 5, per: "1h" } }),
    { now: c.now },
  );
  await n.start();
  try {
    let k = 0;
    for (let s = 0; s < 60; s++) {
      for (let j = 0; j < 10_000 / 60 && k < 10_000; j++) {
        n.alert(makeAlert(k++, { src: `198.51.100.${k % 250}` }));
      }
      await n.idle();
      c.t += 1000;
      n.tick();
    }
    while (k < 10_000) n.alert(makeAlert(k++));
    n.tick();
    await n.idle();
    await waitFor(
      "the outbox to drain",
      () => n.report(),
      (r) => r[0]!.queued === 0,
    );
    const inMinute = messages(rx);
    assert.ok(
      inMinute.length >= 1 && inMinute.length <= 5,
      `${inMinute.length} messages`,
    );
    // The rest goes as one message once the rate period frees a send.
    c.t = T0 + 3_600_000 + 61_000;
    n.tick();
    await waitFor(
      "the held alerts",
      () => rx.got.length,
      (x) => x > inMinute.length,
    );
    const all = messages(rx);
    assert.ok(all.length <= 6, `${all.length} messages`);
    assert.equal(all.reduce((s, m) => s + m.count, 0), 10_000);
    for (const [i, m] of all.entries()) {
      const text = JSON.parse(rx.got[i]!.body).text as string;
      assert.match(
        text,
        new RegExp(`^NetSentinel: .*\\nStands for ${m.count} alert`),
      );
    }
  } finally {
    await n.stop();
  }
});

Deno.test("repeats of an aggregated alert send nothing more", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const n = new Notifier(tmp.store, config(rx, { digest: 0 }));
  await n.start();
  const policy = parsePolicy({ aggregation: { update_interval_s: 0 } });
  const agg = new AlertAggregator({ policy, onAlert: n.onAlert });
  let updates = 0;
  const agg2 = new AlertAggregator({
    policy,
    onAlert: (_a, isNew) => {
      if (!isNew) updates++;
    },
  });
  try {
    const t0 = Date.UTC(2026, 11, 7, 12) * 1000;
    for (let i = 0; i < 50; i++) {
      const d: Detection = {
        type: "brute_force",
        tsUs: t0 + i * 1_000_000,
        src: "203.0.113.7",
        dest: "10.99.0.10",
        destPort: 22,
        proto: "TCP",
        signature: "SSH brute force",
        signatureId: 1000010,
        category: "Attempted Administrator Privilege Gain",
        severity: 1,
        evidence: { attempts: i },
        explanation: "Many logins.",
      };
      agg.emit(d);
      agg2.emit(d);
    }
    assert.ok(updates > 10, `the aggregator reported ${updates} updates`);
    await waitFor("the alert", () => rx.got.length, (k) => k >= 1);
    await n.idle();
    // Nothing gathering and nothing queued: no other message can come.
    await waitFor(
      "nothing left to send",
      () => n.report(),
      (r) => r[0]!.queued === 0 && r[0]!.gathering === 0,
    );
    const all = messages(rx);
    assert.equal(all.length, 1);
    assert.equal(all[0]!.count, 1);
  } finally {
    await n.stop();
  }
});

Deno.test("quiet hours let only the most severe alerts through", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const night = new Date(2026, 11, 7, 23, 30).getTime();
  const c = clock(night);
  const n = new Notifier(
    tmp.store,
    config(rx, {
      digest: 0,
      route: { min_severity: 3 },
      quiet_hours: { from: "22:00", to: "07:00", min_severity: 1 },
    }),
    { now: c.now },
  );
  await n.start();
  try {
    n.alert(makeAlert(1, { severity: 2 }));
    n.alert(makeAlert(2, { severity: 3 }));
    n.alert(makeAlert(3, { severity: 1, src: "203.0.113.1" }));
    await waitFor("the severe one", () => rx.got.length, (k) => k >= 1);
    c.t = new Date(2026, 11, 8, 7, 5).getTime(); // morning: all pass again
    n.alert(makeAlert(4, { severity: 3, src: "203.0.113.4" }));
    await waitFor("the morning one", () => rx.got.length, (k) => k >= 2);
    const [m1, m2] = messages(rx);
    assert.equal(m1!.count, 1);
    assert.equal(m1!.items[0]!.src, "203.0.113.1");
    assert.equal(m2!.items[0]!.src, "203.0.113.4");
    assert.equal(n.counts.quiet, 2);
  } finally {
    await n.stop();
  }
});

Deno.test("routing picks alerts by severity, type, source and device, and events by type", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const n = new Notifier(
    tmp.store,
    config(rx, {
      digest: "10m",
      route: {
        min_severity: 2,
        types: ["port_scan", "brute_force"],
        sources: ["203.0.113.0/24"],
        devices: ["10.99.0.10"],
        events: ["capture_down"],
      },
    }),
  );
  await n.start();
  try {
    n.alert(makeAlert(1, { src: "203.0.113.5" })); // in
    n.alert(makeAlert(2, { src: "203.0.113.5", severity: 3 })); // too low
    n.alert(makeAlert(3, { src: "203.0.113.5", type: "dns_tunnel" })); // type
    n.alert(makeAlert(4, { src: "198.51.100.5" })); // source
    const other = makeAlert(5, { src: "203.0.113.6", type: "brute_force" });
    other.dest_ip = "10.99.0.11"; // device
    n.alert(other);
    n.event({
      type: "disk_almost_full",
      severity: 2,
      title: "Disk",
      detail: "",
      at: Date.now(),
    });
    n.event({
      type: "capture_down",
      severity: 1,
      title: "Capture down",
      detail: "eth0 gone",
      at: Date.now(),
    });
    const [r] = await n.report();
    assert.equal(r!.gathering, 2);
  } finally {
    await n.stop();
  }
});

Deno.test("an automatic block of a routed alert goes in the alert's message, not in a second one", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const n = new Notifier(tmp.store, config(rx, { digest: "1m" }));
  await n.start();
  try {
    const a = makeAlert(1, { src: "203.0.113.9", severity: 1 });
    n.alert(a, "203.0.113.9 for 1h");
    n.event({
      type: "block_made",
      severity: 2,
      title: "Blocked 203.0.113.9",
      detail: "for 1h",
      at: Date.now(),
      ip: "203.0.113.9",
      alert_id: a.netsentinel.id,
    });
    n.event({
      type: "block_made",
      severity: 2,
      title: "Blocked 198.51.100.1",
      detail: "by hand",
      at: Date.now(),
      ip: "198.51.100.1",
    });
    const [r] = await n.report();
    assert.equal(r!.gathering, 2);
  } finally {
    await n.stop();
  }
});

Deno.test("a channel down for a while gets every message once it is back, in order, each once", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  rx.down = true;
  const n = new Notifier(
    tmp.store,
    config(rx, { digest: 0, rate_limit: { messages: 100, per: "1m" } }),
    { backoffMs: Array(50).fill(30) },
  );
  await n.start();
  try {
    for (let i = 0; i < 8; i++) {
      n.alert(makeAlert(i, { src: `203.0.113.${i}` }));
      await n.idle();
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor("refusals", () => rx.refused, (k) => k >= 3);
    const [r] = await n.report();
    assert.ok(r!.queued >= 1);
    assert.match(r!.last_error ?? "", /HTTP 503: receiver down/);
    rx.down = false;
    await waitFor(
      "every alert",
      () => messages(rx).reduce((s, m) => s + m.count, 0),
      (k) => k >= 8,
    );
    const srcs = messages(rx).flatMap((m) => m.items.map((i) => i.src));
    assert.deepEqual(
      srcs,
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `203.0.113.${i}`),
    );
    const ids = rx.got.map((g) => g.headers["x-netsentinel-delivery"]);
    assert.equal(new Set(ids).size, ids.length);
    // The outbox entry goes once the receiver's answer is in.
    const [after] = await waitFor(
      "an empty outbox",
      () => n.report(),
      (r) => r[0]!.queued === 0,
    );
    assert.ok(after!.last_success !== null);
  } finally {
    await n.stop();
  }
});

Deno.test("after the last try a message is kept as failed with the error", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  rx.down = true;
  const n = new Notifier(tmp.store, config(rx, { digest: 0 }), {
    backoffMs: [10, 10],
  });
  await n.start();
  try {
    n.alert(makeAlert(1));
    const failed = await waitFor(
      "a failed message",
      () => n.failed(),
      (f) => f.length === 1,
    );
    assert.equal(failed[0]!.attempts, 3);
    assert.equal(failed[0]!.channel, "hook");
    assert.match(failed[0]!.error, /HTTP 503/);
    const [r] = await n.report();
    assert.equal(r!.failed, 1);
    assert.equal(r!.queued, 0);
    assert.equal(rx.refused, 3);
  } finally {
    await n.stop();
  }
});

Deno.test("the daily summary goes at the chosen hour once a day, and summary-only channels get nothing else", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  const c = clock(new Date(2026, 11, 7, 7, 59).getTime());
  let asked = 0;
  const n = new Notifier(
    tmp.store,
    config(rx, { digest: 0, daily_summary: { hour: 8, only: true } }),
    {
      now: c.now,
      summarize: (from, to) => {
        asked++;
        assert.equal(to - from, 86_400_000);
        return Promise.resolve({
          by_type: { port_scan: 3, new_host: 2 },
          by_severity: { "2": 3, "4": 2 },
          new_devices: ["10.99.0.50", "10.99.0.51"],
          blocks: 1,
          top_sources: [["203.0.113.9", 3]],
          top_targets: [["10.99.0.10", 3]],
          capture: "up on eth0, 1200 packets, 0 drops",
        });
      },
    },
  );
  await n.start();
  try {
    n.alert(makeAlert(1));
    n.tick();
    c.t += 60_000;
    n.tick();
    n.tick();
    await waitFor("the summary", () => rx.got.length, (k) => k >= 1);
    c.t += 3_600_000;
    n.tick();
    await n.idle();
    assert.equal(asked, 1);
    assert.equal(rx.got.length, 1);
    const m = messages(rx)[0]!;
    assert.equal(m.kind, "summary");
    assert.equal(m.title, "Daily summary: 5 alerts, 2 new devices, 1 blocks");
    const text = JSON.parse(rx.got[0]!.body).text as string;
    for (
      const re of [
        /port_scan: 3/,
        /By severity: medium 3, info 2/,
        /New devices: 2 \(10\.99\.0\.50, 10\.99\.0\.51\)/,
        /Blocks made: 1/,
        /Top sources: 203\.0\.113\.9 \(3\)/,
        /Top targets: 10\.99\.0\.10 \(3\)/,
        /Capture: up on eth0/,
      ]
    ) assert.match(text, re);
  } finally {
    await n.stop();
  }
});

Deno.test("retries are logged with the receiver's answer and never the channel's secrets", async () => {
  await using rx = httpReceiver();
  await using tmp = await tempStore();
  rx.down = true;
  const lines: string[] = [];
  const token = "987654:SecretBotTokenValue";
  const n = new Notifier(
    tmp.store,
    parseNotifyConfig({
      channels: [{
        id: "tg",
        kind: "telegram",
        url: rx.url,
        token,
        chat_id: 42,
        digest: 0,
      }],
    }),
    { backoffMs: [10, 10], log: createLogger({ write: (l) => lines.push(l) }) },
  );
  await n.start();
  try {
    n.alert(makeAlert(1));
    await waitFor("the failure", () => n.failed(), (f) => f.length === 1);
    assert.ok(
      lines.some((l) => l.includes("HTTP 503: receiver down")),
      lines.join("\n"),
    );
    for (const l of lines) {
      assert.ok(!l.includes("SecretBotTokenValue"), l);
    }
    const [r] = await n.report();
    assert.ok(!JSON.stringify(r).includes("SecretBotTokenValue"));
    assert.ok(
      !JSON.stringify(await n.failed()).includes("SecretBotTokenValue"),
    );
  } finally {
    await n.stop();
  }
});

Deno.test("an alert's message names the devices behind its addresses, without markup from the wire", () => {
  const a = {
    timestamp: "2026-12-07T12:00:00.000Z",
    event_type: "alert",
    src_ip: "192.168.1.57",
    dest_ip: "203.0.113.9",
    dest_port: 443,
    proto: "TCP",
    alert: {
      action: "allowed",
      signature_id: 1,
      rev: 1,
      signature: "Test",
      category: "x",
      severity: 2,
    },
    netsentinel: {
      id: "01JD0000000000000000000000",
      type: "port_scan",
      count: 1,
      first_seen: "2026-12-07T12:00:00.000Z",
      last_seen: "2026-12-07T12:00:00.000Z",
      evidence: {},
      explanation: "x",
      src_device: {
        mac: "b8:27:eb:12:34:56",
        name: "<!channel> kitchen-pi *bold*",
      },
    },
  } as unknown as Alert;
  const item = alertItem(a, null);
  assert.equal(
    item.title,
    "Test: 192.168.1.57 (channel kitchen-pi bold) → 203.0.113.9:443",
  );
  assert.equal(plainDeviceName("Jane’s iPhone"), "Jane’s iPhone");
  assert.equal(plainDeviceName(undefined), "");
});
