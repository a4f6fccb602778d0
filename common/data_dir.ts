/**
 * Where NetSentinel keeps its state (KV database, EVE log, model): the
 * `--data DIR` flag, else `/var/lib/netsentinel` when running as root and it
 * is writable, else `./netsentinel-data`. Always an absolute path, so a
 * compiled binary never depends on where it was started from after this.
 *
 * @module
 */
import { join, resolve } from "node:path";

/** The data directory of a system installation (systemd `StateDirectory=`). */
export const SYSTEM_DATA_DIR = "/var/lib/netsentinel";

/** The data directory used when the system one is not usable. */
export const LOCAL_DATA_DIR = "netsentinel-data";

/** Options of {@link resolveDataDir}, for tests. */
export interface DataDirOptions {
  /** True when running as root (default: `Deno.uid() === 0`). */
  isRoot?: boolean;
  /** The system directory to try (default {@link SYSTEM_DATA_DIR}). */
  systemDir?: string;
  /** Base for the local fallback (default: the working directory). */
  cwd?: string;
}

/**
 * Resolves the data directory: `flag` when given, else the system
 * directory when root and writable (created if missing), else
 * `./netsentinel-data`. Returns an absolute path; does not create the
 * fallback directory (opening the store does).
 *
 * @example
 * ```ts
 * const dir = await resolveDataDir(str(flags, "data"));
 * ```
 */
export async function resolveDataDir(
  flag?: string,
  opts: DataDirOptions = {},
): Promise<string> {
  const cwd = opts.cwd ?? Deno.cwd();
  if (flag !== undefined && flag !== "") return resolve(cwd, flag);
  const isRoot = opts.isRoot ?? Deno.uid() === 0;
  const systemDir = opts.systemDir ?? SYSTEM_DATA_DIR;
  if (isRoot && await isWritableDir(systemDir)) return systemDir;
  return resolve(cwd, LOCAL_DATA_DIR);
}

/**
 * True when `dir` exists (or can be created) and a file can be created in
 * it. Leaves the directory behind when it had to create it.
 */
export async function isWritableDir(dir: string): Promise<boolean> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
    const probe = join(dir, `.probe-${Deno.pid}-${Date.now()}`);
    await Deno.writeFile(probe, new Uint8Array(0), { createNew: true });
    await Deno.remove(probe);
    return true;
  } catch (e) {
    if (
      e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.AlreadyExists ||
      e instanceof Deno.errors.NotADirectory ||
      (e instanceof Error && /read-only|EROFS/i.test(e.message))
    ) {
      return false;
    }
    throw e;
  }
}
