/**
 * The messages between {@link LiveSource} (main thread) and the capture
 * worker, and their validators. Both sides take `unknown` from the message
 * event and trust a message only after `parseToWorker` / `parseFromWorker`.
 *
 * Main → worker: `open` (once, first, with a shared control word), then
 * `stop`; the main thread also stores 1 in the control word to stop.
 * Worker → main: `opened` or `failed`, then `batch` (buffers transferred) and
 * `stats` while running, and finally `stopped` (after a `stop`) or `failed`.
 *
 * Private to `capture/`.
 *
 * @module
 */
import type { FrameBatch } from "./batch.ts";

/** Settings the worker opens the capture with (all filled in). */
export interface WorkerOpenOptions {
  /** Interface name, e.g. "eth0". */
  readonly iface: string;
  /** Bytes kept of each frame. */
  readonly snaplen: number;
  /** Promiscuous mode. */
  readonly promisc: boolean;
  /** Deliver each packet at once instead of by kernel blocks. */
  readonly immediate: boolean;
  /** Kernel ring buffer size in bytes. */
  readonly bufferBytes: number;
  /** libpcap's packet buffer timeout in milliseconds. */
  readonly timeoutMs: number;
  /** BPF filter expression; "" captures everything. */
  readonly filter: string;
  /** Network namespace to capture in (a name under /run/netns, or a path); null for the current one. */
  readonly netns: string | null;
  /** Frames per batch at most. */
  readonly batchFrames: number;
  /** Frame bytes per batch at most (a batch is sent once it reaches this). */
  readonly batchBytes: number;
  /** A non-empty batch is sent at the latest this long after its first frame. */
  readonly flushMs: number;
  /** Interval of `stats` messages in milliseconds. */
  readonly statsMs: number;
  /** `poll()` timeout in milliseconds. */
  readonly pollMs: number;
}

/** Kernel and worker counters of a capture. */
export interface PcapCounters {
  /** Packets the kernel passed to the capture (after the filter). */
  readonly recv: number;
  /** Packets dropped because the capture buffer was full. */
  readonly drop: number;
  /** Packets dropped by the interface or its driver. */
  readonly ifdrop: number;
  /** Frames the worker read and sent on. */
  readonly captured: number;
}

/** Why the worker could not open or keep capturing. */
export type FailureCode =
  | "libpcap_missing"
  | "libc_missing"
  | "permission"
  | "no_such_device"
  | "not_up"
  | "bad_filter"
  | "netns"
  | "activate"
  | "read"
  | "internal";

const FAILURE_CODES: readonly FailureCode[] = [
  "libpcap_missing",
  "libc_missing",
  "permission",
  "no_such_device",
  "not_up",
  "bad_filter",
  "netns",
  "activate",
  "read",
  "internal",
];

/** A message from the main thread to the capture worker. */
export type ToWorker =
  | {
    readonly type: "open";
    readonly options: WorkerOpenOptions;
    /** Shared 4 bytes: the main thread stores 1 at index 0 to stop. */
    readonly control: SharedArrayBuffer;
  }
  | { readonly type: "stop" };

/** A message from the capture worker to the main thread. */
export type FromWorker =
  | {
    readonly type: "opened";
    readonly linktype: number;
    readonly warning: string | null;
  }
  | { readonly type: "batch"; readonly batch: FrameBatch }
  | { readonly type: "stats"; readonly stats: PcapCounters }
  | { readonly type: "stopped"; readonly stats: PcapCounters }
  | {
    readonly type: "failed";
    readonly code: FailureCode;
    readonly detail: string;
  };

