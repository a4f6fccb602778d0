/**
 * The Fleet page: every sensor sharing this appliance's Redis with its
 * health and last heartbeat (a silent one is marked stale), the fleet's
 * blocks with the sensor that made them and the sensors that refused
 * them, and the newest alerts of all sensors with the sensor named;
 * `?sensor=` keeps one sensor's. When Redis is unreachable it says so (the
 * appliance detects and blocks locally meanwhile) and shows what it read
 * last. Server-rendered, no script.
 *
 * @module
 */
import type { VNode } from "preact";
import type { RequestContext } from "../server/context.ts";
import { fleetSensorParam } from "../server/api.ts";
import type { FleetAlert, FleetView } from "../fleet/mod.ts";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Fleet";

/** Props of the Fleet page. */
export interface FleetPageProps {
  /** Null when this appliance is in no fleet. */
  view: FleetView | null;
  sensor: string | null;
  alerts: FleetAlert[];
  /** Why the alerts could not be read (Redis unreachable), or null. */
  alertsError: string | null;
}

/** Reads the fleet's view and its newest alerts. */
export async function handler(ctx: RequestContext): Promise<FleetPageProps> {
  const sensor = fleetSensorParam(ctx.url) ?? null;
  const f = ctx.deps.fleet;
  if (f === undefined) {
    return { view: null, sensor, alerts: [], alertsError: null };
  }
  const view = f.view();
  try {
    const alerts = await f.alerts({
      limit: 100,
      ...(sensor === null ? {} : { sensor }),
    });
    return { view, sensor, alerts, alertsError: null };
  } catch (e) {
    return { view, sensor, alerts: [], alertsError: (e as Error).message };
  }
}

