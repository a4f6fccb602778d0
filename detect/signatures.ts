/**
 * The signature table: one stable `signature_id` per detector and variant,
 * with the signature text and Suricata-style category an alert carries.
 * Ids never change meaning; a new variant gets a new id. NetSentinel's own
 * range is 1000000–1999999 (Suricata leaves 1000000+ to local rules).
 *
 * @module
 */
import type { AlertType } from "../alerts/alert.ts";

/** One row of the signature table. */
export interface SignatureInfo {
  /** The stable `signature_id`. */
  readonly id: number;
  /** The alert type it belongs to. */
  readonly type: AlertType;
  /** Variant name within the type ("syn", "ssh", …; "" for the only one). */
  readonly variant: string;
  /** Signature text (`alert.signature`). */
  readonly signature: string;
  /** Suricata-style classification (`alert.category`). */
  readonly category: string;
}

const RECON = "Detection of a Network Scan";
const DOS = "Attempted Denial of Service";
const LOGIN = "Attempted User Privilege Gain";
const POLICY = "Potential Corporate Privacy Violation";
const BAD = "Potentially Bad Traffic";
const DECODE = "Generic Protocol Command Decode";
const INFO = "Not Suspicious Traffic";
const TROJAN = "A Network Trojan was detected";
const MISC = "Misc Attack";
const SPOOF = "Attempted Information Leak";

function row(
  id: number,
  type: AlertType,
  variant: string,
  signature: string,
  category: string,
): SignatureInfo {
  return { id, type, variant, signature, category };
}

