/**
 * CSV export of alerts (RFC 4180: comma-separated, CRLF line ends, quotes
 * doubled) with formula-injection escaping: a cell starting with `=`, `+`,
 * `-`, `@`, a tab or a carriage return gets a leading `'` so spreadsheets
 * show it as text instead of evaluating it.
 *
 * @module
 */
import type { Alert } from "./alert.ts";

/** Escapes one cell: neutralises formulas, then quotes when needed. */
export function csvCell(value: unknown): string {
  let s = value === undefined || value === null
    ? ""
    : typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  if (/[",\r\n]/.test(s)) s = '"' + s.replaceAll('"', '""') + '"';
  return s;
}

/** One CSV line (without the line end). */
export function csvRow(values: readonly unknown[]): string {
  return values.map(csvCell).join(",");
}

/** The columns of the alert export. */
export const ALERT_CSV_COLUMNS = [
  "id",
  "timestamp",
  "last_seen",
  "type",
  "severity",
  "signature_id",
  "signature",
  "category",
  "action",
  "src_ip",
  "src_port",
  "dest_ip",
  "dest_port",
  "proto",
  "count",
  "src_country",
  "src_host",
  "dest_host",
  "explanation",
  "evidence",
] as const;

/** The CSV cells of one alert, in {@link ALERT_CSV_COLUMNS} order. */
export function alertCsvValues(a: Alert): unknown[] {
  const n = a.netsentinel;
  return [
    n.id,
    a.timestamp,
    n.last_seen,
    n.type,
    a.alert.severity,
    a.alert.signature_id,
    a.alert.signature,
    a.alert.category,
    a.alert.action,
    a.src_ip,
    a.src_port,
    a.dest_ip,
    a.dest_port,
    a.proto,
    n.count,
    n.src_geo?.country,
    n.src_host,
    n.dest_host,
    n.explanation,
    n.evidence,
  ];
}
