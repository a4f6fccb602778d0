/**
 * `analyze PATH...`: runs the pipeline offline over capture files as fast as
 * it can, printing alerts (and protocol events on request) as EVE JSON lines
 * or a table, with per-file statistics.
 *
 * @module
 */
import {
  LOCAL_DATA_DIR,
  resolveDataDir,
  SYSTEM_DATA_DIR,
} from "../common/data_dir.ts";
import { defaultConfigPath, loadConfig } from "../appliance/config.ts";
import { intelMatcher, IntelService } from "../intel/mod.ts";
import { type AnomalyModel, MODEL_FILE, resolveModel } from "../ml/mod.ts";
import { join } from "node:path";
import {
  type AggregatorCounters,
  type Alert,
  AlertAggregator,
  defaultPolicy,
  parsePolicy,
  type Policy,
} from "../alerts/mod.ts";
import {
  CaptureFileError,
  hasCaptureMagic,
  readCaptureFile,
} from "../capture/mod.ts";
import { ConfigError, UsageError, UserError } from "../common/errors.ts";
import {
  anomalyDetector,
  createDetectors,
  type CreateDetectorsOptions,
  type DetectorFactory,
  TunnelScope,
} from "../detect/mod.ts";
import { LineWriter, printErr } from "../common/output.ts";
import { Pipeline } from "../engine/mod.ts";
import { AlertPcaps, DEFAULT_PCAP_MAX_MB, PacketRing } from "../pcaps/mod.ts";
import { type DefragCounters, Defragmenter } from "../defrag/mod.ts";
import {
  type EveRecord,
  PROTOCOL_EVENT_TYPES,
  protocolEvents,
  type ProtocolEventType,
} from "../events/mod.ts";
import type { AppLayerCounters, AppObserver } from "../protocols/mod.ts";
import type {
  ReassemblyConfig,
  ReassemblyCounters,
} from "../reassembly/mod.ts";
import {
  bool,
  type Command,
  type Flags,
  listOf,
  oneOf,
  str,
} from "./command.ts";
import { alertTableLine } from "./alert_format.ts";
import { loadRuleSet, type RuleSet, signatureDetector } from "../rules/mod.ts";
import { Progress } from "./progress.ts";

const EVENT_TYPES = ["alert", ...PROTOCOL_EVENT_TYPES] as const;
type EventType = typeof EVENT_TYPES[number];

/** Statistics of one analysed file, as `--stats-json` writes them. */
export interface FileStats {
  file: string;
  packets: number;
  bytes: number;
  linktype: string | null;
  decode_errors: number;
  error: string | null;
  /** Final alerts printed for this file, and by type. */
  alerts: number;
  alerts_by_type: Record<string, number>;
  /** What the alert pipeline did (detections, dropped by cap, suppressed …). */
  alert_pipeline: AggregatorCounters | null;
  /** Frames decoded through each tunnel kind (`gre`, `vxlan`, …). */
  tunnels: Record<string, number>;
  /** What IP defragmentation did (fragments, reassembled, anomalies …). */
  defrag: DefragCounters;
  /**
   * TCP reassembly: bytes reassembled, held at most, dropped by depth and
   * memcap, gaps, overlaps (differing ones), mid-stream pick-ups.
   */
  stream: StreamStats | null;
  /** App layer: connections detected by protocol, records by kind. */
  app: AppLayerCounters | null;
}

/** The `stream` entry of a file's statistics (Suricata's tcp.* names where they exist). */
export interface StreamStats {
  reassembled_bytes: number;
  held_bytes_peak: number;
  held_segments: number;
  depth_dropped_bytes: number;
  memcap_dropped_bytes: number;
  gaps: number;
  gap_bytes: number;
  overlaps: number;
  overlaps_differing: number;
  midstream: number;
  syn_data: number;
  memcap_skipped_flows: number;
  let_go_flows: number;
}

function streamStats(r: Readonly<ReassemblyCounters>): StreamStats {
  return {
    reassembled_bytes: r.bytes,
    held_bytes_peak: r.heldPeak,
    held_segments: r.segmentsHeld,
    depth_dropped_bytes: r.depthDropped,
    memcap_dropped_bytes: r.memcapDropped,
    gaps: r.gaps,
    gap_bytes: r.gapBytes,
    overlaps: r.overlaps,
    overlaps_differing: r.overlapsDiffering,
    midstream: r.midstream,
    syn_data: r.synData,
    memcap_skipped_flows: r.flowsSkipped,
    let_go_flows: r.letGo,
  };
}

