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
import { defaultConfigPath, loadConfig } from "../appliance/config.ts";
import { resolveDataDir } from "../common/data_dir.ts";
import { RULES_DIR, updateRules } from "../rules/mod.ts";
import { bool, type Command, type Flags, str } from "./command.ts";

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
    file: { type: "string" },
    url: { type: "string" },
    data: { type: "string" },
    config: { type: "string" },
  },
  help: `Usage: netsentinel rules check [--list] [--json] FILE|DIR...
       netsentinel rules update [--file TARBALL] [--url URL] [--data DIR]

Loads rule files (a directory: its *.rules files) as the appliance does and
prints how many rules loaded and how many were refused, by reason. A bad rule
never stops the others. Rules commented out in the files count as disabled.

"rules update" downloads Emerging Threats Open for Suricata 7
(rules.update_url in the config), checks its published MD5, unpacks its
rules into the data directory's rules/ folder and keeps the previous set
when anything fails. A running appliance loads the new set within a minute.

Options:
  --list           check: also list every refused rule (file:line, sid, reason)
  --json           check: print the report as JSON
  --file TARBALL   update: use this emerging.rules.tar.gz instead of
                   downloading (TARBALL.md5 is checked when present)
  --url URL        update: download from URL (and URL.md5)
  --data DIR       update: data directory (default: /var/lib/netsentinel as
                   root when writable, else ./netsentinel-data)
  --config FILE    update: config file (default: config.json in the data
                   directory)
  -h, --help       show this help

Exit codes: check: 0 at least one rule loaded, 1 nothing loaded (or a path
could not be read); update: 0 updated, 1 failed (previous set kept);
2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    const [sub, ...paths] = positionals;
    if (sub === "update") {
      if (paths.length > 0) {
        throw new UsageError(`rules update: unexpected argument "${paths[0]}"`);
      }
      return await runUpdate(flags);
    }
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

async function runUpdate(flags: Flags): Promise<number> {
  const dataDir = await resolveDataDir(str(flags, "data"));
  const { config } = await loadConfig(
    str(flags, "config") ?? defaultConfigPath(dataDir),
  );
  await Deno.mkdir(dataDir, { recursive: true });
  const file = str(flags, "file");
  const r = await updateRules({
    dir: join(dataDir, RULES_DIR),
    url: str(flags, "url") ?? config.rules.update_url,
    ...(file !== undefined ? { file } : {}),
  });
  printOut(
    `Updated ${join(dataDir, RULES_DIR)} from ${r.source}` +
      (r.md5
        ? ` (MD5 ${r.md5} checked)`
        : " (no .md5 beside it: not checked)") +
      `: ${r.loaded} rules load, ${r.refused} refused, in ${r.files} files`,
  );
  return 0;
}
