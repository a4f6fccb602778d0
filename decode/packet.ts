/**
 * The decoded packet record: one reusable scratch object that the decoder
 * fills for every frame. Consumers copy what they keep; nothing here is
 * allocated per packet except application-layer strings (DNS names, HTTP
 * request lines, TLS SNI), which exist only for the packets that carry them.
 *
 * @module
 */

/** IP protocol numbers the pipeline cares about. */
export const IPPROTO_ICMP = 1;
/** TCP. */
export const IPPROTO_TCP = 6;
/** UDP. */
export const IPPROTO_UDP = 17;
/** ICMPv6. */
export const IPPROTO_ICMPV6 = 58;

/** TCP flag bits as in the TCP header's flags byte. */
export const TCP_FIN = 0x01;
/** SYN. */
export const TCP_SYN = 0x02;
/** RST. */
export const TCP_RST = 0x04;
/** PSH. */
export const TCP_PSH = 0x08;
/** ACK. */
export const TCP_ACK = 0x10;
/** URG. */
export const TCP_URG = 0x20;
/** ECE. */
export const TCP_ECE = 0x40;
/** CWR. */
export const TCP_CWR = 0x80;

/** Which application-layer facts the record holds. */
export const APP_NONE = 0;
/** A DNS message (UDP or TCP port 53, 5353, 5355). */
export const APP_DNS = 1;
/** The first line (and Host, User-Agent) of an HTTP/1.x request. */
export const APP_HTTP = 2;
/** A TLS ClientHello. */
export const APP_TLS = 3;

/** DNS facts of one message: the first question and the header counts. */
export interface DnsFacts {
  id: number;
  /** True for a response. */
  qr: boolean;
  opcode: number;
  rcode: number;
  qdcount: number;
  ancount: number;
  /** First question name, lower case, without the trailing dot ("" for root). */
  qname: string;
  /** First question type (1 = A, 16 = TXT, …). */
  qtype: number;
  qclass: number;
}

/** HTTP/1.x request facts from the first segment of a request. */
export interface HttpFacts {
  method: string;
  uri: string;
  /** Protocol from the request line, for example "HTTP/1.1" ("" when missing). */
  version: string;
  /** Host header value ("" when missing). */
  host: string;
  /** User-Agent header value ("" when missing). */
  userAgent: string;
}

/** TLS ClientHello facts. */
export interface TlsFacts {
  /** server_name extension ("" when absent). */
  sni: string;
  /**
   * Highest version offered: 0x0304 when supported_versions lists TLS 1.3,
   * else the ClientHello's legacy version (0x0303 = TLS 1.2).
   */
  version: number;
}

/**
 * The per-packet scratch record. Addresses are 32-bit words: for IPv4 the
 * address is in `src[0]`/`dst[0]` (host byte order as a uint32, e.g.
 * 10.0.0.1 = 0x0a000001) and words 1..3 are 0; for IPv6 all four words hold
 * the address, most significant first.
 */
export interface Packet {
  /** Timestamp in microseconds since the Unix epoch. */
  tsUs: number;
  /** The batch buffer this frame lives in. */
  data: Uint8Array;
  /** Offset of the frame in `data`. */
  frameOffset: number;
  caplen: number;
  wirelen: number;
  linktype: number;

  /** Outermost 802.1Q/802.1ad VLAN id, or -1 when untagged. */
  vlan: number;
  /** EtherType of the network layer after tags (0x0800, 0x86dd, 0x0806 …). */
  etherType: number;

  /** 4 or 6 when an IP header was decoded, else 0. */
  ipVersion: 0 | 4 | 6;
  /** True for ARP frames (counted, not decoded further). */
  arp: boolean;
  src: Uint32Array;
  dst: Uint32Array;
  /** IP protocol / IPv6 next header of the transport layer. */
  proto: number;
  ttl: number;
  /** IP total length (IPv4) or 40 + payload length (IPv6), from the header. */
  ipLen: number;
  /** IPv4 identification field (0 for IPv6). */
  ipId: number;
  /** True when the packet is a fragment (any offset, or more-fragments set). */
  fragment: boolean;
  /** Fragment offset in bytes (0 for the first fragment and unfragmented). */
  fragOffset: number;

  /** Transport ports (0 when the protocol has none or the header is absent). */
  srcPort: number;
  dstPort: number;
  /** TCP flags byte (0 for other protocols). */
  tcpFlags: number;
  tcpSeq: number;
  tcpAck: number;
  tcpWindow: number;
  /** ICMP/ICMPv6 type and code (-1 when not ICMP). */
  icmpType: number;
  icmpCode: number;

  /** Offset in `data` of the transport payload. */
  payloadOffset: number;
  /** Transport payload bytes present in the capture. */
  payloadLen: number;
  /** Transport payload length according to the IP header (may exceed payloadLen). */
  payloadWireLen: number;

  /** Which of dns/http/tls is valid for this packet. */
  app: number;
  dns: DnsFacts;
  http: HttpFacts;
  tls: TlsFacts;
}

/** Creates an empty scratch record, to be reused for every frame. */
export function newPacket(): Packet {
  return {
    tsUs: 0,
    data: new Uint8Array(0),
    frameOffset: 0,
    caplen: 0,
    wirelen: 0,
    linktype: 0,
    vlan: -1,
    etherType: 0,
    ipVersion: 0,
    arp: false,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    proto: 0,
    ttl: 0,
    ipLen: 0,
    ipId: 0,
    fragment: false,
    fragOffset: 0,
    srcPort: 0,
    dstPort: 0,
    tcpFlags: 0,
    tcpSeq: 0,
    tcpAck: 0,
    tcpWindow: 0,
    icmpType: -1,
    icmpCode: -1,
    payloadOffset: 0,
    payloadLen: 0,
    payloadWireLen: 0,
    app: APP_NONE,
    dns: {
      id: 0,
      qr: false,
      opcode: 0,
      rcode: 0,
      qdcount: 0,
      ancount: 0,
      qname: "",
      qtype: 0,
      qclass: 0,
    },
    http: { method: "", uri: "", version: "", host: "", userAgent: "" },
    tls: { sni: "", version: 0 },
  };
}
