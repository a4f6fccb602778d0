/**
 * The enrichment part of the config file, validated once into the options
 * of {@link openEnricher}:
 *
 * ```json
 * {
 *   "geoip": {
 *     "databases": ["/var/lib/netsentinel/GeoLite2-City.mmdb", "/var/lib/netsentinel/GeoLite2-ASN.mmdb"],
 *     "shipped": true,
 *     "cache_size": 10000
 *   },
 *   "rdns": {
 *     "enabled": true,
 *     "server": "192.168.1.1:53",
 *     "timeout_ms": 2000,
 *     "ttl_s": 3600,
 *     "negative_ttl_s": 600,
 *     "failure_ttl_s": 60,
 *     "cache_size": 4096,
 *     "max_in_flight": 8,
 *     "max_queued": 256,
 *     "lookup_private": true
 *   }
 * }
 * ```
 *
 * Every key is optional; unknown keys are errors (they are usually typos).
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { parseAddr } from "../decode/mod.ts";
import type { OpenEnricherOptions } from "./enricher.ts";
import type { OpenGeoOptions } from "./geoip.ts";
import type { RdnsOptions } from "./rdns.ts";

type Obj = Record<string, unknown>;

function object(v: unknown, field: string, keys: readonly string[]): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError(field, "expected an object");
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) {
      throw new ConfigError(
        `${field}.${k}`,
        `unknown key (known: ${keys.join(", ")})`,
      );
    }
  }
  return v as Obj;
}

function bool(o: Obj, key: string, field: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") {
    throw new ConfigError(`${field}.${key}`, "expected true or false");
  }
  return v;
}

function int(
  o: Obj,
  key: string,
  field: string,
  min: number,
  max: number,
): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(
      `${field}.${key}`,
      `expected an integer from ${min} to ${max}`,
    );
  }
  return v;
}

/**
 * Parses a resolver address: "192.168.1.1", "192.168.1.1:5353", "::1" or
 * "[::1]:53". Returns null when it is not one.
 */
export function parseNameServer(
  text: string,
): { ipAddr: string; port: number } | null {
  let host = text.trim();
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(host);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (/^[\d.]+:\d{1,5}$/.test(host)) {
    const i = host.lastIndexOf(":");
    port = Number(host.slice(i + 1));
    host = host.slice(0, i);
  }
  if (port < 1 || port > 65_535 || parseAddr(host) === null) return null;
  return { ipAddr: host, port };
}

/**
 * Validates the `geoip` and `rdns` sections of the config (pass the object
 * holding them; undefined means all defaults) and returns the options of
 * {@link openEnricher}.
 *
 * @throws {ConfigError} naming the field, e.g.
 * `Invalid config "rdns.timeout_ms": expected an integer from 1 to 60000`.
 */
export function parseEnrichConfig(
  input: unknown,
  field = "",
): OpenEnricherOptions {
  const at = (k: string) => field === "" ? k : `${field}.${k}`;
  if (input === undefined) return {};
  const root = object(input, field || "config", ["geoip", "rdns"]);
  const out: OpenEnricherOptions = {};

  if (root.geoip !== undefined) {
    const f = at("geoip");
    const g = object(root.geoip, f, ["databases", "shipped", "cache_size"]);
    const geo: OpenGeoOptions = {};
    if (g.databases !== undefined) {
      if (
        !Array.isArray(g.databases) ||
        !g.databases.every((p) => typeof p === "string" && p.trim() !== "")
      ) {
        throw new ConfigError(
          `${f}.databases`,
          "expected a list of .mmdb file paths",
        );
      }
      geo.extra = g.databases as string[];
    }
    const shipped = bool(g, "shipped", f);
    if (shipped !== undefined) geo.shipped = shipped;
    const cacheSize = int(g, "cache_size", f, 1, 10_000_000);
    if (cacheSize !== undefined) geo.cacheSize = cacheSize;
    out.geo = geo;
  }

  if (root.rdns !== undefined) {
    const f = at("rdns");
    const r = object(root.rdns, f, [
      "enabled",
      "server",
      "timeout_ms",
      "ttl_s",
      "negative_ttl_s",
      "failure_ttl_s",
      "cache_size",
      "max_in_flight",
      "max_queued",
      "lookup_private",
    ]);
    const rdns: RdnsOptions = {};
    const enabled = bool(r, "enabled", f);
    if (enabled !== undefined) rdns.enabled = enabled;
    if (r.server !== undefined) {
      const ns = typeof r.server === "string"
        ? parseNameServer(r.server)
        : null;
      if (ns === null) {
        throw new ConfigError(
          `${f}.server`,
          'expected an IP address with an optional port ("192.168.1.1:53")',
        );
      }
      rdns.nameServer = ns;
    }
    const timeout = int(r, "timeout_ms", f, 1, 60_000);
    if (timeout !== undefined) rdns.timeoutMs = timeout;
    const month = 30 * 86_400;
    const ttl = int(r, "ttl_s", f, 1, month);
    if (ttl !== undefined) rdns.ttlMs = ttl * 1000;
    const neg = int(r, "negative_ttl_s", f, 1, month);
    if (neg !== undefined) rdns.negativeTtlMs = neg * 1000;
    const fail = int(r, "failure_ttl_s", f, 1, month);
    if (fail !== undefined) rdns.failureTtlMs = fail * 1000;
    const cache = int(r, "cache_size", f, 1, 10_000_000);
    if (cache !== undefined) rdns.cacheSize = cache;
    const inFlight = int(r, "max_in_flight", f, 1, 1024);
    if (inFlight !== undefined) rdns.maxInFlight = inFlight;
    const queued = int(r, "max_queued", f, 0, 1_000_000);
    if (queued !== undefined) rdns.maxQueued = queued;
    const priv = bool(r, "lookup_private", f);
    if (priv !== undefined) rdns.lookupPrivate = priv;
    out.rdns = rdns;
  }
  return out;
}
