/**
 * Tunnel encapsulations built byte by byte from their specifications, for
 * tests: each function returns the tunnel header followed by the inner
 * packet or frame, ready to be the payload of an outer IP packet (GRE, IP
 * in IP) or UDP datagram (VXLAN, Geneve, Teredo). Used where no real tool
 * here can make the tunnel (the test kernel has no GRE, IPIP, SIT, Geneve
 * or ip6tnl; Teredo needs a Teredo relay and miredo; ERSPAN needs a switch).
 *
 * @module
 */

/** Concatenates byte arrays and plain byte lists. */
export function bytes(...parts: (Uint8Array | number[])[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const be16 = (x: number) => [(x >> 8) & 0xff, x & 0xff];
const be32 = (x: number) => [
  (x >>> 24) & 0xff,
  (x >>> 16) & 0xff,
  (x >>> 8) & 0xff,
  x & 0xff,
];

/** EtherTypes a GRE header names (RFC 2784 "Protocol Type"). */
export const GRE_IPV4 = 0x0800;
/** IPv6. */
export const GRE_IPV6 = 0x86dd;
/** Transparent Ethernet bridging (Linux gretap). */
export const GRE_TEB = 0x6558;
/** ERSPAN types I and II. */
export const GRE_ERSPAN = 0x88be;
/** ERSPAN type III. */
export const GRE_ERSPAN3 = 0x22eb;

/**
 * A GRE header (RFC 2784, with RFC 2890's key and sequence number): C, K, S
 * bits set for the optional fields given, version 0.
 */
export function gre(
  protocol: number,
  inner: Uint8Array,
  o: { checksum?: boolean; key?: number; seq?: number; version?: number } = {},
): Uint8Array {
  const b0 = (o.checksum ? 0x80 : 0) | (o.key !== undefined ? 0x20 : 0) |
    (o.seq !== undefined ? 0x10 : 0);
  return bytes(
    [b0, o.version ?? 0],
    be16(protocol),
    o.checksum ? [0, 0, 0, 0] : [],
    o.key !== undefined ? be32(o.key) : [],
    o.seq !== undefined ? be32(o.seq) : [],
    inner,
  );
}

/** ERSPAN type I: GRE 0x88be without a sequence number, then the frame. */
export function erspan1(frame: Uint8Array): Uint8Array {
  return gre(GRE_ERSPAN, frame);
}

/**
 * ERSPAN type II (draft-foschiano-erspan §4.1): GRE 0x88be with a sequence
 * number, then Ver(4) = 1, VLAN(12), COS(3), En(2), T(1), Session ID(10),
 * Reserved(12), Index(20), then the mirrored frame.
 */
export function erspan2(
  frame: Uint8Array,
  o: { session?: number; seq?: number; vlan?: number } = {},
): Uint8Array {
  const session = o.session ?? 100;
  const vlan = o.vlan ?? 0;
  return gre(
    GRE_ERSPAN,
    bytes(
      [0x10 | (vlan >> 8), vlan & 0xff],
      [(session >> 8) & 0x03, session & 0xff],
      [0, 0, 0, 1],
      frame,
    ),
    { seq: o.seq ?? 1 },
  );
}

/**
 * ERSPAN type III (draft-foschiano-erspan §4.2): GRE 0x22eb, then Ver(4) =
 * 2, VLAN, COS, BSO, T, Session ID; Timestamp(32); SGT(16), P(1), FT(5),
 * HW ID(6), D(1), Gra(2), O(1); with O set an 8-byte platform subheader.
 */
export function erspan3(
  frame: Uint8Array,
  o: { session?: number; frameType?: number; subheader?: boolean } = {},
): Uint8Array {
  const session = o.session ?? 7;
  const ft = o.frameType ?? 0;
  return gre(
    GRE_ERSPAN3,
    bytes(
      [0x20, 0],
      [(session >> 8) & 0x03, session & 0xff],
      be32(0x01020304),
      [0, 0],
      [(ft & 0x1f) << 2, o.subheader ? 1 : 0],
      o.subheader ? [0x0c, 0, 0, 0, 0, 0, 0, 9] : [],
      frame,
    ),
    { seq: 5 },
  );
}

/** VXLAN (RFC 7348 §5): flags with I set, VNI, then the Ethernet frame. */
export function vxlan(frame: Uint8Array, vni = 42): Uint8Array {
  return bytes([0x08, 0, 0, 0], be32(vni << 8), frame);
}

/**
 * Geneve (RFC 8926 §3.4): Ver 0, option length in 4-byte words, O, C,
 * Protocol Type, VNI, then the options and the inner packet or frame.
 */
export function geneve(
  protocol: number,
  inner: Uint8Array,
  o: { vni?: number; options?: number[] } = {},
): Uint8Array {
  const opts = o.options ?? [];
  if (opts.length % 4 !== 0) throw new RangeError("Geneve options are words");
  return bytes(
    [opts.length / 4, 0],
    be16(protocol),
    be32((o.vni ?? 7) << 8),
    opts,
    inner,
  );
}

/**
 * Teredo (RFC 4380 §5.1.1): the IPv6 packet, after an origin indication
 * (0x0000, port and address obfuscated) when `origin` is set.
 */
export function teredo(
  ipv6: Uint8Array,
  o: { origin?: boolean; auth?: boolean } = {},
): Uint8Array {
  return bytes(
    o.auth ? [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] : [],
    o.origin ? [0, 0, 0xf2, 0x27, 0x3f, 0x57, 0xfe, 0xfd] : [],
    ipv6,
  );
}

/** An Ethernet header (no tags) with the given EtherType, then `payload`. */
export function ethernet(type: number, payload: Uint8Array): Uint8Array {
  return bytes(
    [0x02, 0, 0, 0, 0, 0x0a],
    [0x02, 0, 0, 0, 0, 0x0b],
    be16(type),
    payload,
  );
}

/** A UDP header (checksum 0) followed by `payload`. */
export function udpDatagram(
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const n = 8 + payload.length;
  return bytes(be16(sport), be16(dport), be16(n), [0, 0], payload);
}
