/**
 * End to end, live: a bridged lab of network namespaces (victim with sshd,
 * a web server and a DNS server; a normal client; an admin host; an
 * attacker), NetSentinel's `run` capturing on the victim's interface and
 * blocking with nftables in the victim's namespace, the admin signed in to
 * the dashboard from a headless Chromium running in the admin's namespace.
 * Real tools attack: nmap, hydra, iodine, and curl with Nmap NSE's user
 * agent, which Emerging Threats Open rules (the committed subset, loaded
 * with `rules.paths`) raise as `signature` alerts. Each step prints its timing;
 * nothing asserts on time beyond generous deadlines. A webhook receiver in
 * the victim's namespace gets NetSentinel's notifications: the attacker's
 * scan is one message with the alert, its link and the block.
 *
 * One attacker address runs four attacks, and a block cuts its traffic
 * off, so the order matters: the DNS tunnel and the ssh brute force come
 * first, signatures never block here (`blocking.signature_categories` is
 * empty), and only port scans do (`blocking.types`), so the closing scan
 * is what blocks the attacker. Block duration 40 s.
 *
 * Puppeteer keeps a child process and pipes of its own: Deno's resource
 * and op sanitizers are off for this test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { hmacHex } from "../../notify/channels.ts";
import type { Message } from "../../notify/message.ts";
import { AdminConsole, type ApiAlert } from "./_admin.ts";
import { launchChromiumIn, screenshot, waitInPage } from "./_chromium.ts";
import { createLab, type ExecResult, type Lab, mustRun, poll } from "./_lab.ts";
import {
  type NetSentinel,
  prepareCode,
  startNetSentinel,
} from "./_netsentinel.ts";
import {
  missingTools,
  startVictimServices,
  TUNNEL_DOMAIN,
  TUNNEL_PASSWORD,
  type VictimServices,
} from "./_victim.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = join(ROOT, "main.ts");
const WORDLIST = join(ROOT, "tests/lab/wordlist.txt");
/** The committed Emerging Threats Open subset (scan, user_agents, dns, ftp). */
const ET_SUBSET = join(ROOT, "rules/testdata/etopen");
const inCi = Deno.env.get("CI") === "true";
const PASSWORD = "e2e admin password 7";
const PORT = 8080;
/** Block duration: long enough to outlast the crash and restart on a slow machine. */
const BLOCK_S = 40;
/** The webhook receiver's port on the victim's loopback. */
const HOOK_PORT = 8099;
const HOOK_SECRET = "e2e webhook key";
const HOOK_CHILD = join(ROOT, "tests/e2e/_webhook_child.ts");

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces, nftables)";
  const missing = await missingTools();
  return missing.length > 0
    ? `missing ${missing.join(", ")} (./run.sh setup test)`
    : null;
}

const why = await unavailable();

/** Prints a line of the test's timing report. */
function say(text: string): void {
  // deno-lint-ignore no-console
  console.log(`[e2e] ${text}`);
}

/** Times steps and the events inside them. */
class Clock {
  readonly #t0 = performance.now();
  #step = this.#t0;
  #name = "";

  start(name: string): void {
    this.#step = performance.now();
    this.#name = name;
    say(`${name} …`);
  }

