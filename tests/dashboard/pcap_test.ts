/**
 * Pcap on alert through the appliance: a replayed scan's alert serves the
 * pcap of its packets at `GET /api/alerts/:id/pcap` (read back by real
 * tcpdump), its page offers the download, and hostile ids get 400, unknown
 * ones 404, never 500.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Alert } from "../../alerts/alert.ts";
import {
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

const SCAN = fileURLToPath(
  new URL("../fixtures/scan_syn.pcap", import.meta.url),
);
const CI = Deno.env.get("CI") === "true";
let noTcpdump = false;
try {
  await new Deno.Command("tcpdump", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  }).output();
} catch {
  noTcpdump = !CI;
}

Deno.test({
  name:
    "a replayed scan's alert serves its pcap over the API (tcpdump reads it: only the scanner and its target), its page offers the download, hostile ids get 400 and ids without one 404" +
    (noTcpdump ? " (skipped: tcpdump not installed)" : ""),
  ignore: noTcpdump,
  async fn() {
    const caps = await Deno.makeTempDir({ prefix: "ns-pcap-caps-" });
    try {
      await Deno.copyFile(SCAN, join(caps, "scan.pcap"));
      await using app = await startAppliance({ capturesDir: caps });
      const cookie = await signIn(app.url);
      const h = { cookie, origin: app.url, "content-type": "application/json" };
      const start = await fetch(app.url + "/api/replay/start", {
        method: "POST",
        headers: h,
        body: JSON.stringify({ file: "scan.pcap", speed: 0 }),
      });
      assert.equal(start.status, 200);
      await start.body?.cancel();
      const alerts = await waitFor(
        "the port scan alert",
        async () =>
          (await (await fetch(app.url + "/api/alerts?type=port_scan", {
            headers: { cookie },
          })).json()).alerts as Alert[],
        (a) => a.length > 0,
      );
      const a = alerts[0]!;
      const url = `${app.url}/api/alerts/${a.netsentinel.id}/pcap`;
      const res = await waitFor(
        "the alert's pcap",
        async () => {
          const r = await fetch(url, { headers: { cookie } });
          if (r.status !== 200) await r.body?.cancel();
          return r;
        },
        (r) => r.status === 200,
      );
      assert.equal(
        res.headers.get("content-type"),
        "application/vnd.tcpdump.pcap",
      );
      assert.equal(
        res.headers.get("content-disposition"),
        `attachment; filename="netsentinel-${a.netsentinel.id}.pcap"`,
      );
      const body = new Uint8Array(await res.arrayBuffer());
      assert.equal(
        Number(res.headers.get("content-length")),
        body.length,
      );
      const file = join(caps, "got.pcap");
      await Deno.writeFile(file, body);
      const td = await new Deno.Command("tcpdump", {
        args: ["-nr", file, "-q", "-t"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(td.success, new TextDecoder().decode(td.stderr));
      const lines = new TextDecoder().decode(td.stdout).trim().split("\n");
      assert.ok(lines.length >= 20, `${lines.length} packets`);
      for (const l of lines) {
        const m = /^IP (\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+:/
          .exec(l);
        assert.ok(m, l);
        assert.deepEqual(
          [m[1], m[2]].sort(),
          [a.src_ip, a.dest_ip].sort(),
          l,
        );
      }
      // /metrics counts it.
      const mt = await (await fetch(app.url + "/metrics", {
        headers: { cookie },
      })).text();
      assert.match(
        mt,
        /^netsentinel_alert_pcaps_total\{outcome="written"\} [1-9]\d*$/m,
      );
      const kept = /^netsentinel_alert_pcaps_bytes (\d+)$/m.exec(mt);
      assert.ok(kept && Number(kept[1]) >= body.length, mt.slice(0, 300));
      // Without a session: refused like every other route.
      const anon = await fetch(url);
      assert.notEqual(anon.status, 200);
      await anon.body?.cancel();
      // The alert page offers it.
      const page = await (await fetch(
        `${app.url}/alerts/${a.netsentinel.id}`,
        { headers: { cookie } },
      )).text();
      assert.match(page, /data-testid="pcap-download"/);
      assert.ok(page.includes(`/api/alerts/${a.netsentinel.id}/pcap`));
      // None kept: 404; hostile ids: 400; never 500.
      const none = await fetch(
        `${app.url}/api/alerts/01JNOPE0000000000000000000/pcap`,
        { headers: { cookie } },
      );
      assert.equal(none.status, 404);
      await none.body?.cancel();
      for (
        const bad of [
          "..%2F..%2Fetc%2Fpasswd",
          "%00",
          "a".repeat(300),
          "01M89X825QMPNY4FX7S0GP2D19%2F..",
          "%E2%80%AE",
        ]
      ) {
        const r = await fetch(`${app.url}/api/alerts/${bad}/pcap`, {
          headers: { cookie },
        });
        assert.equal(r.status, 400, bad);
        assert.match((await r.json()).error, /not an alert id/);
      }
      const lower = await fetch(
        `${app.url}/api/alerts/${a.netsentinel.id.toLowerCase()}/pcap`,
        { headers: { cookie } },
      );
      assert.equal(lower.status, 404);
      await lower.body?.cancel();
    } finally {
      await Deno.remove(caps, { recursive: true });
    }
  },
});

const noBrowser = await browserUnavailable();
const skipBrowser = (noBrowser !== null || noTcpdump) && !CI;

Deno.test({
  name:
    "the alert page of a replayed scan has a Download pcap button that saves a pcap tcpdump reads (headless Chromium, screenshot)" +
    (skipBrowser ? ` (skipped: ${noBrowser ?? "tcpdump not installed"})` : ""),
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const caps = await Deno.makeTempDir({ prefix: "ns-pcap-caps-" });
    const downloads = await Deno.makeTempDir({ prefix: "ns-pcap-dl-" });
    try {
      await Deno.copyFile(SCAN, join(caps, "scan.pcap"));
      await using app = await startAppliance({ capturesDir: caps });
      const cookie = await signIn(app.url);
      const start = await fetch(app.url + "/api/replay/start", {
        method: "POST",
        headers: {
          cookie,
          origin: app.url,
          "content-type": "application/json",
        },
        body: JSON.stringify({ file: "scan.pcap", speed: 0 }),
      });
      assert.equal(start.status, 200);
      await start.body?.cancel();
      const a = (await waitFor(
        "the port scan alert",
        async () =>
          (await (await fetch(app.url + "/api/alerts?type=port_scan", {
            headers: { cookie },
          })).json()).alerts as Alert[],
        (x) => x.length > 0,
      ))[0]!;
      await waitFor(
        "its pcap",
        () => app.app.pcaps.path(a.netsentinel.id),
        (p) => p !== null,
      );
      await using b = await launchBrowser();
      const { page, errors } = await b.page();
      await page.goto(app.url + "/");
      await page.type("input[name=password]", TEST_PASSWORD);
      await Promise.all([
        page.waitForNavigation(),
        page.click("button[type=submit]"),
      ]);
      await page.goto(`${app.url}/alerts/${a.netsentinel.id}`);
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      await screenshot(page, "alert-pcap");
      const cdp = await page.createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", {
        behavior: "allow",
        downloadPath: downloads,
      });
      await page.click("[data-testid=pcap-download]");
      const name = await waitFor("the pcap download", async () => {
        for await (const e of Deno.readDir(downloads)) {
          if (e.name.endsWith(".pcap")) return e.name;
        }
        return "";
      }, (n) => n !== "");
      assert.equal(name, `netsentinel-${a.netsentinel.id}.pcap`);
      const td = await new Deno.Command("tcpdump", {
        args: ["-nr", join(downloads, name)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(td.success, new TextDecoder().decode(td.stderr));
      assert.match(new TextDecoder().decode(td.stdout), /Flags \[S\]/);
      assert.deepEqual(errors, []);
    } finally {
      await Deno.remove(caps, { recursive: true });
      await Deno.remove(downloads, { recursive: true });
    }
  },
});
