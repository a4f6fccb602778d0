/**
 * Traceroute is not a port scan. A routed lab of namespaces (tracer — two
 * routers — target, IPv4 and IPv6), real `traceroute` and `nmap`, captures
 * by tcpdump on both ends, then `analyze`: traceroute's UDP probes (TTL or
 * hop limit 1, 2, 3 … to ports 33434 and up) raise no port_scan on either
 * side, while nmap probing the very same ports with an ordinary TTL still
 * does.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../cli/_testing.ts";
import { mustRun, recordCapture, runCommand } from "./e2e/_lab.ts";

const TOOLS = ["ip", "ping", "traceroute", "tcpdump", "nmap"];

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces)";
  const missing: string[] = [];
  for (const t of TOOLS) {
    const r = await runCommand(["sh", "-c", `command -v ${t}`]);
    if (!r.success) missing.push(t);
  }
  return missing.length > 0
    ? `missing ${missing.join(", ")} (./run.sh setup test)`
    : null;
}

const why = await unavailable();
const ignore = why !== null && Deno.env.get("CI") !== "true";

/** The lab's namespaces and the target's addresses. */
interface RoutedLab extends AsyncDisposable {
  ns(name: string): string;
  /** The target's IPv4 and IPv6 addresses. */
  targets: { v4: string; v6: string };
}

/**
 * tracer — r1 — r2 — target, each link its own IPv4 /24 and IPv6 /64
 * (unique local), routers forwarding both; removed on dispose.
 */
