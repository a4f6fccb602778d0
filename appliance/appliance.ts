/**
 * The appliance: one process that captures (or replays), detects, stores,
 * blocks and serves the dashboard. {@link Appliance.start} builds every
 * part from the config and hands them to each other; {@link Appliance.stop}
 * takes them down in order (stop capture, flush alerts and stats, close the
 * database) so nothing acknowledged is lost.
 *
 * @module
 */
import { statfs } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type Alert,
  AlertAggregator,
  type AlertType,
  inHomeNet,
  type Policy,
  policyDocument,
  PolicyHolder,
} from "../alerts/mod.ts";
import {
  CaptureOpenError,
  type CaptureStats,
  defaultRouteInterface,
  type FrameBatch,
  LibpcapMissingError,
  LiveSource,
  releaseBatch,
  ReplaySource,
} from "../capture/mod.ts";
import {
  type ApplianceEvent,
  type ApplianceEventSink,
  feedUpdateFailed,
} from "../common/appliance_event.ts";
import type { Logger } from "../common/logger.ts";
import {
  anomalyDetector,
  type DetectorFactory,
  type Emit,
} from "../detect/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { AlertPcaps, isAlertId, PacketRing } from "../pcaps/mod.ts";
import type { DefragConfig } from "../defrag/mod.ts";
import { type Enricher, openEnricher } from "../enrich/mod.ts";
import { type Host, hostIp } from "../flows/mod.ts";
import {
  type FeedView,
  type FetchLike,
  intelMatcher,
  IntelService,
} from "../intel/mod.ts";
import {
  type AnomalyModel,
  holdForPolicy,
  type LoadedModel,
  ModelRetrainer,
  ProbesError,
  resolveModel,
  scoreRequest,
} from "../ml/mod.ts";
import {
  Notifier,
  notifyControl,
  plainDeviceName,
  shortDuration,
  type SummaryFacts,
} from "../notify/mod.ts";
import { Blocker, EveLog } from "../respond/mod.ts";
import {
  EveRedisShipper,
  type EveRedisState,
  FleetAgent,
} from "../fleet/mod.ts";
import {
  applianceMetrics,
  blockerResponder,
  createServer,
  type DashboardDeps,
  type DashboardOptions,
  type DashboardServer,
  ensureAdmin,
  ensureBundle,
  kvAlerts,
  kvAuth,
  kvHosts,
  kvInbox,
  kvStatsHistory,
  LiveStats,
  type MetricFamily,
  type PartHealth,
  type PolicyControl,
} from "../server/mod.ts";
import {
  getAlertHead,
  getHost,
  type HostRecord,
  listAlerts,
  listBlocks,
  listDeviceEdits,
  listHosts,
  mergeHost,
  metaKey,
  openStore,
  type Store,
  StoreWriter,
} from "../store/mod.ts";
import { type AppConfig, effectiveBlockPolicy, saveConfig } from "./config.ts";
import { DetectorSet } from "./detector_set.ts";
import { DeviceKeeper } from "./devices.ts";
import { loadOuiRegistry, type OuiRegistry } from "../devices/mod.ts";
import {
  type InstanceLock,
  lockDataDir,
  lockNftTable,
} from "./instance_lock.ts";
import {
  loadRuleSet,
  parseRulesConfig,
  parseRuleToggle,
  RULES_DIR,
  type RulesConfig,
  type RulesControl,
  type RuleSet,
  rulesView,
  signatureDetector,
  toggleRules,
  UPDATE_STAMP,
  updateRules,
} from "../rules/mod.ts";
import { ApplianceReplay, DEMO_CAPTURE_URL } from "./replay_control.ts";

/** Where packets come from. */
export type PacketSourceSpec =
  | { kind: "live"; iface: string | null; filter: string }
  | { kind: "replay"; path: string; speed: number; loop: boolean }
  | { kind: "none" };

/** Options of {@link Appliance.start}. */
export interface ApplianceOptions {
  dataDir: string;
  /** The config file (policy edits are saved back into it). */
  configPath: string;
  config: AppConfig;
  /** The config document as read, to save edits into. */
  rawConfig: Record<string, unknown>;
  source: PacketSourceSpec;
  log: Logger;
  /** Password for a first start (NETSENTINEL_PASSWORD). */
  initialPassword?: string;
  /** nftables command line (tests: inside a namespace). */
  nftCommand?: readonly string[];
  /**
   * False: never run nft (a replay without `--block`); blocks are recorded
   * in KV only and no table lock is taken (default true).
   */
  nftables?: boolean;
  /** Network namespace for capture and nft (tests). */
  netns?: string;
  /** Exit when a replay without loop ends (the `replay` command). */
  onReplayEnd?: () => void;
  /** Also told about every new and updated alert (after the other sinks). */
  onAlert?: (a: Alert, isNew: boolean) => void;
  /** Dashboard options beyond the config (session lifetime, sign-in limits). */
  dashboard?: DashboardOptions;
  /** PBKDF2 iterations for a first-start password (tests lower it). */
  passwordIterations?: number;
  /**
   * The network for threat-feed updates on their schedule (the `run`
   * command passes `fetch`); absent or null: none (stored copies only).
   */
  intelFetch?: FetchLike | null;
  /** Waits between notification tries, ms (tests shorten them). */
  notifyBackoffMs?: readonly number[];
}

/** State of a part for `/health` and the dashboard. */
type PartState = { state: string; detail?: string; [k: string]: unknown };

const HOST_SAVE_MS = 60_000;
/** Hosts checked (and read from KV when changed) between two pauses of a save. */
const HOST_SAVE_SLICE = 256;
/**
 * Flows one pipeline tick ends by timeout at most (about 5 to 15 ms of
 * work: features, scoring, detectors); the rest follow on the next ticks.
 */
const EXPIRE_BUDGET = 512;
/**
 * Live capture hands over a batch at most this long after its first frame
 * (libpcap's buffer timeout and the worker's flush): what a new alert
 * waits at low packet rates. Busy links fill batches sooner.
 */
const LIVE_FLUSH_MS = 10;
/** Addresses of alerts remembered between two host saves at most. */
const MAX_ALERT_ADDRS = 10_000;
const MAX_KNOWN_HOSTS = 200_000;
const BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000, 60_000];
/** How often the data directory's free space is checked. */
const DISK_CHECK_MS = 60_000;
/** Alerts the daily summary reads at most. */
const SUMMARY_MAX_ALERTS = 10_000;

