/**
 * Enrichment of an address (per alert, per host; never per packet): GeoIP
 * from the cached resolver and the reverse DNS name when the cache has it.
 * Alerts carry the result as `src_geo`/`dest_geo` and `src_host`/`dest_host`;
 * a name that arrives after the alert went out is delivered through
 * {@link Enricher.onHostResolved} so the alert can be updated.
 *
 * @module
 */
import {
  type Geo,
  type GeoDatabaseError,
  GeoResolver,
  type GeoStats,
  openGeo,
  type OpenGeoOptions,
} from "./geoip.ts";
import {
  type RdnsListener,
  type RdnsOptions,
  type RdnsStats,
  ReverseDns,
} from "./rdns.ts";

/** What is known about one address. */
export interface EnrichedAddr {
  /** GeoIP facts, or a `scope` label for special-purpose ranges. */
  readonly geo: Geo;
  /** The reverse DNS name, when the cache has one. */
  readonly host?: string;
}

/** The GeoIP fields an alert, a host or a top-talker row carries. */
export interface AlertGeo {
  /** ISO country code ("DE"). */
  readonly country?: string;
  /** English country name ("Germany"). */
  readonly country_name?: string;
  /** Flag emoji ("🇩🇪"). */
  readonly flag?: string;
  /** City, when a City database is configured. */
  readonly city?: string;
  /** AS number, when an ASN database is configured. */
  readonly asn?: number;
  /** AS organisation, when an ASN database is configured. */
  readonly org?: string;
}

/** The enrichment fields of an alert (inside its `netsentinel` object). */
export interface AlertEnrichment {
  /** Where the source is, when known. */
  src_geo?: AlertGeo;
  /** Where the destination is, when known. */
  dest_geo?: AlertGeo;
  /** The source's reverse DNS name, when known. */
  src_host?: string;
  /** The destination's reverse DNS name, when known. */
  dest_host?: string;
}

/**
 * Picks the alert fields (`country`, `country_name`, `flag`, `city`, `asn`,
 * `org`) out of a {@link Geo}; undefined when it has none of them (LAN and
 * other labelled addresses, unknown ones).
 */
