/**
 * `external_inbound`: a connection initiated from outside home_net to an
 * inside host on a port the policy does not expose (`exposed`).
 *
 * Which connections count (policy `require_accepted`, default true): only
 * those the inside host accepted and the outside client completed, i.e. the
 * three-way handshake finished (the client's ACK after the inside host's
 * SYN+ACK), or the inside host answered a UDP datagram. Those prove a
 * reachable service the owner did not declare (a forgotten port forward, a
 * firewall hole) and a real client: a spoofed SYN flood gets SYN+ACKs but
 * never completes, so it cannot turn into thousands of these alerts. A bare
 * SYN or datagram that the inside host refused or ignored is background
 * noise from the Internet and, in numbers, a scan: the port-scan detector
 * covers it. With `require_accepted: false` every SYN or first datagram
 * counts.
 *
 * One outside host reaching several services of one inside host is one
 * incident: its detections share the pair's aggregation key and the
 * alert lists every service reached in `ports` (`"TCP/22"`, kept whole
 * across the alert: `Detection.union`).
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  formatAddr,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Packet,
  TCP_ACK,
  TCP_SYN,
} from "../decode/mod.ts";
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type Flow,
  type PacketContext,
} from "../flows/mod.ts";
import { detection, type Detector, type Emit } from "./detector.ts";

const UNION = Object.freeze(["ports"]);
const TYPE: AlertType = "external_inbound";

/** Builds the external-inbound detector. */
export function externalInbound(policy: Policy, emit: Emit): Detector {
  const accepted = policy.detectors.external_inbound.require_accepted;
  const exposed = policy.exposed;

  function isExposed(f: Flow, proto: string): boolean {
    for (const e of exposed) {
      if (f.dstPort < e.from || f.dstPort > e.to) continue;
      if (e.proto !== "any" && e.proto !== proto) continue;
      if (
        e.hosts.length === 0 || anyCidrContains(e.hosts, f.version, f.dstAddr)
      ) {
        return true;
      }
    }
    return false;
  }

  return {
    type: TYPE,
    stateSize: () => 0,
    onPacket(p: Packet, ctx: PacketContext): void {
      const f = ctx.flow;
      let hit = false;
      if (p.proto === IPPROTO_TCP) {
        const syn = p.tcpFlags & (TCP_SYN | TCP_ACK);
        // Accepted: the client's first ACK after the inside host's SYN+ACK,
        // which a spoofed source never sends.
        hit = accepted
          ? syn === TCP_ACK && ctx.dir === DIR_TO_SERVER &&
            f.synAckCount > 0 && f.pktsToServer - f.synCount === 1
          : syn === TCP_SYN && ctx.dir === DIR_TO_SERVER && f.synCount === 1;
      } else if (p.proto === IPPROTO_UDP) {
        hit = accepted
          ? ctx.dir === DIR_TO_CLIENT && f.pktsToClient === 1 &&
            f.pktsToServer > 0
          : ctx.newFlow && ctx.dir === DIR_TO_SERVER;
      }
      if (!hit) return;
      if (!anyCidrContains(policy.home_net, f.version, f.dstAddr)) return;
      if (anyCidrContains(policy.home_net, f.version, f.srcAddr)) return;
      const proto = p.proto === IPPROTO_TCP ? "tcp" : "udp";
      if (isExposed(f, proto)) return;
      const src = formatAddr(f.version, f.srcAddr);
      const dst = formatAddr(f.version, f.dstAddr);
      const P = proto.toUpperCase();
      emit(detection(policy, TYPE, proto, {
        tsUs: p.tsUs,
        src,
        dest: dst,
        srcPort: f.srcPort,
        destPort: f.dstPort,
        proto: P,
        flowId: f.id,
        // One alert per outside host and inside host: the services it
        // reached accumulate in `ports`.
        union: UNION,
        evidence: {
          port: f.dstPort,
          proto: P,
          ports: [`${P}/${f.dstPort}`],
          accepted,
          exposed_ports: exposed.length,
        },
        explanation:
          `${src} (outside home_net) ${accepted ? "reached" : "tried"} ` +
          `${dst}:${f.dstPort}/${proto}, a port the policy does not expose`,
      }));
    },
  };
}
