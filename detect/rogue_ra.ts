/**
 * `rogue_ra`: IPv6 router advertisements (RFC 4861 §4.2, hop limit 255)
 * from a router that is not known. Known routers are the policy's `routers`
 * (link-local addresses); with none listed, the first router heard is
 * learned and every other one reported — the check of NDPMon and of RA
 * Guard (RFC 6105) without the switch. A rogue advertisement makes hosts
 * route through its sender (a man in the middle, or a black hole with
 * lifetime 0 for the real router). Never a reason to block.
 *
 * @module
 */
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  formatAddr,
  formatMac,
  ND_ROUTER_ADVERT,
  type Packet,
} from "../decode/mod.ts";
import type { PacketContext } from "../flows/mod.ts";
import { detection, type Detector, type Emit } from "./detector.ts";

/** Routers remembered (learned and reported). */
const MAX_ROUTERS = 1024;

/** Builds the rogue router-advertisement detector. */
export function rogueRa(policy: Policy, emit: Emit): Detector {
  const listed = policy.detectors.rogue_ra.routers;
  const known = new Set<string>();
  const reported = new Set<string>();

  return {
    type: "rogue_ra",
    stateSize: () => known.size + reported.size,
    onPacket(p: Packet, _ctx: PacketContext): void {
      if (p.ipVersion !== 6 || p.nd.type !== ND_ROUTER_ADVERT) return;
      if (listed.length > 0 && anyCidrContains(listed, 6, p.src)) return;
      const ip = formatAddr(6, p.src);
      if (known.has(ip)) return;
      if (listed.length === 0 && known.size === 0) {
        known.add(ip);
        return;
      }
      const mac = p.nd.lla >= 0 ? p.nd.lla : p.ethSrc;
      const first = !reported.has(ip);
      if (first && reported.size < MAX_ROUTERS) reported.add(ip);
      emit(detection(policy, "rogue_ra", "", {
        tsUs: p.tsUs,
        src: ip,
        proto: "IPv6-ICMP",
        key: ip,
        evidence: {
          router_mac: formatMac(mac),
          router_lifetime_s: p.nd.routerLifetime,
          managed: (p.nd.flags & 0x80) !== 0,
          other_config: (p.nd.flags & 0x40) !== 0,
          known_routers: listed.length > 0
            ? listed.map((c) => c.text)
            : [...known],
        },
        explanation: `${ip} (${
          formatMac(mac)
        }) advertises itself as an IPv6 router but is not a known router${
          p.nd.routerLifetime === 0
            ? " (lifetime 0: hosts drop it as default router)"
            : ": hosts may route their IPv6 traffic through it"
        }`,
      }));
    },
  };
}
