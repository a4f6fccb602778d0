/**
 * A device as stored and shown: the record the appliance keeps per MAC
 * (merged from the inventory's deltas), the owner's edits, and the view
 * the API and pages read (display name, kind and OS with their evidence).
 * Pure functions; KV access lives in store/.
 *
 * @module
 */
import { isRecord } from "../common/validate.ts";
import {
  classify,
  type Conclusion,
  type DeviceKind,
  type Hint,
  type OsFamily,
} from "./hints.ts";
import type { DeviceDelta } from "./inventory.ts";
import { cleanText } from "./text.ts";

/** A stored device. Times are ISO 8601. */
export interface DeviceRecord {
  mac: string;
  mac_kind: "global" | "local" | "multicast";
  vendor: string | null;
  first_seen: string;
  last_seen: string;
  /** How it was first seen ("dhcp", "mdns", "ipv4", …). */
  first_seen_by: string;
  addresses: { ip: string; first_seen: string; last_seen: string }[];
  names: {
    source: string;
    name: string;
    first_seen: string;
    last_seen: string;
  }[];
  hints: Hint[];
  bytes_in: number;
  bytes_out: number;
  packets_in: number;
  packets_out: number;
  /** Alerts naming one of its addresses. */
  alerts: number;
  /** Top remote peers by bytes (at most 20). */
  peers: {
    ip: string;
    bytes_in: number;
    bytes_out: number;
    flows: number;
    service: string;
  }[];
  /** Services used (protocol/server port), at most 20 by flows. */
  services: { service: string; flows: number; bytes: number }[];
}

/** The owner's edits of a device. */
export interface DeviceEdit {
  name?: string;
  known?: boolean;
  trusted?: boolean;
  note?: string;
  /** When last edited (ISO 8601). */
  updated?: string;
}

/** Validates a stored device record; null when malformed. */
export function parseDeviceRecord(v: unknown): DeviceRecord | null {
  if (
    !isRecord(v) || typeof v.mac !== "string" ||
    typeof v.first_seen !== "string" || typeof v.last_seen !== "string" ||
    !Array.isArray(v.addresses) || !Array.isArray(v.names) ||
    !Array.isArray(v.hints) || typeof v.bytes_in !== "number"
  ) return null;
  return v as unknown as DeviceRecord;
}

const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();

function mergeSeen<T extends { first_seen: string; last_seen: string }>(
  prev: T[],
  next: T[],
  key: (t: T) => string,
  max: number,
): T[] {
  const m = new Map<string, T>();
  for (const t of prev) m.set(key(t), { ...t });
  for (const t of next) {
    const k = key(t), o = m.get(k);
    if (o === undefined) m.set(k, { ...t });
    else {
      if (t.first_seen < o.first_seen) o.first_seen = t.first_seen;
      if (t.last_seen > o.last_seen) o.last_seen = t.last_seen;
    }
  }
  return [...m.values()].sort((a, b) => b.last_seen.localeCompare(a.last_seen))
    .slice(0, max);
}

/**
 * Merges a delta from the inventory into the stored record (null: none
 * yet). Counters add up, lists merge by key with first and last seen.
 */
export function mergeDevice(
  prev: DeviceRecord | null,
  delta: DeviceDelta,
  alerts = 0,
): DeviceRecord {
  const d = delta.device;
  const addresses = [...d.addrs].map(([ip, s]) => ({
    ip,
    first_seen: iso(s.firstUs),
    last_seen: iso(s.lastUs),
  }));
  const names = [...d.names.values()].map((n) => ({
    source: n.source,
    name: n.name,
    first_seen: iso(n.firstUs),
    last_seen: iso(n.lastUs),
  }));
  const hints = [...d.hints.values()];
  const first = iso(d.firstUs), last = iso(d.lastUs);
  const peers = new Map<string, DeviceRecord["peers"][number]>();
  for (const p of prev?.peers ?? []) peers.set(p.ip, { ...p });
  for (const [ip, t] of delta.peers ?? []) {
    const o = peers.get(ip) ??
      { ip, bytes_in: 0, bytes_out: 0, flows: 0, service: t.service };
    o.bytes_in += t.bytesIn;
    o.bytes_out += t.bytesOut;
    o.flows += t.flows;
    o.service = t.service;
    peers.set(ip, o);
  }
  const services = new Map<string, DeviceRecord["services"][number]>();
  for (const s of prev?.services ?? []) services.set(s.service, { ...s });
  for (const [service, t] of delta.services ?? []) {
    const o = services.get(service) ?? { service, flows: 0, bytes: 0 };
    o.flows += t.flows;
    o.bytes += t.bytes;
    services.set(service, o);
  }
  const hintKey = (h: Hint) => `${h.source}\u0000${h.field}\u0000${h.value}`;
  const allHints = new Map<string, Hint>();
  for (const h of [...(prev?.hints ?? []), ...hints]) {
    if (allHints.size < 48) allHints.set(hintKey(h), h);
  }
  return {
    mac: d.macText,
    mac_kind: d.macKind,
    vendor: d.vendor,
    first_seen: prev && prev.first_seen < first ? prev.first_seen : first,
    last_seen: prev && prev.last_seen > last ? prev.last_seen : last,
    first_seen_by: prev?.first_seen_by ?? d.firstBy,
    addresses: mergeSeen(prev?.addresses ?? [], addresses, (a) => a.ip, 32),
    names: mergeSeen(
      prev?.names ?? [],
      names,
      (n) => `${n.source}\u0000${n.name}`,
      24,
    ),
    hints: [...allHints.values()],
    bytes_in: (prev?.bytes_in ?? 0) + delta.bytesIn,
    bytes_out: (prev?.bytes_out ?? 0) + delta.bytesOut,
    packets_in: (prev?.packets_in ?? 0) + delta.pktsIn,
    packets_out: (prev?.packets_out ?? 0) + delta.pktsOut,
    alerts: (prev?.alerts ?? 0) + alerts,
    peers: [...peers.values()].sort((a, b) =>
      (b.bytes_in + b.bytes_out) - (a.bytes_in + a.bytes_out)
    ).slice(0, 20),
    services: [...services.values()].sort((a, b) => b.flows - a.flows).slice(
      0,
      20,
    ),
  };
}

