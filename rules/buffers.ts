/**
 * The named inspection buffers a rule can match: Suricata's sticky buffers
 * (https://docs.suricata.io/en/latest/rules/http-keywords.html and the DNS,
 * TLS and payload keyword pages), each with its keyword, the legacy content
 * modifier that selects it, and the inspection entry point that fills it.
 * Rules compile to matchers over these ids; `adapter.ts` fills them.
 *
 * @module
 */

/** Where a buffer is filled: per packet, per stream chunk, or per transaction. */
export type BufferScope = "packet" | "stream" | "tx";

/** One named buffer. */
export interface BufferInfo {
  /** Dense id (index in {@link BUFFERS}). */
  readonly id: number;
  /** Suricata's sticky-buffer keyword. */
  readonly name: string;
  /** Other keywords for the same buffer (aliases and legacy forms). */
  readonly aliases: readonly string[];
  /** Legacy content modifier that moves the previous content here. */
  readonly modifier: string | null;
  /** The inspection entry point that fills it. */
  readonly scope: BufferScope;
  /** The app-layer protocol it belongs to ("" for payload buffers). */
  readonly proto: "" | "http" | "dns" | "tls";
  /**
   * Which side of a transaction fills it: "req" the client's (request,
   * query, ClientHello), "resp" the server's (response, certificate),
   * "both" the side being inspected (headers of the request or response).
   */
  readonly side: "req" | "resp" | "both";
}

const RESP = new Set([
  "http.stat_code",
  "http.stat_msg",
  "http.response_line",
  "http.server",
  "http.location",
  "http.response_body",
  "tls.cert_subject",
  "tls.cert_issuer",
  "tls.cert_serial",
  "tls.cert_fingerprint",
  "tls.certs",
  "ja3s.hash",
]);
const BOTH = new Set([
  "pkt_data",
  "stream",
  "http.header",
  "http.header.raw",
  "http.header_names",
  "http.cookie",
  "http.content_type",
  "http.content_len",
  "http.connection",
  "http.protocol",
  "http.start",
]);

const DEFS: ReadonlyArray<
  [string, string[], string | null, BufferScope, BufferInfo["proto"]]
> = [
  ["pkt_data", ["payload"], null, "packet", ""],
  ["stream", [], null, "stream", ""],
  ["http.uri", [], "http_uri", "tx", "http"],
  ["http.uri.raw", [], "http_raw_uri", "tx", "http"],
  ["http.method", [], "http_method", "tx", "http"],
  ["http.host", [], "http_host", "tx", "http"],
  ["http.host.raw", [], "http_raw_host", "tx", "http"],
  ["http.user_agent", [], "http_user_agent", "tx", "http"],
  ["http.header", [], "http_header", "tx", "http"],
  ["http.header.raw", [], "http_raw_header", "tx", "http"],
  ["http.header_names", [], "http_header_names", "tx", "http"],
  ["http.request_line", [], "http_request_line", "tx", "http"],
  ["http.cookie", [], "http_cookie", "tx", "http"],
  ["http.referer", [], null, "tx", "http"],
  ["http.content_type", [], null, "tx", "http"],
  ["http.content_len", [], null, "tx", "http"],
  ["http.location", [], null, "tx", "http"],
  ["http.accept", [], null, "tx", "http"],
  ["http.accept_enc", [], null, "tx", "http"],
  ["http.accept_lang", [], null, "tx", "http"],
  ["http.connection", [], null, "tx", "http"],
  ["http.protocol", [], null, "tx", "http"],
  ["http.start", [], "http_start", "tx", "http"],
  ["http.server", [], null, "tx", "http"],
  ["http.stat_code", [], "http_stat_code", "tx", "http"],
  ["http.stat_msg", [], "http_stat_msg", "tx", "http"],
  ["http.response_line", [], "http_response_line", "tx", "http"],
  ["http.request_body", [], "http_client_body", "tx", "http"],
  [
    "http.response_body",
    ["file_data", "file.data"],
    "http_server_body",
    "tx",
    "http",
  ],
  ["dns.query", ["dns_query"], null, "tx", "dns"],
  ["tls.sni", ["tls_sni"], null, "tx", "tls"],
  ["tls.cert_subject", ["tls_cert_subject"], null, "tx", "tls"],
  ["tls.cert_issuer", ["tls_cert_issuer"], null, "tx", "tls"],
  ["tls.cert_serial", ["tls_cert_serial"], null, "tx", "tls"],
  [
    "tls.cert_fingerprint",
    ["tls_cert_fingerprint", "tls.fingerprint"],
    null,
    "tx",
    "tls",
  ],
  ["tls.certs", [], null, "tx", "tls"],
  ["ja3.hash", ["ja3_hash"], null, "tx", "tls"],
  ["ja3s.hash", ["ja3s_hash"], null, "tx", "tls"],
  ["ja4.hash", [], null, "tx", "tls"],
];

/** Every buffer, by id. */
export const BUFFERS: readonly BufferInfo[] = DEFS.map((
  [name, aliases, modifier, scope, proto],
  id,
) => ({
  id,
  name,
  aliases,
  modifier,
  scope,
  proto,
  side: RESP.has(name) ? "resp" : BOTH.has(name) ? "both" : "req",
}));

/** Buffer ids by sticky keyword (names and aliases). */
export const BUFFER_BY_KEYWORD: ReadonlyMap<string, number> = new Map(
  BUFFERS.flatMap((b) => [b.name, ...b.aliases].map((k) => [k, b.id])),
);

/** Buffer ids by legacy content modifier (`http_uri` → http.uri). */
export const BUFFER_BY_MODIFIER: ReadonlyMap<string, number> = new Map(
  BUFFERS.filter((b) => b.modifier !== null).map((b) => [b.modifier!, b.id]),
);

/** Id of `pkt_data`: payload contents without a sticky buffer. */
export const BUF_PKT = 0;
/** Id of `stream`: reassembled stream data. */
export const BUF_STREAM = 1;

/** The id of a buffer name (throws on an unknown name: a programming error). */
export function bufferId(name: string): number {
  const id = BUFFER_BY_KEYWORD.get(name);
  if (id === undefined) throw new RangeError(`Unknown buffer "${name}"`);
  return id;
}

/** Number of buffers. */
export const BUFFER_COUNT: number = BUFFERS.length;
