/**
 * `arp_spoof`: ARP poisoning and floods on the local segment (RFC 826
 * messages, decoded by decode/l2.ts). Learns address-to-MAC bindings from
 * every ARP request and reply (sender fields), as arpwatch does, and alerts
 * on a binding taken over while its holder is alive, unsolicited replies
 * claiming the gateway's (or another protected) address, one MAC holding
 * many addresses, and ARP floods: the rules and their prior art are in
 * `_bindings.ts` and detect/README.md. Every frame keeps its source MAC
 * alive; MACs that forward traffic from outside home_net are routers.
 *
 * Never a reason to block: the alert's addresses are claimed ones (see
 * `NEVER_BLOCK_TYPES` in respond/).
 *
 * @module
 */
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  ARP_REPLY,
  ARP_REQUEST,
  type Packet,
} from "../decode/mod.ts";
import type { PacketContext } from "../flows/mod.ts";
import { BindingWatch, type ClaimInfo, EverySecond } from "./_bindings.ts";
import type { Detector, Emit } from "./detector.ts";

/** Builds the ARP spoofing detector. */
export function arpSpoof(policy: Policy, emit: Emit): Detector {
  const watch = new BindingWatch(
    "arp_spoof",
    4,
    policy,
    policy.detectors.arp_spoof,
    emit,
  );
  const addr = new Uint32Array(4);
  const reply: ClaimInfo = { unsolicited: true, message: "reply" };
  const gratuitous: ClaimInfo = { unsolicited: true, message: "gratuitous" };
  const request: ClaimInfo = { unsolicited: false, message: "request" };
  let routerMac = -1;
  const checked = new EverySecond();

  return {
    type: "arp_spoof",
    stateSize: () => watch.size,
    onLinkFrame(p: Packet): void {
      watch.seen(p.ethSrc, p.tsUs);
      const a = p.arpMsg;
      if (a.op !== ARP_REQUEST && a.op !== ARP_REPLY) return;
      watch.message(a.sha, p.tsUs);
      if (a.op === ARP_REQUEST && a.spa !== a.tpa) {
        addr[0] = a.tpa;
        watch.request(addr, p.tsUs);
      }
      addr[0] = a.spa;
      const info = a.spa === a.tpa
        ? gratuitous
        : a.op === ARP_REPLY
        ? reply
        : request;
      watch.claim(addr, a.sha, p.tsUs, info);
    },
    onPacket(p: Packet, _ctx: PacketContext): void {
      const mac = p.ethSrc;
      watch.seen(mac, p.tsUs);
      // About once a second per MAC: is it forwarding outside traffic?
      if (
        p.ipVersion === 4 && mac !== routerMac && checked.due(mac, p.tsUs) &&
        !anyCidrContains(policy.home_net, 4, p.src) && p.src[0] !== 0
      ) {
        routerMac = mac;
        watch.router(mac);
      }
    },
    onFinish(): void {
      watch.finish();
    },
  };
}
