/**
 * Decode: turns raw frames into one reusable packet record (addresses,
 * ports, protocol, TCP flags, lengths, fragments) plus application facts
 * (DNS question, HTTP request line and Host, TLS SNI, DHCP) and layer-2
 * facts (MACs, ARP, IPv6 neighbour discovery). Tunnels (GRE, ERSPAN, VXLAN,
 * Geneve, Teredo, IP in IP; `_tunnel.ts`) are unwrapped: the record
 * describes the inner packet, `tunnel*` fields the outer one. Packet bytes are
 * hostile: every read is bounds-checked, and a malformed frame comes back as
 * a {@link FrameFault} to count, never as an exception.
 *
 * @example
 * ```ts
 * import { DecodeCounters, decodeFrame, newPacket } from "./decode/mod.ts";
 * const p = newPacket();
 * const counters = new DecodeCounters();
 * for (let i = 0; i < batch.count; i++) {
 *   const fault = decodeFrame(p, batch, i);
 *   counters.add(p, fault);
 *   if (fault === null && p.ipVersion !== 0) use(p); // copy what you keep
 * }
 * ```
 *
 * @module
 */
export * from "./packet.ts";
export * from "./addr.ts";
export * from "./faults.ts";
export * from "./linktype.ts";
export {
  decodeAll,
  type DecodeAllOptions,
  decodeBytes,
  type DecodeBytesOptions,
  decodeFrame,
} from "./decoder.ts";
export {
  DNS_MAX_JUMPS,
  DNS_MAX_NAME,
  type DnsName,
  parseDns,
  readDnsName,
} from "./dns.ts";
export {
  HTTP_MAX_HOST,
  HTTP_MAX_METHOD,
  HTTP_MAX_URI,
  HTTP_MAX_USER_AGENT,
  HTTP_MAX_VERSION,
  parseHttpRequest,
} from "./http.ts";
export { parseClientHello, TLS_MAX_SNI } from "./tls.ts";
export { escapedText } from "./_text.ts";
export {
  ARP_REPLY,
  ARP_REQUEST,
  formatMac,
  isGroupMac,
  NA_OVERRIDE,
  NA_ROUTER,
  NA_SOLICITED,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  ND_REDIRECT,
  ND_ROUTER_ADVERT,
  ND_ROUTER_SOLICIT,
  NO_MAC,
  readMac,
} from "./l2.ts";
export {
  DHCP_ACK,
  DHCP_DISCOVER,
  DHCP_MAX_DNS,
  DHCP_NAK,
  DHCP_OFFER,
  DHCP_REQUEST,
} from "./dhcp.ts";
