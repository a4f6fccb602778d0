/**
 * The layer-2 watch shared by `arp_spoof` (ARP) and `nd_spoof` (IPv6
 * neighbour discovery): learns which MAC holds each address, as arpwatch
 * does, and reports
 *
 * - **changed**: a claim that moves a known address to another MAC while
 *   the MAC holding it is still alive (sent a frame within `alive_s`): two
 *   machines answer for one address, the mark of a poisoner (arpwatch's
 *   "changed ethernet address" and "flip flop", kept only while the old
 *   owner lives, so a replaced device or a new DHCP lease stays quiet);
 * - **gateway**: the same about a protected address (the policy's
 *   `protected`, and routers: MACs seen forwarding traffic from outside
 *   home_net, and IPv6 routers), and also an unsolicited or gratuitous
 *   reply claiming one from another MAC while its holder is quiet (ArpON's
 *   and Firewalla's gateway check);
 * - **many**: one MAC holding `max_addresses` addresses at once;
 * - **flood**: `flood_pps` ARP/ND messages a second on the segment for
 *   `flood_seconds` seconds in a row.
 *
 * A conflicting claim never rewrites the binding (the attacker does not get
 * to redefine the truth); the alert names the claiming MAC's own address
 * (the first one it claimed without conflict; the unspecified address when
 * it has none, never the claimed one, which is the victim's) as the source,
 * the MAC in evidence, and the first claimed address as the target. The
 * claims of one MAC (changed and gateway alike) are one alert, listing
 * every claimed address in `claimed` and its owner in `owners` ("IP MAC
 * role"; the other facts are the latest claim's): a poisoner between a
 * client and its gateway claims both.
 * Bindings and MACs live in bounded LRU
 * tables (`max_bindings` each), so a flood of spoofed ARP costs a fixed
 * amount of memory.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy, SpoofPolicy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  type Cidr,
  formatAddr,
  formatMac,
  isGroupMac,
} from "../decode/mod.ts";
import { KeyedTable } from "./_table.ts";
import { Slab } from "./_slab.ts";

const CLAIMED = Object.freeze(["claimed", "owners"]);
import { detection, type Emit, isUnicast, seconds } from "./detector.ts";

const TAG_BINDING = 1;
const TAG_MAC = 2;
/** A request for an address makes replies within this long solicited (µs). */
const SOLICIT_US = 5e6;
/** Detections about one binding at most this often (µs). */
const UPDATE_US = 5e6;
/** Router MACs remembered. */
const MAX_ROUTERS = 16;
/** Slots of the cache of MACs seen lately (a power of two). */
const SEEN_SLOTS = 256;

class Binding {
  version: 4 | 6 = 4;
  readonly addr: Uint32Array;
  mac = -1;
  firstUs = 0;
  lastUs = 0;
  lastRequestUs = -Infinity;
  /** The MAC that last claimed it in conflict, claims since the last detection. */
  rivalMac = -1;
  rivalClaims = 0;
  lastEmitUs = -Infinity;

  constructor(slab: Slab) {
    this.addr = slab.u32(4);
  }

  reset(): void {
    this.mac = -1;
    this.firstUs = this.lastUs = 0;
    this.lastRequestUs = -Infinity;
    this.rivalMac = -1;
    this.rivalClaims = 0;
    this.lastEmitUs = -Infinity;
  }
}

class MacState {
  mac = -1;
  lastUs = 0;
  /** Addresses bound to this MAC now. */
  bound = 0;
  /** Its own address: the first it claimed without conflict. */
  ownVersion: 0 | 4 | 6 = 0;
  readonly own: Uint32Array;
  manyAlerted = false;

  constructor(slab: Slab) {
    this.own = slab.u32(4);
  }

  reset(): void {
    this.mac = -1;
    this.lastUs = 0;
    this.bound = 0;
    this.ownVersion = 0;
    this.manyAlerted = false;
  }
}

/**
 * A direct-mapped cache of MACs with the time each was last let through:
 * `due` is true at most about once a second per MAC (collisions only make
 * it true more often). No allocation, no table lookup.
 */
export class EverySecond {
  readonly #mac = new Float64Array(SEEN_SLOTS).fill(-1);
  readonly #us = new Float64Array(SEEN_SLOTS);

