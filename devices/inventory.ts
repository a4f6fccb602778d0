/**
 * The device inventory: every host of the home network seen on the
 * capture's link, keyed by its MAC address, so a device keeps one record
 * when DHCP gives it another address. It watches frames passively as an
 * {@link AppObserver}: the sender's MAC and address of each packet and ARP
 * message (traffic in and out, per minute), client messages of DHCP (UDP 68 → 67), NetBIOS
 * name service (137), mDNS (5353), LLMNR (5355) and SSDP (1900) for names
 * and hints, and the app layer's HTTP User-Agents and TLS JA4s. Remote
 * peers, protocols and ports come from flows as they end.
 *
 * Bounded: at most `maxDevices` devices (10,000 by default; when full the
 * least recently seen of the oldest 64 gives way), 16 addresses, 16 names,
 * 32 hints, 32 peers and 16 services each. Per packet: two map lookups by
 * MAC number and counters, no allocation unless the sender's address
 * changed or a name-service message arrived.
 *
 * @module
 */
import {
  anyCidrContains,
  type Cidr,
  formatAddr,
  formatMac,
  type Packet,
  parseAddr,
} from "../decode/mod.ts";
import { DIR_TO_SERVER, type Flow, type PacketContext } from "../flows/mod.ts";
import {
  type AppContext,
  type AppObserver,
  type AppRecord,
} from "../protocols/mod.ts";
import { parseDhcpClient } from "./dhcp_client.ts";
import {
  dhcpHints,
  type Hint,
  modelHints,
  serviceHints,
  ssdpHints,
  userAgentHints,
  vendorHints,
} from "./hints.ts";
import { parseMdns } from "./mdns.ts";
import { parseNbns } from "./nbns.ts";
import { type MacKind, macKind, type OuiRegistry } from "./oui.ts";
import { parseSsdp } from "./ssdp.ts";
import { cleanBytes } from "./text.ts";

/** Where a name came from. */
export type NameSource =
  | "dhcp hostname"
  | "dhcp fqdn"
  | "mdns"
  | "mdns instance"
  | "nbns"
  | "llmnr";

/** Name sources in the order their names are preferred. */
export const NAME_ORDER: readonly NameSource[] = [
  "dhcp hostname",
  "mdns instance",
  "mdns",
  "dhcp fqdn",
  "nbns",
  "llmnr",
];

/** Something seen with first and last times (µs). */
interface Seen {
  firstUs: number;
  lastUs: number;
}

/** One device's traffic within one minute. */
export interface MinuteTraffic {
  /** Minute start, ms since the epoch. */
  bucket: number;
  bytesIn: number;
  bytesOut: number;
  pktsIn: number;
  pktsOut: number;
}

/** Traffic with one remote address (from ended flows). */
export interface PeerTraffic {
  bytesIn: number;
  bytesOut: number;
  flows: number;
  /** The server port of the latest flow ("tcp/443"). */
  service: string;
}

const MAX_ADDRS = 16;
const MAX_NAMES = 16;
const MAX_HINTS = 32;
const MAX_PEERS = 32;
const MAX_SERVICES = 16;
const EVICT_SCAN = 64;
/** Address changes after which a device's IP packets no longer teach addresses. */
const MAX_ADDR_CHANGES = 64;

/** One device as the inventory holds it (live state; read through {@link DeviceInventory}). */
export class DeviceState {
  readonly mac: number;
  readonly macText: string;
  readonly macKind: MacKind;
  readonly vendor: string | null;
  readonly firstUs: number;
  lastUs: number;
  /** How it was first seen: "dhcp", "mdns", "ipv4", "ipv6", … */
  readonly firstBy: string;
  /** Address → when seen. */
  readonly addrs = new Map<string, Seen>();
  /** "source\u0000name" → when seen. */
  readonly names = new Map<
    string,
    Seen & { source: NameSource; name: string }
  >();
  readonly hints = new Map<string, Hint>();
  peers: Map<string, PeerTraffic> | null = null;
  services: Map<string, { flows: number; bytes: number }> | null = null;
  bytesIn = 0;
  bytesOut = 0;
  pktsIn = 0;
  pktsOut = 0;
  /** Traffic per minute since the last drain. */
  minutes: MinuteTraffic[] = [];
  /** Counters at the last drain. */
  drained = { bytesIn: 0, bytesOut: 0, pktsIn: 0, pktsOut: 0 };
  /** Names, addresses or hints changed since the last drain. */
  changed = true;
  /** The IPv4 address of the last packet (0: none yet), to skip formatting. */
  lastV4 = 0;
  /** Last IPv6 address words (to skip formatting). */
  readonly lastV6 = new Uint32Array(4);
  /**
   * Source addresses taken up; past {@link MAX_ADDR_CHANGES} the device
   * sends for others (a router between home subnets, a NAT, a spoofer)
   * and only ARP teaches its addresses.
   */
  addrChanges = 0;
  /** The texts of the current IPv4 and IPv6 addresses ("" when none). */
  curV4 = "";
  curV6 = "";
  /** Packet time of the last packet from each (µs). */
  lastV4Us = 0;
  lastV6Us = 0;

