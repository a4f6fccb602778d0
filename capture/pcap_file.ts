/**
 * A streaming reader for capture files: pcap (both byte orders, microsecond,
 * nanosecond and Kuznetzov's modified record header) and pcapng (sections in
 * either byte order, interfaces with their own link type, snaplen,
 * `if_tsresol` and `if_tsoffset`; Enhanced, Simple and obsolete Packet
 * Blocks; other blocks skipped).
 *
 * The file is read in 4 MiB chunks and records are walked in place with a
 * `DataView`; frame bytes are copied once, into the {@link FrameBatch}.
 *
 * It accepts and rejects what libpcap 1.10 (`sf-pcap.c`, `sf-pcapng.c`)
 * accepts and rejects, so it reads the same number of packets from a broken
 * file as tcpdump does. One deliberate difference: pcapng interfaces may have
 * different link types and snaplens, and sections may change byte order,
 * where libpcap stops with an error.
 *
 * A format problem (bad magic, truncated record, absurd length) ends the read
 * after every whole record before it and is reported as the summary's
 * `error`; only a file that cannot be read at all throws
 * {@link CaptureFileError}.
 *
 * Timestamps are microseconds since the epoch; pcap seconds and fractions
 * are unsigned 32-bit (as in libpcap 1.10.5 and later; earlier versions read
 * them signed), nanoseconds are truncated to microseconds like libpcap does.
 * Frame bytes are delivered as stored: libpcap's fix-ups of byte-swapped
 * pseudo-headers (Linux USB, NFLOG, pflog, …) are left to the decoders.
 *
 * @module
 */

import { UserError } from "../common/errors.ts";
import { BatchBuilder, type FrameBatch } from "./batch.ts";

/** Capture file formats the reader understands. */
export type CaptureFormat = "pcap" | "pcapng";

/** What a read of one capture file found, returned when the read ends. */
export interface CaptureFileSummary {
  /** The path as given. */
  readonly path: string;
  /** The file's format, or null when its header was not recognised. */
  readonly format: CaptureFormat | null;
  /**
   * Link types (LINKTYPE numbers) declared by the file, in order of first
   * appearance: the pcap header's, or every pcapng interface's.
   */
  readonly linktypes: readonly number[];
  /** Packet records delivered. */
  readonly packets: number;
  /**
   * File bytes consumed: the whole file after a clean read, else the offset
   * of the record that stopped the read.
   */
  readonly bytesRead: number;
  /** Size of the file in bytes when it was opened. */
  readonly fileBytes: number;
  /** The format problem that stopped the read, or null after a clean read. */
  readonly error: string | null;
}

