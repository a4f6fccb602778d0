/**
 * Test helpers of fleet/: a real `redis-server` on a random loopback port
 * with its data in a temp directory (append-only, fsync always, so a
 * SIGKILL loses nothing it acknowledged), killed and restarted on the same
 * port; `redis-cli` calls; polling with a deadline.
 *
 * @module
 */
import { join } from "node:path";

/** Why Redis tests cannot run here, or null. */
export async function redisUnavailable(): Promise<string | null> {
  for (const tool of ["redis-server", "redis-cli"]) {
    try {
      const out = await new Deno.Command(tool, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!out.success) return `${tool} does not run`;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return `${tool} missing (apt-get install redis-server)`;
      }
      throw e;
    }
  }
  return null;
}

/** The `ignore` of a test that needs redis-server: never skipped under CI=true. */
export async function ignoreWithoutRedis(): Promise<boolean> {
  const why = await redisUnavailable();
  return why !== null && Deno.env.get("CI") !== "true";
}

/** A redis-server the test started. */
export interface TestRedis extends AsyncDisposable {
  readonly port: number;
  readonly dir: string;
  /** SIGKILL (as a crash or a pulled plug); waits for the process to end. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; waits until it answers. */
  restart(): Promise<void>;
  /** Runs redis-cli with these arguments; resolves to its stdout (trimmed). */
  cli(...args: string[]): Promise<string>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts a redis-server on 127.0.0.1 and a random port (or `netns`), with extra `args`. */
export async function startRedis(
  opts: { netns?: string; bind?: string; args?: readonly string[] } = {},
): Promise<TestRedis> {
  const dir = await Deno.makeTempDir({ prefix: "ns-redis-" });
  const port = freePort();
  const bind = opts.bind ?? "127.0.0.1";
  let child: Deno.ChildProcess | null = null;
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    opts.netns === undefined
      ? [cmd, args]
      : ["ip", ["netns", "exec", opts.netns, cmd, ...args]];
  const cli = async (...args: string[]): Promise<string> => {
    const [c, a] = wrap("redis-cli", ["-h", bind, "-p", String(port), ...args]);
    const out = await new Deno.Command(c, {
      args: a,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  const start = async () => {
    const [c, a] = wrap("redis-server", [
      "--port",
      String(port),
      "--bind",
      bind,
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--save",
      "",
      "--daemonize",
      "no",
      "--protected-mode",
      "no",
      "--logfile",
      join(dir, "redis.log"),
      ...(opts.args ?? []),
    ]);
    child = new Deno.Command(c, {
      args: a,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(async () => (await cli("PING")) === "PONG", "redis PONG");
  };
  const kill = async () => {
    if (child === null) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    child = null;
  };
  await start();
  return {
    port,
    dir,
    kill,
    restart: start,
    cli,
    async [Symbol.asyncDispose]() {
      await kill();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Polls `check` every 50 ms until it is true or 20 s pass (then fails naming `what`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (true) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A Sentinel (redis-server --sentinel) watching `primaryPort` as "mymaster". */
export async function startSentinel(
  primaryPort: number,
): Promise<{ port: number } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "ns-sentinel-" });
  const port = freePort();
  const conf = join(dir, "sentinel.conf");
  await Deno.writeTextFile(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `logfile ${join(dir, "sentinel.log")}`,
      `sentinel monitor mymaster 127.0.0.1 ${primaryPort} 1`,
      "sentinel down-after-milliseconds mymaster 1000",
      "sentinel failover-timeout mymaster 5000",
      "",
    ].join("\n"),
  );
  const child = new Deno.Command("redis-server", {
    args: [conf, "--sentinel"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor(async () => {
    const out = await new Deno.Command("redis-cli", {
      args: [
        "-p",
        String(port),
        "SENTINEL",
        "get-master-addr-by-name",
        "mymaster",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(out.stdout).includes(String(primaryPort));
  }, "the sentinel");
  return {
    port,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