/** The `--stats-json` document. */
export interface AnalyzeStats {
  files: FileStats[];
  total: {
    files: number;
    failed: number;
    packets: number;
    bytes: number;
    decode_errors: number;
    alerts: number;
    /** New alerts the rate cap dropped, over all files. */
    alerts_rate_limited: number;
  };
  elapsed_s: number;
}

const CAPTURE_EXT = /\.(pcap|pcapng|cap|dmp|pcap\d*)$/i;

/**
 * Expands the command's paths: files as given, directories to the capture
 * files inside them (sorted, not recursive into hidden folders).
 */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(p);
    } catch {
      out.push(p); // reported as that file's error
      continue;
    }
    if (!info.isDirectory) {
      out.push(p);
      continue;
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(p)) {
      if (e.isFile && CAPTURE_EXT.test(e.name)) names.push(e.name);
    }
    names.sort();
    if (names.length === 0) {
      throw new UserError(`No capture files (.pcap, .pcapng) in "${p}"`);
    }
    for (const n of names) out.push(join(p, n));
  }
  return out;
}

const LINKTYPE_NAMES: Record<number, string> = {
  0: "NULL",
  1: "EN10MB",
  12: "RAW",
  14: "RAW",
  101: "RAW",
  108: "LOOP",
  113: "LINUX_SLL",
  228: "IPV4",
  229: "IPV6",
  276: "LINUX_SLL2",
};

function linktypeName(lt: number): string {
  return LINKTYPE_NAMES[lt] ?? String(lt);
}

/** Options of {@link analyzeFiles}. */
export interface AnalyzeOptions {
  /** Which record kinds to emit. */
  events: ReadonlySet<EventType>;
  /** Receives every emitted record. */
  sink: (rec: EveRecord) => void;
  /** Called with progress after every batch (bytes read of the current file). */
  onProgress?: (file: string, packets: number) => void;
  /** The detection policy (default: the shipped one). */
  policy?: Policy;
  /** More detectors (the anomaly scorer) and host familiarity. */
  detectors?: CreateDetectorsOptions;
  /** Enrichment applied to alerts before they are printed. */
  enrich?: (alert: Alert) => void;
  /**
   * New and updated alerts as the appliance's sinks get them (`isNew` true
   * for the first call; the blocker decides on each), besides the final
   * ones `sink` receives.
   */
  onAlert?: (alert: Alert, isNew: boolean) => void;
  /** Reassembly bounds (`stream.depth`, `stream.memcap`; default the shipped ones). */
  stream?: Partial<ReassemblyConfig>;
  /**
   * Where to write a pcap of each alert's packets (`--pcap-dir`): every
   * file gets a packet ring, and each final alert its file.
   */
  pcaps?: AlertPcaps;
}

/** An alert as an EVE record (the same object, typed for sinks). */
export function alertRecord(a: Alert): EveRecord {
  return { ...a };
}

/**
 * Runs each file through its own pipeline and returns the statistics.
 * A file that cannot be read gets an `error` and the rest go on.
 */
