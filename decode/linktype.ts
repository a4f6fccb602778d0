/**
 * The link types (LINKTYPE_* numbers of pcap and pcapng files, as libpcap
 * reports them) that the decoder reads.
 *
 * @module
 */

/** BSD loopback: a 4-byte address family in the capturing host's order. */
export const LINKTYPE_NULL = 0;
/** Ethernet (EN10MB), with 802.1Q/802.1ad tags, PPPoE and MPLS. */
export const LINKTYPE_ETHERNET = 1;
/** PPP, with or without the HDLC address and control bytes. */
export const LINKTYPE_PPP = 9;
/** DLT_RAW as some systems number it in files (raw IPv4 or IPv6). */
export const LINKTYPE_RAW_12 = 12;
/** DLT_RAW as OpenBSD numbers it (raw IPv4 or IPv6). */
export const LINKTYPE_RAW_14 = 14;
/** PPP in HDLC-like framing (RFC 1662), or Cisco HDLC. */
export const LINKTYPE_PPP_HDLC = 50;
/** Raw IPv4 or IPv6, told apart by the version nibble. */
export const LINKTYPE_RAW = 101;
/** Cisco HDLC: address, control, and an EtherType. */
export const LINKTYPE_C_HDLC = 104;
/** OpenBSD loopback: a 4-byte address family in network byte order. */
export const LINKTYPE_LOOP = 108;
/** Linux cooked capture v1 (16-byte header). */
export const LINKTYPE_LINUX_SLL = 113;
/** Raw IPv4 only. */
export const LINKTYPE_IPV4 = 228;
/** Raw IPv6 only. */
export const LINKTYPE_IPV6 = 229;
/** Linux cooked capture v2 (20-byte header). */
export const LINKTYPE_LINUX_SLL2 = 276;

/** Every link type the decoder reads. */
export const SUPPORTED_LINKTYPES: readonly number[] = [
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_PPP,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
  LINKTYPE_PPP_HDLC,
  LINKTYPE_RAW,
  LINKTYPE_C_HDLC,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
];

/** True when frames of this link type can be decoded. */
export function linktypeSupported(linktype: number): boolean {
  return SUPPORTED_LINKTYPES.includes(linktype);
}
