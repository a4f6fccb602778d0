/**
 * Replay as the dashboard drives it: pick a stored capture (the shipped
 * demo, or files in `<data>/captures/`) or upload one, and play it through
 * the running pipeline at a speed. Uploads are size-limited and kept in the
 * data directory only while they play.
 *
 * @module
 */
import { basename, join } from "node:path";
import {
  CaptureFileError,
  type FrameBatch,
  ReplaySource,
} from "../capture/mod.ts";
import type { Logger } from "../common/logger.ts";
import type {
  CaptureFile,
  ReplayControl,
  ReplaySource as ReplayPick,
  ReplayStatus,
} from "../server/mod.ts";

/** The shipped demo capture (benign traffic with attacks mixed in). */
export const DEMO_CAPTURE_URL: URL = new URL(
  "../data/demo.pcap",
  import.meta.url,
);

/** Largest upload accepted, bytes. */
export const MAX_UPLOAD_BYTES = 64_000_000;

/** Options of {@link ApplianceReplay}. */
export interface ApplianceReplayOptions {
  /** Where stored captures live (`<data>/captures`). */
  dir: string;
  /** Receives every replayed batch (the pipeline). */
  onBatch: (b: FrameBatch) => void;
  /** Called when a replay ends (finished, failed or stopped). */
  onEnd?: () => void;
  log: Logger;
}

/** A stored capture's name; hidden files (uploads being played) are not. */
const CAPTURE_NAME = /^[\w-][\w.-]{0,127}\.(pcap|pcapng|cap)$/;

/** Plays captures through the appliance's pipeline. */
export class ApplianceReplay implements ReplayControl {
  readonly #o: ApplianceReplayOptions;
  #source: ReplaySource | null = null;
  #running: Promise<void> | null = null;
  /** Starts and stops one after the other (each awaits file I/O). */
  #queue: Promise<unknown> = Promise.resolve();
  #fileBytes = 0;
  #status: ReplayStatus = {
    state: "idle",
    source: null,
    speed: 1,
    packets: 0,
    progress: null,
    error: null,
  };

  /** Creates the control; nothing plays until {@link start}. */
  constructor(opts: ApplianceReplayOptions) {
    this.#o = opts;
  }

  /**
   * Removes uploads a previous run left behind (it ended while one
   * played); resolves to how many. Call at start, with the data directory
   * locked, before anything plays.
   */
  async removeStaleUploads(): Promise<number> {
    let n = 0;
    try {
      for await (const e of Deno.readDir(this.#o.dir)) {
        if (e.isFile && /^\.upload-[\w-]+\.pcap$/.test(e.name)) {
          await removeFile(join(this.#o.dir, e.name));
          n++;
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return n;
  }

  /** The demo capture and the files of the captures directory. */
  async captures(): Promise<CaptureFile[]> {
    const out: CaptureFile[] = [];
    try {
      out.push({
        name: "demo.pcap",
        bytes: (await Deno.stat(DEMO_CAPTURE_URL)).size,
      });
    } catch {
      // No demo shipped in this build.
    }
    try {
      for await (const e of Deno.readDir(this.#o.dir)) {
        if (e.isFile && CAPTURE_NAME.test(e.name) && e.name !== "demo.pcap") {
          out.push({
            name: e.name,
            bytes: (await Deno.stat(join(this.#o.dir, e.name))).size,
          });
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  #path(name: string): string {
    if (name === "demo.pcap") return DEMO_CAPTURE_URL.pathname;
    if (!CAPTURE_NAME.test(name)) {
      throw new CaptureFileError(
        name,
        `Cannot replay "${name}": not a capture file name`,
      );
    }
    return join(this.#o.dir, basename(name));
  }

  /**
   * Starts playing (a replay already running is stopped first). Resolves
   * once the file is open; a file that cannot be read rejects with its error.
   */
  start(src: ReplayPick, speed: number): Promise<ReplayStatus> {
    return this.#serial(() => this.#start(src, speed));
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  async #start(src: ReplayPick, speed: number): Promise<ReplayStatus> {
    await this.#stop();
    let path: string;
    let upload: string | null = null;
    if (src.kind === "file") {
      path = this.#path(src.name);
    } else {
      if (src.bytes.length > MAX_UPLOAD_BYTES) {
        throw new CaptureFileError(
          src.name,
          `Cannot replay "${src.name}": ${src.bytes.length} bytes is over the ${MAX_UPLOAD_BYTES} byte limit`,
        );
      }
      await Deno.mkdir(this.#o.dir, { recursive: true });
      path = join(this.#o.dir, `.upload-${crypto.randomUUID()}.pcap`);
      upload = path;
      try {
        await Deno.writeFile(path, src.bytes, { mode: 0o640 });
      } catch (e) {
        await removeFile(path);
        throw e;
      }
    }
    try {
      this.#fileBytes = (await Deno.stat(path)).size;
    } catch (e) {
      if (upload !== null) await removeFile(upload);
      throw new CaptureFileError(
        path,
        `Cannot replay "${src.name}": no such capture`,
        { cause: e },
      );
    }
    const source = new ReplaySource({ path, speed });
    this.#source = source;
    this.#status = {
      state: "running",
      source: src.name,
      speed,
      packets: 0,
      progress: 0,
      error: null,
    };
    this.#running = this.#play(source, upload);
    this.#o.log.info("replay started", { source: src.name, speed });
    return this.status();
  }

  async #play(source: ReplaySource, upload: string | null): Promise<void> {
    let bytes = 0;
    try {
      for await (const b of source.batches()) {
        this.#o.onBatch(b);
        for (let i = 0; i < b.count; i++) bytes += b.caplens[i]! + 16;
        this.#status.packets = source.status().packets;
        this.#status.progress = Math.min(
          0.99,
          bytes / Math.max(1, this.#fileBytes),
        );
      }
      const st = source.status();
      if (st.error !== null) {
        this.#status.state = "failed";
        this.#status.error = st.error;
      } else {
        this.#status.state = this.#source === source ? "finished" : "idle";
        this.#status.progress = 1;
      }
    } catch (e) {
      this.#status.state = "failed";
      this.#status.error = (e as Error).message;
      this.#o.log.warn("replay failed", { error: e });
    } finally {
      if (upload !== null) await removeFile(upload);
      this.#o.onEnd?.();
    }
  }

  /** Stops a running replay. */
  stop(): Promise<ReplayStatus> {
    return this.#serial(() => this.#stop());
  }

  async #stop(): Promise<ReplayStatus> {
    const s = this.#source;
    this.#source = null;
    if (s !== null) {
      s.close();
      await this.#running;
      if (
        this.#status.state === "running" || this.#status.state === "finished"
      ) {
        this.#status.state = "idle";
      }
    }
    this.#running = null;
    return this.status();
  }

  /** What the replay is doing now. */
  status(): ReplayStatus {
    return { ...this.#status };
  }
}

/** Removes a file that may already be gone. */
async function removeFile(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