async function routedLab(): Promise<RoutedLab> {
  const rnd = crypto.getRandomValues(new Uint8Array(3));
  const tag = [...rnd].map((b) => b.toString(16).padStart(2, "0")).join("");
  const net = `10.${16 + rnd[0]! % 200}`;
  // Written as traceroute and tcpdump print it (RFC 5952: no leading zeros
  // in a group), which the assertions compare with: "fd85:0006:…" failed.
  const net6 = `fd${tag.slice(0, 2)}:${
    parseInt(tag.slice(2), 16).toString(16)
  }`;
  const v4 = (k: number, h: number) => `${net}.${k}.${h}`;
  const v6 = (k: number, h: number) => `${net6}:${k}::${h}`;
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
  const ip = (n: string, ...args: string[]) =>
    mustRun(["ip", "-n", ns(n), ...args]);
  const sysctl = (n: string, setting: string) =>
    mustRun(["ip", "netns", "exec", ns(n), "sysctl", "-qw", setting]);
  try {
    for (const n of names) {
      await mustRun(["ip", "netns", "add", ns(n)]);
      await ip(n, "link", "set", "lo", "up");
    }
    // Link k: names[k] holds host 1, names[k + 1] host 2.
    const links = [["eth0", "e1"], ["e2", "e1"], ["e2", "eth0"]] as const;
    for (const [k, [li, ri]] of links.entries()) {
      const l = names[k]!, r = names[k + 1]!;
      await ip(
        l,
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
      );
      for (const [n, dev, h] of [[l, li, 1], [r, ri, 2]] as const) {
        await ip(n, "addr", "add", `${v4(k, h)}/24`, "dev", dev);
        await ip(n, "-6", "addr", "add", `${v6(k, h)}/64`, "dev", dev, "nodad");
        await ip(n, "link", "set", dev, "up");
      }
    }
    const route = (n: string, v: "-4" | "-6", to: string, via: string) =>
      ip(n, v, "route", "add", to, "via", via);
    await route("tracer", "-4", "default", v4(0, 2));
    await route("tracer", "-6", "default", v6(0, 2));
    await route("target", "-4", "default", v4(2, 1));
    await route("target", "-6", "default", v6(2, 1));
    await route("r1", "-4", `${v4(2, 0)}/24`, v4(1, 2));
    await route("r1", "-6", `${v6(2, 0)}/64`, v6(1, 2));
    await route("r2", "-4", `${v4(0, 0)}/24`, v4(1, 1));
    await route("r2", "-6", `${v6(0, 0)}/64`, v6(1, 1));
    for (const n of ["r1", "r2"]) {
      await sysctl(n, "net.ipv4.ip_forward=1");
      await sysctl(n, "net.ipv6.conf.all.forwarding=1");
    }
    // Answer every probe: the kernel rate-limits ICMP errors by default.
    for (const n of ["r1", "r2", "target"]) {
      await sysctl(n, "net.ipv4.icmp_ratelimit=0");
      await sysctl(n, "net.ipv6.icmp.ratelimit=0");
    }
    return {
      ns,
      targets: { v4: v4(2, 2), v6: v6(2, 2) },
      [Symbol.asyncDispose]: remove,
    };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** Alert types `analyze` raises on `file` (rules only, no model), but new_host. */
async function alertTypes(file: string, data: string): Promise<string[]> {
  const r = await runCli(["analyze", file, "--no-model", "--data", data]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l).netsentinel.type as string
  ).filter((t) => t !== "new_host");
}

/** Distinct UDP destination ports of `target` (either family) in a capture. */
async function udpPorts(file: string, target: string): Promise<Set<number>> {
  const text = await mustRun(["tcpdump", "-nr", file, "udp"]);
  const re = new RegExp(
    `> ${target.replaceAll(".", "\\.")}\\.(\\d+): UDP`,
    "g",
  );
  return new Set([...text.matchAll(re)].map((m) => Number(m[1])));
}

/** Runs `cmd` in the lab's namespace `n`. */
function inNs(lab: RoutedLab, n: string, cmd: string[]): Promise<string> {
  return mustRun(["ip", "netns", "exec", lab.ns(n), ...cmd]);
}

Deno.test({
  name:
    "traceroute (IPv4 and IPv6) through two routers raises no port_scan on either end; nmap on the same ports does" +
    (ignore ? ` (skipped: ${why})` : ""),
  ignore,
  async fn() {
    await using lab = await routedLab();
    const dir = await Deno.makeTempDir({ prefix: "ns-traceroute-" });
    try {
      const tracerSide = join(dir, "tracer.pcap");
      const targetSide = join(dir, "target.pcap");
      // Neighbour discovery first, so no hop's answer waits on it.
      for (const target of [lab.targets.v4, lab.targets.v6]) {
        await inNs(lab, "tracer", ["ping", "-c", "1", "-W", "5", target]);
      }
      const stopA = await recordCapture(lab.ns("tracer"), "eth0", tracerSide);
      const stopB = await recordCapture(lab.ns("target"), "eth0", targetSide);
      for (
        const [family, target] of [["-4", lab.targets.v4], [
          "-6",
          lab.targets.v6,
        ]]
      ) {
        const hops = await inNs(lab, "tracer", [
          "traceroute",
          family!,
          "-n",
          "-w",
          "2",
          // 5 probes a hop, 32 at once: enough of them reach the target too.
          "-q",
          "5",
          "-N",
          "32",
          target!,
        ]);
        // Three hops: both routers, then the target.
        assert.match(
          hops,
          new RegExp(`\\n 3  ${target!.replaceAll(".", "\\.")} `),
          hops,
        );
      }
      await stopA();
      await stopB();
      // Enough distinct ports that counting them as probes would alert (15).
      for (const file of [tracerSide, targetSide]) {
        for (const target of [lab.targets.v4, lab.targets.v6]) {
          const ports = await udpPorts(file, target);
          assert.ok(
            ports.size >= 15,
            `${file}, ${target}: ${ports.size} ports traced`,
          );
          assert.ok([...ports].every((p) => p >= 33434 && p < 33434 + 192));
        }
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
      for (
        const [family, target] of [["-4", lab.targets.v4], [
          "-6",
          lab.targets.v6,
        ]]
      ) {
        const scan = join(dir, `scan${family}.pcap`);
        const stop = await recordCapture(lab.ns("tracer"), "eth0", scan);
        await inNs(lab, "tracer", [
          "nmap",
          ...(family === "-6" ? ["-6"] : []),
          "-n",
          "-Pn",
          "-sU",
          "-p",
          "33434-33460",
          target!,
        ]);
        await stop();
        assert.deepEqual(
          await alertTypes(scan, join(dir, `c${family}`)),
          ["port_scan"],
          `nmap ${family} -sU on traceroute's ports`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
