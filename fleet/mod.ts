/**
 * Many sensors, one view: EVE to Redis in Suricata's modes (exactly once
 * from a cursor into the EVE file), and the fleet over the user's Redis
 * (heartbeats and health, every sensor's alerts, blocks shared as
 * decisions with expiry and applied through each appliance's own blocker
 * and guards; a lift anywhere lifts everywhere). A small RESP client of
 * our own talks to Redis (see resp.ts for why).
 *
 * @module
 */
export * from "./resp.ts";
export * from "./eve_redis.ts";
export * from "./config.ts";
export * from "./agent.ts";
