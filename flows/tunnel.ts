/**
 * The tunnel a packet or flow came through, in the shape of Suricata's EVE
 * `tunnel` object (output-json-alert.c, AlertJsonTunnel: the outermost
 * packet's `src_ip`, `src_port`, `dest_ip`, `dest_port`, `proto`, and the
 * inner packet's `depth`), plus `type`, the kind of the outermost tunnel
 * ("vxlan", "gre", …; NetSentinel's). Records are immutable and shared: a
 * small cache returns the same object for the same outer tuple, so the
 * packets of a tunnel allocate nothing after the first.
 *
 * @module
 */
import { formatAddr, type Packet, TUNNEL_NAMES } from "../decode/mod.ts";

/** EVE `tunnel` object of a tunnelled packet or flow. */
export interface Tunnel {
  /** Outermost source address. */
  readonly src_ip: string;
  /** Outermost UDP source port (VXLAN, Geneve, Teredo only). */
  readonly src_port?: number;
  /** Outermost destination address. */
  readonly dest_ip: string;
  /** Outermost UDP destination port. */
  readonly dest_port?: number;
  /** Outermost IP protocol: "GRE", "UDP", "IPv4" (4), "IPv6" (41). */
  readonly proto: string;
  /** Tunnel layers around the inner packet (1 to 3). */
  readonly depth: number;
  /** Kind of the outermost tunnel: TUNNEL_NAMES ("gre", "vxlan", …). */
  readonly type: string;
}

const PROTO: Record<number, string> = {
  4: "IPv4",
  17: "UDP",
  41: "IPv6",
  47: "GRE",
};
const SLOTS = 8;

/**
 * The tunnel records of recent outer tuples: `of(p)` is allocation-free
 * for a tuple seen among the last 8 (both directions of a few tunnels).
 */
export class TunnelCache {
  #keys = new Float64Array(SLOTS * 12);
  #vals: (Tunnel | null)[] = new Array(SLOTS).fill(null);
  #next = 0;

  /** The tunnel of the decoded packet `p`, or null when it was not tunnelled. */
  of(p: Packet): Tunnel | null {
    if (p.tunnelDepth === 0) return null;
    const k = this.#keys, s = p.tunnelSrc, d = p.tunnelDst;
    const a = p.tunnelType | (p.tunnelDepth << 8) | (p.tunnelProto << 16);
    const b = p.tunnelSrcPort * 65536 + p.tunnelDstPort;
    for (let i = 0; i < SLOTS; i++) {
      const o = i * 12;
      if (
        k[o] === a && k[o + 1] === b && k[o + 2] === s[0] &&
        k[o + 3] === s[1] && k[o + 4] === s[2] && k[o + 5] === s[3] &&
        k[o + 6] === d[0] && k[o + 7] === d[1] && k[o + 8] === d[2] &&
        k[o + 9] === d[3] && k[o + 10] === p.tunnelVersion
      ) {
        const v = this.#vals[i];
        if (v) return v;
      }
    }
    const i = this.#next;
    this.#next = (i + 1) % SLOTS;
    const o = i * 12;
    k[o] = a;
    k[o + 1] = b;
    for (let w = 0; w < 4; w++) {
      k[o + 2 + w] = s[w]!;
      k[o + 6 + w] = d[w]!;
    }
    k[o + 10] = p.tunnelVersion;
    const t = tunnelOf(p);
    this.#vals[i] = t;
    return t;
  }
}

/** Builds the EVE `tunnel` record of a tunnelled packet (allocates; see {@link TunnelCache}). */
export function tunnelOf(p: Packet): Tunnel {
  const udp = p.tunnelProto === 17;
  return {
    src_ip: formatAddr(p.tunnelVersion, p.tunnelSrc),
    ...(udp ? { src_port: p.tunnelSrcPort } : {}),
    dest_ip: formatAddr(p.tunnelVersion, p.tunnelDst),
    ...(udp ? { dest_port: p.tunnelDstPort } : {}),
    proto: PROTO[p.tunnelProto] ?? String(p.tunnelProto),
    depth: p.tunnelDepth,
    type: TUNNEL_NAMES[p.tunnelType] ?? "none",
  };
}
