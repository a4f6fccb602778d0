/**
 * Reassembly: the stage between flows and protocol parsing. Turns the TCP
 * segments of every tracked flow, both directions, into in-order byte
 * streams (held out-of-order segments, one overlap policy, gaps signalled,
 * bounded by `stream.depth` and `stream.memcap`); see `tcp_reassembler.ts`
 * for the semantics and their Suricata/Zeek references.
 *
 * @module
 */
export * from "./tcp_reassembler.ts";
