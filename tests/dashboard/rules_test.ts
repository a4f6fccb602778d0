/**
 * Signature rules through the whole appliance: a replayed capture raises a
 * `signature` alert from a shipped rule; `/api/rules` shows the set (with
 * ET Open from `rules.paths` or without it) and toggles a sid or a
 * category (saved in the config, the set reloaded), refusing hostile
 * bodies with the field named; a `rules update` into the data directory
 * is picked up by the running appliance; the Rules page in headless Chromium says
 * how to get ET Open, disables a category, with a screenshot.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { updateRules } from "../../rules/mod.ts";
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

const FIXTURES = join(import.meta.dirname!, "..", "fixtures");
const ET_SUBSET = join(
  import.meta.dirname!,
  "..",
  "..",
  "rules",
  "testdata",
  "etopen",
);

Deno.test("a replayed capture's signature matches reach the alerts (hydra's on its brute_force alert); /api/rules shows and toggles the set", async () => {
  const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
  try {
    await Deno.copyFile(
      join(FIXTURES, "brute_http.pcap"),
      join(caps, "hydra.pcap"),
    );
    await using app = await startAppliance({ capturesDir: caps });
    const cookie = await signIn(app.url);
    const first = await apiCall(app.url, cookie, "GET", "/api/rules");
    assert.equal(first.status, 200);
    assert.equal(first.data.et_open, false);
    assert.ok((first.data.loaded as number) >= 20);
    const r = await apiCall(app.url, cookie, "POST", "/api/replay/start", {
      file: "hydra.pcap",
      speed: 0,
    });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    // One incident, one alert: the rule's matches are listed on the
    // brute_force alert about the same requests, not an alert of their own.
    type Sig = Record<string, unknown>;
    const sigsOf = (x: Record<string, Record<string, unknown>>): Sig[] =>
      (x.netsentinel!.signatures as Sig[] | undefined) ?? [];
    const alerts = await waitFor(
      "the brute_force alert carrying hydra's rule",
      async () =>
        (await apiCall(app.url, cookie, "GET", "/api/alerts?type=brute_force"))
          .data
          .alerts as Array<Record<string, Record<string, unknown>>>,
      (a) => a.some((x) => sigsOf(x).some((s) => s.signature_id === 1900004)),
    );
    const hydra = alerts.flatMap(sigsOf).find((s) =>
      s.signature_id === 1900004
    )!;
    assert.equal(hydra.category, "Attempted User Privilege Gain");
    assert.equal(hydra.gid, 1);
    assert.deepEqual(hydra.metadata, { tool: ["hydra"] });
    assert.ok((hydra.count as number) >= 1);
    const alone = await apiCall(
      app.url,
      cookie,
      "GET",
      "/api/alerts?type=signature",
    );
    assert.deepEqual(alone.data.alerts, []);
    const view = await apiCall(app.url, cookie, "GET", "/api/rules");
    const top = view.data.top as Array<{ sid: number; hits: number }>;
    assert.ok(
      top.some((t) => t.sid === 1900004 && t.hits > 0),
      JSON.stringify(top),
    );

    // Disable one sid: saved in the config, the set reloaded without it.
    const off = await apiCall(app.url, cookie, "POST", "/api/rules/toggle", {
      sid: 1900004,
      enabled: false,
    });
    assert.equal(off.status, 200, JSON.stringify(off.data));
    assert.equal(off.data.disabled, 1);
    assert.deepEqual(off.data.disabled_sids, [1900004]);
    const saved = JSON.parse(
      await Deno.readTextFile(join(app.dir, "data", "config.json")),
    );
    assert.deepEqual(saved.rules.disabled_sids, [1900004]);
    const on = await apiCall(app.url, cookie, "POST", "/api/rules/toggle", {
      sid: 1900004,
      enabled: true,
    });
    assert.equal(on.data.disabled, 0);

    for (
      const [body, field] of [
        [{ sid: "x", enabled: false }, "sid"],
        [{ sid: 1, category: "scan", enabled: false }, "sid"],
        [{ category: "../x", enabled: false }, "category"],
        [{ category: "scan" }, "enabled"],
        [{ sid: 1, enabled: true, extra: 1 }, "extra"],
      ] as const
    ) {
      const bad = await apiCall(
        app.url,
        cookie,
        "POST",
        "/api/rules/toggle",
        body,
      );
      assert.equal(bad.status, 400, JSON.stringify([body, bad.data]));
      assert.equal(bad.data.field, field, JSON.stringify(bad.data));
    }
    const notJson = await apiCall(
      app.url,
      cookie,
      "POST",
      "/api/rules/toggle",
      "{nope",
    );
    assert.equal(notJson.status, 400);
  } finally {
    await Deno.remove(caps, { recursive: true });
  }
});

Deno.test("rules.paths adds ET Open; a disabled category leaves it out", async () => {
  await using app = await startAppliance({
    config: { rules: { paths: [ET_SUBSET], disabled_categories: ["scan"] } },
  });
  const cookie = await signIn(app.url);
  const v = await apiCall(app.url, cookie, "GET", "/api/rules");
  assert.equal(v.data.et_open, true);
  const cats = v.data.categories as Array<
    { name: string; loaded: number; disabled: number; off: boolean }
  >;
  const scan = cats.find((c) => c.name === "SCAN")!;
  assert.equal(scan.loaded, 0);
  assert.ok(scan.disabled > 200 && scan.off, JSON.stringify(scan));
  assert.ok(cats.find((c) => c.name === "USER_AGENTS")!.loaded > 100);
});

const missing = await browserUnavailable();

Deno.test({
  name: "the Rules page says how to get ET Open and disables a category",
  ignore: missing !== null && Deno.env.get("CI") !== "true",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    await using app = await startAppliance();
    await using b = await launchBrowser();
    const { page, errors, cspViolations } = await b.page();
    await page.goto(app.url + "/rules");
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
    const howto = await page.$eval(
      "[data-testid=et-open-howto]",
      (e) => e.textContent ?? "",
    );
    assert.match(howto, /netsentinel rules update/);
    const summary = await page.$eval(
      "[data-testid=rules-summary]",
      (e) => e.textContent ?? "",
    );
    assert.match(summary, /rules loaded, 0 refused, 0 disabled/);
    await Promise.all([
      page.waitForNavigation(),
      page.click("[data-testid=toggle-cat-netsentinel]"),
    ]);
    const after = await waitInPage(page, "the category disabled", () => {
      const t =
        document.querySelector("[data-testid=rules-summary]")?.textContent ??
          "";
      return /[1-9]\d* disabled/.test(t) ? t : "";
    });
    assert.match(after, /^\s*0 rules loaded/);
    assert.equal(
      await page.$eval(
        "[data-testid=toggle-cat-netsentinel]",
        (e) => e.textContent,
      ),
      "Enable",
    );
    await screenshot(page, "rules-page");
    assert.deepEqual(errors, []);
    assert.deepEqual(cspViolations, []);
  },
});

Deno.test("rules update into the data directory, then the running appliance swaps to the new set", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  const before = await apiCall(app.url, cookie, "GET", "/api/rules");
  assert.equal(before.data.et_open, false);
  // A tarball of the ET subset, installed offline as `rules update --file` does.
  const src = join(app.dir, "src");
  await Deno.mkdir(join(src, "rules"), { recursive: true });
  await Deno.copyFile(
    join(ET_SUBSET, "emerging-user_agents.rules"),
    join(src, "rules", "emerging-user_agents.rules"),
  );
  const tar = join(app.dir, "et.tar.gz");
  const made = await new Deno.Command("tar", {
    args: ["czf", tar, "-C", src, "rules"],
  }).output();
  assert.ok(made.success);
  const r = await updateRules({
    dir: join(app.dir, "data", "rules"),
    url: "http://127.0.0.1:9/unused",
    file: tar,
  });
  assert.ok(r.loaded > 100);
  const set = await app.app.reloadRules();
  assert.ok(set.engine.rules.length > 100 + 20);
  const after = await apiCall(app.url, cookie, "GET", "/api/rules");
  assert.equal(after.data.et_open, true);
  assert.equal(after.data.loaded, set.engine.rules.length);
});