  /** Seconds since the step started. */
  since(): string {
    return ((performance.now() - this.#step) / 1000).toFixed(1);
  }

  note(text: string): void {
    say(`  ${text} (+${this.since()} s)`);
  }

  end(): void {
    const total = ((performance.now() - this.#t0) / 1000).toFixed(1);
    say(`${this.#name}: done in ${this.since()} s (test time ${total} s)`);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** True when the nftables set of the victim holds `ip`. */
async function inBlockSet(lab: Lab, ip: string): Promise<boolean> {
  const out = await lab.exec("victim", [
    "nft",
    "list",
    "set",
    "inet",
    "netsentinel",
    "blocked4",
  ]);
  if (!out.success) throw new Error(`nft list set: ${out.stderr.trim()}`);
  return new RegExp(`[{,\\s]${escapeRe(ip)}[\\s,}]`).test(out.stdout);
}

/** One HTTP GET from `host` to `url` with a short timeout. */
function curl(lab: Lab, host: string, url: string): Promise<ExecResult> {
  return lab.exec(host, [
    "curl",
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--connect-timeout",
    "2",
    "--max-time",
    "4",
    url,
  ], { timeoutMs: 10_000 });
}

/** Asserts that `host` gets HTTP 200 from `url`. */
async function assertReaches(lab: Lab, host: string, url: string) {
  const r = await curl(lab, host, url);
  assert.equal(
    r.stdout,
    "200",
    `${host} cannot reach ${url}: exit ${r.code} ${r.stderr}`,
  );
}

/**
 * Asserts that the attacker gets nothing back: no HTTP answer, no ping
 * reply. `until` is the block's end, for the message.
 */
async function assertDropped(lab: Lab, url: string, ip: string, until: number) {
  const left = () =>
    `block ends in ${((until - Date.now()) / 1000).toFixed(1)} s`;
  const r = await curl(lab, "attacker", url);
  assert.ok(
    !r.success && r.stdout === "000",
    `the attacker still reached ${url}: exit ${r.code}, HTTP ${r.stdout} (${left()})`,
  );
  const p = await lab.exec("attacker", ["ping", "-c", "2", "-W", "1", ip]);
  assert.ok(
    !p.success,
    `the attacker's ping still answered (${left()}):\n${p.stdout}`,
  );
}

function ssh(lab: Lab, host: string, svc: VictimServices, cmd: string) {
  return lab.exec(host, [
    "ssh",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "PreferredAuthentications=password",
    "-o",
    "PubkeyAuthentication=no",
    "-o",
    "ConnectTimeout=10",
    `${svc.sshUser}@${lab.host("victim").ip}`,
    cmd,
  ], {
    env: {
      SSH_ASKPASS: svc.askpass,
      SSH_ASKPASS_REQUIRE: "force",
      DISPLAY: ":0",
    },
    timeoutMs: 30_000,
  });
}

/** Alerts stored in the data directory, through the CLI (no credentials needed). */
async function cliAlerts(dataDir: string): Promise<ApiAlert[]> {
  const out = await mustRun([
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "alerts",
    "--data",
    dataDir,
    "--format",
    "eve",
    "--limit",
    "1000",
  ], { env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } });
  return out.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l) as ApiAlert
  );
}

/**
 * Checks alerts raised by normal traffic: no rule alert at all (only the
 * informational new_host), nothing blocked. The Isolation Forest may flag
 * a rare but normal flow (ml/README.md: ssh sessions and large downloads
 * are its known false positives; a one-shot ssh login scores near the
 * threshold), so its alerts are allowed at low severity and printed.
 * Returns how many anomaly alerts there were.
 */
function checkNormal(alerts: readonly ApiAlert[], what: string): number {
  const rules = alerts.filter((a) =>
    a.netsentinel.type !== "new_host" && a.netsentinel.type !== "anomaly"
  );
  assert.deepEqual(rules, [], `${what} raised alerts:\n${summary(rules)}`);
  const bad = alerts.filter((a) =>
    a.alert.action === "blocked" || a.alert.severity < 3
  );
  assert.deepEqual(bad, [], `${what}: severe or blocking:\n${summary(bad)}`);
  const anomalies = alerts.filter((a) => a.netsentinel.type === "anomaly");
  for (const a of anomalies) {
    say(
      `  note: the anomaly model flagged normal traffic ${a.src_ip} -> ${a.dest_ip}:${a.dest_port} (score ${
        String(a.netsentinel.evidence?.["score"])
      } > ${String(a.netsentinel.evidence?.["threshold"])}): ${
        a.netsentinel.explanation ?? ""
      }`,
    );
  }
  return anomalies.length;
}

function summary(alerts: readonly ApiAlert[]): string {
  return alerts.map((a) =>
    `${a.netsentinel.type} ${a.src_ip} -> ${a.dest_ip ?? "-"}:${
      a.dest_port ?? "-"
    } (${a.alert.action})`
  ).join("\n") || "(none)";
}

Deno.test({
  name:
    "live attack lab: scans, brute force and a DNS tunnel raise alerts on the dashboard, block the attacker in nftables across a crash, never the admin, and the block expires" +
    (why !== null && !inCi ? ` (skipped: ${why})` : ""),
  ignore: why !== null && !inCi,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.equal(why, null, `the attack lab cannot run here: ${why}`);
    const clock = new Clock();
    await using stack = new AsyncDisposableStack();

    // ---------------------------------------------------------- set-up
    clock.start("set-up: lab, services, NetSentinel");
    await prepareCode();
    clock.note("module cache and dashboard bundle ready");
    const lab = await createLab(["victim", "client", "admin", "attacker"], {
      addrs: { victim: 10, client: 20, admin: 30, attacker: 66 },
    });
    stack.defer(() => lab.remove());
    const victim = lab.host("victim"), client = lab.host("client");
    const admin = lab.host("admin"), attacker = lab.host("attacker");
    for (const h of lab.hosts) {
      await lab.etcFile(
        h.name,
        "resolv.conf",
        `nameserver ${victim.ip}\nsearch lab.test\noptions timeout:1 attempts:1\n`,
      );
    }
    clock.note(`lab ${lab.subnet} (namespaces e2e-${lab.tag}-*)`);
    const svc = await startVictimServices(lab, "victim");
    stack.defer(() => svc.stop());
    clock.note("sshd, web server, dnsmasq, iodined listening");
    const work = await Deno.makeTempDir({ prefix: "ns-e2e-" });
    stack.defer(() => Deno.remove(work, { recursive: true }));
    const dataDir = join(work, "data");
    const configPath = join(work, "config.json");
    const hook = lab.spawn("victim", [
      Deno.execPath(),
      "run",
      "--allow-net",
      HOOK_CHILD,
      String(HOOK_PORT),
    ]);
    await poll(
      "the webhook receiver",
      () => Promise.resolve(hook.output().includes("LISTENING") ? true : null),
    );
    const hooks = (): { headers: Record<string, string>; body: string }[] =>
      hook.output().split("\n").filter((l) => l.startsWith("HOOK "))
        .map((l) => JSON.parse(l.slice(5)));
    await Deno.writeTextFile(
      configPath,
      JSON.stringify(
        {
          // Report new hosts at once (a fresh install would learn them quietly).
          new_host_learning: 0,
          rdns: { server: `${victim.ip}:53`, lookup_private: true },
          blocking: { durations: [`${BLOCK_S}s`], types: ["port_scan"] },
          policy: { home_net: [lab.subnet] },
          rules: { paths: [ET_SUBSET], update_interval: 0 },
          notify: {
            public_url: `http://${victim.ip}:${PORT}/`,
            channels: [{
              id: "lab",
              kind: "webhook",
              url: `http://127.0.0.1:${HOOK_PORT}/hook`,
              secret: HOOK_SECRET,
              digest: "10s",
              route: { types: ["port_scan"], events: ["block_made"] },
            }],
          },
        },
        null,
        2,
      ),
    );
    const nsOpts = {
      host: "victim",
      dataDir,
      configPath,
      port: PORT,
      password: PASSWORD,
    };
    let ns: NetSentinel = await startNetSentinel(lab, nsOpts);
    stack.defer(async () => {
      await ns.proc.stop("SIGTERM");
    });
    const dash = ns.url;
    const web = `http://${victim.ip}/`;
    clock.note(`NetSentinel capturing on ${victim.ns}/${victim.iface}`);
    clock.end();

    // ---------------------------------------------------------- step 1
    clock.start("step 1: normal traffic");
    await assertReaches(lab, "attacker", web);
    const ping0 = await lab.exec("attacker", [
      "ping",
      "-c",
      "2",
      "-W",
      "1",
      victim.ip,
    ]);
    assert.ok(ping0.success, ping0.stdout + ping0.stderr);
    clock.note("the attacker reaches the victim (HTTP 200, ping answered)");
    // A person at the client for about 12 s: a page with its assets, a
    // lookup, an API poll, then reading for 1.5 s (pacing the traffic like
    // a person, not waiting for anything); one download. The admin host
    // looks a name up and polls the web server now and then.
    const pages = [
      "",
      "page/news.html",
      "page/it-faq.html",
      "page/roadmap.html",
    ];
    const assets = ["static/style.css", "static/app.js", "img/3.png"];
    const names = ["www.lab.test", "files.lab.test", "victim.lab.test"];
    let requests = 0, lookups = 0, adminRequests = 0;
    const busyUntil = Date.now() + 12_000;
    for (let round = 0; round < 4 || Date.now() < busyUntil; round++) {
      const get = async (host: string, path: string) => {
        await assertReaches(lab, host, `${web}${path}`);
        if (host === "client") requests++;
        else adminRequests++;
      };
      await get("client", pages[round % pages.length]!);
      await get("client", assets[round % assets.length]!);
      if (round === 2) await get("client", "files/256.bin");
      const n = names[round % names.length]!;
      const d = await lab.exec("client", ["dig", "+short", n]);
      assert.ok(d.success && d.stdout.trim() !== "", `dig ${n}: ${d.stderr}`);
      lookups++;
      await get("client", "api/status");
      if (round % 3 === 0) {
        const mx = await lab.exec("admin", ["dig", "+short", "MX", "lab.test"]);
        assert.ok(mx.success && mx.stdout.trim() !== "", mx.stderr);
        await get("admin", "api/status");
      }
      await new Promise((r) => setTimeout(r, 1500));
    }
    clock.note(
      `client: ${requests} HTTP requests, ${lookups} DNS lookups; admin: ${adminRequests} requests`,
    );
    // A script's one-shot commands: more logins than brute_force's 10
    // attempts, none of them a guess (each logs in).
    const LOGINS = 12;
    for (let i = 0; i < LOGINS; i++) {
      const login = await ssh(lab, "client", svc, "id -un; uptime");
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, new RegExp(`^${svc.sshUser}$`, "m"));
    }
    clock.note(
      `client: ${LOGINS} one-shot ssh commands logged in (${svc.sshUser})`,
    );
    // new_host alerts for the three hosts show the pipeline caught up.
    const early = await poll(
      "new_host alerts for the client and admin",
      async () => {
        const all = await cliAlerts(dataDir);
        const hosts = new Set(
          all.filter((a) => a.netsentinel.type === "new_host").map((a) =>
            a.src_ip
          ),
        );
        return hosts.has(client.ip) && hosts.has(admin.ip) ? all : null;
      },
      { timeoutMs: 30_000, everyMs: 500 },
    );
    const anomalies1 = checkNormal(early, "normal traffic");
    clock.note(
      `alerts so far: ${early.length}: new_host` +
        (anomalies1 > 0 ? `, ${anomalies1} low-severity anomaly` : ""),
    );
    clock.end();

    // ---------------------------------------------------------- step 2
    clock.start("step 2: the admin signs in from the admin host");
    const browser = await launchChromiumIn(admin.ns);
    stack.defer(() => browser.close());
    clock.note(
      `Chromium runs in ${browser.ns} (checked with ip netns identify)`,
    );
    const { page, errors } = await browser.page();
    const con = new AdminConsole(page, dash);
    await con.install();
    await con.open("/alerts", PASSWORD);
    // The live list of alerts (the page opens on the grouped inbox).
    await page.goto(dash + "/alerts?view=list", { timeout: 30_000 });
    await con.waitLive();
    clock.note("signed in; /alerts?view=list hydrated, live socket open");
    const shot1 = await screenshot(page, "e2e-alerts-signed-in");
    clock.note(`screenshot ${shot1}`);
    assert.equal((await con.api("/api/alerts?limit=1")).status, 200);
    clock.end();

    /** Waits for an alert of `type` from `src` in the API, on the page's socket and in its table. */
    const waitAlert = async (type: string, src: string): Promise<ApiAlert> => {
      const a = await poll(
        `a ${type} alert from ${src} in /api/alerts`,
        async () =>
          (await con.alerts()).find((x) =>
            x.netsentinel.type === type && x.src_ip === src
          ) ?? null,
        { timeoutMs: 60_000, everyMs: 250 },
      );
      clock.note(
        `${type} from ${src} in /api/alerts (action ${a.alert.action})`,
      );
      await poll(
        `the ${type} alert on the page's /ws/live`,
        async () =>
          (await con.liveAlerts()).find((x) => x.id === a.netsentinel.id) ??
            null,
        { timeoutMs: 30_000 },
      );
      await waitInPage(
        page,
        `the ${type} row in the alert table`,
        (id: string) =>
          document.querySelector(`table.alerts tr[data-id="${id}"]`) !== null,
        [a.netsentinel.id],
      );
      clock.note(`${type} from ${src} received on /ws/live and shown`);
      return a;
    };

    // ---------------------------------------------------------- step 3
    clock.start("step 3a: the signed-in admin scans the victim");
    const adminScan = await lab.exec("admin", [
      "nmap",
      "-sS",
      "-n",
      "-Pn",
      "-T4",
      "--max-retries",
      "0",
      "-p",
      "1-200",
      victim.ip,
    ], { timeoutMs: 60_000 });
    assert.ok(adminScan.success, adminScan.stderr);
    clock.note("nmap done");
    const adminAlert = await waitAlert("port_scan", admin.ip);
    assert.notEqual(adminAlert.alert.action, "blocked");
    // The admin's Blocks page, in a second tab: the refused decision and why.
    const blocksPage = await browser.browser.newPage();
    const refusedRe = new RegExp(
      `${escapeRe(admin.ip)}\\s+refused\\s+"${
        escapeRe(admin.ip)
      }" is the address of a signed-in admin session`,
    );
    await poll("the refused block on the Blocks page", async () => {
      await blocksPage.goto(`${dash}/blocks`);
      const text = await blocksPage.evaluate(() => document.body.innerText);
      return refusedRe.test(text) ? text : null;
    }, { timeoutMs: 30_000, everyMs: 500 });
    await screenshot(blocksPage, "e2e-blocks-admin-refused");
    await blocksPage.close();
    assert.equal(await inBlockSet(lab, admin.ip), false);
    await assertReaches(lab, "admin", web);
    clock.note("refused block recorded (admin session); admin not in blocked4");
    clock.end();

    clock.start("step 3b: the attacker tunnels through DNS (iodine)");
    const iodine = lab.spawn("attacker", [
      "iodine",
      "-f",
      "-r",
      "-P",
      TUNNEL_PASSWORD,
      victim.ip,
      TUNNEL_DOMAIN,
    ]);
    try {
      await poll("the iodine tunnel to carry a ping", async () => {
        const r = await lab.exec("attacker", [
          "ping",
          "-c",
          "1",
          "-W",
          "1",
          svc.tunnelServerIp,
        ]);
        return r.success ? true : null;
      }, { timeoutMs: 60_000, everyMs: 250 }).catch((e) => {
        throw new Error(`${(e as Error).message}\niodine:\n${iodine.output()}`);
      });
      clock.note("tunnel up");
      const through = await lab.exec("attacker", [
        "ping",
        "-c",
        "30",
        "-i",
        "0.05",
        "-s",
        "600",
        svc.tunnelServerIp,
      ]);
      assert.ok(through.success, through.stdout);
      clock.note("30 pings of 600 bytes through the tunnel");
      const tunnelAlert = await waitAlert("dns_tunnel", attacker.ip);
      assert.equal(tunnelAlert.dest_ip, victim.ip);
    } finally {
      await iodine.stop();
    }
    clock.end();

    clock.start("step 3c: the attacker guesses ssh passwords (hydra)");
    const words = (await Deno.readTextFile(WORDLIST)).split("\n")
      .filter((w) => w !== "").slice(0, 30);
    const wordFile = join(work, "words.txt");
    await Deno.writeTextFile(wordFile, words.join("\n") + "\n");
    const hydra = await lab.exec("attacker", [
      "hydra",
      "-I",
      "-q",
      "-w",
      "1",
      "-t",
      "4",
      "-l",
      svc.sshUser,
      "-P",
      wordFile,
      `ssh://${victim.ip}`,
    ], { cwd: work, timeoutMs: 120_000 });
    assert.match(hydra.stdout, /0 valid password/, hydra.stdout + hydra.stderr);
    clock.note(`hydra done: ${words.length} passwords`);
    const brute = await waitAlert("brute_force", attacker.ip);
    assert.equal(brute.dest_ip, victim.ip);
    assert.equal(brute.dest_port, 22);
    await assertReaches(lab, "attacker", web);
    clock.note("the attacker is not blocked yet (only scans block here)");
    clock.end();

    clock.start("step 3d: an Nmap NSE request matches ET Open rules");
    const nse = await lab.exec("attacker", [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "--max-time",
      "5",
      "-A",
      "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
      `${web}cgi-bin/test.cgi`,
    ]);
    assert.ok(nse.success, nse.stderr);
    const sig = await waitAlert("signature", attacker.ip);
    const sigs = await poll(
      "the ET rule's signature alert",
      async () => {
        const all = (await con.alerts()).filter((x) =>
          x.netsentinel.type === "signature" && x.src_ip === attacker.ip
        );
        return all.some((x) => x.alert.signature_id === 2024364) ? all : null;
      },
      { timeoutMs: 30_000, everyMs: 250 },
    );
    clock.note(
      `signature alerts: ${
        sigs.map((x) => `${x.alert.signature_id} "${x.alert.signature}"`).join(
          ", ",
        )
      } (first on the page: ${sig.alert.signature_id})`,
    );
    assert.notEqual(sig.alert.action, "blocked");
    clock.end();

    clock.start("step 3e: the attacker's SYN scan gets it blocked");
    const scan = await lab.exec("attacker", [
      "nmap",
      "-sS",
      "-n",
      "-Pn",
      "-T4",
      "--max-retries",
      "0",
      "-p",
      "1-1000",
      victim.ip,
    ], { timeoutMs: 120_000 });
    assert.ok(scan.success, scan.stderr);
    clock.note("nmap done");
    const scanAlert = await waitAlert("port_scan", attacker.ip);
    await poll(
      "the attacker in nftables set blocked4",
      async () => (await inBlockSet(lab, attacker.ip)) ? true : null,
      { timeoutMs: 30_000 },
    );
    clock.note("attacker in blocked4");
    const block = await poll(
      "the attacker's block in /api/blocks",
      async () =>
        (await con.blocks()).find((b) => b.target === attacker.ip) ?? null,
    );
    assert.equal(block.source, "auto");
    assert.equal(block.alert_id, scanAlert.netsentinel.id);
    const live = await poll(
      "the scan alert marked blocked",
      async () =>
        (await con.alerts()).find((a) =>
          a.netsentinel.id === scanAlert.netsentinel.id &&
          a.alert.action === "blocked"
        ) ?? null,
    );
    assert.equal(live.src_ip, attacker.ip);
    await assertDropped(lab, web, victim.ip, Date.parse(block.until));
    clock.note("the attacker's HTTP request and pings get no answer");
    const scanMessages = () =>
      hooks().map((h) => ({
        ...h,
        m: JSON.parse(h.body).netsentinel as Message,
      })).filter((h) =>
        h.m.items.some((i) => i.src === attacker.ip && i.type === "port_scan")
      );
    const [notice] = await poll(
      "the webhook message of the attacker's scan",
      () => Promise.resolve(scanMessages().length > 0 ? scanMessages() : null),
      { timeoutMs: 60_000 },
    );
    const item = notice!.m.items.find((i) =>
      i.src === attacker.ip && i.type === "port_scan"
    )!;
    assert.equal(item.id, scanAlert.netsentinel.id);
    assert.equal(
      item.link,
      `http://${victim.ip}:${PORT}/alerts/${scanAlert.netsentinel.id}`,
    );
    assert.match(item.blocked ?? "", new RegExp(`^${attacker.ip} for 40s$`));
    assert.equal(
      notice!.headers["x-netsentinel-signature"],
      `sha256=${await hmacHex(HOOK_SECRET, notice!.body)}`,
    );
    clock.note(
      `webhook: "${notice!.m.title}" (${
        notice!.m.items.map((i) => `${i.type} from ${i.src}`).join(", ")
      }) with the alert's link and the block`,
    );
    await assertReaches(lab, "client", web);
    await assertReaches(lab, "client", `${dash}/health`);
    await assertReaches(lab, "admin", web);
    assert.equal((await con.api("/api/blocks")).status, 200);
    assert.equal(await inBlockSet(lab, admin.ip), false);
    clock.note("client and admin still reach the victim and the dashboard");
    const shot2 = await screenshot(page, "e2e-alerts-attacks");
    const tab = await browser.browser.newPage();
    await tab.goto(`${dash}/blocks`);
    const shot3 = await screenshot(tab, "e2e-blocks-attacker");
    await tab.close();
    clock.note(`screenshots ${shot2}, ${shot3}`);
    clock.end();

    // ---------------------------------------------------------- step 4
    clock.start("step 4: kill -9 and start again");
    const before = await con.alerts();
    await ns.proc.stop("SIGKILL");
    clock.note("NetSentinel killed (SIGKILL)");
    // As after a reboot: the kernel's set is empty; KV must put the block back.
    await mustRun([
      "ip",
      "netns",
      "exec",
      victim.ns,
      "nft",
      "flush",
      "set",
      "inet",
      "netsentinel",
      "blocked4",
    ]);
    assert.equal(await inBlockSet(lab, attacker.ip), false);
    clock.note("set blocked4 flushed while NetSentinel is down");
    ns = await startNetSentinel(lab, nsOpts);
    clock.note("started again, capture up");
    await poll(
      "the attacker back in blocked4 (re-synced from KV)",
      async () => (await inBlockSet(lab, attacker.ip)) ? true : null,
      { timeoutMs: 30_000 },
    );
    clock.note("attacker back in blocked4");
    await page.reload();
    await con.waitLive();
    clock.note("the admin's page reloaded, session still valid, live again");
    const after = await con.alerts();
    const afterIds = new Set(after.map((a) => a.netsentinel.id));
    const lost = before.filter((a) => !afterIds.has(a.netsentinel.id));
    assert.deepEqual(lost, [], `alerts lost in the crash:\n${summary(lost)}`);
    clock.note(`all ${before.length} alerts still in /api/alerts`);
    assert.ok(
      (await con.blocks()).some((b) => b.target === attacker.ip),
      "the block is listed after the restart",
    );
    await assertDropped(lab, web, victim.ip, Date.parse(block.until));
    await assertReaches(lab, "client", web);
    clock.note("attacker still dropped; client still served");
    assert.equal(
      scanMessages().length,
      1,
      "one webhook message for the attacker's scan, also after the restart",
    );
    assert.ok(
      !hooks().some((h) =>
        (JSON.parse(h.body).netsentinel as Message).items.some((i) =>
          i.type === "block_made" && i.src === attacker.ip
        )
      ),
      "the automatic block is in the alert's message, not a message of its own",
    );
    clock.end();

    // ---------------------------------------------------------- step 5
    clock.start("step 5: the block expires");
    const until = Date.parse(block.until);
    const back = await poll(
      "the attacker to reach the victim again",
      async () => {
        const r = await curl(lab, "attacker", web);
        return r.stdout === "200" ? r : null;
      },
      { timeoutMs: Math.max(0, until - Date.now()) + 30_000, everyMs: 500 },
    );
    assert.equal(back.stdout, "200");
    clock.note(
      `attacker served again ${
        ((Date.now() - until) / 1000).toFixed(1)
      } s after the block's end`,
    );
    assert.equal(await inBlockSet(lab, attacker.ip), false);
    await poll(
      "the block gone from /api/blocks",
      async () =>
        (await con.blocks()).some((b) => b.target === attacker.ip)
          ? null
          : true,
    );
    clock.end();

    // ---------------------------------------------------------- the whole run
    const all = await con.alerts();
    say(`alerts at the end:\n${summary(all)}`);
    const anomalies = checkNormal(
      all.filter((a) => a.src_ip === client.ip),
      "the normal client over the whole run",
    );
    clock.note(`the normal client: new_host only, plus ${anomalies} anomaly`);
    const seenNew = new Map<string, number>();
    for (const a of all) {
      if (a.netsentinel.type !== "new_host") continue;
      seenNew.set(a.src_ip, (seenNew.get(a.src_ip) ?? 0) + 1);
    }
    const again = [...seenNew].filter(([, n]) => n > 1).map(([ip]) => ip);
    if (again.length > 0) {
      clock.note(
        `new_host raised again after the restart for ${again.join(", ")}`,
      );
    }
    const adminBlocked = all.filter((a) =>
      a.src_ip === admin.ip && a.alert.action === "blocked"
    );
    assert.deepEqual(adminBlocked, [], "the admin was never blocked");
    // Expected: the socket drops while NetSentinel is down, and Chromium
    // ignores (and logs) Cross-Origin-Opener-Policy on a plain-HTTP LAN origin.
    const pageErrors = errors.filter((e) =>
      !/WebSocket|ERR_CONNECTION|Cross-Origin-Opener-Policy header has been ignored/
        .test(e)
    );
    assert.deepEqual(pageErrors, [], "the admin's page logged errors");
  },
});