/** A worker message that does not have the expected shape. */
export class CaptureProtocolError extends TypeError {
  /** Creates the error naming the field that is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "CaptureProtocolError";
  }
}

function record(input: unknown, what: string): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new CaptureProtocolError(`Invalid ${what}: not an object`);
  }
  return input as Record<string, unknown>;
}

function count(r: Record<string, unknown>, key: string, what: string): number {
  const v = r[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new CaptureProtocolError(
      `Invalid ${what}: "${key}" is not a non-negative integer`,
    );
  }
  return v;
}

function text(r: Record<string, unknown>, key: string, what: string): string {
  const v = r[key];
  if (typeof v !== "string") {
    throw new CaptureProtocolError(`Invalid ${what}: "${key}" is not a string`);
  }
  return v;
}

function flag(r: Record<string, unknown>, key: string, what: string): boolean {
  const v = r[key];
  if (typeof v !== "boolean") {
    throw new CaptureProtocolError(
      `Invalid ${what}: "${key}" is not a boolean`,
    );
  }
  return v;
}

function parseOpenOptions(input: unknown): WorkerOpenOptions {
  const w = "open options";
  const r = record(input, w);
  const netns = r.netns === null ? null : text(r, "netns", w);
  const iface = text(r, "iface", w);
  if (iface === "" || iface.includes("\0")) {
    throw new CaptureProtocolError(`Invalid ${w}: "iface" is empty or has NUL`);
  }
  return {
    iface,
    snaplen: count(r, "snaplen", w),
    promisc: flag(r, "promisc", w),
    immediate: flag(r, "immediate", w),
    bufferBytes: count(r, "bufferBytes", w),
    timeoutMs: count(r, "timeoutMs", w),
    filter: text(r, "filter", w),
    netns,
    batchFrames: count(r, "batchFrames", w),
    batchBytes: count(r, "batchBytes", w),
    flushMs: count(r, "flushMs", w),
    statsMs: count(r, "statsMs", w),
    pollMs: count(r, "pollMs", w),
  };
}

/** Validates a message sent to the worker. */
export function parseToWorker(input: unknown): ToWorker {
  const r = record(input, "message to the capture worker");
  switch (r.type) {
    case "open":
      if (
        !(r.control instanceof SharedArrayBuffer) || r.control.byteLength < 4
      ) {
        throw new CaptureProtocolError(
          'Invalid message to the capture worker: "control" is not a 4-byte SharedArrayBuffer',
        );
      }
      return {
        type: "open",
        options: parseOpenOptions(r.options),
        control: r.control,
      };
    case "stop":
      return { type: "stop" };
    default:
      throw new CaptureProtocolError(
        `Invalid message to the capture worker: unknown type "${
          String(r.type)
        }"`,
      );
  }
}

function parseCounters(input: unknown): PcapCounters {
  const w = "capture stats";
  const r = record(input, w);
  return {
    recv: count(r, "recv", w),
    drop: count(r, "drop", w),
    ifdrop: count(r, "ifdrop", w),
    captured: count(r, "captured", w),
  };
}

function typed<T>(
  r: Record<string, unknown>,
  key: string,
  ctor: abstract new (...args: never[]) => T,
): T {
  const v = r[key];
  if (!(v instanceof ctor)) {
    throw new CaptureProtocolError(
      `Invalid frame batch: "${key}" is not a ${ctor.name}`,
    );
  }
  return v;
}

/**
 * Validates a batch: array types, lengths at least `count`, and every frame
 * inside `data` (O(count), once per batch).
 */
export function parseFrameBatch(input: unknown): FrameBatch {
  const r = record(input, "frame batch");
  const n = count(r, "count", "frame batch");
  const batch: FrameBatch = {
    count: n,
    data: typed(r, "data", Uint8Array),
    offsets: typed(r, "offsets", Uint32Array),
    caplens: typed(r, "caplens", Uint32Array),
    wirelens: typed(r, "wirelens", Uint32Array),
    tsUs: typed(r, "tsUs", Float64Array),
    linktypes: typed(r, "linktypes", Uint16Array),
  };
  for (
    const a of [
      batch.offsets,
      batch.caplens,
      batch.wirelens,
      batch.tsUs,
      batch.linktypes,
    ]
  ) {
    if (a.length < n) {
      throw new CaptureProtocolError(
        `Invalid frame batch: an array holds ${a.length} of ${n} frames`,
      );
    }
  }
  const size = batch.data.length;
  for (let i = 0; i < n; i++) {
    const end = batch.offsets[i]! + batch.caplens[i]!;
    if (end > size) {
      throw new CaptureProtocolError(
        `Invalid frame batch: frame ${i} ends at ${end}, past ${size} bytes`,
      );
    }
  }
  return batch;
}

/** Validates a message sent by the worker. */
export function parseFromWorker(input: unknown): FromWorker {
  const r = record(input, "message from the capture worker");
  switch (r.type) {
    case "opened": {
      const w = "opened message";
      return {
        type: "opened",
        linktype: count(r, "linktype", w),
        warning: r.warning === null ? null : text(r, "warning", w),
      };
    }
    case "batch":
      return { type: "batch", batch: parseFrameBatch(r.batch) };
    case "stats":
      return { type: "stats", stats: parseCounters(r.stats) };
    case "stopped":
      return { type: "stopped", stats: parseCounters(r.stats) };
    case "failed": {
      const code = r.code;
      if (!(FAILURE_CODES as readonly unknown[]).includes(code)) {
        throw new CaptureProtocolError(
          `Invalid failed message: unknown code "${String(code)}"`,
        );
      }
      return {
        type: "failed",
        code: code as FailureCode,
        detail: text(r, "detail", "failed message"),
      };
    }
    default:
      throw new CaptureProtocolError(
        `Invalid message from the capture worker: unknown type "${
          String(r.type)
        }"`,
      );
  }
}
