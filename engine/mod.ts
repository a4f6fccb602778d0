/**
 * The engine: runs frame batches through decoding, flows and hosts, and the
 * observers of later stages.
 *
 * @module
 */
export * from "./pipeline.ts";
