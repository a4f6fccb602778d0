/**
 * The detection policy: home network, per-detector switches, severities,
 * thresholds and windows, suspicious ports, exposed services, allowlists,
 * suppressions, aggregation and the alert rate cap. Parsed and validated
 * from JSON by {@link parsePolicy}; the defaults ship in `data/policy.json`
 * (imported as a JSON module, so `deno compile` embeds it). A
 * {@link PolicyHolder} swaps policies only after the new one validates.
 *
 * @module
 */
import { anyCidrContains, type Cidr } from "../decode/mod.ts";
import { ConfigError } from "../common/errors.ts";
import {
  bool,
  cidr,
  int,
  isRecord,
  type Limits,
  list,
  num,
  oneOf,
  record,
  show,
  text,
} from "../common/validate.ts";
import { ALERT_TYPES, type AlertType, type Severity } from "./alert.ts";
import DEFAULT_POLICY_JSON from "../data/policy.json" with { type: "json" };

/** What every detector's policy has. */
export interface DetectorPolicy {
  /** False turns the detector off (its detections are dropped too). */
  enabled: boolean;
  /** Suricata severity of its alerts: 1 high, 2 medium, 3 low, 4 informational. */
  severity: Severity;
}

/** `port_scan`: distinct failed ports of one host from one source. */
export interface PortScanPolicy extends DetectorPolicy {
  /** Distinct probed ports on one target that raise the alert (Zeek: 15). */
  ports: number;
  /** Sliding window the ports are counted over, seconds (Zeek: 5 min). */
  window_s: number;
  /**
   * Distinct sources that, probing `ports` distinct ports of one target
   * together within the window, raise a distributed scan about the target.
   */
  sources: number;
  /** Cap on tracked (source, target) pairs; least recently used evicted. */
  max_trackers: number;
}

/** `host_sweep`: distinct hosts probed on one port (or ICMP type) by one source. */
export interface HostSweepPolicy extends DetectorPolicy {
  /** Distinct target hosts inside home_net that raise the alert. */
  hosts: number;
  /** Distinct target hosts outside home_net that raise the alert (Zeek: 25). */
  hosts_external: number;
  /**
   * Distinct sources that, probing as many hosts on one port together
   * within the window, raise a distributed sweep.
   */
  sources: number;
  /** Window the counts are kept over, seconds. */
  window_s: number;
  /** Cap on tracked keys; least recently used evicted. */
  max_trackers: number;
}

/** `syn_flood`, `udp_flood`, `icmp_flood`: packet rate toward one target. */
export interface FloodPolicy extends DetectorPolicy {
  /**
   * Packets per second toward one target that raise the alert: unanswered
   * SYNs (SYNs minus completed handshakes) for syn_flood, datagrams to a
   * UDP server for udp_flood, ICMP requests for icmp_flood.
   */
  pps: number;
  /** The rate must also be this many times the target's baseline. */
  baseline_factor: number;
  /**
   * Largest reply/request ratio still counted as a flood (udp_flood: a
   * server answering most datagrams is busy, not flooded); 1 disables.
   */
  max_reply_ratio: number;
  /** Cap on tracked targets; least recently used evicted. */
  max_targets: number;
}

/** `brute_force`: many short login connections, or HTTP auth failures. */
export interface BruteForcePolicy extends DetectorPolicy {
  /** Short login connections to one service that raise the alert. */
  attempts: number;
  /** Window the counts are kept over, seconds. */
  window_s: number;
  /** A login attempt lasts at most this long, seconds. */
  max_duration_s: number;
  /** …and carries at most this many payload bytes both ways. */
  max_bytes: number;
  /**
   * …and at most this many client packets: an interactive session (a packet
   * per keystroke) is a person, not a guesser.
   */
  max_packets: number;
  /** Login services by TCP port: ssh, telnet, ftp, rdp, smb or other. */
  services: ReadonlyMap<number, string>;
  /** HTTP 401 answers to one client that raise the alert. */
  http_401: number;
  /** POSTs to one login-like path that raise the alert. */
  http_posts: number;
  /** Substrings (lower case) that make a path login-like. */
  http_login_paths: readonly string[];
  /** Cap on tracked keys; least recently used evicted. */
  max_trackers: number;
}

