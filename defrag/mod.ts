/**
 * Defrag: IP defragmentation (IPv4 and IPv6) between decode and flows.
 * Fragments are held per datagram under a memcap and a timeout; a whole
 * datagram comes back as one raw IP packet that the pipeline decodes again
 * and hands on like any other. Overlaps drop the datagram (RFC 5722, Linux)
 * and are reported as anomalies with the other fragment attacks.
 *
 * @module
 */
export * from "./defrag.ts";
