/**
 * Durations of blocks: read from a number of seconds or text such as "90s",
 * "15m", "1h30m", "7d" (parsed by common/validate.ts), written compactly.
 * Private to respond/.
 *
 * @module
 */
import { parseDurationText } from "../common/validate.ts";

/** Seconds of a duration (number or text, "ms" allowed), or null when it is not one. */
export function durationSeconds(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : null;
  return typeof v === "string" ? parseDurationText(v, { ms: true }) : null;
}

/** Formats seconds compactly: 3600 → "1h", 5400 → "1h30m", 42 → "42s". */
export function formatDuration(seconds: number): string {
  let s = Math.max(0, Math.round(seconds));
  if (s === 0) return "0s";
  const parts: string[] = [];
  for (
    const [u, n] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const
  ) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
  }
  return parts.join("");
}
