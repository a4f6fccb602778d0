/**
 * The one alert schema: EVE JSON compatible (Suricata's field names where a
 * field exists there), with NetSentinel's own facts under `netsentinel`.
 * Detectors emit {@link Detection}s; the aggregator turns them into
 * {@link Alert}s.
 *
 * @module
 */

/** Every alert type, the value of `netsentinel.type`. */
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
  "anomaly",
] as const;

/** One alert type. */
export type AlertType = typeof ALERT_TYPES[number];

/** Suricata's severities: 1 high, 2 medium, 3 low; 4 is informational. */
export type Severity = 1 | 2 | 3 | 4;

/** What happened to the alert's source: Suricata's `alert.action`. */
export type AlertAction = "allowed" | "blocked";

/** Geographic facts of an address (fields present where the database knows them). */
export interface AlertGeo {
  country?: string;
  country_name?: string;
  flag?: string;
  city?: string;
  asn?: number;
  org?: string;
  /** For non-public ranges: "LAN", "loopback", "link-local", … */
  scope?: string;
}

/** An alert as stored, logged, served and shown. */
export interface Alert {
  /** Time of the first detection (packet time), ISO 8601. */
  timestamp: string;
  event_type: "alert";
  flow_id?: number;
  src_ip: string;
  src_port?: number;
  dest_ip?: string;
  dest_port?: number;
  proto: string;
  alert: {
    action: AlertAction;
    signature_id: number;
    rev: number;
    signature: string;
    category: string;
    severity: Severity;
  };
  netsentinel: {
    /** Time-ordered id (26-char Crockford base32, ULID layout). */
    id: string;
    type: AlertType;
    /** Detections aggregated into this alert. */
    count: number;
    first_seen: string;
    last_seen: string;
    /** Detector facts, small and JSON-safe. */
    evidence: Record<string, unknown>;
    /** One sentence a user can act on. */
    explanation: string;
    src_geo?: AlertGeo;
    dest_geo?: AlertGeo;
    src_host?: string;
    dest_host?: string;
  };
}

/** What a detector emits: one observation, before aggregation. */
export interface Detection {
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
  srcPort?: number;
  destPort?: number;
  /** EVE proto name ("TCP", "UDP", "ICMP", …). */
  proto: string;
  flowId?: number;
  /** Signature text, for example "TCP SYN port scan". */
  signature: string;
  /** Stable per detector and variant. */
  signatureId: number;
  category: string;
  severity: Severity;
  evidence: Record<string, unknown>;
  explanation: string;
  /**
   * Aggregation key within the type: detections with the same type and key
   * are one alert within the window. Default: source and `dest`
   * (`"10.0.0.66>10.0.0.10"`). Floods use the target alone, so one flood
   * with changing (spoofed) top sources stays one alert.
   */
  key?: string;
  /**
   * Events this detection adds to the alert's `count` (default 1): probes,
   * packets, login attempts since the detector's previous detection.
   */
  count?: number;
}
