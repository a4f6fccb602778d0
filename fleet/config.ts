/**
 * The config of EVE to Redis (`eve.redis`, Suricata's `eve-log` keys with
 * `filetype: redis`: `server`, `port`, `mode`, `key`, `stream-maxlen`,
 * `stream-trim-exact`, `pipelining.batch-size`, written in snake_case) and
 * of the fleet (`fleet`): where Redis is (one server, or Sentinels and the
 * primary's name), the sensor's name, the key prefix, the heartbeat and
 * when a silent sensor is stale.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import {
  bool,
  duration,
  int,
  list,
  oneOf,
  optText,
  record,
  text,
} from "../common/validate.ts";
import type { EveRedisMode } from "./eve_redis.ts";
import type { RedisTarget } from "./resp.ts";

/** `eve.redis`. */
export interface EveRedisConfig {
  enabled: boolean;
  target: RedisTarget;
  mode: EveRedisMode;
  key: string;
  stream_maxlen: number;
  stream_trim_exact: boolean;
  batch_size: number;
}

/** `fleet`. */
export interface FleetConfig {
  enabled: boolean;
  /** The sensor's name (`host` in EVE records); default the host name. */
  sensor: string;
  target: RedisTarget;
  /** Prefix of every fleet key. */
  prefix: string;
  /** Seconds between heartbeats. */
  heartbeat_s: number;
  /** A sensor silent this long is stale, seconds. */
  stale_after_s: number;
  /** Fleet alerts kept in the stream (XADD MAXLEN ~). */
  alerts_maxlen: number;
}

const MODES: Record<string, EveRedisMode> = {
  list: "lpush",
  lpush: "lpush",
  rpush: "rpush",
  channel: "publish",
  publish: "publish",
  stream: "xadd",
  xadd: "xadd",
};

const TARGET_KEYS = [
  "server",
  "port",
  "sentinels",
  "master_name",
  "password",
  "db",
  "timeout",
] as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEY_RE = /^[\x21-\x7e]{1,200}$/;

function hostPort(v: unknown, field: string): string {
  const s = text(v, field, undefined, 300);
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new ConfigError(field, `"${s}" is not host:port`);
  }
  return s;
}

function parseTarget(r: Record<string, unknown>, field: string): RedisTarget {
  const host = text(r.server, `${field}.server`, "127.0.0.1", 255);
  if (!/^[A-Za-z0-9.:-]{1,255}$/.test(host)) {
    throw new ConfigError(
      `${field}.server`,
      `"${host}" is not a host name or address`,
    );
  }
  return {
    host,
    port: int(r.port, `${field}.port`, 6379, { min: 1, max: 65535 }),
    sentinels: list(r.sentinels, `${field}.sentinels`, [], hostPort, 16),
    masterName: text(r.master_name, `${field}.master_name`, "mymaster", 128),
    password: optText(r.password, `${field}.password`, 512),
    db: int(r.db, `${field}.db`, 0, { min: 0, max: 15 }),
    timeoutMs: duration(r.timeout, `${field}.timeout`, 2, {
      min: 0.05,
      max: 60,
      ms: true,
    }) * 1000,
  };
}

function key(v: unknown, field: string, fallback: string): string {
  const k = text(v, field, fallback, 200);
  if (!KEY_RE.test(k)) {
    throw new ConfigError(
      field,
      `"${k}" must be 1 to 200 printable characters without spaces`,
    );
  }
  return k;
}

/** Validates `eve.redis` (absent: disabled with Suricata's defaults). */
export function parseEveRedisConfig(v: unknown): EveRedisConfig {
  const r = record(v, "eve.redis", [
    "enabled",
    ...TARGET_KEYS,
    "mode",
    "key",
    "stream_maxlen",
    "stream_trim_exact",
    "batch_size",
  ]);
  const mode = oneOf(
    r.mode,
    "eve.redis.mode",
    Object.keys(MODES),
    "list",
  );
  return {
    enabled: bool(r.enabled, "eve.redis.enabled", false),
    target: parseTarget(r, "eve.redis"),
    mode: MODES[mode]!,
    key: key(r.key, "eve.redis.key", "suricata"),
    stream_maxlen: int(r.stream_maxlen, "eve.redis.stream_maxlen", 100_000, {
      min: 1,
      max: 1_000_000_000,
    }),
    stream_trim_exact: bool(
      r.stream_trim_exact,
      "eve.redis.stream_trim_exact",
      false,
    ),
    batch_size: int(r.batch_size, "eve.redis.batch_size", 100, {
      min: 1,
      max: 10_000,
    }),
  };
}

/** The default sensor name: the host name when it is a valid name, else "netsentinel". */
export function defaultSensorName(): string {
  try {
    const h = Deno.hostname();
    return NAME_RE.test(h) ? h : "netsentinel";
  } catch {
    return "netsentinel";
  }
}

/** Validates `fleet` (absent: disabled). */
export function parseFleetConfig(v: unknown): FleetConfig {
  const r = record(v, "fleet", [
    "enabled",
    "sensor",
    "redis",
    "prefix",
    "heartbeat",
    "stale_after",
    "alerts_maxlen",
  ]);
  const sensor = optText(r.sensor, "fleet.sensor", 64) ?? defaultSensorName();
  if (!NAME_RE.test(sensor)) {
    throw new ConfigError(
      "fleet.sensor",
      `"${sensor}" must be letters, digits, ".", "_", "-" (up to 64, starting with a letter or digit)`,
    );
  }
  const heartbeat = duration(r.heartbeat, "fleet.heartbeat", 5, {
    min: 0.2,
    max: 3600,
    ms: true,
  });
  const stale = duration(r.stale_after, "fleet.stale_after", 30, {
    min: 1,
    max: 86400,
    ms: true,
  });
  if (stale < 2 * heartbeat) {
    throw new ConfigError(
      "fleet.stale_after",
      `must be at least twice fleet.heartbeat (${heartbeat} s)`,
    );
  }
  return {
    enabled: bool(r.enabled, "fleet.enabled", false),
    sensor,
    target: parseTarget(
      record(r.redis, "fleet.redis", TARGET_KEYS),
      "fleet.redis",
    ),
    prefix: key(r.prefix, "fleet.prefix", "netsentinel:fleet"),
    heartbeat_s: heartbeat,
    stale_after_s: stale,
    alerts_maxlen: int(r.alerts_maxlen, "fleet.alerts_maxlen", 10_000, {
      min: 100,
      max: 10_000_000,
    }),
  };
}
