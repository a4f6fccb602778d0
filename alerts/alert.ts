/**
 * The one alert schema: EVE JSON compatible (Suricata's field names where a
 * field exists there), with NetSentinel's own facts under `netsentinel`.
 * Detectors emit {@link Detection}s; the aggregator turns them into
 * {@link Alert}s.
 *
 * @module
 */
import type { Tunnel } from "../flows/mod.ts";

/** Every alert type, the value of `netsentinel.type`. */
/** Most entries an evidence list kept whole ({@link Detection.union}) holds. */
export const MAX_UNION = 64;

export const ALERT_TYPES = [
  "port_scan",
  "host_sweep",
  "syn_flood",
  "udp_flood",
  "icmp_flood",
  "brute_force",
  "dns_tunnel",
  "malformed_http",
  "suspicious_port",
  "external_inbound",
  "new_host",
  "arp_spoof",
  "nd_spoof",
  "rogue_ra",
  "rogue_dhcp",
  "beacon",
  "exfiltration",
  "anomaly",
  "signature",
  "intel",
] as const;

/** One alert type. */
export type AlertType = typeof ALERT_TYPES[number];

/** Suricata's severities: 1 high, 2 medium, 3 low; 4 is informational. */
export type Severity = 1 | 2 | 3 | 4;

/** What happened to the alert's source: Suricata's `alert.action`. */
export type AlertAction = "allowed" | "blocked";

/** The home device behind an alert's address (devices/: by its MAC). */
export interface AlertDevice {
  /** Its MAC address, `b8:27:eb:12:34:56`. */
  mac: string;
  /** The owner's name for it, else the name it announced (DHCP, mDNS, …). */
  name?: string;
  /** The MAC's vendor (IEEE registry). */
  vendor?: string;
  /** The kind the evidence supports ("printer", …), when it does. */
  kind?: string;
}

/** Geographic facts of an address (fields present where the database knows them). */
export interface AlertGeo {
  /** ISO 3166 country code. */
  country?: string;
  /** Country name in English. */
  country_name?: string;
  /** Flag emoji of the country. */
  flag?: string;
  /** City name, where the database has it. */
  city?: string;
  /** Autonomous system number. */
  asn?: number;
  /** Organisation of the autonomous system. */
  org?: string;
  /** For non-public ranges: "LAN", "loopback", "link-local", … */
  scope?: string;
}

/** An alert as stored, logged, served and shown. */
export interface Alert {
  /** Time of the first detection (packet time), ISO 8601. */
  timestamp: string;
  /** Always "alert". */
  event_type: "alert";
  /** Id of the flow that raised it (flow-level alerts). */
  flow_id?: number;
  /** The source (attacker) address. */
  src_ip: string;
  /** Source port, when one flow is concerned. */
  src_port?: number;
  /** The target address (absent for sweeps and new hosts). */
  dest_ip?: string;
  /** Target port. */
  dest_port?: number;
  /** EVE proto name ("TCP", "UDP", "ICMP", …). */
  proto: string;
  /**
   * The tunnel the flow that opened the alert came through (Suricata's
   * EVE `tunnel`: outer `src_ip`, `dest_ip`, ports, `proto`, `depth`, and
   * NetSentinel's `type`); absent for traffic that was not tunnelled.
   */
  tunnel?: Tunnel;
  /** Suricata's alert object. */
  alert: {
    /** "allowed"; the blocker sets "blocked" when it acts. */
    action: AlertAction;
    /** Stable per detector and variant (see detect/signatures.ts). */
    signature_id: number;
    /** Revision of the signature. */
    rev: number;
    /** Signature text. */
    signature: string;
    /** Suricata-style classification. */
    category: string;
    /** Severity from the policy (a `signature` alert: the rule's priority). */
    severity: Severity;
    /** Generator id (`signature` alerts: the rule's gid). */
    gid?: number;
    /** The rule's metadata, `key → values` (`signature` alerts). */
    metadata?: Record<string, string[]>;
  };
  /** NetSentinel's own facts. */
  netsentinel: {
    /** Time-ordered id (26-char Crockford base32, ULID layout). */
    id: string;
    /** The alert type (`netsentinel.type`). */
    type: AlertType;
    /** Detections aggregated into this alert. */
    count: number;
    /** Packet time the activity began, ISO 8601. */
    first_seen: string;
    /** Packet time of the latest detection, ISO 8601. */
    last_seen: string;
    /** Detector facts, small and JSON-safe. */
    evidence: Record<string, unknown>;
    /** One sentence a user can act on. */
    explanation: string;
    /**
     * The anomaly model's findings about this alert's addresses, attached
     * here instead of raising `anomaly` alerts of their own (one incident,
     * one alert; see alerts/aggregator.ts). Absent when the model flagged
     * nothing about them.
     */
    anomaly?: AlertCorroboration;
    /**
     * Signature rules that matched between the alert's source and target
     * (one incident, one alert; see alerts/aggregator.ts, step 4b), one
     * entry per rule. Absent when none did.
     */
    signatures?: AlertSignatureMatch[];
    /** Geography of the source (enrichment). */
    src_geo?: AlertGeo;
    /** Geography of the target (enrichment). */
    dest_geo?: AlertGeo;
    /** Reverse DNS name of the source (enrichment). */
    src_host?: string;
    /** Reverse DNS name of the target (enrichment). */
    dest_host?: string;
    /** The home device behind the source address (enrichment). */
    src_device?: AlertDevice;
    /** The home device behind the target address (enrichment). */
    dest_device?: AlertDevice;
  };
}

