/**
 * `dns_tunnel`: DNS used as a data channel (iodine, dnscat2, a dig loop
 * exfiltrating a file). Per (querier, registered domain) over fixed windows
 * of `window_s`, it counts queries whose subdomain has a long (at least
 * `min_label_len`) high-entropy (at least `min_entropy` bits/symbol) label,
 * distinct names (linear counting), TXT/NULL/CNAME/MX/private-type queries,
 * and query-name bytes. Any of them crossing its threshold raises the alert
 * (variants encoded, rrtype, unique, volume, in that order of preference).
 *
 * Attribution: the client that sends the queries. A resolver forwarding a
 * client's queries is recognised because some client asked it about the
 * same domain first (within the window); its own upstream queries for that
 * domain are then skipped, so the alert names the client, not the resolver.
 * Reverse lookups (names under .arpa) are left out: a client resolving
 * many addresses is many unique names under in-addr.arpa, not a tunnel.
 * A querier that itself answers other hosts' queries is marked
 * `querier_is_resolver` in evidence: when its clients are not visible, the
 * tunnel is behind it.
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";
import type { Policy } from "../alerts/policy.ts";
import { APP_DNS, formatAddr, type Packet } from "../decode/mod.ts";
import { rrtypeName } from "../events/mod.ts";
import type { PacketContext } from "../flows/mod.ts";
import { Slab } from "./_slab.ts";
import { KeyedTable } from "./_table.ts";
import { hashRange, measureName, newShape } from "./_dns_name.ts";
import { detection, type Detector, type Emit, seconds } from "./detector.ts";

const TYPE: AlertType = "dns_tunnel";
const UPDATE_US = 5e6;
const TAG_QUERIER = 1, TAG_DOMAIN = 2, TAG_RESOLVER = 3;
const BITMAP_BITS = 2048;
const VIA = 4;
const SAMPLES = 3;

/** Query types tunnels favour for their bigger answers. */
function rareType(t: number): boolean {
  return t === 16 || t === 10 || t === 5 || t === 15 || t >= 65280;
}

class Querier {
  version: 4 | 6 = 4;
  readonly addr: Uint32Array;
  readonly server: Uint32Array;
  domain = "";
  windowStartUs = 0;
  // Window counters.
  queries = 0;
  encoded = 0;
  rare = 0;
  bytes = 0;
  readonly bitmap: Uint32Array;
  bits = 0;
  // Totals since the first query of the episode.
  totalQueries = 0;
  reported = 0;
  maxLabel = 0;
  entropySum = 0;
  readonly types = new Map<number, number>();
  samples: string[] = [];
  firstUs = 0;
  lastUs = 0;
  alerted = false;
  variant = "";
  lastEmitUs = 0;
  dirty = false;

  constructor(slab: Slab) {
    this.addr = slab.u32(4);
    this.server = slab.u32(4);
    this.bitmap = slab.u32(BITMAP_BITS / 32);
  }

  resetWindow(t: number): void {
    this.windowStartUs = t;
    this.queries =
      this.encoded =
      this.rare =
      this.bytes =
        0;
    this.bitmap.fill(0);
    this.bits = 0;
  }

  reset(): void {
    this.domain = "";
    this.resetWindow(0);
    this.totalQueries =
      this.reported =
      this.maxLabel =
      this.entropySum =
        0;
    this.types.clear();
    this.samples = [];
    this.firstUs = this.lastUs = 0;
    this.alerted = false;
    this.variant = "";
    this.lastEmitUs = 0;
    this.dirty = false;
  }

  unique(): number {
    const zeros = BITMAP_BITS - this.bits;
    if (zeros <= 0) return Math.round(BITMAP_BITS * Math.log(BITMAP_BITS));
    return Math.round(-BITMAP_BITS * Math.log(zeros / BITMAP_BITS));
  }
}

