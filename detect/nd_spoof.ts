/**
 * `nd_spoof`: IPv6 neighbour-discovery spoofing and floods (RFC 4861
 * messages with hop limit 255, decoded by decode/l2.ts), the IPv6 twin of
 * `arp_spoof`: neighbour advertisements bind their target to the target
 * link-layer address (or the frame's source MAC), neighbour solicitations
 * their source to the source link-layer address; an advertisement without
 * the Solicited flag is unsolicited. Routers are the MACs that send router
 * advertisements or advertisements with the Router flag, and MACs that
 * forward traffic from outside home_net. Same rules as ARP
 * (`_bindings.ts`); never a reason to block.
 *
 * @module
 */
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  NA_ROUTER,
  NA_SOLICITED,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  ND_ROUTER_ADVERT,
  type Packet,
} from "../decode/mod.ts";
import type { PacketContext } from "../flows/mod.ts";
import { BindingWatch, type ClaimInfo, EverySecond } from "./_bindings.ts";
import type { Detector, Emit } from "./detector.ts";

/** Builds the neighbour-discovery spoofing detector. */
export function ndSpoof(policy: Policy, emit: Emit): Detector {
  const watch = new BindingWatch(
    "nd_spoof",
    6,
    policy,
    policy.detectors.nd_spoof,
    emit,
  );
  const solicited: ClaimInfo = { unsolicited: false, message: "solicited NA" };
  const unsolicited: ClaimInfo = {
    unsolicited: true,
    message: "unsolicited NA",
  };
  const solicitation: ClaimInfo = { unsolicited: false, message: "NS" };
  let routerMac = -1;
  const checked = new EverySecond();

  return {
    type: "nd_spoof",
    stateSize: () => watch.size,
    onLinkFrame(p: Packet): void {
      watch.seen(p.ethSrc, p.tsUs);
    },
    onPacket(p: Packet, _ctx: PacketContext): void {
      const mac = p.ethSrc;
      watch.seen(mac, p.tsUs);
      if (p.ipVersion !== 6) return;
      const nd = p.nd;
      if (nd.type === 0) {
        // About once a second per MAC: is it forwarding outside traffic?
        if (
          mac !== routerMac && checked.due(mac, p.tsUs) &&
          !anyCidrContains(policy.home_net, 6, p.src) && p.src[0] !== 0
        ) {
          routerMac = mac;
          watch.router(mac);
        }
        return;
      }
      const lla = nd.lla >= 0 ? nd.lla : mac;
      watch.message(lla, p.tsUs);
      switch (nd.type) {
        case ND_NEIGHBOR_ADVERT:
          if ((nd.flags & NA_ROUTER) !== 0) watch.router(lla);
          watch.claim(
            nd.target,
            lla,
            p.tsUs,
            (nd.flags & NA_SOLICITED) !== 0 ? solicited : unsolicited,
          );
          break;
        case ND_NEIGHBOR_SOLICIT:
          watch.request(nd.target, p.tsUs);
          // A solicitation from :: (duplicate address detection) claims nothing.
          if (nd.lla >= 0) watch.claim(p.src, nd.lla, p.tsUs, solicitation);
          break;
        case ND_ROUTER_ADVERT:
          watch.router(lla);
          break;
      }
    },
    onFinish(): void {
      watch.finish();
    },
  };
}
