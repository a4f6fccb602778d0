/**
 * The capture worker: opens libpcap on one interface, reads it without ever
 * blocking inside libpcap (`pcap_setnonblock` plus `poll()` on the selectable
 * fd), packs frames into {@link BatchBuilder} batches and posts them to the
 * main thread with their buffers transferred, plus kernel counters about once
 * a second. Started by {@link LiveSource}; the protocol is in
 * `_capture_protocol.ts`.
 *
 * The main thread stops it by setting the shared control word (checked every
 * loop, so within one `poll()` wait) or, as a fallback, with a `stop` message
 * (seen when the loop yields to the event loop, every 100 ms). It then
 * flushes the last batch, sends `stopped`, closes libpcap and exits.
 *
 * @module
 */
import { BatchBuilder, batchTransferables } from "./batch.ts";
import {
  BPF_PROGRAM_SIZE,
  CLONE_NEWNET,
  cString,
  errbufText,
  lastErrno,
  type Libc,
  type Libpcap,
  O_RDONLY_CLOEXEC,
  openLibc,
  openLibpcap,
  PCAP_ERRBUF_SIZE,
  PCAP_ERROR_BREAK,
  PCAP_ERROR_IFACE_NOT_UP,
  PCAP_ERROR_NO_SUCH_DEVICE,
  PCAP_ERROR_PERM_DENIED,
  PCAP_ERROR_PROMISC_PERM_DENIED,
  PCAP_NETMASK_UNKNOWN,
  pcapError,
  PKTHDR_SIZE,
  POLLIN,
  POLLNVAL,
  toCString,
} from "./_libpcap.ts";
import {
  type FailureCode,
  type FromWorker,
  parseToWorker,
  type PcapCounters,
  type WorkerOpenOptions,
} from "./_capture_protocol.ts";
import { LibcMissingError, LibpcapMissingError } from "./live_errors.ts";

/** A failure to report to the main thread as a `failed` message. */
class WorkerFailure extends Error {
  readonly code: FailureCode;
  constructor(code: FailureCode, detail: string) {
    super(detail);
    this.name = "WorkerFailure";
    this.code = code;
  }
}

function send(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, { transfer });
}

/** Lets pending messages (a `stop`) in: resolves on a later macrotask. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Joins the network namespace at `name` (under /run/netns unless a path). */
function enterNetns(libc: Libc, name: string): void {
  const path = name.includes("/") ? name : `/run/netns/${name}`;
  const fd = libc.symbols.open(toCString(path), O_RDONLY_CLOEXEC);
  if (fd < 0) {
    const { text } = lastErrno(libc);
    throw new WorkerFailure(
      "netns",
      `Cannot enter network namespace "${name}": cannot open "${path}": ${text}`,
    );
  }
  const rc = libc.symbols.setns(fd, CLONE_NEWNET);
  const err = rc < 0 ? lastErrno(libc) : null;
  libc.symbols.close(fd);
  if (err !== null) {
    throw new WorkerFailure(
      "netns",
      `Cannot enter network namespace "${name}": ${err.text}`,
    );
  }
}

function activationFailure(
  rc: number,
  detail: string,
): WorkerFailure {
  switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return new WorkerFailure("no_such_device", detail);
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return new WorkerFailure("permission", detail);
    case PCAP_ERROR_IFACE_NOT_UP:
      return new WorkerFailure("not_up", detail);
    default:
      return new WorkerFailure("activate", detail);
  }
}

/** An open, activated, non-blocking pcap handle. */
interface Opened {
  readonly handle: Deno.PointerObject;
  readonly fd: number;
  readonly linktype: number;
  readonly warning: string | null;
}

