/**
 * The alert inbox in a real headless Chromium against the test appliance,
 * fed by replaying captures (two fixtures and port scans written for the
 * test): alerts grouped, keyboard actions (j/k move, e archive, s escalate,
 * x select, Enter open; none while typing in a field), bulk archive,
 * filters kept in the URL across a reload, a mute made from a group (its
 * scan dropped while it lasts; listed on the Settings page with its time
 * left and reason; removed there), a mute a few seconds long that the
 * Settings page shows ended by the clock, after which the next scan shows
 * up in the inbox live, and an auto-archive rule made from a group and
 * removed on the Settings page; the Settings page's lists following mutes
 * and rules made and removed through the API while it is open, and keeping
 * what they show when the browser goes offline or is signed out.
 * Screenshots go to `tests/artifacts/`.
 *
 * Puppeteer keeps a child process and sockets of its own, so these tests
 * run without Deno's resource and op sanitizers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "npm:puppeteer-core@24.8.2";
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

const missing = await browserUnavailable();
const ignore = missing !== null && Deno.env.get("CI") !== "true";
const opts = { ignore, sanitizeResources: false, sanitizeOps: false };

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

async function signInPage(page: Page, url: string): Promise<void> {
  await page.goto(url + "/signin");
  await page.type("input[name=password]", TEST_PASSWORD);
  await Promise.all([
    page.waitForNavigation(),
    page.click("button[type=submit]"),
  ]);
}

async function open(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await waitInPage(
    page,
    "hydration",
    () => document.documentElement.dataset.hydrated === "true",
  );
}

/** The inbox rows: group id, signature, source, target, count, classes. */
function rows(page: Page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("table.inbox tbody tr.group")].map((tr) => ({
      id: tr.getAttribute("data-group") ?? "",
      text: tr.querySelector("td.what a")?.textContent ?? "",
      src: tr.children[3]?.textContent ?? "",
      dst: tr.children[4]?.textContent ?? "",
      count: tr.querySelector("[data-testid=count]")?.textContent ?? "",
      cls: tr.className,
    }))
  );
}

