/**
 * The Alerts page's live list: the first page rendered by the server, new
 * alerts matching the filters prepended as they are committed (they blink
 * until seen: pointed at, focused or opened, or "Mark all seen"), updates
 * applied in place, and "Load more" through the API's cursor.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Alert } from "../alerts/alert.ts";
import { api } from "./_api.ts";
import {
  byTimeDesc,
  fmtCount,
  fmtTime,
  severityName,
  typeLabel,
} from "./_format.ts";
import { subscribe } from "./_live.ts";

/** The filters in force (as in the query string). */
export interface FeedFilter {
  type?: string;
  severity?: string;
  src?: string;
  since?: string;
}

/** Props of {@link AlertFeed}. */
export interface AlertFeedProps {
  alerts: Alert[];
  cursor: string | null;
  filter: FeedFilter;
  /** The query string of the filters (for "Load more"). */
  query: string;
}

/** True when a live alert passes the page's filters. */
export function matchesFilter(a: Alert, f: FeedFilter, now: number): boolean {
  if (f.type && a.netsentinel.type !== f.type) return false;
  if (f.src && a.src_ip !== f.src) return false;
  if (f.severity) {
    const list = f.severity.split(",").map(Number);
    if (!list.includes(a.alert.severity)) return false;
  }
  if (f.since) {
    const m = /^(\d+)([mhd])$/.exec(f.since);
    if (m) {
      const ms = Number(m[1]) * { m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as "m"];
      if (Date.parse(a.timestamp) < now - ms) return false;
    }
  }
  return true;
}

/** The live alert list. */
export default function AlertFeed(p: AlertFeedProps): VNode {
  const [alerts, setAlerts] = useState(p.alerts);
  const [unseen, setUnseen] = useState<ReadonlySet<string>>(new Set());
  const [cursor, setCursor] = useState(p.cursor);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");

  useEffect(() =>
    subscribe((m) => {
      if (m.kind !== "alert") return;
      const a = m.alert;
      if (!matchesFilter(a, p.filter, Date.now())) return;
      const id = a.netsentinel.id;
      setAlerts((old) => {
        const i = old.findIndex((x) => x.netsentinel.id === id);
        if (i >= 0) return [...old.slice(0, i), a, ...old.slice(i + 1)];
        return [a, ...old];
      });
      if (m.isNew) setUnseen((old) => new Set([...old, id]));
    }), []);

  const seen = (id: string) => {
    if (!unseen.has(id)) return;
    setUnseen((old) => {
      const n = new Set(old);
      n.delete(id);
      return n;
    });
  };

  const more = async () => {
    if (cursor === null) return;
    setLoading(true);
    const sep = p.query === "" ? "" : "&";
    const r = await api<{ alerts: Alert[]; cursor: string | null }>(
      "GET",
      `/api/alerts?${p.query}${sep}cursor=${encodeURIComponent(cursor)}`,
    );
    setLoading(false);
    if (!r.ok || r.data === null) {
      setError(r.error);
      return;
    }
    const got = r.data.alerts;
    setAlerts((old) => {
      const have = new Set(old.map((a) => a.netsentinel.id));
      return [...old, ...got.filter((a) => !have.has(a.netsentinel.id))];
    });
    setCursor(r.data.cursor);
  };

  return (
    <div class="feed">
      <div class="feed-bar">
        <span data-testid="unseen-count">
          {unseen.size === 0 ? "No new alerts" : `${unseen.size} new`}
        </span>
        <button
          type="button"
          disabled={unseen.size === 0}
          onClick={() => setUnseen(new Set())}
        >
          Mark all seen
        </button>
      </div>
      {alerts.length === 0
        ? <p class="empty">No alerts match these filters.</p>
        : (
          <table class="alerts" data-testid="alert-table">
            <thead>
              <tr>
                <th>Time</th>
                <th>Severity</th>
                <th>Alert</th>
                <th>Source</th>
                <th>Target</th>
                <th class="num">Count</th>
              </tr>
            </thead>
            <tbody>
              {byTimeDesc(alerts).map((a) => {
                const id = a.netsentinel.id;
                const n = a.netsentinel;
                return (
                  <tr
                    key={id}
                    class={unseen.has(id) ? "unseen" : undefined}
                    data-id={id}
                    tabIndex={0}
                    onMouseEnter={() => seen(id)}
                    onFocus={() => seen(id)}
                  >
                    <td class="time">{fmtTime(a.timestamp)}</td>
                    <td>
                      <span class={`sev sev${a.alert.severity}`}>
                        {severityName(a.alert.severity)}
                      </span>
                    </td>
                    <td>
                      <a href={`/alerts/${id}`} onClick={() => seen(id)}>
                        {a.alert.signature}
                      </a>
                      <div class="sub">{typeLabel(n.type)}</div>
                    </td>
                    <td>
                      <span class="flag">{n.src_geo?.flag ?? ""}</span>{" "}
                      <a href={`/hosts/${encodeURIComponent(a.src_ip)}`}>
                        {a.src_ip}
                      </a>
                      {n.src_device?.name
                        ? <div class="sub device">{n.src_device.name}</div>
                        : null}
                      {n.src_host ? <div class="sub">{n.src_host}</div> : null}
                      {a.alert.action === "blocked"
                        ? <div class="sub blocked">blocked</div>
                        : null}
                    </td>
                    <td>
                      {a.dest_ip ?? "–"}
                      {a.dest_port !== undefined ? `:${a.dest_port}` : ""}
                      {n.dest_device?.name
                        ? <div class="sub device">{n.dest_device.name}</div>
                        : null}
                      {n.dest_host
                        ? <div class="sub">{n.dest_host}</div>
                        : null}
                    </td>
                    <td class="num">{fmtCount(n.count)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      {error ? <p class="error" role="alert">{error}</p> : null}
      {cursor !== null
        ? (
          <button type="button" class="more" disabled={loading} onClick={more}>
            {loading ? "Loading…" : "Load more"}
          </button>
        )
        : null}
    </div>
  );
}