export function alertGeo(geo: Geo): AlertGeo | undefined {
  const out: { -readonly [K in keyof AlertGeo]: AlertGeo[K] } = {};
  if (geo.country !== undefined) out.country = geo.country;
  if (geo.country_name !== undefined) out.country_name = geo.country_name;
  if (geo.flag !== undefined) out.flag = geo.flag;
  if (geo.city !== undefined) out.city = geo.city;
  if (geo.asn !== undefined) out.asn = geo.asn;
  if (geo.org !== undefined) out.org = geo.org;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A late reverse DNS answer for one of an alert's two addresses. */
export interface HostUpdate {
  /** The alert's source address. */
  readonly src: string;
  /** The alert's destination address. */
  readonly dest: string;
  /** The address the answer is for. */
  readonly ip: string;
  /** The name found, or null when there is none. */
  readonly host: string | null;
}

/**
 * Applies a late reverse DNS answer to an alert's enrichment: returns a
 * copy of `fields` (other keys kept) with `src_host` and/or `dest_host` set
 * when the answer is for the alert's source or destination and the name is
 * new, or null when nothing changes.
 *
 * @example
 * ```ts
 * enricher.onHostResolved((ip, host) => {
 *   const upd = withHost(alert.netsentinel, {
 *     src: alert.src_ip, dest: alert.dest_ip, ip, host,
 *   });
 *   if (upd) publishUpdate(alert.netsentinel.id, upd);
 * });
 * ```
 */
export function withHost<T extends AlertEnrichment>(
  fields: T,
  update: HostUpdate,
): T | null {
  const { src, dest, ip, host } = update;
  if (host === null) return null;
  const setSrc = ip === src && fields.src_host !== host;
  const setDest = ip === dest && fields.dest_host !== host;
  if (!setSrc && !setDest) return null;
  const out = { ...fields };
  if (setSrc) out.src_host = host;
  if (setDest) out.dest_host = host;
  return out;
}

/** Counters of an {@link Enricher}, for `/metrics`. */
export interface EnrichStats {
  /** GeoIP counters. */
  geo: GeoStats;
  /** Reverse DNS counters. */
  rdns: RdnsStats;
}

/**
 * GeoIP plus reverse DNS for alerts and hosts. Synchronous lookups answer
 * from caches at once (starting a background PTR query when needed); the
 * asynchronous one waits a short bound for the name.
 */
export class Enricher {
  /** The GeoIP resolver. */
  readonly geo: GeoResolver;
  /** The reverse DNS resolver. */
  readonly rdns: ReverseDns;

  /** Combines a GeoIP resolver and a reverse DNS resolver. */
  constructor(geo: GeoResolver, rdns: ReverseDns) {
    this.geo = geo;
    this.rdns = rdns;
  }

  /**
   * GeoIP facts and the cached host name of an address. Cheap (two cache
   * reads when warm), synchronous and never blocking; starts a background
   * reverse lookup when the name is not cached yet.
   */
  enrichAddr(ip: string): EnrichedAddr {
    const geo = this.geo.lookup(ip);
    const host = this.rdns.lookup(ip);
    return typeof host === "string" ? { geo, host } : { geo };
  }

  /**
   * The `src_geo`, `dest_geo`, `src_host` and `dest_host` fields for an
   * alert between two addresses, from the caches (fields that are not known
   * are left out). Names still pending arrive later through
   * {@link onHostResolved}.
   *
   * @example
   * ```ts
   * const alert = { ..., netsentinel: { ..., ...enricher.alertFields(src, dst) } };
   * ```
   */
  alertFields(src: string, dest: string): AlertEnrichment {
    return this.#fields(
      this.geo.lookup(src),
      this.geo.lookup(dest),
      this.rdns.lookup(src),
      this.rdns.lookup(dest),
    );
  }

  /**
   * Like {@link alertFields}, but waits up to `maxWaitMs` (both addresses in
   * parallel) for reverse DNS answers that are not cached yet.
   */
  async alertFieldsWithin(
    src: string,
    dest: string,
    maxWaitMs: number,
  ): Promise<AlertEnrichment> {
    const [sh, dh] = await Promise.all([
      this.rdns.resolve(src, maxWaitMs),
      this.rdns.resolve(dest, maxWaitMs),
    ]);
    return this.#fields(this.geo.lookup(src), this.geo.lookup(dest), sh, dh);
  }

  #fields(
    sg: Geo,
    dg: Geo,
    sh: string | null | undefined,
    dh: string | null | undefined,
  ): AlertEnrichment {
    const out: AlertEnrichment = {};
    const s = alertGeo(sg);
    const d = alertGeo(dg);
    if (s !== undefined) out.src_geo = s;
    if (d !== undefined) out.dest_geo = d;
    if (typeof sh === "string") out.src_host = sh;
    if (typeof dh === "string") out.dest_host = dh;
    return out;
  }

  /**
   * Calls `listener(ip, host)` each time a background reverse lookup
   * finishes (host null when there is no name). Returns the unsubscribe
   * function.
   */
  onHostResolved(listener: RdnsListener): () => void {
    return this.rdns.onResolved(listener);
  }

  /** Current counters of both parts. */
  stats(): EnrichStats {
    return { geo: this.geo.stats(), rdns: this.rdns.stats() };
  }

  /** Aborts running reverse lookups; see {@link ReverseDns.close}. */
  close(): Promise<void> {
    return this.rdns.close();
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Options of {@link openEnricher}. */
export interface OpenEnricherOptions {
  /** GeoIP databases and cache (see {@link openGeo}). */
  geo?: OpenGeoOptions;
  /** Reverse DNS settings (see {@link ReverseDns}). */
  rdns?: RdnsOptions;
}

/**
 * Opens the GeoIP databases and sets up reverse DNS. Never throws for a bad
 * database: those are returned in `problems` and the rest still work.
 *
 * @example
 * ```ts
 * const { enricher, problems } = await openEnricher({
 *   geo: { extra: config.geoip.databases, log },
 *   rdns: { enabled: config.rdns.enabled, log },
 * });
 * ```
 */
export async function openEnricher(
  opts: OpenEnricherOptions = {},
): Promise<{ enricher: Enricher; problems: GeoDatabaseError[] }> {
  const { resolver, problems } = await openGeo(opts.geo);
  return {
    enricher: new Enricher(resolver, new ReverseDns(opts.rdns)),
    problems,
  };
}
