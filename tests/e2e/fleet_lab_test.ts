/**
 * Three NetSentinel appliances in three namespaces of one lab, sharing a
 * real `redis-server` in a fourth (append-only, as a user's Redis would
 * keep its data). Each runs as a user runs it (`run -i eth0`, its own data
 * directory, its own nftables table):
 *
 * 1. nmap from the attacker against sensor A: A blocks it, B and C apply
 *    the fleet's decision (the address lands in their nft sets).
 * 2. Redis is killed. C unblocks the attacker by its API (its nft set
 *    loses it at once); a second attacker scans B, which blocks it
 *    locally. A's /health and /metrics say Redis is down.
 * 3. Redis is restarted: the lift reaches A and B, B's block reaches A
 *    and C, and both scans' alerts are in the fleet's stream with their
 *    sensor named (nothing lost across the outage).
 * 4. C is stopped: A's Fleet page, in headless Chromium, shows C stale
 *    (screenshot in tests/artifacts/fleet-stale.png).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  launchChromiumIn,
  type NsBrowser,
  screenshot,
  waitInPage,
} from "./_chromium.ts";
import { createLab, type Lab, poll } from "./_lab.ts";
import {
  type NetSentinel,
  prepareCode,
  startNetSentinel,
} from "./_netsentinel.ts";
import { redisUnavailable } from "../../fleet/_testing.ts";

const inCi = Deno.env.get("CI") === "true";
const PASSWORD = "fleet lab password 3";
const PORT = 8080;
const SENSORS = ["a", "b", "c"] as const;

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces, nftables)";
  const r = await redisUnavailable();
  if (r !== null) return r;
  for (const t of ["nmap", "curl", "nft", "/usr/bin/chromium"]) {
    const c = await new Deno.Command("sh", {
      args: ["-c", t.startsWith("/") ? `test -x ${t}` : `command -v ${t}`],
      stdout: "null",
    }).output();
    if (!c.success) return `missing ${t}`;
  }
  return null;
}

const why = await unavailable();

function say(text: string): void {
  // deno-lint-ignore no-console
  console.log(`[fleet] ${text}`);
}

/** The addresses in the blocker's IPv4 set in `host`'s namespace. */
async function blockSet(lab: Lab, host: string): Promise<string> {
  const out = await lab.exec(host, [
    "nft",
    "list",
    "set",
    "inet",
    "netsentinel",
    "blocked4",
  ]);
  return out.success ? out.stdout : "";
}

function inSet(set: string, ip: string): boolean {
  return new RegExp(`[{,\\s]${ip.replaceAll(".", "\\.")}[\\s,}]`).test(set);
}

/** Signed-in API calls to a sensor's dashboard from inside its namespace. */
class Api {
  #jar: string | null = null;
  /** `jarPath`: where curl keeps the session cookie (inside the test's work directory, removed with it). */
  constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly url: string,
    readonly jarPath: string,
  ) {}

  async #signIn(): Promise<string> {
    if (this.#jar !== null) return this.#jar;
    const jar = this.jarPath;
    const r = await this.lab.exec(this.host, [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-c",
      jar,
      "-H",
      `Origin: ${this.url}`,
      "--data-urlencode",
      "user=admin",
      "--data-urlencode",
      `password=${PASSWORD}`,
      `${this.url}/signin`,
    ]);
    assert.equal(r.stdout, "303", `sign-in on ${this.host}: ${r.stderr}`);
    this.#jar = jar;
    return jar;
  }

  /** Resolves to [status, body]. */
  async call(path: string, method = "GET"): Promise<[number, string]> {
    const jar = await this.#signIn();
    const r = await this.lab.exec(this.host, [
      "curl",
      "-s",
      "--max-time",
      "10",
      "-X",
      method,
      "-b",
      jar,
      "-H",
      `Origin: ${this.url}`,
      "-w",
      "\n%{http_code}",
      `${this.url}${path}`,
    ]);
    const i = r.stdout.lastIndexOf("\n");
    return [Number(r.stdout.slice(i + 1)), r.stdout.slice(0, i)];
  }

  async json<T>(path: string): Promise<T> {
    const [status, body] = await this.call(path);
    assert.equal(status, 200, `${path} on ${this.host}: ${body}`);
    return JSON.parse(body) as T;
  }
}

interface FleetJson {
  connected: boolean;
  sensors: { sensor: string; stale: boolean }[];
  decisions: { target: string; sensor: string }[];
}