  /** True when `mac` was not let through within the second before `tsUs`. */
  due(mac: number, tsUs: number): boolean {
    if (mac < 0) return false;
    const i = (mac % SEEN_SLOTS) | 0;
    if (this.#mac[i] === mac && tsUs - this.#us[i]! < 1e6) return false;
    this.#mac[i] = mac;
    this.#us[i] = tsUs;
    return true;
  }
}

/** What kind of message made a claim. */
export interface ClaimInfo {
  /** A reply (or advertisement) nobody asked for, or a gratuitous one. */
  unsolicited: boolean;
  /** ARP opcode or ICMPv6 type, for evidence. */
  message: string;
}

/** The watch of one address family. */
export class BindingWatch {
  readonly #type: AlertType;
  readonly #version: 4 | 6;
  readonly #policy: Policy;
  readonly #cfg: SpoofPolicy;
  readonly #emit: Emit;
  readonly #bindings: KeyedTable<Binding>;
  readonly #macs: KeyedTable<MacState>;
  readonly #macKey = new Uint32Array(4);
  readonly #routers = new Set<number>();
  readonly #protected: readonly Cidr[];
  /** MACs refreshed within the last second. */
  readonly #recent = new EverySecond();
  // Flood: messages in the current second, the seconds in a row above the
  // rate, and the majority MAC of the second (Boyer–Moore vote).
  #secUs = 0;
  #inSec = 0;
  #run = 0;
  #fullSec = -2;
  #runPeak = 0;
  #runMessages = 0;
  #runTotal = 0;
  #voteMac = -1;
  #votes = 0;
  #flooding = false;
  #floodStartUs = 0;

