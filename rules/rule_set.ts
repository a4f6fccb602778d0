/**
 * A loaded rule set: the shipped rules (`data/rules/*.rules`) and any rule
 * files or directories given, with variables from the policy's `home_net`
 * and the config, minus the sids and categories the config disables,
 * compiled into one {@link RuleEngine}.
 *
 * @module
 */
import { join } from "node:path";
import { RuleEngine } from "./engine.ts";
import {
  emptyLoadResult,
  loadClassifications,
  type LoadResult,
  loadRulePaths,
} from "./load.ts";
import type { Rule } from "./rule.ts";
import { ruleVars } from "./rule_vars.ts";

/** The directory of the shipped rules (and classification.config). */
export const SHIPPED_RULES_DIR: string = join(
  import.meta.dirname ?? ".",
  "..",
  "data",
  "rules",
);

/** The data directory's rule folder: `rules update` unpacks ET Open there. */
export const RULES_DIR = "rules";

/** Options of {@link loadRuleSet}. */
export interface RuleSetOptions {
  /** Rule files and directories to load besides the shipped ones. */
  readonly paths?: readonly string[];
  /** Load the shipped rules (default true). */
  readonly shipped?: boolean;
  /** `HOME_NET` as CIDR texts (the policy's `home_net`). */
  readonly homeNet?: readonly string[];
  /** More variables, `NAME → expression` (config `rules.vars`). */
  readonly vars?: Readonly<Record<string, string>>;
  /** Sids never loaded. */
  readonly disabledSids?: readonly number[];
  /** Categories never loaded: ET group ("SCAN") or file name ("emerging-scan"). */
  readonly disabledCategories?: readonly string[];
  /** Sids loaded even when their category is disabled. */
  readonly enabledSids?: readonly number[];
}

/** A loaded set. */
export interface RuleSet {
  readonly engine: RuleEngine;
  readonly load: LoadResult;
  /** Rules loaded but left out by the config. */
  readonly disabledByConfig: Rule[];
  /** Milliseconds spent loading and compiling. */
  readonly loadMs: number;
}

/** The category names a rule answers to (ET group and file name). */
export function ruleCategories(r: Pick<Rule, "group" | "file">): string[] {
  const file = r.file.replace(/^.*[\\/]/, "").replace(/\.rules$/, "");
  return [r.group.toLowerCase(), file.toLowerCase()];
}

/** Loads, filters and compiles a rule set (see the module doc). */
export async function loadRuleSet(opts: RuleSetOptions = {}): Promise<RuleSet> {
  const t0 = performance.now();
  const classes = await loadClassifications(
    join(SHIPPED_RULES_DIR, "classification.config"),
  );
  const load = emptyLoadResult();
  const lo = {
    vars: ruleVars(opts.homeNet ?? null, opts.vars ?? {}),
    classes,
    flowbitIds: new Map<string, number>(),
  };
  const paths = [
    ...(opts.shipped ?? true ? [SHIPPED_RULES_DIR] : []),
    ...(opts.paths ?? []),
  ];
  await loadRulePaths(paths, lo, load);
  const offSids = new Set(opts.disabledSids ?? []);
  const onSids = new Set(opts.enabledSids ?? []);
  const offCats = new Set(
    (opts.disabledCategories ?? []).map((c) => c.toLowerCase()),
  );
  const keep: Rule[] = [];
  const off: Rule[] = [];
  for (const r of load.rules) {
    const disabled = offSids.has(r.sid) ||
      (!onSids.has(r.sid) && ruleCategories(r).some((c) => offCats.has(c)));
    (disabled ? off : keep).push(r);
  }
  const engine = new RuleEngine(keep, () => {});
  return {
    engine,
    load,
    disabledByConfig: off,
    loadMs: performance.now() - t0,
  };
}
