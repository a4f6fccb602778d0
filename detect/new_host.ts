/**
 * `new_host`: an address of home_net seen for the first time, once per host
 * (informational; never a reason to block). A host counts as present once
 * it takes part in two-way traffic: it sends a packet on a flow that already
 * carries packets the other way (the ACK after a SYN+ACK, an answer to a
 * request). Spoofed sources, which never hear back, do not count; devices
 * that only ever broadcast are not reported.
 *
 * Remembered hosts are bounded by `max_hosts`; beyond it no more new_host
 * detections are made. The appliance passes `isKnown` (its KV table of
 * familiar hosts) so a host seen in an earlier run is not new.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import { anyCidrContains, formatAddr, type Packet } from "../decode/mod.ts";
import { eveTimestamp, protoName } from "../events/mod.ts";
import { type Host, hostIp, type PacketContext } from "../flows/mod.ts";
import { detection, type Detector, type Emit, isUnicast } from "./detector.ts";

const TYPE: AlertType = "new_host";

/** Options of {@link newHost}. */
export interface NewHostOptions {
  /** True when the address (text) is already familiar (e.g. from KV). */
  isKnown?: (ip: string) => boolean;
}

function addrHash(version: number, w: ArrayLike<number>): number {
  if (version === 4) return w[0]!;
  let h = 0x6a09e667;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ w[i]!, 0x9e3779b1) ^ (h >>> 15);
  return 0x100000000 + (h >>> 0); // apart from every IPv4 value
}

/** Builds the new-host detector. */
export function newHost(
  policy: Policy,
  emit: Emit,
  opts: NewHostOptions = {},
): Detector {
  const cap = policy.detectors.new_host.max_hosts;
  const seen = new Set<number>();
  const confirmed = new WeakSet<Host>();

  function check(h: Host, p: Packet, ctx: PacketContext): void {
    confirmed.add(h);
    const v = h.version;
    if (!isUnicast(v, h.addr) || !anyCidrContains(policy.home_net, v, h.addr)) {
      return;
    }
    const key = addrHash(v, h.addr);
    if (seen.has(key) || seen.size >= cap) return;
    seen.add(key);
    const ip = hostIp(h);
    if (opts.isKnown?.(ip)) return;
    const f = ctx.flow;
    const peer = formatAddr(p.ipVersion, p.dst);
    const role = f.srcAddr[0] === h.addr[0] && f.srcAddr[3] === h.addr[3] &&
        f.srcAddr[1] === h.addr[1] && f.srcAddr[2] === h.addr[2]
      ? "client"
      : "server";
    const proto = protoName(f.proto);
    emit(detection(policy, TYPE, "", {
      tsUs: p.tsUs,
      src: ip,
      proto,
      key: ip,
      evidence: {
        first_seen: eveTimestamp(h.firstUs),
        first_peer: peer,
        first_flow: `${proto} ${role}${
          f.proto === 6 || f.proto === 17 ? ` port ${f.dstPort}` : ""
        }`,
      },
      explanation:
        `${ip} appeared on the local network (two-way ${proto} traffic with ${peer})`,
    }));
  }

  return {
    type: TYPE,
    stateSize: () => seen.size,
    onPacket(p: Packet, ctx: PacketContext): void {
      const f = ctx.flow;
      if (f.pktsToServer === 0 || f.pktsToClient === 0) return;
      const h = ctx.srcHost;
      if (!confirmed.has(h)) check(h, p, ctx);
    },
  };
}
