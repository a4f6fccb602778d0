/**
 * Opening the database: Deno KV at an explicit path,
 * `<dataDir>/netsentinel.kv` (a compiled binary does not persist KV's
 * default location), with the retention settings every writer uses.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../common/errors.ts";

/** File name of the database inside the data directory. */
export const KV_FILE = "netsentinel.kv";

const DAY_MS = 86_400_000;

/** How long entries live (milliseconds); KV deletes them after that. */
export interface Retention {
  /** Alerts and their index entries (default 30 days). */
  alertMs: number;
  /** Known hosts, counted from their last update (default 90 days). */
  hostMs: number;
  /** Stats rollups per resolution; `"*"` for the others (default: 1m 7 days, others 30 days). */
  statsMs: Readonly<Record<string, number>>;
  /** The batch log behind live delivery (default 1 day). */
  alertLogMs: number;
  /** Refused and dry-run block decisions (default 7 days). */
  decisionMs: number;
}

/** The default retention. */
export const DEFAULT_RETENTION: Retention = {
  alertMs: 30 * DAY_MS,
  hostMs: 90 * DAY_MS,
  statsMs: { "1m": 7 * DAY_MS, "*": 30 * DAY_MS },
  alertLogMs: DAY_MS,
  decisionMs: 7 * DAY_MS,
};

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** Retention overrides. */
  retention?: Partial<Retention>;
  /** Clock (ms since the epoch) for record times; default `Date.now`. */
  now?: () => number;
}

/** The database could not be opened or written. */
export class StoreError extends UserError {
  /** Creates a store error; keep `cause` when wrapping. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

/** An open database: the KV handle plus settings. Close it (or `using`). */
export class Store implements Disposable {
  /** The KV handle, for the functions of this folder. */
  readonly kv: Deno.Kv;
  /** Path of the database file. */
  readonly path: string;
  /** The data directory it lives in. */
  readonly dataDir: string;
  /** Retention in effect. */
  readonly retention: Retention;
  /** The clock. */
  readonly now: () => number;
  #closed = false;

  /** Wraps an open KV handle; use {@link openStore}. */
  constructor(
    kv: Deno.Kv,
    paths: { path: string; dataDir: string },
    opts: StoreOptions = {},
  ) {
    this.kv = kv;
    this.path = paths.path;
    this.dataDir = paths.dataDir;
    this.retention = { ...DEFAULT_RETENTION, ...opts.retention };
    this.now = opts.now ?? Date.now;
  }

  /** Retention of stats rollups of `resolution`, in ms. */
  statsRetentionMs(resolution: string): number {
    const r = this.retention.statsMs;
    return r[resolution] ?? r["*"] ?? DEFAULT_RETENTION.statsMs["*"]!;
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the database; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.kv.close();
  }

  /** Closes the database (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens (creating if needed) the database `<dataDir>/netsentinel.kv`. The
 * directory is created with mode 0750 when missing.
 *
 * @example
 * ```ts
 * using store = await openStore(await resolveDataDir(str(flags, "data")));
 * ```
 */
export async function openStore(
  dataDir: string,
  opts: StoreOptions = {},
): Promise<Store> {
  const path = join(dataDir, KV_FILE);
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o750 });
  } catch (e) {
    throw new StoreError(
      `Cannot create the data directory "${dataDir}": ${
        (e as Error).message
      } (choose another with --data DIR)`,
      { cause: e },
    );
  }
  let kv: Deno.Kv;
  try {
    kv = await Deno.openKv(path);
  } catch (e) {
    throw new StoreError(
      `Cannot open the database "${path}": ${(e as Error).message}`,
      { cause: e },
    );
  }
  return new Store(kv, { path, dataDir }, opts);
}
