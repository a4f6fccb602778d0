/**
 * GeoIP lookups: country (with flag and English name), city, coordinates and
 * AS number/organisation for an address, from one or more MaxMind-format
 * databases merged in order. Special-purpose ranges (LAN, loopback, CGNAT, …)
 * are labelled instead of looked up. Results go through a bounded LRU cache.
 *
 * The shipped database is country level (DB-IP Lite, CC BY 4.0) and sits in
 * `data/geo/`; a user may add City or ASN files of any MaxMind-format schema
 * (GeoLite2, DB-IP, ipinfo, ip-location-db): the fields are read from
 * whichever keys the records have.
 *
 * Meant for alerts and hosts, never for the per-packet path.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { Reader } from "npm:mmdb-lib@3.0.3";
import { UserError } from "../common/errors.ts";
import {
  type AddrScope,
  addrScope,
  formatAddr,
  parseHostAddr,
} from "../decode/mod.ts";
import { Lru } from "./_lru.ts";

/**
 * What is known about one address. Every field is optional: a country-level
 * database gives `country`, `country_name` and `flag`; a City database adds
 * `city`, `lat` and `lon`; an ASN database adds `asn` and `org`. Addresses in
 * special-purpose ranges get only `scope`.
 */
export interface Geo {
  /** ISO 3166-1 alpha-2 country code, upper case ("DE"). */
  readonly country?: string;
  /** English country name ("Germany"). */
  readonly country_name?: string;
  /** The country's flag emoji ("🇩🇪"). */
  readonly flag?: string;
  /** English city name, when a City database knows it. */
  readonly city?: string;
  /** Latitude in degrees (-90..90), when a City database knows it. */
  readonly lat?: number;
  /** Longitude in degrees (-180..180), when a City database knows it. */
  readonly lon?: number;
  /** Autonomous system number, when an ASN database knows it. */
  readonly asn?: number;
  /** Organisation owning the AS (or ISP), when a database knows it. */
  readonly org?: string;
  /**
   * Set instead of the fields above for addresses that are not looked up:
   * "LAN" (RFC 1918 and IPv6 unique-local), "loopback", "link-local",
   * "CGNAT", "multicast", "broadcast", "unspecified", "documentation".
   */
  readonly scope?: string;
}

/** A GeoIP database could not be opened: unreadable, wrong format or corrupt. */
export class GeoDatabaseError extends UserError {
  /** The file as the user named it. */
  readonly path: string;
  /**
   * Creates the error: `Cannot open GeoIP database "<path>": <detail>`.
   *
   * @example
   * ```ts
   * new GeoDatabaseError("x.mmdb", "not a MaxMind DB file").message;
   * // 'Cannot open GeoIP database "x.mmdb": not a MaxMind DB file'
   * ```
   */
  constructor(path: string, detail: string, options?: ErrorOptions) {
    super(`Cannot open GeoIP database "${path}": ${detail}`, options);
    this.name = "GeoDatabaseError";
    this.path = path;
  }
}

/** File name of the shipped country database inside `data/geo/`. */
export const SHIPPED_GEO_FILE = "dbip-country.mmdb";

/**
 * Where the shipped country database is: beside the code, found through
 * `import.meta.url`, so it also resolves inside a `deno compile` binary built
 * with `--include data/geo/`.
 */
export const SHIPPED_GEO_URL: URL = new URL(
  `../data/geo/${SHIPPED_GEO_FILE}`,
  import.meta.url,
);

/**
 * The credit the shipped database's licence (CC BY 4.0) asks for: show it
 * with a link wherever GeoIP results are displayed (README, dashboard footer).
 */
export const SHIPPED_GEO_ATTRIBUTION: {
  readonly text: string;
  readonly url: string;
  readonly licence: string;
} = Object.freeze({
  text: "IP Geolocation by DB-IP",
  url: "https://db-ip.com",
  licence: "CC BY 4.0",
});

/** One opened MaxMind-format database. */
export interface GeoDatabase {
  /** The file as the user named it (or the shipped file's path). */
  readonly path: string;
  /** `database_type` from the metadata, e.g. "GeoLite2-City". */
  readonly type: string;
  /** 4 for an IPv4-only tree, 6 for a tree holding both families. */
  readonly ipVersion: 4 | 6;
  /** When the database was built. */
  readonly buildEpoch: Date;
  /** Size of the file in memory, in bytes. */
  readonly bytes: number;
  /**
   * The raw record for a normalised address text (as {@link formatAddr}
   * writes it), or null when the database has none.
   */
  record(addr: string, version: 4 | 6): unknown;
}

