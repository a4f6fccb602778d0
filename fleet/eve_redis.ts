/**
 * EVE to Redis: the lines of the EVE log, each with `host` (the sensor's
 * name, as Suricata adds `sensor-name` to every record), sent to Redis in
 * the modes of Suricata's `eve-log` output with `filetype: redis`
 * (https://docs.suricata.io/en/latest/output/eve/eve-json-output.html,
 * `src/util-log-redis.c`):
 *
 * - `list`/`lpush` (Suricata's default): `LPUSH key record`; `rpush`:
 *   `RPUSH key record`;
 * - `channel`/`publish`: `PUBLISH key record`;
 * - `stream`/`xadd`: `XADD key MAXLEN ~ N * eve record` (`~` unless
 *   `stream_trim_exact`; the field is named `eve` as Suricata names it).
 *
 * The default key is `suricata`, as in Suricata, so its consumers read
 * NetSentinel's records unchanged.
 *
 * Unlike Suricata, which drops records while Redis is away, the shipper
 * reads the local EVE file (the spill is the file the appliance writes
 * anyway, bounded by its rotation) from a cursor: the file's inode and a
 * byte offset. A batch of whole lines goes out inside one `MULTI`/`EXEC`
 * together with `SET <key>:cursor:<host> <inode>:<offset after the
 * batch>`, so Redis holds the batch and the cursor, or neither. After a
 * lost connection the shipper reads Redis' cursor first: when `EXEC` was
 * applied but its reply lost, Redis' cursor is ahead and the batch is not
 * sent again; otherwise the same bytes are read again from the file.
 * Nothing is lost (while the file still exists) and nothing is doubled.
 * The cursor is also kept in a local file, so a restart resumes; a
 * rotated file is finished (found by inode among `eve.json.1…N`) before
 * the new one. Memory held: one batch, whatever the outage's length.
 *
 * @module
 */
import { type Logger, silentLogger } from "../common/logger.ts";
import {
  RedisConn,
  RedisConnectionError,
  RedisError,
  type RedisReply,
  type RedisTarget,
} from "./resp.ts";

/** Suricata's Redis modes (aliases resolved: list → lpush, channel → publish, stream → xadd). */
export type EveRedisMode = "lpush" | "rpush" | "publish" | "xadd";

/** Options of {@link EveRedisShipper}. */
export interface EveRedisOptions {
  /** The EVE file (current one; rotated ones are `path.1` … `path.N`). */
  path: string;
  /** Rotated files that may exist (eve.files). */
  rotatedFiles: number;
  /** Where the cursor is kept between runs. */
  cursorPath: string;
  target: RedisTarget;
  mode: EveRedisMode;
  /** Key, channel or stream. */
  key: string;
  /** Stream length cap (XADD MAXLEN). */
  streamMaxlen: number;
  /** Trim to exactly `streamMaxlen` (else `~`, as Suricata's default). */
  streamTrimExact: boolean;
  /** Records per batch (one MULTI/EXEC). */
  batchSize: number;
  /** The sensor's name, written as `host` in every record. */
  host: string;
  /** Time between looks at the file when idle, ms (default 200). */
  pollMs?: number;
  logger?: Logger;
}

/** The shipper's state for `/health`, `/metrics` and the dashboard. */
export interface EveRedisState {
  connected: boolean;
  /** Redis address in use, or null. */
  server: string | null;
  /** Since when Redis is unreachable (ISO 8601), or null. */
  down_since: string | null;
  last_error: string | null;
  /** Records acknowledged by Redis. */
  sent: number;
  batches: number;
  /** Batches Redis had applied although their reply was lost (not resent). */
  resends_avoided: number;
  /** Connections made after the first. */
  reconnects: number;
  /** Bytes of the EVE file not yet in Redis. */
  pending_bytes: number;
  /** Rotated files deleted by rotation before they were all sent. */
  lost_files: number;
  /** Lines longer than a batch (512 KiB), skipped. */
  skipped_lines: number;
}

