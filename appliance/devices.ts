/**
 * The appliance's side of devices/: the inventory fed by the pipeline,
 * saved to KV once a minute (records, per-minute and hourly traffic
 * rollups), the owner's edits, the device behind an alert's addresses,
 * the facts of a new-device notification, and the dashboard's
 * {@link DeviceSource}.
 *
 * @module
 */
import type { Alert, AlertDevice } from "../alerts/mod.ts";
import {
  classify,
  type DeviceEdit,
  DeviceInventory,
  type DeviceState,
  type DeviceView,
  deviceView,
  mergeDevice,
  type OuiRegistry,
} from "../devices/mod.ts";
import type { Cidr } from "../decode/mod.ts";
import type { ApplianceEventSink } from "../common/appliance_event.ts";
import { plainDeviceName } from "../notify/mod.ts";
import {
  deviceKey,
  type DeviceTraffic,
  deviceTrafficKey,
  getDevice,
  getDeviceEdit,
  listDevices,
  listDeviceTraffic,
  parseDeviceTraffic,
  putDeviceEdit,
  type Store,
  type StoreWriter,
} from "../store/mod.ts";
import type { DeviceSource } from "../server/mod.ts";

/** Devices saved per slice before letting the event loop run. */
const SAVE_SLICE = 128;

/** Options of {@link DeviceKeeper}. */
export interface DeviceKeeperOptions {
  store: Store;
  writer: StoreWriter;
  oui: OuiRegistry | null;
  /** The owner's edits as stored (by MAC text). */
  edits: Map<string, DeviceEdit>;
  homeNet: () => readonly Cidr[];
  maxDevices?: number;
  /** Where "device went silent" events go (absent: none). */
  events?: ApplianceEventSink;
}

/** A known device not heard from for this long (packet time) went silent. */
export const SILENT_AFTER_MS = 60 * 60 * 1000;

/** The facts a new-device notification gives. */
export interface NewDeviceFacts {
  mac: string;
  vendor: string | null;
  name: string | null;
  kind: string | null;
  first_seen_by: string;
  random_mac: boolean;
}

/** Keeps the device inventory and its records (see the module doc). */
export class DeviceKeeper {
  readonly inventory: DeviceInventory;
  readonly #o: DeviceKeeperOptions;
  /** Rollups written this run, by `mac|res|bucket` (a cache of what KV holds). */
  #rows = new Map<string, DeviceTraffic>();
  /** New alerts per device MAC since the last save. */
  #alerts = new Map<string, number>();
  #saving: Promise<void> | null = null;
  /** Devices first seen since {@link takeNewDevices} was last called. */
  #newDevices = 0;
  #lastSave = 0;

  constructor(o: DeviceKeeperOptions) {
    this.#o = o;
    this.inventory = new DeviceInventory({
      homeNet: o.homeNet,
      oui: o.oui,
      ...(o.maxDevices ? { maxDevices: o.maxDevices } : {}),
      onNewDevice: () => {
        this.#newDevices++;
      },
    });
  }

  /**
   * True when devices were first seen since the last save and that save is
   * at least 5 s old (then worth saving before the minute is up; a flood of
   * new MACs gets one save every 5 s at most).
   */
  takeNewDevices(now: number): boolean {
    if (this.#newDevices === 0 || now - this.#lastSave < 5000) return false;
    this.#newDevices = 0;
    return true;
  }

  #name(d: DeviceState): string | null {
    return this.#o.edits.get(d.macText)?.name || d.bestName();
  }

  /** The device behind a home address, as alerts carry it; undefined when none. */
  alertDevice(ip: string): AlertDevice | undefined {
    const d = this.inventory.byIp(ip);
    if (d === undefined) return undefined;
    const name = this.#name(d);
    const kind = classify([...d.hints.values()]).kind;
    return {
      mac: d.macText,
      ...(name ? { name } : {}),
      ...(d.vendor ? { vendor: d.vendor } : {}),
      ...(kind ? { kind: kind.value } : {}),
    };
  }

  /** Adds the devices behind an alert's addresses (and counts the alert for them). */
  enrich(a: Alert): void {
    const src = this.alertDevice(a.src_ip);
    if (src) a.netsentinel.src_device = src;
    const dst = a.dest_ip ? this.alertDevice(a.dest_ip) : undefined;
    if (dst) a.netsentinel.dest_device = dst;
    if (a.netsentinel.type === "new_host") {
      const f = this.newDeviceFacts(a.src_ip);
      if (f) a.netsentinel.evidence.device = f;
    }
  }

  /** Counts a new alert for the devices it names. */
  noteAlert(a: Alert): void {
    for (const d of [a.netsentinel.src_device, a.netsentinel.dest_device]) {
      if (d) this.#alerts.set(d.mac, (this.#alerts.get(d.mac) ?? 0) + 1);
    }
  }

  /** What a new-device notification says about the device at `ip`; null when none is known. */
  newDeviceFacts(ip: string): NewDeviceFacts | null {
    const d = this.inventory.byIp(ip);
    if (d === undefined) return null;
    const kind = classify([...d.hints.values()]).kind;
    return {
      mac: d.macText,
      vendor: d.vendor,
      name: this.#name(d),
      kind: kind ? `${kind.confidence} ${kind.value}` : null,
      first_seen_by: d.firstBy,
      random_mac: d.macKind === "local",
    };
  }

