/**
 * Recent packets per flow, kept for alert pcaps: the first
 * {@link FIRST_PER_FLOW} and the last {@link LAST_PER_FLOW} frames of each
 * flow, in fixed slots of one preallocated buffer under a global memory cap.
 * The per-packet path copies the frame into a free slot (or the slot it
 * overwrites in the flow's ring of last packets) and allocates nothing;
 * when slots or flow entries run out, the least recently active flow's
 * packets are dropped first. Flows stay here after they end (an alert is
 * final only when its window closes), until evicted.
 *
 * What an alert gets ({@link PacketRing.select}): the packets of the flow
 * that opened it, and of every flow between its source and its target
 * (either way) active within its window; for source-only alerts (sweeps,
 * new hosts) every flow of its source, at most {@link MAX_FLOWS_PER_ALERT}
 * flows (the earliest: a sample of the probes of a scan or a sweep).
 *
 * @module
 */
import { LINKTYPE_RAW, type Packet, parseAddr } from "../decode/mod.ts";
import type { Flow, FlowObserver, PacketContext } from "../flows/mod.ts";

/** Frames kept from the start of each flow. */
export const FIRST_PER_FLOW = 32;
/** Frames kept from the end of each flow (a ring overwritten in place). */
export const LAST_PER_FLOW = 32;
const PER_FLOW = FIRST_PER_FLOW + LAST_PER_FLOW;
/** Bytes of one slot: longer frames are cut to it (their wire length kept). */
export const SLOT_BYTES = 1600;
/** Flows one alert's pcap holds at most. */
export const MAX_FLOWS_PER_ALERT = 200;
/** Default memory for packets: 16 MiB. */
export const DEFAULT_RING_BYTES = 16 * 1024 * 1024;
/** Ethernet. */
const LINKTYPE_ETHERNET = 1;

/** One frame copied out of the ring for a pcap. */
export interface RingFrame {
  tsUs: number;
  data: Uint8Array;
  wirelen: number;
}

/** What selects an alert's packets (the fields of an `Alert` it reads). */
export interface AlertPackets {
  src_ip: string;
  dest_ip?: string;
  flow_id?: number;
  netsentinel: { first_seen: string; last_seen: string };
}

/** Frames of one alert, in time order, with the file's link type. */
export interface AlertFrames {
  linktype: number;
  frames: RingFrame[];
  flows: number;
}

/** Slack around an alert's window when choosing flows, µs. */
const WINDOW_SLACK_US = 5_000_000;

/** The packet ring: a {@link FlowObserver} (give it to the pipeline). */
export class PacketRing implements FlowObserver {
  readonly slots: number;
  readonly entries: number;
  #data: Uint8Array;
  #slotCap: Uint16Array;
  #slotWire: Uint32Array;
  #slotTs: Float64Array;
  #slotLt: Uint16Array;
  #freeSlots: Int32Array;
  #nFreeSlots: number;
  // Flow entries.
  #eId: Float64Array;
  #eVer: Uint8Array;
  #eAddr: Uint32Array; // 8 words a flow: client then server
  #eFirst: Float64Array;
  #eLast: Float64Array;
  #eCount: Uint32Array;
  #eSlot: Int32Array;
  #eSlots: Int32Array; // PER_FLOW a flow, -1 empty
  #prev: Int32Array;
  #next: Int32Array;
  #head = -1; // most recent
  #tail = -1; // least recent
  #freeEntries: Int32Array;
  #nFreeEntries: number;
  /** Entry of the live flow in each flow-table slot (check `#eId`), -1 none. */
  #bySlot = new Int32Array(1024).fill(-1);
  /** Frames copied, and flows evicted for room, since the start. */
  readonly counters = { frames: 0, evicted: 0 };