/** Most bytes read from the file for one batch. */
const MAX_BATCH_BYTES = 512 * 1024;
const BACKOFF_MAX_MS = 5000;
const dec = new TextDecoder();

interface Cursor {
  ino: number;
  offset: number;
}

function parseCursor(s: unknown): Cursor | null {
  if (typeof s !== "string") return null;
  const m = /^(\d{1,20}):(\d{1,20})$/.exec(s.trim());
  if (m === null) return null;
  return { ino: Number(m[1]), offset: Number(m[2]) };
}

function cursorText(c: Cursor): string {
  return `${c.ino}:${c.offset}`;
}

/** The command that ships one record in a mode. */
export function shipCommand(
  mode: EveRedisMode,
  key: string,
  record: string,
  maxlen: number,
  exact: boolean,
): (string | number)[] {
  switch (mode) {
    case "lpush":
      return ["LPUSH", key, record];
    case "rpush":
      return ["RPUSH", key, record];
    case "publish":
      return ["PUBLISH", key, record];
    case "xadd":
      return exact
        ? ["XADD", key, "MAXLEN", maxlen, "*", "eve", record]
        : ["XADD", key, "MAXLEN", "~", maxlen, "*", "eve", record];
    default: {
      const never: never = mode;
      throw new Error(`Unknown mode ${never}`);
    }
  }
}

/** A record with `host` first, unless it already has one. */
export function withHost(line: string, hostJson: string): string {
  if (line.startsWith('{"host":')) return line;
  return line.length > 2 ? `{"host":${hostJson},${line.slice(1)}` : line;
}

/**
 * Ships the EVE file to Redis from a cursor (see the module doc).
 *
 * @example
 * ```ts
 * const s = new EveRedisShipper({ path, rotatedFiles: 5, cursorPath, target, mode: "xadd", key: "suricata", streamMaxlen: 100000, streamTrimExact: false, batchSize: 100, host: "pi-1" });
 * s.start();
 * await s.stop();
 * ```
 */
