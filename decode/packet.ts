/**
 * The decoded packet record: one reusable scratch object that the decoder
 * fills for every frame. Consumers copy what they keep; nothing here is
 * allocated per packet except application-layer strings (DNS names, HTTP
 * request lines, TLS SNI), which exist only for the packets that carry them.
 *
 * @module
 */
import type { AppFault } from "./faults.ts";

/** IP protocol numbers the pipeline cares about. */
export const IPPROTO_ICMP = 1;
/** TCP. */
export const IPPROTO_TCP = 6;
/** UDP. */
export const IPPROTO_UDP = 17;
/** ICMPv6. */
export const IPPROTO_ICMPV6 = 58;
/** DCCP (ports are read). */
export const IPPROTO_DCCP = 33;
/** SCTP (ports are read). */
export const IPPROTO_SCTP = 132;
/** UDP-Lite (ports are read). */
export const IPPROTO_UDPLITE = 136;

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

/**
 * Tunnel kinds the decoder unwraps (`Packet.tunnelType`, and the order of
 * the per-kind counters in {@link TUNNEL_NAMES}). 0: not tunnelled.
 */
export const TUNNEL_NONE = 0;
/** GRE (RFC 2784/2890) carrying IPv4 or IPv6. */
export const TUNNEL_GRE = 1;
/** GRE carrying Ethernet: transparent Ethernet bridging (0x6558, gretap). */
export const TUNNEL_GRETAP = 2;
/** ERSPAN type I (GRE 0x88be without a sequence number): Ethernet at once. */
export const TUNNEL_ERSPAN1 = 3;
/** ERSPAN type II (GRE 0x88be with a sequence number, 8-byte header). */
export const TUNNEL_ERSPAN2 = 4;
/** ERSPAN type III (GRE 0x22eb, 12-byte header, optional 8-byte subheader). */
export const TUNNEL_ERSPAN3 = 5;
/** VXLAN (RFC 7348, UDP 4789): Ethernet. */
export const TUNNEL_VXLAN = 6;
/** Geneve (RFC 8926, UDP 6081): Ethernet, IPv4 or IPv6. */
export const TUNNEL_GENEVE = 7;
/** Teredo (RFC 4380, UDP 3544): IPv6 in UDP, recognised by content. */
export const TUNNEL_TEREDO = 8;
/** IPv4 in IPv4 (protocol 4, RFC 2003). */
export const TUNNEL_IPIP = 9;
/** IPv6 in IPv4 (protocol 41, RFC 4213: 6in4, sit). */
export const TUNNEL_6IN4 = 10;
/** IPv4 in IPv6 (next header 4, RFC 2473: 4in6, ip6tnl). */
export const TUNNEL_4IN6 = 11;
/** IPv6 in IPv6 (next header 41, RFC 2473). */
export const TUNNEL_6IN6 = 12;

/**
 * Tunnel kind names by `TUNNEL_*` value, as EVE's `tunnel.type`, the
 * `/metrics` label and the `--stats-json` keys write them.
 */
export const TUNNEL_NAMES = [
  "none",
  "gre",
  "gretap",
  "erspan1",
  "erspan2",
  "erspan3",
  "vxlan",
  "geneve",
  "teredo",
  "ipip",
  "6in4",
  "4in6",
  "6in6",
] as const;

/**
 * Most tunnel layers unwrapped in one frame; a frame nested deeper is the
 * fault `tunnel_too_deep` (counted, not decoded), as Suricata bounds its
 * decoder recursion (`decoder.max-layers`).
 */
export const MAX_TUNNEL_DEPTH = 3;

/** Which application-layer facts the record holds. */
export const APP_NONE = 0;
/** A DNS message (UDP or TCP port 53, 5353, 5355). */
export const APP_DNS = 1;
/** The first line (and Host, User-Agent) of an HTTP/1.x request. */
export const APP_HTTP = 2;
/** A TLS ClientHello. */
export const APP_TLS = 3;
/** A DHCPv4 message (UDP between ports 67 and 68). */
export const APP_DHCP = 4;

/** DNS facts of one message: the first question and the header counts. */
export interface DnsFacts {
  id: number;
  /** The header's flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode). */
  flags: number;
  /** True for a response. */
  qr: boolean;
  opcode: number;
  rcode: number;
  qdcount: number;
  ancount: number;
  /**
   * First question name, ASCII lower case, without the trailing dot ("" for
   * root or when there is no question). Bytes outside `!`..`~`, and `.` and
   * `\` inside a label, are written as `\xNN` (two lower-case hex digits),
   * so the text is printable ASCII and maps back to the labels unambiguously.
   */
  qname: string;
  /** First question type (1 = A, 16 = TXT, …; 0 when there is no question). */
  qtype: number;
  /** First question class as on the wire (mDNS keeps its unicast bit 0x8000). */
  qclass: number;
}

