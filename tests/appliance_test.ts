/**
 * The appliance as a user runs it: `run` on a veth inside namespaces made
 * here, SIGTERM flushing everything, `replay` giving the same alerts as
 * `analyze`, a foreign working directory, the systemd unit.
 */
import assert from "node:assert/strict";
import { cliCommand, runCli } from "../cli/_testing.ts";
import { createVethPair, netnsUnavailable } from "./netns.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/fixtures/`;
const inCi = Deno.env.get("CI") === "true";
const PASSWORD = "appliance test password 42";
/** The first admin password, so `run` starts without asking. */
const ENV = { NETSENTINEL_PASSWORD: PASSWORD };
const dec = new TextDecoder();

const netnsWhy = await netnsUnavailable();
const netnsIgnore = netnsWhy !== null && !inCi;

/**
 * Runs `fn` with a fresh, empty network namespace (loopback up), removed
 * afterwards: the appliance's nftables table lives and dies there, never
 * on the host.
 */
async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `ns-app-${crypto.randomUUID().slice(0, 8)}`;
  const ip = (...a: string[]) =>
    new Deno.Command("ip", { args: a, stdout: "null", stderr: "piped" })
      .output();
  const made = await ip("netns", "add", ns);
  assert.ok(made.success, dec.decode(made.stderr));
  try {
    await ip("-n", ns, "link", "set", "lo", "up");
    return await fn(ns);
  } finally {
    await ip("netns", "del", ns);
  }
}

interface Eve {
  event_type: string;
  src_ip: string;
  dest_ip?: string;
  netsentinel: { type: string; count: number; id: string };
  alert: { action: string };
}

function lines(text: string): Eve[] {
  return text.trim().split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l)
  );
}