/** Options of {@link readCaptureFile}. */
export interface ReadCaptureOptions {
  /** Most frames in one batch (default 4096). */
  batchFrames?: number;
  /**
   * A batch is handed over once its frame bytes reach this many bytes
   * (default 8 MiB), so huge frames cannot make a batch huge.
   */
  batchBytes?: number;
  /** Stops the read: the generator then throws the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A capture file that cannot be read at all: missing, not permitted, a
 * directory, or an I/O error while reading. The message names the path.
 */
export class CaptureFileError extends UserError {
  /** The path that could not be read. */
  readonly path: string;
  /** Creates the error for `path`; keep `cause` when wrapping. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CaptureFileError";
    this.path = path;
  }
}

/**
 * A format problem in a capture file (bad magic, truncated record, absurd
 * length). Internal: the reader reports its message as the summary's
 * `error` and never throws it.
 */
class PcapFormatError extends SyntaxError {
  /** File offset, in bytes, of the header or record at fault. */
  readonly offset: number;
  /** Creates the error for the structure at file offset `offset`. */
  constructor(message: string, offset: number) {
    super(message);
    this.name = "PcapFormatError";
    this.offset = offset;
  }
}

/** Bytes asked of the file per read. */
const CHUNK_BYTES = 4 << 20;

/** libpcap's MAXIMUM_SNAPLEN: the largest caplen of most link types. */
const MAXIMUM_SNAPLEN = 262144;

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_DBUS = 231;
const LINKTYPE_USBPCAP = 249;
const LINKTYPE_EBHSCR = 279;

const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_KUZNETZOV = 0xa1b2cd34;
const MAGIC_NSEC = 0xa1b23c4d;
const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_PB = 0x00000002;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;
/**
 * True when `head` starts as a pcap (either byte order, µs, ns or
 * Kuznetzov) or pcapng file does, by the magic numbers this reader takes.
 */
export function hasCaptureMagic(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const v = new DataView(head.buffer, head.byteOffset, 4);
  const le = v.getUint32(0, true), be = v.getUint32(0, false);
  for (const m of [MAGIC_USEC, MAGIC_NSEC, MAGIC_KUZNETZOV]) {
    if (le === m || be === m) return true;
  }
  return le === BT_SHB;
}

/** libpcap's BT_SHB_INSANE_MAX: the largest first Section Header Block. */
const SHB_MAX_BYTES = 1 << 20;
/** libpcap's INITIAL_MAX_BLOCKSIZE: the largest pcapng block at first. */
const INITIAL_MAX_BLOCK_BYTES = 16 << 20;

/** Status of one walk over the buffered bytes. */
const NEED_MORE = 0;
const BATCH_FULL = 1;
const DONE = 2;
const FAILED = 3;
/** Step again without reading: a header or a non-packet block was consumed. */
const STEP_AGAIN = 4;

/** How a pcap file's caplen and len fields are ordered (version < 2.3). */
const LENGTHS_IN_ORDER = 0;
const LENGTHS_MAYBE_SWAPPED = 1;
const LENGTHS_SWAPPED = 2;

/** How a pcapng interface's timestamps become microseconds. */
const TS_MICRO = 0;
const TS_DIVIDE = 1;
const TS_BIGINT = 2;

/** Largest resolution whose remainder times 10^6 stays exact in a double. */
const TS_DIVIDE_MAX_RESOLUTION = 2 ** 33;

/** libpcap's max_snaplen_for_dlt: the largest caplen it accepts. */
function maxSnaplenFor(linktype: number): number {
  switch (linktype) {
    case LINKTYPE_DBUS:
      return 128 << 20;
    case LINKTYPE_EBHSCR:
      return 8 << 20;
    case LINKTYPE_USBPCAP:
      return 1 << 20;
    default:
      return MAXIMUM_SNAPLEN;
  }
}

/** libpcap's pcap_adjust_snapshot: a zero or huge snaplen means "the max". */
function adjustSnaplen(linktype: number, snaplen: number): number {
  return snaplen === 0 || snaplen > 0x7fffffff
    ? maxSnaplenFor(linktype)
    : snaplen;
}

/** A link type as stored per frame: 16 bits, 65535 when it does not fit. */
function frameLinktype(linktype: number): number {
  return linktype > 0xffff ? 0xffff : linktype;
}

function hex32(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

/**
 * Walks the buffered bytes of one capture file. The driver fills `buf`
 * between `pos` and `end`; `step` consumes whole records into a batch
 * builder and says what it needs next. Nothing is allocated per record
 * here (BatchBuilder.push takes one subarray view per frame).
 */
class Walker {
  buf: Uint8Array;
  view: DataView;
  /** File offset of `buf[0]`. */
  base = 0;
  pos = 0;
  end = 0;
  eof = false;
  /** Bytes needed from `pos` before the next step can progress. */
  need = 4;

  format: CaptureFormat | null = null;
  readonly linktypes: number[] = [];
  packets = 0;
  error: PcapFormatError | null = null;

  #le = true;
  #lastTsUs = 0;

  // pcap
  #hdrBytes = 16;
  #snapshot = MAXIMUM_SNAPLEN;
  #maxCaplen = MAXIMUM_SNAPLEN;
  #linktype = 0;
  #nano = false;
  #lengths = LENGTHS_IN_ORDER;

  // pcapng: interfaces of the current section, flat.
  #sections = 0;
  #idbsSeen = 0;
  #maxBlockBytes = INITIAL_MAX_BLOCK_BYTES;
  #ifCount = 0;
  #ifLinktype: number[] = [];
  #ifSnaplen: number[] = [];
  #ifTsMode: number[] = [];
  #ifTsRes: number[] = [];
  #ifTsOffUs: number[] = [];

  constructor(bytes: number) {
    this.buf = new Uint8Array(bytes);
    this.view = new DataView(this.buf.buffer);
  }

  /** Grows the buffer to hold at least `bytes` bytes from `pos`. */
  reserve(bytes: number): void {
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.base += this.pos;
      this.end -= this.pos;
      this.pos = 0;
    }
    if (bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.end));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  /** File offset of the next unconsumed byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  step(b: BatchBuilder, maxBytes: number): number {
    if (this.format === "pcap") return this.#stepPcap(b, maxBytes);
    if (this.format === "pcapng") return this.#stepPcapng(b, maxBytes);
    return this.#stepFileHeader();
  }

  #fail(message: string, offset: number = this.offset): number {
    this.error = new PcapFormatError(message, offset);
    return FAILED;
  }

  #addLinktype(linktype: number): void {
    if (!this.linktypes.includes(linktype)) this.linktypes.push(linktype);
  }

  /** Recognises the format and reads a pcap file header. */
  #stepFileHeader(): number {
    const avail = this.end - this.pos;
    if (avail < 4) {
      if (!this.eof) return this.#needMore(4);
      return this.#fail(
        avail === 0
          ? "Not a capture file: it is empty"
          : `Not a capture file: it has only ${avail} bytes`,
      );
    }
    const v = this.view;
    const at = this.pos;
    const magicLe = v.getUint32(at, true);
    const magicBe = v.getUint32(at, false);
    let magic = 0;
    if (
      magicLe === MAGIC_USEC || magicLe === MAGIC_NSEC ||
      magicLe === MAGIC_KUZNETZOV
    ) {
      magic = magicLe;
      this.#le = true;
    } else if (
      magicBe === MAGIC_USEC || magicBe === MAGIC_NSEC ||
      magicBe === MAGIC_KUZNETZOV
    ) {
      magic = magicBe;
      this.#le = false;
    }
    if (magic !== 0) return this.#pcapHeader(magic);
    if (magicLe === BT_SHB) {
      // Like libpcap: without a byte-order magic it is no pcapng file.
      if (avail < 12) {
        if (!this.eof) return this.#needMore(12);
      } else {
        const bom = v.getUint32(at + 8, true);
        if (bom === BYTE_ORDER_MAGIC || bom === BYTE_ORDER_MAGIC_SWAPPED) {
          // The section header is then walked like any block.
          this.format = "pcapng";
          return STEP_AGAIN;
        }
      }
    }
    return this.#fail(
      `Not a pcap or pcapng file: unknown magic number ${hex32(magicBe)}`,
    );
  }

  #pcapHeader(magic: number): number {
    const avail = this.end - this.pos;
    if (avail < 24) {
      if (!this.eof) return this.#needMore(24);
      return this.#fail(
        `Truncated pcap file header: needs 24 bytes, the file has ${avail}`,
      );
    }
    const v = this.view;
    const le = this.#le;
    const at = this.pos;
    const major = v.getUint16(at + 4, le);
    const minor = v.getUint16(at + 6, le);
    const snaplen = v.getUint32(at + 16, le);
    const linktype = v.getUint32(at + 20, le) & 0x03ffffff;
    if (major < 2) {
      return this.#fail(`Unsupported pcap version ${major}.${minor}: archaic`);
    }
    if (!((major === 2 && minor <= 4) || (major === 543 && minor === 0))) {
      return this.#fail(
        `Unsupported pcap version ${major}.${minor}: only 2.0 to 2.4 are read`,
      );
    }
    this.format = "pcap";
    this.#addLinktype(linktype);
    this.#linktype = frameLinktype(linktype);
    this.#nano = magic === MAGIC_NSEC;
    this.#maxCaplen = maxSnaplenFor(linktype);
    let snapshot = adjustSnaplen(linktype, snaplen);
    if (magic === MAGIC_KUZNETZOV) {
      this.#hdrBytes = 24;
      // libpcap assumes a cooked capture with a faked Ethernet header.
      if (linktype === LINKTYPE_ETHERNET) {
        snapshot = Math.min(snapshot + 14, 0x7fffffff);
      }
    }
    this.#snapshot = snapshot;
    this.#lengths = major === 543 || minor < 3
      ? LENGTHS_SWAPPED
      : minor === 3
      ? LENGTHS_MAYBE_SWAPPED
      : LENGTHS_IN_ORDER;
    this.pos += 24;
    return STEP_AGAIN;
  }

  #needMore(bytes: number): number {
    this.need = bytes;
    return NEED_MORE;
  }

  #stepPcap(b: BatchBuilder, maxBytes: number): number {
    const buf = this.buf;
    const v = this.view;
    const le = this.#le;
    const hdr = this.#hdrBytes;
    const snapshot = this.#snapshot;
    const maxCaplen = this.#maxCaplen;
    const linktype = this.#linktype;
    const nano = this.#nano;
    const lengths = this.#lengths;
    const end = this.end;
    let pos = this.pos;
    let room = b.maxFrames - b.count;
    let bytes = b.bytes;
    let status = NEED_MORE;
    for (;;) {
      if (room === 0 || bytes >= maxBytes) {
        status = BATCH_FULL;
        break;
      }
      const avail = end - pos;
      if (avail < hdr) {
        if (!this.eof) {
          this.need = hdr;
        } else if (avail === 0) {
          status = DONE;
        } else {
          this.pos = pos;
          status = this.#fail(
            `Truncated record ${this.packets + 1}: its header needs ${hdr} ` +
              `bytes, the file has ${avail}`,
          );
        }
        break;
      }
      let caplen = v.getUint32(pos + 8, le);
      let wirelen = v.getUint32(pos + 12, le);
      if (
        lengths === LENGTHS_SWAPPED ||
        (lengths === LENGTHS_MAYBE_SWAPPED && caplen > wirelen)
      ) {
        const t = caplen;
        caplen = wirelen;
        wirelen = t;
      }
      if (caplen > maxCaplen) {
        this.pos = pos;
        status = this.#fail(
          `Record ${this.packets + 1} has caplen ${caplen}, bigger than ` +
            (caplen > snapshot
              ? `the snaplen ${snapshot}`
              : `the maximum ${maxCaplen}`),
        );
        break;
      }
      if (avail - hdr < caplen) {
        if (!this.eof) {
          this.need = hdr + caplen;
        } else {
          this.pos = pos;
          status = this.#fail(
            `Truncated record ${this.packets + 1}: caplen ${caplen}, the ` +
              `file has ${avail - hdr} bytes left`,
          );
        }
        break;
      }
      const sec = v.getUint32(pos, le);
      const frac = v.getUint32(pos + 4, le);
      // libpcap hands over at most the snaplen and skips the rest.
      const keep = caplen > snapshot ? snapshot : caplen;
      b.push(
        buf,
        pos + hdr,
        keep,
        wirelen,
        sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
        linktype,
      );
      pos += hdr + caplen;
      bytes += keep;
      room--;
      this.packets++;
    }
    if (status !== FAILED) this.pos = pos;
    return status;
  }

  #stepPcapng(b: BatchBuilder, maxBytes: number): number {
    const v = this.view;
    const end = this.end;
    for (;;) {
      if (b.full || b.bytes >= maxBytes) return BATCH_FULL;
      const pos = this.pos;
      const avail = end - pos;
      if (avail < 8) {
        if (!this.eof) return this.#needMore(8);
        if (avail !== 0) {
          return this.#fail(
            `Truncated pcapng block: its header needs 8 bytes, the file has ` +
              avail,
          );
        }
        // A section without interfaces holds no packets: an empty capture,
        // as Wireshark reads it (a packet block before any IDB is an error).
        return DONE;
      }
      let le = this.#le;
      const type = v.getUint32(pos, le);
      if (type === BT_SHB) {
        // The section's own byte order tells how to read its length.
        if (avail < 12) {
          if (!this.eof) return this.#needMore(12);
          return this.#fail(
            `Truncated pcapng section header: needs 12 bytes, the file has ` +
              avail,
          );
        }
        const bom = v.getUint32(pos + 8, true);
        if (bom === BYTE_ORDER_MAGIC) le = true;
        else if (bom === BYTE_ORDER_MAGIC_SWAPPED) le = false;
        else {
          return this.#fail(
            `Bad pcapng section header: byte-order magic ${hex32(bom)}`,
          );
        }
      }
      const total = v.getUint32(pos + 4, le);
      // libpcap checks the first section header's length against its own
      // bounds, and neither its multiple of 4 nor its trailer.
      const first = this.#sections === 0;
      if (first && (total < 28 || total > SHB_MAX_BYTES)) {
        return this.#fail(
          `Bad pcapng section header: length ${total} is outside 28 to ` +
            SHB_MAX_BYTES,
        );
      }
      if (total < 12) {
        return this.#fail(
          `Bad pcapng block of type ${hex32(type)}: length ${total} is ` +
            `below 12`,
        );
      }
      if (!first && total % 4 !== 0) {
        return this.#fail(
          `Bad pcapng block of type ${hex32(type)}: length ${total} is not ` +
            `a multiple of 4`,
        );
      }
      if (total > this.#maxBlockBytes) {
        return this.#fail(
          `Bad pcapng block of type ${hex32(type)}: length ${total} is ` +
            `bigger than the maximum ${this.#maxBlockBytes}`,
        );
      }
      if (avail < total) {
        if (!this.eof) return this.#needMore(total);
        return this.#fail(
          `Truncated pcapng block of type ${hex32(type)}: length ${total}, ` +
            `the file has ${avail} bytes left`,
        );
      }
      if (!first && v.getUint32(pos + total - 4, le) !== total) {
        return this.#fail(
          `Bad pcapng block of type ${hex32(type)}: the lengths in its ` +
            `header (${total}) and trailer ` +
            `(${v.getUint32(pos + total - 4, le)}) differ`,
        );
      }
      const body = pos + 8;
      const bodyLen = total - 12;
      let status = STEP_AGAIN;
      switch (type) {
        case BT_EPB:
          status = this.#packet(b, body, bodyLen, 20);
          break;
        case BT_PB:
          status = this.#packet(b, body, bodyLen, 20);
          break;
        case BT_SPB:
          status = this.#simplePacket(b, body, bodyLen);
          break;
        case BT_IDB:
          status = this.#idb(body, bodyLen);
          break;
        case BT_SHB:
          status = this.#shb(body, bodyLen, le);
          break;
        default:
          break;
      }
      if (status === FAILED) return FAILED;
      this.pos = pos + total;
    }
  }

  #tooShort(type: number): number {
    return this.#fail(`Bad pcapng block of type ${hex32(type)}: too short`);
  }

  #shb(body: number, bodyLen: number, le: boolean): number {
    if (bodyLen < 16) return this.#tooShort(BT_SHB);
    const v = this.view;
    const major = v.getUint16(body + 4, le);
    const minor = v.getUint16(body + 6, le);
    if (this.#sections === 0) {
      if (!(major === 1 && (minor === 0 || minor === 2))) {
        return this.#fail(
          `Unsupported pcapng version ${major}.${minor}: only 1.0 and 1.2 ` +
            `are read`,
        );
      }
    } else if (major !== 1) {
      return this.#fail(`Unsupported pcapng section version ${major}.${minor}`);
    }
    this.#sections++;
    this.#le = le;
    this.#ifCount = 0;
    return STEP_AGAIN;
  }

  #idb(body: number, bodyLen: number): number {
    if (bodyLen < 8) return this.#tooShort(BT_IDB);
    const v = this.view;
    const le = this.#le;
    const linktype = v.getUint16(body, le);
    const snaplen = v.getUint32(body + 4, le);
    let res = 1e6;
    let offUs = 0;
    let sawRes = false;
    let sawOff = false;
    let o = body + 8;
    const end = body + bodyLen;
    while (o < end) {
      if (end - o < 4) return this.#tooShort(BT_IDB);
      const code = v.getUint16(o, le);
      const len = v.getUint16(o + 2, le);
      const padded = (len + 3) & ~3;
      if (end - o - 4 < padded) return this.#tooShort(BT_IDB);
      const val = o + 4;
      o = val + padded;
      if (code === 0) {
        if (len !== 0) {
          return this.#fail(
            `Bad pcapng interface: opt_endofopt has length ${len}`,
          );
        }
        break;
      } else if (code === 9) {
        if (len !== 1) {
          return this.#fail(
            `Bad pcapng interface: if_tsresol has length ${len}`,
          );
        }
        if (sawRes) {
          return this.#fail("Bad pcapng interface: more than one if_tsresol");
        }
        sawRes = true;
        const r = v.getUint8(val);
        if (r & 0x80) {
          if ((r & 0x7f) > 63) {
            return this.#fail(
              `Bad pcapng interface: if_tsresol 2^-${r & 0x7f} is too fine`,
            );
          }
          res = 2 ** (r & 0x7f);
        } else {
          if (r > 19) {
            return this.#fail(
              `Bad pcapng interface: if_tsresol 10^-${r} is too fine`,
            );
          }
          res = 10 ** r;
        }
      } else if (code === 14) {
        if (len !== 8) {
          return this.#fail(
            `Bad pcapng interface: if_tsoffset has length ${len}`,
          );
        }
        if (sawOff) {
          return this.#fail("Bad pcapng interface: more than one if_tsoffset");
        }
        sawOff = true;
        offUs = Number(v.getBigInt64(val, le)) * 1e6;
      }
    }
    const i = this.#ifCount++;
    this.#ifLinktype[i] = frameLinktype(linktype);
    this.#ifSnaplen[i] = adjustSnaplen(linktype, snaplen);
    this.#ifTsRes[i] = res;
    this.#ifTsMode[i] = res === 1e6
      ? TS_MICRO
      : res <= TS_DIVIDE_MAX_RESOLUTION
      ? TS_DIVIDE
      : TS_BIGINT;
    this.#ifTsOffUs[i] = offUs;
    if (this.#idbsSeen++ === 0) {
      // libpcap sizes its largest block after the first interface.
      const most = 8 + 20 + maxSnaplenFor(linktype) + 131072 + 4;
      if (most > this.#maxBlockBytes) this.#maxBlockBytes = most;
    }
    this.#addLinktype(linktype);
    return STEP_AGAIN;
  }

  /** An Enhanced (type 6) or obsolete Packet Block (type 2). */
  #packet(
    b: BatchBuilder,
    body: number,
    bodyLen: number,
    fixed: number,
  ): number {
    const v = this.view;
    const le = this.#le;
    const type = v.getUint32(body - 8, le);
    if (bodyLen < fixed) return this.#tooShort(type);
    const iface = type === BT_EPB
      ? v.getUint32(body, le)
      : v.getUint16(body, le);
    const high = v.getUint32(body + 4, le);
    const low = v.getUint32(body + 8, le);
    const caplen = v.getUint32(body + 12, le);
    const wirelen = v.getUint32(body + 16, le);
    if (iface >= this.#ifCount) {
      return this.#fail(
        `Packet ${this.packets + 1} is on interface ${iface}, which has no ` +
          `Interface Description Block`,
      );
    }
    const snaplen = this.#ifSnaplen[iface] ?? 0;
    if (caplen > snaplen) {
      return this.#fail(
        `Packet ${this.packets + 1} has caplen ${caplen}, bigger than the ` +
          `snaplen ${snaplen}`,
      );
    }
    if (caplen > bodyLen - fixed) return this.#tooShort(type);
    const tsUs = this.#tsUs(iface, high, low);
    this.#lastTsUs = tsUs;
    b.push(
      this.buf,
      body + fixed,
      caplen,
      wirelen,
      tsUs,
      this.#ifLinktype[iface] ?? 0,
    );
    this.packets++;
    return STEP_AGAIN;
  }

  #simplePacket(b: BatchBuilder, body: number, bodyLen: number): number {
    if (bodyLen < 4) return this.#tooShort(BT_SPB);
    if (this.#ifCount === 0) {
      return this.#fail(
        `Packet ${this.packets + 1} is on interface 0, which has no ` +
          `Interface Description Block`,
      );
    }
    const wirelen = this.view.getUint32(body, this.#le);
    const snaplen = this.#ifSnaplen[0] ?? 0;
    const caplen = wirelen > snaplen ? snaplen : wirelen;
    if (caplen > bodyLen - 4) return this.#tooShort(BT_SPB);
    b.push(
      this.buf,
      body + 4,
      caplen,
      wirelen,
      this.#lastTsUs,
      this.#ifLinktype[0] ?? 0,
    );
    this.packets++;
    return STEP_AGAIN;
  }

  /**
   * Microseconds since the epoch of a 64-bit pcapng timestamp in units of
   * 1/resolution s, truncated like libpcap: floor(t / R) s plus
   * floor((t mod R) * 10^6 / R) us, plus the interface's offset.
   */
  #tsUs(iface: number, high: number, low: number): number {
    const mode = this.#ifTsMode[iface];
    const offUs = this.#ifTsOffUs[iface] ?? 0;
    if (mode === TS_MICRO) return high * 4294967296 + low + offUs;
    const r = this.#ifTsRes[iface] ?? 1e6;
    if (mode === TS_DIVIDE) {
      // Long division in 16-bit digits: every step stays below 2^49.
      let cur = high >>> 16;
      let d = Math.floor(cur / r);
      let rem = cur - d * r;
      let q = d;
      cur = rem * 65536 + (high & 0xffff);
      d = Math.floor(cur / r);
      rem = cur - d * r;
      q = q * 65536 + d;
      cur = rem * 65536 + (low >>> 16);
      d = Math.floor(cur / r);
      rem = cur - d * r;
      q = q * 65536 + d;
      cur = rem * 65536 + (low & 0xffff);
      d = Math.floor(cur / r);
      rem = cur - d * r;
      q = q * 65536 + d;
      return q * 1e6 + Math.floor(rem * 1e6 / r) + offUs;
    }
    // Resolutions finer than 2^-33 s are rare; exact BigInt arithmetic.
    const t = (BigInt(high) << 32n) | BigInt(low);
    const rb = BigInt(r);
    const sec = t / rb;
    const us = (t % rb) * 1000000n / rb;
    return Number(sec) * 1e6 + Number(us) + offUs;
  }
}

