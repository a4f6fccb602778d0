/**
 * Prometheus text exposition (format 0.0.4) of metric families: `# HELP`,
 * `# TYPE`, then one line per sample with escaped label values.
 *
 * @module
 */
import type { MetricFamily } from "./deps.ts";

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll(
    '"',
    '\\"',
  );
}

function escapeHelp(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/**
 * Renders metric families as Prometheus text. Families with the same name
 * are merged (the first HELP and TYPE win); names must already be valid.
 *
 * @example
 * ```ts
 * renderMetrics([{ name: "netsentinel_packets_total", help: "Packets seen",
 *   type: "counter", samples: [{ value: 12 }] }]);
 * ```
 */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const merged = new Map<string, MetricFamily>();
  for (const f of families) {
    const prev = merged.get(f.name);
    merged.set(
      f.name,
      prev === undefined
        ? f
        : { ...prev, samples: [...prev.samples, ...f.samples] },
    );
  }
  const lines: string[] = [];
  for (const f of merged.values()) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels === undefined
        ? ""
        : Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(",");
      lines.push(
        `${f.name}${labels === "" ? "" : `{${labels}}`} ${
          formatValue(s.value)
        }`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** A one-sample counter or gauge family. */
export function metric(
  name: string,
  type: "counter" | "gauge",
  help: string,
  value: number,
): MetricFamily {
  return { name, type, help, samples: [{ value }] };
}
