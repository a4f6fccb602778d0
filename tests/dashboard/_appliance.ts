/**
 * A small appliance for dashboard tests, built from the real parts: KV
 * store at a temporary path, batched writer, policy holder, every rule
 * detector and the alert aggregator, the blocker (nftables unavailable, so
 * nothing on the host changes; blocks still go to KV), GeoIP enrichment
 * (reverse DNS off), the live statistics observer, a pipeline, and the
 * dashboard server on an ephemeral loopback port. A minimal replay control
 * plays capture files through the pipeline at a speed.
 *
 * @module
 */
import { join } from "node:path";
import { AlertAggregator, PolicyHolder } from "../../alerts/mod.ts";
import { readCaptureFile } from "../../capture/mod.ts";
import { silentLogger } from "../../common/logger.ts";
import { createDetectors } from "../../detect/mod.ts";
import { Pipeline } from "../../engine/mod.ts";
import { openEnricher } from "../../enrich/mod.ts";
import { hostIp } from "../../flows/mod.ts";
import {
  type AnomalyModel,
  FEATURE_COUNT,
  loadModel,
  Prng,
  scoreRequest,
  trainModel,
} from "../../ml/mod.ts";
import { Blocker, NO_FACTS } from "../../respond/mod.ts";
import {
  getHost,
  mergeHost,
  openStore,
  type Store,
  StoreWriter,
} from "../../store/mod.ts";
import {
  applianceMetrics,
  blockerResponder,
  type CaptureFile,
  createServer,
  type DashboardDeps,
  type DashboardServer,
  ensureAdmin,
  ensureBundle,
  kvAlerts,
  kvAuth,
  kvHosts,
  kvPolicy,
  kvStatsHistory,
  LiveStats,
  type ReplayControl,
  type ReplaySource,
  type ReplayStatus,
} from "../../server/mod.ts";

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
  readonly replay: TestReplay;
  readonly dir: string;
}

/** Options of {@link startAppliance}. */
export interface ApplianceOptions {
  /** Directory of captures offered for replay. */
  capturesDir?: string;
  /** Failed sign-ins allowed per address. */
  signinMax?: number;
  /** Serve HTTPS with this PEM certificate and key. */
  tls?: { cert: string; key: string };
}

