/**
 * A small pcap writer for fixtures, benchmarks and replays: classic pcap
 * (version 2.4), microsecond or nanosecond timestamps, either byte order.
 *
 * @module
 */

/** Options of {@link PcapWriter.create} and {@link writePcap}. */
export interface PcapWriterOptions {
  /** Link type (LINKTYPE number) in the file header (default 1, Ethernet). */
  linktype?: number;
  /**
   * Snaplen in the file header (default 262144); longer frames are cut to
   * it, keeping their wire length.
   */
  snaplen?: number;
  /** Write nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. */
  nanosecond?: boolean;
  /** Write big-endian instead of little-endian. */
  bigEndian?: boolean;
}

/** One frame for {@link writePcap}. */
export interface PcapFrame {
  /** Timestamp in microseconds since the Unix epoch. */
  tsUs: number;
  /** Captured bytes. */
  data: Uint8Array;
  /** Length on the wire (default: the captured length). */
  wirelen?: number;
}

const FLUSH_BYTES = 1 << 20;

/**
 * Writes a pcap file frame by frame, buffering about 1 MiB between writes.
 * Close it (or use `await using`) to flush the rest.
 *
 * @example
 * ```ts
 * await using w = await PcapWriter.create("out.pcap", { linktype: 1 });
 * await w.write(Date.now() * 1000, frameBytes);
 * ```
 */
export class PcapWriter {
  #file: Deno.FsFile;
  #buf = new Uint8Array(FLUSH_BYTES + 64);
  #view = new DataView(this.#buf.buffer);
  #used = 0;
  #le: boolean;
  #nano: boolean;
  #snaplen: number;
  #closed = false;
  #frames = 0;

  private constructor(file: Deno.FsFile, opts: PcapWriterOptions) {
    this.#file = file;
    this.#le = !opts.bigEndian;
    this.#nano = opts.nanosecond ?? false;
    this.#snaplen = opts.snaplen ?? 262144;
    const v = this.#view;
    const le = this.#le;
    v.setUint32(0, this.#nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
    v.setUint16(4, 2, le);
    v.setUint16(6, 4, le);
    v.setInt32(8, 0, le);
    v.setUint32(12, 0, le);
    v.setUint32(16, this.#snaplen, le);
    v.setUint32(20, opts.linktype ?? 1, le);
    this.#used = 24;
  }

  /**
   * Creates (or truncates) `path` and writes the pcap file header.
   * Throws a RangeError for a snaplen or link type that does not fit.
   */
  static async create(
    path: string,
    opts: PcapWriterOptions = {},
  ): Promise<PcapWriter> {
    const snaplen = opts.snaplen ?? 262144;
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x7fffffff) {
      throw new RangeError(
        `Cannot write "${path}": snaplen must be 1 to 2147483647, got ${snaplen}`,
      );
    }
    const linktype = opts.linktype ?? 1;
    if (!Number.isInteger(linktype) || linktype < 0 || linktype > 0x03ffffff) {
      throw new RangeError(
        `Cannot write "${path}": bad link type ${linktype}`,
      );
    }
    const file = await Deno.open(path, {
      write: true,
      create: true,
      truncate: true,
    });
    return new PcapWriter(file, opts);
  }

  /** Frames written so far. */
  get frames(): number {
    return this.#frames;
  }

  /**
   * Appends one frame with timestamp `tsUs` (microseconds since the epoch,
   * 0 to 2^32 s) and wire length `wirelen` (default: the frame's length;
   * written as given, so fixtures can hold odd values).
   */
  async write(
    tsUs: number,
    bytes: Uint8Array,
    wirelen: number = bytes.length,
  ): Promise<void> {
    if (this.#closed) {
      throw new TypeError("Cannot write to a closed PcapWriter");
    }
    const caplen = Math.min(bytes.length, this.#snaplen);
    let sec = Math.floor(tsUs / 1e6);
    let frac = this.#nano
      ? Math.round((tsUs - sec * 1e6) * 1000)
      : Math.round(tsUs - sec * 1e6);
    const unit = this.#nano ? 1e9 : 1e6;
    if (frac >= unit) {
      sec++;
      frac -= unit;
    }
    if (!(sec >= 0 && sec <= 0xffffffff)) {
      throw new RangeError(
        `Cannot write a frame at ${tsUs} us: outside the pcap time range`,
      );
    }
    if (this.#used + 16 + caplen > this.#buf.length) {
      await this.#flush();
      if (16 + caplen > this.#buf.length) {
        this.#buf = new Uint8Array(16 + caplen);
        this.#view = new DataView(this.#buf.buffer);
      }
    }
    const v = this.#view;
    const le = this.#le;
    const at = this.#used;
    v.setUint32(at, sec, le);
    v.setUint32(at + 4, frac, le);
    v.setUint32(at + 8, caplen, le);
    v.setUint32(at + 12, wirelen, le);
    this.#buf.set(
      caplen === bytes.length ? bytes : bytes.subarray(0, caplen),
      at + 16,
    );
    this.#used = at + 16 + caplen;
    this.#frames++;
    if (this.#used >= FLUSH_BYTES) await this.#flush();
  }

  /** Writes what is buffered and closes the file; a second call does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#flush();
    } finally {
      this.#file.close();
    }
  }

  /** Closes the writer at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #flush(): Promise<void> {
    let off = 0;
    while (off < this.#used) {
      off += await this.#file.write(this.#buf.subarray(off, this.#used));
    }
    this.#used = 0;
  }
}

/**
 * Writes `frames` to a new pcap file at `path`.
 *
 * @example
 * ```ts
 * await writePcap("two.pcap", [
 *   { tsUs: 1_700_000_000_000_000, data: frameA },
 *   { tsUs: 1_700_000_000_000_250, data: frameB, wirelen: 1514 },
 * ], { linktype: 1 });
 * ```
 */
export async function writePcap(
  path: string,
  frames: Iterable<PcapFrame>,
  opts: PcapWriterOptions = {},
): Promise<void> {
  await using w = await PcapWriter.create(path, opts);
  for (const f of frames) await w.write(f.tsUs, f.data, f.wirelen);
}
