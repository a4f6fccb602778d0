/**
 * Traceroute is not a port scan. A routed lab of namespaces (tracer — two
 * routers — target), real `traceroute` and `nmap`, captures by tcpdump on
 * both ends, then `analyze`: traceroute's UDP probes (TTL 1, 2, 3 … to ports
 * 33434 and up) raise no port_scan on either side, while nmap probing the
 * very same ports with an ordinary TTL still does.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../cli/_testing.ts";

const TOOLS = ["ip", "traceroute", "tcpdump", "nmap"];

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces)";
  const missing: string[] = [];
  for (const t of TOOLS) {
    const r = await new Deno.Command("sh", {
      args: ["-c", `command -v ${t}`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!r.success) missing.push(t);
  }
  return missing.length > 0
    ? `missing ${missing.join(", ")} (./run.sh setup test)`
    : null;
}

const why = await unavailable();
const ignore = why !== null && Deno.env.get("CI") !== "true";

async function sh(cmd: readonly string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`"${cmd.join(" ")}" failed: ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}

/** tracer — r1 — r2 — target, each link its own /24, removed on dispose. */
async function routedLab(): Promise<
  AsyncDisposable & { ns: (n: string) => string; net: string; target: string }
> {
  const tag = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16);
  const x = 16 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 200);
  const net = `10.${x}`;
  const ns = (n: string) => `tr-${tag}-${n}`;
  const names = ["tracer", "r1", "r2", "target"];
  const remove = async () => {
    for (const n of names) {
      await new Deno.Command("ip", {
        args: ["netns", "del", ns(n)],
        stderr: "null",
      }).output();
    }
  };
  try {
    for (const n of names) {
      await sh(["ip", "netns", "add", ns(n)]);
      await sh(["ip", "-n", ns(n), "link", "set", "lo", "up"]);
    }
    // Link k joins names[k] (.2 on the left… .1 on the right side router).
    const links: [string, string, string, string][] = [
      ["tracer", "eth0", "r1", "e1"],
      ["r1", "e2", "r2", "e1"],
      ["r2", "e2", "target", "eth0"],
    ];
    for (const [k, [l, li, r, ri]] of links.entries()) {
      await sh([
        "ip",
        "-n",
        ns(l),
        "link",
        "add",
        li,
        "type",
        "veth",
        "peer",
        "name",
        ri,
        "netns",
        ns(r),
      ]);
      await sh([
        "ip",
        "-n",
        ns(l),
        "addr",
        "add",
        `${net}.${k}.1/24`,
        "dev",
        li,
      ]);
      await sh([
        "ip",
        "-n",
        ns(r),
        "addr",
        "add",
        `${net}.${k}.2/24`,
        "dev",
        ri,
      ]);
      await sh(["ip", "-n", ns(l), "link", "set", li, "up"]);
      await sh(["ip", "-n", ns(r), "link", "set", ri, "up"]);
    }
    const route = (n: string, to: string, via: string) =>
      sh(["ip", "-n", ns(n), "route", "add", to, "via", via]);
    await route("tracer", "default", `${net}.0.2`);
    await route("target", "default", `${net}.2.1`);
    await route("r1", `${net}.2.0/24`, `${net}.1.2`);
    await route("r2", `${net}.0.0/24`, `${net}.1.1`);
    const sysctl = (n: string, setting: string) =>
      sh(["ip", "netns", "exec", ns(n), "sysctl", "-qw", setting]);
    await sysctl("r1", "net.ipv4.ip_forward=1");
    await sysctl("r2", "net.ipv4.ip_forward=1");
    // Answer every probe: the kernel rate-limits ICMP errors by default.
    for (const n of ["r1", "r2", "target"]) {
      await sysctl(n, "net.ipv4.icmp_ratelimit=0");
    }
    return {
      ns,
      net,
      target: `${net}.2.2`,
      [Symbol.asyncDispose]: remove,
    };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** tcpdump on `iface` in `netns` into `file`, stopped by the returned function. */
async function record(
  netns: string,
  iface: string,
  file: string,
): Promise<() => Promise<void>> {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      netns,
      "tcpdump",
      "--immediate-mode",
      "-i",
      iface,
      "-U",
      "-w",
      file,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  const dec = new TextDecoder();
  let err = "";
  const until = Date.now() + 10_000;
  while (!err.includes("listening on") && Date.now() < until) {
    const { value, done } = await reader.read();
    if (done) break;
    err += dec.decode(value);
  }
  assert.match(err, /listening on/, `tcpdump in ${netns}: ${err}`);
  // Stopping: once the file has grown and then held its size for 300 ms
  // (tcpdump has written what the kernel handed it), interrupt it.
  return async () => {
    const deadline = Date.now() + 10_000;
    let size = -1, since = Date.now();
    while (Date.now() < deadline) {
      const now = (await Deno.stat(file)).size;
      if (now !== size) [size, since] = [now, Date.now()];
      else if (size > 24 && Date.now() - since >= 300) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGINT");
    while (!(await reader.read()).done) { /* drain */ }
    await child.status;
  };
}

/** Alert types `analyze` raises on `file` (rules only, no model), but new_host. */
async function alertTypes(file: string, data: string): Promise<string[]> {
  const r = await runCli(["analyze", file, "--no-model", "--data", data]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l).netsentinel.type as string
  ).filter((t) => t !== "new_host");
}

/** Distinct UDP destination ports of `target` in a capture. */
async function udpPorts(file: string, target: string): Promise<Set<number>> {
  const text = await sh(["tcpdump", "-nr", file, "udp"]);
  const re = new RegExp(
    `> ${target.replaceAll(".", "\\.")}\\.(\\d+): UDP`,
    "g",
  );
  return new Set([...text.matchAll(re)].map((m) => Number(m[1])));
}

Deno.test({
  name:
    "traceroute through two routers raises no port_scan on either end; nmap on the same ports does" +
    (ignore ? ` (skipped: ${why})` : ""),
  ignore,
  async fn() {
    await using lab = await routedLab();
    const dir = await Deno.makeTempDir({ prefix: "ns-traceroute-" });
    try {
      const tracerSide = join(dir, "tracer.pcap");
      const targetSide = join(dir, "target.pcap");
      const stopA = await record(lab.ns("tracer"), "eth0", tracerSide);
      const stopB = await record(lab.ns("target"), "eth0", targetSide);
      const hops = await sh([
        "ip",
        "netns",
        "exec",
        lab.ns("tracer"),
        "traceroute",
        "-n",
        "-w",
        "2",
        // 5 probes a hop, 32 at once: enough of them reach the target too.
        "-q",
        "5",
        "-N",
        "32",
        lab.target,
      ]);
      await stopA();
      await stopB();
      // Three hops: both routers, then the target.
      assert.match(
        hops,
        new RegExp(`\\n 3  ${lab.target.replaceAll(".", "\\.")} `),
        hops,
      );
      // Enough distinct ports that counting them as probes would alert (15).
      for (const file of [tracerSide, targetSide]) {
        const ports = await udpPorts(file, lab.target);
        assert.ok(ports.size >= 15, `${file}: ${ports.size} ports traced`);
        assert.ok([...ports].every((p) => p >= 33434 && p < 33434 + 192));
      }
      assert.deepEqual(
        await alertTypes(targetSide, join(dir, "b")),
        [],
        "the target's side",
      );
      assert.deepEqual(
        await alertTypes(tracerSide, join(dir, "a")),
        [],
        "the tracer's side",
      );

      // The same ports probed by a scanner, with an ordinary TTL, are a scan.
      const scan = join(dir, "scan.pcap");
      const stop = await record(lab.ns("tracer"), "eth0", scan);
      await sh([
        "ip",
        "netns",
        "exec",
        lab.ns("tracer"),
        "nmap",
        "-n",
        "-Pn",
        "-sU",
        "-p",
        `33434-33460`,
        lab.target,
      ]);
      await stop();
      assert.ok(
        (await alertTypes(scan, join(dir, "c"))).includes("port_scan"),
        "nmap -sU on traceroute's ports",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
