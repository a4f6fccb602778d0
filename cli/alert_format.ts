/**
 * Alerts as text for terminals: one readable table line per alert, with
 * control characters from the wire escaped. (CSV lives in alerts/.)
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";
import type { AlertGroup } from "../store/mod.ts";

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

/** One inbox group as a readable table line: last seen, severity, count, what, state, id. */
export function groupTableLine(g: AlertGroup): string {
  const state = [
    g.escalated ? "[escalated]" : "",
    g.archived ? "[archived]" : "",
  ]
    .filter((x) => x !== "").join(" ");
  return terminalSafe(
    `${g.last_seen}  sev ${g.severity}  x${String(g.count).padEnd(5)} ` +
      `${g.type.padEnd(15)} ${g.src_ip} -> ${g.dest_ip ?? "-"}  ` +
      `${g.signature}${state ? `  ${state}` : ""}  ${g.id}`,
  );
}