function describeOpenError(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotCapable) {
    return "read access not granted (run with --allow-read)";
  }
  if (e instanceof Deno.errors.IsADirectory) return "it is a directory";
  return e instanceof Error ? e.message : String(e);
}

/**
 * Reads a pcap or pcapng file as a stream of {@link FrameBatch}es and
 * returns a {@link CaptureFileSummary} when done.
 *
 * A format problem ends the stream after every whole record before it and
 * is reported in the summary's `error`; the generator does not throw for it.
 * It throws {@link CaptureFileError} when the file cannot be read at all,
 * and the signal's reason when `signal` aborts. Breaking out of the loop
 * closes the file.
 *
 * @example
 * ```ts
 * const reader = readCaptureFile("traffic.pcap");
 * let r = await reader.next();
 * while (!r.done) {
 *   console.log(r.value.count, "frames");
 *   r = await reader.next();
 * }
 * console.log(r.value.packets, r.value.error ?? "clean");
 * ```
 */
export async function* readCaptureFile(
  path: string,
  opts: ReadCaptureOptions = {},
): AsyncGenerator<FrameBatch, CaptureFileSummary, undefined> {
  const batchFrames = opts.batchFrames ?? 4096;
  const batchBytes = opts.batchBytes ?? 8 << 20;
  if (!Number.isInteger(batchFrames) || batchFrames < 1) {
    throw new RangeError(
      `Cannot read "${path}": batchFrames must be a positive integer, got ` +
        batchFrames,
    );
  }
  const signal = opts.signal;
  signal?.throwIfAborted();

  let file: Deno.FsFile;
  let fileBytes: number;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new CaptureFileError(
      path,
      `Cannot read "${path}": ${describeOpenError(e)}`,
      { cause: e },
    );
  }
  try {
    let info: Deno.FileInfo;
    try {
      info = await file.stat();
    } catch (e) {
      throw new CaptureFileError(
        path,
        `Cannot read "${path}": ${describeOpenError(e)}`,
        { cause: e },
      );
    }
    if (info.isDirectory) {
      throw new CaptureFileError(
        path,
        `Cannot read "${path}": it is a directory`,
      );
    }
    fileBytes = info.size;

    const w = new Walker(CHUNK_BYTES);
    const builder = new BatchBuilder(
      batchFrames,
      Math.min(batchBytes, 1 << 20),
    );
    for (;;) {
      const status = w.step(builder, batchBytes);
      if (status === STEP_AGAIN) continue;
      if (status === BATCH_FULL) {
        const batch = builder.take();
        if (batch !== null) {
          signal?.throwIfAborted();
          yield batch;
        }
        continue;
      }
      if (status === NEED_MORE) {
        signal?.throwIfAborted();
        await fill(file, w, path);
        continue;
      }
      break;
    }
    const last = builder.take();
    if (last !== null) {
      signal?.throwIfAborted();
      yield last;
    }
    return {
      path,
      format: w.format,
      linktypes: w.linktypes,
      packets: w.packets,
      bytesRead: w.error === null ? w.offset : w.error.offset,
      fileBytes,
      error: w.error === null ? null : w.error.message,
    };
  } finally {
    file.close();
  }
}

/**
 * Reads until `w.need` bytes are buffered from `w.pos` or the file ends,
 * asking for up to a whole chunk each time.
 */
async function fill(file: Deno.FsFile, w: Walker, path: string): Promise<void> {
  w.reserve(Math.max(w.need, CHUNK_BYTES));
  while (w.end - w.pos < w.need) {
    let n: number | null;
    try {
      n = await file.read(w.buf.subarray(w.end));
    } catch (e) {
      throw new CaptureFileError(
        path,
        `Cannot read "${path}" at byte ${w.base + w.end}: ` +
          describeOpenError(e),
        { cause: e },
      );
    }
    if (n === null) {
      w.eof = true;
      return;
    }
    w.end += n;
  }
}