/**
 * HTTP/1.x request facts from the first segment of a request. Bytes outside
 * printable ASCII (below 0x20, 0x7f and above) are written as `\xNN`;
 * values are cut at fixed caps (URI 2048 characters, Host 255, User-Agent
 * 512, method 32, version 16).
 */
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
  /**
   * First host_name of the server_name extension, as sent ("" when absent or
   * not in this segment); non-printable bytes as `\xNN`, at most 255 bytes.
   */
  sni: string;
  /**
   * Highest version offered: 0x0304 when supported_versions lists TLS 1.3,
   * else the ClientHello's legacy version (0x0303 = TLS 1.2).
   */
  version: number;
}

/**
 * An ARP message (Ethernet/IPv4 only; `op` 0 when the frame is not ARP or
 * not Ethernet/IPv4 ARP). MACs are 48-bit numbers (-1: none).
 */
export interface ArpFacts {
  /** 1 request, 2 reply. */
  op: number;
  /** Sender hardware and protocol address. */
  sha: number;
  spa: number;
  /** Target hardware and protocol address. */
  tha: number;
  tpa: number;
}

/**
 * An IPv6 neighbour-discovery message (RFC 4861; `type` 0 when none or
 * invalid: code not 0, hop limit not 255).
 */
export interface NdFacts {
  /** ICMPv6 type: 133 RS, 134 RA, 135 NS, 136 NA, 137 redirect. */
  type: number;
  /** Target address of NS, NA and redirect (four words). */
  target: Uint32Array;
  /** Source (RS, RA, NS) or target (NA, redirect) link-layer address, -1 when absent. */
  lla: number;
  /** NA: R/S/O flags byte; RA: the M/O flags byte. */
  flags: number;
  /** RA: router lifetime, seconds (0: not a default router). */
  routerLifetime: number;
}

/** DHCPv4 facts of one message (RFC 2131, 2132). */
export interface DhcpFacts {
  /** BOOTP op: 1 request (client), 2 reply (server). */
  op: number;
  /** Option 53: 1 discover, 2 offer, 3 request, 5 ack, 6 nak … */
  msgType: number;
  xid: number;
  /** Client hardware address (Ethernet), -1 when not 6-byte Ethernet. */
  chaddr: number;
  /** Client's current address and the address offered (uint32). */
  ciaddr: number;
  yiaddr: number;
  /** Option 54, the server identifier (0 when absent). */
  serverId: number;
  /** Option 3, the first router (0 when absent). */
  router: number;
  /** Option 6, the first DHCP_MAX_DNS servers. */
  dns: Uint32Array;
  dnsCount: number;
  /** Option 51, lease time in seconds (0 when absent). */
  leaseS: number;
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
  /** A DataView over the bytes of `data` (same offsets), cached by the decoder. */
  view: DataView;
  /** Offset of the frame in `data`. */
  frameOffset: number;
  caplen: number;
  wirelen: number;
  linktype: number;

  /** Outermost 802.1Q/802.1ad VLAN id, or -1 when untagged. */
  vlan: number;
  /**
   * EtherType of the network layer after tags (0x0800, 0x86dd, 0x0806 …).
   * Link types without one (RAW, NULL, PPP) get 0x0800 or 0x86dd for IP;
   * 0 for 802.3/LLC frames and other non-IP payloads without an EtherType.
   */
  etherType: number;
  /** Offset in `data` of the network-layer header (IP, ARP …), -1 when none. */
  l3Offset: number;
  /** Offset in `data` of the transport header, -1 when absent. */
  l4Offset: number;

  /** 4 or 6 when an IP header was decoded, else 0. */
  ipVersion: 0 | 4 | 6;
  /**
   * Ethernet source and destination MACs as 48-bit numbers (-1 when the
   * link layer has none; Linux cooked captures give the source only).
   */
  ethSrc: number;
  ethDst: number;
  /** True for ARP frames (facts in `arpMsg` for Ethernet/IPv4 ARP). */
  arp: boolean;
  /** The ARP message (op 0 when none). */
  arpMsg: ArpFacts;
  /** Neighbour discovery facts of an ICMPv6 ND message (type 0 when none). */
  nd: NdFacts;
  src: Uint32Array;
  dst: Uint32Array;
  /** IP protocol / IPv6 next header of the transport layer. */
  proto: number;
  ttl: number;
  /** IP total length (IPv4) or 40 + payload length (IPv6), from the header. */
  ipLen: number;
  /**
   * IPv4 identification field; for an IPv6 fragment the fragment header's
   * 32-bit identification (0 for other IPv6 packets).
   */
  ipId: number;
  /** True when the packet is a fragment (any offset, or more-fragments set). */
  fragment: boolean;
  /** Fragment offset in bytes (0 for the first fragment and unfragmented). */
  fragOffset: number;
  /** A fragment's more-fragments flag (false when not a fragment). */
  fragMore: boolean;
  /**
   * For a fragment: offset in `data` of its fragment data (after the IPv4
   * header, or after the IPv6 fragment header), and that data's length
   * according to the IP header (the capture may hold less).
   */
  fragDataOffset: number;
  fragDataLen: number;
  /** For a fragment: the protocol of the reassembled payload (IPv6: the fragment header's next header). */
  fragProto: number;
  /**
   * For an IPv6 fragment: offset in `data` of the fragment header (the
   * unfragmentable part is `l3Offset` up to it) and of the next-header byte
   * that names it (in the IPv6 header or the extension header before).
   */
  fragHeaderOffset: number;
  fragNhOffset: number;