/** A signature rule attached to a rule alert (`netsentinel.signatures`). */
export interface AlertSignatureMatch {
  /** The rule's sid. */
  signature_id: number;
  /** The rule's gid (absent: 1). */
  gid?: number;
  /** The rule's rev. */
  rev: number;
  /** The rule's msg. */
  signature: string;
  /** The classtype's description. */
  category: string;
  /** The rule's classtype (short name), when it has one. */
  classtype?: string;
  /** The rule's metadata (`key → [values]`), when it has any. */
  metadata?: Record<string, string[]>;
  /** The rule's priority. */
  severity: Severity;
  /** Matches attached. */
  count: number;
  /** Packet time of the first attached match, ISO 8601. */
  first_seen: string;
  /** Packet time of the latest attached match, ISO 8601. */
  last_seen: string;
}

/** Anomaly-model evidence attached to a rule alert (`netsentinel.anomaly`). */
export interface AlertCorroboration {
  /** Flows the model flagged about the alert's addresses. */
  flows: number;
  /** The highest score among them. */
  score: number;
  /** The model's threshold. */
  threshold: number;
  /** The model's explanation of the highest-scoring flow. */
  explanation: string;
  /** Flow id of the highest-scoring flow. */
  flow_id?: number;
  /** Packet time of the first attached finding, ISO 8601. */
  first_seen: string;
  /** Packet time of the latest attached finding, ISO 8601. */
  last_seen: string;
}

/** What a detector emits: one observation, before aggregation. */
export interface Detection {
  /** The alert type. */
  type: AlertType;
  /** Packet time of the observation, µs since the epoch. */
  tsUs: number;
  /**
   * Packet time the observed activity began (the first probe of a scan),
   * µs; a new alert's `first_seen` (default `tsUs`).
   */
  firstUs?: number;
  /** The source (attacker) address as text. */
  src: string;
  /** The target address as text (absent for source-only detections). */
  dest?: string;
  /** Source port. */
  srcPort?: number;
  /** Target port. */
  destPort?: number;
  /** EVE proto name ("TCP", "UDP", "ICMP", …). */
  proto: string;
  /** Flow id of the flow that showed it. */
  flowId?: number;
  /**
   * The tunnel of the packet or flow that showed it (set by the detector
   * set from what the detector was looking at when it emitted).
   */
  tunnel?: Tunnel;
  /** Signature text, for example "TCP SYN port scan". */
  signature: string;
  /** Stable per detector and variant. */
  signatureId: number;
  /** Suricata-style classification. */
  category: string;
  /** Severity from the policy. */
  severity: Severity;
  /** Revision of the signature (default 1). */
  rev?: number;
  /** Generator id (rules' gid). */
  gid?: number;
  /** The rule's metadata (rules). */
  metadata?: Record<string, string[]>;
  /** Detector facts, small and JSON-safe. */
  evidence: Record<string, unknown>;
  /** One sentence a user can act on. */
  explanation: string;
  /**
   * Aggregation key within the type: detections with the same type and key
   * are one alert within the window. Default: source and `dest`
   * (`"10.0.0.66>10.0.0.10"`). Floods use the target alone, so one flood
   * with changing (spoofed) top sources stays one alert.
   */
  key?: string;
  /**
   * Evidence keys whose values are lists to keep whole across the alert:
   * when the detection folds into an open alert, each such list becomes
   * the union of the alert's and the detection's (first seen first, at
   * most {@link MAX_UNION} entries) instead of the newest one. E.g. the
   * ports one outside host reached on one inside host.
   */
  union?: readonly string[];
  /**
   * Only corroborating evidence (`anomaly` detections short of the
   * detector's own alert criteria): attached to a rule alert that names its
   * source, else dropped, never an alert of its own.
   */
  evidenceOnly?: boolean;
  /**
   * Events this detection adds to the alert's `count` (default 1): probes,
   * packets, login attempts since the detector's previous detection.
   */
  count?: number;
}