Deno.test({
  name:
    "the inbox groups replayed alerts; keyboard, bulk, filters in the URL, mutes and auto-archive rules work in a browser",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
    try {
      for (const f of ["brute_ssh.pcap", "scan_udp.pcap"]) {
        await Deno.copyFile(join(FIXTURES, f), join(caps, f));
      }
      // Port scans from the same scanner at other home hosts, later and later.
      const t0 = (Date.now() - 3_600_000) * 1000;
      const targets = ["192.168.1.20", "192.168.1.21", "192.168.1.22"];
      for (const [i, target] of targets.entries()) {
        await writeDashboardCapture(join(caps, `scan${i}.pcap`), {
          startUs: t0 + i * 1000e6,
          seconds: 3,
          scanAtS: 1,
          scanTarget: target,
        });
      }
      await using app = await startAppliance({ capturesDir: caps });
      await using b = await launchBrowser();
      const { page, errors, cspViolations } = await b.page();
      await signInPage(page, app.url);

      const replay = async (file: string) => {
        const status = await page.evaluate(async (file) => {
          const r = await fetch("/api/replay/start", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ file, speed: 0 }),
          });
          return r.status;
        }, file);
        assert.equal(status, 200);
        await waitFor(
          `replay of ${file}`,
          () => app.replay.status(),
          (s) => s.source === file && s.state === "finished",
        );
      };
      for (const f of ["brute_ssh.pcap", "scan_udp.pcap", "scan0.pcap"]) {
        await replay(f);
      }
      await app.writer.flush();

      // The inbox: one row per (signature, source, target).
      await open(page, app.url + "/alerts");
      const first = await waitInPage(
        page,
        "groups",
        () => document.querySelectorAll("table.inbox tr.group").length >= 5,
      );
      assert.ok(first);
      let list = await rows(page);
      const kinds = list.map((r) => r.text);
      assert.ok(kinds.some((t) => /SSH login brute force/.test(t)), `${kinds}`);
      assert.ok(kinds.some((t) => /UDP port scan/.test(t)), `${kinds}`);
      assert.ok(kinds.some((t) => /port scan/i.test(t) && true));
      assert.ok(
        list.some((r) => r.src.includes(SCANNER) && r.dst === "192.168.1.20"),
      );
      assert.equal(
        new Set(list.map((r) => r.id)).size,
        list.length,
        "one row per group",
      );
      const total = list.length;
      await screenshot(page, "inbox");

      // Keyboard: j moves down, e archives the current group.
      await page.focus("body");
      await page.keyboard.press("j");
      await page.keyboard.press("j");
      await page.keyboard.press("k");
      list = await rows(page);
      assert.match(list[1]!.cls, /current/);
      const archivedId = list[1]!.id;
      await page.keyboard.press("e");
      await waitInPage(
        page,
        "the archived group gone",
        () =>
          document.querySelector("[data-testid=inbox-result]")?.textContent ===
            "Archived 1 group.",
      );
      list = await rows(page);
      assert.equal(list.length, total - 1);
      assert.ok(!list.some((r) => r.id === archivedId));
      // s escalates the current one: pinned to the top, marked.
      await page.keyboard.press("j");
      list = await rows(page);
      const current = list.find((r) => /current/.test(r.cls))!;
      await page.keyboard.press("s");
      await waitInPage(
        page,
        "the escalated group on top",
        () =>
          document.querySelector("table.inbox tbody tr.group")?.querySelector(
            "[data-testid=escalated]",
          ) !== null,
      );
      list = await rows(page);
      assert.equal(list[0]!.id, current.id);
      assert.match(list[0]!.cls, /escalated/);
      await screenshot(page, "inbox-keyboard");

      // Keys typed into a field do nothing.
      await page.click("input[name=src]");
      await page.keyboard.type("ejsx");
      assert.equal((await rows(page)).length, total - 1);
      assert.equal(
        await page.evaluate(() =>
          (document.querySelector("input[name=src]") as HTMLInputElement).value
        ),
        "ejsx",
      );
      await page.evaluate(() => {
        (document.querySelector("input[name=src]") as HTMLInputElement).value =
          "";
        (document.activeElement as HTMLElement).blur();
      });

      // The server kept it: a reload shows the same.
      await open(page, app.url + "/alerts");
      list = await rows(page);
      assert.equal(list.length, total - 1);
      assert.equal(list[0]!.id, current.id);

      // Bulk: x selects the last two, the bar archives both.
      await page.focus("body");
      for (let i = 0; i < total; i++) await page.keyboard.press("j");
      await page.keyboard.press("x");
      await page.keyboard.press("k");
      await page.keyboard.press("x");
      assert.equal(
        await page.evaluate(() =>
          document.querySelector("[data-testid=selected-count]")?.textContent
        ),
        "2 selected",
      );
      const picked = (await rows(page)).filter((r) => /picked/.test(r.cls))
        .map((r) => r.id);
      assert.equal(picked.length, 2);
      await screenshot(page, "inbox-selected");
      await page.click("[data-testid=bulk-archive]");
      await waitInPage(
        page,
        "two archived",
        () =>
          document.querySelector("[data-testid=inbox-result]")?.textContent ===
            "Archived 2 groups.",
      );
      list = await rows(page);
      assert.equal(list.length, total - 3);
      assert.ok(!list.some((r) => picked.includes(r.id)));

      // The archived view, filtered by type: the filters live in the URL.
      await open(page, app.url + "/alerts?view=archived");
      list = await rows(page);
      assert.deepEqual(
        list.map((r) => r.id).sort(),
        [archivedId, ...picked].sort(),
      );
      assert.ok(
        (await page.$$eval("[data-testid=archived]", (e) => e.length)) === 3,
      );
      await page.select("select[name=type]", "new_host");
      await Promise.all([
        page.waitForNavigation(),
        page.click("form.filters button[type=submit]"),
      ]);
      const url = new URL(page.url());
      assert.equal(url.searchParams.get("view"), "archived");
      assert.equal(url.searchParams.get("type"), "new_host");
      await page.reload();
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      assert.equal(
        await page.$eval(
          "select[name=type]",
          (s) => (s as HTMLSelectElement).value,
        ),
        "new_host",
      );
      assert.equal(
        await page.$eval(
          "nav.tabs a[aria-current=page]",
          (a) => a.textContent,
        ),
        "Archived",
      );
      list = await rows(page);
      assert.ok(
        list.every((r) => /New host/.test(r.text)),
        JSON.stringify(list),
      );
      await screenshot(page, "inbox-archived-filtered");

      // Mute the scanner's source for an hour from its group, with a reason.
      await open(page, app.url + "/alerts?type=port_scan");
      list = await rows(page);
      const scanRow = list.find((r) => r.src.includes(SCANNER))!;
      assert.ok(scanRow, JSON.stringify(list));
      await page.click(`tr[data-group="${scanRow.id}"] [data-testid=mute]`);
      await page.waitForSelector("[data-testid=mute-form]");
      await page.select("[data-testid=mute-form] select[name=scope]", "src");
      await page.select("[data-testid=mute-form] select[name=duration]", "1h");
      await page.type(
        "[data-testid=mute-form] input[name=reason]",
        "scanme is our own test",
      );
      // Typing "e" in the reason archived nothing.
      assert.equal((await rows(page)).length, list.length);
      await screenshot(page, "inbox-mute-form");
      await page.click("[data-testid=mute-submit]");
      await waitInPage(
        page,
        "the mute confirmed",
        () =>
          /is muted for 1 hour/.test(
            document.querySelector("[data-testid=inbox-result]")
              ?.textContent ?? "",
          ),
      );
      // While muted, the next scan from it is dropped.
      const before = app.app.aggregator.counters.suppressed;
      await replay("scan1.pcap");
      assert.ok(app.app.aggregator.counters.suppressed > before);
      await app.writer.flush();
      const scans = await page.evaluate(
        async (src) =>
          (await (await fetch(`/api/inbox?view=all&src=${src}`)).json()).groups
            .length,
        SCANNER,
      );
      assert.equal(scans, 1);

      // The Settings page lists it with its time left and reason.
      await open(page, app.url + "/settings");
      const row = await waitInPage(
        page,
        "the mute row",
        () => {
          const tr = document.querySelector("[data-testid=mutes] tbody tr");
          return tr ? tr.textContent : null;
        },
      );
      assert.match(row!, /scanme is our own test/);
      assert.match(row!, /from 45\.33\.32\.156/);
      assert.match(row!, /(59|60)m \d+s|1h 0m/);
      await page.$eval("#inbox", (e) => e.scrollIntoView());
      await screenshot(page, "settings-mutes");

      // Removed there.
      await page.click("[data-testid=remove-mute]");
      await waitInPage(
        page,
        "no mutes",
        () => document.querySelector("[data-testid=no-mutes]") !== null,
      );
      assert.equal(
        await page.evaluate(async () =>
          (await (await fetch("/api/suppressions")).json()).suppressions.length
        ),
        0,
      );

      // A mute that ends a few seconds from now (the API takes an exact
      // "until"; the form offers 1 hour and up): the Settings page counts it
      // down and shows it ended, by the clock.
      const until = new Date(Date.now() + 8000).toISOString();
      const made = await page.evaluate(
        async (group, until) => {
          const r = await fetch("/api/suppressions", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              group_id: group,
              scope: "src",
              until,
              reason: "a short one",
            }),
          });
          return r.status;
        },
        scanRow.id,
        until,
      );
      assert.equal(made, 201);
      await open(page, app.url + "/settings");
      assert.match(
        await page.$eval(
          "[data-testid=mutes] [data-testid=left]",
          (td) => td.textContent ?? "",
        ),
        /^[1-8]s$/,
      );
      await waitInPage(
        page,
        "the mute shown ended",
        () =>
          document.querySelector("[data-testid=mutes] [data-testid=left]")
            ?.textContent === "ended",
      );
      await page.$eval("#inbox", (e) => e.scrollIntoView());
      await screenshot(page, "settings-mute-ended");

      // Ended, it no longer holds: the next scan shows up in the inbox
      // live, blinking until seen.
      await waitFor(
        "the API to say the mute ended",
        () =>
          page.evaluate(async () =>
            (await (await fetch("/api/suppressions")).json()).suppressions[0]
              ?.active
          ),
        (active) => active === false,
      );
      const held = app.app.aggregator.counters.suppressed;
      await open(page, app.url + "/alerts?type=port_scan");
      await waitInPage(
        page,
        "the live socket",
        () => document.documentElement.dataset.live === "live",
      );
      await replay("scan2.pcap");
      await waitInPage(
        page,
        "the new scan's group, unseen",
        () =>
          [...document.querySelectorAll("table.inbox tr.group.unseen")].some(
            (tr) => tr.textContent?.includes("192.168.1.22"),
          ),
      );
      await screenshot(page, "inbox-live");
      assert.equal(app.app.aggregator.counters.suppressed, held);

      // Archive from now on: a rule made from the group, listed and removed
      // on the Settings page.
      list = await rows(page);
      const ruleRow = list.find((r) => r.dst === "192.168.1.22")!;
      await page.click(`tr[data-group="${ruleRow.id}"] [data-testid=mute]`);
      await page.waitForSelector("[data-testid=mute-form]");
      await page.select("[data-testid=mute-form] select[name=scope]", "pair");
      await page.select(
        "[data-testid=mute-form] select[name=duration]",
        "forever",
      );
      await page.type(
        "[data-testid=mute-form] input[name=reason]",
        "lab host, expected",
      );
      await page.click("[data-testid=rule-submit]");
      await waitInPage(
        page,
        "the rule confirmed",
        () =>
          /archived on arrival for good/.test(
            document.querySelector("[data-testid=inbox-result]")
              ?.textContent ?? "",
          ),
      );
      assert.ok(!(await rows(page)).some((r) => r.id === ruleRow.id));
      await open(page, app.url + "/settings");
      const rule = await page.$eval(
        "[data-testid=rules] tbody tr",
        (tr) => tr.textContent,
      );
      assert.match(rule!, /lab host, expected/);
      assert.match(rule!, /from 45\.33\.32\.156 to 192\.168\.1\.22/);
      assert.match(rule!, /never ends/);
      await page.click("[data-testid=remove-rule]");
      await waitInPage(
        page,
        "no rules",
        () => document.querySelector("[data-testid=no-rules]") !== null,
      );
      const rules = await page.evaluate(async () =>
        (await (await fetch("/api/inbox/rules")).json()).rules.length
      );
      assert.equal(rules, 0);

      // Enter opens the current group's newest alert.
      await open(page, app.url + "/alerts");
      await page.focus("body");
      await page.keyboard.press("j");
      const target = (await rows(page)).find((r) => /current/.test(r.cls))!;
      const href = await page.$eval(
        `tr[data-group="${target.id}"] td.what a`,
        (a) => a.getAttribute("href"),
      );
      await Promise.all([
        page.waitForNavigation(),
        page.keyboard.press("Enter"),
      ]);
      assert.equal(new URL(page.url()).pathname, href);

      // A phone-sized look at the inbox.
      const phone = await b.page({ phone: true, dark: true });
      await phone.page.goto(app.url + "/alerts");
      await screenshot(phone.page, "inbox-phone-dark");

      assert.deepEqual(errors, []);
      assert.deepEqual(cspViolations, []);
    } finally {
      await Deno.remove(caps, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the policy editor never undoes a mute: an untouched editor shows a mute removed below it, and an edit begun before a mute made elsewhere keeps its edits, says the policy changed, and is refused until Revert loads the policy in force",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    await using app = await startAppliance();
    await using b = await launchBrowser();
    const { page, errors } = await b.page();
    await signInPage(page, app.url);
    // Mutes made as another tab (or the Alerts page) makes them.
    const mute = (ip: string, reason: string) =>
      page.evaluate(
        async (ip, reason) =>
          (await fetch("/api/suppressions", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              signature_id: 1000001,
              type: "port_scan",
              ip,
              duration: "1d",
              reason,
            }),
          })).status,
        ip,
        reason,
      );
    const editor = () =>
      page.$eval("textarea.code", (el) => (el as HTMLTextAreaElement).value);
    const editBurst = (n: number) =>
      page.$eval("textarea.code", (el, n) => {
        const t = el as HTMLTextAreaElement;
        const doc = JSON.parse(t.value);
        doc.rate_limit.burst = n;
        t.value = JSON.stringify(doc, null, 2);
        t.dispatchEvent(new Event("input", { bubbles: true }));
      }, n);
    const inForce = () =>
      page.evaluate(async () => await (await fetch("/api/config")).json());

    assert.equal(await mute("198.51.100.7", "first mute"), 201);
    await open(page, app.url + "/settings");
    assert.match(await editor(), /first mute/);
    // Removed in the list below: the untouched editor follows.
    await page.click("[data-testid=remove-mute]");
    await waitInPage(
      page,
      "the editor without the removed mute",
      () =>
        !(document.querySelector("textarea.code") as HTMLTextAreaElement)
          .value.includes("first mute"),
    );
    // An edit begun, then a mute made elsewhere: the save is refused and
    // the mute stays.
    await editBurst(50);
    assert.equal(await mute("198.51.100.8", "second mute"), 201);
    // The list below notices the mute within seconds and says so; the
    // editor keeps the edits and the tag they were made from.
    await waitInPage(
      page,
      "the mute in the list",
      () =>
        document.querySelector("[data-testid=mutes]")?.textContent?.includes(
          "second mute",
        ) ?? false,
    );
    const stale = await waitInPage(
      page,
      "the editor's note that the policy changed",
      () =>
        document.querySelector("[data-testid=policy-stale]")?.textContent ??
          "",
    );
    assert.match(stale, /changed since these edits began/);
    assert.doesNotMatch(await editor(), /second mute/);
    assert.match(await editor(), /"burst": 50/);
    await page.click("xpath/.//button[contains(., 'Save policy')]");
    const refused = await waitInPage(
      page,
      "the refusal",
      () =>
        document.querySelector("[data-testid=policy-result].error")
          ?.textContent ?? "",
    );
    assert.match(refused, /changed since it was loaded/);
    let doc = await inForce();
    assert.equal(doc.rate_limit.burst, 100);
    assert.ok(
      doc.suppressions.some((s: { note?: string }) => s.note === "second mute"),
    );
    await screenshot(page, "settings-policy-refused");
    // Revert loads the policy in force; the edit made again is saved, and
    // the mute is still there.
    await page.click("xpath/.//button[contains(., 'Revert')]");
    await waitInPage(
      page,
      "the editor with the new mute",
      () =>
        (document.querySelector("textarea.code") as HTMLTextAreaElement)
          .value.includes("second mute"),
    );
    assert.equal(await page.$("[data-testid=policy-stale]"), null);
    await editBurst(50);
    await page.click("xpath/.//button[contains(., 'Save policy')]");
    await waitInPage(
      page,
      "the save",
      () =>
        document.querySelector("[data-testid=policy-result]:not(.error)")
          ?.textContent?.includes("Saved") ?? false,
    );
    doc = await inForce();
    assert.equal(doc.rate_limit.burst, 50);
    assert.ok(
      doc.suppressions.some((s: { note?: string }) => s.note === "second mute"),
    );
    // The refused save's 412 is logged by the browser; nothing else may be.
    assert.deepEqual(
      errors.filter((e) => !/status of 412/.test(e)),
      [],
    );
  },
});

