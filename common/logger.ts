/**
 * The one logger: JSON lines on stderr with a fixed `msg` and data in fields.
 * Never called per packet; callers count and log counts on an interval.
 *
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A structured logger writing one JSON object a line. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written (default "info"). */
  level?: LogLevel;
  /** Where lines go (default: standard error). */
  write?: (line: string) => void;
  /** Clock for the `ts` field (default `Date.now`). */
  now?: () => number;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Creates a logger. Fields that are errors are written as their message.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "warn" });
 * log.warn("capture restarted", { attempt: 2 });
 * ```
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = RANK[opts.level ?? "info"];
  const write = opts.write ?? writeStderr;
  const now = opts.now ?? Date.now;
  const emit = (
    level: LogLevel,
    msg: string,
    fields?: Record<string, unknown>,
  ) => {
    if (RANK[level] < min) return;
    const rec: Record<string, unknown> = {
      ts: new Date(now()).toISOString(),
      level,
      msg,
    };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        rec[k] = v instanceof Error ? v.message : v;
      }
    }
    write(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** A logger that drops everything (tests, quiet CLI commands). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
