/**
 * `alerts`: stored alerts, filtered, as a table, EVE JSON or CSV; with
 * `--follow`, keeps printing new alerts as a running appliance commits them;
 * with `--groups`, the inbox's groups (store/inbox.ts) of a view instead.
 *
 * Following works across processes by polling: KV `watch` on a local
 * database does not see another process's writes (measured: nothing within
 * 4 s), but a read does, so the command reads the alert log head once a
 * second and prints the batches committed after the last one it printed.
 * No HTTP API or credentials needed, and nothing is missed between polls.
 *
 * @module
 */
import { type Alert, ALERT_TYPES } from "../alerts/alert.ts";
import { UsageError } from "../common/errors.ts";
import { ALERT_CSV_COLUMNS, alertCsvValues, csvRow } from "../alerts/mod.ts";
import { LineWriter } from "../common/output.ts";
import {
  followAlerts,
  getAlertHead,
  GROUP_VIEWS,
  listAlerts,
  listGroups,
  parseTarget,
} from "../store/mod.ts";
import { alertTableLine, groupTableLine } from "./alert_format.ts";
import {
  DATA_HELP,
  DATA_OPTION,
  openStoreFromFlags,
  parseSince,
} from "./_store_cli.ts";
import { bool, type Command, type Flags, num, oneOf, str } from "./command.ts";

const FORMATS = ["table", "eve", "csv"] as const;

/** The `alerts` command. */
export const alertsCommand: Command = {
  name: "alerts",
  summary: "list stored alerts (table, EVE JSON or CSV); --follow for new ones",
  options: {
    since: { type: "string" },
    type: { type: "string" },
    src: { type: "string" },
    limit: { type: "string" },
    format: { type: "string" },
    follow: { type: "boolean", short: "f" },
    "poll-ms": { type: "string" },
    groups: { type: "boolean" },
    view: { type: "string" },
    ...DATA_OPTION,
  },
  help: `Usage: netsentinel alerts [options]

Lists stored alerts, oldest first: the newest --limit of those matching the
filters. With --follow, then keeps printing new alerts as the appliance
commits them (works while it runs: the database is polled once a second),
until Ctrl-C.

Options:
  --since T              only alerts from T on: a time (2026-11-24,
                         2026-11-24T14:00Z) or a duration back from now
                         (15m, 2h, 7d)
  --type TYPE            only this alert type (${ALERT_TYPES.join(", ")})
  --src IP               only alerts from this source address
  --limit N              at most N alerts (default 50, at most 10000)
  --format table|eve|csv output format (default table); eve is one EVE
                         JSON object a line, csv has a header row and
                         formula-escaped cells
  -f, --follow           keep printing new alerts
  --poll-ms N            how often --follow reads the database (default 1000)
  --groups               list the inbox's groups instead (alerts of one type
                         and signature, source and target: count, last seen,
                         state), escalated first, then newest last seen
                         first; --type, --src, --since (of the last seen),
                         --limit and --format table|eve (eve: one group
                         object a line) apply
  --view VIEW            with --groups: ${
    GROUP_VIEWS.join(", ")
  } (default inbox)
${DATA_HELP}
  -h, --help             show this help`,
  async run(flags: Flags): Promise<number> {
    const format = oneOf(flags, "format", FORMATS, "table");
    const type = str(flags, "type");
    if (
      type !== undefined && !(ALERT_TYPES as readonly string[]).includes(type)
    ) {
      throw new UsageError(
        `--type: "${type}" is not one of ${ALERT_TYPES.join(", ")}`,
      );
    }
    const srcText = str(flags, "src");
    let src: string | undefined;
    if (srcText !== undefined) {
      const t = parseTarget(srcText);
      if (t === null || !t.single) {
        throw new UsageError(`--src: "${srcText}" is not an IP address`);
      }
      src = t.text;
    }
    const limit = num(flags, "limit", 50, {
      min: 1,
      max: 10_000,
      integer: true,
    });
    const sinceText = str(flags, "since");
    const since = sinceText === undefined
      ? undefined
      : parseSince(sinceText, Date.now());
    const follow = bool(flags, "follow");
    const pollMs = num(flags, "poll-ms", 1000, {
      min: 50,
      max: 60_000,
      integer: true,
    });

    const groups = bool(flags, "groups");
    const view = oneOf(flags, "view", GROUP_VIEWS, "inbox");
    if (!groups && str(flags, "view") !== undefined) {
      throw new UsageError("--view: only with --groups");
    }
    if (groups && follow) {
      throw new UsageError("--follow: not with --groups");
    }
    if (groups && format === "csv") {
      throw new UsageError("--format: table or eve with --groups");
    }

    using store = await openStoreFromFlags(flags, { create: false });
    const out = new LineWriter();
    if (groups) {
      const page = await listGroups(store, {
        view,
        ...(type === undefined ? {} : { type }),
        ...(src === undefined ? {} : { src }),
        ...(since === undefined ? {} : { since }),
        limit: Math.min(limit, 1000),
      });
      for (const g of page.groups) {
        out.line(format === "eve" ? JSON.stringify(g) : groupTableLine(g));
      }
      out.flush();
      return 0;
    }
    const print = (a: Alert) => {
      if (format === "eve") out.line(JSON.stringify(a));
      else if (format === "csv") out.line(csvRow(alertCsvValues(a)));
      else out.line(alertTableLine(a));
    };
    if (format === "csv") out.line(csvRow(ALERT_CSV_COLUMNS));
    // Take the head first: what is committed after it is followed, what
    // before it is listed; ids printed in both are printed once.
    const head = (await getAlertHead(store)).head;
    const page = await listAlerts(store, {
      since,
      type,
      src,
      limit,
      order: "newest",
    });
    const printed = new Set<string>();
    for (const a of page.alerts.reverse()) {
      print(a);
      printed.add(a.netsentinel.id);
    }
    out.flush();
    if (!follow) return 0;

    const ac = new AbortController();
    const stop = () => ac.abort();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    try {
      for await (
        const f of followAlerts(store, {
          from: head.seq,
          mode: "poll",
          intervalMs: pollMs,
          signal: ac.signal,
        })
      ) {
        const a = f.alert;
        if (!f.isNew || printed.has(a.netsentinel.id)) continue;
        if (type !== undefined && a.netsentinel.type !== type) continue;
        if (src !== undefined && a.src_ip !== src) continue;
        print(a);
        out.flush();
      }
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      out.flush();
    }
    return 0;
  },
};
