/**
 * The EVE log: every alert as one JSON object a line in `eve.json` (in the
 * data directory unless configured), Suricata's field names, so jq,
 * Filebeat and Vector read it as they read Suricata's. Lines are buffered
 * and written in batches (at most about once per interval), and the file is
 * rotated by size: `eve.json` → `eve.json.1` → … → `eve.json.N`, the oldest
 * dropped. Rotation renames, as logrotate does, so tailing shippers follow.
 *
 * An updated alert (same `netsentinel.id`, higher count) is written again:
 * the last line of an id holds its final state.
 *
 * @module
 */
import { join } from "node:path";
import type { Alert } from "../alerts/alert.ts";
import { type Logger, silentLogger } from "../common/logger.ts";
import { fitAlert } from "../store/mod.ts";

/** File name of the EVE log inside the data directory. */
export const EVE_FILE = "eve.json";

/** Options of {@link EveLog}. */
export interface EveLogOptions {
  /** Rotate when the file would grow past this many bytes (default 50 MB). */
  maxBytes?: number;
  /** Rotated files kept: eve.json.1 … eve.json.N (default 5). */
  maxFiles?: number;
  /** Least time between two writes, ms (default 1000). */
  flushMs?: number;
  /** Write at once when this many bytes are buffered (default 1 MiB). */
  maxBuffer?: number;
  /** Write updated alerts too (default true). */
  updates?: boolean;
  /** Where write failures are logged. */
  logger?: Logger;
}

/** Counters of the EVE log. */
export interface EveLogMetrics {
  lines: number;
  bytes: number;
  writes: number;
  rotations: number;
  errors: number;
  /** Lines given up after failed writes (beyond the retained bound). */
  dropped: number;
  /** Lines waiting in the buffer. */
  buffered: number;
}

/** The EVE log could not be opened or written. */
export class EveLogError extends Error {
  /** Creates the error; keep `cause` when wrapping. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EveLogError";
  }
}

const encoder = new TextEncoder();

/** Most unwritten lines kept after a failed write. */
const MAX_RETAINED_LINES = 100_000;

/**
 * Appends alerts to an EVE JSON file in batches, rotating by size.
 *
 * @example
 * ```ts
 * const eve = await EveLog.open(join(dataDir, EVE_FILE));
 * aggregator.addSink((alert, isNew) => eve.write(alert, isNew));
 * await eve.close();
 * ```
 */
export class EveLog implements AsyncDisposable {
  /** Path of the current file. */
  readonly path: string;
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  readonly #flushMs: number;
  readonly #maxBuffer: number;
  readonly #updates: boolean;
  readonly #log: Logger;
  #file: Deno.FsFile | null = null;
  #size = 0;
  #lines: string[] = [];
  #buffered = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #lastWrite = -Infinity;
  #closed = false;
  #m = { lines: 0, bytes: 0, writes: 0, rotations: 0, errors: 0, dropped: 0 };

  private constructor(path: string, opts: EveLogOptions) {
    this.path = path;
    this.#maxBytes = opts.maxBytes ?? 50_000_000;
    this.#maxFiles = Math.max(1, opts.maxFiles ?? 5);
    this.#flushMs = opts.flushMs ?? 1000;
    this.#maxBuffer = opts.maxBuffer ?? 1 << 20;
    this.#updates = opts.updates ?? true;
    this.#log = opts.logger ?? silentLogger;
  }

  /** Opens (creating) the log at `path` for appending. */
  static async open(path: string, opts: EveLogOptions = {}): Promise<EveLog> {
    const log = new EveLog(path, opts);
    await log.#openFile();
    return log;
  }

  /** The default path: `eve.json` in the data directory. */
  static defaultPath(dataDir: string): string {
    return join(dataDir, EVE_FILE);
  }

