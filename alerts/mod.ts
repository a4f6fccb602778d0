/**
 * Alerts: the one alert schema (EVE JSON compatible), the detection policy
 * (validated, with shipped defaults and a holder that keeps the old policy
 * when a new one is invalid), deterministic time-ordered alert ids, and the
 * aggregator that filters (disabled, allow-listed, suppressed), folds
 * repeats into one alert per (type, source, target) and window, caps the
 * rate of new alerts, and hands alerts to sinks.
 *
 * @module
 */
export * from "./alert.ts";
export * from "./alert_id.ts";
export * from "./aggregator.ts";
export * from "./policy.ts";
export * from "./alert_csv.ts";