function openHandle(
  lib: Libpcap,
  opts: WorkerOpenOptions,
  keep: (h: Deno.PointerObject) => void,
): Opened {
  const pcap = lib.symbols;
  const errbuf = new Uint8Array(PCAP_ERRBUF_SIZE);
  const handle = pcap.pcap_create(toCString(opts.iface), errbuf);
  if (handle === null) {
    throw new WorkerFailure("activate", errbufText(errbuf));
  }
  keep(handle);
  pcap.pcap_set_snaplen(handle, opts.snaplen);
  pcap.pcap_set_promisc(handle, opts.promisc ? 1 : 0);
  pcap.pcap_set_immediate_mode(handle, opts.immediate ? 1 : 0);
  pcap.pcap_set_timeout(handle, opts.timeoutMs);
  pcap.pcap_set_buffer_size(handle, opts.bufferBytes);
  const rc = pcap.pcap_activate(handle);
  if (rc < 0) {
    const detail = pcapError(lib, handle) ||
      cString(pcap.pcap_statustostr(rc));
    throw activationFailure(rc, detail);
  }
  const warning = rc > 0
    ? (pcapError(lib, handle) || cString(pcap.pcap_statustostr(rc)))
    : null;
  if (opts.filter !== "") {
    const prog = new Uint8Array(BPF_PROGRAM_SIZE);
    if (
      pcap.pcap_compile(
        handle,
        prog,
        toCString(opts.filter),
        1,
        PCAP_NETMASK_UNKNOWN,
      ) < 0
    ) {
      throw new WorkerFailure("bad_filter", pcapError(lib, handle));
    }
    const set = pcap.pcap_setfilter(handle, prog);
    pcap.pcap_freecode(prog);
    if (set < 0) {
      throw new WorkerFailure(
        "activate",
        `cannot set the filter: ${pcapError(lib, handle)}`,
      );
    }
  }
  if (pcap.pcap_setnonblock(handle, 1, errbuf) < 0) {
    throw new WorkerFailure(
      "activate",
      `cannot make the capture non-blocking: ${errbufText(errbuf)}`,
    );
  }
  const fd = pcap.pcap_get_selectable_fd(handle);
  if (fd < 0) {
    throw new WorkerFailure("activate", "the capture has no selectable fd");
  }
  return { handle, fd, linktype: pcap.pcap_datalink(handle), warning };
}

/** Kernel counters, widened past libpcap's 32-bit wrap. */
class Counters {
  readonly #raw = new Uint32Array(3);
  readonly #last = new Uint32Array(3);
  readonly #total = [0, 0, 0];
  captured = 0;