/** `dns_tunnel`: query shapes per (client, registered domain). */
export interface DnsTunnelPolicy extends DetectorPolicy {
  /** Window the counts are kept over, seconds. */
  window_s: number;
  /** Queries with a long high-entropy label that raise the alert. */
  encoded_queries: number;
  /** A label this long (characters) counts as long. */
  min_label_len: number;
  /** Shannon entropy (bits per character) of the subdomain that counts as high. */
  min_entropy: number;
  /** Distinct names under one domain that raise the alert. */
  unique_names: number;
  /** TXT/NULL/CNAME/private-type queries to one domain that raise the alert. */
  rrtype_queries: number;
  /** Query name bytes to one domain that raise the alert. */
  volume_bytes: number;
  /** Registered domains never reported (lower case, no trailing dot). */
  allow_domains: readonly string[];
  /** Cap on tracked keys; least recently used evicted. */
  max_trackers: number;
}

/** `malformed_http`: grammar checks on the first request segment. */
export interface MalformedHttpPolicy extends DetectorPolicy {
  /** Server ports whose first client segment is checked (plus any flow the decoder saw HTTP on). */
  ports: readonly number[];
  /** Longest request line accepted, bytes (Apache: 8190). */
  max_request_line: number;
  /** Longest header line accepted, bytes (Apache: 8190). */
  max_header_line: number;
  /** Most header lines accepted (Apache: 100). */
  max_headers: number;
}

/** `external_inbound`: outside clients reaching inside ports not exposed. */
export interface ExternalInboundPolicy extends DetectorPolicy {
  /**
   * True: only connections the inside host accepted (SYN+ACK, or a UDP
   * reply). False: every SYN (or first datagram) to a port not exposed.
   */
  require_accepted: boolean;
}

/** `new_host`: first sighting of a home_net address. */
export interface NewHostPolicy extends DetectorPolicy {
  /** Cap on remembered hosts (beyond it no more new_host alerts). */
  max_hosts: number;
}

/** `anomaly`: flows the Isolation Forest flags. */
export interface AnomalyPolicy extends DetectorPolicy {
  /**
   * Flagged flows from one source within `window_s` before an alert: one
   * odd flow (a big download, a long ssh session) is normal life, a source
   * that keeps producing them is not.
   */
  min_flows: number;
  /**
   * Share of the source's flows scored within `window_s` that must be
   * flagged too (0–1): the model flags about 1% of normal flows, so a busy
   * host always has a few.
   */
  min_share: number;
  window_s: number;
  /**
   * One incident, one alert: an anomaly about an address a rule alert names
   * (source, target or listed source) within this many seconds, before or
   * after, is attached to that alert as corroborating evidence instead of
   * raising an alert of its own; so a new anomaly alert waits this long
   * (packet time) for a rule to explain it. 0: raised at once, attached
   * only to rule alerts that came first.
   */
  corroborate_s: number;
  /** Cap on sources tracked. */
  max_sources: number;
}

/** `signature`: Suricata-language rules (rules/). */
export interface SignaturePolicy extends DetectorPolicy {
  /**
   * One incident, one alert: a signature between a source and a target
   * that a rule alert names (as its source and target) within this many
   * seconds, before or after, is attached to that alert
   * (`netsentinel.signatures`) instead of raising an alert of its own; so
   * a new signature alert waits this long (packet time) for a rule alert
   * about its pair. 0: raised at once, attached only to rule alerts that
   * came first.
   */
  corroborate_s: number;
}

/** `arp_spoof`, `nd_spoof`: IP-to-MAC bindings learned from ARP or neighbour discovery. */
export interface SpoofPolicy extends DetectorPolicy {
  /**
   * Addresses whose claim by another MAC than the one first seen always
   * alerts, and whose unsolicited replies are checked: the gateway's and
   * the appliance's. Routers seen forwarding outside traffic are added.
   */
  protected: readonly Cidr[];
  /** A MAC counts as alive when it sent a frame within this many seconds. */
  alive_s: number;
  /** Addresses bound to one MAC at once that raise the alert. */
  max_addresses: number;
  /** ARP (or ND) frames per second on the segment that count as a flood… */
  flood_pps: number;
  /** …for this many seconds in a row. */
  flood_seconds: number;
  /** Cap on remembered bindings and MACs; least recently used evicted. */
  max_bindings: number;
}

/** `rogue_ra`: IPv6 router advertisements from routers not known. */
export interface RogueRaPolicy extends DetectorPolicy {
  /** The routers (link-local addresses); empty: the first router seen is learned. */
  routers: readonly Cidr[];
}

