/**
 * The Overview's live part: rate cards, the traffic chart, protocol and
 * port shares, top talkers, countries, names seen on the wire and the
 * latest alerts, all updated from `/ws/live`.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Alert } from "../alerts/alert.ts";
import type { LiveBlock, StatsSnapshot } from "../server/live_messages.ts";
import { TrafficChart } from "./_chart.tsx";
import {
  byTimeDesc,
  fmtBytes,
  fmtCount,
  fmtPps,
  fmtRate,
  fmtTime,
  severityName,
  typeLabel,
} from "./_format.ts";
import { type LiveState, onLiveState, subscribe } from "./_live.ts";

/** Props of {@link LiveOverview}. */
export interface LiveOverviewProps {
  /** The newest sample, or null before the first. */
  stats: StatsSnapshot | null;
  /** Recent one-second samples for the chart (oldest first). */
  series: { t: number; bytes: number; bytes_in: number; bytes_out: number }[];
  /** The newest alerts. */
  alerts: Alert[];
  /** Active blocks. */
  blocks: number;
  /** Blocker and capture states. */
  blocker: { state: string; detail: string };
  capture: { state: string; detail?: string };
}

const MAX_POINTS = 300;

/** Share of `v` in `total` as a whole percentage. */
function pct(v: number, total: number): number {
  return total > 0 ? Math.round(v / total * 100) : 0;
}

