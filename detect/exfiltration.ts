/**
 * `exfiltration`: an inside host sending far more than it usually does, in
 * one connection, to an outside address it had not used before (or
 * rarely). Each inside host keeps the bytes it sent in its last
 * {@link HISTORY} outbound connections; its usual upload is the 90th
 * percentile of those (0 until it has {@link MIN_HISTORY}). Each (host,
 * outside address) pair counts its earlier connections. A connection that
 * ends having sent at least `min_bytes`, at least `factor` times the usual,
 * more than it received, to an address used at most `rare_flows` times
 * before, raises the alert with the bytes, duration, rate and destination.
 *
 * This is the per-host baseline of Firewalla's "abnormal upload" and of
 * Zeek's and RITA's long-connection and data-size views, cut down to what
 * a home box can keep: both tables are bounded LRU (`max_trackers`).
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import { anyCidrContains, formatAddr } from "../decode/mod.ts";
import type { Flow, FlowEndReason } from "../flows/mod.ts";
import { protoName } from "../events/mod.ts";
import { KeyedTable } from "./_table.ts";
import { Slab } from "./_slab.ts";
import { detection, type Detector, type Emit, seconds } from "./detector.ts";

const TYPE: AlertType = "exfiltration";
/** Outbound connections remembered per host. */
export const HISTORY = 32;
/** Connections a host needs before its usual upload counts. */
export const MIN_HISTORY = 4;
const TAG_HOST = 1, TAG_PAIR = 2;

class HostHistory {
  readonly sent: Float64Array;
  n = 0;
  constructor(slab: Slab) {
    this.sent = slab.f64(HISTORY);
  }
  reset(): void {
    this.n = 0;
  }
}

/** Builds the exfiltration detector. */
export function exfiltration(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.exfiltration;
  const slab = new Slab();
  const hosts = new KeyedTable<HostHistory>(
    cfg.max_trackers,
    () => new HostHistory(slab),
    (h) => h.reset(),
  );
  const pairs = new KeyedTable<{ flows: number }>(
    cfg.max_trackers,
    () => ({ flows: 0 }),
    (v) => {
      v.flows = 0;
    },
  );
  const sorted = new Float64Array(HISTORY);

  function usual(h: HostHistory): number {
    const k = Math.min(h.n, HISTORY);
    if (k < MIN_HISTORY) return 0;
    for (let i = 0; i < k; i++) sorted[i] = h.sent[i]!;
    const s = sorted.subarray(0, k).sort();
    return s[Math.min(k - 1, Math.floor(0.9 * (k - 1) + 0.5))]!;
  }

  return {
    type: TYPE,
    stateSize: () => hosts.size + pairs.size,
    onFlowEnd(f: Flow, _reason: FlowEndReason): void {
      if (f.pktsToServer === 0) return;
      const v = f.version;
      if (
        !anyCidrContains(policy.home_net, v, f.srcAddr) ||
        anyCidrContains(policy.home_net, v, f.dstAddr)
      ) {
        return;
      }
      const up = f.payloadToServer;
      hosts.setKey(TAG_HOST, v, f.srcAddr, null, 0);
      const h = hosts.upsert(f.lastUs);
      pairs.setKey(TAG_PAIR, v, f.srcAddr, f.dstAddr, 0);
      const pair = pairs.upsert(f.lastUs);
      const prior = pair.flows;
      pair.flows++;
      // The cheap tests first: most connections send little.
      const big = up >= cfg.min_bytes && up > f.payloadToClient &&
        prior <= cfg.rare_flows;
      const base = big ? usual(h) : 0;
      h.sent[h.n % HISTORY] = up;
      h.n++;
      if (!big || up < cfg.factor * base) return;
      const src = formatAddr(v, f.srcAddr);
      const dst = formatAddr(v, f.dstAddr);
      const durUs = f.lastUs - f.firstUs;
      const mb = Math.round(up / 1e5) / 10;
      emit(detection(policy, TYPE, "", {
        tsUs: f.lastUs,
        firstUs: f.firstUs,
        src,
        srcPort: f.srcPort,
        dest: dst,
        destPort: f.dstPort,
        proto: protoName(f.proto),
        flowId: f.id,
        key: `${src}>${dst}`,
        evidence: {
          bytes_sent: up,
          bytes_received: f.payloadToClient,
          duration_s: seconds(durUs),
          rate_bps: durUs > 0 ? Math.round((up * 8) / (durUs / 1e6)) : null,
          destination: `${dst}:${f.dstPort}`,
          app_proto: f.appProto || null,
          usual_bytes: Math.round(base),
          host_history: Math.min(h.n - 1, HISTORY),
          prior_connections: prior,
          factor: cfg.factor,
          min_bytes: cfg.min_bytes,
        },
        explanation: `${src} sent ${mb} MB to ${dst}:${f.dstPort} in ${
          seconds(durUs)
        } s, ${
          base > 0
            ? `${Math.round(up / base)} times its usual upload`
            : "with no comparable upload before"
        }, to ${
          prior === 0
            ? "an address it never used before"
            : `an address it used ${prior} time${prior === 1 ? "" : "s"} before`
        }`,
      }));
    },
  };
}
