/**
 * Alerts as text: a readable table line and CSV with formula-injection
 * escaping (wire text ends up in spreadsheets: a cell starting with
 * = + - @, tab or carriage return gets a leading apostrophe).
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";

/** One CSV cell: formula-escaped, quoted when needed (RFC 4180). */
export function csvCell(v: unknown): string {
  let s = v === undefined || v === null ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV line from cells. */
export function csvRow(cells: readonly unknown[]): string {
  return cells.map(csvCell).join(",");
}

/** The CSV header of {@link alertCsvRow}. */
export const ALERT_CSV_HEADER = csvRow([
  "id",
  "timestamp",
  "last_seen",
  "type",
  "severity",
  "signature_id",
  "signature",
  "category",
  "src_ip",
  "src_port",
  "dest_ip",
  "dest_port",
  "proto",
  "count",
  "action",
  "src_country",
  "src_host",
  "explanation",
]);

/** One alert as a CSV line (columns of {@link ALERT_CSV_HEADER}). */
export function alertCsvRow(a: Alert): string {
  const n = a.netsentinel;
  return csvRow([
    n.id,
    a.timestamp,
    n.last_seen,
    n.type,
    a.alert.severity,
    a.alert.signature_id,
    a.alert.signature,
    a.alert.category,
    a.src_ip,
    a.src_port,
    a.dest_ip,
    a.dest_port,
    a.proto,
    n.count,
    a.alert.action,
    n.src_geo?.country,
    n.src_host,
    n.explanation,
  ]);
}

function endpoint(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return "-";
  const host = ip.includes(":") && port !== undefined ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

/** Escapes control characters (wire text must not drive the terminal). */
export function terminalSafe(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f)
      ? `\\x${c.toString(16).padStart(2, "0")}`
      : ch;
  }
  return out;
}

/** One alert as a readable table line. */
export function alertTableLine(a: Alert): string {
  const n = a.netsentinel;
  const flag = n.src_geo?.flag ? ` ${n.src_geo.flag}` : "";
  return terminalSafe(
    `${a.timestamp}  sev ${a.alert.severity}  ${n.type.padEnd(15)} ` +
      `${endpoint(a.src_ip, a.src_port)}${flag} -> ${
        endpoint(a.dest_ip, a.dest_port)
      }  ` +
      `${a.alert.signature}${n.count > 1 ? ` (x${n.count})` : ""}` +
      `${a.alert.action === "blocked" ? " [blocked]" : ""}  ${n.id}`,
  );
}