/** Characters an edit may not hold (a note may hold line breaks and tabs). */
// deno-lint-ignore no-control-regex
const CONTROL = new RegExp(
  "[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]",
);

/** Owner's edit limits. */
export const EDIT_NAME_MAX = 64;
/** Longest note, characters. */
export const EDIT_NOTE_MAX = 500;

/** A bad edit, naming the field. */
export class DeviceEditError extends TypeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "DeviceEditError";
  }
}

/**
 * Validates a PATCH body: `name` (string ≤ 64, no control characters;
 * "" clears it), `known`, `trusted` (booleans), `note` (string ≤ 500).
 * Other fields are refused.
 *
 * @throws {DeviceEditError} naming the field.
 */
export function parseDeviceEdit(input: unknown): DeviceEdit {
  if (!isRecord(input)) {
    throw new DeviceEditError(
      "Cannot edit the device: the body must be a JSON object",
    );
  }
  const out: DeviceEdit = {};
  for (const [k, v] of Object.entries(input)) {
    switch (k) {
      case "name":
      case "note": {
        const max = k === "name" ? EDIT_NAME_MAX : EDIT_NOTE_MAX;
        if (typeof v !== "string" || [...v].length > max) {
          throw new DeviceEditError(
            `Invalid "${k}": expected text of at most ${max} characters`,
          );
        }
        if (
          CONTROL.test(v) || (k === "name" && /[\n\t]/.test(v))
        ) {
          throw new DeviceEditError(
            `Invalid "${k}": control characters are not allowed`,
          );
        }
        out[k] = v.trim();
        break;
      }
      case "known":
      case "trusted":
        if (typeof v !== "boolean") {
          throw new DeviceEditError(`Invalid "${k}": expected true or false`);
        }
        out[k] = v;
        break;
      default:
        throw new DeviceEditError(
          `Invalid "${
            cleanText(k, 40)
          }": unknown field (name, known, trusted, note)`,
        );
    }
  }
  return out;
}

/** Validates a stored edit; {} when malformed. */
export function parseStoredEdit(v: unknown): DeviceEdit {
  try {
    const { updated, ...rest } = isRecord(v) ? v : {};
    const e = parseDeviceEdit(rest);
    if (typeof updated === "string") e.updated = updated;
    return e;
  } catch {
    return {};
  }
}

/** A device as the API and pages show it. */
export interface DeviceView extends DeviceRecord {
  /** The owner's name, else the best name seen, else null. */
  display_name: string | null;
  /** Where the display name came from ("owner", "dhcp hostname", …). */
  name_source: string | null;
  kind: Conclusion<DeviceKind> | null;
  os: Conclusion<OsFamily> | null;
  known: boolean;
  trusted: boolean;
  note: string;
}

/** Name sources in order of preference for display. */
const NAME_PREF = [
  "dhcp hostname",
  "mdns instance",
  "mdns",
  "dhcp fqdn",
  "nbns",
  "llmnr",
];

/** The view of a record with the owner's edit. */
export function deviceView(rec: DeviceRecord, edit: DeviceEdit): DeviceView {
  let name: string | null = null, source: string | null = null;
  if (edit.name) {
    name = edit.name;
    source = "owner";
  } else {
    let rank = Infinity;
    for (const n of rec.names) {
      const r = NAME_PREF.indexOf(n.source);
      if (r >= 0 && r < rank) {
        rank = r;
        name = n.name;
        source = n.source;
      }
    }
  }
  const { kind, os } = classify(rec.hints);
  return {
    ...rec,
    display_name: name,
    name_source: source,
    kind,
    os,
    known: edit.known ?? false,
    trusted: edit.trusted ?? false,
    note: edit.note ?? "",
  };
}
