/**
 * A small bridged lab of network namespaces for end-to-end tests: one
 * namespace holding a bridge (the switch) and one per host, each host
 * joined to the bridge by a veth pair, all in one /24 with IPv6 off. No host
 * has a default route, so nothing the lab runs can reach anything outside
 * it. Names carry a random tag, so test files running in parallel never
 * collide; {@link Lab.remove} (or `await using`) kills every process still
 * inside the namespaces and deletes them.
 *
 * @example
 * ```ts
 * await using lab = await createLab(["server", "client"]);
 * const out = await lab.exec("client", ["ping", "-c", "1", lab.host("server").ip]);
 * ```
 *
 * @module
 */

const decoder = new TextDecoder();

/** One host of the lab. */
export interface LabHost {
  /** Its role name ("victim", "client", …). */
  readonly name: string;
  /** Its namespace (under /run/netns). */
  readonly ns: string;
  /** Its interface on the bridge, inside its namespace. */
  readonly iface: string;
  /** Its IPv4 address (no prefix length). */
  readonly ip: string;
}

/** What a finished command gave. */
export interface ExecResult {
  readonly code: number;
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command was killed at its deadline. */
  readonly timedOut: boolean;
}

/** Options of {@link Lab.exec} and {@link Lab.spawn}. */
export interface ExecOptions {
  /** Kill the command after this many ms (default 60 s). */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Text written to standard input (then closed). */
  stdin?: string;
}

