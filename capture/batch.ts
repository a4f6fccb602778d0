/**
 * The one batch type every packet source produces: many raw frames packed in
 * one buffer, with per-frame offsets, lengths, timestamps and link types.
 *
 * A batch is built once by a source (file reader, live capture worker) and
 * handed to the pipeline; its buffers are transferable between threads.
 *
 * @module
 */

/** A batch of captured frames laid out in flat typed arrays. */
export interface FrameBatch {
  /** Number of frames in this batch. */
  count: number;
  /** Bytes of all frames, frame `i` at `offsets[i]` for `caplens[i]` bytes. */
  data: Uint8Array;
  /** Start offset of each frame in `data`. */
  offsets: Uint32Array;
  /** Captured length of each frame (bytes present in `data`). */
  caplens: Uint32Array;
  /** Original length on the wire (may exceed the captured length). */
  wirelens: Uint32Array;
  /** Timestamp of each frame in microseconds since the Unix epoch. */
  tsUs: Float64Array;
  /** Link type (DLT/LINKTYPE number) of each frame. */
  linktypes: Uint16Array;
}

/** Builds {@link FrameBatch}es by appending frames, growing as needed. */
export class BatchBuilder {
  #data: Uint8Array;
  #used = 0;
  #count = 0;
  #offsets: Uint32Array;
  #caplens: Uint32Array;
  #wirelens: Uint32Array;
  #tsUs: Float64Array;
  #linktypes: Uint16Array;
  readonly maxFrames: number;

  /**
   * Creates a builder for batches of at most `maxFrames` frames, with an
   * initial data buffer of `initialBytes` bytes (grown when needed).
   */
  constructor(maxFrames = 4096, initialBytes = 1 << 20) {
    this.maxFrames = maxFrames;
    this.#data = new Uint8Array(initialBytes);
    this.#offsets = new Uint32Array(maxFrames);
    this.#caplens = new Uint32Array(maxFrames);
    this.#wirelens = new Uint32Array(maxFrames);
    this.#tsUs = new Float64Array(maxFrames);
    this.#linktypes = new Uint16Array(maxFrames);
  }

  /** Number of frames appended since the last {@link take}. */
  get count(): number {
    return this.#count;
  }

  /** True when the batch holds `maxFrames` frames. */
  get full(): boolean {
    return this.#count >= this.maxFrames;
  }

  /**
   * Appends one frame copied from `src[start, start + caplen)`.
   * The caller checks `full` first; appending to a full builder throws.
   */
  push(
    src: Uint8Array,
    start: number,
    caplen: number,
    wirelen: number,
    tsUs: number,
    linktype: number,
  ): void {
    const i = this.#count;
    if (i >= this.maxFrames) {
      throw new RangeError("Cannot append to a full batch");
    }
    this.#reserve(caplen);
    this.#data.set(src.subarray(start, start + caplen), this.#used);
    this.#offsets[i] = this.#used;
    this.#caplens[i] = caplen;
    this.#wirelens[i] = wirelen;
    this.#tsUs[i] = tsUs;
    this.#linktypes[i] = linktype;
    this.#used += caplen;
    this.#count = i + 1;
  }

  /**
   * Reserves `caplen` bytes for a frame that the caller writes itself into
   * the returned view (for example straight from a libpcap buffer), then
   * records it. Returns the destination view.
   */
  reserveFrame(
    caplen: number,
    wirelen: number,
    tsUs: number,
    linktype: number,
  ): Uint8Array {
    const i = this.#count;
    if (i >= this.maxFrames) {
      throw new RangeError("Cannot append to a full batch");
    }
    this.#reserve(caplen);
    const at = this.#used;
    this.#offsets[i] = at;
    this.#caplens[i] = caplen;
    this.#wirelens[i] = wirelen;
    this.#tsUs[i] = tsUs;
    this.#linktypes[i] = linktype;
    this.#used += caplen;
    this.#count = i + 1;
    return this.#data.subarray(at, at + caplen);
  }

  /** Bytes of frame data appended since the last {@link take}. */
  get bytes(): number {
    return this.#used;
  }

  /**
   * Returns the frames appended so far as a batch with its own buffers and
   * resets the builder. Returns null when nothing was appended.
   */
  take(): FrameBatch | null {
    const n = this.#count;
    if (n === 0) return null;
    const batch: FrameBatch = {
      count: n,
      data: this.#data.slice(0, this.#used),
      offsets: this.#offsets.slice(0, n),
      caplens: this.#caplens.slice(0, n),
      wirelens: this.#wirelens.slice(0, n),
      tsUs: this.#tsUs.slice(0, n),
      linktypes: this.#linktypes.slice(0, n),
    };
    this.#count = 0;
    this.#used = 0;
    return batch;
  }

  #reserve(len: number): void {
    const need = this.#used + len;
    if (need <= this.#data.length) return;
    let size = this.#data.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#data.subarray(0, this.#used));
    this.#data = grown;
  }
}

/** The transferable buffers of a batch, for `postMessage`. */
export function batchTransferables(b: FrameBatch): ArrayBuffer[] {
  return [
    b.data.buffer as ArrayBuffer,
    b.offsets.buffer as ArrayBuffer,
    b.caplens.buffer as ArrayBuffer,
    b.wirelens.buffer as ArrayBuffer,
    b.tsUs.buffer as ArrayBuffer,
    b.linktypes.buffer as ArrayBuffer,
  ];
}

/**
 * Frees a batch's buffers at once, for the owner that is done with it (the
 * pipeline has seen it and nothing kept a view of it): each buffer is
 * detached (`ArrayBuffer.prototype.transfer(0)`), which releases its memory
 * on the spot instead of when the garbage collector gets to it. Live capture
 * hands over a new batch every 2 MiB of frames; left to the collector, V8
 * lets about 64 MiB and more of them pile up outside its heap before it
 * collects (the stream bench's flood peaked 80–100 MiB higher). The batch
 * is empty afterwards (every array of length 0); calling this again, or on
 * a batch whose buffers were transferred, does nothing.
 */
export function releaseBatch(b: FrameBatch): void {
  for (const a of batchTransferables(b)) {
    if (a instanceof ArrayBuffer && !a.detached) a.transfer(0);
  }
  b.count = 0;
}