/** The live overview. */
export default function LiveOverview(p: LiveOverviewProps): VNode {
  const [stats, setStats] = useState(p.stats);
  const [series, setSeries] = useState(() => ({
    t: p.series.map((s) => s.t / 1000),
    in: p.series.map((s) => s.bytes_in),
    out: p.series.map((s) => s.bytes_out),
    all: p.series.map((s) => s.bytes),
  }));
  const [alerts, setAlerts] = useState(p.alerts);
  const [blocks, setBlocks] = useState(p.blocks);
  const [live, setLive] = useState<LiveState>("connecting");

  useEffect(() => onLiveState(setLive), []);
  useEffect(() =>
    subscribe((m) => {
      switch (m.kind) {
        case "stats": {
          const s = m.stats;
          setStats(s);
          setSeries((old) => ({
            t: [...old.t, s.t / 1000].slice(-MAX_POINTS),
            in: [...old.in, s.bps_in].slice(-MAX_POINTS),
            out: [...old.out, s.bps_out].slice(-MAX_POINTS),
            all: [...old.all, s.bps].slice(-MAX_POINTS),
          }));
          break;
        }
        case "alert":
          // Informational alerts (new hosts) have their own list on the Alerts page.
          if (m.isNew && m.alert.alert.severity < 4) {
            setAlerts((old) => [m.alert, ...old].slice(0, 8));
          }
          break;
        case "blocks":
          setBlocks((m.blocks as LiveBlock[]).length);
          break;
        case "hello":
        case "host":
          break;
      }
    }), []);

  const s = stats;
  const protoTotal = s?.protocols.reduce((a, x) => a + x.bytes, 0) ?? 0;
  const portTotal = s?.ports.reduce((a, x) => a + x.bytes, 0) ?? 0;
  return (
    <div class="overview">
      <p class={`live-state ${live}`} data-testid="live-state">
        <span class="dot" aria-hidden="true" />
        {live === "live"
          ? "Live"
          : live === "connecting"
          ? "Connecting…"
          : "Offline, reconnecting…"}
      </p>
      <section class="cards" aria-label="Current figures">
        <Card label="Packets" value={s ? fmtPps(s.pps) : "–"} testid="pps" />
        <Card label="Traffic" value={s ? fmtRate(s.bps) : "–"} />
        <Card label="In" value={s ? fmtRate(s.bps_in) : "–"} />
        <Card label="Out" value={s ? fmtRate(s.bps_out) : "–"} />
        <Card
          label="Drops"
          value={s ? `${fmtCount(s.drops_ps)} pkts/s` : "–"}
          note={s ? `${fmtCount(s.drops)} since start` : undefined}
          warn={(s?.drops_ps ?? 0) > 0}
        />
        <Card
          label="Seen"
          value={s ? fmtCount(s.packets) + " pkts" : "–"}
          note={s ? fmtBytes(s.bytes) : undefined}
          testid="packets"
        />
        <Card label="Flows" value={s ? fmtCount(s.flows) : "–"} />
        <Card
          label="Capture"
          value={p.capture.state}
          note={p.capture.detail}
          warn={p.capture.state !== "up"}
        />
        <Card
          label="Blocking"
          value={p.blocker.state.replace("_", " ")}
          note={`${blocks} active block${blocks === 1 ? "" : "s"}`}
          warn={p.blocker.state === "unavailable"}
          testid="blocking"
        />
      </section>

      <section class="panel wide">
        <h2>Traffic</h2>
        <TrafficChart
          t={series.t}
          all={series.all}
          in={series.in}
          out={series.out}
        />
      </section>

      <section class="panel">
        <h2>Protocols</h2>
        {s === null || s.protocols.length === 0
          ? <p class="empty">No traffic yet.</p>
          : (
            <table class="shares">
              <tbody>
                {s.protocols.map((x) => (
                  <tr key={x.name}>
                    <th scope="row">{x.name.toUpperCase()}</th>
                    <td class="bar">
                      <meter
                        min={0}
                        max={100}
                        value={pct(x.bytes, protoTotal)}
                      />
                    </td>
                    <td class="num">{pct(x.bytes, protoTotal)} %</td>
                    <td class="num">{fmtBytes(x.bytes)}</td>
                  </tr>
                ))}
                {s.apps.map((x) => (
                  <tr key={"app-" + x.name} class="sub">
                    <th scope="row">{x.name.toUpperCase()}</th>
                    <td class="bar">
                      <meter
                        min={0}
                        max={100}
                        value={pct(x.bytes, protoTotal)}
                      />
                    </td>
                    <td class="num">{pct(x.bytes, protoTotal)} %</td>
                    <td class="num">{fmtCount(x.packets)} pkts</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>

      <section class="panel">
        <h2>Top ports</h2>
        {s === null || s.ports.length === 0
          ? <p class="empty">No ports yet.</p>
          : (
            <table class="shares">
              <tbody>
                {s.ports.map((x) => (
                  <tr key={x.proto + x.port}>
                    <th scope="row">{x.port}/{x.proto}</th>
                    <td class="bar">
                      <meter
                        min={0}
                        max={100}
                        value={pct(x.bytes, portTotal)}
                      />
                    </td>
                    <td class="num">{fmtBytes(x.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>

      <section class="panel">
        <h2>Top talkers</h2>
        {s === null || s.talkers.length === 0
          ? <p class="empty">No hosts yet.</p>
          : (
            <table class="list" data-testid="talkers">
              <tbody>
                {s.talkers.map((x) => (
                  <tr key={x.ip}>
                    <td class="flag">{x.flag ?? ""}</td>
                    <td>
                      <a href={`/hosts/${encodeURIComponent(x.ip)}`}>{x.ip}</a>
                      {x.host ? <div class="sub">{x.host}</div> : null}
                      {!x.host && x.scope
                        ? <div class="sub">{x.scope}</div>
                        : null}
                    </td>
                    <td class="num">{fmtBytes(x.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>

      <section class="panel">
        <h2>Countries</h2>
        {s === null || s.countries.length === 0
          ? <p class="empty">Only local traffic so far.</p>
          : (
            <table class="list">
              <thead>
                <tr>
                  <th />
                  <th>Country</th>
                  <th class="num">Traffic</th>
                  <th class="num">Alerts</th>
                </tr>
              </thead>
              <tbody>
                {s.countries.map((c) => (
                  <tr key={c.country}>
                    <td class="flag">{c.flag}</td>
                    <td>{c.name}</td>
                    <td class="num">{fmtBytes(c.bytes)}</td>
                    <td class="num">{c.alerts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>

      <section class="panel span2">
        <h2>Names on the wire</h2>
        {s === null || s.names.length === 0
          ? <p class="empty">No DNS, HTTP or TLS names yet.</p>
          : (
            <table class="list" data-testid="names">
              <tbody>
                {s.names.map((n) => (
                  <tr key={n.kind + n.name}>
                    <td class="tag">{n.kind.toUpperCase()}</td>
                    <td class="name">{n.name}</td>
                    <td class="num">{fmtCount(n.count)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>

      <section class="panel wide">
        <h2>
          Latest alerts <a class="more" href="/alerts">all alerts</a>
        </h2>
        {alerts.length === 0
          ? <p class="empty">No alerts. All quiet.</p>
          : (
            <ul class="recent" data-testid="recent-alerts">
              {byTimeDesc(alerts).map((a) => (
                <li key={a.netsentinel.id}>
                  <span class={`sev sev${a.alert.severity}`}>
                    {severityName(a.alert.severity)}
                  </span>
                  <a href={`/alerts/${a.netsentinel.id}`}>
                    {a.alert.signature}
                  </a>
                  <span class="sub">
                    {a.netsentinel.src_geo?.flag ?? ""} {a.src_ip} ·{" "}
                    {typeLabel(a.netsentinel.type)} · {fmtTime(a.timestamp)}
                  </span>
                </li>
              ))}
            </ul>
          )}
      </section>
    </div>
  );
}

function Card(
  p: {
    label: string;
    value: string;
    note?: string | undefined;
    warn?: boolean;
    testid?: string;
  },
): VNode {
  return (
    <div class={p.warn ? "card warn" : "card"} data-testid={p.testid}>
      <div class="label">{p.label}</div>
      <div class="value">{p.value}</div>
      {p.note ? <div class="note">{p.note}</div> : null}
    </div>
  );
}
