/**
 * What the live, latency, memory and startup sections share: the
 * in-namespace agent (bench/_ns_agent.ts) driven from the bench process,
 * the appliance started as its own process inside a namespace, a data
 * directory with a bench config, Prometheus text parsing, RSS from /proc,
 * percentiles. Namespaces come from tests/netns.ts and are removed by the
 * sections in `finally`.
 *
 * @module
 */
import { join } from "node:path";
import { V8_FLAGS } from "../packaging/compile.ts";

const PROF_DIR = Deno.env.get("BENCH_CPU_PROF");

const ROOT = new URL("../", import.meta.url).pathname;
/** The appliance's entry point. */
export const MAIN = `${ROOT}main.ts`;
const AGENT = new URL("./_ns_agent.ts", import.meta.url).pathname;

/** The admin password the benches start the appliance with. */
export const BENCH_PASSWORD = "bench password, not a secret";
/** Dashboard port inside the appliance's namespace (its own loopback). */
export const DASH_PORT = 18080;
/** Dashboard URL as seen from inside the appliance's namespace. */
export const DASH_URL = `http://127.0.0.1:${DASH_PORT}`;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Prints a progress line on stderr. */
export function say(s: string): void {
  Deno.stderr.writeSync(enc.encode(s + "\n"));
}

/** Wall-clock time in ms with sub-ms resolution (comparable across processes). */
export function wall(): number {
  return performance.timeOrigin + performance.now();
}

/** The `q` quantile (0..1) of `xs` by the nearest-rank method; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** VmRSS and VmHWM of a process in bytes (0 when it is gone). */
export async function rssOf(
  pid: number,
): Promise<{ rss: number; hwm: number }> {
  try {
    const s = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (k: string) =>
      Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** Parses Prometheus text into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** One event the agent printed (`ev` is its kind). */
export type AgentEvent = Record<string, unknown> & { ev: string; t: number };

/** A running bench/_ns_agent.ts inside a namespace. */
export class NsAgent implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #replies = new Map<number, (r: Record<string, unknown>) => void>();
  readonly #waiters: {
    ok: (e: AgentEvent) => boolean;
    res: (e: AgentEvent | null) => void;
  }[] = [];
  /** Every event so far, in arrival order. */
  readonly events: AgentEvent[] = [];
  #next = 1;
  #closed = false;
  readonly #reading: Promise<void>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = this.#read();
  }

  /** Starts the agent in namespace `ns`. */
  static start(ns: string): NsAgent {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", AGENT],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new NsAgent(child);
  }

  async #read(): Promise<void> {
    let buf = "";
    for await (const chunk of this.#child.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = JSON.parse(line) as Record<string, unknown>;
        if (typeof m.id === "number") {
          this.#replies.get(m.id)?.(m);
          this.#replies.delete(m.id);
        } else if (typeof m.ev === "string") {
          const e = m as AgentEvent;
          this.events.push(e);
          for (let i = this.#waiters.length - 1; i >= 0; i--) {
            const w = this.#waiters[i]!;
            if (w.ok(e)) {
              this.#waiters.splice(i, 1);
              w.res(e);
            }
          }
        }
      }
    }
    for (const r of this.#replies.values()) {
      r({ error: "the agent exited" });
    }
  }

  /** Sends a command; resolves to the reply, throws on an `error` reply. */
  async request(
    op: string,
    args: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const reply = new Promise<Record<string, unknown>>((r) =>
      this.#replies.set(id, r)
    );
    await this.#writer.write(
      enc.encode(JSON.stringify({ id, op, ...args }) + "\n"),
    );
    const r = await reply;
    if (typeof r.error === "string") {
      throw new Error(`Agent "${op}" failed: ${r.error}`);
    }
    return r;
  }

  /** The first event (past or future) accepted by `ok`, or null after `ms`. */
  waitEvent(
    ok: (e: AgentEvent) => boolean,
    ms: number,
    since = 0,
  ): Promise<AgentEvent | null> {
    for (let i = since; i < this.events.length; i++) {
      if (ok(this.events[i]!)) return Promise.resolve(this.events[i]!);
    }
    return new Promise((res) => {
      const w = { ok, res };
      this.#waiters.push(w);
      setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) {
          this.#waiters.splice(i, 1);
          res(null);
        }
      }, ms);
    });
  }

  /** GETs a dashboard path with the session cookie (after `signin`). */
  async get(path: string): Promise<{ status: number; body: string }> {
    const r = await this.request("get", { url: DASH_URL + path });
    return { status: r.status as number, body: r.body as string };
  }

  /** The appliance's `/metrics` as a map. */
  async metrics(): Promise<Map<string, number>> {
    const r = await this.get("/metrics");
    if (r.status !== 200) throw new Error(`/metrics: HTTP ${r.status}`);
    return parseMetrics(r.body);
  }

  /** Stops the agent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await Promise.race([
        this.request("quit"),
        new Promise((r) => setTimeout(r, 3000)),
      ]);
    } catch {
      // Already gone.
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#reading.catch(() => {});
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A data directory with a bench config; removed on dispose. */
export async function benchDataDir(
  config: Record<string, unknown>,
): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "ns-bench-" });
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify(config, null, 2),
  );
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The bench's base config for an appliance capturing on `iface`. */
export function benchConfig(
  iface: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    capture: { interface: iface },
    dashboard: { listen: `127.0.0.1:${DASH_PORT}` },
    // No reverse DNS: the namespaces have no resolver and no route.
    rdns: { enabled: false },
    log_level: "warn",
    ...extra,
  };
}

