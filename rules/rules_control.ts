/**
 * What the dashboard's Rules page and `/api/rules` show and change: counts
 * per category (loaded, refused, disabled), the rules that fired most, the
 * refused rules with their reasons, and enabling or disabling one sid or a
 * whole category (saved in the config's `rules` section, then the set is
 * reloaded).
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { isRecord, show } from "../common/validate.ts";
import type { RuleSet } from "./rule_set.ts";
import { parseRulesConfig, type RulesConfig } from "./rules_config.ts";

/** One category's counts. */
export interface RuleCategoryView {
  /** ET group ("SCAN") or the file name for other rules. */
  name: string;
  loaded: number;
  refused: number;
  /** Rules the config leaves out (the category or single sids). */
  disabled: number;
  /** True when the whole category is disabled in the config. */
  off: boolean;
}

/** A rule that fired. */
export interface FiringRuleView {
  sid: number;
  gid: number;
  rev: number;
  msg: string;
  category: string;
  group: string;
  hits: number;
}

/** A refused rule. */
export interface RefusedRuleView {
  file: string;
  line: number;
  sid: number | null;
  reason: string;
  group: string;
}

/** The Rules page's data (and `GET /api/rules`). */
export interface RulesView {
  enabled: boolean;
  loaded: number;
  refused: number;
  disabled: number;
  /** True when Emerging Threats rules (sids 2000000–2999999) are present. */
  et_open: boolean;
  /** Load time of the set in force, ms. */
  load_ms: number;
  categories: RuleCategoryView[];
  top: FiringRuleView[];
  /** The first 500 refused rules. */
  refused_rules: RefusedRuleView[];
  disabled_sids: number[];
  disabled_categories: string[];
  update_url: string;
}

/** Builds the view of a rule set (null: signatures off). */
export function rulesView(set: RuleSet | null, cfg: RulesConfig): RulesView {
  const cats = new Map<string, RuleCategoryView>();
  const cat = (name: string) => {
    let c = cats.get(name);
    if (c === undefined) {
      c = {
        name,
        loaded: 0,
        refused: 0,
        disabled: 0,
        off: cfg.disabled_categories.includes(name.toLowerCase()),
      };
      cats.set(name, c);
    }
    return c;
  };
  let et = false;
  const top: FiringRuleView[] = [];
  if (set !== null) {
    const e = set.engine;
    for (const r of e.rules) {
      cat(r.group).loaded++;
      if (r.sid >= 2000000 && r.sid < 3000000) et = true;
      const hits = e.hits[r.idx] ?? 0;
      if (hits > 0) {
        top.push({
          sid: r.sid,
          gid: r.gid,
          rev: r.rev,
          msg: r.msg,
          category: r.category,
          group: r.group,
          hits,
        });
      }
    }
    for (const r of set.disabledByConfig) {
      cat(r.group).disabled++;
      if (r.sid >= 2000000 && r.sid < 3000000) et = true;
    }
    for (const r of set.load.refused) cat(r.group).refused++;
  }
  for (const name of cfg.disabled_categories) {
    if (![...cats.keys()].some((k) => k.toLowerCase() === name)) {
      cat(name.toUpperCase()).off = true;
    }
  }
  top.sort((a, b) => b.hits - a.hits || a.sid - b.sid);
  return {
    enabled: cfg.enabled,
    loaded: set?.engine.rules.length ?? 0,
    refused: set?.load.refused.length ?? 0,
    disabled: set?.disabledByConfig.length ?? 0,
    et_open: et,
    load_ms: Math.round(set?.loadMs ?? 0),
    categories: [...cats.values()].sort((a, b) =>
      b.loaded + b.disabled - (a.loaded + a.disabled) ||
      a.name.localeCompare(b.name)
    ),
    top: top.slice(0, 20),
    refused_rules: (set?.load.refused ?? []).slice(0, 500).map((r) => ({
      file: r.file.replace(/^.*[\\/]/, ""),
      line: r.line,
      sid: r.sid,
      reason: r.detail,
      group: r.group,
    })),
    disabled_sids: [...cfg.disabled_sids],
    disabled_categories: [...cfg.disabled_categories],
    update_url: cfg.update_url,
  };
}

/** A change asked for: one sid or one category, on or off. */
export interface RuleToggle {
  sid?: number;
  category?: string;
  enabled: boolean;
}

/** Validates a toggle request body. */
export function parseRuleToggle(v: unknown): RuleToggle {
  if (!isRecord(v)) {
    throw new ConfigError("", `expected an object, got ${show(v)}`);
  }
  for (const k of Object.keys(v)) {
    if (!["sid", "category", "enabled"].includes(k)) {
      throw new ConfigError(k, "unknown key (known: sid, category, enabled)");
    }
  }
  if (typeof v.enabled !== "boolean") {
    throw new ConfigError(
      "enabled",
      `expected true or false, got ${show(v.enabled)}`,
    );
  }
  if ((v.sid === undefined) === (v.category === undefined)) {
    throw new ConfigError("sid", "give either sid or category");
  }
  if (v.sid !== undefined) {
    if (
      typeof v.sid !== "number" || !Number.isInteger(v.sid) || v.sid < 1 ||
      v.sid > 2 ** 32 - 1
    ) throw new ConfigError("sid", `expected a rule sid, got ${show(v.sid)}`);
    return { sid: v.sid, enabled: v.enabled };
  }
  if (
    typeof v.category !== "string" ||
    !/^[A-Za-z0-9_.-]{1,128}$/.test(v.category)
  ) {
    throw new ConfigError(
      "category",
      `expected a category name, got ${show(v.category)}`,
    );
  }
  return { category: v.category.toLowerCase(), enabled: v.enabled };
}

/**
 * Applies a toggle to the config's `rules` section (raw JSON) and returns
 * the new section, validated.
 */
export function toggleRules(
  rawRules: unknown,
  t: RuleToggle,
): Record<string, unknown> {
  const raw: Record<string, unknown> = isRecord(rawRules)
    ? { ...rawRules }
    : {};
  const nums = (k: string) =>
    Array.isArray(raw[k])
      ? (raw[k] as unknown[]).filter((x) => typeof x === "number") as number[]
      : [];
  const strs = (k: string) =>
    Array.isArray(raw[k])
      ? (raw[k] as unknown[]).filter((x) => typeof x === "string") as string[]
      : [];
  if (t.sid !== undefined) {
    const off = new Set(nums("disabled_sids"));
    const on = new Set(nums("enabled_sids"));
    if (t.enabled) {
      off.delete(t.sid);
      on.add(t.sid);
    } else {
      off.add(t.sid);
      on.delete(t.sid);
    }
    raw.disabled_sids = [...off].sort((a, b) => a - b);
    raw.enabled_sids = [...on].sort((a, b) => a - b);
  } else {
    const cats = new Set(
      strs("disabled_categories").map((c) => c.toLowerCase()),
    );
    if (t.enabled) cats.delete(t.category!);
    else cats.add(t.category!);
    raw.disabled_categories = [...cats].sort();
  }
  parseRulesConfig(raw);
  return raw;
}

/** What the server calls (the appliance implements it). */
export interface RulesControl {
  view(): RulesView;
  /** Applies a toggle request (validated here), saves and reloads. */
  toggle(body: unknown): Promise<RulesView>;
}