/** Polls until `fn` returns a value, or fails after `ms` with the last error. */
async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null>,
  ms = 60_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}: ${last}`);
}

/**
 * `/health` with its details, read with curl inside a namespace: the
 * details need sign-in, so the first call signs in (a cookie jar in a temp
 * file) and later calls reuse the session. Null when it cannot be read yet.
 */
function signedInHealth(
  exec: (cmd: string[]) => Promise<Deno.CommandOutput>,
  base: string,
): { get: () => Promise<Health | null>; [Symbol.dispose]: () => void } {
  const jar = Deno.makeTempFileSync({ prefix: "ns-jar-" });
  let signedIn = false;
  const get = async (): Promise<Health | null> => {
    if (!signedIn) {
      const s = await exec([
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-c",
        jar,
        "-H",
        `Origin: ${base}`,
        "--data-urlencode",
        "user=admin",
        "--data-urlencode",
        `password=${PASSWORD}`,
        `${base}/signin`,
      ]);
      if (dec.decode(s.stdout) !== "303") return null;
      signedIn = true;
    }
    const out = await exec(["curl", "-sf", "-b", jar, `${base}/health`]);
    return out.success ? JSON.parse(dec.decode(out.stdout)) : null;
  };
  return { get, [Symbol.dispose]: () => Deno.removeSync(jar) };
}

// deno-lint-ignore no-explicit-any
type Health = any;

Deno.test({
  name:
    "run on a veth inside a namespace sees traffic, serves /health, and SIGTERM flushes and exits 0" +
    (netnsIgnore ? ` (skipped: ${netnsWhy})` : ""),
  ignore: netnsIgnore,
  async fn() {
    await using pair = await createVethPair();
    const data = await Deno.makeTempDir({ prefix: "ns-app-" });
    try {
      const t0 = performance.now();
      const child = cliCommand([
        "run",
        "-i",
        pair.a.iface,
        "--data",
        data,
        "--listen",
        "127.0.0.1:18080",
      ], { netns: pair.a.ns, env: ENV }).spawn();
      const stderr = child.stderr.pipeThrough(new TextDecoderStream());
      const errText: string[] = [];
      const drain = (async () => {
        for await (const s of stderr) errText.push(s);
      })();
      const stdoutDone = child.stdout.cancel();
      using signed = signedInHealth(
        (cmd) => pair.exec(pair.a, cmd),
        "http://127.0.0.1:18080",
      );
      const health = signed.get;
      const h0 = await waitFor("/health", async () => {
        const h = await health();
        return h?.parts?.capture?.state === "up" ? h : null;
      });
      assert.equal(h0.parts.capture.interface, pair.a.iface);
      const startMs = Math.round(performance.now() - t0);
      // Normal traffic, then a SYN scan from side B.
      const ping = await pair.exec(pair.b, [
        "ping",
        "-c",
        "20",
        "-i",
        "0.01",
        pair.a.ip,
      ]);
      assert.ok(ping.success, dec.decode(ping.stderr));
      await waitFor("packets counted", async () => {
        const h = await health();
        return h && h.parts.capture.packets >= 40 ? h : null;
      });
      const scan = await pair.exec(pair.b, [
        "nmap",
        "-sS",
        "-n",
        "-Pn",
        "--max-retries",
        "0",
        "-p",
        "1-300",
        pair.a.ip,
      ]);
      assert.ok(scan.success, dec.decode(scan.stderr));
      await waitFor("scan packets counted", async () => {
        const h = await health();
        return h && h.parts.capture.packets >= 300 ? h : null;
      });
      child.kill("SIGTERM");
      const status = await child.status;
      await drain;
      await stdoutDone;
      assert.equal(status.code, 0, errText.join(""));
      assert.match(errText.join(""), /"msg":"stopped"/);
      // Everything is in the database and the EVE log after the stop.
      const alerts = await runCli([
        "alerts",
        "--data",
        data,
        "--format",
        "eve",
        "--limit",
        "100",
      ], { env: ENV });
      assert.equal(alerts.code, 0, alerts.stderr);
      const got = lines(alerts.stdout);
      const scanAlert = got.find((a) => a.netsentinel.type === "port_scan");
      assert.ok(scanAlert, `no port_scan alert in ${alerts.stdout}`);
      assert.equal(scanAlert.src_ip, pair.b.ip);
      const eve = lines(await Deno.readTextFile(`${data}/eve.json`));
      assert.ok(eve.some((a) => a.netsentinel.id === scanAlert.netsentinel.id));
      // deno-lint-ignore no-console
      console.log(`start → capture up: ${startMs} ms`);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

/** The (type, source, target) set of alerts, for comparing runs. */
function signature(alerts: Eve[]): string[] {
  return [
    ...new Set(
      alerts.map((a) =>
        `${a.netsentinel.type} ${a.src_ip} -> ${a.dest_ip ?? "-"}`
      ),
    ),
  ]
    .sort();
}

Deno.test({
  name:
    "replay of a fixture from a foreign working directory raises the same alerts as analyze" +
    (netnsIgnore ? ` (skipped: ${netnsWhy})` : ""),
  ignore: netnsIgnore,
}, async () => {
  const capture = `${FIXTURES}mixed.pcap`;
  const cwd = await Deno.makeTempDir({ prefix: "ns-cwd-" });
  try {
    const analyzed = await runCli(["analyze", capture], { cwd, env: ENV });
    assert.equal(analyzed.code, 0, analyzed.stderr);
    const expected = signature(lines(analyzed.stdout));
    assert.ok(expected.length > 0, "the fixture raises alerts");
    // A relative data directory, resolved against the foreign cwd. A fresh
    // install learns hosts silently at first; analyze has no such history.
    await Deno.mkdir(`${cwd}/state`);
    await Deno.writeTextFile(
      `${cwd}/state/config.json`,
      '{"new_host_learning": 0}',
    );
    const out = await withNetns((ns) =>
      runCli([
        "replay",
        capture,
        "--max",
        "--data",
        "state",
        "--listen",
        "127.0.0.1:0",
      ], { netns: ns, cwd, env: ENV })
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /dashboard at http:\/\/127\.0\.0\.1:\d+/);
    const stored = await runCli([
      "alerts",
      "--data",
      "state",
      "--format",
      "eve",
      "--limit",
      "1000",
    ], { cwd, env: ENV });
    assert.equal(stored.code, 0, stored.stderr);
    assert.deepEqual(signature(lines(stored.stdout)), expected);
    const files = [...Deno.readDirSync(`${cwd}/state`)].map((e) => e.name)
      .sort();
    assert.ok(files.includes("netsentinel.kv"), files.join(","));
    assert.ok(files.includes("eve.json"), files.join(","));
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test({
  name:
    "run --demo plays the bundled capture through the appliance and stops on SIGTERM" +
    (netnsIgnore ? ` (skipped: ${netnsWhy})` : ""),
  ignore: netnsIgnore,
}, () =>
  withNetns(async (ns) => {
    const data = await Deno.makeTempDir({ prefix: "ns-demo-" });
    try {
      const child = cliCommand([
        "run",
        "--demo",
        "--data",
        data,
        "--listen",
        "127.0.0.1:0",
      ], { netns: ns, env: ENV, stdout: "null" }).spawn();
      const err: string[] = [];
      const drain = (async () => {
        for await (
          const s of child.stderr.pipeThrough(new TextDecoderStream())
        ) {
          err.push(s);
        }
      })();
      const url = await waitFor("the dashboard address", () => {
        const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(
          err.join(""),
        );
        return Promise.resolve(m ? m[1]! : null);
      });
      using signed = signedInHealth(
        (cmd) =>
          new Deno.Command("ip", {
            args: ["netns", "exec", ns, ...cmd],
            stdout: "piped",
          }).output(),
        url.replace(/\/$/, ""),
      );
      const h = await waitFor("demo packets", async () => {
        const j = await signed.get();
        return j?.parts.capture.replay === "demo" && j.parts.capture.packets > 0
          ? j
          : null;
      });
      assert.equal(h.parts.capture.state, "up");
      child.kill("SIGTERM");
      const st = await child.status;
      await drain;
      assert.equal(st.code, 0, err.join(""));
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  }));

let haveSystemd = true;
try {
  await new Deno.Command("systemd-analyze", {
    args: ["--version"],
    stdout: "null",
  }).output();
} catch {
  haveSystemd = false;
}

Deno.test({
  name: "the systemd unit passes systemd-analyze verify" +
    (haveSystemd || inCi ? "" : " (skipped: systemd-analyze missing)"),
  ignore: !haveSystemd && !inCi,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const unit = await Deno.readTextFile(
      `${ROOT}packaging/netsentinel.service`,
    );
    // verify needs the binary to exist: point the unit at a stand-in.
    await Deno.copyFile("/bin/true", `${dir}/netsentinel`);
    await Deno.chmod(`${dir}/netsentinel`, 0o755);
    await Deno.writeTextFile(
      `${dir}/netsentinel.service`,
      unit.replaceAll("/usr/local/bin/netsentinel", `${dir}/netsentinel`),
    );
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", `${dir}/netsentinel.service`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const msg = dec.decode(out.stderr) + dec.decode(out.stdout);
    assert.equal(out.code, 0, msg);
    assert.doesNotMatch(msg, /Unknown|Invalid|Failed/i);
    assert.match(unit, /AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN/);
    assert.match(unit, /StateDirectory=netsentinel/);
    assert.match(unit, /ProtectSystem=strict/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Runs the CLI like {@link runCli}, but a run still going after `ms` (an
 * appliance that should have been refused) is stopped and reported as
 * code -1.
 */
async function runRefused(
  args: string[],
  ns: string,
  ms = 30_000,
): Promise<{ code: number; stderr: string }> {
  const child = cliCommand(args, { netns: ns, env: ENV, stdout: "null" })
    .spawn();
  const errP = new Response(child.stderr).text();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<null>((r) => timer = setTimeout(r, ms, null));
  const st = await Promise.race([child.status, timedOut]);
  clearTimeout(timer);
  if (st === null) {
    child.kill("SIGKILL");
    await child.status;
    return { code: -1, stderr: `still running after ${ms} ms: ${await errP}` };
  }
  return { code: st.code, stderr: await errP };
}

/** `nft list tables` inside `ns`. */
async function nftTables(ns: string): Promise<string> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", ns, "nft", "list", "tables"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

Deno.test({
  name:
    "replay without --block records what it would block and leaves nftables untouched; with --block it blocks" +
    (netnsIgnore ? ` (skipped: ${netnsWhy})` : ""),
  ignore: netnsIgnore,
}, async () => {
  const capture = `${FIXTURES}scan_syn.pcap`;
  const replay = (ns: string, data: string, extra: string[]) =>
    runCli([
      "replay",
      capture,
      "--max",
      "--data",
      data,
      "--listen",
      "127.0.0.1:0",
      ...extra,
    ], { netns: ns, env: ENV });
  const dry = await Deno.makeTempDir({ prefix: "ns-dry-" });
  const real = await Deno.makeTempDir({ prefix: "ns-block-" });
  try {
    for (const d of [dry, real]) {
      await Deno.writeTextFile(`${d}/config.json`, '{"new_host_learning": 0}');
    }
    await withNetns(async (ns) => {
      const out = await replay(ns, dry, []);
      assert.equal(out.code, 0, out.stderr);
      assert.doesNotMatch(await nftTables(ns), /netsentinel/);
      const stored = await runCli(
        ["alerts", "--data", dry, "--format", "eve"],
        {
          env: ENV,
        },
      );
      const scan = lines(stored.stdout).find((a) =>
        a.netsentinel.type === "port_scan"
      );
      assert.ok(scan, stored.stdout);
      assert.equal(scan.alert.action, "allowed", "a dry run blocks nothing");
      const blocks = await runCli(
        ["blocks", "--data", dry, "--format", "json"],
        { env: ENV },
      );
      assert.deepEqual(JSON.parse(blocks.stdout).blocks, []);
    });
    // The same replay with --block does change nftables (what the dry run
    // must not do).
    await withNetns(async (ns) => {
      const out = await replay(ns, real, ["--block"]);
      assert.equal(out.code, 0, out.stderr);
      assert.match(await nftTables(ns), /table inet netsentinel/);
      const set = await new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns,
          "nft",
          "list",
          "set",
          "inet",
          "netsentinel",
          "blocked4",
        ],
        stdout: "piped",
      }).output();
      assert.match(dec.decode(set.stdout), /10\.99\.0\.66/);
    });
  } finally {
    await Deno.remove(dry, { recursive: true });
    await Deno.remove(real, { recursive: true });
  }
});

Deno.test({
  name:
    "a second appliance on the same data directory or the same nftables table is refused naming the first one's pid" +
    (netnsIgnore ? ` (skipped: ${netnsWhy})` : ""),
  ignore: netnsIgnore,
}, () =>
  withNetns(async (ns) => {
    const a = await Deno.makeTempDir({ prefix: "ns-lock-a-" });
    const b = await Deno.makeTempDir({ prefix: "ns-lock-b-" });
    const child = cliCommand([
      "run",
      "--no-capture",
      "--data",
      a,
      "--listen",
      "127.0.0.1:0",
    ], { netns: ns, env: ENV, stdout: "null" }).spawn();
    const err: string[] = [];
    const drain = (async () => {
      for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) {
        err.push(s);
      }
    })();
    try {
      await waitFor("the first appliance", () =>
        Promise.resolve(/dashboard at/.test(err.join("")) ? true : null));
      const second = ["run", "--no-capture", "--listen", "127.0.0.1:0"];
      const sameDir = await runRefused([...second, "--data", a], ns);
      assert.equal(sameDir.code, 1, sameDir.stderr);
      assert.equal(
        sameDir.stderr.trim(),
        `netsentinel: Cannot use data directory "${a}": another NetSentinel (pid ${child.pid}) is running on it (stop it, or give this one another --data)`,
      );
      const sameTable = await runRefused([...second, "--data", b], ns);
      assert.equal(sameTable.code, 1, sameTable.stderr);
      assert.match(
        sameTable.stderr.trim(),
        new RegExp(
          `^netsentinel: Cannot keep the nftables table "inet netsentinel": another NetSentinel \\(pid ${child.pid}\\) keeps it in this network namespace`,
        ),
      );
      // A replay without --block never runs nft: it may run beside it.
      const replay = await runCli([
        "replay",
        `${FIXTURES}scan_syn.pcap`,
        "--max",
        "--data",
        b,
        "--listen",
        "127.0.0.1:0",
      ], { netns: ns, env: ENV });
      assert.equal(replay.code, 0, replay.stderr);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await drain;
      await Deno.remove(a, { recursive: true });
      await Deno.remove(b, { recursive: true });
    }
  }));