const ROWS: readonly SignatureInfo[] = [
  row(1000001, "port_scan", "syn", "TCP SYN (half-open) port scan", RECON),
  row(1000002, "port_scan", "connect", "TCP connect port scan", RECON),
  row(1000003, "port_scan", "fin", "TCP FIN port scan", RECON),
  row(1000004, "port_scan", "xmas", "TCP XMAS port scan", RECON),
  row(1000005, "port_scan", "null", "TCP NULL port scan", RECON),
  row(1000006, "port_scan", "ack", "TCP ACK port scan", RECON),
  row(1000007, "port_scan", "udp", "UDP port scan", RECON),
  row(1000008, "port_scan", "maimon", "TCP Maimon (FIN/ACK) port scan", RECON),
  row(1000009, "port_scan", "other", "TCP port scan with unusual flags", RECON),
  row(1000101, "host_sweep", "icmp", "ICMP host sweep", RECON),
  row(1000102, "host_sweep", "tcp", "TCP host sweep on one port", RECON),
  row(1000103, "host_sweep", "udp", "UDP host sweep on one port", RECON),
  row(1000201, "syn_flood", "", "TCP SYN flood", DOS),
  row(1000202, "udp_flood", "", "UDP flood", DOS),
  row(1000203, "icmp_flood", "", "ICMP flood", DOS),
  row(1000301, "brute_force", "ssh", "SSH login brute force", LOGIN),
  row(1000302, "brute_force", "telnet", "Telnet login brute force", LOGIN),
  row(1000303, "brute_force", "ftp", "FTP login brute force", LOGIN),
  row(1000304, "brute_force", "rdp", "RDP login brute force", LOGIN),
  row(1000305, "brute_force", "smb", "SMB login brute force", LOGIN),
  row(
    1000306,
    "brute_force",
    "http_auth",
    "HTTP authentication brute force (401 answers)",
    LOGIN,
  ),
  row(
    1000307,
    "brute_force",
    "http_post",
    "HTTP login form brute force (repeated POSTs)",
    LOGIN,
  ),
  row(1000308, "brute_force", "other", "Login service brute force", LOGIN),
  row(
    1000401,
    "dns_tunnel",
    "encoded",
    "DNS tunnel: long high-entropy query labels",
    POLICY,
  ),
  row(
    1000402,
    "dns_tunnel",
    "unique",
    "DNS tunnel: many unique subdomains under one domain",
    POLICY,
  ),
  row(
    1000403,
    "dns_tunnel",
    "rrtype",
    "DNS tunnel: burst of TXT/NULL/CNAME queries",
    POLICY,
  ),
  row(
    1000404,
    "dns_tunnel",
    "volume",
    "DNS tunnel: outsized query volume to one domain",
    POLICY,
  ),
  row(
    1000501,
    "malformed_http",
    "bad_method",
    "HTTP request with an invalid method",
    DECODE,
  ),
  row(
    1000502,
    "malformed_http",
    "bad_version",
    "HTTP request with a missing or invalid version",
    DECODE,
  ),
  row(
    1000503,
    "malformed_http",
    "bad_header",
    "HTTP header line without a colon",
    DECODE,
  ),
  row(
    1000504,
    "malformed_http",
    "too_long",
    "HTTP request line or header absurdly long",
    DECODE,
  ),
  row(
    1000505,
    "malformed_http",
    "non_printable",
    "HTTP request with non-printable bytes",
    DECODE,
  ),
  row(
    1000506,
    "malformed_http",
    "smuggling",
    "HTTP request smuggling signs (CL/TE conflict)",
    BAD,
  ),
  row(1000601, "suspicious_port", "", "Traffic on a suspicious port", BAD),
  row(
    1000701,
    "external_inbound",
    "tcp",
    "Inbound TCP connection from outside to a port not exposed",
    BAD,
  ),
  row(
    1000702,
    "external_inbound",
    "udp",
    "Inbound UDP exchange from outside to a port not exposed",
    BAD,
  ),
  row(1000801, "new_host", "", "New host on the local network", INFO),
  row(
    1000901,
    "anomaly",
    "",
    "Anomalous traffic (Isolation Forest)",
    "Unusual Traffic",
  ),
  row(
    1001001,
    "port_scan",
    "distributed",
    "Distributed port scan: many sources probing one host",
    RECON,
  ),
  row(
    1001002,
    "host_sweep",
    "distributed",
    "Distributed host sweep: many sources probing one port across hosts",
    RECON,
  ),
  row(
    1001101,
    "arp_spoof",
    "changed",
    "ARP spoofing: an address taken over while its owner is still active",
    SPOOF,
  ),
  row(
    1001102,
    "arp_spoof",
    "gateway",
    "ARP spoofing: the gateway's (or a protected) address claimed by another MAC",
    SPOOF,
  ),
  row(
    1001103,
    "arp_spoof",
    "many",
    "ARP: one MAC claiming many addresses",
    SPOOF,
  ),
  row(1001104, "arp_spoof", "flood", "ARP flood", DOS),
  row(
    1001201,
    "nd_spoof",
    "changed",
    "IPv6 neighbour spoofing: an address taken over while its owner is still active",
    SPOOF,
  ),
  row(
    1001202,
    "nd_spoof",
    "gateway",
    "IPv6 neighbour spoofing: a router's (or a protected) address claimed by another MAC",
    SPOOF,
  ),
  row(
    1001203,
    "nd_spoof",
    "many",
    "IPv6 neighbour discovery: one MAC claiming many addresses",
    SPOOF,
  ),
  row(1001204, "nd_spoof", "flood", "IPv6 neighbour discovery flood", DOS),
  row(
    1001301,
    "rogue_ra",
    "",
    "IPv6 router advertisement from an unknown router",
    SPOOF,
  ),
  row(
    1001401,
    "rogue_dhcp",
    "",
    "DHCP offer or ack from an unknown server",
    SPOOF,
  ),
  row(
    1001501,
    "beacon",
    "",
    "Beaconing: periodic connections to one outside address",
    TROJAN,
  ),
  row(
    1001601,
    "exfiltration",
    "",
    "Exfiltration: an upload far above the host's usual to a new destination",
    POLICY,
  ),
  row(
    1002001,
    "intel",
    "ip_out",
    "Connection to an address on a threat feed",
    TROJAN,
  ),
  row(
    1002002,
    "intel",
    "ip_in",
    "Connection from an address on a threat feed",
    MISC,
  ),
  row(
    1002003,
    "intel",
    "dns_query",
    "DNS lookup of a domain on a threat feed",
    TROJAN,
  ),
  row(
    1002004,
    "intel",
    "tls_sni",
    "TLS connection to a server name on a threat feed",
    TROJAN,
  ),
  row(
    1002005,
    "intel",
    "http_host",
    "HTTP request to a host on a threat feed",
    TROJAN,
  ),
  row(
    1002006,
    "intel",
    "http_url",
    "HTTP request for a URL on a threat feed",
    TROJAN,
  ),
  row(
    1002007,
    "intel",
    "ja3",
    "TLS client fingerprint (JA3) on a threat feed",
    TROJAN,
  ),
  row(
    1002008,
    "intel",
    "ja4",
    "TLS client fingerprint (JA4) on a threat feed",
    TROJAN,
  ),
  row(
    1002009,
    "intel",
    "cert_sha1",
    "TLS certificate (SHA-1) on a threat feed",
    TROJAN,
  ),
  row(
    1002010,
    "intel",
    "dns_answer",
    "DNS answer with an address on a threat feed",
    TROJAN,
  ),
];

const BY_KEY = new Map(ROWS.map((r) => [`${r.type}/${r.variant}`, r]));
const BY_ID = new Map(ROWS.map((r) => [r.id, r]));

/** Every signature, in id order. */
export const SIGNATURES: readonly SignatureInfo[] = ROWS;

/**
 * The signature of a type and variant. Falls back to the type's first row
 * when the variant is unknown (every type has at least one row).
 */
export function signatureOf(type: AlertType, variant = ""): SignatureInfo {
  const r = BY_KEY.get(`${type}/${variant}`);
  if (r) return r;
  for (const row of ROWS) if (row.type === type) return row;
  throw new RangeError(`No signature for alert type "${type}"`);
}

/** The signature with this id, or undefined. */
export function signatureById(id: number): SignatureInfo | undefined {
  return BY_ID.get(id);
}
