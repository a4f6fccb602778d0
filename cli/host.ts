/**
 * `host IP`: what NetSentinel knows about an address: traffic first and
 * last seen, where it is (GeoIP, from the local database: no network), its
 * reverse name (as stored, or looked up with `--resolve`), its alerts, and
 * whether it is blocked, allowlisted or was refused a block.
 *
 * @module
 */
import type { AlertGeo } from "../alerts/alert.ts";
import { UsageError } from "../common/errors.ts";
import { cidrContains } from "../decode/mod.ts";
import { alertGeo, openGeo, ReverseDns } from "../enrich/mod.ts";
import {
  alertBySrcPrefix,
  getDecision,
  getHost,
  getOffender,
  listAlerts,
  listAllow,
  listBlocks,
  parseTarget,
  type Store,
} from "../store/mod.ts";
import { formatDuration } from "../respond/mod.ts";
import { alertTableLine, terminalSafe } from "./alert_format.ts";
import { DATA_HELP, DATA_OPTION, openStoreFromFlags } from "./_store_cli.ts";
import { bool, type Command, type Flags, num } from "./command.ts";
import { printOut } from "../common/output.ts";

/** Everything `host` reports, as `--json` prints it. */
export interface HostReport {
  ip: string;
  known: boolean;
  first_seen: string | null;
  last_seen: string | null;
  bytes: number | null;
  packets: number | null;
  bytes_in: number | null;
  bytes_out: number | null;
  geo: AlertGeo | null;
  /** Where the address is not looked up: "LAN", "loopback", … */
  scope: string | null;
  rdns: string | null;
  alerts_total: number;
  recent_alerts: unknown[];
  blocked: { target: string; until: string; reason: string; source: string }[];
  allowlisted: string[];
  last_refusal: { reason: string; detail: string; at: string } | null;
  offences: number;
}

async function countAlerts(store: Store, ip: string): Promise<number> {
  let n = 0;
  for await (const _ of store.kv.list({ prefix: alertBySrcPrefix(ip) })) n++;
  return n;
}

/** Gathers the report for `ip` (already normalised). */
export async function hostReport(
  store: Store,
  ip: string,
  opts: { alerts: number; resolve: boolean },
): Promise<HostReport> {
  const t = parseTarget(ip)!;
  const rec = await getHost(store, ip);
  const { resolver } = await openGeo();
  const geo = resolver.lookup(ip);
  let rdns: string | null = typeof rec?.rdns === "string" ? rec.rdns : null;
  if (opts.resolve) {
    const r = new ReverseDns({ timeoutMs: 2000 });
    try {
      const name = await r.resolve(ip, 2500);
      if (typeof name === "string") rdns = name;
    } finally {
      await r.close();
    }
  }
  const covers = (cidr: string) => {
    const c = parseTarget(cidr);
    return c !== null && cidrContains(c.cidr, t.version, t.cidr.words);
  };
  const blocks = (await listBlocks(store)).filter((b) => covers(b.target));
  const allow = (await listAllow(store)).filter((a) => covers(a.cidr));
  const decision = await getDecision(store, ip);
  const offender = await getOffender(store, ip);
  const recent = await listAlerts(store, { src: ip, limit: opts.alerts });
  return {
    ip,
    known: rec !== null,
    first_seen: rec?.first_seen ?? null,
    last_seen: rec?.last_seen ?? null,
    bytes: rec?.bytes ?? null,
    packets: rec?.packets ?? null,
    bytes_in: rec?.bytes_in ?? null,
    bytes_out: rec?.bytes_out ?? null,
    geo: rec?.geo ?? alertGeo(geo) ?? null,
    scope: geo.scope ?? null,
    rdns,
    alerts_total: await countAlerts(store, ip),
    recent_alerts: recent.alerts,
    blocked: blocks.map((b) => ({
      target: b.target,
      until: b.until,
      reason: b.reason,
      source: b.source,
    })),
    allowlisted: allow.map((a) => a.cidr),
    last_refusal: decision === null ? null : {
      reason: decision.reason,
      detail: decision.detail,
      at: decision.at,
    },
    offences: offender?.blocks ?? 0,
  };
}