/** Per domain: the resolvers clients asked about it. */
class Domain {
  domain = "";
  readonly via: Uint32Array;
  readonly viaUs: Float64Array;
  nVia = 0;
  constructor(slab: Slab) {
    this.via = slab.u32(VIA * 4);
    this.viaUs = slab.f64(VIA);
  }
  reset(): void {
    this.domain = "";
    this.nVia = 0;
  }
  addVia(server: Uint32Array, t: number): void {
    let oldest = 0;
    for (let i = 0; i < this.nVia; i++) {
      const o = i * 4;
      if (
        this.via[o] === server[0] && this.via[o + 1] === server[1] &&
        this.via[o + 2] === server[2] && this.via[o + 3] === server[3]
      ) {
        this.viaUs[i] = t;
        return;
      }
      if (this.viaUs[i]! < this.viaUs[oldest]!) oldest = i;
    }
    const slot = this.nVia < VIA ? this.nVia++ : oldest;
    this.via.set(server, slot * 4);
    this.viaUs[slot] = t;
  }
  isVia(addr: Uint32Array, since: number): boolean {
    for (let i = 0; i < this.nVia; i++) {
      const o = i * 4;
      if (
        this.viaUs[i]! >= since && this.via[o] === addr[0] &&
        this.via[o + 1] === addr[1] && this.via[o + 2] === addr[2] &&
        this.via[o + 3] === addr[3]
      ) return true;
    }
    return false;
  }
}

