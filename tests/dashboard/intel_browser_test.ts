/**
 * The threat-intelligence pages in a real headless Chromium against the
 * test appliance: feeds as local files (one listing a server the replayed
 * capture talks to, one listing the domain of its hostile DNS name, one
 * missing), the Intel page with indicators, ages, the stale warning and a
 * lookup, the intel alert's page with the feed's link and line, and the
 * home host's page with its matches; the hostile name stays text.
 * Screenshots go to `tests/artifacts/`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "npm:puppeteer-core@24.8.2";
import { startAppliance, TEST_PASSWORD } from "./_appliance.ts";
import {
  browserUnavailable,
  launchBrowser,
  screenshot,
  waitInPage,
} from "./_browser.ts";
import { CLIENT, HOSTILE, writeDashboardCapture } from "./_captures.ts";

const missing = await browserUnavailable();
const ignore = missing !== null && Deno.env.get("CI") !== "true";

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(url + "/signin");
  await page.type("input[name=password]", TEST_PASSWORD);
  await Promise.all([
    page.waitForNavigation(),
    page.click("button[type=submit]"),
  ]);
}

Deno.test({
  name:
    "the Intel page lists feeds with size, age and errors, looks values up, and an intel alert shows its feed, link and line",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
    const feeds = await Deno.makeTempDir({ prefix: "ns-feeds-" });
    try {
      await writeDashboardCapture(join(caps, "normal.pcap"), {
        seconds: 3,
        scanAtS: -1,
      });
      await Deno.writeTextFile(
        join(feeds, "c2.txt"),
        "# bench C2\n140.82.121.4\n203.0.113.7\n",
      );
      await Deno.writeTextFile(
        join(feeds, "hosts.txt"),
        "127.0.0.1\tevil.example\n",
      );
      await using app = await startAppliance({
        capturesDir: caps,
        config: {
          intel: {
            feeds: [
              {
                name: "c2",
                path: join(feeds, "c2.txt"),
                format: "feodo",
                link: "https://feodotracker.abuse.ch/blocklist/",
                licence: "CC0 1.0",
              },
              {
                name: "hosts",
                path: join(feeds, "hosts.txt"),
                format: "urlhaus_hosts",
              },
              {
                name: "gone",
                path: join(feeds, "missing.txt"),
                kind: "ip",
              },
            ],
          },
        },
      });
      await using b = await launchBrowser();
      const { page, errors, cspViolations } = await b.page();
      await signIn(page, app.url);

      // The service reads the local files on its first check.
      const until = Date.now() + 30_000;
      let table = "";
      for (;;) {
        await page.goto(app.url + "/intel");
        table = await page.$eval(
          "[data-testid=intel-feeds]",
          (e) => e.textContent ?? "",
        );
        if (table.includes("cannot read") && !/c2.*\b0\b.*never/.test(table)) {
          break;
        }
        assert.ok(Date.now() < until, `feeds not loaded: ${table}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const rows = await page.$$eval(
        "[data-testid=intel-feeds] tbody tr",
        (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)),
      );
      const c2 = rows.find((r) => r[0]?.startsWith("c2"))!;
      assert.match(c2[0]!, /ip · feodo · CC0 1\.0/);
      assert.equal(c2[1], "2");
      assert.equal(c2[2], "36 B");
      assert.match(c2[3]!, /^\d+ s$/);
      const gone = rows.find((r) => r[0]?.startsWith("gone"))!;
      assert.equal(gone[3], "never · stale");
      assert.match(gone[7]!, /cannot read ".*missing\.txt"/);
      const stale = await page.$eval(
        "[data-testid=intel-stale]",
        (e) => e.textContent ?? "",
      );
      assert.match(stale, /gone/);
      assert.doesNotMatch(stale, /\bc2\b/);
      const link = await page.$eval(
        "[data-testid=intel-feeds] a",
        (a) => (a as HTMLAnchorElement).href,
      );
      assert.equal(link, "https://feodotracker.abuse.ch/blocklist/");
      await screenshot(page, "intel-feeds");

      // The same state on /metrics.
      const metrics = await page.evaluate(async () =>
        await (await fetch("/metrics")).text()
      );
      assert.match(metrics, /^netsentinel_intel_feed_entries\{feed="c2"\} 2$/m);
      assert.match(metrics, /^netsentinel_intel_feed_bytes\{feed="c2"\} 36$/m);
      assert.match(metrics, /^netsentinel_intel_feed_stale\{feed="c2"\} 0$/m);
      assert.match(metrics, /^netsentinel_intel_feed_stale\{feed="gone"\} 1$/m);
      assert.match(metrics, /^netsentinel_intel_feed_error\{feed="gone"\} 1$/m);
      assert.match(
        metrics,
        /^netsentinel_intel_feed_age_seconds\{feed="gone"\} -1$/m,
      );

      // A lookup.
      await page.goto(app.url + "/intel?q=203.0.113.7");
      const hits = await page.$eval(
        "[data-testid=intel-hits]",
        (e) => e.textContent ?? "",
      );
      assert.match(hits, /c2 lists 203\.0\.113\.7 \(line 3: 203\.0\.113\.7\)/);

      // Traffic to the listed server and the hostile name under evil.example.
      const started = await page.evaluate(async () =>
        (await fetch("/api/replay/start", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ file: "normal.pcap", speed: 0 }),
        })).status
      );
      assert.equal(started, 200);
      const alerts = await waitInPage(page, "the intel alerts", async () => {
        const r = await fetch("/api/alerts?type=intel");
        const j = await r.json();
        return j.alerts.length >= 2 ? j.alerts : null;
      }) as {
        netsentinel: { id: string; evidence: Record<string, string> };
      }[];
      const ip = alerts.find((a) => a.netsentinel.evidence.feed === "c2")!;
      assert.equal(ip.netsentinel.evidence.internal_host, CLIENT);
      const dns = alerts.find((a) => a.netsentinel.evidence.feed === "hosts")!;
      assert.equal(dns.netsentinel.evidence.observed, HOSTILE.dns);

      await page.goto(`${app.url}/alerts/${dns.netsentinel.id}`);
      const panel = await page.$eval(
        "[data-testid=intel-match]",
        (e) => e.textContent ?? "",
      );
      assert.match(panel, /hosts/);
      assert.match(panel, /evil\.example \(domain\)/);
      assert.match(panel, /127\.0\.0\.1\s+evil\.example/);
      assert.ok(panel.includes(HOSTILE.dns), "the observed name as text");
      assert.equal(
        await page.evaluate(() =>
          (globalThis as Record<string, unknown>).__pwned_dns
        ),
        undefined,
      );
      // Never a button that blocks the home host: a lookup blocks nothing.
      const buttons = await page.$eval(
        "[data-testid=alert-actions]",
        (e) => e.textContent ?? "",
      );
      assert.doesNotMatch(buttons, /Block/);
      await screenshot(page, "intel-alert");
      // The connection's alert blocks the listed server, not the source.
      await page.goto(`${app.url}/alerts/${ip.netsentinel.id}`);
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      const ipButtons = await page.$eval(
        "[data-testid=alert-actions]",
        (e) => e.textContent ?? "",
      );
      assert.match(ipButtons, /Block 140\.82\.121\.4/);

      await page.goto(`${app.url}/hosts/${CLIENT}`);
      const host = await page.$eval(
        "[data-testid=host-intel]",
        (e) => e.textContent ?? "",
      );
      assert.match(host, /140\.82\.121\.4 on c2/);
      await screenshot(page, "intel-host");
      assert.deepEqual(errors, []);
      assert.deepEqual(cspViolations, []);
    } finally {
      await Deno.remove(caps, { recursive: true });
      await Deno.remove(feeds, { recursive: true });
    }
  },
});