/** `rogue_dhcp`: DHCP offers and acks from servers not known. */
export interface RogueDhcpPolicy extends DetectorPolicy {
  /** The DHCP servers (addresses); empty: the first server seen is learned. */
  servers: readonly Cidr[];
}

/** `beacon`: periodic connections from an inside host to one outside address. */
export interface BeaconPolicy extends DetectorPolicy {
  /** Connections in a series before it is scored. */
  min_connections: number;
  /** Score (0–1, RITA's mean of timing and size scores) that raises the alert. */
  threshold: number;
  /** Series whose median interval is shorter (seconds) are not beacons (bursts). */
  min_interval_s: number;
  /** …or longer. */
  max_interval_s: number;
  /** Destination ports never scored (DNS, NTP, push services). */
  allow_ports: readonly number[];
  /** Domains (TLS SNI, HTTP Host) whose series are never scored. */
  allow_domains: readonly string[];
  /** Cap on tracked (inside host, outside address, port) series. */
  max_trackers: number;
}

/** `exfiltration`: uploads far above an inside host's usual to a new destination. */
export interface ExfiltrationPolicy extends DetectorPolicy {
  /** Bytes sent in one connection below which nothing is reported. */
  min_bytes: number;
  /** The upload must be this many times the host's usual upload. */
  factor: number;
  /** Earlier connections to the destination at most this many (0: never used). */
  rare_flows: number;
  /** Cap on tracked inside hosts and (host, destination) pairs. */
  max_trackers: number;
}

/** Per-detector policies, by alert type. */
export interface DetectorPolicies {
  /** Port scans. */
  port_scan: PortScanPolicy;
  /** Host sweeps. */
  host_sweep: HostSweepPolicy;
  /** SYN floods. */
  syn_flood: FloodPolicy;
  /** UDP floods. */
  udp_flood: FloodPolicy;
  /** ICMP floods. */
  icmp_flood: FloodPolicy;
  /** Password guessing. */
  brute_force: BruteForcePolicy;
  /** DNS tunnels and exfiltration. */
  dns_tunnel: DnsTunnelPolicy;
  /** Malformed HTTP requests. */
  malformed_http: MalformedHttpPolicy;
  /** Traffic on suspicious ports (list: `suspicious_ports`). */
  suspicious_port: DetectorPolicy;
  /** Outside clients reaching inside ports not exposed. */
  external_inbound: ExternalInboundPolicy;
  /** New hosts on home_net. */
  new_host: NewHostPolicy;
  /** ARP spoofing and floods. */
  arp_spoof: SpoofPolicy;
  /** IPv6 neighbour spoofing and floods. */
  nd_spoof: SpoofPolicy;
  /** Router advertisements from unknown routers. */
  rogue_ra: RogueRaPolicy;
  /** DHCP servers not known. */
  rogue_dhcp: RogueDhcpPolicy;
  /** Periodic connections to one outside address. */
  beacon: BeaconPolicy;
  /** Outsized uploads to new destinations. */
  exfiltration: ExfiltrationPolicy;
  /** The Isolation Forest (ml/). */
  anomaly: AnomalyPolicy;
  /** Suricata-language rules (rules/): severity is each rule's priority. */
  signature: SignaturePolicy;
  /** Threat-intelligence feed matches (intel/; severities are per feed). */
  intel: DetectorPolicy;
}

/** Transport protocol selector of port lists. */
export type PortProto = "tcp" | "udp" | "any";

/** One suspicious port range with the reason shown in evidence. */
export interface SuspiciousPort {
  /** First port of the range. */
  from: number;
  /** Last port of the range (inclusive). */
  to: number;
  /** Transport the range applies to. */
  proto: PortProto;
  /** Why the port is suspicious (shown in evidence). */
  reason: string;
}

/** A service the policy exposes to the outside (external_inbound ignores it). */
export interface ExposedService {
  /** First port of the range. */
  from: number;
  /** Last port of the range (inclusive). */
  to: number;
  /** Transport the range applies to. */
  proto: PortProto;
  /** Inside hosts it applies to (empty: every inside host). */
  hosts: readonly Cidr[];
}

/**
 * How a suppression matches an alert's addresses: Suricata's `track`
 * (`by_src`, `by_dst`, `by_either`), and `by_pair`: the source is `ip`
 * and the destination `dest_ip`.
 */
export type SuppressTrack = "by_src" | "by_dst" | "by_either" | "by_pair";