export async function analyzeFiles(
  files: string[],
  opts: AnalyzeOptions,
): Promise<AnalyzeStats> {
  const t0 = performance.now();
  const protoKinds = new Set(
    PROTOCOL_EVENT_TYPES.filter((t) => opts.events.has(t)),
  ) as Set<ProtocolEventType>;
  const stats: AnalyzeStats = {
    files: [],
    total: {
      files: 0,
      failed: 0,
      packets: 0,
      bytes: 0,
      decode_errors: 0,
      alerts: 0,
      alerts_rate_limited: 0,
    },
    elapsed_s: 0,
  };
  const policy = opts.policy ?? defaultPolicy();
  for (const file of files) {
    const fs: FileStats = {
      file,
      packets: 0,
      bytes: 0,
      linktype: null,
      decode_errors: 0,
      error: null,
      alerts: 0,
      alerts_by_type: {},
      alert_pipeline: null,
      tunnels: {},
      defrag: { ...new Defragmenter().counters },
      stream: null,
      app: null,
    };
    const observers: AppObserver[] = [];
    if (protoKinds.size > 0) {
      observers.push(protocolEvents(protoKinds, opts.sink));
    }
    let aggregator: AlertAggregator | null = null;
    const ring = opts.pcaps && opts.events.has("alert")
      ? new PacketRing()
      : null;
    if (ring !== null) observers.push(ring);
    if (opts.events.has("alert")) {
      // Detectors and the aggregator are per file: every capture starts
      // fresh, so a file gives the same alerts alone or among others.
      const agg = new AlertAggregator({
        policy,
        enrich: opts.enrich,
        onAlert: opts.onAlert,
        onFinal: (a) => {
          fs.alerts++;
          const t = a.netsentinel.type;
          fs.alerts_by_type[t] = (fs.alerts_by_type[t] ?? 0) + 1;
          if (ring !== null) opts.pcaps!.capture(a, ring);
          opts.sink(alertRecord(a));
        },
      });
      // Alerts about tunnelled traffic carry the tunnel (TunnelScope).
      const scope = new TunnelScope();
      observers.push(scope.observe(
        createDetectors(policy, scope.wrap(agg.emit), {
          ...opts.detectors,
          admits: agg.admits,
        }),
      ));
      observers.push(agg.observer());
      aggregator = agg;
    }
    const pipeline = new Pipeline({ observers, stream: opts.stream });
    try {
      const reader = readCaptureFile(file);
      let r = await reader.next();
      while (!r.done) {
        pipeline.processBatch(r.value);
        opts.onProgress?.(file, pipeline.counters.packets);
        r = await reader.next();
      }
      const summary = r.value;
      fs.error = summary.error;
      const lts = summary.linktypes;
      fs.linktype = lts.length === 0 ? null : lts.map(linktypeName).join(",");
    } catch (e) {
      if (!(e instanceof CaptureFileError)) throw e;
      fs.error = e.message;
    }
    pipeline.finish();
    await opts.pcaps?.flush();
    fs.alert_pipeline = aggregator === null ? null : { ...aggregator.counters };
    const rc = pipeline.reassembly;
    fs.stream = rc === null ? null : streamStats(rc);
    const ac = pipeline.appCounters;
    fs.app = ac === null ? null : structuredClone(ac);
    fs.packets = pipeline.counters.packets;
    fs.bytes = pipeline.counters.bytes;
    fs.decode_errors = pipeline.counters.decodeErrors;
    fs.tunnels = pipeline.decode.tunnelSnapshot();
    if (pipeline.defrag !== null) fs.defrag = { ...pipeline.defrag.counters };
    stats.files.push(fs);
    const t = stats.total;
    t.files++;
    if (fs.error !== null) t.failed++;
    t.packets += fs.packets;
    t.bytes += fs.bytes;
    t.decode_errors += fs.decode_errors;
    t.alerts += fs.alerts;
    t.alerts_rate_limited += fs.alert_pipeline?.rateLimited ?? 0;
  }
  stats.elapsed_s = Math.round(performance.now() - t0) / 1000;
  return stats;
}

function tableLine(rec: EveRecord): string {
  const ts = String(rec.timestamp ?? "");
  const src = `${rec.src_ip ?? ""}${rec.src_port ? ":" + rec.src_port : ""}`;
  const dst = `${rec.dest_ip ?? ""}${rec.dest_port ? ":" + rec.dest_port : ""}`;
  const kind = String(rec.event_type);
  let what = "";
  const sub = rec[kind] as Record<string, unknown> | undefined;
  if (kind === "alert") return alertTableLine(rec as unknown as Alert);
  if (kind === "dns" && sub) {
    const q = (sub.queries as Record<string, unknown>[] | undefined)?.[0];
    const answers = (sub.answers as Record<string, unknown>[] | undefined) ??
      [];
    what = `${sub.type} ${q?.rrtype ?? ""} ${q?.rrname ?? ""}` +
      (sub.rcode ? ` ${sub.rcode}` : "") +
      answers.slice(0, 4).map((a) => ` ${a.rrtype}=${a.rdata ?? ""}`).join(
        "",
      );
  } else if (kind === "anomaly" && sub) {
    what = `${sub.type} ${sub.event}`;
  } else if (kind === "http" && sub) {
    what = `${sub.http_method} ${sub.hostname}${sub.url} ${sub.protocol}`;
  } else if (kind === "tls" && sub) {
    what = `${sub.version} sni=${sub.sni ?? "-"}`;
  } else if (kind === "flow" && sub) {
    what = `${rec.proto} ${sub.pkts_toserver}/${sub.pkts_toclient} pkts ` +
      `${sub.bytes_toserver}/${sub.bytes_toclient} B ${sub.state}`;
  }
  const arrow = dst === "" ? src : `${src} -> ${dst}`;
  return `${ts}  ${kind.padEnd(5)}  ${arrow}  ${what}`;
}

