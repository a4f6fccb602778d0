/**
 * The dashboard in a real headless Chromium (Debian's package, driven by
 * puppeteer-core) against the test appliance: sign in, the overview fills
 * from a replayed capture, a port scan's alert arrives live and blinks
 * until seen, block and unblock from the pages, CSV export as a download;
 * and captures whose DNS names, HTTP Host and TLS SNI carry HTML/script
 * payloads show as text with no script run. Screenshots go to
 * `tests/artifacts/`.
 *
 * Puppeteer keeps a child process and sockets of its own, so these tests
 * run without Deno's resource and op sanitizers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "npm:puppeteer-core@24.8.2";
import { startAppliance, TEST_PASSWORD, waitFor } from "./_appliance.ts";
import {
  browserUnavailable,
  launchBrowser,
  screenshot,
  waitInPage,
} from "./_browser.ts";
import { HOSTILE, SCANNER, writeDashboardCapture } from "./_captures.ts";

const missing = await browserUnavailable();
const ignore = missing !== null && Deno.env.get("CI") !== "true";
const opts = { ignore, sanitizeResources: false, sanitizeOps: false };

async function signInPage(page: Page, url: string): Promise<void> {
  await page.goto(url + "/");
  assert.match(page.url(), /\/signin\?next=%2F$/);
  await page.type("input[name=password]", TEST_PASSWORD);
  await Promise.all([
    page.waitForNavigation(),
    page.click("button[type=submit]"),
  ]);
  assert.equal(new URL(page.url()).pathname, "/");
  await waitInPage(
    page,
    "hydration",
    () => document.documentElement.dataset.hydrated === "true",
  );
}

function startReplay(page: Page, file: string, speed: number): Promise<number> {
  return page.evaluate(
    async (file, speed) => {
      const r = await fetch("/api/replay/start", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ file, speed }),
      });
      return r.status;
    },
    file,
    speed,
  );
}

/** An alert of `GET /api/alerts` as the replay tests read it. */
interface ApiAlert {
  netsentinel: {
    id: string;
    type: string;
    anomaly?: unknown;
    signatures?: unknown[];
  };
}

/**
 * Replays tests/fixtures/`fixture` on a fresh appliance in a signed-in
 * headless Chromium page, waits (`what`) until `ready` is true of the
 * stored alerts, and hands the page and those alerts to `check`; no
 * console errors and no CSP violations are allowed on the way.
 */
async function afterReplay(
  fixture: string,
  what: string,
  ready: (alerts: ApiAlert[]) => boolean,
  check: (page: Page, appUrl: string, alerts: ApiAlert[]) => Promise<void>,
): Promise<void> {
  const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
  try {
    await Deno.copyFile(
      new URL(`../fixtures/${fixture}`, import.meta.url),
      join(caps, fixture),
    );
    await using app = await startAppliance({ capturesDir: caps });
    await using b = await launchBrowser();
    const { page, errors, cspViolations } = await b.page();
    await signInPage(page, app.url);
    assert.equal(await startReplay(page, fixture, 0), 200);
    // Read with the page's own session, judged here.
    const alerts = await waitFor(
      what,
      () =>
        page.evaluate(async () => {
          const r = await fetch("/api/alerts?limit=1000");
          return (await r.json() as { alerts: unknown[] }).alerts;
        }) as Promise<ApiAlert[]>,
      ready,
    );
    await check(page, app.url, alerts);
    assert.deepEqual(errors, []);
    assert.deepEqual(cspViolations, []);
  } finally {
    await Deno.remove(caps, { recursive: true });
  }
}

