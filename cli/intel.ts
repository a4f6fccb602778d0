/**
 * `intel update [NAME...]` and `intel lookup VALUE`: update the threat
 * feeds into the data directory now (a running appliance picks the new
 * copies up within 5 s), and say which feeds list an address, domain,
 * fingerprint, certificate hash or URL, with the line and since when.
 *
 * @module
 */
import { resolveDataDir } from "../common/data_dir.ts";
import { UsageError, UserError } from "../common/errors.ts";
import { printOut } from "../common/output.ts";
import { VERSION } from "../common/version.ts";
import { defaultConfigPath, loadConfig } from "../appliance/config.ts";
import { type IntelHit, IntelService } from "../intel/mod.ts";
import { DATA_HELP, DATA_OPTION } from "./_store_cli.ts";
import { bool, type Command, type Flags, str } from "./command.ts";
import { terminalSafe } from "./alert_format.ts";

async function service(flags: Flags): Promise<IntelService> {
  const dataDir = await resolveDataDir(str(flags, "data"));
  const path = str(flags, "config") ?? defaultConfigPath(dataDir);
  const { config } = await loadConfig(path);
  return new IntelService({
    config: config.intel,
    dataDir,
    fetch,
    userAgent: `NetSentinel/${VERSION}`,
  });
}

function hitLine(h: IntelHit): string {
  const since = h.listed_since
    ? `listed since ${h.listed_since}`
    : h.copy_of
    ? `in the copy of ${h.copy_of}`
    : "";
  return `${h.feed}: ${h.indicator} (${h.kind}) line ${h.line_no}: ${
    terminalSafe(h.line)
  }${since ? `; ${since}` : ""}`;
}

/** The `intel` command. */
export const intelCommand: Command = {
  name: "intel",
  summary: "update the threat feeds now; which feeds list a value",
  help: `Usage: netsentinel intel update [NAME...] [options]
       netsentinel intel lookup VALUE [options]

update: downloads every enabled feed of the config's "intel" section (or the
named ones) into the data directory now, with the same checks as the
schedule (ETag/If-Modified-Since, size and count limits; a broken or
shrunken feed keeps the last good copy). A running appliance picks up new
copies within 5 s. Exit code 1 when a feed could not be updated.

lookup: which stored feeds list VALUE: an IP address (longest prefix), a
domain (or a parent domain), a JA3 or JA4 fingerprint, a certificate SHA-1,
or a URL; with the feed's line and since when. Exit code 1 when none does.

Options:
${DATA_HELP}
  --json                 print JSON`,
  options: { ...DATA_OPTION, json: { type: "boolean" } },
  positionals: true,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    const [sub, ...rest] = positionals;
    const json = bool(flags, "json");
    if (sub === "update") {
      const svc = await service(flags);
      const names = rest.length > 0 ? rest : svc.feeds.map((f) => f.name);
      for (const n of names) {
        if (!svc.config.feeds.some((f) => f.name === n)) {
          throw new UsageError(
            `intel update: no feed named "${n}" (configured: ${
              svc.config.feeds.map((f) => f.name).join(", ") || "none"
            })`,
          );
        }
      }
      if (names.length === 0) {
        throw new UserError(
          `No feed to update: the config's "intel" section enables none`,
        );
      }
      let failed = 0;
      const results = [];
      for (const n of names) {
        const r = await svc.update(n);
        results.push({
          feed: n,
          outcome: r.outcome,
          message: r.message,
          ...r.status,
        });
        if (r.outcome === "failed" || r.outcome === "kept") failed++;
        if (!json) printOut(r.message);
      }
      if (json) printOut(JSON.stringify(results));
      return failed > 0 ? 1 : 0;
    }
    if (sub === "lookup") {
      if (rest.length !== 1) {
        throw new UsageError(
          "intel lookup: give exactly one value (try --help)",
        );
      }
      const svc = await service(flags);
      await svc.load();
      const hits = svc.index.lookup(rest[0]!);
      if (json) printOut(JSON.stringify(hits));
      else if (hits.length === 0) {
        printOut(
          `${
            terminalSafe(rest[0]!)
          }: on no feed (${svc.index.feeds.length} feeds loaded, ${svc.index.entries} indicators)`,
        );
      } else for (const h of hits) printOut(hitLine(h));
      return hits.length > 0 ? 0 : 1;
    }
    throw new UsageError(
      sub === undefined
        ? "intel: give a subcommand: update or lookup (try --help)"
        : `intel: unknown subcommand "${sub}" (update or lookup)`,
    );
  },
};