  constructor(
    mac: number,
    vendor: string | null,
    firstUs: number,
    firstBy: string,
  ) {
    this.mac = mac;
    this.macText = formatMac(mac);
    this.macKind = macKind(mac);
    this.vendor = vendor;
    this.firstUs = firstUs;
    this.lastUs = firstUs;
    this.firstBy = firstBy;
  }

  /** The preferred wire name (see {@link NAME_ORDER}), or null. */
  bestName(): string | null {
    let best: { rank: number; name: string } | null = null;
    for (const n of this.names.values()) {
      const rank = NAME_ORDER.indexOf(n.source);
      if (best === null || rank < best.rank) best = { rank, name: n.name };
    }
    return best?.name ?? null;
  }

  #minute(tsUs: number): MinuteTraffic {
    const bucket = Math.floor(tsUs / 60_000_000) * 60_000;
    const last = this.minutes[this.minutes.length - 1];
    if (last !== undefined && last.bucket === bucket) return last;
    const m = { bucket, bytesIn: 0, bytesOut: 0, pktsIn: 0, pktsOut: 0 };
    // A device that is never drained keeps at most a day of minutes.
    if (this.minutes.length >= 1440) this.minutes.shift();
    this.minutes.push(m);
    return m;
  }

  /** Counts a packet the device sent. */
  sent(bytes: number, tsUs: number): void {
    this.bytesOut += bytes;
    this.pktsOut++;
    const m = this.#minute(tsUs);
    m.bytesOut += bytes;
    m.pktsOut++;
    if (tsUs > this.lastUs) this.lastUs = tsUs;
  }

  /** Counts a packet the device received. */
  received(bytes: number, tsUs: number): void {
    this.bytesIn += bytes;
    this.pktsIn++;
    const m = this.#minute(tsUs);
    m.bytesIn += bytes;
    m.pktsIn++;
  }

  /**
   * Notes an address (text) seen at `tsUs`. Returns the address dropped to
   * stay within {@link MAX_ADDRS}, or null.
   */
  noteAddr(ip: string, tsUs: number): string | null {
    const s = this.addrs.get(ip);
    if (s !== undefined) {
      if (tsUs > s.lastUs) s.lastUs = tsUs;
      return null;
    }
    const dropped = this.addrs.size >= MAX_ADDRS
      ? dropOldest(this.addrs)
      : null;
    this.addrs.set(ip, { firstUs: tsUs, lastUs: tsUs });
    this.changed = true;
    return dropped;
  }

  /** Notes a name from `source`. */
  noteName(source: NameSource, name: string, tsUs: number): void {
    if (name === "") return;
    const k = `${source}\u0000${name}`;
    const s = this.names.get(k);
    if (s !== undefined) {
      if (tsUs > s.lastUs) s.lastUs = tsUs;
      return;
    }
    if (this.names.size >= MAX_NAMES) dropOldest(this.names);
    this.names.set(k, { source, name, firstUs: tsUs, lastUs: tsUs });
    this.changed = true;
  }

  /** Notes hints (kept once each; the first {@link MAX_HINTS}). */
  noteHints(hints: readonly Hint[]): void {
    for (const h of hints) {
      const k = `${h.source}\u0000${h.field}\u0000${h.value}`;
      if (this.hints.has(k) || this.hints.size >= MAX_HINTS) continue;
      this.hints.set(k, h);
      this.changed = true;
    }
  }

  /** Adds an ended flow's traffic with a remote peer. */
  notePeer(
    ip: string,
    service: string,
    bytesOut: number,
    bytesIn: number,
  ): void {
    const peers = this.peers ??= new Map();
    let p = peers.get(ip);
    if (p === undefined) {
      if (peers.size >= MAX_PEERS) dropSmallest(peers);
      p = { bytesIn: 0, bytesOut: 0, flows: 0, service };
      peers.set(ip, p);
    }
    p.bytesIn += bytesIn;
    p.bytesOut += bytesOut;
    p.flows++;
    p.service = service;
    const services = this.services ??= new Map();
    let s = services.get(service);
    if (s === undefined) {
      if (services.size >= MAX_SERVICES) return;
      s = { flows: 0, bytes: 0 };
      services.set(service, s);
    }
    s.flows++;
    s.bytes += bytesIn + bytesOut;
  }
}