/** The running appliance. */
export class Appliance {
  readonly store: Store;
  readonly writer: StoreWriter;
  readonly pipeline: Pipeline;
  readonly server: DashboardServer;
  readonly blocker: Blocker;
  readonly aggregator: AlertAggregator;
  readonly replay: ApplianceReplay;
  readonly stats: LiveStats;
  /** Notifications: alerts and appliance events to the configured channels. */
  readonly notifier: Notifier;
  /** EVE to Redis (`eve.redis`), or null when off. */
  readonly eveRedis: EveRedisShipper | null;
  /** The fleet agent (`fleet`), or null when off. */
  readonly fleet: FleetAgent | null;
  /**
   * Where any part reports an appliance event (capture down, block made,
   * disk almost full; the feed and rules updaters report their failures
   * here with `feedUpdateFailed` and `rulesUpdateFailed` of common/).
   */
  readonly events: ApplianceEventSink;
  /** Threat-intelligence feeds in force. */
  readonly intel: IntelService;
  /** The device inventory and its records. */
  readonly devices: DeviceKeeper;
  /** Alert pcaps in the data directory's `pcaps/` (see pcaps/). */
  readonly pcaps: AlertPcaps;
  /** Each flow's recent packets, for the alert pcaps. */
  readonly #ring = new PacketRing();
  /** The admin password when this start created it (print it once). */
  readonly generatedPassword: string | null;
  readonly #o: ApplianceOptions;
  readonly #eve: EveLog | null;
  readonly #enricher: Enricher;
  readonly #model: LoadedModel | null;
  /** Periodic retraining (model.retrain); null when off. */
  readonly #retrain: ModelRetrainer | null;
  readonly #detectors: DetectorSet;
  /** The extra detectors in force: the anomaly scorer and the signatures. */
  #anomalyExtra: ReadonlyArray<readonly [AlertType, DetectorFactory]> = [];
  #sigExtra: ReadonlyArray<readonly [AlertType, DetectorFactory]> = [];
  /** The rule set in force (null: signatures off). */
  #rules: RuleSet | null = null;
  /** The config's `rules` section as in force (the dashboard edits it). */
  #rulesConfig: RulesConfig;
  readonly #holder: PolicyHolder;
  #capture: PartState = { state: "starting" };
  #live: LiveSource | null = null;
  #replaySource: ReplaySource | null = null;
  #captureLoop: Promise<void> = Promise.resolve();
  #stopping = false;
  #stopStage: string | null = null;
  #stopped: Promise<void> | null = null;
  /** The data directory and nftables table locks, held until stopped. */
  #locks: InstanceLock[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #alertsByType = new Map<string, number>();
  #saved = new WeakMap<
    Host,
    { bytes: number; packets: number; bIn: number; bOut: number }
  >();
  #lastHostSave = 0;
  #known: Set<string>;
  /** Addresses named by new alerts since the last host save, with alerts as source. */
  #alertAddrs = new Map<string, number>();
  /** Until when (ms) new hosts are learned silently; 0 when not learning. */
  #learningUntil: number;
  #wake: (() => void) | null = null;
  #restarts = 0;
  /** The host save in progress (it pauses between slices), or null. */
  #saving: Promise<void> | null = null;
  /** A catch-up tick is scheduled (timeouts left over by the budget). */
  #catchUp: ReturnType<typeof setTimeout> | null = null;
  #lastDiskCheck = 0;
  /** A disk_almost_full event was sent and the free space has not recovered. */
  #diskWarned = false;

