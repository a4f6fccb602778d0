/**
 * Loading rule files: lines (with `\` continuations), comments, every rule
 * loaded or refused with its file, line, sid and reason. A bad rule never
 * stops the others. Commented-out rules (`# alert …`) are counted as
 * disabled, as ET Open ships many of them.
 *
 * @module
 */
import { join } from "node:path";
import {
  type ClassType,
  type CompileCache,
  compileRule,
  newCompileCache,
  parseClassifications,
} from "./compile.ts";
import { RuleError, splitRule, type VarLookup } from "./parse.ts";
import type { Rule } from "./rule.ts";

/** A rule that was not loaded. */
export interface RefusedRule {
  readonly file: string;
  readonly line: number;
  /** The sid when it could be read, else null. */
  readonly sid: number | null;
  /** Group for counting ("unsupported keyword: xbits"). */
  readonly reason: string;
  /** The full message. */
  readonly detail: string;
  /** The ET category ("MALWARE") or the file's name. */
  readonly group: string;
}

/** What loading produced. */
export interface LoadResult {
  readonly rules: Rule[];
  readonly refused: RefusedRule[];
  /** Rules commented out in the files (not counted as refused). */
  disabled: number;
  /** Files read. */
  readonly files: string[];
  /** Files that could not be read, with the error. */
  readonly fileErrors: Array<{ file: string; error: string }>;
}

/** Options of {@link loadRuleText} and {@link loadRulePaths}. */
export interface LoadOptions {
  readonly vars: VarLookup;
  readonly classes: ReadonlyMap<string, ClassType>;
  /** Shared flowbit ids (one map per engine). */
  readonly flowbitIds?: Map<string, number>;
  /** Shared compiled expressions and patterns (one per load). */
  readonly cache?: CompileCache;
}

const RULE_START = /^(alert|drop|pass|reject|rejectsrc|rejectdst|rejectboth)\s/;
const COMMENTED = /^#+\s*(alert|drop|pass|reject)\s.*\bsid\s*:/;

/** A flat copy of a string (never a slice that keeps its parent alive). */
function flat(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** An empty result to fill. */
export function emptyLoadResult(): LoadResult {
  return { rules: [], refused: [], disabled: 0, files: [], fileErrors: [] };
}

/** Loads the rules of one file's text into `out`. */
export function loadRuleText(
  text: string,
  file: string,
  opts: LoadOptions,
  out: LoadResult = emptyLoadResult(),
): LoadResult {
  const flowbitIds = opts.flowbitIds ?? new Map<string, number>();
  const cache = opts.cache ?? newCompileCache();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!.trim();
    while (line.endsWith("\\") && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i]!.trim();
    }
    if (line === "") continue;
    if (line.startsWith("#")) {
      if (COMMENTED.test(line)) out.disabled++;
      continue;
    }
    const sidM = /[(;]\s*sid\s*:\s*(\d+)\s*;/.exec(line);
    const sid = sidM ? Number(sidM[1]) : null;
    const msgM = /msg\s*:\s*"((?:ET|GPL|ETPRO)\s+[A-Z_0-9]+)/.exec(line);
    // Copied, not sliced: a slice keeps the whole file's text alive.
    const group = flat(
      msgM
        ? msgM[1]!.split(/\s+/)[1]!
        : file.replace(/^.*[\\/]/, "").replace(/\.rules$/, ""),
    );
    try {
      if (!RULE_START.test(line)) {
        throw new RuleError("bad rule", "does not start with an action");
      }
      const rule = compileRule(splitRule(line), {
        vars: opts.vars,
        classes: opts.classes,
        flowbitIds,
        cache,
        file,
        line: start,
      });
      out.rules.push(rule);
    } catch (e) {
      if (!(e instanceof RuleError)) {
        // A bug in a keyword compiler must not stop the others either;
        // it is refused with the error, and shows as "internal error".
        out.refused.push({
          file,
          line: start,
          sid,
          reason: "internal error",
          detail: flat(String(e)),
          group,
        });
        continue;
      }
      out.refused.push({
        file,
        line: start,
        sid,
        reason: flat(
          e.reason.startsWith("unsupported") ? e.message : e.reason,
        ),
        detail: flat(e.message),
        group,
      });
    }
  }
  return out;
}

async function ruleFiles(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return [path];
  const names: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isFile && e.name.endsWith(".rules")) names.push(join(path, e.name));
  }
  return names.sort();
}

/**
 * Loads rule files and directories (their `*.rules` files). A path that
 * cannot be read is recorded in `fileErrors`; the others still load.
 */
export async function loadRulePaths(
  paths: readonly string[],
  opts: LoadOptions,
  out: LoadResult = emptyLoadResult(),
): Promise<LoadResult> {
  const o = {
    ...opts,
    flowbitIds: opts.flowbitIds ?? new Map(),
    cache: opts.cache ?? newCompileCache(),
  };
  for (const p of paths) {
    let files: string[];
    try {
      files = await ruleFiles(p);
    } catch (e) {
      out.fileErrors.push({ file: p, error: (e as Error).message });
      continue;
    }
    for (const f of files) {
      let text: string;
      try {
        text = await Deno.readTextFile(f);
      } catch (e) {
        out.fileErrors.push({ file: f, error: (e as Error).message });
        continue;
      }
      out.files.push(f);
      loadRuleText(text, f, o, out);
    }
  }
  return out;
}

/** Path of the shipped classification.config. */
export const CLASSIFICATION_FILE: string = join(
  import.meta.dirname ?? ".",
  "..",
  "data",
  "rules",
  "classification.config",
);

/** Reads the shipped classification.config (Suricata's). */
export async function loadClassifications(
  path: string = CLASSIFICATION_FILE,
): Promise<Map<string, ClassType>> {
  return parseClassifications(await Deno.readTextFile(path));
}

/** Refused rules counted by reason, most frequent first. */
export function countByReason(
  refused: readonly RefusedRule[],
): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const r of refused) m.set(r.reason, (m.get(r.reason) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
