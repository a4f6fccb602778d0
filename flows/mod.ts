/**
 * Flows and hosts: the bounded flow table (bidirectional 5-tuples, timeouts
 * in packet time, eviction under a cap), the host table, and the observer
 * shape later stages use to see packets, flow ends and ticks.
 *
 * @module
 */
export * from "./flow_table.ts";
export * from "./host_table.ts";
export type * from "./observer.ts";
export * from "./tunnel.ts";
