/**
 * Why a frame could not be decoded, and fixed counters of those reasons for
 * `/metrics` and the analyze statistics. A fault is a return value, never an
 * exception; counting one is an array increment.
 *
 * @module
 */
import { type Packet, TUNNEL_NAMES } from "./packet.ts";

/**
 * Every reason a frame is rejected, in a fixed order. A frame with one of
 * these faults is not an IP packet the pipeline can use.
 */
export const FRAME_FAULTS = [
  /** The link type is not one the decoder reads. */
  "linktype_unsupported",
  /** Ethernet header (14 bytes) not captured. */
  "eth_short",
  /** An 802.1Q/802.1ad tag cut short. */
  "vlan_short",
  /** More than 8 VLAN tags and MPLS labels in a row. */
  "encap_too_deep",
  /** PPPoE session header or its PPP protocol field cut short. */
  "pppoe_short",
  /** MPLS label stack cut short. */
  "mpls_short",
  /** Linux cooked header (SLL 16 bytes, SLL2 20 bytes) cut short. */
  "sll_short",
  /** BSD loopback family word (4 bytes) cut short. */
  "null_short",
  /** PPP or Cisco HDLC header cut short. */
  "ppp_short",
  /** Raw IP link type with an empty frame. */
  "ip_short",
  /** Raw IP link type whose first nibble is neither 4 nor 6. */
  "ip_bad_version",
  /** IPv4 header (20 bytes, or its options) not captured. */
  "ipv4_short",
  /** IPv4 EtherType or link type, but the version nibble is not 4. */
  "ipv4_bad_version",
  /** IPv4 header length below 20 bytes. */
  "ipv4_bad_ihl",
  /**
   * IPv4 total length below the header length or beyond the wire frame
   * (0 means the rest of the frame: segmentation offload, BIG TCP).
   */
  "ipv4_bad_len",
  /** IPv6 header (40 bytes) not captured. */
  "ipv6_short",
  /** IPv6 EtherType or link type, but the version nibble is not 6. */
  "ipv6_bad_version",
  /** IPv6 payload length beyond the wire frame. */
  "ipv6_bad_len",
  /** An IPv6 extension header runs past the payload or the capture. */
  "ipv6_ext_short",
  /** More than 8 IPv6 extension headers. */
  "ipv6_ext_too_many",
  /** TCP header (20 bytes) not captured or not in the IP payload. */
  "tcp_short",
  /** TCP data offset below 20 bytes or past the IP payload. */
  "tcp_bad_off",
  /** UDP header (8 bytes) not captured or not in the IP payload. */
  "udp_short",
  /**
   * UDP length below 8 or, unfragmented, past the IP payload (0 means the
   * rest of the IP payload: jumbograms, GSO).
   */
  "udp_bad_len",
  /** ICMP/ICMPv6 header (4 bytes) not captured or not in the IP payload. */
  "icmp_short",
  /** SCTP common header (12 bytes) not captured or not in the IP payload. */
  "sctp_short",
  /** DCCP generic header (12 bytes) not captured or not in the IP payload. */
  "dccp_short",
  /** DCCP data offset below 12 bytes or past the IP payload. */
  "dccp_bad_off",
  /** UDP-Lite header (8 bytes) not captured or not in the IP payload. */
  "udplite_short",
  /**
   * Tunnels nested deeper than MAX_TUNNEL_DEPTH (3): the frame is counted,
   * not decoded (Suricata's `decoder.too_many_layers`).
   */
  "tunnel_too_deep",
] as const;

/**
 * Reasons an application payload (DNS, TLS ClientHello) that qualified by
 * port or first bytes could not be parsed. The packet itself is fine.
 */
export const APP_FAULTS = [
  /** DNS message shorter than its header or its first question. */
  "dns_short",
  /** DNS label of the reserved types 0x40 or 0x80. */
  "dns_bad_label",
  /** DNS compression pointer not strictly backwards, or too many jumps. */
  "dns_bad_pointer",
  /** DNS name longer than 255 bytes. */
  "dns_name_too_long",
  /** TLS ClientHello without room for its version field. */
  "tls_short",
  /** A TLS ClientHello length field overruns its enclosing structure. */
  "tls_bad_len",
  /** Ethernet/IPv4 ARP message shorter than its 28 bytes. */
  "arp_short",
  /** Neighbour-discovery message shorter than its fixed part. */
  "nd_short",
  /** Neighbour-discovery option of length 0 (RFC 4861 §4.6: drop the message). */
  "nd_bad_option",
  /** DHCP message without the BOOTP header, magic cookie or message type. */
  "dhcp_short",
  /** DHCP option running past the message before the message type. */
  "dhcp_bad_option",
] as const;

