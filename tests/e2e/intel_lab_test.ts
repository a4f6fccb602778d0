/**
 * End to end, live: threat feeds against real traffic. A lab of network
 * namespaces: `home` (the device, running NetSentinel on its interface and
 * the tools: dig, curl, openssl s_client), `dns` (dnsmasq, home's resolver),
 * `web` (HTTP and a TLS server whose certificate's SHA-1 goes on a feed)
 * and `c2` (a "botnet controller" with a web server). Feeds are local files
 * updated with `netsentinel intel update` (the CLI path); the running
 * appliance picks the copies up.
 *
 * First the traffic runs with feeds that list none of it: no intel alert.
 * Then the feeds list the controller, the domain and the certificate, the
 * same traffic runs again, and each match raises its alert naming home;
 * the controller (feed allows blocking) is blocked in nftables, so home's
 * next connection to it is dropped by the output rule; the resolver, also
 * listed, is never blocked (it is home's DNS server).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createLab, type Lab, mustRun, poll } from "./_lab.ts";
import { prepareCode, startNetSentinel } from "./_netsentinel.ts";
import { missingTools } from "./_victim.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = join(ROOT, "main.ts");
const HTTP_SERVER = join(ROOT, "tests/lab/http_server.ts");
const inCi = Deno.env.get("CI") === "true";
const PASSWORD = "e2e intel password 3";
const DOMAIN = "malware-drop.test";
const ENV = { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces, nftables)";
  const missing = await missingTools();
  return missing.length > 0
    ? `missing ${missing.join(", ")} (./run.sh setup test)`
    : null;
}

const why = await unavailable();

/** Eve alerts of type intel from the stored database (the CLI reads it). */
async function intelAlerts(data: string): Promise<
  {
    src_ip: string;
    dest_ip?: string;
    alert: { signature_id: number; severity: number; action: string };
    netsentinel: {
      first_seen: string;
      evidence: Record<string, unknown>;
    };
  }[]
> {
  const out = await mustRun([
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "alerts",
    "--type",
    "intel",
    "--format",
    "eve",
    "--limit",
    "200",
    "--data",
    data,
  ], { env: ENV });
  return out.split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l)
  );
}

async function intelUpdate(data: string, config: string): Promise<string> {
  return await mustRun([
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "intel",
    "update",
    "--data",
    data,
    "--config",
    config,
  ], { env: ENV });
}

/** The traffic of both phases, from home; resolves when every tool ended. */
async function traffic(lab: Lab): Promise<void> {
  const web = lab.host("web").ip, c2 = lab.host("c2").ip;
  const dns = lab.host("dns").ip;
  const run = (cmd: string[]) => lab.exec("home", cmd, { timeoutMs: 20_000 });
  // A DNS lookup of the listed name, at home's resolver.
  const dig = await run(["dig", "+time=2", "+tries=1", `@${dns}`, DOMAIN, "A"]);
  assert.ok(dig.success, `dig: ${dig.stderr}`);
  assert.match(dig.stdout, new RegExp(web.replaceAll(".", "\\.")));
  // HTTP to the listed name (resolved through dnsmasq by curl).
  const http = await run([
    "curl",
    "-s",
    "-o",
    "/dev/null",
    "--max-time",
    "5",
    `http://${DOMAIN}/`,
  ]);
  assert.ok(http.success, `curl ${DOMAIN}: ${http.stderr}`);
  // TLS 1.2 (the certificate is readable on the wire) with the listed SNI.
  const tls = await lab.exec("home", [
    "openssl",
    "s_client",
    "-tls1_2",
    "-connect",
    `${web}:443`,
    "-servername",
    DOMAIN,
  ], { stdin: "", timeoutMs: 20_000 });
  assert.match(tls.stdout, /BEGIN CERTIFICATE/, tls.stderr);
  // The controller.
  await run([
    "curl",
    "-s",
    "-o",
    "/dev/null",
    "--connect-timeout",
    "2",
    "--max-time",
    "4",
    `http://${c2}/`,
  ]);
  // Last (its answer names the controller, which then gets blocked): a
  // name that resolves to the controller.
  const named = await run([
    "dig",
    "+time=2",
    "+tries=1",
    `@${dns}`,
    "c2.test",
    "A",
  ]);
  assert.ok(named.success, `dig c2.test: ${named.stderr}`);
}

