/**
 * `suspicious_port`: traffic to or from a port on the policy's list
 * (telnet, backdoor and trojan ports, IRC, Tor defaults …), with the reason
 * in the evidence. It fires once per flow whose server port is listed, when
 * the flow carries real traffic: a TCP payload once both sides have spoken
 * (however the data is segmented: data on the SYN or a payload split across
 * segments counts once), or a UDP answer. A scan that merely touches the port (refused, unanswered, or
 * half-open) is the port-scan detector's business, not this one's.
 *
 * One alert per pair of hosts, either way round, within the aggregation
 * window: an attacker talking to a bind shell and an IRC port on a victim,
 * and the victim's reverse shell back to it, are one incident. The alert
 * names the first flow's client as its source and lists every connection
 * (`"10.0.0.66>10.0.0.10:TCP/4444"`) in `connections`.
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
} from "../decode/mod.ts";
import { DIR_TO_CLIENT, type PacketContext } from "../flows/mod.ts";
import { detection, type Detector, type Emit } from "./detector.ts";

const TYPE: AlertType = "suspicious_port";
const UNION = Object.freeze(["connections"]);

/** Builds the suspicious-port detector. */
export function suspiciousPort(policy: Policy, emit: Emit): Detector {
  const reasons: string[] = [];
  const tcp = new Int16Array(65536).fill(-1);
  const udp = new Int16Array(65536).fill(-1);
  for (const s of policy.suspicious_ports) {
    const idx = reasons.length;
    reasons.push(s.reason);
    for (let p = s.from; p <= s.to; p++) {
      if (s.proto !== "udp" && tcp[p] === -1) tcp[p] = idx;
      if (s.proto !== "tcp" && udp[p] === -1) udp[p] = idx;
    }
  }

  /** Per flow slot, the id of the flow already reported there (+1; 0: none). */
  let fired = new Float64Array(1024);
  return {
    type: TYPE,
    stateSize: () => 0,
    onPacket(p: Packet, ctx: PacketContext): void {
      const f = ctx.flow;
      let idx: number;
      if (p.proto === IPPROTO_TCP) {
        idx = tcp[f.dstPort]!;
        if (idx < 0 || p.payloadWireLen === 0) return;
        // A payload once both sides have spoken, once per flow.
        if (f.pktsToServer === 0 || f.pktsToClient === 0) return;
        const slot = f.slot;
        if (slot >= fired.length) {
          const n = new Float64Array(Math.max(slot + 1, fired.length * 2));
          n.set(fired);
          fired = n;
        }
        if (fired[slot] === f.id + 1) return;
        fired[slot] = f.id + 1;
      } else if (p.proto === IPPROTO_UDP) {
        idx = udp[f.dstPort]!;
        if (idx < 0 || ctx.dir !== DIR_TO_CLIENT || f.pktsToClient !== 1) {
          return;
        }
        if (f.pktsToServer === 0) return;
      } else {
        return;
      }
      const src = formatAddr(f.version, f.srcAddr);
      const dst = formatAddr(f.version, f.dstAddr);
      const proto = p.proto === IPPROTO_TCP ? "TCP" : "UDP";
      const inSrc = anyCidrContains(policy.home_net, f.version, f.srcAddr);
      const inDst = anyCidrContains(policy.home_net, f.version, f.dstAddr);
      const direction = inSrc && inDst
        ? "internal"
        : inSrc
        ? "outbound"
        : inDst
        ? "inbound"
        : "transit";
      const reason = reasons[idx] ?? "";
      emit(detection(policy, TYPE, "", {
        tsUs: p.tsUs,
        src,
        dest: dst,
        srcPort: f.srcPort,
        destPort: f.dstPort,
        proto,
        flowId: f.id,
        // One alert per pair of hosts, either way: an attacker's
        // connection to a backdoor and the victim's reverse shell back are
        // one incident; the connections accumulate in `connections`.
        key: src < dst ? `${src}<>${dst}` : `${dst}<>${src}`,
        union: UNION,
        evidence: {
          port: f.dstPort,
          proto,
          reason,
          direction,
          connections: [`${src}>${dst}:${proto}/${f.dstPort}`],
        },
        explanation: `${src} exchanged ${proto} traffic with ${dst} on port ` +
          `${f.dstPort} (${direction}): ${reason}`,
      }));
    },
  };
}