/** A reason a frame was rejected. */
export type FrameFault = typeof FRAME_FAULTS[number];
/** A reason an application payload was not parsed. */
export type AppFault = typeof APP_FAULTS[number];
/** Any decode fault: frame or application layer. */
export type Fault = FrameFault | AppFault;

/** Every fault reason, frame faults first, in counter order. */
export const FAULTS: readonly Fault[] = [...FRAME_FAULTS, ...APP_FAULTS];

const INDEX = Object.fromEntries(FAULTS.map((f, i) => [f, i])) as Record<
  Fault,
  number
>;
const N_FRAME = FRAME_FAULTS.length;

/** True when the fault is about an application payload, not the frame. */
export function isAppFault(f: Fault): f is AppFault {
  return INDEX[f] >= N_FRAME;
}

/**
 * Counts decode outcomes: faults by reason in a fixed array, and frames by
 * kind. No allocation when counting.
 *
 * @example
 * ```ts
 * const c = new DecodeCounters();
 * const fault = decodeFrame(pkt, batch, i);
 * c.add(pkt, fault);
 * c.snapshot().tcp_short; // frames rejected for a short TCP header
 * ```
 */
export class DecodeCounters {
  /** Frames passed to {@link add}. */
  frames = 0;
  /** Frames decoded as IPv4 / IPv6 packets (without a frame fault). */
  ipv4 = 0;
  /** IPv6 packets. */
  ipv6 = 0;
  /** ARP frames. */
  arp = 0;
  /** Other frames without a fault that are not IP (LLDP, STP, IPX …). */
  other = 0;
  #counts = new Float64Array(FAULTS.length);
  #tunnels = new Float64Array(TUNNEL_NAMES.length);

  /** Counts one fault by reason. */
  count(fault: Fault): void {
    this.#counts[INDEX[fault]]!++;
  }

  /**
   * Counts the outcome of one frame: its fault, or its kind and the
   * packet's application fault, if any.
   */
  add(p: Packet, fault: FrameFault | null): void {
    this.frames++;
    if (fault !== null) {
      this.#counts[INDEX[fault]]!++;
      return;
    }
    if (p.ipVersion === 4) this.ipv4++;
    else if (p.ipVersion === 6) this.ipv6++;
    else if (p.arp) this.arp++;
    else this.other++;
    if (p.appFault !== null) this.#counts[INDEX[p.appFault]]!++;
    if (p.tunnelKinds !== 0) this.addTunnels(p);
  }

  /**
   * Counts the tunnel kinds `p` came through (a packet decoded again from
   * a reassembled datagram, which is no frame of its own).
   */
  addTunnels(p: Packet): void {
    const k = p.tunnelKinds;
    for (let i = 1; i < TUNNEL_NAMES.length; i++) {
      if ((k & (1 << i)) !== 0) this.#tunnels[i]!++;
    }
  }

  /** Frames decoded through at least one tunnel layer of `kind` (TUNNEL_*). */
  tunnel(kind: number): number {
    return this.#tunnels[kind] ?? 0;
  }

  /**
   * Frames decoded through each tunnel kind, by name (`gre`, `vxlan`, …;
   * zeros included), as `/metrics` and `--stats-json` show them. A frame
   * nested in two kinds counts for both.
   */
  tunnelSnapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < TUNNEL_NAMES.length; i++) {
      out[TUNNEL_NAMES[i]!] = this.#tunnels[i]!;
    }
    return out;
  }

  /** Frames rejected with a frame fault, all reasons together. */
  get errors(): number {
    let n = 0;
    for (let i = 0; i < N_FRAME; i++) n += this.#counts[i]!;
    return n;
  }

  /** Application payloads that qualified but could not be parsed. */
  get appErrors(): number {
    let n = 0;
    for (let i = N_FRAME; i < FAULTS.length; i++) n += this.#counts[i]!;
    return n;
  }

  /** How often `fault` was counted. */
  get(fault: Fault): number {
    return this.#counts[INDEX[fault]]!;
  }

  /**
   * Every fault reason with its count (zeros included, so a metrics label
   * set stays stable), in {@link FAULTS} order.
   */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < FAULTS.length; i++) out[FAULTS[i]!] = this.#counts[i]!;
    return out;
  }

  /** Sets every counter back to zero. */
  reset(): void {
    this.#counts.fill(0);
    this.#tunnels.fill(0);
    this.frames =
      this.ipv4 =
      this.ipv6 =
      this.arp =
      this.other =
        0;
  }
}
