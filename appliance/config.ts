/**
 * The appliance's one config file (JSON): capture, dashboard, storage,
 * enrichment, model, limits, blocking and the detection policy. Validated
 * with messages naming the field; absent keys take the defaults below; CLI
 * flags override. The file lives in the data directory unless `--config`
 * names another.
 *
 * @module
 */
import { join } from "node:path";
import { parsePolicy, type Policy } from "../alerts/mod.ts";
import { ConfigError, UserError } from "../common/errors.ts";
import {
  bool,
  byteSize,
  duration,
  int,
  listenAddr,
  oneOf,
  optText,
  record,
  text,
} from "../common/validate.ts";
import { type OpenEnricherOptions, parseEnrichConfig } from "../enrich/mod.ts";
import { type NotifyConfig, parseNotifyConfig } from "../notify/mod.ts";
import { type IntelConfig, parseIntelConfig } from "../intel/mod.ts";
import { type BlockPolicy, parseBlockPolicy } from "../respond/mod.ts";
import {
  DEFAULT_STREAM_DEPTH,
  DEFAULT_STREAM_MEMCAP,
} from "../reassembly/mod.ts";
import { DEFAULT_PARSER_MEMCAP } from "../protocols/mod.ts";
import { parseRulesConfig, type RulesConfig } from "../rules/mod.ts";
import {
  type EveRedisConfig,
  type FleetConfig,
  parseEveRedisConfig,
  parseFleetConfig,
} from "../fleet/mod.ts";

/** Name of the config file in the data directory. */
export const CONFIG_FILE = "config.json";

/** Log levels the config accepts. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** The validated config. */
export interface AppConfig {
  capture: {
    /** Interface to capture on; null: the interface of the default route. */
    interface: string | null;
    /** BPF filter ("" for none). */
    filter: string;
    snaplen: number;
    promisc: boolean;
    /** Kernel capture buffer, MiB. */
    buffer_mb: number;
  };
  dashboard: {
    listen: { hostname: string; port: number };
    /** PEM files for HTTPS (both or neither). */
    cert: string | null;
    key: string | null;
  };
  storage: {
    /** Days alerts are kept. */
    alert_days: number;
    /** Days known hosts are kept after they were last seen. */
    host_days: number;
    /** Days per-minute stats are kept. */
    stats_days: number;
    /** Longest time between KV commits, ms (SD cards wear out: keep ≥ 1000). */
    commit_interval_ms: number;
  };
  eve: {
    enabled: boolean;
    /** Path of the EVE log; relative paths are in the data directory. */
    path: string;
    max_mb: number;
    files: number;
    /** EVE to Redis (see fleet/). */
    redis: EveRedisConfig;
  };
  model: {
    /** Isolation Forest model file; null: data directory, then the shipped one. */
    path: string | null;
    /** Opt-in periodic retraining on recent traffic that raised no alert. */
    retrain: boolean;
    /** Time between retraining attempts, seconds. */
    retrain_interval_s: number;
  };
  limits: {
    max_flows: number;
    max_hosts: number;
    /** Bytes a WebSocket client may have queued before it is dropped, KiB. */
    ws_buffer_kb: number;
    /** Live dashboard clients at once. */
    ws_clients: number;
  };
  /** Alert pcaps (see pcaps/). */
  pcaps: {
    /** All alert pcaps together at most this, MiB (oldest removed first). */
    max_mb: number;
  };
  /** IP defragmentation (see defrag/). */
  defrag: {
    enabled: boolean;
    /** Bytes held at most, MiB. */
    memcap_mb: number;
    /** Time a datagram may take to complete, seconds. */
    timeout_s: number;
    max_fragments: number;
    max_datagrams: number;
  };
  /** TCP reassembly bounds (see reassembly/). */
  stream: {
    /** Bytes reassembled per direction of a connection (0: no limit). */
    depth: number;
    /** Bytes of out-of-order segments held by all connections together. */
    memcap: number;
    /** Bytes of HTTP/DNS parser buffers, and apart of TLS handshake buffers, at most. */
    parser_memcap: number;
  };
  log_level: typeof LOG_LEVELS[number];
  /**
   * After the first start (no known hosts yet), hosts seen within this many
   * seconds become known without a new_host alert (0: alert from the start).
   */
  new_host_learning_s: number;
  /** GeoIP and reverse DNS (see enrich/). */
  enrich: OpenEnricherOptions;
  /** Blocking with nftables (see respond/). */
  blocking: BlockPolicy;
  /** Notification channels (see notify/). */
  notify: NotifyConfig;
  /** Threat-intelligence feeds (see intel/). */
  intel: IntelConfig;
  /** Suricata-language signatures (see rules/). */
  rules: RulesConfig;
  /** Many sensors over one Redis (see fleet/). */
  fleet: FleetConfig;
  /** The detection policy (see alerts/policy.ts). */
  policy: Policy;
  /** The policy as written, to save it back with edits. */
  policyInput: unknown;
}

