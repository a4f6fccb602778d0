/**
 * The config's `rules` section: extra rule paths, variables, disabled and
 * enabled sids and categories, and the ET Open update (address, schedule).
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import {
  bool,
  duration,
  int,
  isRecord,
  list,
  record,
  show,
  text,
} from "../common/validate.ts";

/** Where `rules update` downloads ET Open for the Suricata 7 rule dialect. */
export const ET_OPEN_URL =
  "https://rules.emergingthreats.net/open/suricata-7.0.3/emerging.rules.tar.gz";

/** The validated `rules` section. */
export interface RulesConfig {
  /** Signatures on (the shipped set and any loaded ones). */
  readonly enabled: boolean;
  /** Rule files and directories loaded besides the shipped set and the data directory's `rules/`. */
  readonly paths: readonly string[];
  /** Address and port variables, `NAME → expression`. */
  readonly vars: Readonly<Record<string, string>>;
  readonly disabled_sids: readonly number[];
  readonly enabled_sids: readonly number[];
  /** ET groups ("SCAN") or file names ("emerging-scan"), case-insensitive. */
  readonly disabled_categories: readonly string[];
  /** ET Open tarball address (its `.md5` beside it). */
  readonly update_url: string;
  /** Seconds between automatic updates (0: never). */
  readonly update_interval_s: number;
}

const VAR_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Validates the `rules` section (absent keys take their defaults). */
export function parseRulesConfig(v: unknown, field = "rules"): RulesConfig {
  const o = record(v, field, [
    "enabled",
    "paths",
    "vars",
    "disabled_sids",
    "enabled_sids",
    "disabled_categories",
    "update_url",
    "update_interval",
  ]);
  const sid = (x: unknown, f: string) =>
    int(x, f, undefined, { min: 1, max: 2 ** 32 - 1 });
  const vars: Record<string, string> = {};
  if (o.vars !== undefined) {
    if (!isRecord(o.vars)) {
      throw new ConfigError(
        `${field}.vars`,
        `expected an object, got ${show(o.vars)}`,
      );
    }
    for (const [k, val] of Object.entries(o.vars)) {
      if (!VAR_NAME.test(k)) {
        throw new ConfigError(
          `${field}.vars.${k}`,
          "is not a variable name (HOME_NET, HTTP_PORTS, …)",
        );
      }
      vars[k] = text(val, `${field}.vars.${k}`, undefined, 4096);
    }
  }
  const url = text(o.update_url, `${field}.update_url`, ET_OPEN_URL, 2048);
  if (!/^https?:\/\//.test(url)) {
    throw new ConfigError(
      `${field}.update_url`,
      `expected an http(s) address, got ${show(url)}`,
    );
  }
  return {
    enabled: bool(o.enabled, `${field}.enabled`, true),
    paths: list(
      o.paths,
      `${field}.paths`,
      [],
      (x, f) => text(x, f, undefined, 1024),
      256,
    ),
    vars,
    disabled_sids: list(
      o.disabled_sids,
      `${field}.disabled_sids`,
      [],
      sid,
      100_000,
    ),
    enabled_sids: list(
      o.enabled_sids,
      `${field}.enabled_sids`,
      [],
      sid,
      100_000,
    ),
    disabled_categories: list(
      o.disabled_categories,
      `${field}.disabled_categories`,
      [],
      (x, f) => text(x, f, undefined, 128).toLowerCase(),
      1000,
    ),
    update_url: url,
    update_interval_s: duration(
      o.update_interval,
      `${field}.update_interval`,
      86400,
      {
        min: 0,
        max: 365 * 86400,
      },
    ),
  };
}