/** One suppression: alerts of a signature or type involving an address. */
export interface Suppression {
  /** Match this signature id … */
  signature_id?: number;
  /** … or this alert type (at least one of the two is set). */
  type?: AlertType;
  /** Address or prefix the suppression applies to. */
  cidr: Cidr;
  /** Which address of the alert must match. */
  track: SuppressTrack;
  /** The destination address or prefix (`by_pair` only). */
  dest?: Cidr;
  /**
   * Time after which the suppression no longer applies, µs (Infinity:
   * never): packet time in `analyze`, the clock in the appliance (see
   * {@link AggregatorOptions.clockUs}).
   */
  expiresUs: number;
  /** Free text (why, who). */
  note: string;
  /** When it was made (ISO 8601), when known (mutes from the dashboard). */
  created?: string;
  /** Who made it, when known. */
  created_by?: string;
}

/** The validated policy. */
export interface Policy {
  /** The local network: inside addresses. */
  readonly home_net: readonly Cidr[];
  /** How detections fold into alerts. */
  readonly aggregation: {
    /** An alert is final after this long without a detection, seconds. */
    window_s: number;
    /** …or this long after its first detection (a new alert starts). */
    max_open_s: number;
    /** Updates of an open alert reach sinks at most this often, seconds. */
    update_interval_s: number;
    /** Cap on open alerts; the least recently updated is finalised early. */
    max_open: number;
  };
  /** Global cap on new alerts. */
  readonly rate_limit: {
    /** New alerts per second (packet time) passed downstream. */
    alerts_per_s: number;
    /** Burst size of the token bucket. */
    burst: number;
  };
  /** Sources and destinations never alerted on. */
  readonly allowlist: {
    /** Sources never alerted on. */
    sources: readonly Cidr[];
    /** Destinations never alerted on. */
    destinations: readonly Cidr[];
  };
  /** Suppressions by signature or type and address. */
  readonly suppressions: readonly Suppression[];
  /** Services reachable from outside on purpose. */
  readonly exposed: readonly ExposedService[];
  /** Ports whose traffic is suspicious, with reasons. */
  readonly suspicious_ports: readonly SuspiciousPort[];
  /** Per-detector settings. */
  readonly detectors: Readonly<DetectorPolicies>;
}

/**
 * Reads a severity: 1 (high), 2 (medium), 3 (low) or 4 (informational).
 *
 * @throws {ConfigError} naming `field` for anything else.
 */
export function parseSeverity(v: unknown, field: string): Severity {
  if (v === 1 || v === 2 || v === 3 || v === 4) return v;
  throw new ConfigError(
    field,
    `expected 1 (high), 2 (medium), 3 (low) or 4 (info), got ${show(v)}`,
  );
}

// ---------------------------------------------------------------------------
// Policy-specific readers (the generic ones are in common/validate.ts). Each
// takes the value and its dotted path, and throws a ConfigError naming it.

const PORT: Limits = { min: 0, max: 65535 };
const SERVER: Limits = { min: 1, max: 65535 };
const PROTOS: readonly PortProto[] = ["tcp", "udp", "any"];

function portRange(v: unknown, path: string): [number, number] {
  if (typeof v === "number") {
    const p = int(v, path, undefined, PORT);
    return [p, p];
  }
  const t = text(v, path, undefined, 16);
  const m = /^(\d{1,5})\s*-\s*(\d{1,5})$/.exec(t.trim());
  if (m === null) {
    throw new ConfigError(
      path,
      `expected a port or a range "a-b", got ${show(t)}`,
    );
  }
  const a = int(Number(m[1]), path, undefined, PORT);
  const b = int(Number(m[2]), path, undefined, PORT);
  if (b < a) throw new ConfigError(path, `range "${t}" ends before it starts`);
  return [a, b];
}

// ---------------------------------------------------------------------------
// Per-detector field specs: each field's kind and range. A detector's policy
// is its defaults overlaid with the fields the input gives.

type FieldSpec =
  | { kind: "bool" }
  | { kind: "severity" }
  | { kind: "int"; min: number; max: number }
  | { kind: "num"; min: number; max: number }
  | { kind: "ports" }
  | { kind: "strings"; maxItems: number }
  | { kind: "domains"; maxItems: number }
  | { kind: "cidrs"; maxItems: number }
  | { kind: "services" };

