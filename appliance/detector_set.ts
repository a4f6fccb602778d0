/**
 * The detectors in force, rebuilt when the policy changes: one pipeline
 * observer that forwards to the current set, so a policy edit from the
 * dashboard applies without a restart (detector state starts over).
 *
 * @module
 */
import type { PolicyHolder } from "../alerts/mod.ts";
import {
  createDetectors,
  type CreateDetectorsOptions,
  type Detector,
  type Emit,
  TunnelScope,
} from "../detect/mod.ts";
import type { Packet } from "../decode/mod.ts";
import type { Flow, FlowEndReason, PacketContext } from "../flows/mod.ts";
import type { AppContext, AppObserver, AppRecord } from "../protocols/mod.ts";

/** The union of observers' `appKinds` (undefined: one of them reads all). */
export function kindsOf(
  obs: readonly AppObserver[],
): readonly AppRecord["kind"][] | undefined {
  const kinds = new Set<AppRecord["kind"]>();
  for (const o of obs) {
    if (!o.onApp) continue;
    if (o.appKinds === undefined) return undefined;
    for (const k of o.appKinds) kinds.add(k);
  }
  return [...kinds];
}

/** Every enabled detector behind one observer; see the module doc. */
export class DetectorSet implements AppObserver {
  #detectors: Detector[] = [];
  #withPacket: Detector[] = [];
  #withLink: Detector[] = [];
  /** How many of the last detectors are extra ones (see {@link setExtra}). */
  #extras = 0;
  #nowUs = 0;
  #holder: PolicyHolder;
  #emit: Emit;
  /** The tunnel of what the detectors are looking at, during a call. */
  #scope = new TunnelScope();
  #opts: CreateDetectorsOptions;
  #kinds: readonly AppRecord["kind"][] | undefined = undefined;
  /** Times the set was rebuilt after a policy change. */
  rebuilds = 0;

  /** Builds the detectors the holder's policy enables and follows its changes. */
  constructor(
    holder: PolicyHolder,
    emit: Emit,
    opts: CreateDetectorsOptions = {},
  ) {
    this.#holder = holder;
    // A detection emitted while a detector looks at a tunnelled packet or
    // flow names that tunnel (Suricata's alert `tunnel` object).
    this.#emit = this.#scope.wrap(emit);
    this.#opts = opts;
    this.#build();
    holder.onChange(() => {
      this.rebuilds++;
      this.#build();
    });
  }

  #build(): void {
    this.#detectors = createDetectors(
      this.#holder.current,
      this.#emit,
      this.#opts,
    );
    // createDetectors puts the enabled extra detectors last.
    const policy = this.#holder.current;
    this.#extras = (this.#opts.extra ?? [])
      .filter(([type]) => policy.detectors[type].enabled).length;
    this.#withPacket = this.#detectors.filter((d) => d.onPacket);
    this.#withLink = this.#detectors.filter((d) => d.onLinkFrame);
    this.#kinds = kindsOf(this.#detectors);
  }

  /**
   * Replaces the extra detectors (e.g. the anomaly detector with a
   * retrained model) without a restart. The rule detectors keep their
   * state; the replaced ones are finished (told the end of input at the
   * last tick) and the new ones start empty. Later policy changes rebuild
   * with the new extras.
   */
  setExtra(extra: CreateDetectorsOptions["extra"]): void {
    const keep = this.#detectors.length - this.#extras;
    const old = this.#detectors.slice(keep);
    this.#opts = { ...this.#opts, extra };
    const policy = this.#holder.current;
    const fresh: Detector[] = [];
    for (const [type, make] of extra ?? []) {
      if (policy.detectors[type].enabled) {
        fresh.push(make(policy, this.#emit, this.#opts.admits));
      }
    }
    this.#detectors = [...this.#detectors.slice(0, keep), ...fresh];
    this.#extras = fresh.length;
    this.#withPacket = this.#detectors.filter((d) => d.onPacket);
    this.#withLink = this.#detectors.filter((d) => d.onLinkFrame);
    this.#kinds = kindsOf(this.#detectors);
    for (const d of old) d.onFinish?.(this.#nowUs);
  }

  /** Alert types of the detectors in force. */
  get types(): string[] {
    return this.#detectors.map((d) => d.type);
  }

  /** Forwards a packet to every detector. */
  onPacket(p: Packet, ctx: PacketContext): void {
    const ds = this.#withPacket;
    this.#scope.current = ctx.flow.tunnel ?? ctx.tunnel;
    for (let i = 0; i < ds.length; i++) ds[i]!.onPacket!(p, ctx);
    this.#scope.current = null;
  }

  /**
   * The record kinds the detectors in force read. The pipeline asks per
   * detected TCP connection, so HTTP, TLS and DNS over TCP follow changes;
   * DNS over UDP is parsed only if DNS was wanted when the set was added.
   */
  get appKinds(): readonly AppRecord["kind"][] | undefined {
    return this.#kinds;
  }

  /** Forwards an app-layer record to the detectors that read them. */
  onApp(rec: AppRecord, ctx: AppContext): void {
    const ds = this.#detectors;
    this.#scope.current = ctx.flow.tunnel;
    for (let i = 0; i < ds.length; i++) ds[i]!.onApp?.(rec, ctx);
    this.#scope.current = null;
  }

  /** Forwards a non-IP frame (ARP) to the detectors that watch layer 2. */
  onLinkFrame(p: Packet): void {
    const ds = this.#withLink;
    for (let i = 0; i < ds.length; i++) ds[i]!.onLinkFrame!(p);
  }

  /** Forwards a flow end. */
  onFlowEnd(f: Flow, reason: FlowEndReason): void {
    this.#scope.current = f.tunnel;
    for (const d of this.#detectors) d.onFlowEnd?.(f, reason);
    this.#scope.current = null;
  }

  /** Forwards a tick. */
  onTick(nowUs: number): void {
    this.#nowUs = nowUs;
    for (const d of this.#detectors) d.onTick?.(nowUs);
  }

  /** Forwards the end of input. */
  onFinish(nowUs: number): void {
    for (const d of this.#detectors) d.onFinish?.(nowUs);
  }
}