  /** A ring of `bytes` of packet memory (at least 64 slots). */
  constructor(bytes: number = DEFAULT_RING_BYTES) {
    const slots = Math.max(64, Math.floor(bytes / SLOT_BYTES));
    this.slots = slots;
    this.#data = new Uint8Array(slots * SLOT_BYTES);
    this.#slotCap = new Uint16Array(slots);
    this.#slotWire = new Uint32Array(slots);
    this.#slotTs = new Float64Array(slots);
    this.#slotLt = new Uint16Array(slots);
    this.#freeSlots = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.#freeSlots[i] = slots - 1 - i;
    this.#nFreeSlots = slots;
    // A flow holds at least one slot: more entries than slots is waste.
    const entries = slots;
    this.entries = entries;
    this.#eId = new Float64Array(entries).fill(-1);
    this.#eVer = new Uint8Array(entries);
    this.#eAddr = new Uint32Array(entries * 8);
    this.#eFirst = new Float64Array(entries);
    this.#eLast = new Float64Array(entries);
    this.#eCount = new Uint32Array(entries);
    this.#eSlot = new Int32Array(entries);
    this.#eSlots = new Int32Array(entries * PER_FLOW).fill(-1);
    this.#prev = new Int32Array(entries).fill(-1);
    this.#next = new Int32Array(entries).fill(-1);
    this.#freeEntries = new Int32Array(entries);
    for (let i = 0; i < entries; i++) this.#freeEntries[i] = entries - 1 - i;
    this.#nFreeEntries = entries;
  }

  /** Flows held now. */
  get flows(): number {
    return this.entries - this.#nFreeEntries;
  }

