/**
 * Protocols: parsers fed from reassembled TCP streams. TLS so far:
 * handshake messages (ClientHello, ServerHello, Certificate), JA3/JA3S and
 * JA4 fingerprints, the X.509 facts Suricata logs, and the per-connection
 * stream parser that puts handshake messages together across records and
 * segments.
 *
 * @module
 */
export * from "./tls_handshake.ts";
export * from "./ja3.ts";
export * from "./ja4.ts";
export * from "./x509.ts";
export * from "./tls_stream.ts";
export * from "./tls_observer.ts";
