/**
 * Anomaly detection: an Isolation Forest (Liu, Ting and Zhou, 2008) trained
 * on traffic declared normal, scoring finished flows on the live path.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./isolation_forest.ts";
export * from "./metrics.ts";
export * from "./prng.ts";