/** Plays capture files through a pipeline, pacing by packet time. */
export class TestReplay implements ReplayControl {
  readonly #dir: string;
  readonly #tmp: string;
  readonly #pipeline: Pipeline;
  readonly #after: () => void;
  #status: ReplayStatus = {
    state: "idle",
    source: null,
    speed: 1,
    packets: 0,
    progress: null,
    error: null,
  };
  #abort: AbortController | null = null;
  #running: Promise<void> | null = null;

  /** Plays files of `dir`; uploads are written under `tmp`. */
  constructor(dir: string, tmp: string, pipeline: Pipeline, after: () => void) {
    this.#dir = dir;
    this.#tmp = tmp;
    this.#pipeline = pipeline;
    this.#after = after;
  }

  /** Capture files of the directory. */
  async captures(): Promise<CaptureFile[]> {
    const out: CaptureFile[] = [];
    for await (const e of Deno.readDir(this.#dir)) {
      if (e.isFile && /\.(pcap|pcapng|cap)$/.test(e.name)) {
        out.push({
          name: e.name,
          bytes: (await Deno.stat(join(this.#dir, e.name))).size,
        });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Starts playing. */
  async start(src: ReplaySource, speed: number): Promise<ReplayStatus> {
    await this.stop();
    let path: string;
    if (src.kind === "file") path = join(this.#dir, src.name);
    else {
      path = join(this.#tmp, `upload-${Date.now()}.pcap`);
      await Deno.writeFile(path, src.bytes);
    }
    const size = (await Deno.stat(path)).size;
    this.#status = {
      state: "running",
      source: src.name,
      speed,
      packets: 0,
      progress: 0,
      error: null,
    };
    const abort = new AbortController();
    this.#abort = abort;
    this.#running = this.#play(path, size, speed, abort.signal);
    return { ...this.#status };
  }

  async #play(path: string, size: number, speed: number, signal: AbortSignal) {
    let firstPkt = -1;
    const t0 = Date.now();
    try {
      const reader = readCaptureFile(path, { batchFrames: 16, signal });
      let r = await reader.next();
      while (!r.done) {
        const b = r.value;
        if (speed > 0 && b.count > 0) {
          if (firstPkt < 0) firstPkt = b.tsUs[0]!;
          const due = t0 + (b.tsUs[0]! - firstPkt) / 1000 / speed;
          const wait = Math.min(2000, due - Date.now());
          if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        }
        this.#pipeline.processBatch(b);
        this.#status.packets += b.count;
        r = await reader.next();
        this.#status.progress = r.done
          ? 1
          : Math.min(0.99, this.#status.packets / Math.max(1, size / 100));
      }
      this.#status.state = "finished";
      this.#status.progress = 1;
    } catch (e) {
      if (signal.aborted) {
        this.#status.state = "idle";
      } else {
        this.#status.state = "failed";
        this.#status.error = (e as Error).message;
      }
    }
    this.#after();
  }

  /** Stops playing. */
  async stop(): Promise<ReplayStatus> {
    this.#abort?.abort();
    await this.#running;
    this.#abort = null;
    this.#running = null;
    return { ...this.#status };
  }

  /** The current state. */
  status(): ReplayStatus {
    return { ...this.#status };
  }
}

/** The shipped model, or one trained on seeded random rows while none ships. */
async function testModel(): Promise<AnomalyModel> {
  try {
    return (await loadModel()).model;
  } catch {
    const rnd = new Prng(7);
    const rows = new Float64Array(400 * FEATURE_COUNT).map(() =>
      rnd.next() * 10
    );
    return trainModel(rows, { seed: 1 });
  }
}

/** Starts a test appliance; dispose it to stop everything and remove its files. */
export async function startAppliance(
  opts: ApplianceOptions = {},
): Promise<TestAppliance> {
  await ensureBundle();
  const dir = await Deno.makeTempDir({ prefix: "ns-dash-" });
  const store = await openStore(join(dir, "data"));
  const writer = new StoreWriter(store, { intervalMs: 100 });
  const holder = new PolicyHolder();
  let admins: () => string[] = () => [];
  const blocker = new Blocker(store, {
    nftCommand: ["/nonexistent/nft"],
    systemFacts: () => Promise.resolve(NO_FACTS),
    writer,
    protectedAddrs: () => admins(),
  });
  await blocker.start();
  const { enricher } = await openEnricher({ rdns: { enabled: false } });
  let pipeline: Pipeline | null = null;
  const stats = new LiveStats({
    enricher,
    totals: () => pipeline!.counters,
    flows: () => pipeline!.flows.size,
    rollup: (b, r) => writer.queueStats("1m", b, r),
  });
  const aggregator = new AlertAggregator({
    policy: holder,
    enrich: (a) => {
      Object.assign(
        a.netsentinel,
        enricher.alertFields(a.src_ip, a.dest_ip ?? ""),
      );
    },
    onAlert: (a, isNew) => {
      blocker.onAlert(a, isNew);
      writer.queueAlert(a, isNew);
    },
  });
  pipeline = new Pipeline({
    observers: [
      ...createDetectors(holder.current, aggregator.emit),
      aggregator.observer(),
      stats,
    ],
  });
  const p = pipeline;
  const saveHosts = () => {
    p.hosts.forEach((h) => {
      const ip = hostIp(h);
      const geo = enricher.enrichAddr(ip).geo;
      void getHost(store, ip).then((prev) => {
        writer.queueHost(mergeHost(prev, {
          ip,
          first_seen: new Date(h.firstUs / 1000).toISOString(),
          last_seen: new Date(h.lastUs / 1000).toISOString(),
          bytes: h.bytesSent + h.bytesRecv,
          packets: h.pktsSent + h.pktsRecv,
          bytes_in: h.bytesRecv,
          bytes_out: h.bytesSent,
          ...(geo.country === undefined ? {} : {
            geo: {
              country: geo.country,
              ...(geo.flag === undefined ? {} : { flag: geo.flag }),
              ...(geo.country_name === undefined
                ? {}
                : { country_name: geo.country_name }),
            },
          }),
        }));
      });
    });
  };
  const capturesDir = opts.capturesDir ?? join(dir, "captures");
  await Deno.mkdir(capturesDir, { recursive: true });
  const replay = new TestReplay(capturesDir, dir, p, () => {
    p.finish();
    saveHosts();
  });
  const model = await testModel();
  const auth = kvAuth(store);
  await ensureAdmin(auth, TEST_PASSWORD, { iterations: 1000 });
  const deps: DashboardDeps = {
    alerts: kvAlerts(store),
    hosts: kvHosts(store),
    statsHistory: kvStatsHistory(store),
    responder: blockerResponder(store, blocker),
    policy: kvPolicy(store, holder),
    auth,
    stats,
    replay,
    scorer: { scoreRequest: (body) => ({ ...scoreRequest(body, model) }) },
    enricher,
    health: () => ({
      capture: {
        state: replay.status().state === "running" ? "up" : "idle",
        detail: "replay",
      },
      detector: { state: "up" },
    }),
    probeStore: async () => {
      await store.kv.get(["config"]);
    },
    metrics: () =>
      applianceMetrics({
        pipeline: p,
        writer: writer.metrics,
        blocker: blocker.state(),
      }),
    log: silentLogger,
  };
  const server = await createServer(deps, {
    hostname: "127.0.0.1",
    port: 0,
    ...(opts.signinMax === undefined
      ? {}
      : { signinLimit: { max: opts.signinMax } }),
    ...(opts.tls ?? {}),
  });
  admins = () => server.dashboard.sessions.adminAddrs();
  return {
    url: server.url,
    store,
    writer,
    server,
    pipeline: p,
    stats,
    replay,
    dir,
    async [Symbol.asyncDispose]() {
      await replay.stop();
      await server.close();
      await blocker.stop();
      await writer.close();
      await enricher.close();
      store.close();
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
 * Polls `fn` until `ok` accepts its value or `ms` pass (default 30 s);
 * then fails with the last value seen.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  ok: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > until) {
      throw new Error(
        `Timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
    last = await fn();
  }
  return last;
}