  async #openFile(): Promise<void> {
    try {
      this.#file = await Deno.open(this.path, {
        append: true,
        create: true,
        mode: 0o640,
      });
      this.#size = (await this.#file.stat()).size;
    } catch (e) {
      throw new EveLogError(
        `Cannot open the EVE log "${this.path}": ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** A snapshot of the counters. */
  get metrics(): EveLogMetrics {
    return { ...this.#m, buffered: this.#lines.length };
  }

  /**
   * Queues one alert (an aggregator sink); updates are skipped when the
   * log was opened with `updates: false`.
   */
  write(alert: Alert, isNew = true): void {
    if (!isNew && !this.#updates) return;
    this.writeRecord(fitAlert(alert).value);
  }

  /** Queues any EVE record (one JSON object). */
  writeRecord(rec: object): void {
    if (this.#closed) {
      throw new EveLogError("Cannot write: the EVE log is closed");
    }
    const line = JSON.stringify(rec) + "\n";
    this.#lines.push(line);
    this.#buffered += line.length;
    if (this.#buffered >= this.#maxBuffer) {
      this.#clearTimer();
      this.#startWrite();
    } else this.#schedule();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (
      this.#timer !== undefined || this.#running || this.#lines.length === 0
    ) {
      return;
    }
    const wait = Math.max(
      0,
      this.#lastWrite + this.#flushMs - performance.now(),
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#startWrite();
    }, wait);
  }

  #startWrite(): void {
    if (this.#running) return;
    this.#running = this.#writeBuffered()
      .catch((e) => {
        this.#m.errors++;
        this.#log.error("EVE log write failed", { error: e, path: this.path });
      })
      .finally(() => {
        this.#running = null;
        this.#schedule();
      });
  }

  async #writeBuffered(): Promise<void> {
    this.#lastWrite = performance.now();
    const lines = this.#lines;
    this.#lines = [];
    this.#buffered = 0;
    let chunk: string[] = [];
    let chunkBytes = 0;
    let i = 0;
    try {
      for (; i < lines.length; i++) {
        const line = lines[i]!;
        const n = encoder.encode(line).length;
        if (
          this.#size + chunkBytes + n > this.#maxBytes &&
          this.#size + chunkBytes > 0
        ) {
          await this.#append(chunk, chunkBytes);
          chunk = [];
          chunkBytes = 0;
          await this.#rotate();
        }
        chunk.push(line);
        chunkBytes += n;
      }
      await this.#append(chunk, chunkBytes);
    } catch (e) {
      // Keep what was not written for the next attempt, within bounds.
      const rest = [...chunk, ...lines.slice(i)];
      const keep = rest.slice(Math.max(0, rest.length - MAX_RETAINED_LINES));
      this.#m.dropped += rest.length - keep.length;
      this.#lines = [...keep, ...this.#lines];
      for (const l of keep) this.#buffered += l.length;
      if (this.#file === null) await this.#openFile();
      throw e;
    }
  }

  async #append(lines: string[], bytes: number): Promise<void> {
    if (lines.length === 0) return;
    const data = encoder.encode(lines.join(""));
    const f = this.#file;
    if (f === null) throw new EveLogError("The EVE log is not open");
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    this.#size += bytes;
    this.#m.lines += lines.length;
    this.#m.bytes += bytes;
    this.#m.writes++;
  }

  async #rotate(): Promise<void> {
    this.#file?.close();
    this.#file = null;
    const name = (i: number) => (i === 0 ? this.path : `${this.path}.${i}`);
    await removeIfExists(name(this.#maxFiles));
    for (let i = this.#maxFiles - 1; i >= 0; i--) {
      try {
        await Deno.rename(name(i), name(i + 1));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    this.#m.rotations++;
    await this.#openFile();
  }

  /**
   * Writes everything buffered now (waiting for a write in progress
   * first). Rejects with an {@link EveLogError} when the write failed; the
   * lines stay buffered for the next attempt.
   */
  async flush(): Promise<void> {
    this.#clearTimer();
    while (this.#running) await this.#running;
    if (this.#lines.length === 0) return;
    const errors = this.#m.errors;
    this.#startWrite();
    await this.#running;
    if (this.#m.errors > errors) {
      throw new EveLogError(`Cannot write the EVE log "${this.path}"`);
    }
  }

  /**
   * Reopens the file at `path` (after an external logrotate moved it);
   * writes what is buffered first.
   */
  async reopen(): Promise<void> {
    await this.flush();
    this.#file?.close();
    this.#file = null;
    await this.#openFile();
  }

  /** Flushes and closes the file; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    this.#clearTimer();
    this.#file?.close();
    this.#file = null;
  }

  /** Closes the log (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