const METADATA_MARKER = new Uint8Array([
  0xab,
  0xcd,
  0xef,
  ...new TextEncoder().encode("MaxMind.com"),
]);
const METADATA_MAX = 128 * 1024;

function findMarker(bytes: Uint8Array): number {
  const m = METADATA_MARKER;
  const stop = Math.max(0, bytes.length - METADATA_MAX);
  for (let i = bytes.length - m.length; i >= stop; i--) {
    let j = 0;
    while (j < m.length && bytes[i + j] === m[j]) j++;
    if (j === m.length) return i;
  }
  return -1;
}

function isLegacyGeoIp(bytes: Uint8Array): boolean {
  // GeoIP Legacy .dat files end their structure info with 0xFF 0xFF 0xFF.
  for (let i = 0; i < 20 && bytes.length - 3 - i >= 0; i++) {
    const o = bytes.length - 3 - i;
    if (bytes[o] === 0xff && bytes[o + 1] === 0xff && bytes[o + 2] === 0xff) {
      return true;
    }
  }
  return false;
}

function displayPath(path: string | URL): string {
  if (typeof path === "string") return path;
  return path.protocol === "file:" ? fileURLToPath(path) : path.href;
}

/**
 * Checks and opens a MaxMind DB held in memory. `path` only names it in
 * errors. Gzip-compressed bytes are not accepted here (see
 * {@link loadGeoDatabase}).
 *
 * @throws {GeoDatabaseError} when the bytes are not a usable MaxMind DB.
 */
