/**
 * Test helpers of detect/: hand-made traffic as real Ethernet frames (IPv4
 * or IPv6, TCP with realistic options, UDP, ICMP), run through the real
 * pipeline (decoder, flow and host tables) with detectors and the alert
 * aggregator, collecting what comes out.
 *
 * @module
 */
import { BatchBuilder, type FrameBatch } from "../capture/mod.ts";
import {
  type AggregatorOptions,
  type Alert,
  AlertAggregator,
  defaultPolicy,
  type Detection,
  parsePolicy,
  type Policy,
} from "../alerts/mod.ts";
import {
  parseAddr,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
} from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import type { Detector } from "./detector.ts";
import { createDetectors } from "./mod.ts";

const enc = new TextEncoder();

/** TCP options of an operating-system SYN (MSS, SACK, timestamps, wscale): 20 bytes. */
const OS_SYN_OPTIONS = [
  2,
  4,
  5,
  0xb4,
  4,
  2,
  8,
  10,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  0,
  1,
  3,
  3,
  7,
];
/** nmap's raw SYN: MSS only. */
const CRAFTED_SYN_OPTIONS = [2, 4, 5, 0xb4];

/** Options of one TCP segment. */
export interface SegOpts {
  payload?: string | Uint8Array;
  window?: number;
  /** TCP options bytes (padded to 4). */
  options?: number[];
  seq?: number;
  ack?: number;
}

function be16(n: number): number[] {
  return [(n >> 8) & 255, n & 255];
}
function be32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

function addrBytes(text: string): { v: 4 | 6; b: number[] } {
  const a = parseAddr(text);
  if (a === null) throw new TypeError(`Bad test address "${text}"`);
  if (a.version === 4) return { v: 4, b: be32(a.words[0]!) };
  const b: number[] = [];
  for (let i = 0; i < 4; i++) b.push(...be32(a.words[i]!));
  return { v: 6, b };
}

const DEFAULT_MAC = [2, 0x99, 0, 0, 0, 1];

function macOf(text: string): number[] {
  const b = text.split(":").map((h) => parseInt(h, 16));
  if (b.length !== 6 || b.some((x) => !(x >= 0 && x <= 255))) {
    throw new TypeError(`Bad test MAC "${text}"`);
  }
  return b;
}

/** A scripted capture: frames with timestamps, built in order. */
export class Traffic {
  /** Current packet time in µs (starts at 2026-01-01T00:00:00Z). */
  tUs = Date.UTC(2026, 0, 1) * 1000;
  readonly frames: { bytes: Uint8Array; tsUs: number }[] = [];
  /** MAC of each address (text); others get 02:99:00:00:00:01. */
  readonly macs = new Map<string, number[]>();
  #seq = 1000;
  /** Next sequence number of each direction of each connection, as TCP keeps it. */
  #next = new Map<string, number>();

  /** Gives `ip` the MAC `mac` ("02:99:0a:63:00:42") in later frames. */
  mac(ip: string, mac: string): this {
    this.macs.set(ip, macOf(mac));
    return this;
  }

  /** Moves the clock forward by `s` seconds. */
  wait(s: number): this {
    this.tUs += Math.round(s * 1e6);
    return this;
  }

