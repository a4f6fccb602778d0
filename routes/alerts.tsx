/**
 * The Alerts page: filters (type, severity, source, time), CSV export of
 * what the filters select, and the live list ({@link AlertFeed} island).
 *
 * @module
 */
import type { VNode } from "preact";
import { ALERT_TYPES } from "../alerts/alert.ts";
import { alertFilterFromQuery } from "../server/api.ts";
import type { RequestContext } from "../server/context.ts";
import { HttpError } from "../server/http.ts";
import { Island } from "../islands/_island.tsx";
import AlertFeed, {
  type AlertFeedProps,
  type FeedFilter,
} from "../islands/alert_feed.tsx";
import { typeLabel } from "../islands/_format.ts";

/** Page title. */
export const title = "Alerts";

/** Props of the Alerts page. */
export interface AlertsPageProps {
  feed: AlertFeedProps;
  /** A filter problem to show instead of results. */
  error: string | null;
}

const SINCE: [string, string][] = [
  ["", "Any time"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
];

/** Reads the filters and loads the first page. */
export async function handler(
  ctx: RequestContext,
): Promise<AlertsPageProps | Response> {
  const filter: FeedFilter = {};
  for (const k of ["type", "severity", "src", "since"] as const) {
    const v = ctx.url.searchParams.get(k);
    if (v) filter[k] = v;
  }
  const query = new URLSearchParams(filter as Record<string, string>)
    .toString();
  try {
    const f = alertFilterFromQuery(ctx.url, ctx.now);
    const page = await ctx.deps.alerts.list({ ...f, limit: f.limit ?? 50 });
    return {
      feed: { alerts: page.alerts, cursor: page.cursor, filter, query },
      error: null,
    };
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    return {
      feed: { alerts: [], cursor: null, filter, query: "" },
      error: e.message,
    };
  }
}

/** The Alerts page. */
export default function AlertsPage(p: AlertsPageProps): VNode {
  const f = p.feed.filter;
  const csv = `/api/alerts?${p.feed.query}${
    p.feed.query ? "&" : ""
  }format=csv&limit=1000`;
  return (
    <>
      <h1>Alerts</h1>
      <form class="filters" method="get" action="/alerts">
        <label>
          Type
          <select name="type">
            <option value="">Any</option>
            {ALERT_TYPES.map((t) => (
              <option key={t} value={t} selected={f.type === t}>
                {typeLabel(t)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity
          <select name="severity">
            <option value="">Any</option>
            <option value="1" selected={f.severity === "1"}>High</option>
            <option value="1,2" selected={f.severity === "1,2"}>
              Medium or higher
            </option>
            <option value="1,2,3" selected={f.severity === "1,2,3"}>
              Low or higher
            </option>
          </select>
        </label>
        <label>
          Source
          <input name="src" value={f.src ?? ""} placeholder="IP address" />
        </label>
        <label>
          Time
          <select name="since">
            {SINCE.map(([v, l]) => (
              <option key={v} value={v} selected={(f.since ?? "") === v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
        <a class="button" href={csv} download data-testid="csv-export">
          Export CSV
        </a>
      </form>
      {p.error !== null
        ? <p class="error" role="alert">{p.error}</p>
        : (
          <Island name="AlertFeed" props={p.feed}>
            <AlertFeed {...p.feed} />
          </Island>
        )}
    </>
  );
}
