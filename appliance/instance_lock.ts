/**
 * One appliance per data directory, and one per nftables table: advisory
 * `flock(2)` locks held for the process lifetime (the kernel drops them
 * when the process ends, however it ends, so a crash never leaves a stale
 * lock). A second `run` or `replay` on the same data directory, or one
 * that would keep the same `inet netsentinel` table in the same network
 * namespace (the table is per namespace, whatever the data directory), is
 * refused with the pid of the one that holds it. Only `run`/`replay` take
 * them: the one-shot commands (`block`, `alerts`, …) work beside a running
 * appliance by design.
 *
 * The table lock lives in `/run/netsentinel/` (the unit's
 * `RuntimeDirectory=`, preserved across restarts so a lock file is never
 * unlinked under its holder), named after the network namespace's inode
 * and the table, so instances in different namespaces (containers, tests)
 * do not collide. The alternative, a table per instance, was not chosen:
 * two tables would each drop what the other blocked and lift nothing of
 * the other's, and `nft delete table inet netsentinel` would no longer lift
 * every block.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../common/errors.ts";

/** File name of the data directory's lock. */
export const DATA_LOCK_FILE = "netsentinel.lock";

/** Where table locks live (systemd's `RuntimeDirectory=netsentinel`). */
export const RUN_DIR = "/run/netsentinel";

/** Another instance holds a lock this one needs. */
export class InstanceLockError extends UserError {
  /** The pid the lock file names, or null when it names none. */
  readonly pid: number | null;
  /** Creates the error. */
  constructor(message: string, pid: number | null) {
    super(message);
    this.name = "InstanceLockError";
    this.pid = pid;
  }
}

/** A held lock; release it (or let the process end). */
export interface InstanceLock extends Disposable {
  /** The lock file. */
  readonly path: string;
  /** Unlocks and closes the file; safe to call twice. */
  release(): void;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

async function readPid(path: string): Promise<number | null> {
  try {
    const m = /^\s*(\d{1,10})\b/.exec(dec.decode(await Deno.readFile(path)));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock file `path` without waiting and writes this pid into it;
 * resolves to null when another process holds it (read its pid then).
 */
async function tryLockFile(
  path: string,
  note: string,
): Promise<InstanceLock | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (e) {
    // Someone else's file we may not write (root's, read by a service
    // user), or a read-only mount: a read-only descriptor locks as well.
    try {
      file = await Deno.open(path, { read: true });
    } catch {
      throw e;
    }
  }
  let got: boolean;
  try {
    got = await file.tryLock(true);
  } catch (e) {
    file.close();
    throw e;
  }
  if (!got) {
    file.close();
    return null;
  }
  try {
    await file.truncate(0);
    await file.write(enc.encode(`${Deno.pid} ${note}\n`));
  } catch {
    // A read-only descriptor: the lock holds, only the pid is not noted.
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    try {
      file.unlockSync();
    } finally {
      file.close();
    }
  };
  return { path, release, [Symbol.dispose]: release };
}

/**
 * Locks the data directory `dir` for this process: throws
 * {@link InstanceLockError} naming the other instance's pid when one runs
 * on it.
 *
 * @example
 * ```ts
 * using lock = await lockDataDir("/var/lib/netsentinel");
 * ```
 */
export async function lockDataDir(dir: string): Promise<InstanceLock> {
  const path = join(dir, DATA_LOCK_FILE);
  const lock = await tryLockFile(path, `data ${dir}`);
  if (lock !== null) return lock;
  const pid = await readPid(path);
  throw new InstanceLockError(
    `Cannot use data directory "${dir}": another NetSentinel${
      pid === null ? "" : ` (pid ${pid})`
    } is running on it (stop it, or give this one another --data)`,
    pid,
  );
}

/**
 * The identity of a network namespace: the inode of `/run/netns/NAME` for
 * a named one, else of this process's `/proc/self/ns/net`; null when it
 * cannot be read.
 */
export async function netnsId(netns?: string): Promise<string | null> {
  try {
    const st = await Deno.stat(
      netns === undefined ? "/proc/self/ns/net" : `/run/netns/${netns}`,
    );
    return st.ino === null ? null : String(st.ino);
  } catch {
    return null;
  }
}

/**
 * Locks the nftables table `table` of a network namespace for this
 * process: throws {@link InstanceLockError} naming the other instance's
 * pid when one keeps it. Resolves to null (nothing to hold) when the lock
 * directory cannot be made or written, as for a user who cannot change
 * nftables anyway.
 */
export async function lockNftTable(
  table: string,
  opts: { netns?: string; runDir?: string } = {},
): Promise<InstanceLock | null> {
  const ns = await netnsId(opts.netns);
  if (ns === null) return null;
  const dir = opts.runDir ?? RUN_DIR;
  const path = join(dir, `nft-${ns}-${table.replace(/[^\w-]/g, "_")}.lock`);
  let lock: InstanceLock | null;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    lock = await tryLockFile(path, `table inet ${table} netns ${ns}`);
  } catch {
    // No permission, a read-only /run: this process cannot share the
    // table's lock, and without root it cannot change nftables either.
    return null;
  }
  if (lock !== null) return lock;
  const pid = await readPid(path);
  throw new InstanceLockError(
    `Cannot keep the nftables table "inet ${table}": another NetSentinel${
      pid === null ? "" : ` (pid ${pid})`
    } keeps it in this network namespace, and two would undo each other's blocks (stop it first; a replay without --block leaves nftables alone and may run beside it)`,
    pid,
  );
}