Deno.test({
  name:
    "intel: listed addresses, names and certificates raise intel alerts naming the home host, block the controller both ways, and nothing without indicators" +
    (why && !inCi ? ` (skipped: ${why})` : ""),
  ignore: why !== null && !inCi,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await prepareCode();
  await using lab = await createLab(["home", "dns", "web", "c2"]);
  const home = lab.host("home"), dns = lab.host("dns"), web = lab.host("web");
  const c2 = lab.host("c2");
  const dir = await Deno.makeTempDir({ prefix: "ns-e2e-intel-" });
  try {
    // Services.
    await mustRun([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${DOMAIN}`,
      "-days",
      "30",
      "-keyout",
      join(dir, "web.key"),
      "-out",
      join(dir, "web.pem"),
    ]);
    const sha1 = (await mustRun([
      "openssl",
      "x509",
      "-noout",
      "-fingerprint",
      "-sha1",
      "-in",
      join(dir, "web.pem"),
    ])).trim().replace(/^.*=/, "").replaceAll(":", "").toLowerCase();
    await Deno.writeTextFile(
      join(dir, "dnsmasq.conf"),
      [
        `listen-address=${dns.ip}`,
        "bind-interfaces",
        "no-resolv",
        "no-hosts",
        "no-poll",
        `address=/${DOMAIN}/${web.ip}`,
        `address=/c2.test/${c2.ip}`,
        "pid-file=",
      ].join("\n") + "\n",
    );
    const procs = [
      lab.spawn("dns", ["dnsmasq", "-k", "-C", join(dir, "dnsmasq.conf")]),
      lab.spawn("web", [
        Deno.execPath(),
        "run",
        "--allow-net",
        HTTP_SERVER,
        "--host",
        web.ip,
        "--port",
        "80",
      ], { env: ENV }),
      lab.spawn("web", [
        "openssl",
        "s_server",
        "-accept",
        `${web.ip}:443`,
        "-cert",
        join(dir, "web.pem"),
        "-key",
        join(dir, "web.key"),
        "-www",
      ]),
      lab.spawn("c2", [
        Deno.execPath(),
        "run",
        "--allow-net",
        HTTP_SERVER,
        "--host",
        c2.ip,
        "--port",
        "80",
      ], { env: ENV }),
    ];
    const listening = async (host: string, spec: string) =>
      (await lab.exec(host, ["ss", "-H", "-ln", spec])).stdout.trim() !== "";
    await poll(
      "the lab's services",
      async () =>
        (await listening("dns", "sport = :53")) &&
          (await listening("web", "sport = :80")) &&
          (await listening("web", "sport = :443")) &&
          (await listening("c2", "sport = :80"))
          ? true
          : null,
      { timeoutMs: 30_000 },
    ).catch((e) => {
      throw new Error(
        `${e.message}\n${procs.map((p) => p.output().slice(-500)).join("\n")}`,
      );
    });
    // home resolves through dns: the blocker reads resolv.conf, so the
    // resolver is protected from blocks.
    await lab.etcFile("home", "resolv.conf", `nameserver ${dns.ip}\n`);

    // Feeds: local files, listing nothing the traffic touches at first.
    const data = join(dir, "data");
    await Deno.mkdir(data);
    const f = (n: string) => join(dir, n);
    const write = async (c2s: string[], hosts: string[], certs: string[]) => {
      await Deno.writeTextFile(f("c2.txt"), "# C2\n" + c2s.join("\n") + "\n");
      await Deno.writeTextFile(
        f("hosts.txt"),
        hosts.map((h) => `127.0.0.1\t${h}`).join("\n") + "\n",
      );
      await Deno.writeTextFile(
        f("certs.csv"),
        "# Listingdate,SHA1,Listingreason\n" +
          certs.map((c) => `2026-12-01 10:00:00,${c},Lab RAT C&C`).join("\n") +
          "\n",
      );
    };
    await write(
      ["192.0.2.1", "192.0.2.2"],
      ["unrelated.example", "other.example"],
      ["0000000000000000000000000000000000000001"],
    );
    const config = join(dir, "config.json");
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        rdns: { enabled: false },
        new_host_learning: 0,
        storage: { commit_interval_ms: 100 },
        blocking: { durations: ["10m"], ssh_ports: [] },
        policy: { home_net: [`${home.ip}/32`] },
        intel: {
          feeds: [
            {
              name: "c2",
              path: f("c2.txt"),
              format: "feodo",
              block: true,
              link: "https://feodotracker.abuse.ch/",
            },
            { name: "hosts", path: f("hosts.txt"), format: "urlhaus_hosts" },
            {
              name: "certs",
              path: f("certs.csv"),
              format: "sslbl_cert",
            },
          ],
        },
      }),
    );
    assert.match(await intelUpdate(data, config), /Feed "c2" updated: 2/);
    const ns = await startNetSentinel(lab, {
      host: "home",
      dataDir: data,
      configPath: config,
      port: 8080,
      password: PASSWORD,
    });
    const packets = async () =>
      (await ns.health())?.parts.capture?.packets ?? 0;
    const intelPart = async () =>
      (await ns.health())?.parts.intel as
        | { indicators: number; loads: number }
        | undefined;
    assert.equal((await intelPart())?.indicators, 5);

    // Phase A: the traffic, no indicator listed.
    const before = await packets();
    await traffic(lab);
    // c2 knocks at home's dashboard too (inbound).
    await lab.exec("c2", [
      "curl",
      "-s",
      "--max-time",
      "3",
      `http://${home.ip}:8080/health`,
    ]);
    // Every packet of phase A went through the pipeline (dig, curl, TLS,
    // curl and the knock: more than 30) before the feeds change.
    await poll(
      "phase A's packets to be processed",
      async () => (await packets()) >= before + 30 ? true : null,
      { timeoutMs: 20_000 },
    );
    const tB = Date.now();

    // Phase B: the feeds list the controller, the resolver, the name and the certificate.
    await write(
      ["192.0.2.1", c2.ip, dns.ip],
      ["unrelated.example", DOMAIN],
      ["0000000000000000000000000000000000000001", sha1],
    );
    const loads = (await intelPart())!.loads;
    const upd = await intelUpdate(data, config);
    assert.match(upd, /Feed "c2" updated: 3 indicators/);
    assert.match(upd, /Feed "certs" updated: 2 indicators/);
    await poll("the appliance to load the new copies", async () => {
      const p = await intelPart();
      return p && p.loads >= loads + 3 && p.indicators === 7 ? p : null;
    }, { timeoutMs: 30_000 });
    await traffic(lab);

    const want = (a: Awaited<ReturnType<typeof intelAlerts>>[number]) =>
      `${a.netsentinel.evidence.feed}/${a.netsentinel.evidence.via}/${a.dest_ip}`;
    const expected = [
      `c2/ip_out/${c2.ip}`,
      `c2/ip_out/${dns.ip}`,
      `hosts/dns_query/${dns.ip}`,
      `hosts/http_host/${web.ip}`,
      `hosts/tls_sni/${web.ip}`,
      `certs/cert_sha1/${web.ip}`,
      `c2/dns_answer/${dns.ip}`,
    ];
    const alerts = await poll("the intel alerts", async () => {
      const got = await intelAlerts(data);
      const keys = new Set(got.map(want));
      return expected.every((k) => keys.has(k)) ? got : null;
    }, { timeoutMs: 30_000 }).catch(async (e) => {
      throw new Error(
        `${e.message}\nalerts: ${
          JSON.stringify((await intelAlerts(data)).map(want))
        }\nlog:\n${ns.proc.output().slice(-3000)}`,
      );
    });
    // Nothing from phase A: every intel alert began after the feeds changed.
    for (const a of alerts) {
      assert.ok(
        Date.parse(a.netsentinel.first_seen) >= tB - 1000,
        `an alert from the traffic before the indicators were listed: ${
          JSON.stringify(a)
        }`,
      );
      assert.equal(a.netsentinel.evidence.internal_host, home.ip);
      assert.equal(a.src_ip, home.ip);
      assert.equal(a.alert.severity, 1);
    }
    const byKey = new Map(alerts.map((a) => [want(a), a]));
    const toC2 = byKey.get(`c2/ip_out/${c2.ip}`)!;
    assert.equal(toC2.alert.signature_id, 1002001);
    assert.equal(toC2.alert.action, "blocked");
    assert.equal(toC2.netsentinel.evidence.line, c2.ip);
    assert.equal(
      toC2.netsentinel.evidence.feed_link,
      "https://feodotracker.abuse.ch/",
    );
    const cert = byKey.get(`certs/cert_sha1/${web.ip}`)!;
    assert.equal(cert.netsentinel.evidence.indicator, sha1);
    assert.equal(cert.netsentinel.evidence.listed_since, "2026-12-01 10:00:00");
    assert.equal(
      byKey.get(`hosts/dns_query/${dns.ip}`)!.netsentinel.evidence.indicator,
      DOMAIN,
    );
    const answer = byKey.get(`c2/dns_answer/${dns.ip}`)!;
    assert.equal(answer.netsentinel.evidence.observed, c2.ip);
    assert.equal(answer.netsentinel.evidence.block_target, c2.ip);
    // The resolver is listed and may block, but it is home's DNS server.
    assert.equal(byKey.get(`c2/ip_out/${dns.ip}`)!.alert.action, "allowed");
    const refusal = JSON.parse(
      await mustRun([
        Deno.execPath(),
        "run",
        "-A",
        MAIN,
        "host",
        dns.ip,
        "--json",
        "--data",
        data,
      ], { env: ENV }),
    );
    assert.equal(refusal.last_refusal?.reason, "dns_server");

    // The controller is in the set, and home's next connection to it is
    // dropped on the way out (the output rule).
    const set = await lab.exec("home", [
      "nft",
      "list",
      "set",
      "inet",
      "netsentinel",
      "blocked4",
    ]);
    assert.match(
      set.stdout,
      new RegExp(`[{ ,]${c2.ip.replaceAll(".", "\\.")}[ ,}]`),
    );
    assert.doesNotMatch(
      set.stdout,
      new RegExp(`[{ ,]${dns.ip.replaceAll(".", "\\.")}[ ,}]`),
    );
    const out = await lab.exec("home", [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "--connect-timeout",
      "2",
      "--max-time",
      "3",
      `http://${c2.ip}/`,
    ]);
    assert.equal(
      out.success,
      false,
      "home still reaches the blocked controller",
    );
    assert.match(out.stderr + String(out.code), /28|7/);
    // While the web server, on feeds that do not allow blocking, stays reachable.
    const ok = await lab.exec("home", [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "--max-time",
      "5",
      `http://${web.ip}/`,
    ]);
    assert.ok(ok.success, ok.stderr);
    // And c2 knocking at home: an inbound alert, one level lower.
    await lab.exec("c2", [
      "curl",
      "-s",
      "--max-time",
      "2",
      `http://${home.ip}:8080/health`,
    ]);
    const inbound = await poll(
      "the inbound alert",
      async () =>
        (await intelAlerts(data)).find((a) =>
          a.netsentinel.evidence.via === "ip_in"
        ) ?? null,
      { timeoutMs: 30_000 },
    );
    assert.equal(inbound.src_ip, c2.ip);
    assert.equal(inbound.alert.severity, 2);
    assert.equal(inbound.netsentinel.evidence.internal_host, home.ip);
    await ns.proc.stop("SIGTERM");
  } finally {
    await lab.remove();
    await Deno.remove(dir, { recursive: true });
  }
});
