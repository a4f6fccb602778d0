/**
 * One device: its names with their sources, vendor, kind and OS with the
 * evidence for and against, addresses over time, traffic chart, top remote
 * peers with country and name, services, alerts, and the owner's edit form.
 * Everything that came off the wire is rendered as text.
 *
 * @module
 */
import type { VNode } from "preact";
import { type DeviceDetail, deviceDetail, macParam } from "../server/api.ts";
import type { RequestContext } from "../server/context.ts";
import { HttpError } from "../server/http.ts";
import { fmtBytes, severityName } from "../islands/_format.ts";
import { Island } from "../islands/_island.tsx";
import { DeviceChart, DeviceEditor } from "../islands/device_panel.tsx";
import { Time } from "./_layout.tsx";
import { kindText, vendorText } from "./devices.tsx";

/** Page title. */
export const title = "Device";

/** Props of the device page. */
export type DevicePageProps = DeviceDetail;

/** Loads the device, or answers 400 or 404. */
export async function handler(
  ctx: RequestContext,
): Promise<DevicePageProps | Response> {
  let mac: string;
  try {
    mac = macParam(ctx.params.mac ?? "");
  } catch (e) {
    if (e instanceof HttpError) return new Response(e.message, { status: 400 });
    throw e;
  }
  if (ctx.deps.devices === undefined) {
    return new Response("The device inventory is off", { status: 503 });
  }
  const d = await deviceDetail(ctx, mac);
  if (d === null) return new Response(`No device "${mac}"`, { status: 404 });
  return d;
}

/** The device page. */
export default function DevicePage(p: DevicePageProps): VNode {
  const d = p.device;
  const chart = {
    minutes: p.traffic.minutes.map((r) => ({
      bucket: r.bucket,
      bytes_in: r.bytes_in,
      bytes_out: r.bytes_out,
    })),
    hourly: p.traffic.hourly.map((r) => ({
      bucket: r.bucket,
      bytes_in: r.bytes_in,
      bytes_out: r.bytes_out,
    })),
  };
  const editor = {
    mac: d.mac,
    name: d.name_source === "owner" ? d.display_name ?? "" : "",
    known: d.known,
    trusted: d.trusted,
    note: d.note,
  };
  return (
    <div class="device-page">
      <p class="crumbs">
        <a href="/devices">Devices</a> ›
      </p>
      <h1 data-testid="device-name">{d.display_name ?? d.mac}</h1>
      <p class="sub">
        {d.mac} · {vendorText(d)}
        {d.known
          ? <span class="badge known">known</span>
          : <span class="badge">new</span>}
        {d.trusted ? <span class="badge known">trusted</span> : null}
      </p>
      <div class="grid">
        <section class="panel wide">
          <h2>Traffic</h2>
          <Island name="DeviceChart" props={chart}>
            <DeviceChart {...chart} />
          </Island>
        </section>
        <section class="panel">
          <h2>What it is</h2>
          <dl data-testid="device-facts">
            <dt>Kind</dt>
            <dd>{kindText(d) || "not enough evidence"}</dd>
            <dt>OS family</dt>
            <dd>
              {d.os
                ? `${
                  d.os.confidence === "likely" ? "" : "possibly "
                }${d.os.value}`
                : "not enough evidence"}
            </dd>
            <dt>First seen</dt>
            <dd>
              <Time t={d.first_seen} /> (by {d.first_seen_by})
            </dd>
            <dt>Last seen</dt>
            <dd>
              <Time t={d.last_seen} />
            </dd>
            <dt>Traffic</dt>
            <dd>
              {fmtBytes(d.bytes_in)} in, {fmtBytes(d.bytes_out)} out
            </dd>
            {d.note
              ? (
                <>
                  <dt>Note</dt>
                  <dd class="note">{d.note}</dd>
                </>
              )
              : null}
          </dl>
        </section>
        <section class="panel">
          <h2>Evidence</h2>
          {d.hints.length === 0
            ? <p class="empty">Nothing seen that says what it is.</p>
            : (
              <ul class="evidence" data-testid="device-evidence">
                {d.hints.map((h) => (
                  <li key={`${h.source}|${h.field}|${h.value}`}>
                    <span class="source">{h.source} {h.field}</span>:{" "}
                    <code>{h.value}</code>
                    {h.kind || h.os
                      ? (
                        <span class="sub">
                          {` → ${[h.kind, h.os].filter((x) => x).join(", ")}`}
                          {h.strength === 2 ? "" : " (weak)"}
                        </span>
                      )
                      : null}
                  </li>
                ))}
              </ul>
            )}
          {d.kind && d.kind.against.length > 0
            ? (
              <p class="hint">
                Pointing elsewhere: {d.kind.against.join("; ")}
              </p>
            )
            : null}
        </section>
        <section class="panel">
          <h2>Names</h2>
          {d.names.length === 0
            ? <p class="empty">It has announced no name.</p>
            : (
              <table class="list">
                <tbody>
                  {d.names.map((n) => (
                    <tr key={`${n.source}|${n.name}`}>
                      <td>{n.name}</td>
                      <td>{n.source}</td>
                      <td class="time">
                        <Time t={n.last_seen} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          <h2>Addresses</h2>
          <table class="list">
            <tbody>
              {d.addresses.map((a) => (
                <tr key={a.ip}>
                  <td>
                    <a href={`/hosts/${encodeURIComponent(a.ip)}`}>{a.ip}</a>
                  </td>
                  <td class="time">
                    <Time t={a.first_seen} /> – <Time t={a.last_seen} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="panel">
          <h2>Top remote peers</h2>
          {d.peers.length === 0
            ? <p class="empty">No finished connections yet.</p>
            : (
              <table class="list" data-testid="device-peers">
                <tbody>
                  {d.peers.map((peer, i) => {
                    const g = p.peers[i];
                    return (
                      <tr key={peer.ip}>
                        <td>
                          <span class="flag">{g?.flag ?? ""}</span>{" "}
                          <a href={`/hosts/${encodeURIComponent(peer.ip)}`}>
                            {peer.ip}
                          </a>
                          {g?.name ? <div class="sub">{g.name}</div> : null}
                        </td>
                        <td>{g?.country ?? ""}</td>
                        <td>{peer.service}</td>
                        <td class="num">
                          {fmtBytes(peer.bytes_in + peer.bytes_out)}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          <h2>Protocols and ports</h2>
          <table class="list">
            <tbody>
              {d.services.map((s) => (
                <tr key={s.service}>
                  <td>{s.service}</td>
                  <td class="num">{s.flows} flows</td>
                  <td class="num">{fmtBytes(s.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="panel">
          <h2>Alerts</h2>
          {p.alerts.length === 0
            ? <p class="empty">No alerts from this device.</p>
            : (
              <ul>
                {p.alerts.map((a) => (
                  <li key={a.netsentinel.id}>
                    <a href={`/alerts/${a.netsentinel.id}`}>
                      {a.alert.signature}
                    </a>{" "}
                    <span class="sub">
                      {severityName(a.alert.severity)} ·{" "}
                      <Time t={a.timestamp} />
                    </span>
                  </li>
                ))}
              </ul>
            )}
          <h2>Owner</h2>
          <Island name="DeviceEditor" props={editor}>
            <DeviceEditor {...editor} />
          </Island>
        </section>
      </div>
    </div>
  );
}