/** Builds the DNS-tunnel detector. */
export function dnsTunnel(policy: Policy, emit: Emit): Detector {
  const cfg = policy.detectors.dns_tunnel;
  const windowUs = cfg.window_s * 1e6;
  const allow = cfg.allow_domains;
  const alerting = new Set<Querier>();
  const slab = new Slab();
  const queriers = new KeyedTable<Querier>(
    cfg.max_trackers,
    () => new Querier(slab),
    (q) => {
      alerting.delete(q);
      q.reset();
    },
    (q) => {
      if (q.alerted && q.dirty) report(q);
    },
  );
  const domains = new KeyedTable<Domain>(
    cfg.max_trackers,
    () => new Domain(slab),
    (d) => d.reset(),
  );
  // Hosts that answered other hosts' queries: value = last time.
  const resolvers = new KeyedTable<{ lastUs: number }>(
    1024,
    () => ({ lastUs: 0 }),
    (r) => {
      r.lastUs = 0;
    },
  );
  const shape = newShape();
  const hashWords = new Uint32Array(4);

  function report(q: Querier): void {
    q.lastEmitUs = q.lastUs;
    q.dirty = false;
    const count = q.totalQueries - q.reported;
    q.reported = q.totalQueries;
    const src = formatAddr(q.version, q.addr);
    const server = formatAddr(q.version, q.server);
    const types: Record<string, number> = {};
    for (const [t, n] of q.types) types[rrtypeName(t)] = n;
    resolvers.setKey(TAG_RESOLVER, q.version, q.addr, null, 0);
    const r = resolvers.get();
    const isResolver = r !== null && r.lastUs >= q.lastUs - windowUs;
    const unique = q.unique();
    const evidence: Record<string, unknown> = {
      domain: q.domain,
      queries: q.totalQueries,
      window_queries: q.queries,
      unique_names_est: unique,
      encoded_queries: q.encoded,
      max_label_len: q.maxLabel,
      mean_entropy: q.totalQueries > 0
        ? Math.round((q.entropySum / q.totalQueries) * 100) / 100
        : 0,
      rare_type_queries: q.rare,
      query_bytes: q.bytes,
      qtypes: types,
      resolver: server,
      querier_is_resolver: isResolver,
      duration_s: seconds(q.lastUs - q.firstUs),
      window_s: cfg.window_s,
      sample_names: q.samples,
    };
    const why = q.variant === "encoded"
      ? `${q.encoded} queries with long high-entropy labels`
      : q.variant === "rrtype"
      ? `${q.rare} TXT/NULL/CNAME-type queries`
      : q.variant === "unique"
      ? `about ${unique} unique names`
      : `${q.bytes} bytes of query names`;
    emit(detection(policy, TYPE, q.variant, {
      tsUs: q.lastUs,
      count,
      firstUs: q.firstUs,
      src,
      dest: server,
      destPort: 53,
      proto: "UDP",
      key: `${src}>${q.domain}`,
      evidence,
      explanation:
        `${src} sent ${why} under ${q.domain} within ${cfg.window_s} s ` +
        `(${q.totalQueries} queries via ${server})`,
    }));
  }

  /** True when `name` is an allowed domain or under one. */
  function allowed(name: string): boolean {
    for (const a of allow) {
      if (
        name.endsWith(a) &&
        (name.length === a.length ||
          name.charCodeAt(name.length - a.length - 1) === 0x2e)
      ) return true;
    }
    return false;
  }

  return {
    type: TYPE,
    stateSize: () => queriers.size,
    onPacket(p: Packet, _ctx: PacketContext): void {
      if (p.app !== APP_DNS || p.dns.qr || p.dstPort !== 53) return;
      const name = p.dns.qname;
      if (name === "" || p.dns.opcode !== 0 || name.endsWith(".arpa")) return;
      const t = p.tsUs;
      const v = p.ipVersion === 6 ? 6 : 4;
      // The destination answers queries: a resolver.
      resolvers.setKey(TAG_RESOLVER, v, p.dst, null, 0);
      resolvers.upsert(t).lastUs = t;
      measureName(name, shape);
      const reg = shape.regStart;
      if (allow.length > 0 && allowed(name)) return;
      const dh = hashRange(name, reg, name.length);
      hashWords[0] = dh;
      domains.setKey(TAG_DOMAIN, 0, hashWords, null, name.length - reg);
      const dom = domains.upsert(t);
      if (domains.lastCreated || dom.domain === "") {
        dom.domain = name.slice(reg);
      }
      // Is this querier a resolver forwarding what a client asked it?
      if (dom.isVia(p.src, t - windowUs)) return;
      dom.addVia(p.dst, t);
      queriers.setKey(TAG_QUERIER, v, p.src, null, dh);
      const q = queriers.upsert(t);
      if (queriers.lastCreated || q.domain === "") {
        q.version = v;
        q.addr.set(p.src);
        q.domain = dom.domain;
      }
      q.server.set(p.dst);
      if (q.totalQueries === 0) q.firstUs = t;
      if (t - q.windowStartUs >= windowUs) {
        if (!q.alerted && q.totalQueries > 0 && t - q.lastUs > windowUs) {
          // Quiet for a whole window: a new episode.
          q.totalQueries =
            q.reported =
            q.maxLabel =
            q.entropySum =
              0;
          q.types.clear();
          q.samples = [];
          q.firstUs = t;
        }
        q.resetWindow(t);
      }
      if (t > q.lastUs) q.lastUs = t;
      q.queries++;
      q.totalQueries++;
      q.bytes += name.length;
      const nh = hashRange(name, 0, reg);
      const bit = (nh ^ (nh >>> 11)) & (BITMAP_BITS - 1);
      const m = 1 << (bit & 31), wi = bit >>> 5;
      if ((q.bitmap[wi]! & m) === 0) {
        q.bitmap[wi] = q.bitmap[wi]! | m;
        q.bits++;
      }
      if (shape.maxLabel > q.maxLabel) q.maxLabel = shape.maxLabel;
      q.entropySum += shape.entropy;
      if (
        shape.maxLabel >= cfg.min_label_len && shape.entropy >= cfg.min_entropy
      ) {
        q.encoded++;
      }
      const qt = p.dns.qtype;
      if (rareType(qt)) q.rare++;
      if (q.types.size < 16 || q.types.has(qt)) {
        q.types.set(qt, (q.types.get(qt) ?? 0) + 1);
      }
      if (q.samples.length < SAMPLES && shape.subLen >= 8) {
        q.samples.push(name.slice(0, 120));
      }
      if (q.alerted) {
        q.dirty = true;
        if (t - q.lastEmitUs >= UPDATE_US) report(q);
        return;
      }
      const unique = q.bits >= 8 ? q.unique() : q.bits;
      let variant = "";
      if (
        q.encoded >= cfg.encoded_queries &&
        unique >= Math.min(cfg.encoded_queries, 10)
      ) {
        variant = "encoded";
      } else if (q.rare >= cfg.rrtype_queries && unique >= 10) {
        variant = "rrtype";
      } else if (unique >= cfg.unique_names) variant = "unique";
      else if (q.bytes >= cfg.volume_bytes && unique >= 20) variant = "volume";
      if (variant === "") return;
      q.alerted = true;
      q.variant = variant;
      alerting.add(q);
      report(q);
    },
    onTick(nowUs: number): void {
      if (alerting.size === 0) return;
      for (const q of alerting) {
        if (q.dirty && nowUs - q.lastEmitUs >= UPDATE_US) report(q);
        if (nowUs - q.lastUs > windowUs) {
          if (q.dirty) report(q);
          alerting.delete(q);
          q.alerted = false;
          q.totalQueries = q.reported = 0;
        }
      }
    },
    onFinish(): void {
      for (const q of alerting) if (q.dirty) report(q);
    },
  };
}