Deno.test({
  name:
    "a signed-in browser sees the overview fill, an alert arrive live and blink, blocks and unblocks, and exports CSV",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
    const downloads = await Deno.makeTempDir({ prefix: "ns-dl-" });
    try {
      await writeDashboardCapture(join(caps, "normal.pcap"), {
        startUs: (Date.now() - 40_000) * 1000,
        seconds: 10,
        scanAtS: -1,
      });
      await using app = await startAppliance({ capturesDir: caps });
      await using b = await launchBrowser();
      const { page, errors, cspViolations } = await b.page();

      // Sign-in page first, then the overview.
      await page.goto(app.url + "/signin");
      await screenshot(page, "signin");
      await signInPage(page, app.url);

      // The overview fills from a replayed capture.
      assert.equal(await startReplay(page, "normal.pcap", 0), 200);
      await waitInPage(
        page,
        "top talkers",
        () => document.querySelectorAll("[data-testid=talkers] tr").length >= 3,
      );
      await waitInPage(
        page,
        "the packet counter",
        () =>
          /\d+ pkts/.test(
            document.querySelector("[data-testid=packets] .value")
              ?.textContent ?? "",
          ) &&
          !/^0 pkts/.test(
            document.querySelector("[data-testid=packets] .value")
              ?.textContent ?? "",
          ),
      );
      await waitInPage(
        page,
        "live state",
        () =>
          document.querySelector("[data-testid=live-state]")?.textContent ===
            "Live",
      );
      const canvas = await page.evaluate(() =>
        document.querySelectorAll(".chart canvas").length
      );
      assert.ok(canvas >= 1, "the chart drew");
      await screenshot(page, "overview");

      // An alert arrives live on the Alerts page's list and blinks until seen.
      await page.goto(app.url + "/alerts?view=list");
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      await writeDashboardCapture(join(caps, "scan.pcap"), {
        seconds: 2,
        scanAtS: 0,
      });
      // The page's own socket must be open before the alert exists.
      await waitInPage(
        page,
        "the live socket",
        () => document.documentElement.dataset.live === "live",
      );
      assert.equal(await startReplay(page, "scan.pcap", 0), 200);
      const id = await waitInPage(
        page,
        "the port scan row, unseen",
        () => {
          for (
            const tr of document.querySelectorAll(
              "table.alerts tbody tr.unseen",
            )
          ) {
            if (tr.textContent?.includes("port scan")) {
              return tr.getAttribute("data-id");
            }
          }
          return null;
        },
      );
      assert.ok(id);
      const anim = await page.evaluate(
        (id) =>
          getComputedStyle(document.querySelector(`tr[data-id="${id}"] td`)!)
            .animationName,
        id,
      );
      assert.equal(anim, "blink");
      assert.match(
        await page.evaluate(() =>
          document.querySelector("[data-testid=unseen-count]")!.textContent!
        ),
        /[1-9]\d* new/,
      );
      await screenshot(page, "alerts-live");
      await page.hover(`tr[data-id="${id}"] td.time`);
      await waitInPage(
        page,
        "the row marked seen",
        () =>
          !document.querySelector("table.alerts tbody tr.unseen")?.textContent
            ?.includes("port scan"),
      );

      // CSV export: a real download from the page's link.
      const cdp = await page.createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", {
        behavior: "allow",
        downloadPath: downloads,
      });
      await page.click("[data-testid=csv-export]");
      const file = await waitFor("the CSV download", async () => {
        for await (const e of Deno.readDir(downloads)) {
          if (e.name.endsWith(".csv")) return e.name;
        }
        return "";
      }, (n) => n !== "");
      const csv = await Deno.readTextFile(join(downloads, file));
      assert.match(csv, /^id,timestamp,last_seen,type,severity/);
      assert.ok(csv.includes(SCANNER), csv.slice(0, 500));

      // Block the scanner from the alert page, see it on the Blocks page, unblock there.
      await page.goto(`${app.url}/alerts/${id}`);
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      assert.match(
        await page.evaluate(() =>
          document.querySelector("[data-testid=explanation]")!.textContent!
        ),
        /\S/,
      );
      await screenshot(page, "alert-detail");
      const blockBtn = await page.waitForSelector(
        "xpath/.//button[contains(., 'Block source')]",
      );
      await blockBtn!.click();
      await waitInPage(
        page,
        "the block result",
        () =>
          /Blocked 45\.33\.32\.156/.test(
            document.querySelector("[data-testid=action-result]")
              ?.textContent ?? "",
          ),
      );
      await page.goto(app.url + "/blocks");
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      await waitInPage(
        page,
        "the block row",
        () => document.querySelector('tr[data-target="45.33.32.156"]') !== null,
      );
      await screenshot(page, "blocks");
      await page.click('tr[data-target="45.33.32.156"] [data-testid=unblock]');
      await waitInPage(
        page,
        "no blocks",
        () => document.querySelector("[data-testid=no-blocks]") !== null,
      );
      const blocks = await page.evaluate(async () =>
        (await (await fetch("/api/blocks")).json()).blocks.length
      );
      assert.equal(blocks, 0);

      // Settings: an invalid policy is refused with the field named; a token is shown once.
      await page.goto(app.url + "/settings");
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      await page.$eval("textarea.code", (el) => {
        const t = el as HTMLTextAreaElement;
        const doc = JSON.parse(t.value);
        doc.detectors.port_scan.ports = 1;
        t.value = JSON.stringify(doc, null, 2);
        t.dispatchEvent(new Event("input", { bubbles: true }));
      });
      await page.click("xpath/.//button[contains(., 'Save policy')]");
      const policyMsg = await waitInPage(
        page,
        "the policy error",
        () =>
          document.querySelector("[data-testid=policy-result].error")
            ?.textContent ?? "",
      );
      assert.match(policyMsg, /detectors\.port_scan\.ports/);
      await page.type("input[name=name]", "grafana");
      await page.click("xpath/.//button[contains(., 'Create token')]");
      const token = await waitInPage(
        page,
        "the new token",
        () =>
          document.querySelector("[data-testid=new-token]")?.textContent ?? "",
      );
      assert.match(token, /^nst_/);
      await screenshot(page, "settings");
      await page.reload();
      assert.equal(
        await page.evaluate((t) => document.body.innerText.includes(t), token),
        false,
        "shown once",
      );

      for (const p of ["hosts", "replay"]) {
        await page.goto(`${app.url}/${p}`);
        await waitInPage(
          page,
          "hydration",
          () => document.documentElement.dataset.hydrated === "true",
        );
        await screenshot(page, p);
      }
      assert.ok(
        await page.evaluate(() =>
          document.body.innerText.includes("normal.pcap")
        ),
      );

      assert.deepEqual(cspViolations, []);
      // The refused policy's 400 is logged by the browser; nothing else may be.
      assert.deepEqual(
        errors.filter((e) => !/status of 400 \(Bad Request\)/.test(e)),
        [],
      );
    } finally {
      await Deno.remove(caps, { recursive: true });
      await Deno.remove(downloads, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "HTML and script in DNS names, HTTP Host, TLS SNI and alert fields show as text and never run",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
    try {
      await writeDashboardCapture(join(caps, "hostile.pcap"), {
        seconds: 3,
        scanAtS: 2,
      });
      await using app = await startAppliance({ capturesDir: caps });
      // An alert as the aggregator would store it after a hostile reverse name.
      const evil = "<img src=x onerror=__pwned_alert=1>";
      const ts = new Date().toISOString();
      app.writer.queueAlert({
        timestamp: ts,
        event_type: "alert",
        src_ip: "198.51.100.66",
        dest_ip: "192.168.1.20",
        dest_port: 80,
        proto: "TCP",
        alert: {
          action: "allowed",
          signature_id: 1000700,
          rev: 1,
          signature: `Malformed HTTP request ${evil}`,
          category: "Potentially Bad Traffic",
          severity: 2,
        },
        netsentinel: {
          id: "01JHOSTILE0000000000000001",
          type: "malformed_http",
          count: 1,
          first_seen: ts,
          last_seen: ts,
          evidence: {
            host: HOSTILE.http,
            [evil]: "</td><script>__pwned_alert=1</script>",
          },
          explanation: `Host header ${HOSTILE.http} is not a host name`,
          src_host: HOSTILE.tls,
        },
      }, true);
      await app.writer.flush();

      await using b = await launchBrowser();
      for (const dark of [false, true]) {
        const { page, errors, cspViolations } = await b.page({
          dark,
          phone: dark,
        });
        if (!dark) {
          await signInPage(page, app.url);
          assert.equal(await startReplay(page, "hostile.pcap", 0), 200);
        } else {
          await page.goto(app.url + "/");
          await waitInPage(
            page,
            "hydration",
            () => document.documentElement.dataset.hydrated === "true",
          );
        }
        const names = await waitInPage(page, "the hostile names", () => {
          const t =
            document.querySelector("[data-testid=names]")?.textContent ?? "";
          return t.includes("__pwned_dns") && t.includes("__pwned_http") &&
              t.includes("__pwned_tls")
            ? t
            : "";
        });
        for (const want of [HOSTILE.dns, HOSTILE.http, HOSTILE.tls]) {
          assert.ok(names.includes(want), `${want} shown as text in: ${names}`);
        }
        await screenshot(
          page,
          dark ? "hostile-overview-phone-dark" : "hostile-overview",
        );
        for (
          const path of [
            "/alerts",
            "/alerts?view=list",
            "/alerts/01JHOSTILE0000000000000001",
            "/hosts",
          ]
        ) {
          await page.goto(app.url + path);
          await waitInPage(
            page,
            "hydration",
            () => document.documentElement.dataset.hydrated === "true",
          );
          const body = await page.evaluate(() => document.body.innerText);
          if (path !== "/hosts") {
            assert.ok(
              body.includes("<img src=x onerror=__pwned_alert=1>"),
              `${path} shows the text`,
            );
          }
          if (path.startsWith("/alerts/")) {
            assert.ok(
              body.includes(HOSTILE.tls),
              "the hostile reverse name is text",
            );
            assert.ok(body.includes("</td><script>__pwned_alert=1</script>"));
            await screenshot(
              page,
              dark ? "hostile-alert-phone-dark" : "hostile-alert",
            );
          }
        }
        const state = await page.evaluate((flags) => ({
          set: flags.filter((f) => f in window),
          imgs: document.querySelectorAll("img[src=x]").length,
          scripts: [...document.scripts].map((s) =>
            s.src.replace(location.origin, "")
          ),
        }), [...HOSTILE.flags]);
        assert.deepEqual(state.set, [], "no payload ran");
        assert.equal(state.imgs, 0, "no element was injected");
        assert.equal(state.scripts.length, 1);
        assert.match(state.scripts[0]!, /^\/static\/bundle\/client\.js/);
        assert.deepEqual(cspViolations, []);
        assert.deepEqual(errors, []);
        await page.close();
      }
    } finally {
      await Deno.remove(caps, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "an ARP spoofing alert's page says what it means and names the attacker's MAC",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    await using app = await startAppliance({});
    const ts = new Date().toISOString();
    app.writer.queueAlert({
      timestamp: ts,
      event_type: "alert",
      src_ip: "192.168.1.66",
      dest_ip: "192.168.1.1",
      proto: "ARP",
      alert: {
        action: "allowed",
        signature_id: 1001102,
        rev: 1,
        signature:
          "ARP spoofing: the gateway's (or a protected) address claimed by another MAC",
        category: "Attempted Information Leak",
        severity: 1,
      },
      netsentinel: {
        id: "01JARPSPOOF000000000000001",
        type: "arp_spoof",
        count: 7,
        first_seen: ts,
        last_seen: ts,
        evidence: {
          attacker_mac: "02:99:0a:63:00:42",
          claimed_ip: "192.168.1.1",
          owner_mac: "02:99:0a:63:00:01",
          owner_role: "router",
        },
        explanation:
          "02:99:0a:63:00:42 (192.168.1.66) claims 192.168.1.1, which 02:99:0a:63:00:01 (the router) holds and still uses",
      },
    }, true);
    await app.writer.flush();
    await using b = await launchBrowser();
    const { page, errors, cspViolations } = await b.page({});
    await signInPage(page, app.url);
    await page.goto(`${app.url}/alerts/01JARPSPOOF000000000000001`);
    const about = await waitInPage(
      page,
      "the explanation of the alert type",
      () => document.querySelector("[data-testid=about]")?.textContent ?? "",
    );
    assert.match(about, /man in the middle/);
    assert.match(about, /nothing is blocked automatically/);
    const body = await page.evaluate(() => document.body.innerText);
    assert.ok(body.includes("02:99:0a:63:00:42"), "the attacker's MAC");
    await screenshot(page, "alert-arp-spoof");
    assert.deepEqual(errors, []);
    assert.deepEqual(cspViolations, []);
  },
});

Deno.test({
  name:
    "a replayed TCP host sweep is one alert whose page shows the anomaly model's score and explanation, with no anomaly alert beside it",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    await afterReplay(
      "sweep_tcp.pcap",
      "the sweep alert with the model's evidence",
      (alerts) =>
        alerts.some((a) =>
          a.netsentinel.type === "host_sweep" &&
          a.netsentinel.anomaly !== undefined
        ),
      async (page, url, alerts) => {
        assert.deepEqual(
          alerts.map((a) => a.netsentinel.type).filter((t) => t !== "new_host"),
          ["host_sweep"],
        );
        const id = alerts.find((a) => a.netsentinel.type === "host_sweep")!
          .netsentinel.id;
        await page.goto(`${url}/alerts/${id}`);
        const panel = await waitInPage(
          page,
          "the anomaly model's panel",
          () =>
            document.querySelector("[data-testid=corroboration]")
              ?.textContent ?? "",
        );
        assert.match(panel, /Isolation Forest also flagged \d+ flows/);
        const score = await page.evaluate(() =>
          Number(
            document.querySelector("[data-testid=anomaly-score]")?.textContent,
          )
        );
        assert.ok(score > 0.6 && score < 1, `score ${score}`);
        const why = await page.evaluate(() =>
          document.querySelector("[data-testid=anomaly-explanation]")
            ?.textContent ?? ""
        );
        assert.ok(why.length > 10, why);
        await screenshot(page, "alert-sweep-corroborated");
      },
    );
  },
});

Deno.test({
  name:
    "a replayed hydra attack on HTTP Basic auth is one brute_force alert whose page lists the signatures that matched, with no signature alert beside it",
  ...opts,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    await afterReplay(
      "brute_http.pcap",
      "the brute_force alert with the signatures attached",
      (alerts) =>
        alerts.some((a) =>
          a.netsentinel.type === "brute_force" &&
          a.netsentinel.signatures?.length === 2
        ),
      async (page, url, alerts) => {
        assert.deepEqual(
          alerts.map((a) => a.netsentinel.type).filter((t) => t !== "new_host"),
          ["brute_force"],
        );
        const id = alerts.find((a) => a.netsentinel.type === "brute_force")!
          .netsentinel.id;
        await page.goto(`${url}/alerts/${id}`);
        const panel = await waitInPage(
          page,
          "the signatures panel",
          () =>
            document.querySelector("[data-testid=signatures]")?.textContent ??
              "",
        );
        assert.match(panel, /1:1900004/);
        assert.match(panel, /THC Hydra HTTP login cracker/);
        assert.match(panel, /HTTP Basic authentication in cleartext/);
        assert.match(panel, /\d+ matches/);
        await screenshot(page, "alert-brute-http-signatures");
      },
    );
  },
});
