/**
 * Validation of untrusted JSON (config files, API bodies, stored records):
 * small typed readers that either return the value or throw a ConfigError
 * naming the dotted field path. Absent values fall back to the default
 * given; without a default (`undefined`) an absent value is an error ("is
 * missing"), which is what list items and other required values want.
 * `null` is treated as absent only where a reader says so.
 *
 * @example
 * ```ts
 * const o = record(input, "limits", ["max_flows"]);
 * const maxFlows = int(o.max_flows, "limits.max_flows", 200_000, { min: 1000 });
 * const ports = list(o.ports, "limits.ports", [], (v, f) => int(v, f));
 * ```
 *
 * @module
 */
import { type Cidr, parseCidr } from "../decode/addr.ts";
import { ConfigError } from "./errors.ts";

/** Inclusive bounds of a number reader; either may be left out. */
export interface Limits {
  /** Smallest value accepted (default 0). */
  min?: number;
  /** Largest value accepted (default: the reader's own; `Infinity` for none). */
  max?: number;
}

/** True for a plain object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short rendering of a bad value for messages. */
export function show(v: unknown): string {
  if (typeof v === "string") {
    return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  }
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  return typeof v === "object" ? "an object" : String(v);
}

/** The fallback of an absent value; without one the value was required. */
function absent<T>(fallback: T | undefined, field: string): T {
  if (fallback === undefined) throw new ConfigError(field, "is missing");
  return fallback;
}

/** "from 1 to 5", or "of at least 1" when there is no upper bound. */
function range(min: number, max: number, unit = ""): string {
  return max === Infinity
    ? `of at least ${min}${unit}`
    : `from ${min}${unit} to ${max}${unit}`;
}

/**
 * An object whose keys must all be in `known`; undefined gives `{}`.
 * Unknown keys are errors (typos must not be silently ignored).
 */
export function record(
  v: unknown,
  field: string,
  known: readonly string[],
): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isRecord(v)) {
    throw new ConfigError(field, `expected an object, got ${show(v)}`);
  }
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) {
      const at = field === "" ? k : `${field}.${k}`;
      throw new ConfigError(at, `unknown key (known: ${known.join(", ")})`);
    }
  }
  return v;
}

/** A boolean, or `fallback` when absent (required when there is none). */
export function bool(v: unknown, field: string, fallback?: boolean): boolean {
  if (v === undefined) return absent(fallback, field);
  if (typeof v !== "boolean") {
    throw new ConfigError(field, `expected true or false, got ${show(v)}`);
  }
  return v;
}

/**
 * An integer within [min, max] (default 0 to `Number.MAX_SAFE_INTEGER`), or
 * `fallback` when absent (required when there is none).
 */
export function int(
  v: unknown,
  field: string,
  fallback?: number,
  limits: Limits = {},
): number {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = limits;
  return inRange(v, field, fallback, min, max, true);
}

/**
 * A finite number within [min, max] (default 0 to `Number.MAX_VALUE`), or
 * `fallback` when absent (required when there is none).
 */
export function num(
  v: unknown,
  field: string,
  fallback?: number,
  limits: Limits = {},
): number {
  const { min = 0, max = Number.MAX_VALUE } = limits;
  return inRange(v, field, fallback, min, max, false);
}

function inRange(
  v: unknown,
  field: string,
  fallback: number | undefined,
  min: number,
  max: number,
  integer: boolean,
): number {
  if (v === undefined) return absent(fallback, field);
  if (
    typeof v !== "number" ||
    !(integer ? Number.isInteger(v) : Number.isFinite(v)) || v < min ||
    v > max
  ) {
    const what = integer ? "an integer" : "a number";
    throw new ConfigError(
      field,
      `expected ${what} ${range(min, max)}, got ${show(v)}`,
    );
  }
  return v;
}

/**
 * A string of at most `maxLen` characters, or `fallback` when absent
 * (required when there is none).
 */
export function text(
  v: unknown,
  field: string,
  fallback?: string,
  maxLen = 4096,
): string {
  if (v === undefined) return absent(fallback, field);
  if (typeof v !== "string") {
    throw new ConfigError(field, `expected a string, got ${show(v)}`);
  }
  if (v.length > maxLen) {
    throw new ConfigError(field, `longer than ${maxLen} characters`);
  }
  return v;
}

/** Like {@link text}, but `null` (or absent) gives null. */
export function optText(
  v: unknown,
  field: string,
  maxLen = 4096,
): string | null {
  if (v === undefined || v === null) return null;
  return text(v, field, "", maxLen);
}

/** One of `choices`, or `fallback` when absent (required when there is none). */
export function oneOf<T extends string>(
  v: unknown,
  field: string,
  choices: readonly T[],
  fallback?: T,
): T {
  if (v === undefined) return absent(fallback, field);
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw new ConfigError(
      field,
      `expected one of ${choices.join(", ")}, got ${show(v)}`,
    );
  }
  return v as T;
}

