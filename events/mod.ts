/**
 * EVE JSON: Suricata's field names and formats, and protocol events (dns,
 * http, tls, flow) built from pipeline observations.
 *
 * @module
 */
export * from "./eve.ts";
export * from "./protocol_events.ts";