/**
 * The model analyze uses: `--model`, else model.json in the data directory
 * (`--data`, or an existing system or local one; nothing is created), else
 * the shipped model. A fallback is reported on standard error.
 */
async function analyzeModel(flags: Flags): Promise<AnomalyModel> {
  const path = str(flags, "model");
  let dataDir = str(flags, "data");
  if (path === undefined && dataDir === undefined) {
    for (const d of [SYSTEM_DATA_DIR, LOCAL_DATA_DIR]) {
      try {
        await Deno.stat(join(d, MODEL_FILE));
        dataDir = d;
        break;
      } catch {
        // No model there: try the next place.
      }
    }
  }
  const loaded = await resolveModel({ path, dataDir });
  if (loaded.fallback) printErr(`netsentinel: ${loaded.fallback}`);
  return loaded.model;
}

/**
 * The threat feeds of the data directory (stored copies, the config's
 * `intel` section) as analyze's intel detector.
 */
async function analyzeIntel(
  flags: Flags,
): Promise<readonly ["intel", DetectorFactory]> {
  const dataDir = await resolveDataDir(str(flags, "data"));
  const { config } = await loadConfig(defaultConfigPath(dataDir));
  const svc = new IntelService({ config: config.intel, dataDir, fetch: null });
  await svc.load();
  if (svc.index.feeds.length === 0) {
    throw new UserError(
      `No threat feed stored in "${dataDir}" (run: netsentinel intel update --data ${dataDir})`,
    );
  }
  return ["intel", (policy, emit) => intelMatcher(svc.index, policy, emit)];
}

/**
 * The rule set analyze uses: the shipped rules and every `--rules` path
 * (none with `--no-rules`). Refused rules are counted on standard error; a
 * path that cannot be read is a one-line error.
 */
async function analyzeRules(
  flags: Flags,
  policy: Policy,
): Promise<RuleSet | null> {
  const paths = (flags.rules as string[] | undefined) ?? [];
  if (bool(flags, "no-rules")) {
    if (paths.length > 0) {
      throw new UsageError(
        "analyze: --rules and --no-rules exclude each other",
      );
    }
    return null;
  }
  const set = await loadRuleSet({
    paths,
    homeNet: policy.home_net.map((c) => c.text),
  });
  const bad = set.load.fileErrors[0];
  if (bad !== undefined) {
    throw new UserError(`Cannot read rules "${bad.file}": ${bad.error}`);
  }
  if (set.load.refused.length > 0) {
    printErr(
      `netsentinel: rules: ${set.load.rules.length} loaded, ` +
        `${set.load.refused.length} refused (netsentinel rules check for why)`,
    );
  }
  return set;
}