  private constructor(
    o: ApplianceOptions,
    parts: {
      store: Store;
      writer: StoreWriter;
      eve: EveLog | null;
      enricher: Enricher;
      model: LoadedModel | null;
      retrain: ModelRetrainer | null;
      holder: PolicyHolder;
      known: Set<string>;
      learningUntil: number;
      blocker: Blocker;
      admins: { fn: () => string[] };
      rules: RuleSet | null;
      notifier: Notifier;
      intel: IntelService;
      devices: DeviceKeeper;
      eveRedis: EveRedisShipper | null;
      fleet: FleetAgent | null;
      pcaps: AlertPcaps;
    },
  ) {
    this.#o = o;
    this.store = parts.store;
    this.writer = parts.writer;
    this.#eve = parts.eve;
    this.#enricher = parts.enricher;
    this.#model = parts.model;
    this.#retrain = parts.retrain;
    this.#holder = parts.holder;
    this.#known = parts.known;
    this.#learningUntil = parts.learningUntil;
    this.blocker = parts.blocker;
    this.notifier = parts.notifier;
    this.events = (e) => this.notifier.event(e);
    this.intel = parts.intel;
    this.devices = parts.devices;
    this.pcaps = parts.pcaps;
    this.eveRedis = parts.eveRedis;
    this.fleet = parts.fleet;
    // Filled in by start(); constructed here so the fields stay readonly.
    this.generatedPassword = null;
    this.server = null as unknown as DashboardServer;
    let pipeline: Pipeline | null = null;
    this.stats = new LiveStats({
      isHome: (v, w) => inHomeNet(this.#holder.current, v, w),
      enricher: this.#enricher,
      totals: () => pipeline!.counters,
      drops: () => this.#drops(),
      flows: () => pipeline!.flows.size,
      rollup: (bucket, r) => this.writer.queueStats("1m", bucket, r),
    });
    this.aggregator = new AlertAggregator({
      policy: this.#holder,
      // Mutes set from the dashboard end by the clock, not packet time.
      clockUs: () => Date.now() * 1000,
      enrich: (a) => {
        Object.assign(
          a.netsentinel,
          this.#enricher.alertFields(a.src_ip, a.dest_ip ?? ""),
        );
        this.devices.enrich(a);
      },
      onAlert: (a, isNew) => this.#onAlert(a, isNew),
    });
    // Retraining samples what the detector scores and what every detector
    // reports, and swaps the anomaly detector when a new model is accepted.
    const retrain = this.#retrain;
    const intel = parts.intel;
    const intelCounts = new Map<string, number>();
    intel.matchCounts = () => intelCounts;
    const intelEntry = [
      "intel",
      (policy: Policy, emit: Emit) =>
        intelMatcher(intel.index, policy, emit, intelCounts),
    ] as const;
    const anomaly = (m: AnomalyModel) =>
      [
        anomalyDetector(
          m,
          retrain ? { onScored: retrain.onScored } : {},
        ),
        intelEntry,
      ] as const;
    this.#anomalyExtra = this.#model === null
      ? [intelEntry]
      : anomaly(this.#model.model);
    this.#rules = parts.rules;
    this.#rulesConfig = o.config.rules;
    this.#sigExtra = parts.rules === null
      ? []
      : [signatureDetector(parts.rules.engine)];
    const extra = [...this.#anomalyExtra, ...this.#sigExtra];
    const emit = this.aggregator.emit;
    this.#detectors = new DetectorSet(
      this.#holder,
      retrain
        ? (d) => {
          retrain.onDetection(d);
          emit(d);
        }
        : emit,
      {
        isKnownHost: (ip) => this.#isKnown(ip),
        extra,
        admits: this.aggregator.admits,
      },
    );
    retrain?.onModelChange((m) => {
      this.#anomalyExtra = anomaly(m);
      this.#detectors.setExtra([...this.#anomalyExtra, ...this.#sigExtra]);
    });
    pipeline = new Pipeline({
      flows: { maxFlows: o.config.limits.max_flows },
      stream: {
        depth: o.config.stream.depth,
        memcap: o.config.stream.memcap,
      },
      parserMemcap: o.config.stream.parser_memcap,
      maxHosts: o.config.limits.max_hosts,
      expireBudget: EXPIRE_BUDGET,
      defrag: defragConfig(o.config.defrag),
      observers: [
        this.#ring,
        this.#detectors,
        this.aggregator.observer(),
        this.stats,
        parts.devices.inventory,
        ...(retrain ? [retrain.observer] : []),
      ],
    });
    this.pipeline = pipeline;
    this.replay = new ApplianceReplay({
      dir: join(o.dataDir, "captures"),
      onBatch: (b) => this.#process(b),
      // What a replay showed is worth keeping at once (hosts, their alerts).
      onEnd: () => void this.#saveHosts(Date.now()),
      log: o.log,
    });
  }

  /** The rule set in force, or null when signatures are off. */
  get rules(): RuleSet | null {
    return this.#rules;
  }

  /**
   * Loads the rule set again (after `rules update` or a config change) and
   * swaps it in between two batches: no packet is dropped; flowbits and
   * thresholds start over. The old set stays when loading fails.
   */
  async reloadRules(): Promise<RuleSet> {
    const set = await loadApplianceRules(this.#o, this.#rulesConfig);
    this.#rules = set;
    this.#sigExtra = [signatureDetector(set.engine)];
    this.#detectors.setExtra([...this.#anomalyExtra, ...this.#sigExtra]);
    return set;
  }

  /** Builds every part and starts capture and the dashboard. */
  static async start(o: ApplianceOptions): Promise<Appliance> {
    // One instance per data directory and per nftables table (see
    // instance_lock.ts); released when the appliance stops or the process ends.
    const locks: InstanceLock[] = [];
    try {
      await Deno.mkdir(o.dataDir, { recursive: true });
      locks.push(await lockDataDir(o.dataDir));
      // A replaced nft command (tests) runs no real nft: nothing to share.
      if (o.nftables !== false && o.nftCommand === undefined) {
        const t = await lockNftTable(
          "netsentinel",
          o.netns === undefined ? {} : { netns: o.netns },
        );
        if (t !== null) locks.push(t);
      }
      const app = await Appliance.#start(o);
      app.#locks = locks;
      return app;
    } catch (e) {
      for (const l of locks) l.release();
      throw e;
    }
  }

  static async #start(o: ApplianceOptions): Promise<Appliance> {
    const c = o.config;
    const day = 86_400_000;
    const store = await openStore(o.dataDir, {
      retention: {
        alertMs: c.storage.alert_days * day,
        hostMs: c.storage.host_days * day,
        statsMs: { "1m": c.storage.stats_days * day, "*": 30 * day },
        alertLogMs: day,
        decisionMs: 7 * day,
      },
    });
    const writer = new StoreWriter(store, {
      intervalMs: c.storage.commit_interval_ms,
      logger: o.log,
    });
    await writer.groupPending();
    const eve = c.eve.enabled
      ? await EveLog.open(resolve(o.dataDir, c.eve.path), {
        maxBytes: c.eve.max_mb * 1_000_000,
        maxFiles: c.eve.files,
        logger: o.log,
      })
      : null;
    const holder = new PolicyHolder(c.policy);
    const { enricher, problems } = await openEnricher(c.enrich);
    for (const p of problems) {
      o.log.warn("geoip database unusable", { error: p });
    }
    let model: LoadedModel | null = null;
    try {
      model = await resolveModel({
        path: c.model.path ?? undefined,
        dataDir: o.dataDir,
      });
      if (model.fallback) {
        o.log.warn("model fallback", { reason: model.fallback });
      }
    } catch (e) {
      o.log.error("anomaly detection off: no usable model", { error: e });
    }
    let retrain: ModelRetrainer | null = null;
    if (c.model.retrain && model !== null) {
      try {
        retrain = await ModelRetrainer.open({
          model: model.model,
          modelPath: model.fallback ? "shipped (fallback)" : model.path,
          dataDir: o.dataDir,
          log: o.log,
          intervalS: c.model.retrain_interval_s,
          reservoir: { holdS: holdForPolicy(c.policy) },
        });
      } catch (e) {
        if (!(e instanceof ProbesError)) throw e;
        o.log.error("model retraining off: no usable probes", { error: e });
      }
    }
    const known = new Set<string>();
    let cursor: string | null = null;
    do {
      const page = await listHosts(store, {
        limit: 5000,
        cursor: cursor ?? undefined,
      });
      for (const h of page.hosts) {
        if (known.size < MAX_KNOWN_HOSTS) known.add(h.ip);
      }
      cursor = page.cursor;
    } while (cursor !== null && known.size < MAX_KNOWN_HOSTS);
    const learningUntil = await learningPeriod(
      store,
      known.size,
      c.new_host_learning_s,
    );
    const admins = { fn: (): string[] => [] };
    const blocker = new Blocker(store, {
      policy: effectiveBlockPolicy(c),
      writer,
      protectedAddrs: () => admins.fn(),
      ...(o.netns ? { netns: o.netns } : {}),
      ...(o.nftCommand ? { nftCommand: o.nftCommand } : {}),
      ...(o.nftables === false ? { nftables: false } : {}),
      logger: o.log,
    });
    await blocker.start();
    const summary: { fn: (from: number, to: number) => Promise<SummaryFacts> } =
      { fn: () => Promise.reject(new Error("not started")) };
    const notifier = new Notifier(store, c.notify, {
      log: o.log,
      summarize: (from, to) => summary.fn(from, to),
      ...(o.notifyBackoffMs ? { backoffMs: o.notifyBackoffMs } : {}),
    });
    await notifier.start();
    const intel = new IntelService({
      config: c.intel,
      dataDir: o.dataDir,
      fetch: o.intelFetch ?? null,
      log: o.log,
      // A failed update is an appliance event (notifications).
      onFailure: (feed, error) => notifier.event(feedUpdateFailed(feed, error)),
    });
    await intel.load();
    const rules = c.rules.enabled ? await loadApplianceRules(o) : null;
    let oui: OuiRegistry | null = null;
    try {
      oui = await loadOuiRegistry();
    } catch (e) {
      o.log.error("MAC vendors unknown", { error: e });
    }
    const devices = new DeviceKeeper({
      store,
      writer,
      oui,
      edits: await listDeviceEdits(store),
      homeNet: () => holder.current.home_net,
      events: (e) => notifier.event(e),
    });
    const pcaps = await AlertPcaps.open(
      join(o.dataDir, "pcaps"),
      c.pcaps.max_mb * 1024 * 1024,
      (msg) => o.log.error("alert pcap not written", { error: msg }),
    );
    const evePath = resolve(o.dataDir, c.eve.path);
    const eveRedis = eve !== null && c.eve.redis.enabled
      ? new EveRedisShipper({
        path: evePath,
        rotatedFiles: c.eve.files,
        cursorPath: join(o.dataDir, "eve-redis.cursor"),
        target: c.eve.redis.target,
        mode: c.eve.redis.mode,
        key: c.eve.redis.key,
        streamMaxlen: c.eve.redis.stream_maxlen,
        streamTrimExact: c.eve.redis.stream_trim_exact,
        batchSize: c.eve.redis.batch_size,
        host: c.fleet.sensor,
        logger: o.log,
      })
      : null;
    const health = { fn: (): Record<string, unknown> => ({}) };
    const fleet = c.fleet.enabled
      ? new FleetAgent({
        config: c.fleet,
        store,
        blocker,
        eve: eve === null ? null : {
          path: evePath,
          rotatedFiles: c.eve.files,
          cursorPath: join(o.dataDir, "fleet-alerts.cursor"),
        },
        health: () => health.fn(),
        logger: o.log,
      })
      : null;
    const app = new Appliance(o, {
      store,
      writer,
      eve,
      enricher,
      model,
      retrain,
      holder,
      known,
      learningUntil,
      blocker,
      admins,
      notifier,
      intel,
      rules,
      devices,
      eveRedis,
      fleet,
      pcaps,
    });
    summary.fn = (from, to) => app.#summaryFacts(from, to);
    health.fn = () => app.#fleetHealth();
    eveRedis?.start();
    fleet?.start();
    holder.onChange(() =>
      blocker.setPolicy(effectiveBlockPolicy({ ...c, policy: holder.current }))
    );
    const auth = kvAuth(store);
    const admin = await ensureAdmin(auth, o.initialPassword, {
      ...(o.passwordIterations ? { iterations: o.passwordIterations } : {}),
    });
    await ensureBundle({ log: o.log });
    const server = await createServer(app.#deps(auth), {
      hostname: c.dashboard.listen.hostname,
      port: c.dashboard.listen.port,
      ...o.dashboard,
      live: {
        maxBufferedBytes: c.limits.ws_buffer_kb * 1024,
        maxClients: c.limits.ws_clients,
      },
      ...(c.dashboard.cert && c.dashboard.key
        ? {
          cert: await Deno.readTextFile(c.dashboard.cert),
          key: await Deno.readTextFile(c.dashboard.key),
        }
        : {}),
    });
    admins.fn = () => server.dashboard.sessions.adminAddrs();
    (app as { server: DashboardServer }).server = server;
    (app as { generatedPassword: string | null }).generatedPassword =
      admin.generatedPassword;
    const stale = await app.replay.removeStaleUploads();
    if (stale > 0) o.log.info("removed stale uploads", { files: stale });
    app.#startSource();
    app.#timers.push(setInterval(() => app.#tick(), 1000));
    intel.start();
    if (c.rules.enabled) {
      app.#rulesStamp = await rulesStamp(o.dataDir);
      app.#timers.push(
        setInterval(() => void app.#watchRules(), RULES_WATCH_MS),
      );
      if (c.rules.update_interval_s > 0) {
        app.#timers.push(
          setInterval(
            () => void app.#scheduledUpdate(),
            c.rules.update_interval_s * 1000,
          ),
        );
      }
    }
    return app;
  }

