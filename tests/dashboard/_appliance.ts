/**
 * The appliance for dashboard tests: the real {@link Appliance} (the same
 * wiring `run` uses: KV store at a temporary path, batched writer, every
 * detector and the anomaly model, the alert aggregator, the blocker, GeoIP,
 * live statistics, replay) on an ephemeral loopback port, with no packet
 * source of its own: tests feed it through Replay. nftables is pointed at a
 * command that does not exist, so nothing on the host changes (blocks
 * still go to KV); reverse DNS is off; hosts are never "learned" silently.
 *
 * @module
 */
import { join } from "node:path";
import { Appliance, type PacketSourceSpec } from "../../appliance/appliance.ts";
import { parseConfig } from "../../appliance/config.ts";
import { type Logger, silentLogger } from "../../common/logger.ts";
import type { Pipeline } from "../../engine/mod.ts";
import type { ApplianceReplay } from "../../appliance/replay_control.ts";
import type { DashboardServer, LiveStats } from "../../server/mod.ts";
import type { Store, StoreWriter } from "../../store/mod.ts";
import { waitFor as waitForValue } from "../../store/_testing.ts";

/** The test password of the admin user. */
export const TEST_PASSWORD = "correct horse battery staple";

/** A running test appliance. */
export interface TestAppliance extends AsyncDisposable {
  readonly url: string;
  readonly store: Store;
  readonly writer: StoreWriter;
  readonly server: DashboardServer;
  readonly pipeline: Pipeline;
  readonly stats: LiveStats;
  readonly replay: ApplianceReplay;
  readonly dir: string;
  readonly app: Appliance;
}

/** Options of {@link startAppliance}. */
export interface ApplianceOptions {
  /** Directory of captures offered for replay (besides the shipped demo). */
  capturesDir?: string;
  /** Failed sign-ins allowed per address. */
  signinMax?: number;
  /** Serve HTTPS with this PEM certificate and key. */
  tls?: { cert: string; key: string };
  /** More config keys (for example `notify`). */
  config?: Record<string, unknown>;
  /** The logger (default: silent). */
  log?: Logger;
  /** The packet source (default: none; tests feed it through Replay). */
  source?: PacketSourceSpec;
  /** Runs on the data directory before the appliance starts (seed KV, …). */
  before?: (dataDir: string) => Promise<void>;
  /** Waits between notification tries, ms. */
  notifyBackoffMs?: readonly number[];
}

/** Starts a test appliance; dispose it to stop everything and remove its files. */
export async function startAppliance(
  opts: ApplianceOptions = {},
): Promise<TestAppliance> {
  const dir = await Deno.makeTempDir({ prefix: "ns-dash-" });
  const data = join(dir, "data");
  await Deno.mkdir(data, { recursive: true });
  // The Replay page offers <data>/captures: the test's own folder, live.
  if (opts.capturesDir) {
    await Deno.symlink(opts.capturesDir, join(data, "captures"));
  }
  await opts.before?.(data);
  const raw: Record<string, unknown> = {
    dashboard: { listen: "127.0.0.1:0" },
    rdns: { enabled: false },
    new_host_learning: 0,
    storage: { commit_interval_ms: 100 },
    ...opts.config,
  };
  if (opts.tls) {
    await Deno.writeTextFile(join(dir, "cert.pem"), opts.tls.cert);
    await Deno.writeTextFile(join(dir, "key.pem"), opts.tls.key);
    raw.dashboard = {
      listen: "127.0.0.1:0",
      cert: join(dir, "cert.pem"),
      key: join(dir, "key.pem"),
    };
  }
  const app = await Appliance.start({
    dataDir: data,
    configPath: join(data, "config.json"),
    config: parseConfig(raw),
    rawConfig: raw,
    source: opts.source ?? { kind: "none" },
    ...(opts.notifyBackoffMs ? { notifyBackoffMs: opts.notifyBackoffMs } : {}),
    log: opts.log ?? silentLogger,
    initialPassword: TEST_PASSWORD,
    passwordIterations: 1000,
    nftCommand: ["/nonexistent/nft"],
    ...(opts.signinMax === undefined
      ? {}
      : { dashboard: { signinLimit: { max: opts.signinMax } } }),
  });
  return {
    url: app.server.url,
    store: app.store,
    writer: app.writer,
    server: app.server,
    pipeline: app.pipeline,
    stats: app.stats,
    replay: app.replay,
    dir,
    app,
    async [Symbol.asyncDispose]() {
      // A stop that never ends fails the test naming what it waits for,
      // instead of hanging the whole suite.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(
            new Error(
              `The appliance did not stop within 60 s: waiting for ${app.stopStage}`,
            ),
          );
        }, 60_000);
      });
      try {
        await Promise.race([app.stop(), stuck]);
      } finally {
        clearTimeout(timer);
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Signs in through the form; resolves to the `Cookie` header value. */
export async function signIn(
  url: string,
  password = TEST_PASSWORD,
): Promise<string> {
  const res = await fetch(`${url}/signin`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: url,
    },
    body: new URLSearchParams({ user: "admin", password, next: "/" }),
  });
  await res.body?.cancel();
  const set = res.headers.get("set-cookie");
  if (res.status !== 303 || set === null) {
    throw new Error(`Sign-in failed: HTTP ${res.status}`);
  }
  return set.split(";")[0]!;
}

/**
 * One API request as the signed-in dashboard makes it (session cookie, its
 * own origin, a JSON body); resolves to the status and the parsed answer
 * (`{ text }` when the answer is not JSON).
 */
export async function apiCall(
  url: string,
  cookie: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; data: Record<string, unknown> }> {
  const res = await fetch(url + path, {
    method,
    headers: {
      cookie,
      origin: url,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined
      ? undefined
      : typeof body === "string"
      ? body
      : JSON.stringify(body),
  });
  const text = await res.text();
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(text);
  } catch {
    data = { text };
  }
  return { status: res.status, data };
}

/**
 * Polls `fn` until `ok` accepts its value or `ms` pass (default 30 s);
 * then fails with the last value seen.
 */
export function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  ok: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  return waitForValue(what, fn, ok, ms);
}