  constructor(
    type: AlertType,
    version: 4 | 6,
    policy: Policy,
    cfg: SpoofPolicy,
    emit: Emit,
  ) {
    this.#type = type;
    this.#version = version;
    this.#policy = policy;
    this.#cfg = cfg;
    this.#emit = emit;
    this.#protected = cfg.protected;
    const slab = new Slab();
    this.#macs = new KeyedTable<MacState>(
      cfg.max_bindings,
      () => new MacState(slab),
      (m) => m.reset(),
    );
    this.#bindings = new KeyedTable<Binding>(
      cfg.max_bindings,
      () => new Binding(slab),
      (b) => {
        this.#unbind(b.mac);
        b.reset();
      },
    );
  }

  /** Entries held: bindings plus MACs. */
  get size(): number {
    return this.#bindings.size + this.#macs.size;
  }

  #macState(mac: number, create: boolean, nowUs: number): MacState | null {
    const k = this.#macKey;
    k[0] = Math.floor(mac / 0x100000000);
    k[1] = mac >>> 0;
    this.#macs.setKey(TAG_MAC, 0, k, null, 0);
    if (!create) return this.#macs.get();
    const m = this.#macs.upsert(nowUs);
    if (this.#macs.lastCreated) m.mac = mac;
    return m;
  }

  #unbind(mac: number): void {
    if (mac < 0) return;
    const m = this.#macState(mac, false, 0);
    if (m !== null && m.bound > 0) m.bound--;
  }

  /**
   * A frame from `mac` at `tsUs`: it is alive. A MAC refreshed within the
   * last second is skipped ({@link EverySecond}: no table lookup per
   * packet).
   */
  seen(mac: number, tsUs: number): void {
    if (!this.#recent.due(mac, tsUs)) return;
    const m = this.#macState(mac, false, tsUs);
    if (m !== null && tsUs > m.lastUs) m.lastUs = tsUs;
  }

  /** `mac` forwards traffic for others: a router (its addresses are protected). */
  router(mac: number): void {
    if (mac < 0 || isGroupMac(mac) || this.#routers.has(mac)) return;
    if (this.#routers.size >= MAX_ROUTERS) return;
    this.#routers.add(mac);
  }

  /** Someone asked who holds `addr`: replies for it are solicited for a while. */
  request(addr: ArrayLike<number>, tsUs: number): void {
    this.#bindings.setKey(TAG_BINDING, this.#version, addr, null, 0);
    const b = this.#bindings.get();
    if (b !== null) b.lastRequestUs = tsUs;
  }

  /** Counts one ARP/ND message from `mac` for the flood check. */
  message(mac: number, tsUs: number): void {
    const sec = Math.floor(tsUs / 1e6);
    if (sec !== this.#secUs) this.#closeSecond(sec, tsUs);
    this.#inSec++;
    if (this.#votes === 0) {
      this.#voteMac = mac;
      this.#votes = 1;
    } else if (mac === this.#voteMac) this.#votes++;
    else this.#votes--;
  }

  #closeSecond(sec: number, tsUs: number): void {
    const cfg = this.#cfg;
    if (this.#inSec >= cfg.flood_pps) {
      if (this.#run > 0 && this.#secUs === this.#fullSec + 1) this.#run++;
      else {
        this.#run = 1;
        this.#floodStartUs = this.#secUs * 1e6;
        this.#runMessages = 0;
        this.#runTotal = 0;
        this.#runPeak = 0;
        this.#flooding = false;
      }
      this.#fullSec = this.#secUs;
      this.#runMessages += this.#inSec;
      this.#runTotal += this.#inSec;
      if (this.#inSec > this.#runPeak) this.#runPeak = this.#inSec;
      if (this.#run >= cfg.flood_seconds) this.#reportFlood(tsUs);
    } else {
      this.#run = 0;
      this.#flooding = false;
    }
    this.#secUs = sec;
    this.#inSec = 0;
    this.#votes = 0;
  }

  #reportFlood(tsUs: number): void {
    const top = this.#voteMac;
    const m = this.#macState(top, false, tsUs);
    const src = m !== null && m.ownVersion !== 0
      ? formatAddr(m.ownVersion, m.own)
      : this.#version === 4
      ? "0.0.0.0"
      : "::";
    const durS = this.#run;
    const what = this.#version === 4 ? "ARP" : "neighbour discovery";
    this.#emit(detection(this.#policy, this.#type, "flood", {
      tsUs,
      firstUs: this.#flooding ? undefined : this.#floodStartUs,
      src,
      proto: this.#version === 4 ? "ARP" : "IPv6-ICMP",
      key: `flood/${this.#version}`,
      count: this.#runMessages,
      evidence: {
        messages: this.#runTotal,
        seconds: durS,
        peak_per_s: this.#runPeak,
        top_mac: formatMac(top),
        flood_pps: this.#cfg.flood_pps,
        confirmed_source: false,
      },
      explanation:
        `${this.#runTotal} ${what} messages in ${durS} s on the local segment (at least ${this.#cfg.flood_pps} a second), most from ${
          formatMac(top)
        }`,
    }));
    this.#flooding = true;
    this.#runMessages = 0;
  }

  /**
   * `mac` claims `addr` (an ARP sender, an NA target, an NS source) at
   * `tsUs`. Learns, or reports a conflict.
   */
  claim(
    addr: Uint32Array,
    mac: number,
    tsUs: number,
    info: ClaimInfo,
  ): void {
    const v = this.#version;
    if (mac < 0 || isGroupMac(mac) || mac === 0 || !isUnicast(v, addr)) return;
    const m = this.#macState(mac, true, tsUs)!;
    if (tsUs > m.lastUs) m.lastUs = tsUs;
    const table = this.#bindings;
    table.setKey(TAG_BINDING, v, addr, null, 0);
    let b = table.get();
    if (b === null) {
      b = table.upsert(tsUs);
      b.version = v;
      b.addr.set(addr);
      b.mac = mac;
      b.firstUs = b.lastUs = tsUs;
      this.#bound(m, addr, tsUs);
      return;
    }
    table.upsert(tsUs); // refresh its LRU place
    if (b.mac === mac) {
      b.lastUs = tsUs;
      if (m.ownVersion === 0) {
        m.ownVersion = v;
        m.own.set(addr);
      }
      return;
    }
    const owner = this.#macState(b.mac, false, tsUs);
    const alive = owner !== null &&
      tsUs - owner.lastUs <= this.#cfg.alive_s * 1e6;
    const unsolicited = info.unsolicited &&
      tsUs - b.lastRequestUs > SOLICIT_US;
    const guarded = this.#routers.has(b.mac) ||
      anyCidrContains(this.#protected, v, addr);
    if (!alive && !(guarded && unsolicited)) {
      // The old holder is gone: a new device or lease, not a spoof.
      this.#unbind(b.mac);
      b.mac = mac;
      b.firstUs = b.lastUs = tsUs;
      b.rivalMac = -1;
      b.rivalClaims = 0;
      this.#bound(m, addr, tsUs);
      return;
    }
    if (b.rivalMac !== mac) {
      b.rivalMac = mac;
      b.rivalClaims = 0;
      b.lastEmitUs = -Infinity;
    }
    b.rivalClaims++;
    if (tsUs - b.lastEmitUs < UPDATE_US) return;
    b.lastEmitUs = tsUs;
    const variant = guarded ? "gateway" : "changed";
    const claimed = formatAddr(v, addr);
    // Never the claimed address as the source: that is the victim's. A MAC
    // that never claimed an address of its own is named by its MAC alone.
    const src = m.ownVersion !== 0
      ? formatAddr(m.ownVersion, m.own)
      : v === 4
      ? "0.0.0.0"
      : "::";
    const role = this.#routers.has(b.mac)
      ? "router"
      : guarded
      ? "protected address"
      : "host";
    const count = b.rivalClaims;
    b.rivalClaims = 0;
    this.#emit(detection(this.#policy, this.#type, variant, {
      tsUs,
      src,
      dest: claimed,
      proto: v === 4 ? "ARP" : "IPv6-ICMP",
      // One alert per claiming MAC: `arpspoof -r` between a client and the
      // gateway (both claimed) is one incident; the claims accumulate.
      key: `${formatMac(mac)}>claims`,
      union: CLAIMED,
      count,
      evidence: {
        attacker_mac: formatMac(mac),
        attacker_ip: m.ownVersion !== 0 ? src : null,
        claimed_ip: claimed,
        claimed: [claimed],
        owner_mac: formatMac(b.mac),
        owner_last_seen_s_ago: owner === null
          ? null
          : seconds(tsUs - owner.lastUs),
        owner_role: role,
        // Every claimed address's owner ("IP MAC role"): the owner_ fields
        // are the latest claim's, this keeps the gateway's beside the client's.
        owners: [`${claimed} ${formatMac(b.mac)} ${role}`],
        message: info.message,
        unsolicited,
        bound_since_s: seconds(tsUs - b.firstUs),
      },
      explanation: `${formatMac(mac)}${
        m.ownVersion !== 0 ? ` (${src})` : ""
      } claims ${claimed}, which ${formatMac(b.mac)} (${
        role === "host" ? "a host" : `the ${role}`
      }) holds and ${
        alive ? "still uses" : "held"
      }: traffic for ${claimed} can be redirected through ${formatMac(mac)}`,
    }));
  }

  #bound(m: MacState, addr: Uint32Array, tsUs: number): void {
    m.bound++;
    if (m.ownVersion === 0) {
      m.ownVersion = this.#version;
      m.own.set(addr);
    }
    if (m.bound >= this.#cfg.max_addresses && !m.manyAlerted) {
      m.manyAlerted = true;
      const src = formatAddr(m.ownVersion, m.own);
      this.#emit(detection(this.#policy, this.#type, "many", {
        tsUs,
        src,
        proto: this.#version === 4 ? "ARP" : "IPv6-ICMP",
        key: `${formatMac(m.mac)}>many`,
        evidence: {
          attacker_mac: formatMac(m.mac),
          addresses: m.bound,
          threshold: this.#cfg.max_addresses,
          latest: formatAddr(this.#version, addr),
        },
        explanation: `${formatMac(m.mac)} (${src}) claims ${m.bound} addresses${
          this.#routers.has(m.mac)
            ? ""
            : " (a router doing proxy ARP, or a poisoner)"
        }`,
      }));
    }
  }

  /** End of input: a flood still running is reported. */
  finish(): void {
    if (this.#inSec >= this.#cfg.flood_pps) {
      this.#closeSecond(this.#secUs + 1, (this.#secUs + 1) * 1e6);
    }
  }
}
