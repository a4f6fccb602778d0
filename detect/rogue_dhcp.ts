/**
 * `rogue_dhcp`: DHCP offers and acks (RFC 2131) from a server that is not
 * known. Known servers are the policy's `servers`; with none listed, the
 * first server heard offering or acknowledging is learned, as
 * `new_host_learning` learns hosts, and every other one is reported with
 * what it handed out (address, router, DNS servers, lease) — a rogue
 * server that answers first becomes the clients' gateway and resolver
 * (what dhcp_probe and Firewalla's rogue-DHCP check look for). The server
 * is the server identifier (option 54), else the packet's source. Never a
 * reason to block: it would cut off the clients it configured. An unknown
 * server stays unknown: each of its offers is a detection, folded by the
 * aggregator into one alert per server.
 *
 * @module
 */
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  APP_DHCP,
  DHCP_ACK,
  DHCP_OFFER,
  formatAddr,
  formatMac,
  type Packet,
} from "../decode/mod.ts";
import type { PacketContext } from "../flows/mod.ts";
import { detection, type Detector, type Emit } from "./detector.ts";

/** Builds the rogue DHCP server detector. */
export function rogueDhcp(policy: Policy, emit: Emit): Detector {
  const listed = policy.detectors.rogue_dhcp.servers;
  const known = new Set<number>();
  const server = new Uint32Array(4);
  const w = new Uint32Array(4);

  function ip4(x: number): string {
    w[0] = x;
    return formatAddr(4, w);
  }

  return {
    type: "rogue_dhcp",
    stateSize: () => known.size,
    onPacket(p: Packet, _ctx: PacketContext): void {
      if (p.app !== APP_DHCP) return;
      const d = p.dhcp;
      if (d.op !== 2 || (d.msgType !== DHCP_OFFER && d.msgType !== DHCP_ACK)) {
        return;
      }
      server[0] = d.serverId !== 0 ? d.serverId : p.src[0]!;
      if (listed.length > 0) {
        if (anyCidrContains(listed, 4, server)) return;
      } else {
        if (known.has(server[0]!)) return;
        if (known.size === 0) {
          known.add(server[0]!);
          return;
        }
      }
      const ip = formatAddr(4, server);
      const dns: string[] = [];
      for (let i = 0; i < d.dnsCount; i++) dns.push(ip4(d.dns[i]!));
      const router = d.router !== 0 ? ip4(d.router) : null;
      const offered = d.yiaddr !== 0 ? ip4(d.yiaddr) : null;
      const what = d.msgType === DHCP_OFFER ? "offer" : "ack";
      emit(detection(policy, "rogue_dhcp", "", {
        tsUs: p.tsUs,
        src: ip,
        srcPort: p.srcPort,
        dest: offered ?? undefined,
        destPort: p.dstPort,
        proto: "UDP",
        key: ip,
        evidence: {
          server_ip: ip,
          server_mac: formatMac(p.ethSrc),
          message: what,
          client_mac: formatMac(d.chaddr),
          offered_ip: offered,
          router,
          dns,
          lease_s: d.leaseS,
          known_servers: listed.length > 0
            ? listed.map((c) => c.text)
            : [...known].map(ip4),
        },
        explanation: `${ip} (${
          formatMac(p.ethSrc)
        }) is not a known DHCP server but sent a DHCP ${what}${
          offered ? ` of ${offered}` : ""
        }${router ? `, naming ${router} as router` : ""}${
          dns.length > 0 ? ` and ${dns.join(", ")} as DNS` : ""
        }: clients that take it send their traffic where it says`,
      }));
    },
  };
}
