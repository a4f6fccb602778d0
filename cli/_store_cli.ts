/**
 * What the storage and blocking commands share: the `--data DIR` flag,
 * opening the database (read commands refuse to create one), time flags,
 * and a blocker for one-shot use with the stored policy and sessions.
 *
 * @module
 */
import { join } from "node:path";
import { resolveDataDir } from "../common/data_dir.ts";
import { UsageError, UserError } from "../common/errors.ts";
import {
  defaultConfigPath,
  effectiveBlockPolicy,
  loadConfig,
} from "../appliance/config.ts";
import { Blocker, type BlockPolicy } from "../respond/mod.ts";
import { KV_FILE, openStore, sessionAddrs, type Store } from "../store/mod.ts";
import { type Flags, parseDuration, str } from "./command.ts";

/** The `--data` option declaration. */
export const DATA_OPTION = {
  data: { type: "string" },
  config: { type: "string" },
} as const;

/** Help text line for `--data`. */
export const DATA_HELP =
  "  --data DIR             data directory (default: /var/lib/netsentinel as\n" +
  "                         root when writable, else ./netsentinel-data)\n" +
  "  --config FILE          config file (default: config.json in the data\n" +
  "                         directory; its blocking policy applies)";

/**
 * Opens the database of `--data`. With `create: false` (read commands) a
 * missing database is an error instead of a new empty one.
 */
export async function openStoreFromFlags(
  flags: Flags,
  opts: { create: boolean },
): Promise<Store> {
  const dir = await resolveDataDir(str(flags, "data"));
  if (!opts.create) {
    try {
      await Deno.stat(join(dir, KV_FILE));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new UserError(
        `No database in "${dir}" (wrong --data? the appliance creates it on its first start)`,
      );
    }
  }
  return await openStore(dir);
}

/**
 * Parses a `--since` value: an ISO 8601 date or time ("2026-11-24",
 * "2026-11-24T14:00Z") or a duration back from now ("15m", "2h", "7d").
 * Returns ms since the epoch.
 */
export function parseSince(text: string, nowMs: number): number {
  const d = parseDuration(text);
  if (d !== null) return nowMs - d * 1000;
  const t = Date.parse(text);
  if (Number.isFinite(t) && /^\d{4}-\d{2}-\d{2}/.test(text.trim())) return t;
  throw new UsageError(
    `--since: "${text}" is neither a time (2026-11-24T14:00Z) nor a duration (15m, 2h, 7d)`,
  );
}

/**
 * The block policy in force for this data directory: `blocking` of the
 * config file (`--config`, else config.json in the data directory) with the
 * policy's allow-listed sources, or the defaults without a file.
 */
export async function configuredBlockPolicy(
  store: Store,
  flags: Flags,
): Promise<BlockPolicy> {
  const path = str(flags, "config") ?? defaultConfigPath(store.dataDir);
  return effectiveBlockPolicy((await loadConfig(path)).config);
}

/**
 * A blocker for one command: the stored policy, the signed-in sessions'
 * addresses protected, the table created only when missing.
 */
export async function commandBlocker(
  store: Store,
  flags: Flags,
): Promise<Blocker> {
  const admins = await sessionAddrs(store);
  const blocker = new Blocker(store, {
    policy: await configuredBlockPolicy(store, flags),
    protectedAddrs: () => admins,
  });
  await blocker.connect();
  return blocker;
}
