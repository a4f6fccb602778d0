/**
 * Pcap on alert: a bounded ring of recent packets per flow (the first and
 * last 32 of each, in preallocated slots under a memory cap) and, for each
 * alert, a pcap of the packets of the flows behind it, written off the
 * packet path into a folder capped in size (oldest removed first).
 *
 * @module
 */
export * from "./ring.ts";
export * from "./store.ts";
