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
import { bool, int, type Limits, record } from "../common/validate.ts";
import { parseAddr } from "../decode/mod.ts";
import type { OpenEnricherOptions } from "./enricher.ts";
import type { OpenGeoOptions } from "./geoip.ts";
import type { RdnsOptions } from "./rdns.ts";

const CACHE: Limits = { min: 1, max: 10_000_000 };
const TTL: Limits = { min: 1, max: 30 * 86_400 };

/** The integer keys of `rdns`: option set, bounds, and the factor to the option's unit. */
const RDNS_INTS: readonly [
  string,
  | "timeoutMs"
  | "ttlMs"
  | "negativeTtlMs"
  | "failureTtlMs"
  | "cacheSize"
  | "maxInFlight"
  | "maxQueued",
  Limits,
  number,
][] = [
  ["timeout_ms", "timeoutMs", { min: 1, max: 60_000 }, 1],
  ["ttl_s", "ttlMs", TTL, 1000],
  ["negative_ttl_s", "negativeTtlMs", TTL, 1000],
  ["failure_ttl_s", "failureTtlMs", TTL, 1000],
  ["cache_size", "cacheSize", CACHE, 1],
  ["max_in_flight", "maxInFlight", { min: 1, max: 1024 }, 1],
  ["max_queued", "maxQueued", { min: 0, max: 1_000_000 }, 1],
];

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
 * `Invalid config "rdns.timeout_ms": expected an integer from 1 to 60000, got 0`.
 */
export function parseEnrichConfig(
  input: unknown,
  field = "",
): OpenEnricherOptions {
  const at = (k: string) => field === "" ? k : `${field}.${k}`;
  if (input === undefined) return {};
  const root = record(input, field || "config", ["geoip", "rdns"]);
  const out: OpenEnricherOptions = {};

  if (root.geoip !== undefined) {
    const f = at("geoip");
    const g = record(root.geoip, f, ["databases", "shipped", "cache_size"]);
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
    if (g.shipped !== undefined) geo.shipped = bool(g.shipped, `${f}.shipped`);
    if (g.cache_size !== undefined) {
      geo.cacheSize = int(g.cache_size, `${f}.cache_size`, undefined, CACHE);
    }
    out.geo = geo;
  }

  if (root.rdns !== undefined) {
    const f = at("rdns");
    const r = record(root.rdns, f, [
      "enabled",
      "server",
      ...RDNS_INTS.map(([k]) => k),
      "lookup_private",
    ]);
    // Only the keys given are set: the resolver has its own defaults.
    const rdns: RdnsOptions = {};
    if (r.enabled !== undefined) rdns.enabled = bool(r.enabled, `${f}.enabled`);
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
    for (const [k, option, limits, scale] of RDNS_INTS) {
      if (r[k] === undefined) continue;
      rdns[option] = int(r[k], `${f}.${k}`, undefined, limits) * scale;
    }
    if (r.lookup_private !== undefined) {
      rdns.lookupPrivate = bool(r.lookup_private, `${f}.lookup_private`);
    }
    out.rdns = rdns;
  }
  return out;
}
