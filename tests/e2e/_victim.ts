/**
 * The victim's services for the attack lab, started inside its namespace:
 * sshd with a throwaway login user, the lab's web server
 * (`tests/lab/http_server.ts`), dnsmasq answering for `lab.test` and
 * forwarding `tun.test` to an iodined on the victim's loopback (a DNS
 * tunnel server reached only through the resolver).
 *
 * The login user exists only for sshd: `ip netns exec` runs every command
 * in a private mount namespace, and sshd is started there after binding
 * copies of /etc/passwd, /etc/shadow and /etc/group with the user added
 * over the real ones, so the host's files never change.
 *
 * @module
 */
import { join } from "node:path";
import {
  type Lab,
  type LabProcess,
  mustRun,
  poll,
  runCommand,
} from "./_lab.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HTTP_SERVER = join(ROOT, "tests/lab/http_server.ts");

/** Domain whose names dnsmasq forwards to iodined. */
export const TUNNEL_DOMAIN = "t.tun.test";
/** Password of the DNS tunnel. */
export const TUNNEL_PASSWORD = "e2e-tunnel";

/** What the victim runs and how to use it. */
export interface VictimServices {
  /** Working directory (configs, keys, the login user's home). */
  readonly dir: string;
  /** The login user and its password. */
  readonly sshUser: string;
  readonly sshPassword: string;
  /** An SSH_ASKPASS program printing the password. */
  readonly askpass: string;
  /** Tunnel address of iodined (the client gets the next one). */
  readonly tunnelServerIp: string;
  /** The background processes, for their logs. */
  readonly procs: Readonly<Record<string, LabProcess>>;
  /** Stops the services and removes the working directory. */
  stop(): Promise<void>;
}

/** Programs the victim and the attack lab need (names looked up in PATH). */
export const LAB_TOOLS: readonly string[] = [
  "ip",
  "ss",
  "sysctl",
  "ethtool",
  "nft",
  "/usr/sbin/sshd",
  "ssh",
  "ssh-keygen",
  "openssl",
  "dnsmasq",
  "iodine",
  "iodined",
  "nmap",
  "hydra",
  "dig",
  "curl",
  "ping",
  "mount",
  "/usr/bin/chromium",
];

/** Names of {@link LAB_TOOLS} that are missing here. */
export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const t of LAB_TOOLS) {
    if (t.startsWith("/")) {
      try {
        await Deno.stat(t);
      } catch {
        missing.push(t);
      }
      continue;
    }
    const r = await runCommand(["sh", "-c", `command -v ${t}`]);
    if (!r.success) missing.push(t);
  }
  return missing;
}

/** True when namespace `ns` has a socket listening on `proto` port `port`. */
async function listening(
  lab: Lab,
  host: string,
  proto: "tcp" | "udp",
  port: number,
): Promise<boolean> {
  const r = await lab.exec(host, [
    "ss",
    "-H",
    proto === "tcp" ? "-lnt" : "-lnu",
    `sport = :${port}`,
  ]);
  return r.success && r.stdout.trim() !== "";
}

/** A uid (and gid) that neither /etc/passwd nor /etc/group uses. */
function freeId(passwd: string, group: string): number {
  const used = new Set<number>();
  for (const line of (passwd + "\n" + group).split("\n")) {
    const f = line.split(":");
    if (f[2] !== undefined) used.add(Number(f[2]));
  }
  let id = 4242;
  while (used.has(id)) id++;
  return id;
}

/**
 * Starts the services on host `name` of `lab` and waits until each one
 * listens. On failure, whatever started is stopped before the error.
 */