function dropOldest(m: Map<string, Seen>): string | null {
  let oldK: string | null = null, old = Infinity;
  for (const [k, v] of m) {
    if (v.lastUs < old) {
      old = v.lastUs;
      oldK = k;
    }
  }
  if (oldK !== null) m.delete(oldK);
  return oldK;
}

function dropSmallest(m: Map<string, PeerTraffic>): void {
  let k0: string | null = null, least = Infinity;
  for (const [k, v] of m) {
    const b = v.bytesIn + v.bytesOut;
    if (b < least) {
      least = b;
      k0 = k;
    }
  }
  if (k0 !== null) m.delete(k0);
}

/** What changed on one device since the last {@link DeviceInventory.drain}. */
export interface DeviceDelta {
  readonly device: DeviceState;
  /** Counter increases since the last drain. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly pktsIn: number;
  readonly pktsOut: number;
  /** Traffic per minute since the last drain. */
  readonly minutes: MinuteTraffic[];
  /** Peers and services of flows ended since the last drain (then cleared). */
  readonly peers: Map<string, PeerTraffic> | null;
  readonly services: Map<string, { flows: number; bytes: number }> | null;
}

/** Options of {@link DeviceInventory}. */
export interface DeviceInventoryOptions {
  /** The home network: devices are hosts with addresses inside it. */
  homeNet: () => readonly Cidr[];
  /** MAC vendors (null: none known). */
  oui: OuiRegistry | null;
  /** Devices kept at most (default 10,000). */
  maxDevices?: number;
  /** Called when a device is first seen (on the hot path: queue, do not work). */
  onNewDevice?: (d: DeviceState) => void;
}

/** Ports of the name sources. */
const P_DHCP_S = 67,
  P_DHCP_C = 68,
  P_NBNS = 137,
  P_MDNS = 5353,
  P_LLMNR = 5355,
  P_SSDP = 1900;

/** True for 0.0.0.0, 169.254/16 and fe80::/10: addresses of the link itself. */
function linkLocal(version: number, w: ArrayLike<number>): boolean {
  if (version === 4) return w[0] === 0 || (w[0]! >>> 16) === 0xa9fe;
  return (w[0]! >>> 22) === (0xfe80 >>> 6);
}

function protoName(p: number): string {
  return p === 6
    ? "tcp"
    : p === 17
    ? "udp"
    : p === 1 || p === 58
    ? "icmp"
    : `ip${p}`;
}

/** Address words of an ARP sender (reused). */
const ARP_WORDS = new Uint32Array(4);

/** The device inventory (see the module doc). */
export class DeviceInventory implements AppObserver {
  readonly #o: DeviceInventoryOptions;
  readonly #max: number;
  readonly #byMac = new Map<number, DeviceState>();
  readonly #byIp = new Map<string, DeviceState>();
  /** The same for IPv4 by the address number (lookups without a string). */
  readonly #byV4 = new Map<number, DeviceState>();
  /** Devices dropped to stay within the bound. */
  evicted = 0;
  /** The newest packet time seen (µs). */
  latestUs = 0;
  /** Devices reported silent and not heard from since. */
  readonly #silent = new Set<DeviceState>();

  constructor(opts: DeviceInventoryOptions) {
    this.#o = opts;
    this.#max = opts.maxDevices ?? 10_000;
  }