export function parseGeoDatabase(bytes: Uint8Array, path: string): GeoDatabase {
  if (findMarker(bytes) < 0) {
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      throw new GeoDatabaseError(path, "gzip-compressed (unpack it first)");
    }
    if (bytes.length > 0 && isLegacyGeoIp(bytes)) {
      throw new GeoDatabaseError(
        path,
        "legacy GeoIP .dat format (use a MaxMind DB .mmdb file)",
      );
    }
    throw new GeoDatabaseError(path, "not a MaxMind DB file");
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let reader: Reader<Record<string, unknown>>;
  try {
    reader = new Reader<Record<string, unknown>>(buf);
  } catch (e) {
    throw new GeoDatabaseError(
      path,
      `corrupt MaxMind DB file: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const md = reader.metadata;
  const problem = md.binaryFormatMajorVersion !== 2
    ? `unsupported format version ${md.binaryFormatMajorVersion}`
    : md.ipVersion !== 4 && md.ipVersion !== 6
    ? `bad IP version ${md.ipVersion}`
    : !(md.nodeCount > 0) || md.searchTreeSize + 16 > bytes.length
    ? "corrupt MaxMind DB file: search tree larger than the file"
    : null;
  if (problem !== null) throw new GeoDatabaseError(path, problem);
  const ipVersion = md.ipVersion as 4 | 6;
  const db: GeoDatabase = {
    path,
    type: typeof md.databaseType === "string" ? md.databaseType : "",
    ipVersion,
    buildEpoch: md.buildEpoch,
    bytes: bytes.length,
    record(addr: string, version: 4 | 6): unknown {
      if (version === 6 && ipVersion === 4) return null;
      return reader.get(addr);
    },
  };
  try {
    // One probe walks the tree and decodes a record: a truncated or damaged
    // file fails here, at open, rather than on the first alert.
    db.record("1.1.1.1", 4);
    if (ipVersion === 6) db.record("2001:4860::1", 6);
  } catch (e) {
    throw new GeoDatabaseError(
      path,
      `corrupt MaxMind DB file: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return db;
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function readErrorDetail(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "file not found";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  return e instanceof Error ? e.message : String(e);
}

/**
 * Reads and opens a MaxMind DB file (`.mmdb`, or `.mmdb.gz` which is unpacked
 * in memory). The whole file is read into memory with `Deno.readFile` (no
 * file watchers), so it also works for files embedded in a compiled binary.
 *
 * @throws {GeoDatabaseError} when the file cannot be read or is not a usable
 * MaxMind DB, e.g. `Cannot open GeoIP database "x.mmdb": not a MaxMind DB file`.
 */
export async function loadGeoDatabase(
  path: string | URL,
): Promise<GeoDatabase> {
  const name = displayPath(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new GeoDatabaseError(name, readErrorDetail(e), { cause: e });
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzip(bytes);
    } catch (e) {
      throw new GeoDatabaseError(
        name,
        `corrupt gzip data: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  return parseGeoDatabase(bytes, name);
}

// ---------------------------------------------------------------------------
// Field extraction: schema-agnostic.

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Obj
    : undefined;
}

const MAX_TEXT = 200;

function text(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  // Control characters would reach logs and terminals: refuse the value.
  // deno-lint-ignore no-control-regex
  if (t === "" || t.length > MAX_TEXT || /[\u0000-\u001f\u007f]/.test(t)) {
    return undefined;
  }
  return t;
}

function englishName(v: unknown): string | undefined {
  const o = obj(v);
  if (o === undefined) return undefined;
  const names = obj(o.names);
  return text(names?.en) ?? text(o.name);
}

function countryCode(v: unknown): string | undefined {
  const t = typeof v === "string" ? v.trim() : "";
  return /^[A-Za-z]{2}$/.test(t) ? t.toUpperCase() : undefined;
}

function finite(v: unknown, min: number, max: number): number | undefined {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n >= min && n <= max
    ? n
    : undefined;
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === "string") {
    const m = /^\s*(?:AS)?(\d{1,10})\s*$/i.exec(v);
    v = m ? Number(m[1]) : undefined;
  }
  if (typeof v === "bigint") v = Number(v);
  return typeof v === "number" && Number.isInteger(v) && v >= 0 &&
      v <= 0xffffffff
    ? v
    : undefined;
}

function first<T>(...vals: (T | undefined)[]): T | undefined {
  for (const v of vals) if (v !== undefined) return v;
  return undefined;
}

/** The fields one database record gives, before names and flags are added. */
export interface GeoFields {
  /** Upper-case ISO country code. */
  country?: string;
  /** The database's own English country name. */
  country_name?: string;
  /** English city name. */
  city?: string;
  /** Latitude in degrees. */
  lat?: number;
  /** Longitude in degrees. */
  lon?: number;
  /** AS number. */
  asn?: number;
  /** AS organisation or ISP. */
  org?: string;
}

/**
 * Extracts what a database record knows, whatever its schema: GeoIP2/GeoLite2
 * and DB-IP (`country.iso_code`, `registered_country.iso_code`,
 * `city.names.en`, `location.latitude/longitude`,
 * `autonomous_system_number/organization`, `traits.*`), ip-location-db
 * (`country_code`, `city`, `latitude`, `longitude`), ipinfo (`country_code`,
 * `country` name, `asn` as "AS15169", `as_name`) and similar flat shapes.
 * Values of the wrong type or range are ignored.
 *
 * @example
 * ```ts
 * geoFieldsFromRecord({ country: { iso_code: "de" }, asn: "AS3320" });
 * // { country: "DE", asn: 3320 }
 * ```
 */
export function geoFieldsFromRecord(record: unknown): GeoFields {
  const r = obj(record);
  const out: GeoFields = {};
  if (r === undefined) return out;
  const country = obj(r.country);
  const registered = obj(r.registered_country);
  const location = obj(r.location);
  const traits = obj(r.traits);

  const code = first(
    countryCode(country?.iso_code),
    countryCode(r.country_code),
    countryCode(r.country_iso_code),
    countryCode(r.country),
    countryCode(registered?.iso_code),
  );
  if (code !== undefined) out.country = code;
  // ipinfo's `country` is a name ("Germany"), others' a code ("DE").
  const countryText = countryCode(r.country) === undefined
    ? text(r.country)
    : undefined;
  const cname = first(
    englishName(r.country),
    text(r.country_name),
    countryText,
  );
  if (cname !== undefined) out.country_name = cname;

  const city = first(englishName(r.city), text(r.city), text(r.city_name));
  if (city !== undefined) out.city = city;

  const lat = first(
    finite(location?.latitude, -90, 90),
    finite(r.latitude, -90, 90),
    finite(r.lat, -90, 90),
  );
  const lon = first(
    finite(location?.longitude, -180, 180),
    finite(r.longitude, -180, 180),
    finite(r.lon, -180, 180),
    finite(r.lng, -180, 180),
  );
  if (lat !== undefined && lon !== undefined) {
    out.lat = lat;
    out.lon = lon;
  }

  const asn = first(
    asNumber(r.autonomous_system_number),
    asNumber(r.asn),
    asNumber(traits?.autonomous_system_number),
  );
  if (asn !== undefined) out.asn = asn;
  const org = first(
    text(r.autonomous_system_organization),
    text(r.as_name),
    text(r.as_org),
    text(r.organization),
    text(traits?.autonomous_system_organization),
    text(traits?.organization),
    text(traits?.isp),
    text(r.isp),
    text(r.org),
  );
  if (org !== undefined) out.org = org;
  return out;
}

// ---------------------------------------------------------------------------
// Country names and flags.

let regionNames: Intl.DisplayNames | undefined;
// At most 26 × 26 entries: the input is checked to be two letters first.
const nameMemo = new Map<string, string | null>();

/**
 * English name of an ISO 3166-1 alpha-2 region code, from the runtime's ICU
 * data (`Intl.DisplayNames`, memoised per code); undefined for codes it does
 * not know.
 *
 * @example
 * ```ts
 * countryName("de"); // "Germany"
 * ```
 */
export function countryName(code: string): string | undefined {
  const c = code.toUpperCase();
  if (!/^[A-Z]{2}$/.test(c) || c === "ZZ") return undefined;
  let name = nameMemo.get(c);
  if (name === undefined) {
    regionNames ??= new Intl.DisplayNames(["en"], {
      type: "region",
      fallback: "none",
    });
    try {
      name = regionNames.of(c) ?? null;
    } catch {
      // Codes ICU rejects outright are unknown regions, like those it skips.
      name = null;
    }
    nameMemo.set(c, name);
  }
  return name ?? undefined;
}

/**
 * The flag emoji of a two-letter country code: two regional indicator
 * symbols. Undefined for codes that are not a known region.
 *
 * @example
 * ```ts
 * countryFlag("DE"); // "🇩🇪"
 * ```
 */
export function countryFlag(code: string): string | undefined {
  const c = code.toUpperCase();
  if (countryName(c) === undefined) return undefined;
  return String.fromCodePoint(
    0x1f1e6 + c.charCodeAt(0) - 65,
    0x1f1e6 + c.charCodeAt(1) - 65,
  );
}

/**
 * The label shown instead of a location for special-purpose addresses, or
 * undefined for public ones (which are looked up).
 */
export function scopeLabel(scope: AddrScope): string | undefined {
  switch (scope) {
    case "public":
      return undefined;
    case "private":
    case "unique-local":
      return "LAN";
    case "loopback":
      return "loopback";
    case "link-local":
      return "link-local";
    case "cgnat":
      return "CGNAT";
    case "multicast":
      return "multicast";
    case "broadcast":
      return "broadcast";
    case "unspecified":
      return "unspecified";
    case "documentation":
      return "documentation";
    default: {
      const unhandled: never = scope;
      return unhandled;
    }
  }
}

// ---------------------------------------------------------------------------
// The resolver.

/** Counters of a {@link GeoResolver}, for `/metrics`. */
export interface GeoStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that went to the databases (or the scope check). */
  misses: number;
  /** Database reads that threw (a damaged file); the address got no data. */
  errors: number;
  /** Entries in the cache now. */
  cache_size: number;
  /** Entries dropped from the full cache. */
  evictions: number;
}

/** Options of {@link GeoResolver}. */
export interface GeoResolverOptions {
  /** Addresses kept in the LRU cache (default 10,000). */
  cacheSize?: number;
}

const EMPTY: Geo = Object.freeze({});

/**
 * Looks addresses up in several databases merged in order (earlier ones win
 * field by field, so put a user's City database before the shipped country
 * one), labels special-purpose ranges, and caches results per address text.
 * Results are frozen and shared: do not mutate them.
 */
export class GeoResolver {
  /** The databases consulted, in order. */
  readonly databases: readonly GeoDatabase[];
  readonly #cache: Lru<string, Geo>;
  #hits = 0;
  #misses = 0;
  #errors = 0;

  /** Creates a resolver over opened databases (none is allowed: labels only). */
  constructor(
    databases: readonly GeoDatabase[],
    opts: GeoResolverOptions = {},
  ) {
    this.databases = [...databases];
    this.#cache = new Lru(opts.cacheSize ?? 10_000);
  }

  /**
   * What is known about an address (IPv4 or IPv6 text). Never throws: bad
   * text or an unknown address gives an empty object.
   *
   * @example
   * ```ts
   * const { resolver } = await openGeo();
   * resolver.lookup("193.0.0.1").country; // "NL"
   * resolver.lookup("10.0.0.1").scope; // "LAN"
   * ```
   */
  lookup(ip: string): Geo {
    const cached = this.#cache.get(ip);
    if (cached !== undefined) {
      this.#hits++;
      return cached;
    }
    this.#misses++;
    const geo = this.#compute(ip);
    this.#cache.set(ip, geo);
    return geo;
  }

  #compute(ip: string): Geo {
    const addr = parseHostAddr(ip);
    if (addr === null) return EMPTY;
    const label = scopeLabel(addrScope(addr.version, addr.words));
    if (label !== undefined) return Object.freeze({ scope: label });
    const key = formatAddr(addr.version, addr.words);
    const merged: GeoFields = {};
    for (const db of this.databases) {
      let rec: unknown;
      try {
        rec = db.record(key, addr.version);
      } catch {
        // A damaged region of a user's file: counted in `errors`, and the
        // other databases still answer.
        this.#errors++;
        continue;
      }
      if (rec === null || rec === undefined) continue;
      const f = geoFieldsFromRecord(rec);
      merged.country ??= f.country;
      merged.country_name ??= f.country_name;
      merged.city ??= f.city;
      if (merged.lat === undefined && f.lat !== undefined) {
        merged.lat = f.lat;
        merged.lon = f.lon;
      }
      merged.asn ??= f.asn;
      merged.org ??= f.org;
    }
    return buildGeo(merged);
  }

  /** Current counters. */
  stats(): GeoStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      errors: this.#errors,
      cache_size: this.#cache.size,
      evictions: this.#cache.evictions,
    };
  }
}

function buildGeo(f: GeoFields): Geo {
  const g: {
    -readonly [K in keyof Geo]: Geo[K];
  } = {};
  if (f.country !== undefined) {
    g.country = f.country;
    const name = countryName(f.country) ?? f.country_name;
    if (name !== undefined) g.country_name = name;
    const flag = countryFlag(f.country);
    if (flag !== undefined) g.flag = flag;
  } else if (f.country_name !== undefined) {
    g.country_name = f.country_name;
  }
  if (f.city !== undefined) g.city = f.city;
  if (f.lat !== undefined && f.lon !== undefined) {
    g.lat = f.lat;
    g.lon = f.lon;
  }
  if (f.asn !== undefined) g.asn = f.asn;
  if (f.org !== undefined) g.org = f.org;
  return Object.freeze(g);
}

/** A sink for warnings; the shared logger fits. */
export interface WarnLog {
  /** Writes one warning with a fixed message and data in fields. */
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link openGeo}. */
export interface OpenGeoOptions {
  /**
   * User databases (City, ASN, …), consulted before the shipped one, in
   * order. One that cannot be opened is reported in `problems` and skipped.
   */
  extra?: readonly (string | URL)[];
  /**
   * The shipped country database: true (default) for the one in
   * `data/geo/`, false for none, or another path.
   */
  shipped?: boolean | string | URL;
  /** Addresses kept in the LRU cache (default 10,000). */
  cacheSize?: number;
  /** Where to warn about each problem (besides returning it). */
  log?: WarnLog;
}

/** What {@link openGeo} returns. */
export interface OpenGeoResult {
  /** A working resolver over every database that opened. */
  resolver: GeoResolver;
  /** One error per database that could not be opened. */
  problems: GeoDatabaseError[];
}

/**
 * Opens the user's databases and the shipped one and returns a resolver over
 * those that opened, plus the errors of those that did not. It never throws
 * for a bad database: a wrong user file falls back to the shipped data, and
 * with no database at all the resolver still labels special ranges.
 *
 * @example
 * ```ts
 * const { resolver, problems } = await openGeo({ extra: ["/etc/GeoLite2-City.mmdb"], log });
 * for (const p of problems) console.error(p.message);
 * resolver.lookup("8.8.8.8"); // { country: "US", country_name: "United States", flag: "🇺🇸", … }
 * ```
 */
export async function openGeo(
  opts: OpenGeoOptions = {},
): Promise<OpenGeoResult> {
  const paths: (string | URL)[] = [...(opts.extra ?? [])];
  const shipped = opts.shipped ?? true;
  if (shipped !== false) {
    paths.push(shipped === true ? SHIPPED_GEO_URL : shipped);
  }
  const databases: GeoDatabase[] = [];
  const problems: GeoDatabaseError[] = [];
  for (const p of paths) {
    try {
      databases.push(await loadGeoDatabase(p));
    } catch (e) {
      if (!(e instanceof GeoDatabaseError)) throw e;
      problems.push(e);
      opts.log?.warn("geoip database skipped", {
        path: e.path,
        error: e.message,
      });
    }
  }
  return {
    resolver: new GeoResolver(databases, { cacheSize: opts.cacheSize }),
    problems,
  };
}