export async function startVictimServices(
  lab: Lab,
  name: string,
): Promise<VictimServices> {
  const v = lab.host(name);
  const dir = await Deno.makeTempDir({ prefix: "ns-e2e-victim-" });
  // The login user's home lives below: sshd (as that user) must traverse it.
  await Deno.chmod(dir, 0o755);
  const procs: Record<string, LabProcess> = {};
  let createdRunSshd = false;
  const stop = async () => {
    await Promise.all(Object.values(procs).map((p) => p.stop()));
    if (createdRunSshd) await Deno.remove("/run/sshd").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const user = "e2euser";
    const password = `e2e-${crypto.randomUUID().slice(0, 8)}-Pw`;
    const passwd = await Deno.readTextFile("/etc/passwd");
    const shadow = await Deno.readTextFile("/etc/shadow");
    const group = await Deno.readTextFile("/etc/group");
    const id = freeId(passwd, group);
    const home = join(dir, "home");
    await Deno.mkdir(home);
    await Deno.chown(home, id, id);
    const hash = (await mustRun([
      "openssl",
      "passwd",
      "-6",
      "-salt",
      "netsentinele2e",
      password,
    ])).trim();
    const nl = (s: string) => s.endsWith("\n") ? s : s + "\n";
    await Deno.writeTextFile(
      join(dir, "passwd"),
      nl(passwd) + `${user}:x:${id}:${id}:E2E user:${home}:/bin/sh\n`,
    );
    await Deno.writeTextFile(
      join(dir, "shadow"),
      nl(shadow) + `${user}:${hash}:19700:0:99999:7:::\n`,
      { mode: 0o640 },
    );
    await Deno.writeTextFile(
      join(dir, "group"),
      nl(group) + `${user}:x:${id}:\n`,
    );
    await mustRun([
      "ssh-keygen",
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "e2e-victim",
      "-f",
      join(dir, "host_key"),
    ]);
    const sshdConfig = join(dir, "sshd_config");
    const base = [
      "Port 22",
      `ListenAddress ${v.ip}`,
      `HostKey ${join(dir, "host_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "UsePAM no",
      "PasswordAuthentication yes",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication no",
      "PermitRootLogin no",
      `AllowUsers ${user}`,
      // hydra opens several connections at once.
      "MaxStartups 100:30:200",
      "LoginGraceTime 20",
      "MaxAuthTries 3",
      "UseDNS no",
      "PrintMotd no",
      "PrintLastLog no",
    ];
    // sshd's privilege separation directory (the package makes it at boot).
    try {
      await Deno.mkdir("/run/sshd", { mode: 0o755 });
      createdRunSshd = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    // OpenSSH 9.8+ refuses sources after failed logins: hydra must get through.
    await Deno.writeTextFile(
      sshdConfig,
      [...base, "PerSourcePenalties no"].join("\n") + "\n",
    );
    const check = await runCommand(["/usr/sbin/sshd", "-t", "-f", sshdConfig]);
    if (!check.success) {
      await Deno.writeTextFile(sshdConfig, base.join("\n") + "\n");
      await mustRun(["/usr/sbin/sshd", "-t", "-f", sshdConfig]);
    }
    const askpass = join(dir, "askpass");
    await Deno.writeTextFile(
      askpass,
      `#!/bin/sh\nprintf '%s\\n' '${password}'\n`,
      { mode: 0o755 },
    );
    const q = (s: string) => `'${s}'`;
    procs.sshd = lab.spawn(name, [
      "sh",
      "-c",
      `mount --bind ${q(join(dir, "passwd"))} /etc/passwd && ` +
      `mount --bind ${q(join(dir, "shadow"))} /etc/shadow && ` +
      `mount --bind ${q(join(dir, "group"))} /etc/group && ` +
      `exec /usr/sbin/sshd -D -e -f ${q(sshdConfig)}`,
    ]);
    procs.web = lab.spawn(name, [
      Deno.execPath(),
      "run",
      "--allow-net",
      HTTP_SERVER,
      "--host",
      v.ip,
      "--port",
      "80",
    ], { env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } });
    const tunnelNet = "172.30.0";
    await Deno.writeTextFile(
      join(dir, "dnsmasq.conf"),
      [
        `listen-address=${v.ip}`,
        "bind-interfaces",
        "port=53",
        "no-resolv",
        "no-hosts",
        "no-poll",
        "domain-needed",
        "local=/lab.test/",
        "domain=lab.test",
        `host-record=victim.lab.test,${v.ip}`,
        `host-record=www.lab.test,${v.ip}`,
        `host-record=files.lab.test,${v.ip}`,
        ...lab.hosts.map((h) => `host-record=${h.name}.lab.test,${h.ip}`),
        `mx-host=lab.test,victim.lab.test,10`,
        `txt-record=lab.test,"v=spf1 mx -all"`,
        // Only the tunnel's names leave the resolver, to iodined on loopback.
        `server=/tun.test/127.0.0.1#5353`,
        "cache-size=500",
        "pid-file=",
      ].join("\n") + "\n",
    );
    procs.dnsmasq = lab.spawn(name, [
      "dnsmasq",
      "-k",
      "-C",
      join(dir, "dnsmasq.conf"),
    ]);
    procs.iodined = lab.spawn(name, [
      "iodined",
      "-f",
      "-c",
      "-P",
      TUNNEL_PASSWORD,
      "-l",
      "127.0.0.1",
      "-p",
      "5353",
      `${tunnelNet}.1/27`,
      TUNNEL_DOMAIN,
    ]);
    const waitListen = (what: string, proto: "tcp" | "udp", port: number) =>
      poll(
        `${what} to listen on ${proto}/${port}`,
        async () => (await listening(lab, name, proto, port)) ? true : null,
        { timeoutMs: 30_000, everyMs: 100 },
      ).catch((e) => {
        const p = Object.entries(procs).map(([k, pr]) =>
          `--- ${k}:\n${pr.output().slice(-2000)}`
        ).join("\n");
        throw new Error(`${(e as Error).message}\n${p}`);
      });
    await waitListen("sshd", "tcp", 22);
    await waitListen("the web server", "tcp", 80);
    await waitListen("dnsmasq", "udp", 53);
    await waitListen("iodined", "udp", 5353);
    return {
      dir,
      sshUser: user,
      sshPassword: password,
      askpass,
      tunnelServerIp: `${tunnelNet}.1`,
      procs,
      stop,
    };
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}