Deno.test({
  name:
    "a scan seen by one sensor blocks the attacker on the others, an unblock anywhere lifts it everywhere, a Redis outage loses nothing, a stopped sensor turns stale",
  ignore: why !== null && !inCi,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (why !== null) throw new Error(`Cannot run: ${why}`);
    await prepareCode();
    await using lab = await createLab([
      "redis",
      ...SENSORS,
      "scan",
      "raid",
    ]);
    const work = await Deno.makeTempDir({ prefix: "ns-fleet-" });
    const redisIp = lab.host("redis").ip;
    const attacker = lab.host("scan").ip;
    const attacker2 = lab.host("raid").ip;
    const redisArgs = [
      "redis-server",
      "--port",
      "6379",
      "--bind",
      redisIp,
      "--dir",
      work,
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--save",
      "",
      "--protected-mode",
      "no",
    ];
    const startRedis = async () => {
      const p = lab.spawn("redis", redisArgs);
      await poll("redis-server", async () => {
        const r = await lab.exec("redis", [
          "redis-cli",
          "-h",
          redisIp,
          "PING",
        ]);
        return r.stdout.trim() === "PONG" ? true : null;
      });
      return p;
    };
    let redis = await startRedis();
    const ns: Record<string, NetSentinel> = {};
    let browser: NsBrowser | null = null;
    const api: Record<string, Api> = {};
    try {
      for (const s of SENSORS) {
        const dir = join(work, s);
        await Deno.mkdir(dir);
        const configPath = join(dir, "config.json");
        await Deno.writeTextFile(
          configPath,
          JSON.stringify({
            new_host_learning: 0,
            blocking: { durations: ["600s"], types: ["port_scan"] },
            policy: { home_net: [lab.subnet] },
            intel: { feeds: [] },
            fleet: {
              enabled: true,
              sensor: s,
              redis: { server: redisIp },
              heartbeat: "1s",
              stale_after: "5s",
            },
            // A also ships its EVE records the way Suricata does.
            ...(s === "a"
              ? {
                eve: {
                  redis: { enabled: true, server: redisIp, mode: "stream" },
                },
              }
              : {}),
          }),
        );
        ns[s] = await startNetSentinel(lab, {
          host: s,
          dataDir: join(dir, "data"),
          configPath,
          port: PORT,
          password: PASSWORD,
          timeoutMs: 120_000,
        });
        api[s] = new Api(lab, s, ns[s]!.url, join(dir, "cookies.txt"));
        say(`sensor ${s} up at ${ns[s]!.url}`);
      }
      await poll("three fresh sensors on a", async () => {
        const f = await api.a!.json<FleetJson>("/api/fleet");
        return f.sensors.filter((x) => !x.stale).length === 3 ? f : null;
      }, { timeoutMs: 30_000, everyMs: 250 });

      // The admin's browser, signed in on A's dashboard (from A's namespace).
      browser = await launchChromiumIn(lab.host("a").ns);
      const { page } = await browser.page();
      await page.goto(`${ns.a!.url}/fleet`);
      if (new URL(page.url()).pathname === "/signin") {
        await page.type("input[name=password]", PASSWORD);
        await Promise.all([
          page.waitForNavigation(),
          page.click("button[type=submit]"),
        ]);
      }

      // 1. A scan seen by A blocks the attacker on B and C.
      const scan = (from: string, target: string) =>
        lab.exec(from, [
          "nmap",
          "-sS",
          "-n",
          "-Pn",
          "-T4",
          "--max-retries",
          "0",
          "-p",
          "1-200",
          target,
        ], { timeoutMs: 90_000 });
      const s1 = await scan("scan", lab.host("a").ip);
      assert.ok(s1.success, s1.stderr);
      const t0 = performance.now();
      await poll("the attacker in the nft sets of a, b and c", async () => {
        for (const s of SENSORS) {
          if (!inSet(await blockSet(lab, s), attacker)) return null;
        }
        return true;
      }, { timeoutMs: 60_000, everyMs: 100 });
      say(
        `attacker blocked on a, b, c ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s after nmap ended`,
      );
      const f1 = await api.b!.json<FleetJson>("/api/fleet");
      assert.ok(
        f1.decisions.some((d) => d.target === attacker && d.sensor === "a"),
        JSON.stringify(f1.decisions),
      );

      // 2. Redis is killed; C lifts the block, B blocks a second attacker.
      await redis.stop("SIGKILL");
      await poll("a to see Redis down in /health and /metrics", async () => {
        const h = await ns.a!.health();
        const fleet = h?.parts.fleet as { state?: string } | undefined;
        if (fleet?.state !== "down") return null;
        const [, m] = await api.a!.call("/metrics");
        return /^netsentinel_fleet_redis_up 0$/m.test(m) ? true : null;
      }, { timeoutMs: 30_000, everyMs: 200 });
      say("redis killed; a says so");
      await poll("a's Fleet page to say Redis is unreachable", async () => {
        await page.goto(`${ns.a!.url}/fleet`);
        return await page.evaluate(() =>
            document.querySelector("[data-testid=fleet-redis][role=alert]")
              ?.textContent?.includes("Redis unreachable") ?? false
          )
          ? true
          : null;
      });
      say(`screenshot ${await screenshot(page, "fleet-redis-down")}`);
      const [st, body] = await api.c!.call(
        `/api/blocks/${encodeURIComponent(attacker)}`,
        "DELETE",
      );
      assert.equal(st, 200, body);
      await poll(
        "the attacker out of c's set",
        async () => inSet(await blockSet(lab, "c"), attacker) ? null : true,
      );
      const s2 = await scan("raid", lab.host("b").ip);
      assert.ok(s2.success, s2.stderr);
      await poll(
        "attacker2 blocked locally on b",
        async () => inSet(await blockSet(lab, "b"), attacker2) ? true : null,
        {
          timeoutMs: 60_000,
        },
      );
      // Still away: A keeps the attacker, A and C do not have attacker2.
      assert.ok(inSet(await blockSet(lab, "a"), attacker));
      assert.ok(!inSet(await blockSet(lab, "a"), attacker2));

      // 3. Redis returns: everything made meanwhile reaches everyone.
      redis = await startRedis();
      say("redis restarted");
      await poll("the lift on a and b, attacker2 on a and c", async () => {
        const a = await blockSet(lab, "a");
        const b = await blockSet(lab, "b");
        const c = await blockSet(lab, "c");
        return !inSet(a, attacker) && !inSet(b, attacker) &&
            inSet(a, attacker2) && inSet(c, attacker2) && inSet(b, attacker2)
          ? true
          : null;
      }, { timeoutMs: 60_000, everyMs: 200 });
      const alerts = await poll(
        "both scans in the fleet's alerts",
        async () => {
          const j = await api.c!.json<
            { alerts: { sensor: string; eve: Record<string, unknown> }[] }
          >("/api/fleet/alerts?limit=1000");
          const scanOf = (sensor: string, src: string) =>
            j.alerts.some((x) =>
              x.sensor === sensor && x.eve.src_ip === src &&
              (x.eve.netsentinel as { type?: string })?.type === "port_scan"
            );
          return scanOf("a", attacker) && scanOf("b", attacker2) ? j : null;
        },
        { timeoutMs: 60_000, everyMs: 250 },
      );
      const onlyB = await api.c!.json<{ alerts: { sensor: string }[] }>(
        "/api/fleet/alerts?sensor=b",
      );
      assert.ok(onlyB.alerts.length > 0);
      assert.ok(onlyB.alerts.every((x) => x.sensor === "b"));
      say(`fleet alerts: ${alerts.alerts.length}`);
      // Hostile input: 400, not 500.
      assert.equal(
        (await api.a!.call("/api/fleet/alerts?sensor=%00%27x"))[0],
        400,
      );
      assert.equal((await api.a!.call("/api/fleet/alerts?limit=0"))[0], 400);
      assert.equal((await api.a!.call("/fleet?sensor=..%2F"))[0], 400);
      // A's EVE records reached Redis in Suricata's stream form with its name.
      await poll("a's EVE records in the suricata stream", async () => {
        const xr = await lab.exec("redis", [
          "redis-cli",
          "-h",
          redisIp,
          "XREVRANGE",
          "suricata",
          "+",
          "-",
          "COUNT",
          "1000",
        ]);
        return xr.stdout.includes('"host":"a"') &&
            xr.stdout.includes(`"src_ip":"${attacker}"`)
          ? true
          : null;
      });

      // 4. C stops: its heartbeat ends and A's Fleet page shows it stale.
      await ns.c!.proc.stop("SIGTERM");
      {
        await poll("c stale on a's Fleet page", async () => {
          await page.goto(`${ns.a!.url}/fleet`);
          return await page.evaluate(() =>
              document.querySelector(
                  'table[data-testid=fleet-sensors] tr[data-sensor="c"][data-state="stale"]',
                ) !== null &&
              document.querySelector(
                  'table[data-testid=fleet-sensors] tr[data-sensor="a"][data-state="fresh"]',
                ) !== null
            )
            ? true
            : null;
        }, { timeoutMs: 60_000, everyMs: 1000 });
        await waitInPage(
          page,
          "the fleet's alerts naming sensor b",
          () =>
            document.querySelector(
              'table[data-testid=fleet-alerts] tr[data-sensor="b"]',
            ) !== null,
          [],
        );
        const shot = await screenshot(page, "fleet-stale");
        say(`screenshot ${shot}`);
      }
    } finally {
      await browser?.close();
      for (const s of SENSORS) await ns[s]?.proc.stop("SIGTERM");
      await redis.stop("SIGTERM");
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