const BASE: Record<string, FieldSpec> = {
  enabled: { kind: "bool" },
  severity: { kind: "severity" },
};
const whole = (min: number, max: number): FieldSpec => ({
  kind: "int",
  min,
  max,
});
const real = (min: number, max: number): FieldSpec => ({
  kind: "num",
  min,
  max,
});
const WINDOW = whole(1, 86400);
const TRACKERS = whole(16, 10_000_000);
const FLOOD: Record<string, FieldSpec> = {
  ...BASE,
  pps: whole(1, 100_000_000),
  baseline_factor: real(1, 1e6),
  max_reply_ratio: real(0, 1),
  max_targets: TRACKERS,
};

const SPOOF: Record<string, FieldSpec> = {
  ...BASE,
  protected: { kind: "cidrs", maxItems: 1024 },
  alive_s: whole(1, 86400),
  max_addresses: whole(2, 65536),
  flood_pps: whole(1, 10_000_000),
  flood_seconds: whole(1, 3600),
  max_bindings: TRACKERS,
};

const SPECS: { [K in AlertType]: Record<string, FieldSpec> } = {
  port_scan: {
    ...BASE,
    ports: whole(2, 4096),
    window_s: WINDOW,
    sources: whole(2, 64),
    max_trackers: TRACKERS,
  },
  host_sweep: {
    ...BASE,
    hosts: whole(2, 4096),
    hosts_external: whole(2, 4096),
    sources: whole(2, 64),
    window_s: WINDOW,
    max_trackers: TRACKERS,
  },
  syn_flood: FLOOD,
  udp_flood: FLOOD,
  icmp_flood: FLOOD,
  brute_force: {
    ...BASE,
    attempts: whole(2, 1_000_000),
    window_s: WINDOW,
    max_duration_s: real(0.001, 86400),
    max_bytes: whole(1, 1e12),
    max_packets: whole(4, 1e9),
    services: { kind: "services" },
    http_401: whole(2, 1_000_000),
    http_posts: whole(2, 1_000_000),
    http_login_paths: { kind: "strings", maxItems: 256 },
    max_trackers: TRACKERS,
  },
  dns_tunnel: {
    ...BASE,
    window_s: WINDOW,
    encoded_queries: whole(1, 1_000_000),
    min_label_len: whole(8, 63),
    min_entropy: real(0, 8),
    unique_names: whole(2, 10_000_000),
    rrtype_queries: whole(1, 10_000_000),
    volume_bytes: whole(256, 1e12),
    allow_domains: { kind: "domains", maxItems: 10_000 },
    max_trackers: TRACKERS,
  },
  malformed_http: {
    ...BASE,
    ports: { kind: "ports" },
    max_request_line: whole(64, 1 << 20),
    max_header_line: whole(64, 1 << 20),
    max_headers: whole(8, 100_000),
  },
  suspicious_port: BASE,
  external_inbound: { ...BASE, require_accepted: { kind: "bool" } },
  new_host: { ...BASE, max_hosts: whole(1, 100_000_000) },
  arp_spoof: SPOOF,
  nd_spoof: SPOOF,
  rogue_ra: { ...BASE, routers: { kind: "cidrs", maxItems: 1024 } },
  rogue_dhcp: { ...BASE, servers: { kind: "cidrs", maxItems: 1024 } },
  beacon: {
    ...BASE,
    min_connections: whole(4, 64),
    threshold: real(0, 1),
    min_interval_s: real(0.1, 86400),
    max_interval_s: real(1, 86400),
    allow_ports: { kind: "ports" },
    allow_domains: { kind: "domains", maxItems: 10_000 },
    max_trackers: TRACKERS,
  },
  exfiltration: {
    ...BASE,
    min_bytes: whole(1024, 1e13),
    factor: real(1, 1e6),
    rare_flows: whole(0, 1_000_000),
    max_trackers: TRACKERS,
  },
  anomaly: {
    ...BASE,
    min_flows: whole(1, 10_000),
    min_share: real(0, 1),
    window_s: WINDOW,
    corroborate_s: whole(0, 3600),
    max_sources: TRACKERS,
  },
  signature: { ...BASE, corroborate_s: whole(0, 3600) },
  intel: BASE,
};

const SERVICES = ["ssh", "telnet", "ftp", "rdp", "smb", "other"];

const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * A domain as a DNS query names it: lower-cased, without a trailing dot or
 * a leading "*." (the domain covers its subdomains anyway).
 */
export function parseDomain(v: unknown, path: string): string {
  const d = text(v, path, undefined, 256).trim().toLowerCase()
    .replace(/^\*?\./, "").replace(/\.$/, "");
  if (!DOMAIN.test(d)) {
    throw new ConfigError(
      path,
      `expected a domain name such as "example.com", got ${show(v)}`,
    );
  }
  return d;
}