/** An appliance process: `main.ts run` (or a bench child) in a namespace. */
export class ApplianceProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Wall time just before the spawn. */
  readonly t0: number;
  #log = "";
  readonly #lines: ((line: string) => void) | null;
  readonly #reading: Promise<void>[] = [];
  #stopped: Promise<Deno.CommandStatus> | null = null;

  private constructor(
    child: Deno.ChildProcess,
    t0: number,
    onLine: ((line: string) => void) | null,
  ) {
    this.child = child;
    this.t0 = t0;
    this.#lines = onLine;
    this.#reading.push(this.#drain(child.stderr, false));
    this.#reading.push(this.#drain(child.stdout, true));
  }

  /**
   * Spawns `args` (a deno script and its arguments) with `deno run -A` in
   * namespace `ns`, with the V8 heap limits the appliance ships with
   * (packaging/compile.ts) plus `v8Flags`; `onLine` sees its stdout lines.
   */
  static spawn(
    ns: string,
    args: string[],
    opts: { onLine?: (line: string) => void; v8Flags?: string } = {},
  ): ApplianceProcess {
    const t0 = wall();
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        Deno.execPath(),
        "run",
        "-A",
        `--v8-flags=${
          [...V8_FLAGS, ...(opts.v8Flags ? [opts.v8Flags] : [])].join(",")
        }`,
        // BENCH_CPU_PROF=DIR: a V8 CPU profile of every appliance the bench
        // runs (read it with bench/profile_summary.ts).
        ...(PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`] : []),
        ...args,
      ],
      env: { NETSENTINEL_PASSWORD: BENCH_PASSWORD, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new ApplianceProcess(child, t0, opts.onLine ?? null);
  }

  /** `main.ts run` with the data directory `dir` in namespace `ns`. */
  static run(ns: string, dir: string): ApplianceProcess {
    return ApplianceProcess.spawn(ns, [MAIN, "run", "--data", dir]);
  }

  async #drain(s: ReadableStream<Uint8Array>, lines: boolean): Promise<void> {
    let buf = "";
    for await (const chunk of s) {
      const text = dec.decode(chunk, { stream: true });
      if (!lines) {
        // Keep the last 20 kB of the log for error messages.
        this.#log = (this.#log + text).slice(-20_000);
        continue;
      }
      buf += text;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        this.#lines?.(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
  }

  /** The end of its stderr. */
  get log(): string {
    return this.#log;
  }

  /** SIGTERM, then SIGKILL after `ms`; resolves to the exit status. */
  stop(ms = 15_000): Promise<Deno.CommandStatus> {
    this.#stopped ??= (async () => {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const timer = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }, ms);
      const st = await this.child.status;
      clearTimeout(timer);
      await Promise.allSettled(this.#reading);
      return st;
    })();
    return this.#stopped;
  }

  /** Same as {@link stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Starts the agent in `ns`, waits for `/health` 200 and signs in. */
export async function signedInAgent(
  ns: string,
  app: ApplianceProcess,
  ms = 60_000,
): Promise<NsAgent> {
  const agent = NsAgent.start(ns);
  try {
    await agent.request("health", { url: DASH_URL, ms });
    await agent.request("signin", { url: DASH_URL, password: BENCH_PASSWORD });
  } catch (e) {
    await agent.close();
    throw new Error(
      `${(e as Error).message}\nappliance log:\n${app.log.slice(-3000)}`,
    );
  }
  return agent;
}
