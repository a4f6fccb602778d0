/**
 * Devices as stored: one record per MAC (`["device", mac]`, kept as long
 * as host records), the owner's edits apart (`["device_edit", mac]`, kept
 * until changed, so the appliance's batched record writes never undo an
 * edit), and traffic rollups per device (`["device_traffic", mac, "1m" or
 * "1h", bucketMs]`: per-minute kept as long as the per-minute stats,
 * hourly as long as host records). Writes of records and rollups go
 * through the {@link StoreWriter}; edits are written at once.
 *
 * @module
 */
import {
  type DeviceEdit,
  type DeviceRecord,
  parseDeviceRecord,
  parseStoredEdit,
} from "../devices/mod.ts";
import { isRecord } from "../common/validate.ts";
import type { Store } from "./store.ts";

/** `["device", mac]`: a device. */
export function deviceKey(mac: string): Deno.KvKey {
  return ["device", mac];
}

/** `["device_edit", mac]`: the owner's edit of a device. */
export function deviceEditKey(mac: string): Deno.KvKey {
  return ["device_edit", mac];
}

/** `["device_traffic", mac, resolution, bucketMs]`: a device's traffic in one bucket. */
export function deviceTrafficKey(
  mac: string,
  resolution: "1m" | "1h",
  bucketMs: number,
): Deno.KvKey {
  return ["device_traffic", mac, resolution, bucketMs];
}

/** A device's traffic in one bucket. */
export interface DeviceTraffic {
  /** Bucket start, ms since the epoch. */
  bucket: number;
  bytes_in: number;
  bytes_out: number;
  packets_in: number;
  packets_out: number;
}

/** Validates a stored rollup; null when malformed. */
export function parseDeviceTraffic(v: unknown): DeviceTraffic | null {
  if (
    !isRecord(v) || typeof v.bucket !== "number" ||
    typeof v.bytes_in !== "number" || typeof v.bytes_out !== "number" ||
    typeof v.packets_in !== "number" || typeof v.packets_out !== "number"
  ) return null;
  return v as unknown as DeviceTraffic;
}

/** Reads one device, or null. */
export async function getDevice(
  store: Store,
  mac: string,
): Promise<DeviceRecord | null> {
  return parseDeviceRecord((await store.kv.get(deviceKey(mac))).value);
}

/** Reads one device's edit ({} when none). */
export async function getDeviceEdit(
  store: Store,
  mac: string,
): Promise<DeviceEdit> {
  return parseStoredEdit((await store.kv.get(deviceEditKey(mac))).value);
}

/** Every edit, by MAC (at most 20,000). */
export async function listDeviceEdits(
  store: Store,
): Promise<Map<string, DeviceEdit>> {
  const out = new Map<string, DeviceEdit>();
  for await (
    const e of store.kv.list({ prefix: ["device_edit"] }, { limit: 20_000 })
  ) {
    const mac = e.key[1];
    if (typeof mac === "string") out.set(mac, parseStoredEdit(e.value));
  }
  return out;
}

/**
 * Applies an edit over the stored one (fields given replace, others stay)
 * and returns the result.
 */
export async function putDeviceEdit(
  store: Store,
  mac: string,
  edit: DeviceEdit,
): Promise<DeviceEdit> {
  const prev = await getDeviceEdit(store, mac);
  const next: DeviceEdit = {
    ...prev,
    ...edit,
    updated: new Date(store.now()).toISOString(),
  };
  await store.kv.set(deviceEditKey(mac), next);
  return next;
}

/** Lists devices in MAC order, at most `limit` (default 1000, up to 10,000). */
export async function listDevices(
  store: Store,
  opts: { limit?: number; cursor?: string } = {},
): Promise<{ devices: DeviceRecord[]; cursor: string | null }> {
  const limit = Math.max(1, Math.min(10_000, opts.limit ?? 1000));
  const iter = store.kv.list({ prefix: ["device"] }, {
    cursor: opts.cursor,
    batchSize: Math.min(500, limit + 1),
  });
  const devices: DeviceRecord[] = [];
  for await (const e of iter) {
    const d = parseDeviceRecord(e.value);
    if (d === null) continue;
    devices.push(d);
    if (devices.length === limit) {
      const cursor = iter.cursor;
      return { devices, cursor: (await iter.next()).done ? null : cursor };
    }
  }
  return { devices, cursor: null };
}

/** A device's rollups of `resolution` with buckets in [from, to), oldest first. */
export async function listDeviceTraffic(
  store: Store,
  mac: string,
  resolution: "1m" | "1h",
  range: { from: number; to: number },
): Promise<DeviceTraffic[]> {
  const out: DeviceTraffic[] = [];
  for await (
    const e of store.kv.list({
      start: deviceTrafficKey(mac, resolution, range.from),
      end: deviceTrafficKey(mac, resolution, range.to),
    }, { limit: 10_000 })
  ) {
    const t = parseDeviceTraffic(e.value);
    if (t !== null) out.push(t);
  }
  return out;
}
