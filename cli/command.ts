/**
 * The shape of a CLI command and the argument helpers every command shares:
 * parsing with `node:util` `parseArgs`, one-line usage errors, typed values.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../common/errors.ts";
import { parseDurationText } from "../common/validate.ts";

/** Option declarations as `parseArgs` takes them. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flags: strings, booleans, or lists of strings for `multiple`. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/** One CLI command. */
export interface Command {
  /** The word after the program name, e.g. "analyze". */
  readonly name: string;
  /** One line for the program's command list. */
  readonly summary: string;
  /** The full `--help` text of the command. */
  readonly help: string;
  /** Flags the command accepts (`--help` is added for every command). */
  readonly options: OptionSpec;
  /** True when the command takes positional arguments. */
  readonly positionals?: boolean;
  /** Runs the command; resolves to the process exit code. */
  run(flags: Flags, positionals: string[]): Promise<number>;
}

/**
 * Parses `args` for `cmd`, turning every parse failure into a one-line
 * {@link UsageError}. Returns null when `--help` was asked for.
 */
export function parseCommandArgs(
  cmd: Command,
  args: string[],
): { flags: Flags; positionals: string[] } | null {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${cmd.name}: ${firstSentence(e)}`);
  }
  if (parsed.values.help) return null;
  if (!cmd.positionals && parsed.positionals.length > 0) {
    throw new UsageError(
      `${cmd.name}: unexpected argument "${parsed.positionals[0]}"`,
    );
  }
  return { flags: parsed.values as Flags, positionals: parsed.positionals };
}

function firstSentence(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const cut = msg.search(/\. (To|Did)/);
  return (cut > 0 ? msg.slice(0, cut) : msg).replace(/\.$/, "");
}

/** A string flag's value, or `fallback` when absent. */
export function str(flags: Flags, name: string, fallback: string): string;
/** A string flag's value, or undefined when absent. */
export function str(flags: Flags, name: string): string | undefined;
export function str(
  flags: Flags,
  name: string,
  fallback?: string,
): string | undefined {
  const v = flags[name];
  if (v === undefined) return fallback;
  if (typeof v !== "string") throw new UsageError(`--${name} needs a value`);
  return v;
}

/** A boolean flag's value (false when absent). */
export function bool(flags: Flags, name: string): boolean {
  return flags[name] === true;
}

/**
 * A numeric flag's value within [min, max], or `fallback` when absent.
 * Rejects non-numbers and out-of-range values with a usage error.
 */
export function num(
  flags: Flags,
  name: string,
  fallback: number,
  limits: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  const { min = -Infinity, max = Infinity, integer = false } = limits;
  if (
    v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))
  ) {
    throw new UsageError(
      `--${name}: "${v}" is not ${integer ? "an integer" : "a number"}`,
    );
  }
  if (n < min || n > max) {
    throw new UsageError(`--${name}: ${n} is out of range [${min}, ${max}]`);
  }
  return n;
}

/** A flag whose value must be one of `choices`. */
export function oneOf<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  if (!(choices as readonly string[]).includes(v)) {
    throw new UsageError(
      `--${name}: "${v}" is not one of ${choices.join(", ")}`,
    );
  }
  return v as T;
}

/**
 * A comma-separated list flag whose items must be in `choices`.
 * Returns `fallback` when absent.
 */
export function listOf<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
  fallback: readonly T[],
): T[] {
  const v = str(flags, name);
  if (v === undefined) return [...fallback];
  const items = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const it of items) {
    if (!(choices as readonly string[]).includes(it)) {
      throw new UsageError(
        `--${name}: "${it}" is not one of ${choices.join(", ")}`,
      );
    }
  }
  return items as T[];
}

/**
 * Parses a duration such as "90s", "15m", "1h30m", "7d" or a bare number of
 * seconds. Returns seconds, or null when the text is not a duration.
 */
export const parseDuration: (text: string) => number | null = parseDurationText;

/** A duration flag in seconds, or `fallback` when absent. */
export function duration(flags: Flags, name: string, fallback: number): number {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const s = parseDuration(v);
  if (s === null || s <= 0) {
    throw new UsageError(
      `--${name}: "${v}" is not a duration (examples: 90s, 15m, 1h, 7d)`,
    );
  }
  return s;
}
