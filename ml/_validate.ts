/**
 * Small validation helpers private to ml/.
 *
 * @module
 */

/** True for a plain object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Short description of a bad value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") {
    return `"${v.length > 40 ? v.slice(0, 40) + "…" : v}"`;
  }
  if (typeof v === "object") return "an object";
  return String(v);
}