function age(s: number): string {
  if (s < 120) return `${Math.round(s)} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function text(v: unknown): string {
  return typeof v === "string" || typeof v === "number" ? String(v) : "–";
}

function health(h: Record<string, unknown>): string {
  const parts: string[] = [];
  if (h.capture !== undefined) parts.push(`capture ${text(h.capture)}`);
  if (h.blocking !== undefined) parts.push(`blocking ${text(h.blocking)}`);
  if (h.active_blocks !== undefined) {
    parts.push(`${text(h.active_blocks)} blocks`);
  }
  if (h.alerts !== undefined) parts.push(`${text(h.alerts)} alerts`);
  return parts.join(" · ");
}

/** The Fleet page. */
export default function FleetPage(p: FleetPageProps): VNode {
  if (p.view === null) {
    return (
      <>
        <h1>Fleet</h1>
        <p class="empty" data-testid="fleet-off">
          This appliance is in no fleet. To see several sensors here and share
          blocks between them, point each one at the same Redis: set{" "}
          <code>fleet.enabled</code>, <code>fleet.sensor</code> and{" "}
          <code>fleet.redis</code> in the config (see the README, Fleet).
        </p>
      </>
    );
  }
  const v = p.view;
  const only = (s: string) => p.sensor === null || p.sensor === s;
  const decisions = v.decisions.filter((d) => only(d.sensor));
  return (
    <>
      <h1>Fleet</h1>
      <p class="hint">
        This is{" "}
        <strong>{v.sensor}</strong>. Every sensor publishes its alerts,
        heartbeats and blocks to the shared Redis; each one applies the others'
        blocks with its own guards. Sign-in stays per appliance.
      </p>
      {v.connected
        ? (
          <p class="ok" data-testid="fleet-redis">
            Redis reachable{v.read_at
              ? (
                <>
                  ; read <Time t={v.read_at} />
                </>
              )
              : ""}
          </p>
        )
        : (
          <p class="error" role="alert" data-testid="fleet-redis">
            Redis unreachable{v.down_since
              ? (
                <>
                  {" "}since <Time t={v.down_since} />
                </>
              )
              : ""}:{" "}
            {v.last_error ?? ""}. This appliance goes on detecting and blocking
            locally and catches up when Redis returns; below is what it read
            last.
          </p>
        )}
      <form method="get" action="/fleet" class="panel wide">
        <label>
          Sensor{" "}
          <select name="sensor" data-testid="fleet-sensor-filter">
            <option value="">all</option>
            {v.sensors.map((s) => (
              <option
                key={s.sensor}
                value={s.sensor}
                selected={p.sensor === s.sensor}
              >
                {s.sensor}
              </option>
            ))}
          </select>
        </label>{" "}
        <button type="submit">Show</button>
      </form>
      <section class="panel wide">
        <h2>Sensors</h2>
        {v.sensors.length === 0
          ? <p class="empty">No heartbeat read yet.</p>
          : (
            <table class="list" data-testid="fleet-sensors">
              <thead>
                <tr>
                  <th>Sensor</th>
                  <th>State</th>
                  <th>Last heartbeat</th>
                  <th>Health</th>
                </tr>
              </thead>
              <tbody>
                {v.sensors.filter((s) => only(s.sensor)).map((s) => (
                  <tr
                    key={s.sensor}
                    class={s.stale ? "stale" : ""}
                    data-sensor={s.sensor}
                    data-state={s.stale ? "stale" : "fresh"}
                  >
                    <td>
                      <a href={`/fleet?sensor=${encodeURIComponent(s.sensor)}`}>
                        {s.sensor}
                      </a>
                      {s.sensor === v.sensor ? " (this one)" : ""}
                    </td>
                    <td class={s.stale ? "error" : "ok"}>
                      {s.stale ? "stale (silent)" : "up"}
                    </td>
                    <td class="time">
                      <Time t={s.at} /> · {age(s.age_s)}
                    </td>
                    <td>{health(s.health)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>
      <section class="panel wide">
        <h2>Fleet blocks</h2>
        {decisions.length === 0
          ? <p class="empty">No block in force in the fleet.</p>
          : (
            <table class="list" data-testid="fleet-blocks">
              <thead>
                <tr>
                  <th>Target</th>
                  <th>By sensor</th>
                  <th>Reason</th>
                  <th>Until</th>
                  <th>Refused by</th>
                </tr>
              </thead>
              <tbody>
                {decisions.map((d) => {
                  const refused = v.refusals.filter((r) =>
                    r.target === d.target
                  );
                  return (
                    <tr key={d.target} data-target={d.target}>
                      <td>
                        <a href={`/hosts/${encodeURIComponent(d.target)}`}>
                          {d.target}
                        </a>
                      </td>
                      <td>{d.sensor}</td>
                      <td>{d.reason}</td>
                      <td class="time">
                        <Time t={d.until} />
                      </td>
                      <td class={refused.length > 0 ? "error" : ""}>
                        {refused.length === 0
                          ? "–"
                          : refused.map((r) => `${r.sensor} (${r.reason})`)
                            .join(", ")}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
      </section>
      <section class="panel wide">
        <h2>Alerts of the fleet</h2>
        {p.alertsError !== null
          ? (
            <p class="error" data-testid="fleet-alerts-error">
              {p.alertsError}
            </p>
          )
          : p.alerts.length === 0
          ? <p class="empty">No alert in the fleet's stream.</p>
          : (
            <table class="list" data-testid="fleet-alerts">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Sensor</th>
                  <th>Alert</th>
                  <th>Source</th>
                  <th>Destination</th>
                </tr>
              </thead>
              <tbody>
                {p.alerts.map((a) => {
                  const al = a.eve.alert as Record<string, unknown> | undefined;
                  return (
                    <tr key={a.id} data-sensor={a.sensor}>
                      <td class="time">
                        <Time t={text(a.eve.timestamp)} />
                      </td>
                      <td>{a.sensor}</td>
                      <td>{text(al?.signature)}</td>
                      <td>{text(a.eve.src_ip)}</td>
                      <td>{text(a.eve.dest_ip)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
      </section>
    </>
  );
}
