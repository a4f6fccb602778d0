/**
 * Replay: a capture file played as if it were live. Packet time is mapped
 * to wall time (the first packet happens "now"), frames are delivered when
 * their moment comes at the chosen speed (or as fast as possible), and the
 * file can loop. Detectors see the capture's own time intervals whatever
 * the speed, so a replay raises the same alerts as `analyze`: the speed only
 * changes when frames are delivered, and packet times run ahead of the wall
 * clock at speeds above 1.
 *
 * @module
 */
import type { FrameBatch } from "./batch.ts";
import { type CaptureFileSummary, readCaptureFile } from "./pcap_file.ts";

/** Options of a {@link ReplaySource}. */
export interface ReplayOptions {
  /** The capture file. */
  path: string;
  /** Playback speed (1 = real time); 0 or Infinity: as fast as possible. */
  speed?: number;
  /** Start again at the end (the demo mode). */
  loop?: boolean;
  /** Wall clock in ms (default `Date.now`). */
  now?: () => number;
  /** Longest single wait, ms, so a long pause in the capture stays interruptible. */
  maxWaitMs?: number;
  /** Frames per delivered batch at most (smaller batches pace more smoothly). */
  batchFrames?: number;
}

/** Progress of a replay. */
export interface ReplayStatus {
  path: string;
  speed: number;
  loop: boolean;
  /** Frames delivered so far (all loops). */
  packets: number;
  /** Completed passes over the file. */
  loops: number;
  /** Packet time of the last delivered frame, µs (after mapping). */
  positionUs: number;
  /** True once the replay finished or was stopped. */
  ended: boolean;
  /** The file's read error, if reading stopped early. */
  error: string | null;
}

/** Returns frames [start, end) of `b` as a batch sharing its buffers. */
export function sliceBatch(
  b: FrameBatch,
  start: number,
  end: number,
): FrameBatch {
  return {
    count: end - start,
    data: b.data,
    offsets: b.offsets.subarray(start, end),
    caplens: b.caplens.subarray(start, end),
    wirelens: b.wirelens.subarray(start, end),
    tsUs: b.tsUs.subarray(start, end),
    linktypes: b.linktypes.subarray(start, end),
  };
}

/** A capture file played back in (scaled) real time. */
export class ReplaySource {
  readonly #opts: Required<Omit<ReplayOptions, "now">> & { now: () => number };
  #status: ReplayStatus;
  #abort = new AbortController();
  #wake: (() => void) | null = null;

  /** Creates a replay; nothing is read until {@link batches} is iterated. */
  constructor(opts: ReplayOptions) {
    const speed = opts.speed ?? 1;
    if (!(speed >= 0)) throw new RangeError(`Invalid replay speed ${speed}`);
    this.#opts = {
      path: opts.path,
      speed: speed === 0 ? Infinity : speed,
      loop: opts.loop ?? false,
      now: opts.now ?? Date.now,
      maxWaitMs: opts.maxWaitMs ?? 250,
      batchFrames: opts.batchFrames ?? 512,
    };
    this.#status = {
      path: opts.path,
      speed: this.#opts.speed,
      loop: this.#opts.loop,
      packets: 0,
      loops: 0,
      positionUs: 0,
      ended: false,
      error: null,
    };
  }

  /** Progress so far (a copy). */
  status(): ReplayStatus {
    return { ...this.#status };
  }

  /** Stops the replay; the batch iterator ends at its next step. */
  close(): void {
    this.#abort.abort();
    this.#wake?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  /**
   * Delivers the file's frames with timestamps mapped to wall time, paced
   * by the speed. Throws CaptureFileError when the file cannot be read.
   */
  async *batches(): AsyncGenerator<FrameBatch, void, undefined> {
    const o = this.#opts;
    const signal = this.#abort.signal;
    const startWallUs = o.now() * 1000;
    // offset maps file time to replay time; fileStart is the first file time.
    let offset = NaN;
    let fileStart = NaN;
    let lastMapped = 0;
    try {
      while (!signal.aborted) {
        let fileFirst = NaN, fileLast = NaN;
        const reader = readCaptureFile(o.path, { batchFrames: o.batchFrames });
        let r = await reader.next();
        while (!r.done && !signal.aborted) {
          const b = r.value;
          const ts = b.tsUs;
          if (Number.isNaN(fileFirst) && b.count > 0) fileFirst = ts[0]!;
          if (Number.isNaN(offset)) {
            fileStart = fileFirst;
            offset = startWallUs - fileStart;
          }
          let i = 0;
          while (i < b.count && !signal.aborted) {
            // Frames due now go out together; then wait for the next one.
            const dueWallMs = (t: number) =>
              (startWallUs + (t + offset - startWallUs) / o.speed) / 1000;
            let j = i;
            const nowMs = o.now();
            while (j < b.count && dueWallMs(ts[j]!) <= nowMs) j++;
            if (j === i) {
              const wait = Math.min(o.maxWaitMs, dueWallMs(ts[i]!) - nowMs);
              await this.#sleep(Math.max(1, wait));
              continue;
            }
            for (let k = i; k < j; k++) {
              // Keep time monotonic across loops and slightly unordered files.
              let m = ts[k]! + offset;
              if (m < lastMapped) m = lastMapped;
              ts[k] = lastMapped = m;
            }
            this.#status.packets += j - i;
            this.#status.positionUs = lastMapped;
            fileLast = Math.max(
              Number.isNaN(fileLast) ? 0 : fileLast,
              ts[j - 1]! - offset,
            );
            yield sliceBatch(b, i, j);
            i = j;
          }
          r = await reader.next();
        }
        if (r.done) this.#status.error = (r.value as CaptureFileSummary).error;
        else await reader.return(undefined as never);
        if (!o.loop || signal.aborted || Number.isNaN(fileFirst)) break;
        this.#status.loops++;
        // The next pass starts one second after this one ended.
        offset += fileLast - fileFirst + 1e6;
        if (Number.isNaN(fileStart)) fileStart = fileFirst;
      }
    } finally {
      this.#status.ended = true;
    }
  }
}