  #ip(
    src: string,
    dst: string,
    proto: number,
    l4: number[],
    hlim = 64,
  ): number[] {
    const s = addrBytes(src), d = addrBytes(dst);
    const mac = [
      ...(this.macs.get(dst) ?? DEFAULT_MAC),
      ...(this.macs.get(src) ?? DEFAULT_MAC),
    ];
    if (s.v === 4) {
      const total = 20 + l4.length;
      const ip = [
        0x45,
        0,
        ...be16(total),
        0,
        1,
        0x40,
        0,
        64,
        proto,
        0,
        0,
        ...s.b,
        ...d.b,
      ];
      return [...mac, 8, 0, ...ip, ...l4];
    }
    const ip = [0x60, 0, 0, 0, ...be16(l4.length), proto, hlim, ...s.b, ...d.b];
    return [...mac, 0x86, 0xdd, ...ip, ...l4];
  }

  /**
   * One ARP message from the frame source `from` (MAC text): sender `sha`
   * claims `spa`; the target fields as given (a request's tha is zero).
   */
  arp(
    op: number,
    from: string,
    o: { sha?: string; spa: string; tha?: string; tpa: string; to?: string },
  ): this {
    const to = o.to ??
      (op === 1 ? "ff:ff:ff:ff:ff:ff" : o.tha ?? "ff:ff:ff:ff:ff:ff");
    return this.#push([
      ...macOf(to),
      ...macOf(from),
      8,
      6,
      0,
      1,
      8,
      0,
      6,
      4,
      0,
      op,
      ...macOf(o.sha ?? from),
      ...addrBytes(o.spa).b,
      ...macOf(o.tha ?? "00:00:00:00:00:00"),
      ...addrBytes(o.tpa).b,
    ]);
  }

  /**
   * One IPv6 neighbour-discovery message (hop limit 255) from `src`:
   * type 134 (RA), 135 (NS) or 136 (NA), with a link-layer option `lla`.
   */
  nd(
    src: string,
    dst: string,
    type: number,
    o: { target?: string; flags?: number; lla?: string; lifetime?: number } =
      {},
  ): this {
    let body: number[];
    if (type === 134) {
      body = [
        64,
        o.flags ?? 0,
        ...be16(o.lifetime ?? 1800),
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
      ];
    } else {
      body = [o.flags ?? 0, 0, 0, 0, ...addrBytes(o.target ?? "::").b];
    }
    const opt = o.lla === undefined
      ? []
      : [type === 136 ? 2 : 1, 1, ...macOf(o.lla)];
    return this.#push(
      this.#ip(src, dst, 58, [type, 0, 0, 0, ...body, ...opt], 255),
    );
  }

  /** One DHCP message between ports 67 and 68 (BOOTP, cookie, options). */
  dhcp(
    src: string,
    dst: string,
    o: {
      op: number;
      type: number;
      chaddr: string;
      yiaddr?: string;
      serverId?: string;
      router?: string;
      dns?: string[];
      lease?: number;
    },
  ): this {
    const opts: number[] = [53, 1, o.type];
    if (o.serverId) opts.push(54, 4, ...addrBytes(o.serverId).b);
    if (o.router) opts.push(3, 4, ...addrBytes(o.router).b);
    if (o.dns) {
      opts.push(
        6,
        4 * o.dns.length,
        ...o.dns.flatMap((d) => addrBytes(d).b),
      );
    }
    if (o.lease !== undefined) opts.push(51, 4, ...be32(o.lease));
    opts.push(255);
    const msg = [
      o.op,
      1,
      6,
      0,
      ...be32(0x1234),
      0,
      0,
      0x80,
      0,
      0,
      0,
      0,
      0,
      ...addrBytes(o.yiaddr ?? "0.0.0.0").b,
      ...new Array(8).fill(0),
      ...macOf(o.chaddr),
      ...new Array(10 + 192).fill(0),
      99,
      130,
      83,
      99,
      ...opts,
    ];
    const sport = o.op === 2 ? 67 : 68, dport = o.op === 2 ? 68 : 67;
    return this.udp(src, sport, dst, dport, Uint8Array.from(msg));
  }

  #push(bytes: number[]): this {
    this.frames.push({ bytes: Uint8Array.from(bytes), tsUs: this.tUs });
    this.tUs += 50; // 50 µs between frames unless waited
    return this;
  }

  /** One TCP segment. */
  tcp(
    src: string,
    sport: number,
    dst: string,
    dport: number,
    flags: number,
    o: SegOpts = {},
  ): this {
    const payload = typeof o.payload === "string"
      ? enc.encode(o.payload)
      : o.payload ?? new Uint8Array(0);
    const opt = [...(o.options ?? [])];
    while (opt.length % 4 !== 0) opt.push(1);
    // Sequence and acknowledgement numbers as a real TCP keeps them: per
    // direction, advanced by the payload, SYN and FIN.
    const key = `${src}:${sport}>${dst}:${dport}`;
    const back = `${dst}:${dport}>${src}:${sport}`;
    let seq = this.#next.get(key);
    if (seq === undefined || (flags & TCP_SYN) !== 0) {
      this.#seq = (this.#seq + 100_003) >>> 0;
      seq = this.#seq;
    }
    if (o.seq !== undefined) seq = o.seq;
    this.#next.set(
      key,
      (seq + payload.length + ((flags & (TCP_SYN | TCP_FIN)) !== 0 ? 1 : 0)) >>>
        0,
    );
    const ack = o.ack ??
      ((flags & TCP_ACK) !== 0 ? this.#next.get(back) ?? 0 : 0);
    const off = (20 + opt.length) / 4;
    const l4 = [
      ...be16(sport),
      ...be16(dport),
      ...be32(seq),
      ...be32(ack),
      off << 4,
      flags,
      ...be16(o.window ?? 64240),
      0,
      0,
      0,
      0,
      ...opt,
      ...payload,
    ];
    return this.#push(this.#ip(src, dst, 6, l4));
  }

  /** One UDP datagram. */
  udp(
    src: string,
    sport: number,
    dst: string,
    dport: number,
    payload: string | Uint8Array = "",
  ): this {
    const p = typeof payload === "string" ? enc.encode(payload) : payload;
    const l4 = [
      ...be16(sport),
      ...be16(dport),
      ...be16(8 + p.length),
      0,
      0,
      ...p,
    ];
    return this.#push(this.#ip(src, dst, 17, l4));
  }

  /** One ICMP (or ICMPv6 for IPv6 addresses) message. */
  icmp(
    src: string,
    dst: string,
    type: number,
    code = 0,
    body: number[] = [0, 1, 0, 1],
  ): this {
    const v6 = src.includes(":");
    return this.#push(
      this.#ip(src, dst, v6 ? 58 : 1, [type, code, 0, 0, ...body]),
    );
  }

  /** A client's operating-system SYN. */
  syn(c: string, cp: number, s: string, sp: number): this {
    return this.tcp(c, cp, s, sp, TCP_SYN, { options: OS_SYN_OPTIONS });
  }

  /** A nmap-style crafted SYN (MSS option only, window 1024). */
  craftedSyn(c: string, cp: number, s: string, sp: number): this {
    return this.tcp(c, cp, s, sp, TCP_SYN, {
      options: CRAFTED_SYN_OPTIONS,
      window: 1024,
    });
  }

  /**
   * A whole TCP connection: handshake, the client's request and the
   * server's answer (when given), then FIN both ways (or a client RST).
   */
  connection(
    c: string,
    cp: number,
    s: string,
    sp: number,
    o: {
      request?: string | Uint8Array;
      answer?: string | Uint8Array;
      rst?: boolean;
      gapS?: number;
    } = {},
  ): this {
    this.syn(c, cp, s, sp);
    this.tcp(s, sp, c, cp, TCP_SYN | TCP_ACK, { options: OS_SYN_OPTIONS });
    this.tcp(c, cp, s, sp, TCP_ACK);
    if (o.request !== undefined) {
      this.tcp(c, cp, s, sp, TCP_ACK | 0x08, { payload: o.request });
    }
    if (o.answer !== undefined) {
      this.tcp(s, sp, c, cp, TCP_ACK | 0x08, { payload: o.answer });
    }
    if (o.gapS) this.wait(o.gapS);
    if (o.rst) return this.tcp(c, cp, s, sp, TCP_RST | TCP_ACK);
    this.tcp(c, cp, s, sp, TCP_FIN | TCP_ACK);
    this.tcp(s, sp, c, cp, TCP_FIN | TCP_ACK);
    return this.tcp(c, cp, s, sp, TCP_ACK);
  }

  /** The frames as one batch. */
  batch(): FrameBatch {
    const b = new BatchBuilder(Math.max(1, this.frames.length), 1 << 16);
    for (const f of this.frames) {
      b.push(f.bytes, 0, f.bytes.length, f.bytes.length, f.tsUs, 1);
    }
    return b.take()!;
  }
}