  /** Copies the frame into the flow's slots. */
  onPacket(p: Packet, ctx: PacketContext): void {
    const f = ctx.flow;
    const slot = f.slot;
    if (slot >= this.#bySlot.length) this.#growSlots(slot);
    let e = this.#bySlot[slot]!;
    if (e < 0 || this.#eId[e] !== f.id) e = this.#newEntry(f);
    else this.#touch(e);
    const n = this.#eCount[e]!;
    this.#eCount[e] = n + 1;
    this.#eLast[e] = p.tsUs;
    let k: number;
    if (n < FIRST_PER_FLOW) k = n;
    else k = FIRST_PER_FLOW + ((n - FIRST_PER_FLOW) % LAST_PER_FLOW);
    const at = e * PER_FLOW + k;
    let s = this.#eSlots[at]!;
    if (s < 0) {
      s = this.#takeSlot(e);
      if (s < 0) return;
      this.#eSlots[at] = s;
    }
    const cap = p.caplen < SLOT_BYTES ? p.caplen : SLOT_BYTES;
    const o = p.frameOffset;
    this.#data.set(p.data.subarray(o, o + cap), s * SLOT_BYTES);
    this.#slotCap[s] = cap;
    this.#slotWire[s] = p.wirelen;
    this.#slotTs[s] = p.tsUs;
    this.#slotLt[s] = p.linktype;
    this.counters.frames++;
  }

  /**
   * The packets of `alert`'s flows (see the module doc), copied out, in
   * time order; null when the ring holds none.
   */
  select(alert: AlertPackets): AlertFrames | null {
    const from = Date.parse(alert.netsentinel.first_seen) * 1000 -
      WINDOW_SLACK_US;
    const to = Date.parse(alert.netsentinel.last_seen) * 1000 +
      WINDOW_SLACK_US;
    const chosen: number[] = [];
    let opener = -1;
    if (alert.flow_id !== undefined) {
      for (let e = this.#head; e >= 0; e = this.#next[e]!) {
        if (this.#eId[e] === alert.flow_id) opener = e;
      }
    }
    if (opener >= 0) chosen.push(opener);
    const cands: number[] = [];
    const src = parseAddr(alert.src_ip);
    const dest = alert.dest_ip === undefined ? null : parseAddr(alert.dest_ip);
    const w = this.#eAddr;
    // Whether the entry's address at word `at` is `x`.
    const is = (at: number, x: { words: Uint32Array }) =>
      w[at] === x.words[0] && w[at + 1] === x.words[1] &&
      w[at + 2] === x.words[2] && w[at + 3] === x.words[3];
    for (let e = this.#head; src !== null && e >= 0; e = this.#next[e]!) {
      if (e === opener) continue;
      if (this.#eLast[e]! < from || this.#eFirst[e]! > to) continue;
      const v = this.#eVer[e]!;
      if (v !== src.version) continue;
      const a = e * 8, b = e * 8 + 4;
      const ok = alert.dest_ip === undefined
        ? is(a, src) || is(b, src)
        : dest !== null && dest.version === v &&
          ((is(a, src) && is(b, dest)) || (is(b, src) && is(a, dest)));
      if (ok) cands.push(e);
    }
    cands.sort((x, y) => this.#eFirst[x]! - this.#eFirst[y]!);
    for (const e of cands) {
      if (chosen.length >= MAX_FLOWS_PER_ALERT) break;
      chosen.push(e);
    }
    if (chosen.length === 0) return null;
    const slots: number[] = [];
    for (const e of chosen) {
      for (let k = 0; k < PER_FLOW; k++) {
        const s = this.#eSlots[e * PER_FLOW + k]!;
        if (s >= 0) slots.push(s);
      }
    }
    // One link type a file: the first not-RAW one; RAW frames (reassembled
    // datagrams) get an Ethernet header in an Ethernet file.
    let linktype = LINKTYPE_RAW;
    for (const s of slots) {
      if (this.#slotLt[s] !== LINKTYPE_RAW) {
        linktype = this.#slotLt[s]!;
        break;
      }
    }
    const frames: RingFrame[] = [];
    for (const s of slots) {
      const lt = this.#slotLt[s]!;
      const at = s * SLOT_BYTES;
      const bytes = this.#data.subarray(at, at + this.#slotCap[s]!);
      if (lt === linktype) {
        frames.push({
          tsUs: this.#slotTs[s]!,
          data: bytes.slice(),
          wirelen: this.#slotWire[s]!,
        });
      } else if (lt === LINKTYPE_RAW && linktype === LINKTYPE_ETHERNET) {
        const d = new Uint8Array(14 + bytes.length);
        const v6 = bytes.length > 0 && bytes[0]! >> 4 === 6;
        d[12] = v6 ? 0x86 : 0x08;
        d[13] = v6 ? 0xdd : 0x00;
        d.set(bytes, 14);
        frames.push({
          tsUs: this.#slotTs[s]!,
          data: d,
          wirelen: this.#slotWire[s]! + 14,
        });
      }
      // Other mixes cannot share a classic pcap file: left out.
    }
    frames.sort((x, y) => x.tsUs - y.tsUs);
    return { linktype, frames, flows: chosen.length };
  }

  #newEntry(f: Flow): number {
    if (this.#nFreeEntries === 0) this.#evict(-1);
    const e = this.#freeEntries[--this.#nFreeEntries]!;
    this.#eId[e] = f.id;
    this.#eVer[e] = f.version;
    const a = this.#eAddr;
    const w = f.version === 4 ? 1 : 4;
    for (let i = 0; i < 4; i++) {
      a[e * 8 + i] = i < w ? f.srcAddr[i]! : 0;
      a[e * 8 + 4 + i] = i < w ? f.dstAddr[i]! : 0;
    }
    this.#eFirst[e] = f.firstUs;
    this.#eLast[e] = f.firstUs;
    this.#eCount[e] = 0;
    this.#eSlot[e] = f.slot;
    this.#bySlot[f.slot] = e;
    this.#link(e);
    return e;
  }

  /** A free slot, evicting least recent flows (never `keep`); -1 if none. */
  #takeSlot(keep: number): number {
    while (this.#nFreeSlots === 0) {
      if (!this.#evict(keep)) return -1;
    }
    return this.#freeSlots[--this.#nFreeSlots]!;
  }

  /** Drops the least recently active flow other than `keep`. */
  #evict(keep: number): boolean {
    let e = this.#tail;
    if (e === keep) e = this.#prev[e]!;
    if (e < 0) return false;
    for (let k = 0; k < PER_FLOW; k++) {
      const s = this.#eSlots[e * PER_FLOW + k]!;
      if (s >= 0) {
        this.#freeSlots[this.#nFreeSlots++] = s;
        this.#eSlots[e * PER_FLOW + k] = -1;
      }
    }
    this.#unlink(e);
    const slot = this.#eSlot[e]!;
    if (this.#bySlot[slot] === e) this.#bySlot[slot] = -1;
    this.#eId[e] = -1;
    this.#freeEntries[this.#nFreeEntries++] = e;
    this.counters.evicted++;
    return true;
  }

  /** Room for flow-table slot `slot` (doubling: rare, as the table grows). */
  #growSlots(slot: number): void {
    let n = this.#bySlot.length * 2;
    while (n <= slot) n *= 2;
    const grown = new Int32Array(n).fill(-1);
    grown.set(this.#bySlot);
    this.#bySlot = grown;
  }

  #link(e: number): void {
    this.#prev[e] = -1;
    this.#next[e] = this.#head;
    if (this.#head >= 0) this.#prev[this.#head] = e;
    this.#head = e;
    if (this.#tail < 0) this.#tail = e;
  }

  #unlink(e: number): void {
    const p = this.#prev[e]!, n = this.#next[e]!;
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
    this.#prev[e] = -1;
    this.#next[e] = -1;
  }

  #touch(e: number): void {
    if (this.#head === e) return;
    this.#unlink(e);
    this.#link(e);
  }
}