export class EveRedisShipper {
  readonly #o: EveRedisOptions;
  readonly #log: Logger;
  readonly #hostJson: string;
  readonly #cursorKey: string;
  #conn: RedisConn | null = null;
  #cursor: Cursor | null = null;
  #stopped = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #connects = 0;
  #downSince: number | null = null;
  #m = {
    sent: 0,
    batches: 0,
    resendsAvoided: 0,
    lostFiles: 0,
    skippedLines: 0,
    pendingBytes: 0,
    lastError: null as string | null,
  };

  /** Creates the shipper; nothing runs until {@link start}. */
  constructor(opts: EveRedisOptions) {
    this.#o = opts;
    this.#log = opts.logger ?? silentLogger;
    this.#hostJson = JSON.stringify(opts.host);
    this.#cursorKey = `${opts.key}:cursor:${opts.host}`;
  }

  /** Starts shipping in the background. */
  start(): void {
    if (this.#loop !== null) return;
    this.#loop = this.#run();
  }

  /** Looks at the file now instead of at the next poll. */
  poke(): void {
    this.#wake?.();
  }

  /** The state for `/health`, `/metrics` and the dashboard. */
  state(): EveRedisState {
    if (this.#conn !== null && !this.#conn.open && this.#downSince === null) {
      // Closed by the server: down now, not only when the loop next looks.
      this.#downSince = Date.now();
      this.#m.lastError = this.#conn.closedBy?.message ?? "closed";
    }
    return {
      connected: this.#conn?.open ?? false,
      server: this.#conn?.open ? this.#conn.address : null,
      down_since: this.#downSince === null
        ? null
        : new Date(this.#downSince).toISOString(),
      last_error: this.#m.lastError,
      sent: this.#m.sent,
      batches: this.#m.batches,
      resends_avoided: this.#m.resendsAvoided,
      reconnects: Math.max(0, this.#connects - 1),
      pending_bytes: this.#m.pendingBytes,
      lost_files: this.#m.lostFiles,
      skipped_lines: this.#m.skippedLines,
    };
  }

  /** Stops after the batch in flight; the cursor is saved. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    this.#conn?.close();
    this.#conn = null;
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#stopped) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = null;
  }

  async #run(): Promise<void> {
    this.#cursor = await this.#loadLocalCursor();
    let backoff = 500;
    const poll = this.#o.pollMs ?? 200;
    while (!this.#stopped) {
      try {
        if (this.#conn === null || !this.#conn.open) {
          this.#conn = null;
          await this.#connect();
          backoff = 500;
        }
        const more = await this.#shipOnce();
        if (!more) await this.#sleep(poll);
      } catch (e) {
        this.#conn?.close();
        this.#conn = null;
        const msg = (e as Error).message;
        if (this.#downSince === null) {
          this.#downSince = Date.now();
          this.#log.warn("eve redis down", { error: msg });
        }
        this.#m.lastError = msg;
        await this.#updatePending().catch(() => {});
        await this.#sleep(backoff);
        backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      }
    }
  }

  async #connect(): Promise<void> {
    const c = await RedisConn.open(this.#o.target);
    try {
      const r = await c.send(["GET", this.#cursorKey]);
      if (r instanceof RedisError) throw r;
      const remote = parseCursor(r);
      const local = this.#cursor;
      if (
        remote !== null &&
        (local === null ||
          (remote.ino === local.ino && remote.offset > local.offset) ||
          (remote.ino !== local.ino && !(await this.#fileOf(local.ino))))
      ) {
        // EXEC was applied but its reply was lost (or the local cursor is
        // older): Redis already has those records.
        if (local !== null && remote.ino === local.ino) {
          this.#m.resendsAvoided++;
        }
        this.#cursor = remote;
        await this.#saveLocalCursor();
      }
    } catch (e) {
      c.close();
      throw e instanceof RedisError
        ? new RedisConnectionError(`Redis refused GET: ${e.message}`)
        : e;
    }
    this.#conn = c;
    this.#connects++;
    if (this.#downSince !== null) {
      this.#log.info("eve redis back", {
        down_ms: Date.now() - this.#downSince,
      });
    }
    this.#downSince = null;
    this.#m.lastError = null;
  }

  /** The path of the file with this inode among the current and rotated ones. */
  async #fileOf(ino: number): Promise<string | null> {
    const paths = [this.#o.path];
    for (let i = 1; i <= this.#o.rotatedFiles; i++) {
      paths.push(`${this.#o.path}.${i}`);
    }
    for (const p of paths) {
      try {
        if ((await Deno.stat(p)).ino === ino) return p;
      } catch {
        // Not there (yet or any more): look at the next one.
      }
    }
    return null;
  }

  async #currentIno(): Promise<{ ino: number; size: number } | null> {
    try {
      const st = await Deno.stat(this.#o.path);
      return { ino: st.ino ?? 0, size: st.size };
    } catch {
      return null;
    }
  }

  async #updatePending(): Promise<void> {
    const cur = await this.#currentIno();
    const c = this.#cursor;
    if (cur === null) return;
    this.#m.pendingBytes = c === null || c.ino !== cur.ino
      ? cur.size
      : Math.max(0, cur.size - c.offset);
  }

  /** Ships one batch; true when more may be waiting. */
  async #shipOnce(): Promise<boolean> {
    const cur = await this.#currentIno();
    if (cur === null) return false;
    let c = this.#cursor ?? { ino: cur.ino, offset: 0 };
    let path = this.#o.path;
    if (c.ino !== cur.ino) {
      const p = await this.#fileOf(c.ino);
      if (p === null) {
        // Rotated away before it was sent: counted, then the current file.
        this.#m.lostFiles++;
        this.#log.warn("eve redis file rotated away unsent", { ino: c.ino });
        c = { ino: cur.ino, offset: 0 };
      } else {
        path = p;
      }
    } else if (c.offset > cur.size) {
      c = { ino: cur.ino, offset: 0 }; // truncated by hand
    }
    const { lines, end } = await readLines(
      path,
      c.offset,
      this.#o.batchSize,
    );
    if (lines.length === 0 && end > c.offset) {
      this.#cursor = { ino: c.ino, offset: end }; // a line longer than a batch
      this.#m.skippedLines++;
      await this.#saveLocalCursor();
      return true;
    }
    if (lines.length === 0) {
      if (path !== this.#o.path) {
        // The rotated file is finished: go on with the current one.
        this.#cursor = { ino: cur.ino, offset: 0 };
        await this.#saveLocalCursor();
        return true;
      }
      this.#cursor = c;
      this.#m.pendingBytes = Math.max(0, cur.size - c.offset);
      return false;
    }
    const next: Cursor = { ino: c.ino, offset: end };
    const cmds: (string | number)[][] = [["MULTI"]];
    for (const l of lines) {
      cmds.push(
        shipCommand(
          this.#o.mode,
          this.#o.key,
          withHost(l, this.#hostJson),
          this.#o.streamMaxlen,
          this.#o.streamTrimExact,
        ),
      );
    }
    cmds.push(["SET", this.#cursorKey, cursorText(next)], ["EXEC"]);
    const replies = await this.#conn!.batch(cmds);
    const exec = replies[replies.length - 1];
    if (!Array.isArray(exec)) {
      throw new RedisConnectionError(
        `Redis did not apply the batch: ${describe(exec)}`,
      );
    }
    const failed = (exec as RedisReply[]).find((r) => r instanceof RedisError);
    if (failed instanceof RedisError) {
      // A wrong key type and the like: the batch is applied but for that
      // command; it is a configuration error, reported and not retried.
      this.#m.lastError = `Redis refused a record: ${failed.message}`;
    }
    this.#cursor = next;
    this.#m.sent += lines.length;
    this.#m.batches++;
    await this.#saveLocalCursor();
    if (path === this.#o.path) {
      this.#m.pendingBytes = Math.max(0, cur.size - end);
    }
    return true;
  }

  async #loadLocalCursor(): Promise<Cursor | null> {
    try {
      return parseCursor(await Deno.readTextFile(this.#o.cursorPath));
    } catch {
      return null;
    }
  }

  async #saveLocalCursor(): Promise<void> {
    if (this.#cursor === null) return;
    const tmp = `${this.#o.cursorPath}.tmp`;
    await Deno.writeTextFile(tmp, cursorText(this.#cursor));
    await Deno.rename(tmp, this.#o.cursorPath);
  }
}

function describe(r: RedisReply | undefined): string {
  if (r instanceof Error) return r.message;
  return r === null ? "EXEC aborted" : String(r);
}

/**
 * Up to `max` whole lines from `offset` (a last line without its newline
 * is left for later: the writer is still writing it). `end` is the offset
 * after the last line returned.
 */
export async function readLines(
  path: string,
  offset: number,
  max: number,
): Promise<{ lines: string[]; end: number }> {
  using f = await Deno.open(path, { read: true });
  await f.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(MAX_BATCH_BYTES);
  let n = 0;
  while (n < buf.length) {
    const r = await f.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < n && lines.length < max; i++) {
    if (buf[i] !== 0x0a) continue;
    const l = dec.decode(buf.subarray(start, i)).trim();
    if (l.length > 0) lines.push(l);
    start = i + 1;
  }
  if (lines.length === 0 && start === 0 && n === buf.length) {
    // One line longer than a batch: skip it whole rather than stall.
    const nl = await skipLine(path, offset + n);
    return { lines: [], end: nl };
  }
  return { lines, end: offset + start };
}

async function skipLine(path: string, from: number): Promise<number> {
  using f = await Deno.open(path, { read: true });
  await f.seek(from, Deno.SeekMode.Start);
  const buf = new Uint8Array(64 * 1024);
  let at = from;
  while (true) {
    const r = await f.read(buf);
    if (r === null) return at;
    const i = buf.subarray(0, r).indexOf(0x0a);
    if (i >= 0) return at + i + 1;
    at += r;
  }
}
