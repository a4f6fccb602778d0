/**
 * Which tunnel the detectors are looking at: one observer in front of a
 * group of detectors that forwards packets, app-layer records, stream
 * events and flow ends to them, and an
 * emit wrapper that gives a detection emitted meanwhile the tunnel of that
 * packet's flow (as its first packet came through it, so oriented like the
 * flow, client to server), so the alert it opens carries Suricata's EVE
 * `tunnel` object. Detections emitted on a tick name no tunnel.
 *
 * @module
 */
import type { Detection } from "../alerts/alert.ts";
import type { Packet } from "../decode/mod.ts";
import type {
  Flow,
  FlowEndReason,
  PacketContext,
  Tunnel,
} from "../flows/mod.ts";
import type { AppContext, AppObserver, AppRecord } from "../protocols/mod.ts";
import type { Emit } from "./detector.ts";

/**
 * The tunnel in scope while detectors run.
 *
 * @example
 * ```ts
 * const scope = new TunnelScope();
 * const detectors = createDetectors(policy, scope.wrap(agg.emit));
 * const pipeline = new Pipeline({ observers: [scope.observe(detectors), agg.observer()] });
 * ```
 */
export class TunnelScope {
  /** The tunnel of the packet or flow being looked at, else null. */
  current: Tunnel | null = null;

  /** `emit`, giving each detection the tunnel in scope (unless it names one). */
  wrap(emit: Emit): Emit {
    return (d: Detection) => {
      if (this.current !== null && d.tunnel === undefined) {
        d.tunnel = this.current;
      }
      emit(d);
    };
  }

  /** One observer that forwards to `detectors` with the tunnel in scope. */
  observe(detectors: readonly AppObserver[]): AppObserver {
    const withPacket = detectors.filter((d) => d.onPacket);
    const withApp = detectors.filter((d) => d.onApp);
    const withEvent = detectors.filter((d) => d.onStreamEvent);
    const withLink = detectors.filter((d) => d.onLinkFrame);
    let kinds: AppRecord["kind"][] | undefined = [];
    for (const d of withApp) {
      if (d.appKinds === undefined) kinds = undefined;
      else if (kinds !== undefined) {
        for (const k of d.appKinds) if (!kinds.includes(k)) kinds.push(k);
      }
    }
    return {
      appKinds: kinds,
      onLinkFrame: (p: Packet) => {
        for (let i = 0; i < withLink.length; i++) withLink[i]!.onLinkFrame!(p);
      },
      onApp: (rec: AppRecord, ctx: AppContext) => {
        this.current = ctx.flow.tunnel;
        for (let i = 0; i < withApp.length; i++) withApp[i]!.onApp!(rec, ctx);
        this.current = null;
      },
      onStreamEvent: (f: Flow, dir: number, event: string, tsUs: number) => {
        this.current = f.tunnel;
        for (const d of withEvent) d.onStreamEvent!(f, dir, event, tsUs);
        this.current = null;
      },
      onPacket: (p: Packet, ctx: PacketContext) => {
        this.current = ctx.flow.tunnel ?? ctx.tunnel;
        for (let i = 0; i < withPacket.length; i++) {
          withPacket[i]!.onPacket!(p, ctx);
        }
        this.current = null;
      },
      onFlowEnd: (f: Flow, reason: FlowEndReason) => {
        this.current = f.tunnel;
        for (const d of detectors) d.onFlowEnd?.(f, reason);
        this.current = null;
      },
      onTick: (nowUs: number) => {
        for (const d of detectors) d.onTick?.(nowUs);
      },
      onFinish: (nowUs: number) => {
        for (const d of detectors) d.onFinish?.(nowUs);
      },
    };
  }
}
