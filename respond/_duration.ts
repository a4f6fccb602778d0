/**
 * Durations in policy files: a number of seconds or text such as "90s",
 * "15m", "1h30m", "7d". Private to respond/.
 *
 * @module
 */

const UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
};

/** Seconds of a duration (number or text), or null when it is not one. */
export function durationSeconds(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : null;
  if (typeof v !== "string") return null;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0, end = 0, m;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  return end === t.length && end > 0 ? total : null;
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
