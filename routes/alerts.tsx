/**
 * The Alerts page: the inbox (alerts grouped by type and signature,
 * source and destination, {@link AlertInbox} island) with its views
 * (inbox, escalated, archived, all), and the plain live list of alerts
 * ({@link AlertFeed}, view `list`, with CSV export). Filters (type,
 * severity, source, destination, time) live in the query string, so a
 * reload or a link keeps them.
 *
 * @module
 */
import type { VNode } from "preact";
import { ALERT_TYPES } from "../alerts/alert.ts";
import { alertFilterFromQuery } from "../server/api.ts";
import { groupQueryFromUrl } from "../server/inbox_api.ts";
import type { RequestContext } from "../server/context.ts";
import { HttpError } from "../server/http.ts";
import { Island } from "../islands/_island.tsx";
import AlertFeed, {
  type AlertFeedProps,
  type FeedFilter,
} from "../islands/alert_feed.tsx";
import AlertInbox, {
  type AlertInboxProps,
  type InboxFilter,
} from "../islands/alert_inbox.tsx";
import { typeLabel } from "../islands/_format.ts";

/** Page title. */
export const title = "Alerts";

/** Props of the Alerts page. */
export interface AlertsPageProps {
  /** The view: `inbox`, `escalated`, `archived`, `all` or `list`. */
  view: string;
  /** The inbox island's props (views other than `list`). */
  inbox: AlertInboxProps | null;
  /** The live list's props (view `list`). */
  feed: AlertFeedProps | null;
  /** The filters as in the query string. */
  filter: InboxFilter;
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

const VIEWS: [string, string][] = [
  ["inbox", "Inbox"],
  ["escalated", "Escalated"],
  ["archived", "Archived"],
  ["all", "All groups"],
  ["list", "Alert list"],
];

const KEYS = ["type", "severity", "src", "dst", "since"] as const;

/** Reads the filters and loads the first page. */
export async function handler(
  ctx: RequestContext,
): Promise<AlertsPageProps | Response> {
  const view = ctx.url.searchParams.get("view") || "inbox";
  const filter: InboxFilter = { view };
  for (const k of KEYS) {
    const v = ctx.url.searchParams.get(k);
    if (v) filter[k] = v;
  }
  const q = new URLSearchParams();
  for (const k of KEYS) if (filter[k]) q.set(k, filter[k]!);
  try {
    if (view === "list") {
      const f = alertFilterFromQuery(ctx.url, ctx.now);
      const page = await ctx.deps.alerts.list({ ...f, limit: f.limit ?? 50 });
      const feedFilter: FeedFilter = {};
      for (const k of ["type", "severity", "src", "since"] as const) {
        if (filter[k]) feedFilter[k] = filter[k];
      }
      return {
        view,
        filter,
        inbox: null,
        feed: {
          alerts: page.alerts,
          cursor: page.cursor,
          filter: feedFilter,
          query: q.toString(),
        },
        error: null,
      };
    }
    const gq = groupQueryFromUrl(ctx.url, ctx.now);
    q.set("view", view);
    const page = await ctx.deps.inbox.groups({ ...gq, limit: gq.limit ?? 50 });
    return {
      view,
      filter,
      feed: null,
      inbox: {
        groups: page.groups,
        cursor: page.cursor,
        filter,
        query: q.toString(),
      },
      error: null,
    };
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    return { view, filter, inbox: null, feed: null, error: e.message };
  }
}

function viewHref(view: string, f: InboxFilter): string {
  const q = new URLSearchParams();
  if (view !== "inbox") q.set("view", view);
  for (const k of KEYS) if (f[k]) q.set(k, f[k]!);
  const s = q.toString();
  return s === "" ? "/alerts" : `/alerts?${s}`;
}

/** The Alerts page. */
export default function AlertsPage(p: AlertsPageProps): VNode {
  const f = p.filter;
  const list = p.view === "list";
  const feedQuery = p.feed?.query ?? "";
  const csv = `/api/alerts?${feedQuery}${
    feedQuery ? "&" : ""
  }format=csv&limit=1000`;
  return (
    <>
      <h1>Alerts</h1>
      <nav class="tabs" aria-label="Alert views" data-testid="views">
        {VIEWS.map(([v, l]) => (
          <a
            key={v}
            href={viewHref(v, f)}
            aria-current={p.view === v ? "page" : undefined}
          >
            {l}
          </a>
        ))}
      </nav>
      <form class="filters" method="get" action="/alerts">
        {p.view === "inbox"
          ? null
          : <input type="hidden" name="view" value={p.view} />}
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
        {list ? null : (
          <label>
            Target
            <input name="dst" value={f.dst ?? ""} placeholder="IP address" />
          </label>
        )}
        <label>
          {list ? "Time" : "Last seen"}
          <select name="since">
            {SINCE.map(([v, l]) => (
              <option key={v} value={v} selected={(f.since ?? "") === v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
        {list
          ? (
            <a class="button" href={csv} download data-testid="csv-export">
              Export CSV
            </a>
          )
          : null}
      </form>
      {p.error !== null
        ? <p class="error" role="alert">{p.error}</p>
        : p.feed !== null
        ? (
          <Island name="AlertFeed" props={p.feed}>
            <AlertFeed {...p.feed} />
          </Island>
        )
        : p.inbox !== null
        ? (
          <Island name="AlertInbox" props={p.inbox}>
            <AlertInbox {...p.inbox} />
          </Island>
        )
        : null}
    </>
  );
}
