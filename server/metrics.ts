/**
 * Prometheus text exposition (format 0.0.4) of metric families: `# HELP`,
 * `# TYPE`, then one line per sample with escaped label values.
 *
 * @module
 */
import type { ReassemblyCounters } from "../reassembly/mod.ts";
import type { AppLayerCounters } from "../protocols/mod.ts";
import type { MetricFamily } from "./deps.ts";
import { DEFRAG_ANOMALIES, type DefragCounters } from "../defrag/mod.ts";

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

const DEFRAG_COUNTS = [
  "fragments",
  "reassembled",
  "duplicates",
  "timeouts",
  "evicted",
  "dropped",
  "truncated",
] as const;

/**
 * Reassembly and app-layer families: bytes reassembled, held (gauge, under
 * `stream.memcap`), dropped by depth and memcap, gaps, overlaps (and those
 * whose bytes differed), mid-stream pick-ups, connections detected by
 * protocol and records by kind.
 */
export function streamMetrics(
  r: Readonly<ReassemblyCounters> | null,
  a: Readonly<AppLayerCounters> | null,
): MetricFamily[] {
  const out: MetricFamily[] = [];
  if (r !== null) {
    out.push(
      metric(
        "netsentinel_stream_reassembled_bytes_total",
        "counter",
        "TCP payload bytes handed to the protocol parsers in order",
        r.bytes,
      ),
      metric(
        "netsentinel_stream_held_bytes",
        "gauge",
        "Bytes of out-of-order TCP segments held now (at most stream.memcap)",
        r.held,
      ),
      metric(
        "netsentinel_stream_held_segments_total",
        "counter",
        "TCP segments that arrived out of order and were held",
        r.segmentsHeld,
      ),
      {
        name: "netsentinel_stream_dropped_bytes_total",
        type: "counter",
        help: "TCP payload bytes not reassembled, by reason (depth, memcap)",
        samples: [
          { labels: { reason: "depth" }, value: r.depthDropped },
          { labels: { reason: "memcap" }, value: r.memcapDropped },
        ],
      },
      metric(
        "netsentinel_stream_gaps_total",
        "counter",
        "Holes in TCP streams given up (bytes never seen)",
        r.gaps,
      ),
      metric(
        "netsentinel_stream_gap_bytes_total",
        "counter",
        "Bytes missing in the holes given up",
        r.gapBytes,
      ),
      metric(
        "netsentinel_stream_overlaps_total",
        "counter",
        "TCP segments that overlapped bytes already seen",
        r.overlaps,
      ),
      metric(
        "netsentinel_stream_overlaps_differing_total",
        "counter",
        "Overlaps whose bytes differed from the first copy (kept; REASSEMBLY_OVERLAP_DIFFERENT_DATA)",
        r.overlapsDiffering,
      ),
      metric(
        "netsentinel_stream_memcap_skipped_flows_total",
        "counter",
        "TCP connections not reassembled: stream.memcap was spent when they began",
        r.flowsSkipped,
      ),
      metric(
        "netsentinel_stream_let_go_flows_total",
        "counter",
        "TCP connections whose reassembly stopped early: nothing reads the rest of their bytes (no parser took them, their records are not read, or their parser is done, a TLS handshake over)",
        r.letGo,
      ),
      metric(
        "netsentinel_stream_midstream_total",
        "counter",
        "TCP stream directions picked up without their handshake",
        r.midstream,
      ),
    );
  }
  if (a !== null) {
    out.push(
      {
        name: "netsentinel_app_flows_total",
        type: "counter",
        help: "Connections by detected app-layer protocol",
        samples: [
          ...Object.entries(a.detected).map(([proto, value]) => ({
            labels: { proto },
            value,
          })),
          { labels: { proto: "unknown" }, value: a.undetected },
        ],
      },
      metric(
        "netsentinel_app_protocol_changes_total",
        "counter",
        "Connections whose protocol changed and was detected afresh (an HTTP CONNECT answered 2xx: the tunnelled TLS is parsed)",
        a.changed,
      ),
      {
        name: "netsentinel_app_records_total",
        type: "counter",
        help: "App-layer records parsed, by kind",
        samples: Object.entries(a.records).map(([kind, value]) => ({
          labels: { kind },
          value,
        })),
      },
    );
  }
  return out;
}