function bytes(n: number | null): string {
  if (n === null) return "-";
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** The report as text lines. */
export function formatHostReport(r: HostReport, nowMs: number): string[] {
  const g = r.geo;
  const where = g
    ? [
      g.flag,
      g.country_name ?? g.country,
      g.city,
      g.asn ? `AS${g.asn}` : "",
      g.org,
    ]
      .filter((x) => x).join(" ")
    : r.scope ?? "unknown";
  const lines = [
    `Address:      ${r.ip}`,
    `Name:         ${r.rdns ?? "-"}`,
    `Location:     ${where}`,
    r.known
      ? `Seen:         ${r.first_seen} … ${r.last_seen}`
      : "Seen:         not in the known hosts",
    `Traffic:      ${bytes(r.bytes)} in ${r.packets ?? "-"} packets` +
    (r.bytes_in !== null || r.bytes_out !== null
      ? ` (in ${bytes(r.bytes_in)}, out ${bytes(r.bytes_out)})`
      : ""),
    `Alerts:       ${r.alerts_total} as source`,
  ];
  if (r.blocked.length === 0) lines.push("Blocked:      no");
  for (const b of r.blocked) {
    const left = (Date.parse(b.until) - nowMs) / 1000;
    lines.push(
      `Blocked:      yes (${b.target}, ${
        formatDuration(left)
      } left, until ${b.until}, ${b.source}: ${b.reason})`,
    );
  }
  if (r.offences > 0) {
    lines.push(`Offences:     ${r.offences} blocks in the repeat window`);
  }
  lines.push(
    `Allowlisted:  ${
      r.allowlisted.length > 0 ? r.allowlisted.join(", ") : "no"
    }`,
  );
  if (r.last_refusal) {
    lines.push(
      `Last refusal: ${r.last_refusal.at} ${r.last_refusal.reason}: ${r.last_refusal.detail}`,
    );
  }
  if (r.recent_alerts.length > 0) {
    lines.push("", `Recent alerts (newest first):`);
    for (const a of r.recent_alerts) {
      lines.push(
        "  " + alertTableLine(a as Parameters<typeof alertTableLine>[0]),
      );
    }
  }
  return lines;
}

/** The `host` command. */
export const hostCommand: Command = {
  name: "host",
  summary: "what NetSentinel knows about an address",
  positionals: true,
  options: {
    json: { type: "boolean" },
    resolve: { type: "boolean" },
    alerts: { type: "string" },
    ...DATA_OPTION,
  },
  help: `Usage: netsentinel host [options] IP

Shows what NetSentinel knows about an address: first and last seen,
traffic, location (GeoIP from the local database), reverse name, alerts
from it, and whether it is blocked, allowlisted or was refused a block.

Options:
  --json                 print the report as one JSON object
  --resolve              look up the reverse name now (a DNS query to the
                         system's resolver) instead of only the stored one
  --alerts N             recent alerts to show (default 10)
${DATA_HELP}
  -h, --help             show this help`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    if (positionals.length !== 1) {
      throw new UsageError("host: give exactly one IP address (try --help)");
    }
    const t = parseTarget(positionals[0]!);
    if (t === null || !t.single) {
      throw new UsageError(`host: "${positionals[0]}" is not an IP address`);
    }
    const n = num(flags, "alerts", 10, { min: 0, max: 1000, integer: true });
    using store = await openStoreFromFlags(flags, { create: false });
    const report = await hostReport(store, t.text, {
      alerts: Math.max(1, n),
      resolve: bool(flags, "resolve"),
    });
    if (n === 0) report.recent_alerts = [];
    if (bool(flags, "json")) printOut(JSON.stringify(report));
    else {
      printOut(
        formatHostReport(report, Date.now()).map(terminalSafe).join("\n"),
      );
    }
    return 0;
  },
};
