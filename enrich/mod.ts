/**
 * Enrichment of alerts and hosts: where an address is (GeoIP country with
 * flag and English name out of the box; city, coordinates and AS from a
 * user's MaxMind-format City/ASN files) and what it is called (reverse DNS,
 * cached, bounded and never blocking). Special-purpose ranges are labelled
 * ("LAN", "loopback", "CGNAT", …) instead of looked up.
 *
 * Used per alert and per host, never per packet. The shipped country data is
 * DB-IP Lite (CC BY 4.0): show {@link SHIPPED_GEO_ATTRIBUTION} wherever
 * results are displayed.
 *
 * @example
 * ```ts
 * import { openEnricher, parseEnrichConfig } from "../enrich/mod.ts";
 *
 * const { enricher, problems } = await openEnricher(parseEnrichConfig(config));
 * for (const p of problems) log.warn("geoip database skipped", { error: p });
 * enricher.onHostResolved((ip, host) => updateAlerts(ip, host));
 * const fields = enricher.alertFields("203.0.113.9", "10.0.0.5");
 * // { src_geo: { country, country_name, flag, … }, src_host?: "…" }
 * ```
 *
 * @module
 */
export {
  countryFlag,
  countryName,
  type Geo,
  type GeoDatabase,
  GeoDatabaseError,
  type GeoFields,
  geoFieldsFromRecord,
  GeoResolver,
  type GeoResolverOptions,
  type GeoStats,
  loadGeoDatabase,
  openGeo,
  type OpenGeoOptions,
  type OpenGeoResult,
  parseGeoDatabase,
  scopeLabel,
  SHIPPED_GEO_ATTRIBUTION,
  SHIPPED_GEO_FILE,
  SHIPPED_GEO_URL,
  type WarnLog,
} from "./geoip.ts";
export {
  cleanHostName,
  ptrName,
  type RdnsListener,
  type RdnsOptions,
  type RdnsStats,
  ReverseDns,
} from "./rdns.ts";
export {
  type AlertEnrichment,
  type AlertGeo,
  alertGeo,
  type EnrichedAddr,
  Enricher,
  type EnrichStats,
  type HostUpdate,
  openEnricher,
  type OpenEnricherOptions,
  withHost,
} from "./enricher.ts";
export { parseEnrichConfig, parseNameServer } from "./enrich_config.ts";
