/**
 * `rules check FILE|DIR...`: loads Suricata-language rule files as the
 * appliance would and reports what loaded and what was refused, by reason
 * (`--list` names every refused rule with its file, line and sid).
 *
 * @module
 */
import { UsageError } from "../common/errors.ts";
import { printOut } from "../common/output.ts";
import {
  countByReason,
  emptyLoadResult,
  loadClassifications,
  loadRulePaths,
  ruleVars,
  SHIPPED_RULES_DIR,
} from "../rules/mod.ts";
import { join } from "node:path";
import { bool, type Command, type Flags } from "./command.ts";

/** Output of a check, as `--json` prints it. */
export interface RulesCheckReport {
  loaded: number;
  refused: number;
  disabled: number;
  files: number;
  refused_by_reason: Record<string, number>;
  refused_rules: Array<
    { file: string; line: number; sid: number | null; reason: string }
  >;
  file_errors: Array<{ file: string; error: string }>;
}

/** Loads `paths` and builds the report (variables: Suricata's defaults). */
export async function checkRules(paths: string[]): Promise<RulesCheckReport> {
  const classes = await loadClassifications(
    join(SHIPPED_RULES_DIR, "classification.config"),
  );
  const r = await loadRulePaths(
    paths,
    { vars: ruleVars(null), classes },
    emptyLoadResult(),
  );
  return {
    loaded: r.rules.length,
    refused: r.refused.length,
    disabled: r.disabled,
    files: r.files.length,
    refused_by_reason: Object.fromEntries(countByReason(r.refused)),
    refused_rules: r.refused.map((x) => ({
      file: x.file,
      line: x.line,
      sid: x.sid,
      reason: x.detail,
    })),
    file_errors: r.fileErrors,
  };
}

/** The `rules` command. */
export const rulesCommand: Command = {
  name: "rules",
  summary: "check Suricata-language rule files (what loads, what is refused)",
  positionals: true,
  options: {
    list: { type: "boolean" },
    json: { type: "boolean" },
  },
  help: `Usage: netsentinel rules check [options] FILE|DIR...

Loads rule files (a directory: its *.rules files) as the appliance does and
prints how many rules loaded and how many were refused, by reason. A bad rule
never stops the others. Rules commented out in the files count as disabled.

Options:
  --list        also list every refused rule: file:line, sid and reason
  --json        print the report as JSON
  -h, --help    show this help

Exit codes: 0 at least one rule loaded, 1 nothing loaded (or a path could
not be read), 2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    const [sub, ...paths] = positionals;
    if (sub !== "check") {
      throw new UsageError(
        sub === undefined
          ? "rules: missing subcommand (rules check FILE|DIR...)"
          : `rules: unknown subcommand "${sub}" (try --help)`,
      );
    }
    if (paths.length === 0) {
      throw new UsageError("rules check: no rule file given (try --help)");
    }
    const rep = await checkRules(paths);
    if (bool(flags, "json")) {
      printOut(JSON.stringify(rep, null, 2));
    } else {
      const lines: string[] = [];
      for (const e of rep.file_errors) {
        lines.push(`cannot read ${e.file}: ${e.error}`);
      }
      lines.push(
        `${rep.loaded} loaded, ${rep.refused} refused, ${rep.disabled} ` +
          `commented out, in ${rep.files} file(s)`,
      );
      for (const [reason, n] of Object.entries(rep.refused_by_reason)) {
        lines.push(`  ${String(n).padStart(6)}  ${reason}`);
      }
      if (bool(flags, "list")) {
        for (const x of rep.refused_rules) {
          lines.push(`${x.file}:${x.line}  sid ${x.sid ?? "?"}  ${x.reason}`);
        }
      }
      printOut(lines.join("\n"));
    }
    return rep.loaded === 0 || rep.file_errors.length > 0 ? 1 : 0;
  },
};