  /** Devices held. */
  get size(): number {
    return this.#byMac.size;
  }

  /** The device with this MAC, or undefined. */
  get(mac: number): DeviceState | undefined {
    return this.#byMac.get(mac);
  }

  /** The device that last used this address, or undefined. */
  byIp(ip: string): DeviceState | undefined {
    return this.#byIp.get(ip);
  }

  /** Every device (live objects: read, do not keep). */
  devices(): IterableIterator<DeviceState> {
    return this.#byMac.values();
  }

  #device(mac: number, tsUs: number, by: string): DeviceState {
    let d = this.#byMac.get(mac);
    if (d !== undefined) return d;
    if (this.#byMac.size >= this.#max) this.#evict();
    const vendor = this.#o.oui?.lookup(mac) ?? null;
    d = new DeviceState(mac, vendor, tsUs, by);
    if (vendor) d.noteHints(vendorHints(vendor));
    this.#byMac.set(mac, d);
    this.#o.onNewDevice?.(d);
    return d;
  }

  #evict(): void {
    let victim: DeviceState | null = null, n = 0;
    for (const d of this.#byMac.values()) {
      if (victim === null || d.lastUs < victim.lastUs) victim = d;
      if (++n >= EVICT_SCAN) break;
    }
    if (victim === null) return;
    this.#byMac.delete(victim.mac);
    this.#silent.delete(victim);
    for (const ip of victim.addrs.keys()) this.#unmap(ip, victim);
    this.evicted++;
  }

  #addr(
    d: DeviceState,
    version: number,
    w: Uint32Array,
    tsUs: number,
    sure = false,
  ): void {
    if (!sure && d.addrChanges > MAX_ADDR_CHANGES) return;
    if (version === 4) {
      d.lastV4Us = tsUs;
      if (d.lastV4 === w[0]) return;
      d.lastV4 = w[0]!;
    } else {
      d.lastV6Us = tsUs;
      const l = d.lastV6;
      if (l[0] === w[0] && l[1] === w[1] && l[2] === w[2] && l[3] === w[3]) {
        return;
      }
      l.set(w);
    }
    if (version === 4 && w[0] === 0) return;
    const ip = formatAddr(version, w);
    if (version === 4) d.curV4 = ip;
    else d.curV6 = ip;
    // Count addresses taken up, not alternations between known ones (a
    // host with a static and a leased address switches all the time).
    if (!d.addrs.has(ip) && ++d.addrChanges === MAX_ADDR_CHANGES + 1) {
      d.noteHints([{
        source: "traffic",
        field: "source addresses",
        value: `more than ${MAX_ADDR_CHANGES} changes: sends for other hosts`,
        kind: "network",
        strength: 1,
      }]);
    }
    const dropped = d.noteAddr(ip, tsUs);
    if (dropped !== null) this.#unmap(dropped, d);
    if (this.#byIp.get(ip) !== d) this.#byIp.set(ip, d);
    if (version === 4) this.#byV4.set(w[0]!, d);
  }

  #unmap(ip: string, d: DeviceState): void {
    if (this.#byIp.get(ip) !== d) return;
    this.#byIp.delete(ip);
    const a = ip.includes(":") ? null : parseAddr(ip);
    if (a !== null && this.#byV4.get(a.words[0]!) === d) {
      this.#byV4.delete(a.words[0]!);
    }
  }

  /** The device at an address given as words, without making a string for IPv4. */
  #at(version: number, w: ArrayLike<number>): DeviceState | undefined {
    return version === 4
      ? this.#byV4.get(w[0]!)
      : this.#byIp.get(formatAddr(version, w));
  }

  /** Every decoded IP packet (see {@link AppObserver.onPacket}). */
  onPacket(p: Packet, _ctx: PacketContext): void {
    if (p.tsUs > this.latestUs) this.latestUs = p.tsUs;
    if (p.tunnelDepth !== 0) return;
    const v = p.ipVersion;
    const home = this.#o.homeNet();
    const src = p.ethSrc;
    let d: DeviceState | undefined;
    if (src >= 0 && macKind(src) !== "multicast") {
      const inside = anyCidrContains(home, v, p.src);
      if (inside || linkLocal(v, p.src)) {
        d = this.#byMac.get(src);
        if (d === undefined && (inside || p.proto === 17)) {
          d = this.#device(src, p.tsUs, this.#firstBy(p, inside));
        }
        if (d !== undefined) {
          d.sent(p.wirelen, p.tsUs);
          if (inside || v === 6) this.#addr(d, v, p.src, p.tsUs);
          if (p.proto === 17 && p.payloadLen > 0) this.#names(d, p);
        }
      }
    }
    const dst = p.ethDst;
    if (dst >= 0 && anyCidrContains(home, v, p.dst)) {
      this.#byMac.get(dst)?.received(p.wirelen, p.tsUs);
    }
  }

  /**
   * ARP (decoded by decode/): a sender whose hardware address is the
   * frame's source and whose protocol address is in the home network is a
   * device at that address (the ARP request every host sends before it
   * talks). Gratuitous and probe ARPs count the same; spoofing is detect/'s
   * job (arp_spoof).
   */
  onLinkFrame(p: Packet): void {
    const a = p.arpMsg;
    if (a.op === 0 || a.sha !== p.ethSrc || a.sha < 0) return;
    if (macKind(a.sha) !== "global" && macKind(a.sha) !== "local") return;
    ARP_WORDS[0] = a.spa;
    if (a.spa === 0 || !anyCidrContains(this.#o.homeNet(), 4, ARP_WORDS)) {
      return;
    }
    const d = this.#byMac.get(a.sha) ?? this.#device(a.sha, p.tsUs, "arp");
    d.sent(p.wirelen, p.tsUs);
    this.#addr(d, 4, ARP_WORDS, p.tsUs, true);
  }

  #firstBy(p: Packet, inside: boolean): string {
    if (p.proto === 17) {
      const s = p.srcPort, t = p.dstPort;
      if (s === P_DHCP_C && t === P_DHCP_S) return "dhcp";
      if (s === P_MDNS || t === P_MDNS) return "mdns";
      if (s === P_NBNS || t === P_NBNS) return "nbns";
      if (s === P_LLMNR || t === P_LLMNR) return "llmnr";
      if (s === P_SSDP || t === P_SSDP) return "ssdp";
    }
    if (!inside) return p.ipVersion === 6 ? "ipv6 link-local" : "link-local";
    return p.ipVersion === 6 ? "ipv6" : "ipv4";
  }

  /** Name sources: only UDP messages on their ports get here. */
  #names(d: DeviceState, p: Packet): void {
    const s = p.srcPort, t = p.dstPort;
    const data = p.data, a = p.payloadOffset, e = a + p.payloadLen;
    const ts = p.tsUs;
    if (s === P_DHCP_C && t === P_DHCP_S) {
      const f = parseDhcpClient(data, a, e);
      if (f === null || f.mac !== d.mac) return;
      d.noteName("dhcp hostname", f.hostname, ts);
      d.noteName("dhcp fqdn", f.fqdn, ts);
      d.noteHints(dhcpHints(f.vendorClass, f.paramList));
    } else if (s === P_MDNS || s === P_LLMNR) {
      const f = parseMdns(data, a, e, s === P_LLMNR);
      if (f === null) return;
      const src: NameSource = s === P_LLMNR ? "llmnr" : "mdns";
      for (const h of f.hostnames) d.noteName(src, h, ts);
      for (const i of f.instances) d.noteName("mdns instance", i, ts);
      for (const sv of f.services) d.noteHints(serviceHints(sv));
      for (const m of f.models) d.noteHints(modelHints(m));
    } else if (s === P_NBNS && (t === P_NBNS || t > 1023)) {
      const f = parseNbns(data, a, e);
      if (f !== null) d.noteName("nbns", f.name, ts);
    } else if (t === P_SSDP || s === P_SSDP) {
      const f = parseSsdp(data, a, e);
      if (f === null || f.what === "byebye") return;
      if (f.what === "search") {
        if (f.server) {
          d.noteHints([{
            source: "ssdp",
            field: "USER-AGENT",
            value: f.server,
            strength: 1,
          }]);
        }
        return;
      }
      d.noteHints(ssdpHints(f.server, f.type));
    }
  }

  /** App-layer records: User-Agents of requests and JA4s of client hellos. */
  onApp(rec: AppRecord, ctx: AppContext): void {
    switch (rec.kind) {
      case "http": {
        if (rec.state !== "request" && rec.requestEmitted) return;
        const ua = rec.requestHeader("user-agent");
        if (ua === null) return;
        const d = this.#client(ctx.flow, DIR_TO_SERVER);
        if (d) d.noteHints(userAgentHints(cleanBytes(ua, 0, ua.length, 200)));
        return;
      }
      case "tls": {
        const ja4 = rec.handshake.ja4;
        if (ja4 === "") return;
        const d = this.#client(ctx.flow, rec.clientDir);
        if (d) {
          d.noteHints([{
            source: "tls",
            field: "JA4",
            value: ja4,
            strength: 1,
          }]);
        }
        return;
      }
      case "dns":
        return;
      default: {
        const never: never = rec;
        return never;
      }
    }
  }

  #client(f: Flow, clientDir: number): DeviceState | undefined {
    return this.#at(
      f.version,
      clientDir === DIR_TO_SERVER ? f.srcAddr : f.dstAddr,
    );
  }

  /**
   * A flow ended: its remote peer and service go to the home side's
   * device (strings are made only when there is one).
   */
  onFlowEnd(f: Flow): void {
    if (f.pktsToServer + f.pktsToClient === 0) return;
    const home = this.#o.homeNet();
    const v = f.version;
    const src = anyCidrContains(home, v, f.srcAddr)
      ? this.#at(v, f.srcAddr)
      : undefined;
    const dst = anyCidrContains(home, v, f.dstAddr)
      ? this.#at(v, f.dstAddr)
      : undefined;
    if (src === undefined && dst === undefined) return;
    const service = `${protoName(f.proto)}/${f.dstPort}`;
    src?.notePeer(
      formatAddr(v, f.dstAddr),
      service,
      f.bytesToServer,
      f.bytesToClient,
    );
    dst?.notePeer(
      formatAddr(v, f.srcAddr),
      service,
      f.bytesToClient,
      f.bytesToServer,
    );
  }

  /**
   * Devices that went silent: `watched` ones (the owner's known devices)
   * not heard from for `afterUs` of packet time (the newest packet seen is
   * "now", so a replayed capture behaves as live traffic). Each is returned
   * once, and again only after it has been heard from and gone quiet
   * again.
   */
  wentSilent(
    afterUs: number,
    watched: (d: DeviceState) => boolean,
  ): DeviceState[] {
    const out: DeviceState[] = [];
    for (const d of this.#silent) {
      if (this.latestUs - d.lastUs < afterUs) this.#silent.delete(d);
    }
    for (const d of this.#byMac.values()) {
      if (
        this.latestUs - d.lastUs >= afterUs && !this.#silent.has(d) &&
        watched(d)
      ) {
        this.#silent.add(d);
        out.push(d);
      }
    }
    return out;
  }

  /**
   * Hands over what changed since the last call (devices with new traffic,
   * names, addresses, hints or peers) and starts counting afresh. Called by
   * the appliance on its save interval, never per packet.
   */
  drain(): DeviceDelta[] {
    const out: DeviceDelta[] = [];
    for (const d of this.#byMac.values()) {
      // The current addresses' last-seen times (kept per packet as numbers).
      if (d.curV4) d.noteAddr(d.curV4, d.lastV4Us);
      if (d.curV6) d.noteAddr(d.curV6, d.lastV6Us);
      const z = d.drained;
      if (
        !d.changed && z.pktsIn === d.pktsIn && z.pktsOut === d.pktsOut &&
        d.peers === null
      ) continue;
      out.push({
        device: d,
        bytesIn: d.bytesIn - z.bytesIn,
        bytesOut: d.bytesOut - z.bytesOut,
        pktsIn: d.pktsIn - z.pktsIn,
        pktsOut: d.pktsOut - z.pktsOut,
        minutes: d.minutes,
        peers: d.peers,
        services: d.services,
      });
      d.drained = {
        bytesIn: d.bytesIn,
        bytesOut: d.bytesOut,
        pktsIn: d.pktsIn,
        pktsOut: d.pktsOut,
      };
      d.minutes = [];
      d.peers = null;
      d.services = null;
      d.changed = false;
    }
    return out;
  }
}