/** What a run produced. */
export interface RunResult {
  detections: Detection[];
  /** Final alerts, in the order they closed. */
  alerts: Alert[];
  /** New and updated alerts as `onAlert` saw them. */
  live: { alert: Alert; isNew: boolean }[];
  aggregator: AlertAggregator;
  detectors: Detector[];
  pipeline: Pipeline;
}

/**
 * Runs the traffic through a pipeline with the detectors the policy enables
 * (or `only` these types) and an aggregator, then finishes.
 */
export function run(
  traffic: Traffic,
  o: {
    policy?: Policy | unknown;
    only?: string[];
    aggregator?: Partial<AggregatorOptions>;
    batchSize?: number;
  } = {},
): RunResult {
  const policy = o.policy === undefined
    ? defaultPolicy()
    : isPolicy(o.policy)
    ? o.policy
    : parsePolicy(o.policy);
  const detections: Detection[] = [];
  const alerts: Alert[] = [];
  const live: { alert: Alert; isNew: boolean }[] = [];
  const aggregator = new AlertAggregator({
    policy,
    onFinal: (a) => alerts.push(structuredClone(a)),
    onAlert: (a, isNew) => live.push({ alert: structuredClone(a), isNew }),
    ...o.aggregator,
  });
  const emit = (d: Detection) => {
    detections.push(d);
    aggregator.add(d);
  };
  let detectors = createDetectors(policy, emit);
  if (o.only) detectors = detectors.filter((d) => o.only!.includes(d.type));
  const observers: FlowObserver[] = [...detectors, aggregator.observer()];
  const pipeline = new Pipeline({ observers });
  const size = o.batchSize ?? 256;
  for (let i = 0; i < traffic.frames.length; i += size) {
    const part = new Traffic();
    part.frames.push(...traffic.frames.slice(i, i + size));
    pipeline.processBatch(part.batch());
  }
  pipeline.finish();
  return { detections, alerts, live, aggregator, detectors, pipeline };
}

function isPolicy(p: unknown): p is Policy {
  return typeof p === "object" && p !== null && "home_net" in p &&
    Array.isArray((p as { home_net: unknown }).home_net) &&
    (p as { home_net: unknown[] }).home_net.every((c) => typeof c === "object");
}

/** Alerts of one type. */
export function ofType(alerts: readonly Alert[], type: string): Alert[] {
  return alerts.filter((a) => a.netsentinel.type === type);
}
