/**
 * Validation of untrusted JSON (config files, API bodies, stored records):
 * small typed readers that either return the value or throw a ConfigError
 * naming the dotted field path. Absent values fall back to the default
 * given; `null` is treated as absent only where a reader says so.
 *
 * @example
 * ```ts
 * const o = record(input, "limits", ["max_flows"]);
 * const maxFlows = int(o.max_flows, "limits.max_flows", 200_000, { min: 1000 });
 * ```
 *
 * @module
 */
import { parseCidr } from "../decode/addr.ts";
import { ConfigError } from "./errors.ts";

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
  return typeof v === "object" ? "an object" : String(v);
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

/** A boolean, or `fallback` when absent. */
export function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") {
    throw new ConfigError(field, `expected true or false, got ${show(v)}`);
  }
  return v;
}

/** An integer within [min, max], or `fallback` when absent. */
export function int(
  v: unknown,
  field: string,
  fallback: number,
  limits: { min?: number; max?: number } = {},
): number {
  if (v === undefined) return fallback;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = limits;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(
      field,
      `expected an integer from ${min} to ${max}, got ${show(v)}`,
    );
  }
  return v;
}

/** A string of at most `maxLen` characters, or `fallback` when absent. */
export function text(
  v: unknown,
  field: string,
  fallback: string,
  maxLen = 4096,
): string {
  if (v === undefined) return fallback;
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

/** One of `choices`, or `fallback` when absent. */
export function oneOf<T extends string>(
  v: unknown,
  field: string,
  choices: readonly T[],
  fallback: T,
): T {
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw new ConfigError(
      field,
      `expected one of ${choices.join(", ")}, got ${show(v)}`,
    );
  }
  return v as T;
}

/** An array whose items are each read by `item` (with the index in the path). */
export function list<T>(
  v: unknown,
  field: string,
  fallback: readonly T[],
  item: (x: unknown, field: string) => T,
  maxItems = 10_000,
): T[] {
  if (v === undefined) return [...fallback];
  if (!Array.isArray(v)) {
    throw new ConfigError(field, `expected a list, got ${show(v)}`);
  }
  if (v.length > maxItems) {
    throw new ConfigError(field, `more than ${maxItems} items`);
  }
  return v.map((x, i) => item(x, `${field}[${i}]`));
}

const UNITS: Record<string, number> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
};

/**
 * A duration in seconds, written as a number of seconds or as text such as
 * "90s", "15m", "1h30m", "7d"; `fallback` when absent.
 */
export function duration(
  v: unknown,
  field: string,
  fallback: number,
  limits: { min?: number; max?: number } = {},
): number {
  if (v === undefined) return fallback;
  const { min = 0, max = 10 * 365 * 86400 } = limits;
  let s: number | null = null;
  if (typeof v === "number" && Number.isFinite(v)) s = v;
  else if (typeof v === "string") s = parseDurationText(v);
  if (s === null || s < min || s > max) {
    throw new ConfigError(
      field,
      `expected a duration from ${min}s to ${max}s (examples: 30, "90s", "15m", "1h", "7d"), got ${
        show(v)
      }`,
    );
  }
  return s;
}

/** Parses "90s", "1h30m", "7d" or "45" (seconds); null when it is not a duration. */
export function parseDurationText(t: string): number | null {
  const s = t.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)([smhdw])/gy;
  let total = 0, end = 0, m;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  return end === s.length && end > 0 ? total : null;
}

/** A CIDR prefix or address, returned normalised ("10.0.0.0/8"). */
export function cidrText(v: unknown, field: string): string {
  if (typeof v !== "string") {
    throw new ConfigError(field, `expected an address or CIDR, got ${show(v)}`);
  }
  const c = parseCidr(v);
  if (c === null) {
    throw new ConfigError(field, `${show(v)} is not an address or CIDR`);
  }
  return c.text;
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