Deno.test({
  name:
    "the Settings page's lists follow mutes and auto-archive rules made and removed through the API while it is open, and keep what they show when a refresh fails",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    await using app = await startAppliance();
    await using b = await launchBrowser();
    const { page, errors, cspViolations } = await b.page();
    await signInPage(page, app.url);
    // The API client: a session of its own, as a script or another tab.
    const cookie = await signIn(app.url);
    const call = (method: string, path: string, body?: unknown) =>
      apiCall(app.url, cookie, method, path, body);
    const listText = (kind: string) =>
      page.evaluate(
        (kind) =>
          document.querySelector(`[data-testid=${kind}]`)?.textContent ?? "",
        kind,
      );
    await open(page, app.url + "/settings");
    assert.ok(await page.$("[data-testid=no-mutes]"));
    assert.ok(await page.$("[data-testid=no-rules]"));

    // Made through the API: both show up on the open page, and the
    // untouched policy editor follows the mute.
    const mute = await call("POST", "/api/suppressions", {
      signature_id: 1000001,
      type: "port_scan",
      ip: "198.51.100.7",
      duration: "1d",
      reason: "muted through the API",
    });
    assert.equal(mute.status, 201);
    const rule = await call("POST", "/api/inbox/rules", {
      signature_id: 1000002,
      type: "host_sweep",
      ip: "198.51.100.9",
      duration: "1w",
      reason: "archived through the API",
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.data));
    const muteRow = await waitInPage(
      page,
      "the mute made through the API",
      () => {
        const tr = document.querySelector("[data-testid=mutes] tbody tr");
        return tr?.textContent?.includes("muted through the API")
          ? tr.textContent
          : null;
      },
    );
    assert.match(muteRow!, /from 198\.51\.100\.7/);
    assert.match(muteRow!, /23h \d+m|1d 0h/);
    const ruleRow = await waitInPage(
      page,
      "the rule made through the API",
      () => {
        const tr = document.querySelector("[data-testid=rules] tbody tr");
        return tr?.textContent?.includes("archived through the API")
          ? tr.textContent
          : null;
      },
    );
    assert.match(ruleRow!, /from 198\.51\.100\.9/);
    assert.match(ruleRow!, /6d \d+h|7d 0h/);
    await waitInPage(
      page,
      "the editor with the mute",
      () =>
        (document.querySelector("textarea.code") as HTMLTextAreaElement)
          .value.includes("muted through the API"),
    );
    await page.$eval("#inbox", (e) => e.scrollIntoView());
    await screenshot(page, "settings-follow-made");

    // Removed through the API: both go, and the editor follows.
    const muteId = (mute.data.suppression as { id: string }).id;
    const ruleId = (rule.data.rule as { id: string }).id;
    assert.equal(
      (await call("DELETE", `/api/suppressions/${muteId}`)).status,
      200,
    );
    assert.equal(
      (await call("DELETE", `/api/inbox/rules/${ruleId}`)).status,
      200,
    );
    await waitInPage(
      page,
      "no mutes",
      () => document.querySelector("[data-testid=no-mutes]") !== null,
    );
    await waitInPage(
      page,
      "no rules",
      () => document.querySelector("[data-testid=no-rules]") !== null,
    );
    await waitInPage(
      page,
      "the editor without the mute",
      () =>
        !(document.querySelector("textarea.code") as HTMLTextAreaElement)
          .value.includes("muted through the API"),
    );

    // A mute made while the page is offline is not shown, nothing shown is
    // lost, and a quiet line says since when; back online, it shows up.
    const cdp = await page.createCDPSession();
    const offline = (on: boolean) =>
      cdp.send("Network.emulateNetworkConditions", {
        offline: on,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
    const kept = await call("POST", "/api/suppressions", {
      signature_id: 1000001,
      type: "port_scan",
      ip: "198.51.100.20",
      duration: "1d",
      reason: "kept through failures",
    });
    assert.equal(kept.status, 201);
    await waitInPage(
      page,
      "the mute to keep",
      () =>
        document.querySelector("[data-testid=mutes]")?.textContent?.includes(
          "kept through failures",
        ) ?? false,
    );
    await offline(true);
    const later = await call("POST", "/api/suppressions", {
      signature_id: 1000001,
      type: "port_scan",
      ip: "198.51.100.21",
      duration: "1d",
      reason: "made while offline",
    });
    assert.equal(later.status, 201);
    const note = await waitInPage(
      page,
      "the not-refreshed line",
      () =>
        document.querySelector("[data-testid=inbox-settings-stale]")
          ?.textContent ?? "",
    );
    assert.match(
      note,
      /^Not refreshed since .+: the appliance does not answer; trying again\.$/,
    );
    assert.match(await listText("mutes"), /kept through failures/);
    assert.doesNotMatch(await listText("mutes"), /made while offline/);
    await page.$eval("#inbox", (e) => e.scrollIntoView());
    await screenshot(page, "settings-follow-offline");
    await offline(false);
    await waitInPage(
      page,
      "the mute made while offline",
      () =>
        document.querySelector("[data-testid=mutes]")?.textContent?.includes(
          "made while offline",
        ) ?? false,
    );
    assert.equal(await page.$("[data-testid=inbox-settings-stale]"), null);

    // Signed out (the session cookie gone): the page stays, with its lists,
    // and says so; it does not leave for the sign-in form on its own.
    await cdp.send("Network.clearBrowserCookies");
    const out = await waitInPage(
      page,
      "the signed-out line",
      () =>
        document.querySelector("[data-testid=inbox-settings-stale]")
          ?.textContent ?? "",
    );
    assert.match(out, /^Signed out: these lists are as of /);
    assert.equal(new URL(page.url()).pathname, "/settings");
    assert.match(await listText("mutes"), /kept through failures/);
    assert.match(await listText("mutes"), /made while offline/);
    await page.$eval("#inbox", (e) => e.scrollIntoView());
    await screenshot(page, "settings-follow-signed-out");

    // What the browser logs for the failed reads themselves (offline, 401)
    // is expected; nothing else may be.
    assert.deepEqual(
      errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|status of 401/.test(e)),
      [],
    );
    assert.deepEqual(cspViolations, []);
  },
});