/** A background process in the lab. */
export interface LabProcess {
  readonly child: Deno.ChildProcess;
  /** Standard output and error so far (interleaved by arrival). */
  output(): string;
  /** Sends `signal`, then waits for the exit; resolves to the status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
}

/** A running lab. */
export interface Lab extends AsyncDisposable {
  /** The random tag in every name. */
  readonly tag: string;
  /** The lab's prefix ("10.X.Y.0/24"). */
  readonly subnet: string;
  /** The namespace of the bridge. */
  readonly switchNs: string;
  /** The host named `name`; throws for an unknown name. */
  host(name: string): LabHost;
  /** Every host. */
  readonly hosts: readonly LabHost[];
  /** Runs `cmd` inside the namespace of `host` to completion. */
  exec(
    host: string,
    cmd: readonly string[],
    opts?: ExecOptions,
  ): Promise<ExecResult>;
  /** Starts `cmd` in the background inside the namespace of `host`; stopped on removal. */
  spawn(host: string, cmd: readonly string[], opts?: ExecOptions): LabProcess;
  /**
   * Writes `/etc/netns/<ns>/<file>` for `host`: `ip netns exec` binds it
   * over `/etc/<file>` (resolv.conf, hosts). Removed with the lab.
   */
  etcFile(host: string, file: string, text: string): Promise<void>;
  /** Stops the lab's processes and deletes every namespace; idempotent. */
  remove(): Promise<void>;
}

/** A command the lab needed failed. */
export class LabCommandError extends Error {
  /** Creates the error from the command line and what it printed. */
  constructor(cmd: readonly string[], detail: string) {
    super(`Command failed: "${cmd.join(" ")}": ${detail.trim()}`);
    this.name = "LabCommandError";
  }
}

/** Runs a command to completion (killed after `timeoutMs`). */
export async function runCommand(
  cmd: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const [bin, ...args] = cmd;
  const child = new Deno.Command(bin!, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, opts.timeoutMs ?? 60_000);
  try {
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      try {
        await w.write(new TextEncoder().encode(opts.stdin));
        await w.close();
      } catch {
        // The command exited without reading everything: its status says why.
      }
    }
    const out = await child.output();
    return {
      code: out.code,
      success: out.success,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command that must succeed; resolves to its standard output. */
export async function mustRun(
  cmd: readonly string[],
  opts: ExecOptions = {},
): Promise<string> {
  const r = await runCommand(cmd, opts);
  if (!r.success) {
    throw new LabCommandError(
      cmd,
      r.timedOut ? "timed out" : `exit ${r.code}: ${r.stderr || r.stdout}`,
    );
  }
  return r.stdout;
}

/** Random lower-case hex of `bytes` bytes. */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Thrown from a {@link poll} function: stop polling at once and fail with this. */
export class PollAbort extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PollAbort";
  }
}

/**
 * Polls `fn` every `everyMs` until it returns non-null; fails at the
 * deadline with the last value or error, or at once when `fn` throws a
 * {@link PollAbort}.
 */
export async function poll<T>(
  what: string,
  fn: () => Promise<T | null>,
  opts: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const until = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown = "nothing yet";
  for (;;) {
    try {
      const v = await fn();
      if (v !== null) return v;
      last = "not yet";
    } catch (e) {
      if (e instanceof PollAbort) throw e;
      last = e;
    }
    if (Date.now() > until) {
      throw new Error(
        `Timed out after ${
          opts.timeoutMs ?? 30_000
        } ms waiting for ${what}: ${last}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 200));
  }
}

/**
 * Builds the lab: hosts named `names` get addresses .10, .20, .30, … of a
 * random 10.X.Y.0/24 unless `addrs` names the last byte.
 */
export async function createLab(
  names: readonly string[],
  opts: { addrs?: Record<string, number> } = {},
): Promise<Lab> {
  const tag = randomHex(3);
  const r = crypto.getRandomValues(new Uint8Array(2));
  const net = `10.${100 + (r[0]! % 100)}.${r[1]!}`;
  const sw = `e2e-${tag}-sw`;
  const hosts: LabHost[] = names.map((name, i) => ({
    name,
    ns: `e2e-${tag}-${name}`,
    iface: "eth0",
    ip: `${net}.${opts.addrs?.[name] ?? 10 * (i + 1)}`,
  }));
  const made: string[] = [];
  const etcDirs: string[] = [];
  let createdEtcNetns = false;
  const procs = new Set<LabProcess>();
  let removed = false;

  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    const errors: string[] = [];
    await Promise.all([...procs].map((p) => p.stop("SIGTERM")));
    for (const ns of made) {
      // Whatever else still runs inside (Chromium's helpers, sshd's children).
      const pids = await runCommand(["ip", "netns", "pids", ns]);
      for (const pid of pids.stdout.split(/\s+/).filter((p) => p !== "")) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch {
          // It exited meanwhile.
        }
      }
    }
    for (const ns of made.reverse()) {
      const out = await runCommand(["ip", "netns", "del", ns]);
      if (!out.success && !/No such file/.test(out.stderr)) {
        errors.push(`${ns}: ${out.stderr.trim()}`);
      }
    }
    for (const d of etcDirs) {
      await Deno.remove(d, { recursive: true }).catch(() => {});
    }
    if (createdEtcNetns) await Deno.remove("/etc/netns").catch(() => {});
    if (errors.length > 0) {
      throw new Error(`Cannot remove lab namespaces: ${errors.join("; ")}`);
    }
  };

  const find = (name: string): LabHost => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`No lab host "${name}"`);
    return h;
  };

  const inNs = (ns: string, cmd: readonly string[]) => [
    "ip",
    "netns",
    "exec",
    ns,
    ...cmd,
  ];

  try {
    await mustRun(["ip", "netns", "add", sw]);
    made.push(sw);
    const swCmd = (...c: string[]) => mustRun(inNs(sw, c));
    await swCmd("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
    await swCmd("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
    await swCmd("ip", "link", "set", "lo", "up");
    await swCmd(
      "ip",
      "link",
      "add",
      "br0",
      "type",
      "bridge",
      "stp_state",
      "0",
      "forward_delay",
      "0",
      "mcast_snooping",
      "0",
    );
    await swCmd("ip", "link", "set", "br0", "up");
    for (const h of hosts) {
      await mustRun(["ip", "netns", "add", h.ns]);
      made.push(h.ns);
      const hCmd = (...c: string[]) => mustRun(inNs(h.ns, c));
      await hCmd("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
      await hCmd("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
      await hCmd("ip", "link", "set", "lo", "up");
      const port = `${h.name.slice(0, 4)}-${tag}`;
      await mustRun([
        "ip",
        "link",
        "add",
        port,
        "netns",
        sw,
        "type",
        "veth",
        "peer",
        "name",
        h.iface,
        "netns",
        h.ns,
      ]);
      await swCmd("ip", "link", "set", port, "master", "br0", "up");
      // Wire-sized frames with real checksums, as a mirror port (and the
      // lab's fixture captures) show them, not 64 KB offload super-frames.
      await hCmd(
        "ethtool",
        "-K",
        h.iface,
        "tx",
        "off",
        "tso",
        "off",
        "gso",
        "off",
        "gro",
        "off",
      );
      await hCmd("ip", "addr", "add", `${h.ip}/24`, "dev", h.iface);
      await hCmd("ip", "link", "set", h.iface, "up");
    }
    // Links come up asynchronously; wait until every host answers ARP.
    const first = hosts[0]!;
    for (const h of hosts.slice(1)) {
      await poll(`${h.name} to reach ${first.name}`, async () => {
        const r = await runCommand(
          inNs(h.ns, ["ping", "-c", "1", "-W", "1", first.ip]),
        );
        return r.success ? true : null;
      }, { timeoutMs: 15_000, everyMs: 50 });
    }
  } catch (e) {
    await remove();
    throw e;
  }

  const spawn = (
    name: string,
    cmd: readonly string[],
    o: ExecOptions = {},
  ): LabProcess => {
    const full = inNs(find(name).ns, cmd);
    const child = new Deno.Command(full[0]!, {
      args: full.slice(1),
      cwd: o.cwd,
      env: o.env,
      stdin: o.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const chunks: string[] = [];
    const drain = async (s: ReadableStream<Uint8Array<ArrayBuffer>>) => {
      for await (const t of s.pipeThrough(new TextDecoderStream())) {
        // Keep the last ~64 KiB: enough to explain a failure.
        chunks.push(t);
        if (chunks.length > 256) chunks.splice(0, chunks.length - 256);
      }
    };
    const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
    if (o.stdin !== undefined) {
      const w = child.stdin.getWriter();
      void w.write(new TextEncoder().encode(o.stdin)).then(() => w.close())
        .catch(() => {});
    }
    const status = child.status.then(async (s) => {
      await drained;
      return s;
    });
    let exited = false;
    void status.then(() => exited = true);
    const p: LabProcess = {
      child,
      output: () => chunks.join(""),
      status,
      async stop(signal: Deno.Signal = "SIGTERM") {
        if (!exited) {
          try {
            child.kill(signal);
          } catch {
            // Exited meanwhile.
          }
          const t = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch {
              // Exited meanwhile.
            }
          }, 5000);
          try {
            await status;
          } finally {
            clearTimeout(t);
          }
        }
        procs.delete(p);
        return await status;
      },
    };
    procs.add(p);
    return p;
  };

  return {
    tag,
    subnet: `${net}.0/24`,
    switchNs: sw,
    hosts,
    host: find,
    exec: (name, cmd, o = {}) => runCommand(inNs(find(name).ns, cmd), o),
    spawn,
    async etcFile(name, file, text) {
      const h = find(name);
      try {
        await Deno.mkdir("/etc/netns");
        createdEtcNetns = true;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      const dir = `/etc/netns/${h.ns}`;
      await Deno.mkdir(dir, { recursive: true });
      if (!etcDirs.includes(dir)) etcDirs.push(dir);
      await Deno.writeTextFile(`${dir}/${file}`, text);
    },
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/**
 * Starts tcpdump on `iface` in `netns` writing `file` (full frames), and
 * resolves once it listens to the function that stops it: it waits until the
 * file has stopped growing, then interrupts tcpdump.
 */
export async function recordCapture(
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
  if (!err.includes("listening on")) {
    child.kill("SIGKILL");
    await child.status;
    throw new LabCommandError(["tcpdump", "-i", iface], `in ${netns}: ${err}`);
  }
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
