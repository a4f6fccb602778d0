/**
 * The messages of `/ws/live`, server to browser, one JSON object per
 * WebSocket message, discriminated by `kind`: a stats tick once a second,
 * an alert (new or updated), a block change, a host first seen. The
 * browser bundle imports this module too, so it holds types and pure
 * functions only.
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";

/** Bytes and packets of one protocol in the recent window. */
export interface ProtoShare {
  name: string;
  bytes: number;
  packets: number;
}

/** A busy server port in the recent window. */
export interface PortShare {
  port: number;
  proto: "tcp" | "udp";
  bytes: number;
  packets: number;
}

/** A top talker in the recent window. */
export interface TalkerShare {
  ip: string;
  bytes: number;
  packets: number;
  host?: string;
  flag?: string;
  country?: string;
  /** Range label for non-public addresses ("LAN", …). */
  scope?: string;
}

/** Bytes and alerts per country in the recent window. */
export interface CountryShare {
  country: string;
  name: string;
  flag: string;
  bytes: number;
  alerts: number;
}

/** A name seen on the wire (DNS question, HTTP Host, TLS SNI). */
export interface NameShare {
  kind: "dns" | "http" | "tls";
  /** As decoded (hostile: render as text only). */
  name: string;
  count: number;
}

/** One second of traffic figures plus the recent tops. */
export interface StatsSnapshot {
  /** Wall time of the sample, ms since the epoch. */
  t: number;
  /** Packets per second. */
  pps: number;
  /** Bytes per second into and out of the home network, and in total. */
  bps_in: number;
  bps_out: number;
  bps: number;
  /** Totals since start. */
  packets: number;
  bytes: number;
  /** Capture drops since start, and per second. */
  drops: number;
  drops_ps: number;
  decode_errors: number;
  /** Flows in the table. */
  flows: number;
  /** Hosts seen recently. */
  hosts: number;
  /** Recent window (about 5 minutes, decaying). */
  protocols: ProtoShare[];
  apps: ProtoShare[];
  ports: PortShare[];
  talkers: TalkerShare[];
  countries: CountryShare[];
  names: NameShare[];
}

/** A block as pushed to browsers. */
export interface LiveBlock {
  target: string;
  reason: string;
  source: string;
  since: string;
  until: string;
}

/** A host seen for the first time. */
export interface LiveHost {
  ip: string;
  first_seen: string;
}

/** Every message of `/ws/live`. */
export type LiveMessage =
  | { kind: "hello"; user: string; t: number }
  | { kind: "stats"; stats: StatsSnapshot }
  | { kind: "alert"; alert: Alert; isNew: boolean }
  | { kind: "blocks"; blocks: LiveBlock[] }
  | { kind: "host"; host: LiveHost };

/** Every `kind` of {@link LiveMessage}. */
export const LIVE_KINDS: readonly LiveMessage["kind"][] = [
  "hello",
  "stats",
  "alert",
  "blocks",
  "host",
];

/**
 * Parses one message as received by a browser; null for anything that is
 * not an object with a known `kind` and its payload field.
 */
export function parseLiveMessage(text: string): LiveMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const obj = (x: unknown) =>
    typeof x === "object" && x !== null && !Array.isArray(x);
  switch (o.kind) {
    case "hello":
      return typeof o.user === "string" ? v as LiveMessage : null;
    case "stats":
      return obj(o.stats) ? v as LiveMessage : null;
    case "alert":
      return obj(o.alert) ? v as LiveMessage : null;
    case "blocks":
      return Array.isArray(o.blocks) ? v as LiveMessage : null;
    case "host":
      return obj(o.host) ? v as LiveMessage : null;
    default:
      return null;
  }
}
