/**
 * The block policy: which alerts block, for how long, escalation for repeat
 * offenders, the cap against mass blocking, dry-run. It lives under the
 * `blocking` key of the main policy file; the main parser calls
 * {@link parseBlockPolicy} on that value.
 *
 * ```json
 * "blocking": {
 *   "enabled": true,
 *   "dry_run": false,
 *   "types": ["port_scan", "host_sweep", "brute_force", "syn_flood", "udp_flood", "icmp_flood"],
 *   "severities": [1, 2],
 *   "durations": ["1h", "4h", "24h"],
 *   "repeat_window": "7d",
 *   "max_blocks_per_minute": 20,
 *   "flood_types": ["syn_flood", "udp_flood", "icmp_flood"],
 *   "allow": ["192.168.1.0/24"],
 *   "manual_duration": "24h"
 * }
 * ```
 *
 * Every key is optional (defaults: {@link DEFAULT_BLOCK_POLICY}); durations
 * are seconds or text ("90s", "15m", "4h", "7d"); unknown keys are errors.
 *
 * Confirmed sources: an alert blocks only when its source is believed to
 * be real. Detectors say so in `netsentinel.evidence.confirmed_source`
 * (true: completed a handshake or sent enough two-way traffic; false:
 * possibly spoofed). When the field is missing, alerts of the
 * `flood_types` count as unconfirmed (a flood's source is easy to spoof)
 * and all other types as confirmed.
 *
 * @module
 */
import { ALERT_TYPES, type AlertType, type Severity } from "../alerts/alert.ts";
import { parseSeverity } from "../alerts/policy.ts";
import { ConfigError } from "../common/errors.ts";
import {
  bool,
  duration,
  int,
  list,
  oneOf,
  record,
  show,
  text,
} from "../common/validate.ts";
import { parseTarget } from "../store/mod.ts";

/** The block policy, durations in seconds. */
export interface BlockPolicy {
  /** False: alerts never block (manual blocks still work). */
  readonly enabled: boolean;
  /** True: log and record what would be blocked, never touch nftables. */
  readonly dry_run: boolean;
  /** Alert types that may block. */
  readonly types: readonly AlertType[];
  /** Severities that block (1 high … 4 informational). */
  readonly severities: readonly Severity[];
  /**
   * Categories whose `signature` alerts block: classtype short names
   * (`trojan-activity`) or descriptions (`A Network Trojan was detected`);
   * none by default (a signature alone never blocks).
   */
  readonly signature_categories: readonly string[];
  /** Block durations by offence within the repeat window (escalation); the last repeats. */
  readonly durations: readonly number[];
  /** How long earlier blocks count for escalation, seconds. */
  readonly repeat_window: number;
  /** Most automatic blocks in any 60 s; more are refused ("rate_limited"). */
  readonly max_blocks_per_minute: number;
  /** Types whose source counts as unconfirmed when `confirmed_source` is missing. */
  readonly flood_types: readonly AlertType[];
  /** CIDRs never blocked, besides the allowlist kept in KV (normalised text). */
  readonly allow: readonly string[];
  /** Duration of a manual block without `--for`, seconds. */
  readonly manual_duration: number;
  /**
   * Ports of this host's SSH server: the peers of its established sessions
   * are never blocked (whoever is logged in to the box); [] turns it off.
   */
  readonly ssh_ports: readonly number[];
}

/**
 * Alert types that never block, whatever `types` says: their source is an
 * address a MAC claimed (spoofing) or a server that handed out addresses,
 * so blocking it would cut off the victim or the clients it configured.
 */
export const NEVER_BLOCK_TYPES: readonly AlertType[] = Object.freeze([
  "arp_spoof",
  "nd_spoof",
  "rogue_ra",
  "rogue_dhcp",
] as AlertType[]);