const TOP_KEYS = [
  "capture",
  "dashboard",
  "storage",
  "eve",
  "model",
  "limits",
  "defrag",
  "stream",
  "pcaps",
  "log_level",
  "new_host_learning",
  "geoip",
  "rdns",
  "blocking",
  "notify",
  "intel",
  "rules",
  "fleet",
  "policy",
] as const;

/**
 * Validates a config document (`unknown` from JSON). Every absent key takes
 * its default; an invalid value throws a ConfigError naming the field.
 */
export function parseConfig(input: unknown): AppConfig {
  const top = record(input ?? {}, "", TOP_KEYS);
  const cap = record(top.capture, "capture", [
    "interface",
    "filter",
    "snaplen",
    "promisc",
    "buffer_mb",
  ]);
  const dash = record(top.dashboard, "dashboard", ["listen", "cert", "key"]);
  const st = record(top.storage, "storage", [
    "alert_days",
    "host_days",
    "stats_days",
    "commit_interval_ms",
  ]);
  const eve = record(top.eve, "eve", [
    "enabled",
    "path",
    "max_mb",
    "files",
    "redis",
  ]);
  const model = record(top.model, "model", [
    "path",
    "retrain",
    "retrain_interval",
  ]);
  const df = record(top.defrag, "defrag", [
    "enabled",
    "memcap_mb",
    "timeout",
    "max_fragments",
    "max_datagrams",
  ]);
  const strm = record(top.stream, "stream", [
    "depth",
    "memcap",
    "parser_memcap",
  ]);
  const pc = record(top.pcaps, "pcaps", ["max_mb"]);
  const lim = record(top.limits, "limits", [
    "max_flows",
    "max_hosts",
    "ws_buffer_kb",
    "ws_clients",
  ]);
  const cert = optText(dash.cert, "dashboard.cert");
  const key = optText(dash.key, "dashboard.key");
  if ((cert === null) !== (key === null)) {
    throw new ConfigError(
      cert === null ? "dashboard.cert" : "dashboard.key",
      "HTTPS needs both cert and key",
    );
  }
  const iface = optText(cap.interface, "capture.interface", 64);
  if (iface !== null && !/^[\w.:@-]{1,64}$/.test(iface)) {
    throw new ConfigError(
      "capture.interface",
      `"${iface}" is not an interface name`,
    );
  }
  return {
    capture: {
      interface: iface,
      filter: text(cap.filter, "capture.filter", "", 2048),
      snaplen: int(cap.snaplen, "capture.snaplen", 262144, {
        min: 64,
        max: 262144,
      }),
      promisc: bool(cap.promisc, "capture.promisc", true),
      buffer_mb: int(cap.buffer_mb, "capture.buffer_mb", 8, {
        min: 1,
        max: 1024,
      }),
    },
    dashboard: {
      listen: listenAddr(dash.listen, "dashboard.listen", "0.0.0.0:8080"),
      cert,
      key,
    },
    storage: {
      alert_days: int(st.alert_days, "storage.alert_days", 30, {
        min: 1,
        max: 3650,
      }),
      host_days: int(st.host_days, "storage.host_days", 90, {
        min: 1,
        max: 3650,
      }),
      stats_days: int(st.stats_days, "storage.stats_days", 7, {
        min: 1,
        max: 3650,
      }),
      commit_interval_ms: int(
        st.commit_interval_ms,
        "storage.commit_interval_ms",
        1000,
        { min: 50, max: 60_000 },
      ),
    },
    eve: {
      enabled: bool(eve.enabled, "eve.enabled", true),
      path: text(eve.path, "eve.path", "eve.json", 1024),
      max_mb: int(eve.max_mb, "eve.max_mb", 50, { min: 1, max: 100_000 }),
      files: int(eve.files, "eve.files", 5, { min: 1, max: 100 }),
      redis: parseEveRedisConfig(eve.redis),
    },
    model: {
      path: optText(model.path, "model.path", 1024),
      retrain: bool(model.retrain, "model.retrain", false),
      retrain_interval_s: duration(
        model.retrain_interval,
        "model.retrain_interval",
        86400,
        { min: 600 },
      ),
    },
    limits: {
      max_flows: int(lim.max_flows, "limits.max_flows", 200_000, {
        min: 1000,
        max: 10_000_000,
      }),
      max_hosts: int(lim.max_hosts, "limits.max_hosts", 65_536, {
        min: 256,
        max: 10_000_000,
      }),
      ws_buffer_kb: int(lim.ws_buffer_kb, "limits.ws_buffer_kb", 256, {
        min: 16,
        max: 65_536,
      }),
      ws_clients: int(lim.ws_clients, "limits.ws_clients", 32, {
        min: 1,
        max: 1024,
      }),
    },
    pcaps: {
      max_mb: int(pc.max_mb, "pcaps.max_mb", 256, { min: 1, max: 1_000_000 }),
    },
    defrag: {
      enabled: bool(df.enabled, "defrag.enabled", true),
      memcap_mb: int(df.memcap_mb, "defrag.memcap_mb", 16, {
        min: 1,
        max: 1024,
      }),
      timeout_s: duration(df.timeout, "defrag.timeout", 30, {
        min: 1,
        max: 600,
      }),
      max_fragments: int(df.max_fragments, "defrag.max_fragments", 256, {
        min: 2,
        max: 8192,
      }),
      max_datagrams: int(df.max_datagrams, "defrag.max_datagrams", 4096, {
        min: 16,
        max: 1_000_000,
      }),
    },
    stream: {
      depth: byteSize(strm.depth, "stream.depth", DEFAULT_STREAM_DEPTH, {
        min: 0,
        max: 1 << 30,
      }),
      memcap: byteSize(strm.memcap, "stream.memcap", DEFAULT_STREAM_MEMCAP, {
        min: 1 << 20,
        max: 4 * 2 ** 30,
      }),
      parser_memcap: byteSize(
        strm.parser_memcap,
        "stream.parser_memcap",
        DEFAULT_PARSER_MEMCAP,
        { min: 1 << 20, max: 2 ** 30 },
      ),
    },
    log_level: oneOf(top.log_level, "log_level", LOG_LEVELS, "info"),
    new_host_learning_s: duration(
      top.new_host_learning,
      "new_host_learning",
      600,
      { min: 0, max: 30 * 86400 },
    ),
    enrich: parseEnrichConfig({ geoip: top.geoip, rdns: top.rdns }),
    blocking: parseBlockPolicy(top.blocking, "blocking"),
    notify: parseNotifyConfig(top.notify),
    intel: parseIntelConfig(top.intel),
    rules: parseRulesConfig(top.rules),
    fleet: parseFleetConfig(top.fleet),
    policy: parsePolicy(top.policy ?? {}),
    policyInput: top.policy ?? {},
  };
}