function field(spec: FieldSpec, v: unknown, path: string): unknown {
  switch (spec.kind) {
    case "bool":
      return bool(v, path);
    case "severity":
      return parseSeverity(v, path);
    case "int":
      return int(v, path, undefined, spec);
    case "num":
      return num(v, path, undefined, spec);
    case "ports":
      return list(v, path, undefined, (x, p) => int(x, p, undefined, SERVER));
    case "strings":
      return list(
        v,
        path,
        undefined,
        (x, p) => text(x, p, undefined, 253).toLowerCase(),
        spec.maxItems,
      );
    case "domains":
      return list(v, path, undefined, parseDomain, spec.maxItems);
    case "cidrs":
      return list(v, path, undefined, cidr, spec.maxItems);
    case "services": {
      if (!isRecord(v)) {
        throw new ConfigError(path, `expected an object, got ${show(v)}`);
      }
      const m = new Map<number, string>();
      for (const [k, name] of Object.entries(v)) {
        const p = `${path}.${k}`;
        if (!/^\d{1,5}$/.test(k)) {
          throw new ConfigError(p, "expected a TCP port number as the key");
        }
        m.set(int(Number(k), p, undefined, SERVER), oneOf(name, p, SERVICES));
      }
      return m;
    }
    default: {
      const never: never = spec;
      return never;
    }
  }
}

function detectorPolicy(
  type: AlertType,
  input: unknown,
  base: Readonly<Record<string, unknown>> | null,
  path: string,
): Record<string, unknown> {
  const spec = SPECS[type];
  const names = Object.keys(spec);
  const o = record(input ?? {}, path, names);
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const fp = `${path}.${name}`;
    if (o[name] !== undefined) out[name] = field(spec[name]!, o[name], fp);
    else if (base !== null) out[name] = base[name];
    else throw new ConfigError(fp, "is missing");
  }
  return out;
}

const TOP_KEYS = [
  "version",
  "home_net",
  "aggregation",
  "rate_limit",
  "allowlist",
  "suppressions",
  "exposed",
  "suspicious_ports",
  "detectors",
];

const SUPPRESSION_KEYS = [
  "signature_id",
  "type",
  "ip",
  "dest_ip",
  "track",
  "expires",
  "note",
  "created",
  "created_by",
];
const TRACKS: readonly SuppressTrack[] = [
  "by_src",
  "by_dst",
  "by_either",
  "by_pair",
];

function suppressions(v: unknown, path: string): Suppression[] {
  return list(v, path, undefined, (x, p) => {
    const o = record(x, p, SUPPRESSION_KEYS);
    const s: Suppression = {
      cidr: cidr(o.ip, `${p}.ip`),
      track: "by_either",
      expiresUs: Infinity,
      note: text(o.note, `${p}.note`, "", 512),
    };
    if (o.signature_id !== undefined) {
      s.signature_id = int(o.signature_id, `${p}.signature_id`, undefined, {
        min: 1,
        max: 2 ** 31,
      });
    }
    if (o.type !== undefined) s.type = oneOf(o.type, `${p}.type`, ALERT_TYPES);
    if (s.signature_id === undefined && s.type === undefined) {
      throw new ConfigError(p, "needs a signature_id or a type");
    }
    s.track = oneOf(o.track, `${p}.track`, TRACKS, "by_either");
    if (s.track === "by_pair") s.dest = cidr(o.dest_ip, `${p}.dest_ip`);
    else if (o.dest_ip !== undefined) {
      throw new ConfigError(`${p}.dest_ip`, 'is only for track "by_pair"');
    }
    if (o.created !== undefined) {
      s.created = text(o.created, `${p}.created`, undefined, 64);
    }
    if (o.created_by !== undefined) {
      s.created_by = text(o.created_by, `${p}.created_by`, undefined, 200);
    }
    if (o.expires !== undefined) {
      const t = text(o.expires, `${p}.expires`, undefined, 64);
      const ms = Date.parse(t);
      if (!Number.isFinite(ms)) {
        throw new ConfigError(
          `${p}.expires`,
          `"${t}" is not a date (ISO 8601, e.g. 2027-01-31T00:00:00Z)`,
        );
      }
      s.expiresUs = ms * 1000;
    }
    return s;
  });
}

