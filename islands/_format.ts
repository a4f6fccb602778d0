/**
 * Formatting shared by pages (server) and islands (browser): numbers with
 * units, times (UTC on the server, the browser's zone in the browser),
 * severities. Pure functions; no DOM.
 *
 * @module
 */

import type { Alert } from "../alerts/alert.ts";

/**
 * Newest first by the time shown: an alert about a flow is raised when the
 * flow ends, after alerts about later packets, so arrival order is not
 * time order. Ties keep their order (newest id first).
 */
export function byTimeDesc(alerts: readonly Alert[]): Alert[] {
  return [...alerts].sort((a, b) =>
    a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0
  );
}

const BYTE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];

/** Bytes with a decimal unit: 1234 → "1.2 kB". */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  let i = 0;
  let v = n;
  while (v >= 1000 && i < BYTE_UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 1 : 0)} ${
    BYTE_UNITS[i]
  }`;
}

/** A byte rate: 1234 → "1.2 kB/s". */
export function fmtRate(bytesPerS: number): string {
  return fmtBytes(bytesPerS) + "/s";
}

/** A count with k/M suffixes: 12345 → "12.3k". */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n));
}

/** A packet rate: "12.3k pkts/s". */
export function fmtPps(n: number): string {
  return `${fmtCount(n)} pkts/s`;
}

/** True in a browser (islands after hydration), false on the server. */
export function inBrowser(): boolean {
  return typeof document !== "undefined";
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/**
 * A time for people: in the browser in its own zone ("25 Nov, 14:03:11"),
 * on the server in UTC with the zone named (the browser rewrites it).
 */
export function fmtTime(t: string | number): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return "–";
  if (inBrowser()) {
    return d.toLocaleString(undefined, {
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
  }
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${
    pad(d.getUTCDate())
  } ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${
    pad(d.getUTCSeconds())
  } UTC`;
}

/** How long until `t` from `now`: "3h 12m", "45s", "expired". */
export function fmtUntil(t: string | number, now: number): string {
  const ms = new Date(t).getTime() - now;
  if (!Number.isFinite(ms)) return "–";
  if (ms <= 0) return "expired";
  return fmtSpan(ms / 1000);
}

/** A span of seconds: "2d 3h", "3h 12m", "4m 10s", "45s". */
export function fmtSpan(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), sec = Math.floor(s % 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/** Suricata severity names. */
export const SEVERITY_NAMES: Readonly<Record<number, string>> = {
  1: "high",
  2: "medium",
  3: "low",
  4: "info",
};

/** The name of a severity ("high" for 1). */
export function severityName(s: number): string {
  return SEVERITY_NAMES[s] ?? String(s);
}

/** "port_scan" → "port scan". */
export function typeLabel(t: string): string {
  return t.replaceAll("_", " ");
}

/** A JSON value as short text for evidence tables. */
export function evidenceText(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number") {
    return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, "");
  }
  if (typeof v === "boolean" || v === null) return String(v);
  return JSON.stringify(v);
}