/** The `analyze` command. */
export const analyzeCommand: Command = {
  name: "analyze",
  summary: "analyse pcap/pcapng files offline; alerts as EVE JSON or a table",
  positionals: true,
  options: {
    format: { type: "string" },
    events: { type: "string" },
    policy: { type: "string" },
    model: { type: "string" },
    "no-model": { type: "boolean" },
    data: { type: "string" },
    "stats-json": { type: "string" },
    rules: { type: "string", multiple: true },
    "no-rules": { type: "boolean" },
    intel: { type: "boolean" },
    "pcap-dir": { type: "string" },
  },
  help: `Usage: netsentinel analyze [options] PATH...

Runs capture files through the decoder, flow table and detectors as fast as
possible. PATH is a pcap or pcapng file or a directory of them. Alerts (and
protocol events with --events) go to standard output; a progress bar goes to
standard error when it is a terminal.

Options:
  --format eve|table     output format (default: eve, one JSON object a line)
  --events LIST          record kinds to emit, comma-separated, from
                         alert,dns,http,tls,flow,anomaly (default: alert)
  --policy FILE          detection policy (JSON; fields left out keep the
                         shipped defaults, see data/policy.json)
  --model FILE           Isolation Forest model for "anomaly" alerts (default:
                         model.json in the data directory, else the shipped one)
  --no-model             rule detectors only
  --data DIR             data directory to look for model.json in
  --rules FILE|DIR       Suricata-language rules to load besides the shipped
                         ones (repeatable; a directory: its *.rules files)
  --no-rules             no signature rules at all
  --intel                match the threat feeds stored in the data directory
                         (--data, else the default one; "intel" alerts)
  --stats-json OUT       write per-file statistics as JSON to OUT
  --pcap-dir DIR         write a pcap of each alert's packets to DIR/<id>.pcap
                         (at most 256 MiB in all, oldest removed first)
  -h, --help             show this help

Exit codes: 0 all files read, 1 a file could not be read (completely or in
part; the others are still analysed), 2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    if (positionals.length === 0) {
      throw new UsageError("analyze: no capture file given (try --help)");
    }
    const format = oneOf(flags, "format", ["eve", "table"], "eve");
    const events = new Set(
      listOf<EventType>(flags, "events", EVENT_TYPES, ["alert"]),
    );
    const statsOut = str(flags, "stats-json");
    if (statsOut !== undefined) await refuseCaptureTarget(statsOut);
    const pcapDir = str(flags, "pcap-dir");
    const policyFile = str(flags, "policy");
    const policy = policyFile === undefined
      ? defaultPolicy()
      : await loadPolicyFile(policyFile);
    if (bool(flags, "no-model") && flags.model !== undefined) {
      throw new UsageError(
        "analyze: --model and --no-model exclude each other",
      );
    }
    const files = await expandPaths(positionals);
    const model = bool(flags, "no-model") ? null : await analyzeModel(flags);
    const ruleSet = await analyzeRules(flags, policy);
    const intel = bool(flags, "intel") ? await analyzeIntel(flags) : null;
    const extra = [
      ...(model ? [anomalyDetector(model)] : []),
      ...(ruleSet ? [signatureDetector(ruleSet.engine)] : []),
      ...(intel ? [intel] : []),
    ];
    let pcaps: AlertPcaps | undefined;
    if (pcapDir !== undefined) {
      try {
        pcaps = await AlertPcaps.open(
          pcapDir,
          DEFAULT_PCAP_MAX_MB * 1024 * 1024,
          (msg) => printErr(`netsentinel: ${msg}`),
        );
      } catch (e) {
        throw new UserError((e as Error).message, { cause: e });
      }
    }
    const out = new LineWriter();
    const progress = Deno.stderr.isTerminal() ? new Progress() : null;
    const stats = await analyzeFiles(files, {
      events,
      policy,
      detectors: { extra },
      pcaps,
      sink: format === "eve"
        ? (rec) => out.line(JSON.stringify(rec))
        : (rec) => out.line(tableLine(rec)),
      onProgress: progress
        ? (file, packets) => progress.update(file, packets)
        : undefined,
    });
    progress?.done();
    out.flush();
    for (const f of stats.files) {
      if (f.error !== null) printErr(`netsentinel: ${f.file}: ${f.error}`);
    }
    if (statsOut !== undefined) {
      try {
        await Deno.writeTextFile(
          statsOut,
          JSON.stringify(stats, null, 2) + "\n",
        );
      } catch (e) {
        throw new UserError(
          `Cannot write "${statsOut}": ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    return stats.total.failed > 0 ? 1 : 0;
  },
};

/**
 * Reads and validates a policy file. A missing file, bad JSON or an invalid
 * field is a one-line error naming the file (and the field).
 */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UserError(
      `Cannot read policy "${path}": ${(e as Error).message}`,
      { cause: e },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(
      `Cannot parse policy "${path}": ${(e as Error).message}`,
      { cause: e },
    );
  }
  try {
    return parsePolicy(json);
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new UserError(`Policy "${path}": ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * Refuses a `--stats-json` target that is a capture file (by name or by its
 * first bytes): `analyze --stats-json *.pcap` would otherwise take the first
 * capture for the output and overwrite it.
 */
async function refuseCaptureTarget(path: string): Promise<void> {
  const head = new Uint8Array(4);
  let got: number | null = null;
  try {
    using f = await Deno.open(path, { read: true });
    got = await f.read(head);
  } catch {
    // Absent or unreadable: writing it says what is wrong.
  }
  if (
    /\.(pcap|pcapng|cap)$/i.test(path) ||
    (got === 4 && hasCaptureMagic(head))
  ) {
    throw new UsageError(
      `analyze: --stats-json "${path}" is a capture file and would be overwritten (give the statistics a file of their own, for example --stats-json stats.json)`,
    );
  }
}
