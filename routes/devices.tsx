/**
 * The Devices page: every device of the home network by MAC, with its
 * name, vendor, kind, addresses, last seen, traffic, alerts, and whether
 * the owner knows it.
 *
 * @module
 */
import type { VNode } from "preact";
import type { DeviceView } from "../devices/mod.ts";
import type { RequestContext } from "../server/context.ts";
import { fmtBytes } from "../islands/_format.ts";
import { Time } from "./_layout.tsx";

/** Page title. */
export const title = "Devices";

/** Props of the Devices page. */
export interface DevicesPageProps {
  /** null: the inventory is off. */
  devices: DeviceView[] | null;
  more: boolean;
}

/** Loads the devices, most recently seen first. */
export async function handler(
  ctx: RequestContext,
): Promise<DevicesPageProps | Response> {
  const src = ctx.deps.devices;
  if (src === undefined) return { devices: null, more: false };
  const page = await src.list({ limit: 10_000 });
  const devices = [...page.devices].sort((a, b) =>
    b.last_seen.localeCompare(a.last_seen)
  );
  return { devices, more: page.cursor !== null };
}

/** A device's kind as shown: "printer", "possibly printer", or "". */
export function kindText(d: DeviceView): string {
  if (d.kind === null) return "";
  return d.kind.confidence === "likely"
    ? d.kind.value
    : `possibly ${d.kind.value}`;
}

/** A device's vendor as shown. */
export function vendorText(d: DeviceView): string {
  if (d.vendor) return d.vendor;
  return d.mac_kind === "local" ? "randomised MAC (no vendor)" : "unknown";
}

/** The Devices page. */
export default function DevicesPage(p: DevicesPageProps): VNode {
  return (
    <>
      <h1>Devices</h1>
      {p.devices === null
        ? <p class="empty">The device inventory is off.</p>
        : p.devices.length === 0
        ? (
          <p class="empty">
            No devices recorded yet (they are saved once a minute).
          </p>
        )
        : (
          <table class="list devices" data-testid="device-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Vendor</th>
                <th>Kind</th>
                <th>Addresses</th>
                <th>Last seen</th>
                <th class="num">Traffic</th>
                <th class="num">Alerts</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {p.devices.map((d) => (
                <tr key={d.mac} data-mac={d.mac}>
                  <td>
                    <a href={`/devices/${encodeURIComponent(d.mac)}`}>
                      {d.display_name ?? d.mac}
                    </a>
                    <div class="sub">{d.mac}</div>
                  </td>
                  <td>{vendorText(d)}</td>
                  <td title={d.kind?.evidence.join("\n") ?? ""}>
                    {kindText(d)}
                    {d.os
                      ? (
                        <div class="sub">
                          {d.os.confidence === "likely" ? "" : "possibly "}
                          {d.os.value}
                        </div>
                      )
                      : null}
                  </td>
                  <td>
                    {d.addresses.slice(0, 3).map((a) => (
                      <div key={a.ip}>
                        <a href={`/hosts/${encodeURIComponent(a.ip)}`}>
                          {a.ip}
                        </a>
                      </div>
                    ))}
                    {d.addresses.length > 3
                      ? <div class="sub">+{d.addresses.length - 3} more</div>
                      : null}
                  </td>
                  <td class="time">
                    <Time t={d.last_seen} />
                  </td>
                  <td class="num">{fmtBytes(d.bytes_in + d.bytes_out)}</td>
                  <td class="num">{d.alerts}</td>
                  <td>
                    {d.known
                      ? <span class="badge known">known</span>
                      : <span class="badge">new</span>}
                    {d.trusted
                      ? <span class="badge known">trusted</span>
                      : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {p.more ? <p class="hint">Showing the first 10,000 devices.</p> : null}
      <p class="hint">
        Every host address: <a href="/hosts">Hosts</a>.
      </p>
    </>
  );
}
