/**
 * Responding to alerts: the EVE JSON log, and blocking with nftables by
 * policy without ever locking out the owner (the blocker, its policy, the
 * never-block guard, the nft runner).
 *
 * @module
 */
export * from "./eve_log.ts";
export * from "./policy.ts";
export * from "./protected.ts";
export * from "./nft.ts";
export * from "./blocker.ts";
export { durationSeconds, formatDuration } from "./_duration.ts";
