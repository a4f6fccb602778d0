/**
 * Decoys (`nmap -D`), shared by the port-scan and host-sweep detectors.
 * nmap sends each probe from every decoy address and from the real one
 * back to back, so probes from several sources to the same port (or ICMP
 * type) of the same host start within a millisecond of each other, probe
 * after probe: lockstep. A {@link LockstepWatch} remembers the previous
 * probe-like start and tells whether a new one echoes it; each detector
 * charges both sources' trackers and keeps the group of a target (a host
 * for scans, a port for sweeps). Only the real scanner can react to the
 * target's answers (its kernel resets the SYN+ACKs of a half-open probe, or
 * it completes handshakes): {@link decoyVerdict} names it when exactly one
 * member did. This is the "decoy portscan" of Snort's sfPortscan
 * (README.sfportscan), told apart by who answers.
 *
 * @module
 */
import { formatAddr } from "../decode/mod.ts";

/** Starts this close (µs) to the previous one, to the same host and port, are in lockstep. */
export const LOCKSTEP_US = 1000;
/**
 * Lockstep starts a source needs to count as one of a decoy group (and at
 * least half of its probes): two scanners of one host coincide now and
 * then, decoys on every probe.
 */
export const MIN_LOCKSTEP = 5;
/** Sources of a decoy group remembered per target. */
export const MAX_GROUP = 64;

/** A per-source tracker that can be a member of a decoy group. */
export interface LockstepMember {
  version: 4 | 6;
  readonly scanner: Uint32Array;
  /** Probes counted. */
  probes: number;
  /** Starts in lockstep with another source's. */
  lockstep: number;
  /** A probe of it reacted to the target's answer (`ProbeOut.reacted`). */
  reacted: boolean;
}

/** The previous probe-like start (no allocation per start). */
export class LockstepWatch {
  #us = -1;
  #version = 4;
  #port = 0;
  #proto = 0;
  /** Source of the previous start (valid after {@link echoes}). */
  readonly prevSrc: Uint32Array = new Uint32Array(4);
  readonly #dst = new Uint32Array(4);
  /** The tracker charged for the previous start, so it is charged once. */
  prevMember: LockstepMember | null = null;

  /**
   * True when a start from `src` to `dst` (`proto`, `port`) at `us`
   * echoes the previous start: same host, protocol and port, another
   * source, within {@link LOCKSTEP_US}. Call {@link next} after.
   */
  echoes(
    version: number,
    src: ArrayLike<number>,
    dst: ArrayLike<number>,
    proto: number,
    port: number,
    us: number,
  ): boolean {
    return this.#us >= 0 && us - this.#us <= LOCKSTEP_US && us >= this.#us &&
      this.#port === port && this.#proto === proto &&
      this.#version === version && sameWords(this.#dst, dst) &&
      !sameWords(this.prevSrc, src);
  }

  /** Makes this start the previous one; `member` is charged for it, or null. */
  next(
    version: number,
    src: ArrayLike<number>,
    dst: ArrayLike<number>,
    proto: number,
    port: number,
    us: number,
    member: LockstepMember | null,
  ): void {
    this.#us = us;
    this.#version = version;
    this.#port = port;
    this.#proto = proto;
    this.prevSrc.set(src);
    this.#dst.set(dst);
    this.prevMember = member;
  }
}

/** True when two address word arrays are equal. */
export function sameWords(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** True when `m` probes in lockstep enough to be one of a decoy group. */
export function inLockstep(m: LockstepMember): boolean {
  return m.lockstep >= MIN_LOCKSTEP && m.lockstep * 2 >= m.probes;
}

/** Adds `m` to `group` when it is in lockstep (bounded, once). */
export function joinGroup(group: LockstepMember[], m: LockstepMember): void {
  if (inLockstep(m) && group.length < MAX_GROUP && !group.includes(m)) {
    group.push(m);
  }
}

/** What a decoy group says about one of its members' alert. */
export type DecoyVerdict =
  /** Not part of a decoy group: its own alert, as before. */
  | { readonly kind: "alone" }
  /** The one member that reacted: its alert, the others listed as decoys. */
  | { readonly kind: "scanner"; readonly decoys: string[] }
  /** A decoy of a known scanner: no alert of its own. */
  | { readonly kind: "decoy" }
  /** None or several reacted: one alert for the group, blocking no one. */
  | { readonly kind: "unknown"; readonly sources: string[] };

/**
 * The verdict for member `t` of `group` (members still tracking the same
 * target; the caller filters). Formats addresses only for a group.
 */
export function decoyVerdict(
  group: readonly LockstepMember[],
  t: LockstepMember,
): DecoyVerdict {
  if (!inLockstep(t)) return { kind: "alone" };
  const members = group.filter(inLockstep);
  if (members.length < 2 || !members.includes(t)) return { kind: "alone" };
  let reacted: LockstepMember | null = null, n = 0;
  for (const m of members) {
    if (m.reacted) {
      reacted = m;
      n++;
    }
  }
  if (n === 1) {
    if (reacted !== t) return { kind: "decoy" };
    return {
      kind: "scanner",
      decoys: members.filter((m) => m !== t).map((m) =>
        formatAddr(m.version, m.scanner)
      ).sort(),
    };
  }
  return {
    kind: "unknown",
    sources: members.map((m) => formatAddr(m.version, m.scanner)).sort(),
  };
}

/** The sentence an alert's explanation gets for verdict `v` about `src`. */
export function verdictNote(v: DecoyVerdict, src: string): string {
  const list = (xs: readonly string[]) =>
    `${xs.slice(0, 5).join(", ")}${xs.length > 5 ? ", …" : ""}`;
  switch (v.kind) {
    case "scanner":
      return `; ${v.decoys.length} decoy source${
        v.decoys.length > 1 ? "s" : ""
      } (${
        list(v.decoys)
      }) sent the same probes at the same instants, and only ${src} answered the target's replies`;
    case "unknown":
      return `; ${v.sources.length} sources (${
        list(v.sources)
      }) sent the same probes at the same instants (decoys), and none or several answered the target's replies: the real one cannot be told apart`;
    case "alone":
    case "decoy":
      return "";
    default: {
      const never: never = v;
      return never;
    }
  }
}