  /** Reads `pcap_stats`; false when libpcap failed. */
  update(lib: Libpcap, handle: Deno.PointerObject): boolean {
    if (lib.symbols.pcap_stats(handle, this.#raw) < 0) return false;
    for (let i = 0; i < 3; i++) {
      this.#total[i]! += (this.#raw[i]! - this.#last[i]!) >>> 0;
      this.#last[i] = this.#raw[i]!;
    }
    return true;
  }

  snapshot(): PcapCounters {
    return {
      recv: this.#total[0]!,
      drop: this.#total[1]!,
      ifdrop: this.#total[2]!,
      captured: this.captured,
    };
  }
}

const EINTR = 4;

/** Yield to the event loop at least this often while busy, in milliseconds. */
const YIELD_MS = 100;

let stopRequested = false;
let started = false;

async function capture(
  opts: WorkerOpenOptions,
  control: Int32Array,
): Promise<void> {
  let lib: Libpcap | null = null;
  let libc: Libc | null = null;
  let handle: Deno.PointerObject | null = null;
  try {
    try {
      lib = openLibpcap();
      libc = openLibc();
    } catch (e) {
      if (e instanceof LibpcapMissingError) {
        throw new WorkerFailure("libpcap_missing", e.message);
      }
      if (e instanceof LibcMissingError) {
        throw new WorkerFailure("libc_missing", e.message);
      }
      throw e;
    }
    if (opts.netns !== null) enterNetns(libc, opts.netns);
    const opened = openHandle(lib, opts, (h) => handle = h);
    send({
      type: "opened",
      linktype: opened.linktype,
      warning: opened.warning,
    });
    await readLoop(lib, libc, opened, opts, control);
  } catch (e) {
    const failure = e instanceof WorkerFailure ? e : new WorkerFailure(
      "internal",
      e instanceof Error ? e.message : String(e),
    );
    send({ type: "failed", code: failure.code, detail: failure.message });
  } finally {
    if (lib !== null && handle !== null) lib.symbols.pcap_close(handle);
    lib?.close();
    libc?.close();
    self.close();
  }
}

async function readLoop(
  lib: Libpcap,
  libc: Libc,
  opened: Opened,
  opts: WorkerOpenOptions,
  control: Int32Array,
): Promise<void> {
  const pcap = lib.symbols;
  const { handle, linktype } = opened;
  const builder = new BatchBuilder(opts.batchFrames, opts.batchBytes);
  const counters = new Counters();
  const hdrOut = new BigUint64Array(1);
  const dataOut = new BigUint64Array(1);
  const hdr = new Uint8Array(PKTHDR_SIZE);
  const hdrView = new DataView(hdr.buffer);
  const pollfd = new Int32Array([opened.fd, POLLIN]);
  const pollBytes = new Uint8Array(pollfd.buffer);
  const maxCaplen = opts.snaplen;
  let batchStart = -1;
  let nextStats = performance.now() + opts.statsMs;
  let nextYield = performance.now() + YIELD_MS;
  const stopping = (): boolean =>
    stopRequested || Atomics.load(control, 0) !== 0;

  const flush = (): void => {
    const batch = builder.take();
    batchStart = -1;
    if (batch !== null) {
      send({ type: "batch", batch }, batchTransferables(batch));
    }
  };

  while (!stopping()) {
    // Drain what libpcap has, up to a full batch.
    let empty = false;
    while (!builder.full && builder.bytes < opts.batchBytes) {
      const rc = pcap.pcap_next_ex(handle, hdrOut, dataOut);
      if (rc === 1) {
        const hp = Deno.UnsafePointer.create(hdrOut[0]!);
        if (hp === null) continue;
        Deno.UnsafePointerView.copyInto(hp, hdr);
        // struct pcap_pkthdr on LP64 little-endian Linux (x86_64, aarch64):
        // tv_sec int64 @0, tv_usec int64 @8, caplen u32 @16, len u32 @20.
        const sec = hdrView.getUint32(0, true) +
          hdrView.getInt32(4, true) * 4294967296;
        const usec = hdrView.getUint32(8, true);
        const caplen = hdrView.getUint32(16, true);
        const len = hdrView.getUint32(20, true);
        if (caplen > maxCaplen) {
          throw new WorkerFailure(
            "read",
            `libpcap returned a ${caplen}-byte frame, over the snaplen ${maxCaplen}`,
          );
        }
        const dst = builder.reserveFrame(
          caplen,
          len,
          sec * 1e6 + usec,
          linktype,
        );
        const dp = caplen > 0 ? Deno.UnsafePointer.create(dataOut[0]!) : null;
        if (dp !== null) Deno.UnsafePointerView.copyInto(dp, dst);
        counters.captured++;
      } else if (rc === 0) {
        empty = true;
        break;
      } else if (rc === PCAP_ERROR_BREAK) {
        stopRequested = true;
        break;
      } else {
        flush();
        throw new WorkerFailure("read", pcapError(lib, handle));
      }
    }
    const now = performance.now();
    if (builder.count > 0 && batchStart < 0) batchStart = now;
    if (
      builder.full || builder.bytes >= opts.batchBytes ||
      (batchStart >= 0 && now - batchStart >= opts.flushMs) ||
      // Drained. Without immediate mode the kernel hands frames over in
      // blocks, full or at their timeout, so what is here already waited
      // there: waiting another flushMs would only add latency. In
      // immediate mode every frame wakes us; the flushMs rule above
      // gathers them.
      (empty && builder.count > 0 && !opts.immediate)
    ) {
      flush();
    }
    if (now >= nextStats) {
      if (counters.update(lib, handle)) {
        send({ type: "stats", stats: counters.snapshot() });
      }
      nextStats = now + opts.statsMs;
    }
    if (empty && !stopping()) {
      // Wait for packets, but not past the pending batch's flush time.
      const wait = batchStart >= 0
        ? Math.max(0, Math.min(opts.pollMs, batchStart + opts.flushMs - now))
        : opts.pollMs;
      pollfd[1] = POLLIN; // clears revents (the high half)
      const ready = libc.symbols.poll(pollBytes, 1n, Math.ceil(wait));
      if (ready < 0) {
        const { errno, text } = lastErrno(libc);
        if (errno !== EINTR) {
          throw new WorkerFailure("read", `poll() failed: ${text}`);
        }
      } else if (ready > 0 && ((pollfd[1]! >>> 16) & POLLNVAL) !== 0) {
        throw new WorkerFailure("read", "the capture fd is no longer valid");
      }
    }
    if (now >= nextYield) {
      await nextTask();
      nextYield = performance.now() + YIELD_MS;
    }
  }
  flush();
  counters.update(lib, handle);
  send({ type: "stopped", stats: counters.snapshot() });
}

self.onmessage = (event: MessageEvent<unknown>) => {
  const msg = parseToWorker(event.data);
  switch (msg.type) {
    case "open":
      if (started) return;
      started = true;
      void capture(msg.options, new Int32Array(msg.control));
      return;
    case "stop":
      stopRequested = true;
      return;
    default: {
      const never: never = msg;
      throw new TypeError(`Unhandled message ${String(never)}`);
    }
  }
};
