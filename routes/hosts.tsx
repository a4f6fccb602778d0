/**
 * The Hosts page: devices NetSentinel has seen, newest marked, with their
 * traffic, alerts, place and name.
 *
 * @module
 */
import type { VNode } from "preact";
import type { HostView } from "../server/deps.ts";
import type { RequestContext } from "../server/context.ts";
import { fmtBytes, fmtCount } from "../islands/_format.ts";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Hosts";

/** Props of the Hosts page. */
export interface HostsPageProps {
  hosts: HostView[];
  /** Hosts first seen after this (ms since the epoch) are marked new. */
  newSince: number;
  more: boolean;
}

/** Loads known hosts, busiest first. */
export async function handler(
  ctx: RequestContext,
): Promise<HostsPageProps | Response> {
  const page = await ctx.deps.hosts.list({ limit: 1000 });
  const hosts = [...page.hosts].sort((a, b) => b.bytes - a.bytes);
  return { hosts, newSince: ctx.now - 86_400_000, more: page.cursor !== null };
}

/** The Hosts page. */
export default function HostsPage(p: HostsPageProps): VNode {
  return (
    <>
      <h1>Hosts</h1>
      {p.hosts.length === 0
        ? <p class="empty">No hosts recorded yet.</p>
        : (
          <table class="list hosts" data-testid="host-table">
            <thead>
              <tr>
                <th>Address</th>
                <th>Place</th>
                <th class="num">Traffic</th>
                <th class="num">Packets</th>
                <th class="num">Alerts</th>
                <th>First seen</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {p.hosts.map((h) => {
                const isNew = Date.parse(h.first_seen) >= p.newSince;
                return (
                  <tr key={h.ip}>
                    <td>
                      <a href={`/hosts/${encodeURIComponent(h.ip)}`}>{h.ip}</a>
                      {isNew ? <span class="badge">new</span> : null}
                      {typeof h.rdns === "string"
                        ? <div class="sub">{h.rdns}</div>
                        : null}
                    </td>
                    <td>
                      <span class="flag">{h.geo?.flag ?? ""}</span>{" "}
                      {h.geo?.country_name ?? h.geo?.country ?? ""}
                    </td>
                    <td class="num">{fmtBytes(h.bytes)}</td>
                    <td class="num">{fmtCount(h.packets)}</td>
                    <td class="num">{h.alerts ?? 0}</td>
                    <td class="time">
                      <Time t={h.first_seen} />
                    </td>
                    <td class="time">
                      <Time t={h.last_seen} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      {p.more ? <p class="hint">Showing the first 1000 hosts.</p> : null}
    </>
  );
}
