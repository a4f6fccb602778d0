/**
 * The feeds of a running appliance: loads the stored copies at start (a
 * restart without network has them), updates each feed on its own interval
 * (one at a time, never blocking packets), picks up copies another process
 * stored (`netsentinel intel update`), and reports each feed's age, size,
 * last error and staleness (older than three intervals) for the dashboard
 * and `/metrics`.
 *
 * @module
 */
import { type Logger, silentLogger } from "../common/logger.ts";
import type { FeedConfig, IntelConfig } from "./config.ts";
import { IntelIndex } from "./intel_index.ts";
import {
  type FeedStatus,
  type FetchLike,
  loadStoredFeed,
  readFeedStatus,
  updateFeed,
  type UpdateResult,
} from "./update.ts";

/** Options of {@link IntelService}. */
export interface IntelServiceOptions {
  config: IntelConfig;
  dataDir: string;
  /** The network; null: never download on the schedule (local files are still read). */
  fetch: FetchLike | null;
  log?: Logger;
  /** Clock, ms. */
  now?: () => number;
  /** How often due feeds and foreign copies are checked, ms (default 5 s). */
  checkMs?: number;
  userAgent?: string;
  /** Told of every failed update (feed name, the one-line reason): notifications. */
  onFailure?: (feed: string, error: string) => void;
}

/** One feed as the dashboard and `/metrics` show it. */
export interface FeedView {
  name: string;
  source: string;
  link: string | null;
  licence: string | null;
  format: string;
  kind: string;
  severity: number;
  block: boolean;
  interval_s: number;
  enabled: boolean;
  /** Indicators in force (0 when none loaded). */
  entries: number;
  bytes: number;
  rejected: number;
  updated_at: string | null;
  checked_at: string | null;
  /** Seconds since the copy in force was taken, or null. */
  age_s: number | null;
  /** True when there is no copy, or it is older than three intervals. */
  stale: boolean;
  last_error: string | null;
  last_error_at: string | null;
  /** Matches since start. */
  matches: number;
}

/** See the module doc. */
export class IntelService {
  readonly index: IntelIndex = new IntelIndex();
  readonly config: IntelConfig;
  readonly #o: IntelServiceOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #status = new Map<string, FeedStatus>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** Matches by feed, from the matcher (set by the owner). */
  matchCounts: () => ReadonlyMap<string, number> = () => new Map();

  /** Nothing is read until {@link load}. */
  constructor(o: IntelServiceOptions) {
    this.#o = o;
    this.config = o.config;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
  }

  /** The feeds that are on. */
  get feeds(): FeedConfig[] {
    return this.config.enabled
      ? this.config.feeds.filter((f) => f.enabled)
      : [];
  }

  /** Loads every enabled feed's stored copy; a broken copy is logged and skipped. */
  async load(): Promise<void> {
    for (const f of this.feeds) await this.#loadOne(f);
  }

  async #loadOne(f: FeedConfig): Promise<void> {
    try {
      const got = await loadStoredFeed(
        this.#o.dataDir,
        f,
        this.config.max_entries,
      );
      const status = got?.status ??
        await readFeedStatus(this.#o.dataDir, f.name);
      this.#status.set(f.name, status);
      if (got === null) return;
      if (got.parsed.entries === 0) {
        this.#log.warn("intel feed copy has no indicator", { feed: f.name });
        return;
      }
      this.index.set(f, got.parsed, status.updated_at);
    } catch (e) {
      this.#log.error("intel feed copy unreadable", { feed: f.name, error: e });
    }
  }

  /** Starts the schedule (when the network was given and `intel.update` is on). */
  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    const ms = this.#o.checkMs ?? 5_000;
    this.#timer = setInterval(() => void this.#check(), ms);
    void this.#check();
  }

  #check(): Promise<void> {
    if (this.#running !== null) return this.#running;
    this.#running = (async () => {
      try {
        await this.#pickUpForeign();
        if (this.config.update) {
          const now = this.#now();
          for (const f of this.feeds) {
            if (this.#stopped) return;
            // Downloads only with the network given; local files always.
            if (f.url !== null && this.#o.fetch === null) continue;
            const s = this.#status.get(f.name);
            const last = s?.checked_at ? Date.parse(s.checked_at) : 0;
            if (now - last >= f.interval_s * 1000) await this.update(f.name);
          }
        }
      } catch (e) {
        this.#log.error("intel update check failed", { error: e });
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  /** Reloads copies that another process (the CLI) stored since. */
  async #pickUpForeign(): Promise<void> {
    for (const f of this.feeds) {
      const s = await readFeedStatus(this.#o.dataDir, f.name);
      const mine = this.#status.get(f.name);
      if (s.updated_at !== null && s.updated_at !== mine?.updated_at) {
        this.#log.info("intel feed copy reloaded", { feed: f.name });
        await this.#loadOne(f);
      } else if (mine) {
        // Errors and checks recorded by another process.
        this.#status.set(f.name, s);
      }
    }
  }

  /** Updates one feed now (the schedule and the CLI use it). */
  async update(name: string): Promise<UpdateResult> {
    const f = this.config.feeds.find((x) => x.name === name);
    if (!f) throw new RangeError(`No feed named "${name}"`);
    const r = await updateFeed(f, {
      dataDir: this.#o.dataDir,
      fetch: this.#o.fetch ?? fetch,
      limits: this.config,
      now: this.#now,
      ...(this.#o.userAgent ? { userAgent: this.#o.userAgent } : {}),
    });
    this.#status.set(f.name, r.status);
    if (r.parsed !== null) this.index.set(f, r.parsed, r.status.updated_at);
    const fields = {
      feed: f.name,
      outcome: r.outcome,
      entries: r.status.entries,
    };
    if (r.outcome === "updated" || r.outcome === "not_modified") {
      this.#log.info("intel feed checked", fields);
    } else {
      this.#log.warn("intel feed update failed", {
        ...fields,
        error: r.message,
      });
      this.#o.onFailure?.(f.name, r.message);
    }
    return r;
  }

  /** Every configured feed with its state. */
  views(): FeedView[] {
    const now = this.#now();
    const matches = this.matchCounts();
    return this.config.feeds.map((f) => {
      const s = this.#status.get(f.name);
      const loaded = this.index.get(f.name);
      const at = loaded ? s?.updated_at ?? null : null;
      const age = at === null
        ? null
        : Math.max(0, Math.round((now - Date.parse(at)) / 1000));
      const on = this.config.enabled && f.enabled;
      return {
        name: f.name,
        source: f.url ?? f.path ?? "",
        link: f.link,
        licence: f.licence,
        format: f.format,
        kind: f.kind,
        severity: f.severity,
        block: f.block,
        interval_s: f.interval_s,
        enabled: on,
        entries: loaded?.parsed.entries ?? 0,
        bytes: loaded ? s?.bytes ?? 0 : 0,
        rejected: loaded ? s?.rejected ?? 0 : 0,
        updated_at: at,
        checked_at: s?.checked_at ?? null,
        age_s: age,
        stale: on && (age === null || age > 3 * f.interval_s),
        last_error: s?.last_error ?? null,
        last_error_at: s?.last_error_at ?? null,
        matches: matches.get(f.name) ?? 0,
      };
    });
  }

  /** Stops the schedule and waits for an update in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
