/**
 * Alert pcaps on disk: one classic pcap file (capture/pcap_writer.ts) per
 * alert, `<alert id>.pcap` in one folder (the data directory's `pcaps/`,
 * or `analyze --pcap-dir`), all of them together under a size cap: the
 * oldest files are removed first. Alerts hand their frames over
 * synchronously ({@link AlertPcaps.capture}, a copy out of the
 * {@link PacketRing}); the files are written later, in batches, by one
 * async writer, never on the packet path. A file is written under a
 * temporary name and renamed, so a reader never sees half of one.
 *
 * @module
 */
import { writePcap } from "../capture/mod.ts";
import type { AlertFrames, AlertPackets, PacketRing } from "./ring.ts";

/** Default cap of all alert pcaps together: 256 MiB (an SD card's share). */
export const DEFAULT_PCAP_MAX_MB = 256;

/** An alert id: 26 characters of Crockford base32 (alerts/alert_id.ts). */
const ID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** True when `id` has the form of an alert id (safe as a file name). */
export function isAlertId(id: string): boolean {
  return ID_RE.test(id);
}

/** What the writer did since it started. */
export interface AlertPcapCounters {
  written: number;
  removed: number;
  failed: number;
  /** Alerts whose frames alone exceed the cap (not written). */
  tooLarge: number;
  bytes: number;
  files: number;
}

/** The folder of alert pcaps. */
export class AlertPcaps {
  readonly dir: string;
  readonly maxBytes: number;
  readonly counters: AlertPcapCounters = {
    written: 0,
    removed: 0,
    failed: 0,
    tooLarge: 0,
    bytes: 0,
    files: 0,
  };
  /** Files held, oldest first: id → size. */
  #files = new Map<string, number>();
  #pending = new Map<string, AlertFrames>();
  #running: Promise<void> | null = null;
  #onError: (msg: string) => void;

  private constructor(
    dir: string,
    maxBytes: number,
    onError: (msg: string) => void,
  ) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.#onError = onError;
  }

  /**
   * Opens (creating it) the folder `dir`, capped at `maxBytes`; the files
   * already there count against the cap, oldest (by time written) first.
   * Write failures (a full disk) go to `onError` and are counted.
   */
  static async open(
    dir: string,
    maxBytes: number,
    onError: (msg: string) => void,
  ): Promise<AlertPcaps> {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new Error(
        `Cannot use pcap folder "${dir}": ${
          (e as Error).message
        } (give a writable folder)`,
      );
    }
    const s = new AlertPcaps(dir, maxBytes, onError);
    const found: { id: string; size: number; at: number }[] = [];
    for await (const ent of Deno.readDir(dir)) {
      if (!ent.isFile) continue;
      if (ent.name.endsWith(".pcap.tmp")) {
        await Deno.remove(`${dir}/${ent.name}`).catch(() => {});
        continue;
      }
      const id = ent.name.slice(0, -5);
      if (!ent.name.endsWith(".pcap") || !isAlertId(id)) continue;
      const st = await Deno.stat(`${dir}/${ent.name}`);
      found.push({ id, size: st.size, at: st.mtime?.getTime() ?? 0 });
    }
    found.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
    for (const f of found) s.#add(f.id, f.size);
    await s.#trim(null);
    return s;
  }

  /**
   * Takes `alert`'s packets from `ring` now and queues its file (a later
   * call for the same alert, an update, replaces what is queued). Returns
   * false when the ring holds none of its packets.
   */
  capture(
    alert: AlertPackets & { netsentinel: { id: string } },
    ring: PacketRing,
  ): boolean {
    const id = alert.netsentinel.id;
    if (!isAlertId(id)) return false;
    const frames = ring.select(alert);
    if (frames === null || frames.frames.length === 0) return false;
    this.#pending.set(id, frames);
    if (this.#running === null) {
      this.#running = this.#drain().finally(() => {
        this.#running = null;
      });
    }
    return true;
  }

  /** Resolves when every queued file is written. */
  async flush(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /**
   * The path of alert `id`'s pcap, or null when there is none. Throws a
   * RangeError for an `id` that is not an alert id.
   */
  path(id: string): string | null {
    if (!isAlertId(id)) {
      throw new RangeError(
        `Invalid alert id "${
          id.slice(0, 40)
        }": 26 characters of Crockford base32`,
      );
    }
    return this.#files.has(id) ? `${this.dir}/${id}.pcap` : null;
  }

  async #drain(): Promise<void> {
    // Let the batch that raised the alerts finish first, then write them all.
    await new Promise((r) => setTimeout(r, 0));
    while (this.#pending.size > 0) {
      const batch = [...this.#pending];
      this.#pending.clear();
      for (const [id, f] of batch) {
        try {
          await this.#write(id, f);
        } catch (e) {
          this.counters.failed++;
          this.#onError(
            `Cannot write the pcap of alert ${id} in "${this.dir}": ${
              (e as Error).message
            } (check the disk)`,
          );
        }
      }
    }
  }

  async #write(id: string, f: AlertFrames): Promise<void> {
    let size = 24;
    for (const fr of f.frames) size += 16 + fr.data.length;
    if (size > this.maxBytes) {
      this.counters.tooLarge++;
      return;
    }
    const old = this.#files.get(id);
    if (old !== undefined) this.#remove(id, old);
    this.#reserve(size);
    await this.#trim(id);
    const path = `${this.dir}/${id}.pcap`;
    await writePcap(`${path}.tmp`, f.frames, { linktype: f.linktype });
    await Deno.rename(`${path}.tmp`, path);
    this.#reserved -= size;
    this.#add(id, size);
    this.counters.written++;
  }

  #reserved = 0;

  #reserve(size: number): void {
    this.#reserved += size;
  }

  #add(id: string, size: number): void {
    this.#files.set(id, size);
    this.counters.bytes += size;
    this.counters.files = this.#files.size;
  }

  #remove(id: string, size: number): void {
    this.#files.delete(id);
    this.counters.bytes -= size;
    this.counters.files = this.#files.size;
  }

  /** Removes the oldest files (never `keep`) until the cap holds. */
  async #trim(keep: string | null): Promise<void> {
    for (const [id, size] of this.#files) {
      if (this.counters.bytes + this.#reserved <= this.maxBytes) return;
      if (id === keep) continue;
      this.#remove(id, size);
      try {
        await Deno.remove(`${this.dir}/${id}.pcap`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      this.counters.removed++;
    }
  }
}