/** What {@link applianceMetrics} reads (pass what exists). */
export interface ApplianceMetricSources {
  /** The pipeline (`counters`, `decode`, `flows`, `hosts`). */
  pipeline?: {
    counters: {
      packets: number;
      bytes: number;
      decodeErrors: number;
      tcp: number;
      udp: number;
      icmp: number;
      otherIp: number;
      arp: number;
      nonIp: number;
    };
    decode: {
      snapshot(): Record<string, number>;
      tunnelSnapshot?(): Record<string, number>;
    };
    /** The defragmentation stage, when on. */
    defrag?: {
      counters: Readonly<DefragCounters>;
      memoryBytes: number;
      datagrams: number;
    } | null;
    flows: {
      size: number;
      counters: { created: number; ended: number; evicted: number };
    };
    hosts: { size: number; evicted: number };
    /** TCP reassembly counters (null when the app layer is off). */
    reassembly?: Readonly<ReassemblyCounters> | null;
    /** App-layer counters (null when off). */
    appCounters?: Readonly<AppLayerCounters> | null;
  };
  /** Capture counters (the live source's `stats()`). */
  capture?: { recv: number; drop: number; ifdrop: number; overflow?: number };
  /** The store writer's metrics. */
  writer?: {
    flushes: number;
    commits: number;
    mutations: number;
    errors: number;
    dropped: number;
    pending: number;
  };
  /** The blocker's state. */
  blocker?: {
    active_blocks: number;
    blocked_total: number;
    refused_total: number;
    would_block_total: number;
    nft_errors: number;
  };
}

/**
 * The standard metric families of the appliance (packets, bytes, drops,
 * decode errors by reason, flows, hosts, KV write batches, blocks) from
 * its parts, for {@link DashboardDeps.metrics}.
 *
 * @example
 * ```ts
 * metrics: () => applianceMetrics({ pipeline, writer: writer.metrics,
 *   blocker: blocker.state(), capture: live.stats() }),
 * ```
 */