function portList<T>(
  v: unknown,
  path: string,
  extra: string[],
  make: (
    o: Record<string, unknown>,
    p: string,
    r: [number, number],
    pr: PortProto,
  ) => T,
): T[] {
  return list(v, path, undefined, (x, p) => {
    const o = record(x, p, ["port", "proto", ...extra]);
    if (o.port === undefined) throw new ConfigError(`${p}.port`, "is missing");
    const r = portRange(o.port, `${p}.port`);
    return make(o, p, r, oneOf(o.proto, `${p}.proto`, PROTOS, "any"));
  });
}

function parseWith(input: unknown, base: Policy | null): Policy {
  if (!isRecord(input)) {
    throw new ConfigError("policy", `expected an object, got ${show(input)}`);
  }
  const o = record(input, "", TOP_KEYS);
  if (o.version !== undefined && o.version !== 1) {
    throw new ConfigError("version", `expected 1, got ${show(o.version)}`);
  }
  const need = (k: string): void => {
    if (base === null && o[k] === undefined) {
      throw new ConfigError(k, "is missing");
    }
  };
  for (const k of TOP_KEYS.slice(1)) need(k);

  const home_net = o.home_net === undefined
    ? base!.home_net
    : list(o.home_net, "home_net", undefined, cidr);

  let aggregation = base?.aggregation;
  if (o.aggregation !== undefined) {
    const keys = ["window_s", "max_open_s", "update_interval_s", "max_open"];
    const a = record(o.aggregation, "aggregation", keys);
    const was = base?.aggregation;
    aggregation = {
      window_s: num(a.window_s, "aggregation.window_s", was?.window_s, {
        min: 1,
        max: 86400 * 7,
      }),
      max_open_s: num(a.max_open_s, "aggregation.max_open_s", was?.max_open_s, {
        min: 1,
        max: 86400 * 30,
      }),
      update_interval_s: num(
        a.update_interval_s,
        "aggregation.update_interval_s",
        was?.update_interval_s,
        { min: 0, max: 86400 },
      ),
      max_open: int(a.max_open, "aggregation.max_open", was?.max_open, {
        min: 1,
        max: 10_000_000,
      }),
    };
  }

  let rate_limit = base?.rate_limit;
  if (o.rate_limit !== undefined) {
    const r = record(o.rate_limit, "rate_limit", ["alerts_per_s", "burst"]);
    const was = base?.rate_limit;
    rate_limit = {
      alerts_per_s: num(
        r.alerts_per_s,
        "rate_limit.alerts_per_s",
        was?.alerts_per_s,
        { min: 0.001, max: 1e6 },
      ),
      burst: int(r.burst, "rate_limit.burst", was?.burst, { min: 1, max: 1e7 }),
    };
  }

  let allowlist = base?.allowlist;
  const blockableCidr = (v: unknown, field: string): Cidr => {
    const c = cidr(v, field);
    const widest = c.version === 4 ? 8 : 32;
    if (c.bits < widest) {
      throw new ConfigError(
        field,
        `"${c.text}" is too broad (at most /${widest} for ${
          c.version === 4 ? "IPv4" : "IPv6"
        }, as for blocks; add narrower prefixes)`,
      );
    }
    return c;
  };
  if (o.allowlist !== undefined) {
    const a = record(o.allowlist, "allowlist", ["sources", "destinations"]);
    const was = base?.allowlist;
    allowlist = {
      // The sources are never blocked either (the blocker's allowlist):
      // capped like blocks, so one policy edit cannot switch blocking off.
      sources: list(
        a.sources,
        "allowlist.sources",
        was?.sources ?? [],
        blockableCidr,
      ),
      destinations: list(
        a.destinations,
        "allowlist.destinations",
        was?.destinations ?? [],
        cidr,
      ),
    };
  }

  const supp = o.suppressions === undefined
    ? base!.suppressions
    : suppressions(o.suppressions, "suppressions");

  const exposed = o.exposed === undefined
    ? base!.exposed
    : portList(o.exposed, "exposed", ["hosts"], (e, p, [from, to], pr) => ({
      from,
      to,
      proto: pr,
      hosts: list(e.hosts, `${p}.hosts`, [], cidr),
    }));

  const suspicious = o.suspicious_ports === undefined
    ? base!.suspicious_ports
    : portList(
      o.suspicious_ports,
      "suspicious_ports",
      ["reason"],
      (e, p, [from, to], pr) => {
        const reason = text(e.reason, `${p}.reason`, undefined, 200);
        if (reason.trim() === "") {
          throw new ConfigError(`${p}.reason`, "must not be empty");
        }
        return { from, to, proto: pr, reason };
      },
    );

  let detectors = base?.detectors;
  if (o.detectors !== undefined) {
    const d = record(o.detectors, "detectors", ALERT_TYPES);
    const out: Record<string, Record<string, unknown>> = {};
    for (const t of ALERT_TYPES) {
      const b = base === null ? null : detectorBase(base.detectors, t);
      if (base === null && d[t] === undefined) {
        throw new ConfigError(`detectors.${t}`, "is missing");
      }
      out[t] = detectorPolicy(t, d[t], b, `detectors.${t}`);
    }
    // Every field of every detector was checked against SPECS above, whose
    // kinds match the DetectorPolicies interfaces field for field.
    detectors = out as unknown as DetectorPolicies;
  }
  return {
    home_net,
    aggregation: aggregation!,
    rate_limit: rate_limit!,
    allowlist: allowlist!,
    suppressions: supp,
    exposed,
    suspicious_ports: suspicious,
    detectors: detectors!,
  };
}

