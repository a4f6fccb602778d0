/**
 * Notifications through the whole appliance: channels added, listed with
 * secrets masked, tested, edited and removed over the API (the config file
 * saved with mode 0600), hostile channel documents refused with the field
 * named; a replayed port scan reaching a webhook with its link; and the
 * Settings page in headless Chromium (send test, the server's answer, last
 * success and error), with a screenshot.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  feedUpdateFailed,
  rulesUpdateFailed,
} from "../../common/appliance_event.ts";
import { hmacHex } from "../../notify/channels.ts";
import type { Message } from "../../notify/message.ts";
import { httpReceiver } from "../../notify/_testing.ts";
import { openStore, StoreWriter } from "../../store/mod.ts";
import { makeAlert } from "../../store/_testing.ts";
import {
  apiCall,
  signIn,
  startAppliance,
  TEST_PASSWORD,
  waitFor,
} from "./_appliance.ts";
import {
  browserUnavailable,
  launchBrowser,
  screenshot,
  waitInPage,
} from "./_browser.ts";
import { SCANNER, writeDashboardCapture } from "./_captures.ts";

Deno.test("channels are added, listed masked, tested, edited and removed over the API; the config file is 0600 and logs hold no secret", async () => {
  await using rx = httpReceiver();
  const logs: string[] = [];
  const log = {
    debug: (m: string, f?: Record<string, unknown>) =>
      logs.push(JSON.stringify([m, f])),
    info: (m: string, f?: Record<string, unknown>) =>
      logs.push(JSON.stringify([m, f])),
    warn: (m: string, f?: Record<string, unknown>) =>
      logs.push(JSON.stringify([m, f])),
    error: (m: string, f?: Record<string, unknown>) =>
      logs.push(JSON.stringify([m, f])),
  };
  await using app = await startAppliance({
    config: { notify: { public_url: "http://box.test:8080" } },
    log,
  });
  const cookie = await signIn(app.url);
  const secret = "hmac-secret-for-test";
  const add = await apiCall(app.url, cookie, "POST", "/api/notify/channels", {
    id: "hook",
    name: "Team hook",
    kind: "webhook",
    url: rx.url + "services/T00/B00/tokenpart",
    secret,
  });
  assert.equal(add.status, 201, JSON.stringify(add.data));
  const listed = await apiCall(app.url, cookie, "GET", "/api/notify");
  const all = JSON.stringify(listed.data);
  assert.ok(!all.includes(secret), all);
  assert.ok(!all.includes("tokenpart"), all);
  const ch =
    (listed.data.channels as { channel: Record<string, unknown> }[])[0]!
      .channel;
  assert.equal(ch.secret, "********");
  assert.equal(ch.url, `${rx.url.slice(0, -1)}/********`);

  const file = join(app.dir, "data", "config.json");
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  assert.match(await Deno.readTextFile(file), /hmac-secret-for-test/);

  // Send test: the server's answer comes back; the receiver checks the signature.
  const t1 = await apiCall(
    app.url,
    cookie,
    "POST",
    "/api/notify/channels/hook/test",
  );
  assert.equal(t1.status, 200);
  assert.equal(t1.data.ok, true);
  assert.match(String(t1.data.answer), /^HTTP 200/);
  const got = rx.got[0]!;
  assert.equal(got.path, "/services/T00/B00/tokenpart");
  assert.equal(
    got.headers["x-netsentinel-signature"],
    `sha256=${await hmacHex(secret, got.body)}`,
  );
  assert.equal(JSON.parse(got.body).netsentinel.kind, "test");

  // Edit with the masked values sent back: the secrets stay.
  const edit = await apiCall(
    app.url,
    cookie,
    "PUT",
    "/api/notify/channels/hook",
    {
      ...ch,
      name: "Renamed",
      route: { min_severity: 1 },
    },
  );
  assert.equal(edit.status, 200, JSON.stringify(edit.data));
  rx.down = true;
  const t2 = await apiCall(
    app.url,
    cookie,
    "POST",
    "/api/notify/channels/hook/test",
  );
  assert.equal(t2.data.ok, false);
  assert.match(String(t2.data.answer), /HTTP 503: receiver down/);
  rx.down = false;
  await apiCall(app.url, cookie, "POST", "/api/notify/channels/hook/test");
  const g2 = rx.got[1]!;
  assert.equal(g2.path, "/services/T00/B00/tokenpart");
  assert.equal(
    g2.headers["x-netsentinel-signature"],
    `sha256=${await hmacHex(secret, g2.body)}`,
  );
  const after = await apiCall(app.url, cookie, "GET", "/api/notify");
  const st = (after.data.channels as { status: Record<string, unknown> }[])[0]!
    .status;
  assert.ok(st.last_success !== null);
  assert.match(String(st.last_error), /HTTP 503/);

  // Hostile documents: 400 naming the field, nothing changes.
  const bad: [unknown, number, string | undefined][] = [
    [
      { id: "x", kind: "webhook", url: "javascript:alert(1)" },
      400,
      "channel.url",
    ],
    [
      { id: "x", kind: "webhook", url: "https://a.test/\r\nX: y" },
      400,
      "channel.url",
    ],
    [{ id: "../x", kind: "ntfy", topic: "t" }, 400, "channel.id"],
    [{ id: "hook", kind: "ntfy", topic: "t" }, 400, "id"],
    [
      { id: "y", kind: "email", host: "h", from: "a@b", to: ["c@d\nBcc: e@f"] },
      400,
      "channel.to[0]",
    ],
    [["not", "an", "object"], 400, undefined],
    ["{not json", 400, undefined],
  ];
  for (const [doc, status, field] of bad) {
    const r = await apiCall(
      app.url,
      cookie,
      "POST",
      "/api/notify/channels",
      doc,
    );
    assert.equal(r.status, status, JSON.stringify([doc, r.data]));
    if (field) assert.equal(r.data.field, field, JSON.stringify(r.data));
  }
  assert.equal(
    (await apiCall(app.url, cookie, "PUT", "/api/notify/channels/nope", {
      kind: "ntfy",
      topic: "t",
    })).status,
    404,
  );
  assert.equal(
    (await apiCall(
      app.url,
      cookie,
      "POST",
      "/api/notify/channels/Bad%20Id/test",
    ))
      .status,
    400,
  );
  const del = await apiCall(
    app.url,
    cookie,
    "DELETE",
    "/api/notify/channels/hook",
  );
  assert.equal(del.status, 200);
  const empty = await apiCall(app.url, cookie, "GET", "/api/notify");
  assert.deepEqual(empty.data.channels, []);
  assert.ok(!(await Deno.readTextFile(file)).includes(secret));
  for (const line of logs) {
    assert.ok(!line.includes(secret) && !line.includes("tokenpart"), line);
  }
});

Deno.test("a replayed port scan reaches a webhook as one message with the alert and its link", async () => {
  await using rx = httpReceiver();
  const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
  try {
    await writeDashboardCapture(join(caps, "scan.pcap"), {
      startUs: (Date.now() - 30_000) * 1000,
    });
    await using app = await startAppliance({
      capturesDir: caps,
      config: {
        notify: {
          public_url: "http://box.test:8080/",
          channels: [{
            id: "hook",
            kind: "webhook",
            url: rx.url + "hook",
            digest: "2s",
            route: { types: ["port_scan"] },
          }],
        },
      },
    });
    const cookie = await signIn(app.url);
    const r = await apiCall(app.url, cookie, "POST", "/api/replay/start", {
      file: "scan.pcap",
      speed: 0,
    });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    await waitFor("the webhook", () => rx.got.length, (n) => n >= 1);
    const m = JSON.parse(rx.got[0]!.body).netsentinel as Message;
    const scan = m.items.find((i) => i.type === "port_scan");
    assert.ok(scan, JSON.stringify(m));
    assert.equal(scan.src, SCANNER);
    assert.equal(scan.link, `http://box.test:8080/alerts/${scan.id}`);
    const alert = await apiCall(
      app.url,
      cookie,
      "GET",
      `/api/alerts/${scan.id}`,
    );
    assert.equal(alert.status, 200);
  } finally {
    await Deno.remove(caps, { recursive: true });
  }
});

const missing = await browserUnavailable();

Deno.test({
  name:
    "the Settings page adds a channel, sends a test and shows the answer, last success and last error",
  ignore: missing !== null && Deno.env.get("CI") !== "true",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    await using rx = httpReceiver();
    await using app = await startAppliance({
      notifyBackoffMs: [20, 20],
      config: {
        notify: {
          channels: [{
            id: "phone",
            name: "My phone",
            digest: 0,
            kind: "ntfy",
            url: rx.url,
            topic: "home-ids",
            token: "tk_secret_value",
            quiet_hours: { from: "22:00", to: "07:00" },
          }],
        },
      },
    });
    await using b = await launchBrowser();
    const { page, errors, cspViolations } = await b.page();
    await page.goto(app.url + "/settings");
    await page.type("input[name=password]", TEST_PASSWORD);
    await Promise.all([
      page.waitForNavigation(),
      page.click("button[type=submit]"),
    ]);
    await waitInPage(
      page,
      "hydration",
      () => document.documentElement.dataset.hydrated === "true",
    );
    assert.ok(!(await page.content()).includes("tk_secret_value"));

    // Add a webhook through the form.
    await page.click("xpath/.//button[contains(., 'Add channel')]");
    await page.type(".channel-form input[name=id]", "team");
    await page.type(".channel-form input[name=name]", "Team chat");
    await page.type(".channel-form input[name=url]", rx.url + "team");
    await page.select(".channel-form select[name=preset]", "mattermost");
    await page.click("xpath/.//button[contains(., 'Save channel')]");
    await waitInPage(
      page,
      "the new channel",
      () => document.querySelector("tr[data-channel=team]") !== null,
    );

    // Send test on it: the server's answer shows, and the last success.
    await page.click("tr[data-channel=team] [data-testid=test]");
    const answer = await waitInPage(
      page,
      "the answer",
      () => {
        const t = document.querySelector("[data-testid=notify-result]")
          ?.textContent ?? "";
        return t.startsWith("Sent") ? t : "";
      },
    );
    assert.match(answer, /^Sent: HTTP 200/);
    assert.equal(JSON.parse(rx.got[0]!.body).username, "NetSentinel");
    await waitInPage(
      page,
      "last success",
      () =>
        document.querySelector(
          "tr[data-channel=team] [data-testid=last-success]",
        )?.textContent !== "never",
    );

    // The receiver down: the test fails with its answer, shown as last error.
    rx.down = true;
    await page.click("tr[data-channel=phone] [data-testid=test]");
    const failed = await waitInPage(
      page,
      "the refusal",
      () => {
        const t = document.querySelector("[data-testid=notify-result].error")
          ?.textContent ?? "";
        return t.startsWith("Not sent") ? t : "";
      },
    );
    assert.match(failed, /HTTP 503: receiver down/);
    assert.ok(!failed.includes("tk_secret_value"));
    const lastError = await waitInPage(
      page,
      "last error",
      () =>
        document.querySelector(
            "tr[data-channel=phone] [data-testid=last-error]",
          )?.textContent?.includes("503")
          ? document.querySelector(
            "tr[data-channel=phone] [data-testid=last-error]",
          )!.textContent
          : "",
    );
    assert.match(lastError ?? "", /HTTP 503/);

    // An alert while the receiver stays down: after the last try it is a
    // failed message, listed with its error after a reload.
    app.app.notifier.alert(makeAlert(1, { src: "203.0.113.77", severity: 1 }));
    await waitFor(
      "the failed message",
      async () => (await app.app.notifier.failed()).length,
      (n) => n >= 1,
    );
    await page.reload();
    const failedRow = await waitInPage(
      page,
      "the failed message on the page",
      () =>
        document.querySelector("[data-testid=failed] tbody tr")?.textContent ??
          "",
    );
    assert.match(failedRow, /phone/);
    assert.match(failedRow, /203\.0\.113\.77/);
    assert.match(failedRow, /HTTP 503: receiver down \(3 tries\)/);

    // Edit opens with secrets masked.
    await page.click(
      "xpath/.//tr[@data-channel='phone']//button[contains(., 'Edit')]",
    );
    const token = await page.$eval(
      ".channel-form input[name=token]",
      (el) => (el as HTMLInputElement).value,
    );
    assert.equal(token, "********");
    assert.equal(
      await page.$eval(
        ".channel-form input[name=quiet_from]",
        (el) => (el as HTMLInputElement).value,
      ),
      "22:00",
    );
    await screenshot(page, "settings-notifications");
    await page.click("xpath/.//button[contains(., 'Save channel')]");
    await waitInPage(
      page,
      "saved",
      () =>
        document.querySelector("[data-testid=notify-result]")?.textContent
          ?.startsWith("Saved") ?? false,
    );
    rx.down = false;
    await page.click("tr[data-channel=phone] [data-testid=test]");
    await waitFor(
      "the ntfy test with the kept token",
      () => rx.got.filter((g) => g.path === "/").length,
      (n) => n >= 1,
    );
    const ntfy = rx.got.find((g) => g.path === "/")!;
    assert.equal(ntfy.headers.authorization, "Bearer tk_secret_value");
    assert.deepEqual(errors, []);
    assert.deepEqual(cspViolations, []);
    // The same section on a phone, dark.
    await page.close();
    const phone = await b.page({ phone: true, dark: true });
    await phone.page.goto(app.url + "/settings#notifications");
    await waitInPage(
      phone.page,
      "hydration on the phone",
      () => document.documentElement.dataset.hydrated === "true",
    );
    await screenshot(phone.page, "settings-notifications-phone");
    assert.deepEqual(phone.errors, []);
  },
});

Deno.test("appliance events reach a channel: capture down once per outage, feed and rules update failures through their hooks, and the daily summary from what KV holds", async () => {
  await using rx = httpReceiver();
  const hour = new Date().getHours();
  await using app = await startAppliance({
    source: { kind: "live", iface: "nsnope0", filter: "" },
    before: async (dir) => {
      using store = await openStore(dir);
      const w = new StoreWriter(store, { intervalMs: 50 });
      const now = Date.now();
      for (let i = 0; i < 6; i++) {
        w.queueAlert(
          makeAlert(i, {
            src: i < 4 ? "203.0.113.9" : "198.51.100.2",
            type: i < 4 ? "port_scan" : "brute_force",
            severity: i < 4 ? 2 : 1,
            timeMs: now - 3_600_000 + i * 1000,
          }),
          true,
        );
      }
      w.queueAlert(
        makeAlert(9, {
          src: "192.168.1.77",
          type: "new_host",
          severity: 4,
          timeMs: now - 60_000,
        }),
        true,
      );
      // Older than a day: not in the summary.
      w.queueAlert(makeAlert(10, { timeMs: now - 2 * 86_400_000 }), true);
      await w.close();
    },
    config: {
      notify: {
        channels: [
          {
            id: "ops",
            kind: "webhook",
            url: rx.url + "ops",
            digest: 0,
            route: {
              events: [
                "capture_down",
                "feed_update_failed",
                "rules_update_failed",
              ],
            },
          },
          {
            id: "daily",
            kind: "webhook",
            url: rx.url + "daily",
            daily_summary: { hour, only: true },
          },
        ],
      },
    },
  });
  const byPath = (p: string) => rx.got.filter((g) => g.path === p);
  await waitFor("capture down", () => byPath("/ops").length, (n) => n >= 1);
  const down = JSON.parse(byPath("/ops")[0]!.body).netsentinel as Message;
  assert.equal(down.items[0]!.type, "capture_down");
  assert.match(down.items[0]!.title, /Capture on "nsnope0" is down/);
  // The capture retries (restarts counted) without telling again.
  await waitFor(
    "a restart",
    () => (app.app.health().capture as { restarts?: number }).restarts ?? 0,
    (n) => n >= 1,
  );
  // The hooks the feed and rules updaters call.
  app.app.events(feedUpdateFailed("urlhaus", "HTTP 404 from the mirror"));
  app.app.events(rulesUpdateFailed("et-open", "checksum mismatch"));
  const opsItems = () =>
    byPath("/ops").flatMap((g) =>
      (JSON.parse(g.body).netsentinel as Message).items
    );
  await waitFor("the update failures", () => opsItems().length, (n) => n >= 3);
  const items = opsItems();
  assert.deepEqual(items.map((i) => i.type), [
    "capture_down",
    "feed_update_failed",
    "rules_update_failed",
  ]);
  assert.match(
    items[1]!.detail,
    /The update of the feed "urlhaus" failed: HTTP 404 from the mirror/,
  );
  assert.match(items[2]!.title, /Rules update failed: et-open/);
  await waitFor("the summary", () => byPath("/daily").length, (n) => n >= 1);
  const sum = JSON.parse(byPath("/daily")[0]!.body);
  const m = sum.netsentinel as Message;
  assert.equal(m.kind, "summary");
  assert.equal(m.title, "Daily summary: 7 alerts, 1 new devices, 0 blocks");
  for (
    const re of [
      /port_scan: 4/,
      /brute_force: 2/,
      /By severity: high 2, medium 4, info 1/,
      /New devices: 1 \(192\.168\.1\.77\)/,
      /Top sources: 203\.0\.113\.9 \(4\), 198\.51\.100\.2 \(2\)/,
      /Top targets: 10\.99\.0\.10 \(6\)/,
      // Whatever state capture is in when the summary is made.
      /Capture: (starting|(down|restarting) on nsnope0), 0 packets, 0 drops, \d+ restarts/,
    ]
  ) assert.match(sum.text, re);
  assert.equal(
    opsItems().filter((i) => i.type === "capture_down").length,
    1,
    "capture down told once",
  );
  assert.equal(byPath("/daily").length, 1);
});

Deno.test({
  name: "a data directory almost full raises disk_almost_full" +
    (Deno.uid() === 0 ? "" : " (skipped: needs root to mount a small tmpfs)"),
  ignore: Deno.uid() !== 0 && Deno.env.get("CI") !== "true",
  async fn() {
    assert.equal(Deno.uid(), 0, "needs root to mount a tmpfs");
    await using rx = httpReceiver();
    const mnt = await Deno.makeTempDir({ prefix: "ns-tmpfs-" });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt],
    }).output();
    assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
    try {
      // About 90% used before the appliance adds its database.
      await Deno.writeFile(join(mnt, "filler"), new Uint8Array(15_000_000));
      await using app = await startAppliance({
        before: async (dir) => {
          await Deno.remove(dir, { recursive: true });
          await Deno.symlink(mnt, dir);
        },
        config: {
          notify: {
            disk_free_percent: 20,
            channels: [{
              id: "ops",
              kind: "webhook",
              url: rx.url,
              digest: 0,
              route: { events: ["disk_almost_full"] },
            }],
          },
        },
      });
      await waitFor("the event", () => rx.got.length, (n) => n >= 1);
      const m = JSON.parse(rx.got[0]!.body).netsentinel as Message;
      assert.equal(m.items[0]!.type, "disk_almost_full");
      assert.match(m.items[0]!.title, /^Disk almost full: \d+\.\d% free$/);
      assert.match(
        m.items[0]!.detail,
        /under notify\.disk_free_percent \(20%\)/,
      );
      void app;
    } finally {
      const um = await new Deno.Command("umount", { args: [mnt] }).output();
      assert.ok(um.success, new TextDecoder().decode(um.stderr));
      await Deno.remove(mnt, { recursive: true });
    }
  },
});

Deno.test("new devices seen on the wire and blocks made by hand reach a channel as events", async () => {
  await using rx = httpReceiver();
  const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
  try {
    await writeDashboardCapture(join(caps, "home.pcap"), {
      startUs: (Date.now() - 30_000) * 1000,
      seconds: 4,
      scanAtS: -1,
    });
    await using app = await startAppliance({
      capturesDir: caps,
      config: {
        notify: {
          channels: [{
            id: "home",
            kind: "webhook",
            url: rx.url + "home",
            digest: 0,
            rate_limit: { messages: 100, per: "1m" },
            route: {
              types: ["port_scan"],
              events: ["new_device", "block_made"],
            },
          }],
        },
      },
    });
    const cookie = await signIn(app.url);
    const r = await apiCall(app.url, cookie, "POST", "/api/replay/start", {
      file: "home.pcap",
      speed: 0,
    });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    const items = () =>
      rx.got.flatMap((g) => (JSON.parse(g.body).netsentinel as Message).items);
    const dev = await waitFor(
      "a new device",
      () => items().find((i) => i.type === "new_device") ?? null,
      (i) => i !== null,
    );
    // The capture's frames come from a locally administered MAC: no vendor.
    assert.match(
      dev!.title,
      /^New device \d+\.\d+\.\d+\.\d+ \(randomised MAC\)$/,
    );
    assert.match(dev!.detail, /MAC 06:07:08:09:0a:0b, first seen by \w+/);
    const b = await apiCall(app.url, cookie, "POST", "/api/blocks", {
      target: "203.0.113.50",
      duration: "1h",
      reason: "seen in the logs",
    });
    assert.equal(b.status, 201, JSON.stringify(b.data));
    const made = await waitFor(
      "the block",
      () => items().find((i) => i.type === "block_made") ?? null,
      (i) => i !== null,
    );
    assert.equal(made!.src, "203.0.113.50");
    assert.match(made!.title, /^Blocked 203\.0\.113\.50 by hand$/);
    assert.match(
      made!.detail,
      /admin blocked 203\.0\.113\.50 until .*: seen in the logs/,
    );
  } finally {
    await Deno.remove(caps, { recursive: true });
  }
});
