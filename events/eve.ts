/**
 * EVE JSON building blocks shared by protocol events and alerts: Suricata's
 * field names, timestamps, protocol and DNS type names. Pure functions.
 *
 * @module
 */
import { formatAddr } from "../decode/mod.ts";
import type { Flow } from "../flows/mod.ts";

/** Formats packet time (µs since the epoch) as an EVE timestamp (ISO 8601, UTC). */
export function eveTimestamp(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

const PROTO_NAMES: Record<number, string> = {
  1: "ICMP",
  2: "IGMP",
  6: "TCP",
  17: "UDP",
  47: "GRE",
  50: "ESP",
  51: "AH",
  58: "IPv6-ICMP",
  132: "SCTP",
};

/** The EVE `proto` value for an IP protocol number ("TCP", "UDP", "IPv6-ICMP", or the number). */
export function protoName(proto: number): string {
  return PROTO_NAMES[proto] ?? String(proto);
}

const RRTYPES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  10: "NULL",
  12: "PTR",
  13: "HINFO",
  15: "MX",
  16: "TXT",
  17: "RP",
  18: "AFSDB",
  24: "SIG",
  25: "KEY",
  28: "AAAA",
  29: "LOC",
  33: "SRV",
  35: "NAPTR",
  39: "DNAME",
  41: "OPT",
  43: "DS",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  50: "NSEC3",
  52: "TLSA",
  64: "SVCB",
  65: "HTTPS",
  99: "SPF",
  249: "TKEY",
  250: "TSIG",
  251: "IXFR",
  252: "AXFR",
  255: "ANY",
  256: "URI",
  257: "CAA",
};

/** DNS record type name ("A", "TXT", …; "TYPE1234" for unknown ones, as RFC 3597 writes them). */
export function rrtypeName(t: number): string {
  return RRTYPES[t] ?? `TYPE${t}`;
}

const RCODES = [
  "NOERROR",
  "FORMERR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "YXDOMAIN",
  "YXRRSET",
  "NXRRSET",
  "NOTAUTH",
  "NOTZONE",
];

/** DNS response code name ("NOERROR", "NXDOMAIN", …). */
export function rcodeName(r: number): string {
  return RCODES[r] ?? `RCODE${r}`;
}

/**
 * TLS version name as Suricata writes `tls.version` (its `SSLVersionToString`,
 * rust/src/tls_version.rs): 0x0303 → "TLS 1.2", 0x0301 → "TLSv1", 0x7f17 →
 * "TLS 1.3 draft-23", 0 → "UNDETERMINED", anything else in decimal.
 */
export function tlsVersionName(v: number): string {
  switch (v) {
    case 0:
      return "UNDETERMINED";
    case 0x0002:
      return "SSLv2";
    case 0x0300:
      return "SSLv3";
    case 0x0301:
      return "TLSv1";
    case 0x0302:
      return "TLS 1.1";
    case 0x0303:
      return "TLS 1.2";
    case 0x0304:
      return "TLS 1.3";
  }
  if (v >= 0x7f00 && v <= 0x7f1c) {
    const draft = v & 0xff;
    return draft < 16 ? "TLS 1.3 draft-<16" : `TLS 1.3 draft-${draft}`;
  }
  return String(v);
}

/** Two-hex-digit TCP flags as Suricata writes them ("1b"). */
export function tcpFlagsHex(flags: number): string {
  return flags.toString(16).padStart(2, "0");
}

/** The common 5-tuple fields of an EVE record in the flow's direction. */
export interface EveTuple {
  src_ip: string;
  src_port?: number;
  dest_ip: string;
  dest_port?: number;
  proto: string;
}

/** The 5-tuple of a flow, client as source (ports omitted for ICMP and others). */
export function flowTuple(f: Flow): EveTuple {
  const t: EveTuple = {
    src_ip: formatAddr(f.version, f.srcAddr),
    dest_ip: formatAddr(f.version, f.dstAddr),
    proto: protoName(f.proto),
  };
  if (f.proto === 6 || f.proto === 17) {
    t.src_port = f.srcPort;
    t.dest_port = f.dstPort;
  }
  return t;
}
