/**
 * Live capture from a network interface: libpcap read in a Worker
 * (`capture_worker.ts`), frames handed to the main thread as
 * {@link FrameBatch}es with their buffers transferred, so capture never
 * stalls the main thread's event loop.
 *
 * @example
 * ```ts
 * await using src = await LiveSource.open({ iface: "eth0", filter: "tcp" });
 * for await (const batch of src.batches()) {
 *   handle(batch); // your code
 * }
 * ```
 *
 * @module
 */
import type { FrameBatch } from "./batch.ts";
import {
  type FailureCode,
  type FromWorker,
  parseFromWorker,
  type PcapCounters,
  type ToWorker,
  type WorkerOpenOptions,
} from "./_capture_protocol.ts";
import {
  BpfFilterError,
  CaptureOpenError,
  CapturePermissionError,
  CaptureWorkerError,
  InterfaceNotFoundError,
  LibcMissingError,
  LibpcapMissingError,
} from "./live_errors.ts";

/** Options of {@link LiveSource.open}. */
export interface LiveSourceOptions {
  /** Interface to capture on, e.g. "eth0". */
  readonly iface: string;
  /** Bytes kept of each frame, 1 to 262144 (default 262144: whole frames). */
  readonly snaplen?: number;
  /** Promiscuous mode (default true). */
  readonly promisc?: boolean;
  /**
   * Immediate mode: each packet is readable at once, at some cost in
   * throughput (default false: the kernel hands packets over in blocks, at
   * the latest after `timeoutMs`).
   */
  readonly immediate?: boolean;
  /** Kernel capture buffer in bytes (default 8 MiB). */
  readonly bufferBytes?: number;
  /** libpcap's packet buffer timeout in milliseconds (default 20). */
  readonly timeoutMs?: number;
  /** BPF filter expression, as for tcpdump (default: everything). */
  readonly filter?: string;
  /**
   * Network namespace to capture in: a name under /run/netns (as made by
   * `ip netns add`) or a path such as /proc/PID/ns/net. Only the worker's
   * thread joins it. Needs CAP_SYS_ADMIN. Default: this process's namespace.
   */
  readonly netns?: string;
  /** Frames per batch at most (default 4096). */
  readonly batchFrames?: number;
  /** Frame bytes per batch at most (default 2 MiB). */
  readonly batchBytes?: number;
  /**
   * A batch is sent at most this long after its first frame (default 50
   * ms). Without immediate mode a batch is also sent as soon as libpcap has
   * nothing more to hand over: the kernel already held its frames for up to
   * `timeoutMs`.
   */
  readonly flushMs?: number;
  /** How often kernel counters are refreshed, in milliseconds (default 1000). */
  readonly statsMs?: number;
  /** Wait of one `poll()` on an idle link, 1 to 100 ms (default 15). */
  readonly pollMs?: number;
  /**
   * Frame bytes queued for a slow consumer before new batches are dropped
   * and counted in {@link CaptureStats.overflow} (default 64 MiB).
   */
  readonly maxQueuedBytes?: number;
  /** How long to wait for the worker to open the capture (default 10 s). */
  readonly openTimeoutMs?: number;
  /**
   * While batches are queued, {@link LiveSource.batches} lets the event
   * loop run (timers, the HTTP server) once its consumer has worked this
   * long without a pause, in milliseconds (default 10): a backlog (a burst,
   * a slow start while code warms up) is worked off in slices instead of
   * one long stall. Each pause costs about a millisecond.
   */
  readonly yieldMs?: number;
}

/** Counters of a live capture. */
export interface CaptureStats {
  /** Packets the kernel passed to the capture, after the BPF filter. */
  readonly recv: number;
  /** Packets the kernel dropped because the capture buffer was full. */
  readonly drop: number;
  /** Packets dropped by the interface or driver (often unsupported: 0). */
  readonly ifdrop: number;
  /** Frames the worker read and sent on. */
  readonly captured: number;
  /** Frames dropped on the main thread because the consumer fell behind. */
  readonly overflow: number;
}