function detectorBase(
  d: Readonly<DetectorPolicies>,
  t: AlertType,
): Readonly<Record<string, unknown>> {
  return { ...d[t] };
}

let defaults: Policy | null = null;

/**
 * The shipped default policy (`data/policy.json`), parsed once. Throws a
 * ConfigError only if the shipped file itself is broken (a bug).
 */
export function defaultPolicy(): Policy {
  if (defaults === null) defaults = parseWith(DEFAULT_POLICY_JSON, null);
  return defaults;
}

/**
 * Validates a policy document and returns the policy. Fields the input
 * leaves out keep their default values (arrays such as `home_net` or
 * `suspicious_ports` are replaced as a whole when given). Unknown fields are
 * errors, so a typo never silently disables a setting.
 *
 * @throws {ConfigError} naming the offending field, e.g.
 *   `Invalid config "detectors.port_scan.ports": expected an integer from 2 to 4096, got 1`
 * @example
 * ```ts
 * const p = parsePolicy({ home_net: ["10.99.0.0/24"], detectors: { new_host: { enabled: false } } });
 * p.detectors.port_scan.ports; // 15 (the default)
 * ```
 */
export function parsePolicy(
  input: unknown,
  base: Policy = defaultPolicy(),
): Policy {
  return parseWith(input, base);
}

/** True when the address lies in the policy's home network. */
export function inHomeNet(
  policy: Policy,
  version: number,
  words: ArrayLike<number>,
): boolean {
  return anyCidrContains(policy.home_net, version, words);
}

/** Called with the new policy after a successful {@link PolicyHolder.replace}. */
export type PolicyListener = (p: Policy) => void;

/**
 * Holds the policy in force. {@link replace} validates first: an invalid
 * document throws a ConfigError and the old policy stays in force.
 */
export class PolicyHolder {
  #current: Policy;
  #listeners: PolicyListener[] = [];

  /** Starts with `initial` (default: the shipped policy). */
  constructor(initial: Policy = defaultPolicy()) {
    this.#current = initial;
  }

  /** The policy in force. */
  get current(): Policy {
    return this.#current;
  }

  /**
   * Validates `input` (overlaid on the shipped defaults) and puts it in
   * force; listeners are told. On a ConfigError nothing changes.
   */
  replace(input: unknown): Policy {
    const p = parsePolicy(input);
    this.#current = p;
    for (const l of this.#listeners) l(p);
    return p;
  }

  /** Registers a listener for policy changes; returns a function removing it. */
  onChange(l: PolicyListener): () => void {
    this.#listeners.push(l);
    return () => {
      this.#listeners = this.#listeners.filter((x) => x !== l);
    };
  }
}

/**
 * The policy document in force as JSON: the shipped defaults with `input`
 * laid over them the way {@link parsePolicy} reads it (objects merge, arrays
 * and values replace). What the dashboard's editor shows and saves.
 */
export function policyDocument(input: unknown): Record<string, unknown> {
  return overlay(structuredClone(DEFAULT_POLICY_JSON), input) as Record<
    string,
    unknown
  >;
}

function overlay(base: unknown, top: unknown): unknown {
  if (top === undefined) return base;
  if (!isRecord(base) || !isRecord(top)) return structuredClone(top);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(top)) out[k] = overlay(base[k], v);
  return out;
}