  /** Stamp of the rules folder's last update, as last loaded. */
  #rulesStamp = "";
  #rulesBusy = false;

  /** Reloads the rules when `rules update` (any process) changed the folder. */
  async #watchRules(): Promise<void> {
    if (this.#rulesBusy || this.#stopping) return;
    this.#rulesBusy = true;
    try {
      const stamp = await rulesStamp(this.#o.dataDir);
      if (stamp === this.#rulesStamp) return;
      this.#rulesStamp = stamp;
      await this.reloadRules();
    } catch (e) {
      this.#o.log.error("rules reload failed", { error: e });
    } finally {
      this.#rulesBusy = false;
    }
  }

  /** The `rules.update_interval` download; the watcher then reloads. */
  async #scheduledUpdate(): Promise<void> {
    if (this.#rulesBusy || this.#stopping) return;
    this.#rulesBusy = true;
    try {
      const r = await updateRules({
        dir: join(this.#o.dataDir, RULES_DIR),
        url: this.#o.config.rules.update_url,
      });
      this.#o.log.info("rules updated", { ...r });
    } catch (e) {
      this.#o.log.warn("rules update failed, previous set kept", { error: e });
    } finally {
      this.#rulesBusy = false;
    }
    await this.#watchRules();
  }

  #deps(auth: ReturnType<typeof kvAuth>): DashboardDeps {
    const model = this.#model;
    return {
      alerts: kvAlerts(this.store),
      inbox: kvInbox(this.store),
      pcaps: {
        path: (id: string) => isAlertId(id) ? this.pcaps.path(id) : null,
      },
      hosts: kvHosts(this.store),
      devices: this.devices.source(),
      statsHistory: kvStatsHistory(this.store),
      responder: this.#responder(),
      notify: notifyControl({
        notifier: this.notifier,
        raw: this.#o.rawConfig,
        save: (raw) => saveConfig(this.#o.configPath, raw),
      }),
      policy: this.#policyControl(),
      rules: this.#rulesControl(),
      auth,
      stats: this.stats,
      replay: this.replay,
      ...(model
        ? {
          scorer: {
            scoreRequest: (body: unknown) => ({
              ...scoreRequest(body, this.#retrain?.model ?? model.model),
            }),
          },
        }
        : {}),
      enricher: this.#enricher,
      intel: {
        feeds: () => this.intel.views(),
        lookup: (v: string) => this.intel.index.lookup(v),
      },
      ...(this.fleet === null ? {} : { fleet: this.fleet }),
      health: () => this.health(),
      probeStore: async () => {
        await getAlertHead(this.store);
      },
      metrics: () => this.metrics(),
      log: this.#o.log,
    };
  }

  /** The blocker for the dashboard, telling the notifier of blocks made by hand. */
  #responder(): ReturnType<typeof blockerResponder> {
    const r = blockerResponder(this.store, this.blocker);
    return {
      ...r,
      block: async (req) => {
        const out = await r.block(req);
        if (out.ok) {
          const b = out.block;
          this.events({
            type: "block_made",
            severity: 3,
            title: `Blocked ${b.target} by hand`,
            detail:
              `${req.by} blocked ${b.target} until ${b.until}: ${b.reason}`,
            at: Date.now(),
            ip: b.target,
            facts: { by: req.by, until: b.until },
          });
        }
        return out;
      },
    };
  }

  /** Facts of the daily summary over [from, to) ms, from KV and the parts. */
  async #summaryFacts(from: number, to: number): Promise<SummaryFacts> {
    const byType: Record<string, number> = {};
    const bySev: Record<string, number> = {};
    const srcs = new Map<string, number>();
    const dests = new Map<string, number>();
    const newDevices: string[] = [];
    let cursor: string | undefined;
    let read = 0;
    do {
      const page = await listAlerts(this.store, {
        since: from,
        until: to,
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      for (const a of page.alerts) {
        const t = a.netsentinel.type;
        byType[t] = (byType[t] ?? 0) + 1;
        bySev[a.alert.severity] = (bySev[a.alert.severity] ?? 0) + 1;
        if (t === "new_host") newDevices.push(a.src_ip);
        else {
          srcs.set(a.src_ip, (srcs.get(a.src_ip) ?? 0) + 1);
          if (a.dest_ip) dests.set(a.dest_ip, (dests.get(a.dest_ip) ?? 0) + 1);
        }
      }
      read += page.alerts.length;
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined && read < SUMMARY_MAX_ALERTS);
    const blocks = (await listBlocks(this.store))
      .filter((b) => Date.parse(b.since) >= from && Date.parse(b.since) < to)
      .length;
    const top = (m: Map<string, number>): [string, number][] =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, 5);
    const cap = this.health().capture!;
    const figures = this.#captureFigures();
    return {
      by_type: byType,
      by_severity: bySev,
      new_devices: newDevices,
      blocks,
      top_sources: top(srcs),
      top_targets: top(dests),
      capture: `${cap.state}${
        typeof cap.interface === "string" ? ` on ${cap.interface}` : ""
      }, ${figures.packets} packets, ${figures.drops} drops, ${this.#restarts} restarts${
        cap.detail ? ` (${cap.detail})` : ""
      }`,
    };
  }

  /**
   * Tells the notifier when the data directory's free space falls below
   * `notify.disk_free_percent` (once, until it rises 2 points above it).
   */
  async #checkDisk(): Promise<void> {
    const limit = this.#o.config.notify.disk_free_percent;
    if (limit === 0) return;
    const s = await statfs(this.#o.dataDir);
    const free = s.blocks > 0 ? (s.bavail / s.blocks) * 100 : 100;
    if (free < limit && !this.#diskWarned) {
      this.#diskWarned = true;
      const mb = Math.round((s.bavail * s.bsize) / 1_048_576);
      this.events({
        type: "disk_almost_full",
        severity: 2,
        title: `Disk almost full: ${free.toFixed(1)}% free`,
        detail: `The data directory "${this.#o.dataDir}" has ${mb} MiB (${
          free.toFixed(1)
        }%) free, under notify.disk_free_percent (${limit}%): free space or lower storage.alert_days`,
        at: Date.now(),
        facts: { free_percent: Math.round(free * 10) / 10, free_mib: mb },
      });
    } else if (free >= limit + 2) this.#diskWarned = false;
  }

  /** Policy edits from the dashboard: validated, put in force, saved to the config file. */
  #rulesControl(): RulesControl {
    return {
      view: () => rulesView(this.#rules, this.#rulesConfig),
      toggle: async (body) => {
        const t = parseRuleToggle(body);
        const next = toggleRules(this.#o.rawConfig.rules, t);
        const cfg = parseRulesConfig(next);
        this.#o.rawConfig.rules = next;
        await saveConfig(this.#o.configPath, this.#o.rawConfig);
        this.#rulesConfig = cfg;
        this.#o.log.info("rules toggled", { ...t });
        if (cfg.enabled) await this.reloadRules();
        return rulesView(this.#rules, this.#rulesConfig);
      },
    };
  }

  #policyControl(): PolicyControl {
    return {
      // The policy in force as a full document: shipped defaults under the edits.
      document: () => Promise.resolve(policyDocument(this.#o.rawConfig.policy)),
      replace: async (doc: unknown) => {
        this.#holder.replace(doc);
        this.#o.rawConfig.policy = doc;
        await saveConfig(this.#o.configPath, this.#o.rawConfig);
        this.#o.log.info("policy replaced", { config: this.#o.configPath });
      },
    };
  }

  /**
   * True for hosts seen before. During the learning period after a first
   * start every host counts as known (and is remembered), so a fresh
   * install does not raise one new_host alert per device on the network.
   */
  #isKnown(ip: string): boolean {
    if (this.#known.has(ip)) return true;
    if (this.#learningUntil > Date.now()) {
      if (this.#known.size < MAX_KNOWN_HOSTS) this.#known.add(ip);
      return true;
    }
    return false;
  }

  #onAlert(a: Alert, isNew: boolean): void {
    // The blocker decides first: it sets alert.action, which the others record.
    const d = this.blocker.onAlert(a, isNew);
    this.writer.queueAlert(a, isNew);
    // Its packets are copied now; the file is written in the background.
    this.pcaps.capture(a, this.#ring);
    this.#eve?.write(a, isNew);
    const blocked = d.outcome === "blocked"
      ? `${d.target} for ${shortDuration(d.duration)}`
      : undefined;
    this.notifier.onAlert(a, isNew, blocked);
    if (d.outcome === "blocked") {
      this.fleet?.poke();
      this.events({
        type: "block_made",
        severity: a.alert.severity,
        title: `Blocked ${d.target} for ${shortDuration(d.duration)}`,
        detail:
          `${a.alert.signature} from ${a.src_ip}: blocked until ${d.until}`,
        at: Date.now(),
        ip: d.target,
        alert_id: a.netsentinel.id,
        facts: { duration_s: d.duration, until: d.until },
      });
    }
    if (isNew && a.netsentinel.type === "new_host") {
      const f = this.devices.newDeviceFacts(a.src_ip);
      const what = f === null ? "" : [
        plainDeviceName(f.name ?? undefined),
        f.vendor ?? (f.random_mac ? "randomised MAC" : null),
        f.kind,
      ].filter((x) => x).join(", ");
      this.events({
        type: "new_device",
        severity: a.alert.severity,
        title: `New device ${a.src_ip}${what ? ` (${what})` : ""}`,
        detail: f === null
          ? a.netsentinel.explanation
          : `${a.netsentinel.explanation} MAC ${f.mac}, first seen by ${f.first_seen_by}.`,
        at: Date.now(),
        ip: a.src_ip,
        alert_id: a.netsentinel.id,
        ...(f === null ? {} : {
          facts: Object.fromEntries(
            Object.entries(f).filter(([, v]) => v !== null),
          ) as Record<string, string | boolean>,
        }),
      });
    }
    if (isNew) this.devices.noteAlert(a);
    if (isNew) {
      if (this.#alertAddrs.size < MAX_ALERT_ADDRS) {
        this.#alertAddrs.set(
          a.src_ip,
          (this.#alertAddrs.get(a.src_ip) ?? 0) + 1,
        );
        if (a.dest_ip && !this.#alertAddrs.has(a.dest_ip)) {
          this.#alertAddrs.set(a.dest_ip, 0);
        }
      }
      const t = a.netsentinel.type;
      // A new device is worth remembering before the next minute's save: a
      // crash would otherwise announce it again after the restart.
      if (t === "new_host") this.#lastHostSave = 0;
      this.#alertsByType.set(t, (this.#alertsByType.get(t) ?? 0) + 1);
      this.stats.noteAlert?.(a.netsentinel.src_geo?.country);
    }
    this.#o.onAlert?.(a, isNew);
  }

  #process(b: FrameBatch): void {
    this.pipeline.processBatch(b);
    this.#keepExpiring();
  }

  /**
   * Ticks again soon while timeouts are left over from the last tick's
   * budget, so a burst is worked off in slices with the event loop running
   * between them, without waiting for traffic or the 1 s timer.
   */
  #keepExpiring(): void {
    if (!this.pipeline.expiring || this.#catchUp !== null || this.#stopping) {
      return;
    }
    this.#catchUp = setTimeout(() => {
      this.#catchUp = null;
      this.pipeline.tick(this.pipeline.nowUs);
      this.#keepExpiring();
    }, 0);
  }

  #drops(): number {
    const s = this.#live?.stats();
    return s ? s.drop + s.ifdrop + s.overflow : 0;
  }

  /** Capture statistics of the live source (zeros when not live). */
  captureStats(): CaptureStats {
    return this.#live?.stats() ??
      { recv: 0, drop: 0, ifdrop: 0, captured: 0, overflow: 0 };
  }

  #startSource(): void {
    const s = this.#o.source;
    if (s.kind === "live") this.#captureLoop = this.#runLive(s.iface, s.filter);
    else if (s.kind === "replay") {
      this.#captureLoop = this.#runReplay(s.path, s.speed, s.loop);
    } else {this.#capture = {
        state: "off",
        detail: "no packet source (dashboard only)",
      };}
  }

  async #runLive(ifaceOpt: string | null, filter: string): Promise<void> {
    const c = this.#o.config.capture;
    let attempt = 0;
    while (!this.#stopping) {
      const iface = ifaceOpt ?? await defaultRouteInterface();
      if (iface === null) {
        this.#capture = {
          state: "down",
          detail:
            "no default route to pick an interface from: set capture.interface or --interface",
        };
      } else {
        try {
          const live = await LiveSource.open({
            iface,
            filter,
            snaplen: c.snaplen,
            promisc: c.promisc,
            bufferBytes: c.buffer_mb * 1024 * 1024,
            timeoutMs: LIVE_FLUSH_MS,
            flushMs: LIVE_FLUSH_MS,
            ...(this.#o.netns ? { netns: this.#o.netns } : {}),
          });
          this.#live = live;
          if (this.#stopping) {
            await live.close();
            break;
          }
          this.#capture = {
            state: "up",
            interface: iface,
            filter,
            restarts: this.#restarts,
          };
          this.#o.log.info("capture started", { interface: iface, filter });
          attempt = 0;
          for await (const b of live.batches()) {
            this.#process(b);
            // The worker's batch is ours alone and seen: free it now rather
            // than let them pile up until a collection (see releaseBatch).
            releaseBatch(b);
          }
          if (this.#stopping) break;
          throw new Error("capture ended without being stopped");
        } catch (e) {
          if (this.#stopping) break;
          const permanent = e instanceof CaptureOpenError ||
            e instanceof LibpcapMissingError;
          // Tell once per outage: when it goes down, not on every retry.
          if (attempt === 0) this.#captureDown(iface, (e as Error).message);
          this.#capture = {
            state: permanent ? "down" : "restarting",
            interface: iface,
            detail: (e as Error).message,
            restarts: this.#restarts,
          };
          this.#o.log.error("capture failed", {
            interface: iface,
            error: e,
            attempt,
          });
        } finally {
          await this.#live?.close();
          this.#live = null;
        }
      }
      if (this.#stopping) break;
      const wait = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
      attempt++;
      this.#restarts++;
      await new Promise<void>((res) => {
        const t = setTimeout(res, wait);
        this.#wake = () => {
          clearTimeout(t);
          res();
        };
      });
      this.#wake = null;
    }
    this.#capture = { state: "stopped" };
  }

  #captureDown(iface: string, error: string): void {
    const e: ApplianceEvent = {
      type: "capture_down",
      severity: 1,
      title: `Capture on "${iface}" is down`,
      detail:
        `${error}. NetSentinel retries with backoff; nothing is detected until it is back.`,
      at: Date.now(),
      facts: { interface: iface },
    };
    this.events(e);
  }

  async #runReplay(path: string, speed: number, loop: boolean): Promise<void> {
    const src = new ReplaySource({ path, speed, loop });
    this.#replaySource = src;
    this.#capture = {
      state: "up",
      replay: path === DEMO_CAPTURE_URL.pathname ? "demo" : path,
      speed,
      loop,
    };
    try {
      for await (const b of src.batches()) this.#process(b);
      const st = src.status();
      this.#capture = st.error === null
        ? { state: "finished", replay: path, packets: st.packets }
        : { state: "failed", replay: path, detail: st.error };
    } catch (e) {
      this.#capture = {
        state: "failed",
        replay: path,
        detail: (e as Error).message,
      };
      this.#o.log.error("replay failed", { error: e });
    }
    if (!this.#stopping) {
      this.pipeline.finish();
      this.#o.onReplayEnd?.();
    }
  }

  #tick(): void {
    // Idle links still expire flows and close alert windows.
    this.pipeline.tick(Date.now() * 1000);
    this.#keepExpiring();
    const now = Date.now();
    if (now - this.#lastHostSave >= HOST_SAVE_MS) void this.#saveHosts(now);
    else if (this.devices.takeNewDevices(now)) {
      // A device that just joined shows on the Devices page within a second.
      this.devices.save().catch((e) =>
        this.#o.log.error("device save failed", { error: e })
      );
    }
    if (now - this.#lastDiskCheck >= DISK_CHECK_MS) {
      this.#lastDiskCheck = now;
      this.#checkDisk().catch((e) =>
        this.#o.log.warn("disk check failed", { error: e })
      );
    }
    void this.#retrain?.maybeRetrain(now);
  }

  /**
   * Queues changed host counters for KV (merged with what KV holds). One
   * save at a time: while one runs, its promise is returned.
   */
  #saveHosts(now: number): Promise<void> {
    if (this.#saving !== null) return this.#saving;
    this.#lastHostSave = now;
    this.#saving = Promise.all([
      this.#saveHostSlices(),
      this.devices.save().catch((e) =>
        this.#o.log.error("device save failed", { error: e })
      ),
    ]).then(() => {})
      .catch((e) => this.#o.log.error("host save failed", { error: e }))
      .finally(() => {
        this.#saving = null;
      });
    return this.#saving;
  }

  /**
   * Saves hosts {@link HOST_SAVE_SLICE} at a time, letting the event loop
   * run between slices: a busy network has thousands of hosts to check and
   * read back from KV, too much for one stretch of the event loop.
   */
  async #saveHostSlices(): Promise<void> {
    const hosts: Host[] = [];
    this.pipeline.hosts.forEach((h) => hosts.push(h));
    const alerted = this.#alertAddrs;
    this.#alertAddrs = new Map();
    for (let i = 0; i < hosts.length; i += HOST_SAVE_SLICE) {
      if (i > 0) await new Promise((r) => setTimeout(r, 0));
      const reads: Promise<void>[] = [];
      const end = Math.min(hosts.length, i + HOST_SAVE_SLICE);
      for (let k = i; k < end; k++) {
        const h = hosts[k]!;
        const s = this.#saved.get(h) ??
          { bytes: 0, packets: 0, bIn: 0, bOut: 0 };
        if (s.packets === h.pktsSent + h.pktsRecv) continue;
        const ip = hostIp(h);
        // Remember inside hosts, and outside ones only when alerts named
        // them: outside addresses are countless.
        const alerts = alerted.get(ip);
        if (
          alerts === undefined &&
          !inHomeNet(this.#holder.current, h.version, h.addr)
        ) {
          continue;
        }
        const delta: HostRecord = {
          ip,
          first_seen: new Date(h.firstUs / 1000).toISOString(),
          last_seen: new Date(h.lastUs / 1000).toISOString(),
          bytes: h.bytesSent + h.bytesRecv - s.bytes,
          packets: h.pktsSent + h.pktsRecv - s.packets,
          bytes_in: h.bytesRecv - s.bIn,
          bytes_out: h.bytesSent - s.bOut,
        };
        if (alerts) delta.alerts = alerts;
        const geo = this.#enricher.alertFields(ip, "").src_geo;
        if (geo) delta.geo = geo;
        this.#saved.set(h, {
          bytes: h.bytesSent + h.bytesRecv,
          packets: h.pktsSent + h.pktsRecv,
          bIn: h.bytesRecv,
          bOut: h.bytesSent,
        });
        if (this.#known.size < MAX_KNOWN_HOSTS) this.#known.add(ip);
        reads.push(
          getHost(this.store, ip).then(
            (prev) => this.writer.queueHost(mergeHost(prev, delta)),
            (e) => this.#o.log.warn("host record unreadable", { ip, error: e }),
          ),
        );
      }
      await Promise.all(reads);
    }
  }

  /** States of the parts for `/health` (KV and blocker are added by the server). */
  health(): Record<string, PartHealth> {
    return {
      capture: { ...this.#capture, ...this.#captureFigures() },
      detector: {
        state: "up",
        ...(this.#learningUntil > Date.now()
          ? {
            learning_new_hosts_until: new Date(this.#learningUntil)
              .toISOString(),
          }
          : {}),
        detectors: this.#detectors.types,
        model: this.#model
          ? (this.#model.fallback ? "shipped (fallback)" : this.#model.path)
          : "none",
        open_alerts: this.aggregator.openCount,
        // The model in force, the sample and the last retrain (model.retrain).
        ...this.#retrain?.health(),
      },
      replay: { ...this.replay.status() },
      notify: {
        state: "up",
        channels: this.notifier.config.channels.length,
        ...this.notifier.counts,
      },
      intel: this.#intelHealth(),
      ...this.#fleetParts(),
    };
  }

  /** The fleet and EVE-to-Redis parts of `/health` (absent when off). */
  #fleetParts(): Record<string, PartHealth> {
    const out: Record<string, PartHealth> = {};
    if (this.fleet !== null) {
      const f = this.fleet.state();
      out.fleet = {
        state: f.connected ? "up" : "down",
        ...(f.connected ? {} : {
          detail: `Redis unreachable${
            f.down_since ? ` since ${f.down_since}` : ""
          }: ${
            f.last_error ?? ""
          } (detecting and blocking locally; catching up on its return)`,
        }),
        ...f,
      };
    }
    if (this.eveRedis !== null) {
      const e = this.eveRedis.state();
      out.eve_redis = {
        ...e,
        state: e.connected ? "up" : "down",
        ...(e.connected ? {} : {
          detail: `Redis unreachable: ${
            e.last_error ?? ""
          } (records wait in the EVE file)`,
        }),
      };
    }
    return out;
  }

  /** What this sensor tells the fleet about itself in each heartbeat. */
  #fleetHealth(): Record<string, unknown> {
    const b = this.blocker.state();
    return {
      capture: this.#capture.state,
      packets: this.pipeline.counters.packets,
      alerts: [...this.#alertsByType.values()].reduce((x, y) => x + y, 0),
      blocking: b.mode,
      active_blocks: b.active_blocks,
      eve_redis: this.eveRedis === null
        ? "off"
        : this.eveRedis.state().connected
        ? "up"
        : "down",
    };
  }

  #intelHealth(): PartHealth {
    const views = this.intel.views().filter((v) => v.enabled);
    const stale = views.filter((v) => v.stale).map((v) => v.name);
    return {
      state: !this.intel.config.enabled ? "off" : "up",
      feeds: views.length,
      indicators: this.intel.index.entries,
      loads: this.intel.index.version,
      stale,
      ...(stale.length > 0
        ? { detail: `stale feeds: ${stale.join(", ")}` }
        : {}),
    };
  }

  #captureFigures(): Record<string, number> {
    const s = this.captureStats();
    return {
      packets: this.pipeline.counters.packets,
      drops: s.drop + s.ifdrop + s.overflow,
    };
  }

  /** Metric families for `/metrics`. */
  metrics(): MetricFamily[] {
    const fams = applianceMetrics({
      pipeline: this.pipeline,
      capture: this.captureStats(),
      writer: this.writer.metrics,
      blocker: this.blocker.state(),
    });
    const agg = this.aggregator.counters;
    const pc = this.pcaps.counters;
    fams.push(
      {
        name: "netsentinel_alert_pcaps_total",
        type: "counter",
        help:
          "Alert pcap files by what happened: written, removed for the cap, failed, too large for the cap",
        samples: [
          { labels: { outcome: "written" }, value: pc.written },
          { labels: { outcome: "removed" }, value: pc.removed },
          { labels: { outcome: "failed" }, value: pc.failed },
          { labels: { outcome: "too_large" }, value: pc.tooLarge },
        ],
      },
      {
        name: "netsentinel_alert_pcaps_bytes",
        type: "gauge",
        help: "Bytes of the alert pcaps kept (at most pcaps.max_mb)",
        samples: [{ value: pc.bytes }],
      },
      {
        name: "netsentinel_alerts_total",
        type: "counter",
        help: "Alerts raised, by type",
        samples: [...this.#alertsByType].map(([type, value]) => ({
          labels: { type },
          value,
        })),
      },
      {
        name: "netsentinel_detections_total",
        type: "counter",
        help: "Detections by what the alert pipeline did with them",
        samples: (Object.entries(agg) as [string, number][]).map((
          [outcome, value],
        ) => ({
          labels: { outcome },
          value,
        })),
      },
      {
        name: "netsentinel_limit",
        type: "gauge",
        help:
          "Configured bounds (limits.* in the config; open alerts from the policy)",
        samples: [
          ["max_flows", this.#o.config.limits.max_flows],
          ["max_hosts", this.#o.config.limits.max_hosts],
          ["max_open_alerts", this.#holder.current.aggregation.max_open],
          ["ws_buffer_bytes", this.#o.config.limits.ws_buffer_kb * 1024],
          ["ws_clients", this.#o.config.limits.ws_clients],
          ["stream_depth", this.#o.config.stream.depth],
          ["stream_memcap", this.#o.config.stream.memcap],
        ].map(([limit, value]) => ({
          labels: { limit: String(limit) },
          value: Number(value),
        })),
      },
      {
        name: "netsentinel_open_alerts",
        type: "gauge",
        help: "Alerts open for aggregation",
        samples: [{ value: this.aggregator.openCount }],
      },
      ...enrichMetrics(this.#enricher),
      ...intelMetrics(this.intel.views()),
      {
        name: "netsentinel_notify_messages_total",
        type: "counter",
        help:
          "Notification messages by outcome (queued, sent, retried, failed)",
        samples: (["queued", "sent", "retries", "failed"] as const).map((
          outcome,
        ) => ({
          labels: { outcome },
          value: this.notifier.counts[outcome],
        })),
      },
      {
        name: "netsentinel_capture_restarts_total",
        type: "counter",
        help: "Times live capture was restarted after a failure",
        samples: [{ value: this.#restarts }],
      },
      ...redisMetrics(this.fleet, this.eveRedis),
    );
    return fams;
  }

  /**
   * Stops in order: capture, then the pipeline (flows end, alerts close),
   * then the dashboard, the blocker, the writer and EVE log (flushed), and
   * the database. Safe to call twice.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  /** What a stop under way is waiting for (null when not stopping or done). */
  get stopStage(): string | null {
    return this.#stopStage;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#catchUp !== null) clearTimeout(this.#catchUp);
    // A stop that takes long says what it waits for (systemd's journal
    // shows it before TimeoutStopSec ends it).
    const t0 = Date.now();
    const slow = setInterval(() => {
      this.#o.log.warn("still stopping", {
        waiting_for: this.#stopStage,
        s: Math.round((Date.now() - t0) / 1000),
      });
    }, 10_000);
    const step = <T>(stage: string, p: Promise<T> | T): Promise<T> | T => {
      this.#stopStage = stage;
      return p;
    };
    try {
      this.#wake?.();
      this.#replaySource?.close();
      await step("live capture", this.#live?.close());
      await step("replay", this.replay.stop());
      await step("capture loop", this.#captureLoop);
      await step("model retraining", this.#retrain?.idle());
      await step("intel feed update", this.intel.stop());
      this.pipeline.finish();
      // A save under way read the counters before the end: save again after it.
      await step("host save", this.#saving);
      const saved = this.#saveHosts(Date.now());
      await step("dashboard", this.server.close());
      // The fleet stops before the blocker it applies decisions through; the
      // shippers after the EVE log's last lines are written (below).
      await step("fleet", this.fleet?.stop());
      await step("blocker", this.blocker.stop());
      await step("notifier", this.notifier.stop());
      // The host reads have queued their records before the last commit.
      await step("host save", saved);
      await step("database writer", this.writer.close());
      await step("alert pcaps", this.pcaps.flush());
      await step("EVE log", this.#eve?.close());
      await step("EVE to Redis", this.eveRedis?.stop());
      await step("GeoIP", this.#enricher.close());
    } finally {
      clearInterval(slow);
      this.#stopStage = null;
    }
    this.store.close();
    for (const l of this.#locks) l.release();
    this.#o.log.info("stopped", { packets: this.pipeline.counters.packets });
  }
}

/** The fleet's and EVE-to-Redis' figures as metric families (none when both are off). */
function redisMetrics(
  fleet: FleetAgent | null,
  eveRedis: EveRedisShipper | null,
): MetricFamily[] {
  const outputs: [string, EveRedisState][] = [];
  const f = fleet?.state();
  if (f) outputs.push(["fleet_alerts", f.alerts]);
  if (eveRedis) outputs.push(["eve_redis", eveRedis.state()]);
  const fams: MetricFamily[] = [];
  if (f) {
    fams.push(
      {
        name: "netsentinel_fleet_redis_up",
        type: "gauge",
        help: "1 when the fleet's Redis is reachable, else 0",
        samples: [{ value: f.connected ? 1 : 0 }],
      },
      {
        name: "netsentinel_fleet_decisions_total",
        type: "counter",
        help:
          "Fleet decisions by outcome (published, applied, refused here, lifted here, lifted from the fleet)",
        samples: (
          [
            ["published", f.published],
            ["applied", f.applied],
            ["refused", f.refused],
            ["lifted_here", f.lifted_here],
            ["lifted_from_fleet", f.lifted_from_fleet],
          ] as const
        ).map(([outcome, value]) => ({ labels: { outcome }, value })),
      },
      {
        name: "netsentinel_fleet_pending_lifts",
        type: "gauge",
        help: "Lifts made here waiting for Redis",
        samples: [{ value: f.pending_lifts }],
      },
    );
  }
  if (outputs.length > 0) {
    const per = (
      name: string,
      type: "gauge" | "counter",
      help: string,
      pick: (s: EveRedisState) => number,
    ): MetricFamily => ({
      name,
      type,
      help,
      samples: outputs.map(([output, s]) => ({
        labels: { output },
        value: pick(s),
      })),
    });
    fams.push(
      per(
        "netsentinel_redis_output_up",
        "gauge",
        "1 when the output's Redis is reachable (eve_redis, fleet_alerts)",
        (s) => s.connected ? 1 : 0,
      ),
      per(
        "netsentinel_redis_output_records_total",
        "counter",
        "EVE records Redis acknowledged",
        (s) => s.sent,
      ),
      per(
        "netsentinel_redis_output_pending_bytes",
        "gauge",
        "Bytes of the EVE file not yet in Redis",
        (s) => s.pending_bytes,
      ),
      per(
        "netsentinel_redis_output_reconnects_total",
        "counter",
        "Connections to Redis made after the first",
        (s) => s.reconnects,
      ),
    );
  }
  return fams;
}

/** GeoIP and reverse-DNS lookup counters as metric families. */
function enrichMetrics(e: Enricher): MetricFamily[] {
  const { geo, rdns } = e.stats();
  const counter = (
    name: string,
    help: string,
    samples: [string, number][],
  ) => ({
    name,
    type: "counter" as const,
    help,
    samples: samples.map(([result, value]) => ({ labels: { result }, value })),
  });
  return [
    counter(
      "netsentinel_geoip_lookups_total",
      "GeoIP lookups by result (cache hit, miss, error)",
      [
        ["hit", geo.hits],
        ["miss", geo.misses],
        ["error", geo.errors],
      ],
    ),
    counter("netsentinel_rdns_lookups_total", "Reverse DNS lookups by result", [
      ["hit", rdns.hits],
      ["miss", rdns.misses],
      ["found", rdns.found],
      ["not_found", rdns.not_found],
      ["timeout", rdns.timeouts],
    ]),
  ];
}

/**
 * The end (ms) of the new-host learning period: started on a first start
 * (no known hosts) and kept in KV, so a restart during it continues it.
 * Returns 0 when not learning.
 */
/** How often a running appliance looks for updated rules, ms. */
const RULES_WATCH_MS = 30_000;

/** The update stamp's text in the data directory's rules folder ("" when none). */
async function rulesStamp(dataDir: string): Promise<string> {
  try {
    return await Deno.readTextFile(join(dataDir, RULES_DIR, UPDATE_STAMP));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/**
 * Loads the appliance's rule set: the shipped rules, the data directory's
 * `rules/` (when present) and `rules.paths`, with `HOME_NET` from the
 * policy and the config's variables, minus what the config disables.
 * Counts go to the log; refused rules are listed by `rules check`.
 */
export async function loadApplianceRules(
  o: Pick<ApplianceOptions, "config" | "dataDir" | "log">,
  rules: RulesConfig = o.config.rules,
): Promise<RuleSet> {
  const c = { ...o.config, rules };
  const dir = join(o.dataDir, RULES_DIR);
  let hasDir = false;
  try {
    hasDir = (await Deno.stat(dir)).isDirectory;
  } catch {
    // No downloaded rules yet: the shipped set alone.
  }
  const set = await loadRuleSet({
    paths: [...(hasDir ? [dir] : []), ...c.rules.paths],
    homeNet: c.policy.home_net.map((x) => x.text),
    vars: c.rules.vars,
    disabledSids: c.rules.disabled_sids,
    enabledSids: c.rules.enabled_sids,
    disabledCategories: c.rules.disabled_categories,
  });
  for (const e of set.load.fileErrors) {
    o.log.warn("rules file unreadable", { file: e.file, error: e.error });
  }
  o.log.info("rules loaded", {
    loaded: set.engine.rules.length,
    refused: set.load.refused.length,
    disabled: set.disabledByConfig.length,
    ms: Math.round(set.loadMs),
  });
  return set;
}

export async function learningPeriod(
  store: Store,
  knownHosts: number,
  seconds: number,
): Promise<number> {
  const key = metaKey("learning_until");
  const stored = (await store.kv.get<number>(key)).value;
  if (typeof stored === "number") return stored > Date.now() ? stored : 0;
  if (seconds === 0) return 0;
  if (knownHosts > 0) {
    await store.kv.set(key, 0); // an install that knows its hosts: decided
    return 0;
  }
  const until = Date.now() + seconds * 1000;
  await store.kv.set(key, until);
  return until;
}

/** The defragmenter's limits from the config (false when turned off). */
function defragConfig(c: AppConfig["defrag"]): Partial<DefragConfig> | false {
  if (!c.enabled) return false;
  return {
    memcapBytes: c.memcap_mb * 1024 * 1024,
    timeoutUs: c.timeout_s * 1_000_000,
    maxFragments: c.max_fragments,
    maxDatagrams: c.max_datagrams,
  };
}

/** `/metrics` families of the threat-intelligence feeds, labelled by feed. */
function intelMetrics(views: readonly FeedView[]): MetricFamily[] {
  const fam = (
    name: string,
    type: "gauge" | "counter",
    help: string,
    value: (v: FeedView) => number,
  ): MetricFamily => ({
    name,
    type,
    help,
    samples: views.map((v) => ({ labels: { feed: v.name }, value: value(v) })),
  });
  return [
    fam(
      "netsentinel_intel_feed_entries",
      "gauge",
      "Indicators of a feed in force",
      (v) => v.entries,
    ),
    fam(
      "netsentinel_intel_feed_bytes",
      "gauge",
      "Size of the feed copy in force, bytes",
      (v) => v.bytes,
    ),
    fam(
      "netsentinel_intel_feed_age_seconds",
      "gauge",
      "Age of the feed copy in force (-1: no copy)",
      (v) => v.age_s ?? -1,
    ),
    fam(
      "netsentinel_intel_feed_stale",
      "gauge",
      "1 when a feed has no copy or it is older than three update intervals",
      (v) => v.stale ? 1 : 0,
    ),
    fam(
      "netsentinel_intel_feed_error",
      "gauge",
      "1 when the last update of a feed failed (the last good copy is kept)",
      (v) => v.last_error !== null ? 1 : 0,
    ),
    fam(
      "netsentinel_intel_matches_total",
      "counter",
      "Matches of a feed's indicators since start",
      (v) => v.matches,
    ),
  ];
}