/**
 * Reads and validates the config file. A missing file gives the defaults
 * (first start); an unreadable or invalid one is an error naming the file.
 */
export async function loadConfig(
  path: string,
): Promise<
  { config: AppConfig; raw: Record<string, unknown>; found: boolean }
> {
  let textIn: string;
  try {
    textIn = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { config: parseConfig({}), raw: {}, found: false };
    }
    throw new UserError(
      `Cannot read config "${path}": ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(textIn);
  } catch (e) {
    throw new UserError(
      `Cannot read config "${path}": not JSON: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  try {
    return {
      config: parseConfig(raw),
      raw: raw as Record<string, unknown>,
      found: true,
    };
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new UserError(`${path}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * Writes the config document atomically (temporary file, then rename), so
 * a crash never leaves half a file. Mode 0600: it holds the notification
 * channels' secrets.
 */
export async function saveConfig(path: string, raw: unknown): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(raw, null, 2) + "\n", {
    mode: 0o600,
  });
  // The mode is applied on creation only, and a stale file may be left over.
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}

/** The default config path: `config.json` in the data directory. */
export function defaultConfigPath(dataDir: string): string {
  return join(dataDir, CONFIG_FILE);
}

/**
 * The block policy in force: `blocking` with the detection policy's
 * allow-listed sources added to the CIDRs never blocked.
 */
export function effectiveBlockPolicy(c: AppConfig): BlockPolicy {
  const extra = c.policy.allowlist.sources.map((x) => x.text);
  return {
    ...c.blocking,
    allow: [...new Set([...c.blocking.allow, ...extra])],
  };
}
