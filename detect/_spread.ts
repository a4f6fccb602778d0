/**
 * Distributed scans: probes counted per target (a host for port scans, a
 * port for sweeps) over every source together, so a scan split between
 * several sources — each below the per-source threshold, or hidden among
 * decoys (`nmap -D`) — still reaches it. A tracker counts distinct items
 * (ports, or target hosts) and distinct sources within the window; it
 * fires when both reach their thresholds, and names the sources. The
 * per-source detectors keep their own alerts: this is one more view of the
 * same probes, as Zeek's scan.zeek counts per scanner and Snort's sfPortscan
 * also per target ("distributed portscan").
 *
 * @module
 */
import { formatAddr } from "../decode/mod.ts";
import { DistinctRing } from "./_ring.ts";
import type { Slab } from "./_slab.ts";

/** Sources a tracker remembers (and names). */
export const SPREAD_SOURCES = 64;
/** Items (ports, hosts) a tracker holds before it alerts, at least. */
export const SPREAD_ITEMS = 64;
/** Distinct items counted exactly once alerting. */
const MAX_SEEN = 65536;

/** Probes of many sources against one target. */
export class SpreadTracker {
  version: 4 | 6 = 4;
  /** The target host (port scans), or unused (sweeps). */
  readonly target: Uint32Array;
  /** Protocol and port (sweeps), or unused. */
  proto = 0;
  port = 0;
  readonly items: DistinctRing;
  readonly sources: DistinctRing;
  firstUs = 0;
  lastUs = 0;
  probes = 0;
  reported = 0;
  alerted = false;
  lastEmitUs = 0;
  dirty = false;
  /** Distinct items and sources when last counted. */
  nItems = 0;
  nSources = 0;
  /** Every distinct item once alerting (exact counts; bounded). */
  seen: Set<string> | null = null;

  constructor(items: number, slab: Slab) {
    this.target = slab.u32(4);
    this.items = new DistinctRing(Math.max(items, SPREAD_ITEMS), slab);
    this.sources = new DistinctRing(SPREAD_SOURCES, slab);
  }

  reset(): void {
    this.items.clear();
    this.sources.clear();
    this.firstUs = this.lastUs = 0;
    this.probes = this.reported = 0;
    this.alerted = false;
    this.lastEmitUs = 0;
    this.dirty = false;
    this.nItems = this.nSources = 0;
    this.seen = null;
  }

  /**
   * One probe from `src` on item (a, b, c, d) at `tUs`. Returns true when
   * this probe brought both distinct counts within `windowUs` to their
   * thresholds (the first time: then `alerted` is set).
   */
  add(
    src: ArrayLike<number>,
    a: number,
    b: number,
    c: number,
    d: number,
    tUs: number,
    windowUs: number,
    items: number,
    sources: number,
  ): boolean {
    if (!this.alerted && this.probes > 0 && tUs - this.lastUs > windowUs) {
      this.items.clear();
      this.sources.clear();
      this.probes = this.reported = 0;
    }
    if (this.probes === 0) this.firstUs = tUs;
    if (tUs > this.lastUs) this.lastUs = tUs;
    this.probes++;
    const newItem = this.items.add(a, b, c, d, tUs);
    const newSource = this.sources.add(src[0]!, src[1]!, src[2]!, src[3]!, tUs);
    if (this.alerted) {
      this.dirty = true;
      const seen = this.seen!;
      if (newItem && seen.size < MAX_SEEN) {
        seen.add(`${a},${b},${c},${d}`);
        this.nItems = seen.size;
      }
      if (newSource) this.nSources = this.sources.size;
      return false;
    }
    if (!newItem && !newSource) return false;
    const since = tUs - windowUs;
    this.nItems = this.items.countSince(since);
    if (this.nItems < items) return false;
    this.nSources = this.sources.countSince(since);
    if (this.nSources < sources) return false;
    this.alerted = true;
    const seen = new Set<string>();
    this.items.forEach((a, b, c, d) => {
      seen.add(`${a},${b},${c},${d}`);
    });
    this.seen = seen;
    this.nItems = seen.size;
    return true;
  }

  /** The sources seen, as text (at most {@link SPREAD_SOURCES}). */
  sourceList(): string[] {
    const out: string[] = [];
    const w = [0, 0, 0, 0];
    this.sources.forEach((a, b, c, d) => {
      w[0] = a, w[1] = b, w[2] = c, w[3] = d;
      out.push(formatAddr(this.version, w));
    });
    return out.sort();
  }
}