/**
 * An array whose items are each read by `item` (with the index in the
 * path), or a copy of `fallback` when absent (required when there is none).
 * Every item is required, whatever `item` does with an absent value. At
 * most `maxItems` items (no limit unless given).
 *
 * @example
 * ```ts
 * const hosts = list(o.hosts, "exposed[0].hosts", [], cidr);
 * ```
 */
export function list<T>(
  v: unknown,
  field: string,
  fallback: readonly T[] | undefined,
  item: (x: unknown, field: string) => T,
  maxItems = Infinity,
): T[] {
  if (v === undefined) return [...absent(fallback, field)];
  if (!Array.isArray(v)) {
    throw new ConfigError(field, `expected a list, got ${show(v)}`);
  }
  if (v.length > maxItems) {
    throw new ConfigError(field, `more than ${maxItems} items`);
  }
  return v.map((x, i) => {
    const at = `${field}[${i}]`;
    if (x === undefined) throw new ConfigError(at, "is missing");
    return item(x, at);
  });
}

/** Options of {@link duration}: bounds in seconds, and whether "ms" is a unit. */
export interface DurationOptions extends Limits {
  /** Also accept milliseconds ("250ms", "1s500ms"); default false. */
  ms?: boolean;
}

/**
 * A duration in seconds, written as a number of seconds or as text such as
 * "90s", "15m", "1h30m", "7d"; `fallback` when absent (required when there
 * is none). Bounds default to 0 and ten years.
 */
export function duration(
  v: unknown,
  field: string,
  fallback?: number,
  options: DurationOptions = {},
): number {
  if (v === undefined) return absent(fallback, field);
  const { min = 0, max = 10 * 365 * 86400, ms = false } = options;
  let s: number | null = null;
  if (typeof v === "number" && Number.isFinite(v)) s = v;
  else if (typeof v === "string") s = parseDurationText(v, { ms });
  if (s === null || s < min || s > max) {
    throw new ConfigError(
      field,
      `expected a duration ${
        range(min, max, "s")
      } (examples: 30, "90s", "15m", "1h", "7d"), got ${show(v)}`,
    );
  }
  return s;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1 << 20,
  mib: 1 << 20,
  gb: 1 << 30,
  gib: 1 << 30,
};

/**
 * A size in bytes, written as a number of bytes or as text with a unit as
 * Suricata's config writes them ("1mb", "32 MiB", "512kb"; kb and mb are
 * binary units there too); `fallback` when absent (required when there is
 * none), within [min, max].
 */
export function byteSize(
  v: unknown,
  field: string,
  fallback: number | undefined,
  limits: Limits = {},
): number {
  if (v === undefined) return absent(fallback, field);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = limits;
  let n: number | null = null;
  if (typeof v === "number" && Number.isInteger(v)) n = v;
  else if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
    const unit = SIZE_UNITS[(m?.[2] || "b").toLowerCase()];
    if (m !== null && unit !== undefined) n = Math.round(Number(m[1]) * unit);
  }
  if (n === null || n < min || n > max) {
    throw new ConfigError(
      field,
      `expected a size in bytes ${
        range(min, max)
      } (examples: 1048576, "1mb", "32mb", "512kb"), got ${show(v)}`,
    );
  }
  return n;
}

const UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
};

/**
 * Parses "90s", "1h30m", "7d" or "45" (seconds); null when it is not a
 * duration. With `ms`, "250ms" (milliseconds) is a unit too.
 */
export function parseDurationText(
  t: string,
  options: { ms?: boolean } = {},
): number | null {
  const s = t.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = options.ms
    ? /(\d+(?:\.\d+)?)(ms|[smhdw])/gy
    : /(\d+(?:\.\d+)?)([smhdw])/gy;
  let total = 0, end = 0, m;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  return end === s.length && end > 0 ? total : null;
}

/** A CIDR prefix or address of at most 64 characters, parsed (required). */
export function cidr(v: unknown, field: string): Cidr {
  if (v === undefined) throw new ConfigError(field, "is missing");
  if (typeof v !== "string") {
    throw new ConfigError(field, `expected an address or CIDR, got ${show(v)}`);
  }
  if (v.length > 64) throw new ConfigError(field, "longer than 64 characters");
  const c = parseCidr(v);
  if (c === null) {
    throw new ConfigError(field, `${show(v)} is not an address or CIDR`);
  }
  return c;
}

/** A CIDR prefix or address, returned normalised ("10.0.0.0/8"). */
export function cidrText(v: unknown, field: string): string {
  return cidr(v, field).text;
}

/**
 * A listen address "host:port", "[v6]:port" or ":port" (all addresses).
 * Returns the host ("0.0.0.0" for ":port") and port.
 */
export function listenAddr(
  v: unknown,
  field: string,
  fallback: string,
): { hostname: string; port: number } {
  const s = text(v, field, fallback, 300).trim();
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ConfigError(
      field,
      `expected "host:port" such as "0.0.0.0:8080", got ${show(v)}`,
    );
  }
  const hostname = m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!);
  return { hostname, port };
}