  /**
   * Transport ports of TCP, UDP, SCTP, DCCP and UDP-Lite (0 when the
   * protocol has none or the header is absent).
   */
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

  /**
   * Offset in `data` of the transport payload (the IP payload for non-first
   * fragments and protocols other than TCP, UDP, ICMP). Always within the
   * frame: `frameOffset <= payloadOffset` and
   * `payloadOffset + payloadLen <= frameOffset + caplen`.
   */
  payloadOffset: number;
  /** Transport payload bytes present in the capture (0 when none). */
  payloadLen: number;
  /** Transport payload length according to the IP header (may exceed payloadLen). */
  payloadWireLen: number;

  /**
   * Tunnel layers unwrapped to reach this (inner) packet: 0 when it was not
   * tunnelled, at most {@link MAX_TUNNEL_DEPTH}. Suricata's `tunnel.depth`.
   * Every field above describes the innermost packet.
   */
  tunnelDepth: number;
  /** Kind of the outermost tunnel (TUNNEL_*; TUNNEL_NONE when not tunnelled). */
  tunnelType: number;
  /** Bit `1 << kind` for every tunnel kind unwrapped (nested tunnels set several). */
  tunnelKinds: number;
  /** IP version of the outermost packet (0 when not tunnelled). */
  tunnelVersion: 0 | 4 | 6;
  /** Outermost source address words (same layout as `src`). */
  tunnelSrc: Uint32Array;
  /** Outermost destination address words. */
  tunnelDst: Uint32Array;
  /** IP protocol of the outermost packet (47 GRE, 17 UDP, 4, 41). */
  tunnelProto: number;
  /** UDP ports of the outermost packet (VXLAN, Geneve, Teredo), else 0. */
  tunnelSrcPort: number;
  tunnelDstPort: number;

  /** Which of dns/http/tls/dhcp is valid for this packet. */
  app: number;
  /**
   * Why the payload of a packet that qualified for DNS or TLS could not be
   * parsed (then `app` is APP_NONE), else null. The frame itself decoded
   * fine; count this apart from the frame's fault.
   */
  appFault: AppFault | null;
  dns: DnsFacts;
  http: HttpFacts;
  tls: TlsFacts;
  dhcp: DhcpFacts;
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);

/** Creates an empty scratch record, to be reused for every frame. */
export function newPacket(): Packet {
  return {
    tsUs: 0,
    data: EMPTY,
    view: EMPTY_VIEW,
    frameOffset: 0,
    caplen: 0,
    wirelen: 0,
    linktype: 0,
    vlan: -1,
    etherType: 0,
    l3Offset: -1,
    l4Offset: -1,
    ipVersion: 0,
    ethSrc: -1,
    ethDst: -1,
    arp: false,
    arpMsg: { op: 0, sha: -1, spa: 0, tha: -1, tpa: 0 },
    nd: {
      type: 0,
      target: new Uint32Array(4),
      lla: -1,
      flags: 0,
      routerLifetime: 0,
    },
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    proto: 0,
    ttl: 0,
    ipLen: 0,
    ipId: 0,
    fragment: false,
    fragOffset: 0,
    fragMore: false,
    fragDataOffset: 0,
    fragDataLen: 0,
    fragProto: 0,
    fragHeaderOffset: 0,
    fragNhOffset: 0,
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
    tunnelDepth: 0,
    tunnelType: TUNNEL_NONE,
    tunnelKinds: 0,
    tunnelVersion: 0,
    tunnelSrc: new Uint32Array(4),
    tunnelDst: new Uint32Array(4),
    tunnelProto: 0,
    tunnelSrcPort: 0,
    tunnelDstPort: 0,
    app: APP_NONE,
    appFault: null,
    dns: {
      id: 0,
      flags: 0,
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
    dhcp: {
      op: 0,
      msgType: 0,
      xid: 0,
      chaddr: -1,
      ciaddr: 0,
      yiaddr: 0,
      serverId: 0,
      router: 0,
      dns: new Uint32Array(4),
      dnsCount: 0,
      leaseS: 0,
    },
  };
}