const MAX_SNAPLEN = 262144;
const CLOSE_TIMEOUT_MS = 5000;

function int(
  value: number | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Invalid capture option "${name}": ${v} is not an integer in [${min}, ${max}]`,
    );
  }
  return v;
}

/** Fills in defaults and checks ranges; throws RangeError/TypeError. */
function resolveOptions(opts: LiveSourceOptions): WorkerOpenOptions & {
  maxQueuedBytes: number;
  openTimeoutMs: number;
  yieldMs: number;
} {
  if (opts.iface === "" || opts.iface.includes("\0")) {
    throw new TypeError(
      `Invalid capture option "iface": "${opts.iface}" is not an interface name`,
    );
  }
  if (opts.filter?.includes("\0")) {
    throw new TypeError('Invalid capture option "filter": it contains NUL');
  }
  const MiB = 1 << 20;
  return {
    iface: opts.iface,
    snaplen: int(opts.snaplen, "snaplen", MAX_SNAPLEN, 1, MAX_SNAPLEN),
    promisc: opts.promisc ?? true,
    immediate: opts.immediate ?? false,
    bufferBytes: int(
      opts.bufferBytes,
      "bufferBytes",
      8 * MiB,
      65536,
      2 ** 31 - 1,
    ),
    timeoutMs: int(opts.timeoutMs, "timeoutMs", 20, 1, 10000),
    filter: opts.filter ?? "",
    netns: opts.netns ?? null,
    batchFrames: int(opts.batchFrames, "batchFrames", 4096, 1, 1 << 20),
    batchBytes: int(opts.batchBytes, "batchBytes", 2 * MiB, 65536, 256 * MiB),
    flushMs: int(opts.flushMs, "flushMs", 50, 1, 10000),
    statsMs: int(opts.statsMs, "statsMs", 1000, 10, 3600_000),
    pollMs: int(opts.pollMs, "pollMs", 15, 1, 100),
    maxQueuedBytes: int(
      opts.maxQueuedBytes,
      "maxQueuedBytes",
      64 * MiB,
      0,
      2 ** 40,
    ),
    openTimeoutMs: int(opts.openTimeoutMs, "openTimeoutMs", 10000, 1, 600_000),
    yieldMs: int(opts.yieldMs, "yieldMs", 10, 1, 10000),
  };
}

function openError(
  o: WorkerOpenOptions,
  code: FailureCode,
  detail: string,
): Error {
  const cause = new Error(detail);
  switch (code) {
    case "libpcap_missing":
      return new LibpcapMissingError({ cause });
    case "libc_missing":
      return new LibcMissingError({ cause });
    case "permission":
      return new CapturePermissionError(o.iface, { cause });
    case "no_such_device":
      return new InterfaceNotFoundError(o.iface, { cause });
    case "not_up":
      return new CaptureOpenError(
        o.iface,
        `Cannot capture on "${o.iface}": the interface is down (bring it up: ip link set ${o.iface} up)`,
        { cause },
      );
    case "bad_filter":
      return new BpfFilterError(o.iface, o.filter, detail);
    case "netns":
      return new CaptureOpenError(o.iface, detail);
    case "activate":
    case "read":
    case "internal":
      return new CaptureOpenError(
        o.iface,
        `Cannot capture on "${o.iface}": ${detail}`,
      );
    default: {
      const never: never = code;
      return new CaptureOpenError(o.iface, `Unknown failure ${String(never)}`);
    }
  }
}

function post(worker: Worker, msg: ToWorker): void {
  worker.postMessage(msg);
}

/**
 * A live capture on one interface. Open with {@link LiveSource.open}, read
 * with {@link LiveSource.batches}, end with {@link LiveSource.close} (or
 * `await using`).
 */
export class LiveSource {
  /** The interface captured on. */
  readonly iface: string;
  /** Link type (DLT) of every frame, e.g. 1 for Ethernet. */
  readonly linktype: number;
  /** libpcap's activation warning (e.g. promiscuous mode unsupported), or null. */
  readonly warning: string | null;
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #maxQueuedBytes: number;
  readonly #yieldMs: number;
  readonly #queue: FrameBatch[] = [];
  #queuedBytes = 0;
  #waiter: (() => void) | null = null;
  #ended = false;
  #stopping = false;
  #iterating = false;
  #failure: CaptureWorkerError | null = null;
  #counters: PcapCounters = { recv: 0, drop: 0, ifdrop: 0, captured: 0 };
  #overflow = 0;
  #onEnded: (() => void) | null = null;
  readonly #endedPromise: Promise<void>;

  private constructor(
    worker: Worker,
    control: SharedArrayBuffer,
    iface: string,
    opened: { linktype: number; warning: string | null },
    limits: { maxQueuedBytes: number; yieldMs: number },
  ) {
    this.#worker = worker;
    this.#control = new Int32Array(control);
    this.iface = iface;
    this.linktype = opened.linktype;
    this.warning = opened.warning;
    this.#maxQueuedBytes = limits.maxQueuedBytes;
    this.#yieldMs = limits.yieldMs;
    this.#endedPromise = new Promise((resolve) => this.#onEnded = resolve);
    worker.onmessage = (e: MessageEvent<unknown>) => this.#receive(e.data);
    worker.onmessageerror = () =>
      this.#fail(`cannot read a message from the capture worker`);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(`the capture worker crashed: ${e.message}`);
    };
  }

  /**
   * Starts a worker and opens the capture; resolves once packets flow.
   * Needs `--allow-ffi` (and `--allow-read` for the worker module).
   *
   * @throws {CapturePermissionError} when this process may not capture.
   * @throws {InterfaceNotFoundError} when the interface does not exist.
   * @throws {BpfFilterError} when the filter does not compile.
   * @throws {LibpcapMissingError} when libpcap is not installed.
   * @throws {CaptureOpenError} on any other failure to open.
   */
  static async open(opts: LiveSourceOptions): Promise<LiveSource> {
    const o = resolveOptions(opts);
    const worker = new Worker(
      new URL("./capture_worker.ts", import.meta.url),
      { type: "module" },
    );
    const control = new SharedArrayBuffer(4);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<LiveSource>((resolve, reject) => {
        timer = setTimeout(() =>
          reject(
            new CaptureOpenError(
              o.iface,
              `Cannot capture on "${o.iface}": the capture worker did not answer within ${o.openTimeoutMs} ms`,
            ),
          ), o.openTimeoutMs);
        worker.onmessage = (e: MessageEvent<unknown>) => {
          let msg: FromWorker;
          try {
            msg = parseFromWorker(e.data);
          } catch (err) {
            reject(
              new CaptureOpenError(
                o.iface,
                `Cannot capture on "${o.iface}": bad message from the capture worker`,
                { cause: err },
              ),
            );
            return;
          }
          if (msg.type === "opened") {
            // Later messages go to the source from this task on.
            resolve(
              new LiveSource(worker, control, o.iface, msg, o),
            );
          } else if (msg.type === "failed") {
            reject(openError(o, msg.code, msg.detail));
          } else {
            reject(
              new CaptureOpenError(
                o.iface,
                `Cannot capture on "${o.iface}": the capture worker sent "${msg.type}" before opening`,
              ),
            );
          }
        };
        worker.onmessageerror = () =>
          reject(
            new CaptureOpenError(
              o.iface,
              `Cannot capture on "${o.iface}": cannot read a message from the capture worker`,
            ),
          );
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          reject(
            new CaptureOpenError(
              o.iface,
              `Cannot capture on "${o.iface}": the capture worker crashed: ${e.message}`,
            ),
          );
        };
        post(worker, { type: "open", options: o, control });
      });
    } catch (e) {
      worker.terminate();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why the capture ended on its own, or null while it runs or after close. */
  get failure(): CaptureWorkerError | null {
    return this.#failure;
  }

  /** True once the capture has stopped (closed or failed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** The latest counters (kernel counters refresh every `statsMs`). */
  stats(): CaptureStats {
    return { ...this.#counters, overflow: this.#overflow };
  }

  /**
   * Yields batches as they arrive until the source is closed (then it ends
   * after the last batch) or fails (then it throws
   * {@link CaptureWorkerError}). One consumer at a time; leaving the loop
   * early does not close the source. Between queued batches it pauses for
   * the event loop when the consumer has been busy `yieldMs`.
   */
  async *batches(): AsyncGenerator<FrameBatch, void, undefined> {
    if (this.#iterating) {
      throw new TypeError(
        `Cannot read batches of "${this.iface}" twice at the same time`,
      );
    }
    this.#iterating = true;
    // When the event loop last ran: a wait for the worker, or a pause.
    let rested = performance.now();
    try {
      while (true) {
        if (
          this.#queue.length > 0 &&
          performance.now() - rested >= this.#yieldMs
        ) {
          // A macrotask: timers and I/O (HTTP requests) run before it.
          await new Promise((resolve) => setTimeout(resolve, 0));
          rested = performance.now();
        }
        const batch = this.#queue.shift();
        if (batch !== undefined) {
          this.#queuedBytes -= batch.data.byteLength;
          yield batch;
          continue;
        }
        if (this.#failure !== null) throw this.#failure;
        if (this.#ended) return;
        await new Promise<void>((resolve) => this.#waiter = resolve);
        rested = performance.now();
      }
    } finally {
      this.#iterating = false;
    }
  }

  /**
   * Stops the capture: the worker sends its last batch (still readable from
   * {@link batches}) and final counters, closes libpcap and exits. Resolves
   * with the final counters; safe to call more than once.
   */
  async close(): Promise<CaptureStats> {
    if (!this.#ended && !this.#stopping) {
      this.#stopping = true;
      Atomics.store(this.#control, 0, 1);
      post(this.#worker, { type: "stop" });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      });
      await Promise.race([this.#endedPromise, timedOut]);
      clearTimeout(timer);
      if (!this.#ended) {
        this.#fail(
          `the capture worker did not stop within ${CLOSE_TIMEOUT_MS} ms`,
        );
      }
    }
    await this.#endedPromise;
    return this.stats();
  }

  /** Same as {@link close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #receive(data: unknown): void {
    let msg: FromWorker;
    try {
      msg = parseFromWorker(data);
    } catch (e) {
      this.#fail(
        `bad message from the capture worker: ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
      return;
    }
    if (this.#ended) return;
    switch (msg.type) {
      case "batch": {
        const size = msg.batch.data.byteLength;
        if (
          this.#queue.length > 0 &&
          this.#queuedBytes + size > this.#maxQueuedBytes
        ) {
          this.#overflow += msg.batch.count;
          return;
        }
        this.#queue.push(msg.batch);
        this.#queuedBytes += size;
        this.#wake();
        return;
      }
      case "stats":
        this.#counters = msg.stats;
        return;
      case "stopped":
        this.#counters = msg.stats;
        this.#end();
        return;
      case "failed":
        this.#fail(msg.detail);
        return;
      case "opened":
        this.#fail(`the capture worker opened twice`);
        return;
      default: {
        const never: never = msg;
        this.#fail(`unknown message ${String(never)}`);
      }
    }
  }

  #fail(detail: string): void {
    if (this.#ended) return;
    this.#failure = new CaptureWorkerError(
      this.iface,
      `Capture on "${this.iface}" failed: ${detail}`,
    );
    this.#end();
  }

  #end(): void {
    this.#ended = true;
    this.#worker.terminate();
    this.#onEnded?.();
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
}
