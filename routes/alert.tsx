/**
 * One alert: what happened in one sentence, the evidence, where the
 * addresses are, and the actions (block, suppress, allowlist).
 *
 * @module
 */
import type { VNode } from "preact";
import type { Alert, AlertGeo } from "../alerts/alert.ts";
import type { RequestContext } from "../server/context.ts";
import { Island } from "../islands/_island.tsx";
import AlertActions from "../islands/alert_actions.tsx";
import {
  evidenceText,
  fmtCount,
  severityName,
  typeLabel,
} from "../islands/_format.ts";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Alert";

/** Props of the alert page. */
export interface AlertPageProps {
  alert: Alert;
  blocked: boolean;
  /** Range labels ("LAN", …) of addresses without a country. */
  srcScope: string | null;
  destScope: string | null;
}

/** Loads the alert (404 when there is none) and whether its source is blocked. */
export async function handler(
  ctx: RequestContext,
): Promise<AlertPageProps | Response> {
  const id = ctx.params.id ?? "";
  const alert = /^[0-9A-Za-z]{1,40}$/.test(id)
    ? await ctx.deps.alerts.get(id)
    : null;
  if (alert === null) {
    return new Response("No such alert", { status: 404 });
  }
  const blocks = await ctx.deps.responder.listBlocks();
  const scope = (ip: string | undefined): string | null =>
    ip === undefined
      ? null
      : ctx.deps.enricher?.enrichAddr(ip).geo.scope ?? null;
  return {
    alert,
    blocked: blocks.some((b) => b.target === alert.src_ip),
    srcScope: scope(alert.src_ip),
    destScope: scope(alert.dest_ip),
  };
}

function Geo(
  p: {
    geo: AlertGeo | undefined;
    host: string | undefined;
    scope: string | null;
  },
): VNode {
  const g = p.geo?.country === undefined && p.scope !== null
    ? { ...p.geo, scope: p.scope }
    : p.geo;
  return (
    <dl class="geo">
      {p.host
        ? (
          <>
            <dt>Name</dt>
            <dd>{p.host}</dd>
          </>
        )
        : null}
      {g?.country
        ? (
          <>
            <dt>Country</dt>
            <dd>
              <span class="flag">{g.flag ?? ""}</span>{" "}
              {g.country_name ?? g.country}
            </dd>
          </>
        )
        : null}
      {g?.scope
        ? (
          <>
            <dt>Range</dt>
            <dd>{g.scope}</dd>
          </>
        )
        : null}
      {g?.city
        ? (
          <>
            <dt>City</dt>
            <dd>{g.city}</dd>
          </>
        )
        : null}
      {g?.asn !== undefined
        ? (
          <>
            <dt>Network</dt>
            <dd>AS{g.asn}{g.org ? ` ${g.org}` : ""}</dd>
          </>
        )
        : null}
      {!p.host && !g?.country && !g?.scope
        ? (
          <>
            <dt>Location</dt>
            <dd>unknown</dd>
          </>
        )
        : null}
    </dl>
  );
}

/** The alert page. */
export default function AlertPage(p: AlertPageProps): VNode {
  const a = p.alert;
  const n = a.netsentinel;
  const actions = {
    alertId: n.id,
    src: a.src_ip,
    signature: a.alert.signature,
    blocked: p.blocked,
  };
  return (
    <>
      <p class="crumbs">
        <a href="/alerts">Alerts</a> ›
      </p>
      <h1>
        <span class={`sev sev${a.alert.severity}`}>
          {severityName(a.alert.severity)}
        </span>{" "}
        {a.alert.signature}
      </h1>
      <p class="explanation" data-testid="explanation">{n.explanation}</p>
      <Island name="AlertActions" props={actions}>
        <AlertActions {...actions} />
      </Island>
      <div class="grid">
        <section class="panel">
          <h2>What</h2>
          <dl>
            <dt>Type</dt>
            <dd>{typeLabel(n.type)}</dd>
            <dt>Category</dt>
            <dd>{a.alert.category}</dd>
            <dt>Signature</dt>
            <dd>{a.alert.signature_id} rev {a.alert.rev}</dd>
            <dt>Action</dt>
            <dd>{a.alert.action}</dd>
            <dt>Events</dt>
            <dd>{fmtCount(n.count)}</dd>
            <dt>First seen</dt>
            <dd>
              <Time t={n.first_seen} />
            </dd>
            <dt>Last seen</dt>
            <dd>
              <Time t={n.last_seen} />
            </dd>
            <dt>Protocol</dt>
            <dd>{a.proto}</dd>
            {a.flow_id !== undefined
              ? (
                <>
                  <dt>Flow</dt>
                  <dd>{a.flow_id}</dd>
                </>
              )
              : null}
            <dt>Id</dt>
            <dd>
              <code>{n.id}</code>
            </dd>
          </dl>
        </section>
        <section class="panel">
          <h2>Source</h2>
          <p class="addr">
            <a href={`/hosts/${encodeURIComponent(a.src_ip)}`}>{a.src_ip}</a>
            {a.src_port !== undefined ? `:${a.src_port}` : ""}
          </p>
          <Geo geo={n.src_geo} host={n.src_host} scope={p.srcScope} />
        </section>
        {a.dest_ip !== undefined
          ? (
            <section class="panel">
              <h2>Target</h2>
              <p class="addr">
                <a href={`/hosts/${encodeURIComponent(a.dest_ip)}`}>
                  {a.dest_ip}
                </a>
                {a.dest_port !== undefined ? `:${a.dest_port}` : ""}
              </p>
              <Geo geo={n.dest_geo} host={n.dest_host} scope={p.destScope} />
            </section>
          )
          : null}
        {n.type === "intel" ? <IntelPanel e={n.evidence} /> : null}
        <section class="panel">
          <h2>Evidence</h2>
          <table class="kv" data-testid="evidence">
            <tbody>
              {Object.entries(n.evidence).map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{typeLabel(k)}</th>
                  <td>{evidenceText(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </>
  );
}

function str(v: unknown): string {
  return typeof v === "string"
    ? v
    : v === null || v === undefined
    ? ""
    : String(v);
}

/** The feed match of an intel alert: feed (linked), indicator, its line, direction, home host. */
function IntelPanel(p: { e: Record<string, unknown> }): VNode {
  const e = p.e;
  const link = str(e.feed_link);
  const host = str(e.internal_host);
  return (
    <section class="panel" data-testid="intel-match">
      <h2>Threat feed</h2>
      <dl>
        <dt>Feed</dt>
        <dd>
          {/^https?:\/\//.test(link)
            ? <a href={link} rel="noreferrer noopener">{str(e.feed)}</a>
            : str(e.feed)} (<a href="/intel">all feeds</a>)
        </dd>
        <dt>Indicator</dt>
        <dd>
          <code>{str(e.indicator)}</code> ({str(e.indicator_kind)})
        </dd>
        <dt>Feed line {str(e.line_no)}</dt>
        <dd>
          <code>{str(e.line)}</code>
        </dd>
        {e.listed_since
          ? (
            <>
              <dt>Listed since</dt>
              <dd>{str(e.listed_since)}</dd>
            </>
          )
          : null}
        <dt>Seen as</dt>
        <dd>
          {str(e.via).replace("_", " ")}: <code>{str(e.observed)}</code>
        </dd>
        <dt>Direction</dt>
        <dd>{str(e.direction)}</dd>
        <dt>Home host</dt>
        <dd>
          {host
            ? <a href={`/hosts/${encodeURIComponent(host)}`}>{host}</a>
            : "–"}
        </dd>
      </dl>
    </section>
  );
}