/** The defaults, used for every key the policy leaves out. */
export const DEFAULT_BLOCK_POLICY: BlockPolicy = Object.freeze({
  enabled: true,
  dry_run: false,
  types: Object.freeze([
    "port_scan",
    "host_sweep",
    "brute_force",
    "syn_flood",
    "udp_flood",
    "icmp_flood",
    "intel",
  ] as AlertType[]),
  severities: Object.freeze([1, 2] as Severity[]),
  signature_categories: Object.freeze([] as string[]),
  durations: Object.freeze([3600, 4 * 3600, 24 * 3600]),
  repeat_window: 7 * 86400,
  max_blocks_per_minute: 20,
  flood_types: Object.freeze(
    ["syn_flood", "udp_flood", "icmp_flood"] as AlertType[],
  ),
  allow: Object.freeze([] as string[]),
  manual_duration: 24 * 3600,
  ssh_ports: Object.freeze([22]),
});

const KEYS = Object.keys(DEFAULT_BLOCK_POLICY);

/**
 * Validates the `blocking` value of a policy. `undefined` or `null` gives
 * the defaults. Throws a {@link ConfigError} naming the field
 * (`blocking.durations[1]`, …) on the first problem.
 *
 * @example
 * ```ts
 * const blocking = parseBlockPolicy(raw.blocking); // in the main policy parser
 * ```
 */
export function parseBlockPolicy(
  input: unknown,
  field = "blocking",
): BlockPolicy {
  if (input === undefined || input === null) return DEFAULT_BLOCK_POLICY;
  const o = record(input, field, KEYS);
  const d = DEFAULT_BLOCK_POLICY;
  const f = (k: string) => `${field}.${k}`;
  const frozen = <T>(
    k: string,
    fallback: readonly T[],
    item: (v: unknown, field: string) => T,
  ): readonly T[] => Object.freeze(list(o[k], f(k), fallback, item));
  const alertType = (v: unknown, p: string) => oneOf(v, p, ALERT_TYPES);
  const blockType = (v: unknown, p: string) => {
    const t = alertType(v, p);
    if (NEVER_BLOCK_TYPES.includes(t)) {
      throw new ConfigError(
        p,
        `"${t}" alerts never block: their address is one a MAC claimed or a server handed out, and blocking it would cut off the victim (remove it from the list)`,
      );
    }
    return t;
  };
  const durations = frozen(
    "durations",
    d.durations,
    (v, p) => seconds(v, p, 1),
  );
  if (durations.length === 0) {
    throw new ConfigError(f("durations"), "needs at least one duration");
  }
  return Object.freeze({
    enabled: bool(o.enabled, f("enabled"), d.enabled),
    dry_run: bool(o.dry_run, f("dry_run"), d.dry_run),
    types: frozen("types", d.types, blockType),
    severities: frozen("severities", d.severities, parseSeverity),
    signature_categories: frozen(
      "signature_categories",
      d.signature_categories,
      (v, p) => text(v, p, undefined, 128),
    ),
    durations,
    repeat_window: seconds(
      o.repeat_window,
      f("repeat_window"),
      0,
      d.repeat_window,
    ),
    max_blocks_per_minute: int(
      o.max_blocks_per_minute,
      f("max_blocks_per_minute"),
      d.max_blocks_per_minute,
      { max: Infinity },
    ),
    flood_types: frozen("flood_types", d.flood_types, alertType),
    allow: frozen("allow", d.allow, target),
    manual_duration: seconds(
      o.manual_duration,
      f("manual_duration"),
      1,
      d.manual_duration,
    ),
    ssh_ports: frozen(
      "ssh_ports",
      d.ssh_ports,
      (v, p) => int(v, p, undefined, { min: 1, max: 65535 }),
    ),
  });
}

/** A duration of at least `min` seconds, "ms" allowed, no upper bound. */
function seconds(
  v: unknown,
  field: string,
  min: number,
  fallback?: number,
): number {
  return duration(v, field, fallback, { min, max: Infinity, ms: true });
}

/** A block target: an address or CIDR, normalised as the blocklist keeps it. */
function target(v: unknown, field: string): string {
  const t = typeof v === "string" ? parseTarget(v) : null;
  if (t === null) {
    throw new ConfigError(field, `${show(v)} is not an address or CIDR`);
  }
  return t.text;
}

/**
 * Block duration in seconds for an offender blocked `previous` times within
 * the repeat window (0 for a first offence): 1h → 4h → 24h with the
 * defaults, the last step repeating.
 */
export function escalatedDuration(
  policy: BlockPolicy,
  previous: number,
): number {
  const i = Math.min(Math.max(0, previous), policy.durations.length - 1);
  return policy.durations[i]!;
}