export function applianceMetrics(s: ApplianceMetricSources): MetricFamily[] {
  const out: MetricFamily[] = [];
  const p = s.pipeline;
  if (p !== undefined) {
    const c = p.counters;
    out.push(
      metric("netsentinel_packets_total", "counter", "Frames seen", c.packets),
      metric("netsentinel_bytes_total", "counter", "Wire bytes seen", c.bytes),
      {
        name: "netsentinel_packets_by_proto_total",
        type: "counter",
        help: "Frames by protocol",
        samples: (
          [
            ["tcp", c.tcp],
            ["udp", c.udp],
            ["icmp", c.icmp],
            ["other_ip", c.otherIp],
            ["arp", c.arp],
            ["non_ip", c.nonIp],
          ] as const
        ).map(([proto, value]) => ({ labels: { proto }, value })),
      },
      {
        name: "netsentinel_decode_errors_total",
        type: "counter",
        help: "Frames and payloads that failed to decode, by reason",
        samples: Object.entries(p.decode.snapshot()).map(([reason, value]) => ({
          labels: { reason },
          value,
        })),
      },
      {
        name: "netsentinel_tunnel_packets_total",
        type: "counter",
        help: "Frames decoded through a tunnel, by tunnel kind",
        samples: Object.entries(p.decode.tunnelSnapshot?.() ?? {}).map((
          [type, value],
        ) => ({ labels: { type }, value })),
      },
      metric(
        "netsentinel_flows",
        "gauge",
        "Flows in the flow table",
        p.flows.size,
      ),
      metric(
        "netsentinel_flows_created_total",
        "counter",
        "Flows created",
        p.flows.counters.created,
      ),
      metric(
        "netsentinel_flows_evicted_total",
        "counter",
        "Flows evicted to stay under the cap",
        p.flows.counters.evicted,
      ),
      metric(
        "netsentinel_hosts",
        "gauge",
        "Hosts in the host table",
        p.hosts.size,
      ),
      ...streamMetrics(p.reassembly ?? null, p.appCounters ?? null),
      metric(
        "netsentinel_hosts_evicted_total",
        "counter",
        "Hosts evicted to stay under the cap",
        p.hosts.evicted,
      ),
    );
  }
  const d = p?.defrag;
  if (d !== undefined && d !== null) {
    const c = d.counters;
    out.push(
      {
        name: "netsentinel_defrag_total",
        type: "counter",
        help:
          "IP defragmentation: fragments taken, datagrams reassembled, duplicates ignored, datagrams timed out and evicted, fragments dropped and cut by the capture",
        samples: DEFRAG_COUNTS.map((what) => ({
          labels: { what },
          value: c[what],
        })),
      },
      {
        name: "netsentinel_defrag_anomalies_total",
        type: "counter",
        help: "IP fragment anomalies (overlap, Teardrop, tiny, too many, …)",
        samples: DEFRAG_ANOMALIES.map((anomaly) => ({
          labels: { anomaly },
          value: c[anomaly],
        })),
      },
      metric(
        "netsentinel_defrag_memory_bytes",
        "gauge",
        "Bytes held by the defragmenter (under defrag.memcap_mb)",
        d.memoryBytes,
      ),
      metric(
        "netsentinel_defrag_datagrams",
        "gauge",
        "Datagrams being reassembled",
        d.datagrams,
      ),
    );
  }
  if (s.capture !== undefined) {
    out.push(
      metric(
        "netsentinel_capture_received_total",
        "counter",
        "Packets the kernel delivered to the capture",
        s.capture.recv,
      ),
      {
        name: "netsentinel_capture_drops_total",
        type: "counter",
        help: "Packets dropped before the pipeline saw them",
        samples: [
          { labels: { where: "kernel" }, value: s.capture.drop },
          { labels: { where: "interface" }, value: s.capture.ifdrop },
          { labels: { where: "pipeline" }, value: s.capture.overflow ?? 0 },
        ],
      },
    );
  }
  if (s.writer !== undefined) {
    const w = s.writer;
    out.push(
      metric(
        "netsentinel_kv_write_batches_total",
        "counter",
        "KV write batches (flushes)",
        w.flushes,
      ),
      metric(
        "netsentinel_kv_commits_total",
        "counter",
        "KV atomic commits",
        w.commits,
      ),
      metric(
        "netsentinel_kv_mutations_total",
        "counter",
        "KV mutations committed",
        w.mutations,
      ),
      metric(
        "netsentinel_kv_errors_total",
        "counter",
        "Failed KV commits",
        w.errors,
      ),
      metric(
        "netsentinel_kv_dropped_total",
        "counter",
        "Writes dropped on a full queue",
        w.dropped,
      ),
      metric("netsentinel_kv_pending", "gauge", "Writes waiting", w.pending),
    );
  }
  if (s.blocker !== undefined) {
    const b = s.blocker;
    out.push(
      metric(
        "netsentinel_blocks_total",
        "counter",
        "Addresses blocked",
        b.blocked_total,
      ),
      metric(
        "netsentinel_blocks_refused_total",
        "counter",
        "Blocks refused",
        b.refused_total,
      ),
      metric(
        "netsentinel_blocks_would_total",
        "counter",
        "Blocks a dry run would have made",
        b.would_block_total,
      ),
      metric(
        "netsentinel_nft_errors_total",
        "counter",
        "nft failures",
        b.nft_errors,
      ),
    );
  }
  return out;
}
