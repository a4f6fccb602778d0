/**
 * The daily summary: alerts of the last 24 hours by type and severity, new
 * devices, blocks made, the top sources and targets, and capture health,
 * as one message. The appliance gathers the {@link SummaryFacts} from KV.
 *
 * @module
 */
import type { Message } from "./message.ts";
import { severityName } from "./message.ts";

/** What the daily summary reports. */
export interface SummaryFacts {
  /** Alerts in the period, by type. */
  by_type: Record<string, number>;
  /** Alerts in the period, by severity (1 … 4). */
  by_severity: Record<string, number>;
  /** Addresses of devices first seen in the period. */
  new_devices: string[];
  /** Blocks made in the period. */
  blocks: number;
  /** Most frequent alert sources and targets, with their counts. */
  top_sources: [string, number][];
  top_targets: [string, number][];
  /** One line on capture (state, packets, drops, restarts). */
  capture: string;
}

/** The summary message for `facts`. */
export function summaryMessage(
  f: SummaryFacts,
  o: { id: string; now: number; publicUrl: string | null },
): Message {
  const total = Object.values(f.by_type).reduce((s, n) => s + n, 0);
  const sev = Object.keys(f.by_severity).map(Number).sort();
  const top = (l: [string, number][]) =>
    l.length === 0 ? "none" : l.map(([ip, n]) => `${ip} (${n})`).join(", ");
  const lines = [
    `Alerts in the last 24 hours: ${total}`,
    ...Object.entries(f.by_type).sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `  ${t}: ${n}`),
    `By severity: ${
      sev.length === 0
        ? "none"
        : sev.map((s) => `${severityName(s)} ${f.by_severity[s]}`).join(", ")
    }`,
    `New devices: ${f.new_devices.length}${
      f.new_devices.length ? ` (${f.new_devices.slice(0, 20).join(", ")})` : ""
    }`,
    `Blocks made: ${f.blocks}`,
    `Top sources: ${top(f.top_sources)}`,
    `Top targets: ${top(f.top_targets)}`,
    `Capture: ${f.capture}`,
  ];
  return {
    id: o.id,
    kind: "summary",
    title:
      `Daily summary: ${total} alerts, ${f.new_devices.length} new devices, ${f.blocks} blocks`,
    severity: 4,
    count: total,
    items: [],
    rest: {},
    lines,
    created: new Date(o.now).toISOString(),
    link: o.publicUrl,
  };
}
