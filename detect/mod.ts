/**
 * Detectors: small flow observers of one shape ({@link Detector}) that see
 * decoded packets, flow ends and ticks in packet time, keep bounded state,
 * and emit {@link Detection}s for the alert pipeline (alerts/). One module a
 * detector: port scans, host sweeps, SYN/UDP/ICMP floods, brute force, DNS
 * tunnels, malformed HTTP, suspicious ports, external-inbound connections,
 * new hosts, ARP and neighbour spoofing, rogue router advertisements and
 * DHCP servers, beaconing and exfiltration; the Isolation Forest scorer (ml/) plugs in through
 * {@link CreateDetectorsOptions.extra}. Thresholds come from the policy;
 * detect/README.md explains the defaults.
 *
 * @example
 * ```ts
 * const agg = new AlertAggregator({ policy, onFinal: print });
 * const pipeline = new Pipeline({
 *   observers: [...createDetectors(policy, agg.emit), agg.observer()],
 * });
 * ```
 *
 * @module
 */
import type { AdmitCheck } from "../alerts/aggregator.ts";
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import { arpSpoof } from "./arp_spoof.ts";
import { beacon } from "./beacon.ts";
import { bruteForce } from "./brute_force.ts";
import type { Detector, DetectorFactory, Emit } from "./detector.ts";
import { dnsTunnel } from "./dns_tunnel.ts";
import { exfiltration } from "./exfiltration.ts";
import { externalInbound } from "./external_inbound.ts";
import { icmpFlood, synFlood, udpFlood } from "./flood.ts";
import { hostSweep } from "./host_sweep.ts";
import { malformedHttp } from "./malformed_http.ts";
import { ndSpoof } from "./nd_spoof.ts";
import { newHost } from "./new_host.ts";
import { portScan } from "./port_scan.ts";
import { rogueDhcp } from "./rogue_dhcp.ts";
import { rogueRa } from "./rogue_ra.ts";
import { suspiciousPort } from "./suspicious_port.ts";

export type {
  DetectionFacts,
  Detector,
  DetectorFactory,
  Emit,
} from "./detector.ts";
export { detection, isUnicast } from "./detector.ts";
export {
  signatureById,
  type SignatureInfo,
  signatureOf,
  SIGNATURES,
} from "./signatures.ts";
export { anomalyDetector, type AnomalyDetectorOptions } from "./anomaly.ts";
export { arpSpoof } from "./arp_spoof.ts";
export { beacon, dispersionScores, type SampleScores } from "./beacon.ts";
export { bruteForce } from "./brute_force.ts";
export { dnsTunnel } from "./dns_tunnel.ts";
export { exfiltration } from "./exfiltration.ts";
export { externalInbound } from "./external_inbound.ts";
export { icmpFlood, synFlood, udpFlood } from "./flood.ts";
export { hostSweep } from "./host_sweep.ts";
export { malformedHttp } from "./malformed_http.ts";
export { ndSpoof } from "./nd_spoof.ts";
export { newHost, type NewHostOptions } from "./new_host.ts";
export { portScan } from "./port_scan.ts";
export { rogueDhcp } from "./rogue_dhcp.ts";
export { rogueRa } from "./rogue_ra.ts";
export { suspiciousPort } from "./suspicious_port.ts";

/** The rule detectors by alert type, in the order they run. */
export const RULE_DETECTORS: ReadonlyArray<
  readonly [AlertType, DetectorFactory]
> = [
  ["port_scan", portScan],
  ["host_sweep", hostSweep],
  ["syn_flood", synFlood],
  ["udp_flood", udpFlood],
  ["icmp_flood", icmpFlood],
  ["brute_force", bruteForce],
  ["dns_tunnel", dnsTunnel],
  ["malformed_http", malformedHttp],
  ["suspicious_port", suspiciousPort],
  ["external_inbound", externalInbound],
  ["new_host", (policy, emit) => newHost(policy, emit)],
  ["arp_spoof", arpSpoof],
  ["nd_spoof", ndSpoof],
  ["rogue_ra", rogueRa],
  ["rogue_dhcp", rogueDhcp],
  ["beacon", beacon],
  ["exfiltration", exfiltration],
];

/** Options of {@link createDetectors}. */
export interface CreateDetectorsOptions {
  /** Familiar hosts (e.g. from KV): new_host stays quiet for them. */
  isKnownHost?: (ip: string) => boolean;
  /**
   * More detectors built the same way, e.g. the Isolation Forest scorer
   * (type "anomaly"); each is built only when its type is enabled.
   */
  extra?: ReadonlyArray<readonly [AlertType, DetectorFactory]>;
  /**
   * The alert pipeline's admission check (`AlertAggregator.admits`),
   * handed to the extra detectors: the anomaly detector builds no
   * explanation for a detection the pipeline would drop.
   */
  admits?: AdmitCheck;
}

/**
 * Builds every detector the policy enables, each emitting to `emit`.
 * Rebuild them when the policy changes (detector state starts over).
 */
export function createDetectors(
  policy: Policy,
  emit: Emit,
  opts: CreateDetectorsOptions = {},
): Detector[] {
  const out: Detector[] = [];
  for (const [type, make] of RULE_DETECTORS) {
    if (!policy.detectors[type].enabled) continue;
    out.push(
      type === "new_host"
        ? newHost(policy, emit, { isKnown: opts.isKnownHost })
        : make(policy, emit),
    );
  }
  for (const [type, make] of opts.extra ?? []) {
    if (policy.detectors[type].enabled) {
      out.push(make(policy, emit, opts.admits));
    }
  }
  return out;
}
export { TunnelScope } from "./tunnel_scope.ts";
