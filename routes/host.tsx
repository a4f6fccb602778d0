/**
 * One host: what NetSentinel knows about an address (place, name, first
 * and last seen, traffic), its alerts and its block state.
 *
 * @module
 */
import type { VNode } from "preact";
import { type HostDetail, hostDetail, ipParam } from "../server/api.ts";
import type { RequestContext } from "../server/context.ts";
import { HttpError } from "../server/http.ts";
import {
  evidenceText,
  fmtBytes,
  fmtCount,
  severityName,
} from "../islands/_format.ts";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Host";

/** Props of the host page: what the API's host detail has. */
export type HostPageProps = HostDetail;

/** Loads everything known about the address. */
export async function handler(
  ctx: RequestContext,
): Promise<HostPageProps | Response> {
  let ip: string;
  try {
    ip = ipParam(ctx.params.ip ?? "");
  } catch (e) {
    if (e instanceof HttpError) return new Response(e.message, { status: 400 });
    throw e;
  }
  return await hostDetail(ctx, ip);
}

function n(v: unknown): number {
  return typeof v === "number" ? v : 0;
}

/** The host page. */
export default function HostPage(p: HostPageProps): VNode {
  const h = p.host;
  const g = p.geo ?? {};
  return (
    <>
      <p class="crumbs">
        <a href="/devices">Devices</a> › <a href="/hosts">Hosts</a> ›
      </p>
      <h1>
        <span class="flag">{typeof g.flag === "string" ? g.flag : ""}</span>
        {" "}
        {p.ip}
      </h1>
      {p.name ? <p class="sub">{p.name}</p> : null}
      {p.device
        ? (
          <p class="device" data-testid="host-device">
            Device:{" "}
            <a href={`/devices/${encodeURIComponent(p.device.mac)}`}>
              {p.device.name ?? p.device.mac}
            </a>
          </p>
        )
        : null}
      <div class="grid">
        <section class="panel">
          <h2>Known facts</h2>
          <dl>
            <dt>Place</dt>
            <dd>
              {typeof g.country_name === "string"
                ? g.country_name
                : typeof g.scope === "string"
                ? g.scope
                : "unknown"}
              {typeof g.city === "string" ? `, ${g.city}` : ""}
            </dd>
            {typeof g.asn === "number"
              ? (
                <>
                  <dt>Network</dt>
                  <dd>AS{g.asn} {typeof g.org === "string" ? g.org : ""}</dd>
                </>
              )
              : null}
            {h
              ? (
                <>
                  <dt>First seen</dt>
                  <dd>
                    <Time t={String(h.first_seen)} />
                  </dd>
                  <dt>Last seen</dt>
                  <dd>
                    <Time t={String(h.last_seen)} />
                  </dd>
                  <dt>Traffic</dt>
                  <dd>
                    {fmtBytes(n(h.bytes))} in {fmtCount(n(h.packets))} packets
                  </dd>
                  {h.bytes_in !== undefined
                    ? (
                      <>
                        <dt>Received / sent</dt>
                        <dd>
                          {fmtBytes(n(h.bytes_in))} / {fmtBytes(n(h.bytes_out))}
                        </dd>
                      </>
                    )
                    : null}
                </>
              )
              : (
                <>
                  <dt>Traffic</dt>
                  <dd>not recorded</dd>
                </>
              )}
            <dt>Blocked</dt>
            <dd data-testid="host-block">
              {p.block
                ? (
                  <>
                    yes, until <Time t={String(p.block.until)} />{" "}
                    ({evidenceText(p.block.reason)})
                  </>
                )
                : "no"}
            </dd>
          </dl>
        </section>
        {p.alerts.some((a) => a.netsentinel.type === "intel")
          ? (
            <section class="panel" data-testid="host-intel">
              <h2>Threat-feed matches</h2>
              <ul class="recent">
                {p.alerts.filter((a) => a.netsentinel.type === "intel").map((
                  a,
                ) => (
                  <li key={a.netsentinel.id}>
                    <span class={`sev sev${a.alert.severity}`}>
                      {severityName(a.alert.severity)}
                    </span>
                    <a href={`/alerts/${a.netsentinel.id}`}>
                      {String(a.netsentinel.evidence.observed ?? "")} on{" "}
                      {String(a.netsentinel.evidence.feed ?? "")}
                    </a>
                    <span class="sub">
                      {String(a.netsentinel.evidence.direction ?? "")} ·{" "}
                      <Time t={a.timestamp} />
                    </span>
                  </li>
                ))}
              </ul>
            </section>
          )
          : null}
        <section class="panel">
          <h2>Alerts from this address</h2>
          {p.alerts.length === 0
            ? <p class="empty">None.</p>
            : (
              <ul class="recent">
                {p.alerts.map((a) => (
                  <li key={a.netsentinel.id}>
                    <span class={`sev sev${a.alert.severity}`}>
                      {severityName(a.alert.severity)}
                    </span>
                    <a href={`/alerts/${a.netsentinel.id}`}>
                      {a.alert.signature}
                    </a>
                    <span class="sub">
                      <Time t={a.timestamp} />
                    </span>
                  </li>
                ))}
              </ul>
            )}
        </section>
      </div>
    </>
  );
}
