/**
 * Protocols: application-layer parsers fed by reassembled TCP streams and
 * UDP datagrams (HTTP/1.x transactions, DNS messages with their answers,
 * TLS handshakes with JA3/JA3S/JA4 and X.509 facts), protocol detection by
 * port and content, and the records and observer shape
 * (`AppObserver.onApp`) through which later stages see them. Per-frame
 * facts stay in `decode/`.
 *
 * @module
 */
export * from "./app_record.ts";
export * from "./stream_parser.ts";
export * from "./app_layer.ts";
export {
  HTTP_BODY_INFLATE_MAX,
  HTTP_BODY_KEEP,
  HTTP_MAX_HEAD,
  HTTP_MAX_HEADERS,
  HTTP_MAX_PENDING,
  HttpHeader,
  type HttpMessage,
  HttpParser,
  HttpTransaction,
  inflateBounded,
} from "./http.ts";
export {
  HTTP_BUFFERS,
  httpBuffer,
  type HttpBufferName,
  normalizeUri,
} from "./http_buffers.ts";
export {
  DNS_MAX_RECORDS,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
  DnsTcpParser,
  parseDnsMessage,
} from "./dns.ts";
export * from "./tls_handshake.ts";
export * from "./ja3.ts";
export * from "./ja4.ts";
export * from "./x509.ts";
export * from "./tls_stream.ts";
export * from "./tls_parser.ts";