  /** The name to show for an address (owner's or announced), or null. */
  nameOf(ip: string): string | null {
    const d = this.inventory.byIp(ip);
    return d ? this.#name(d) : null;
  }

  /** Saves what changed since the last call; one save at a time. */
  save(): Promise<void> {
    if (this.#saving) return this.#saving;
    this.#saving = this.#save().finally(() => {
      this.#saving = null;
    });
    return this.#saving;
  }

  /** Tells of the owner's known devices that went silent. */
  #checkSilent(): void {
    const sink = this.#o.events;
    if (!sink) return;
    const edits = this.#o.edits;
    for (
      const d of this.inventory.wentSilent(
        SILENT_AFTER_MS * 1000,
        (d) => edits.get(d.macText)?.known === true,
      )
    ) {
      const name = this.#name(d) ?? d.macText;
      const last = new Date(Math.floor(d.lastUs / 1000)).toISOString();
      sink({
        type: "device_silent",
        severity: 3,
        title: `Device ${plainDeviceName(name) || d.macText} went silent`,
        detail: `${d.macText} (${
          d.vendor ?? "no vendor"
        }) has sent nothing since ${last}.`,
        at: Date.now(),
        ...(d.curV4 || d.curV6 ? { ip: d.curV4 || d.curV6 } : {}),
        facts: { mac: d.macText, last_seen: last },
      });
    }
  }

  async #save(): Promise<void> {
    this.#lastSave = Date.now();
    this.#checkSilent();
    const { store, writer } = this.#o;
    const deltas = this.inventory.drain();
    const alerts = this.#alerts;
    this.#alerts = new Map();
    const hostMs = store.retention.hostMs;
    const minuteMs = store.statsRetentionMs("1m");
    for (let i = 0; i < deltas.length; i += SAVE_SLICE) {
      if (i > 0) await new Promise((r) => setTimeout(r, 0));
      await Promise.all(
        deltas.slice(i, i + SAVE_SLICE).map(async (delta) => {
          const mac = delta.device.macText;
          const prev = await getDevice(store, mac);
          const rec = mergeDevice(prev, delta, alerts.get(mac) ?? 0);
          writer.queueSet(deviceKey(mac), rec, { expireIn: hostMs });
          for (const m of delta.minutes) {
            const hour = Math.floor(m.bucket / 3_600_000) * 3_600_000;
            for (
              const [res, bucket, ttl] of [
                ["1m", m.bucket, minuteMs],
                ["1h", hour, hostMs],
              ] as const
            ) {
              const k = `${mac}|${res}|${bucket}`;
              let row = this.#rows.get(k);
              if (row === undefined) {
                row = parseDeviceTraffic(
                  (await store.kv.get(deviceTrafficKey(mac, res, bucket)))
                    .value,
                ) ??
                  {
                    bucket,
                    bytes_in: 0,
                    bytes_out: 0,
                    packets_in: 0,
                    packets_out: 0,
                  };
                this.#rows.set(k, row);
              }
              row.bytes_in += m.bytesIn;
              row.bytes_out += m.bytesOut;
              row.packets_in += m.pktsIn;
              row.packets_out += m.pktsOut;
              writer.queueSet(deviceTrafficKey(mac, res, bucket), { ...row }, {
                expireIn: ttl,
              });
            }
          }
        }),
      );
    }
    // Keep only the cache of the buckets still being filled.
    const newest = new Map<string, number>();
    for (const [k, row] of this.#rows) {
      const key = k.slice(0, k.lastIndexOf("|"));
      newest.set(key, Math.max(newest.get(key) ?? 0, row.bucket));
    }
    for (const [k, row] of this.#rows) {
      if (row.bucket < newest.get(k.slice(0, k.lastIndexOf("|")))!) {
        this.#rows.delete(k);
      }
    }
  }

  /** The dashboard's access to devices. */
  source(): DeviceSource {
    const { store, edits } = this.#o;
    const view = async (mac: string) => {
      const rec = await getDevice(store, mac);
      return rec === null
        ? null
        : deviceView(rec, await getDeviceEdit(store, mac));
    };
    return {
      list: async (opts) => {
        const page = await listDevices(store, opts);
        return {
          devices: page.devices.map((r): DeviceView =>
            deviceView(r, edits.get(r.mac) ?? {})
          ),
          cursor: page.cursor,
        };
      },
      get: view,
      traffic: (mac, resolution, from, to) =>
        listDeviceTraffic(store, mac, resolution, { from, to }),
      edit: async (mac, edit) => {
        if (await getDevice(store, mac) === null) return null;
        edits.set(mac, await putDeviceEdit(store, mac, edit));
        return await view(mac);
      },
      byIp: (ip) => {
        const d = this.inventory.byIp(ip);
        return d ? { mac: d.macText, name: this.#name(d) } : null;
      },
    };
  }
}
