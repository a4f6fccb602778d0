/**
 * Storage: Deno KV at `<dataDir>/netsentinel.kv` holding alerts (with
 * retention and indexes by source, type and time), live delivery through an
 * alert log head, blocks, the allowlist, block decisions, hosts, stats
 * rollups, the config, users, sessions and API tokens. Writes of the hot
 * path go through the batching {@link StoreWriter}.
 *
 * @module
 */
export * from "./store.ts";
export * from "./keys.ts";
export * from "./limits.ts";
export * from "./alerts.ts";
export * from "./writer.ts";
export * from "./inbox.ts";
export * from "./hosts.ts";
export * from "./devices.ts";
export * from "./blocks.ts";
export * from "./auth.ts";
