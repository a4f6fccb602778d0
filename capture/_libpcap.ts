/**
 * Native bindings for live capture: the libpcap symbol table, the few libc
 * calls the capture worker needs (`poll`, and `open`/`setns`/`close` to join
 * a network namespace), and loaders that find the libraries.
 *
 * Private to `capture/`. All structs are laid out for LP64 Linux (x86_64 and
 * aarch64 alike): pointers and `long` are 8 bytes.
 *
 * @module
 */
import {
  LibcMissingError,
  LIBPCAP_NAMES,
  LibpcapMissingError,
} from "./live_errors.ts";

/** libpcap's functions as `Deno.dlopen` wants them. */
export const PCAP_SYMBOLS = {
  /** `pcap_t *pcap_create(const char *source, char *errbuf)` */
  pcap_create: { parameters: ["buffer", "buffer"], result: "pointer" },
  /** `int pcap_set_snaplen(pcap_t *p, int snaplen)` */
  pcap_set_snaplen: { parameters: ["pointer", "i32"], result: "i32" },
  /** `int pcap_set_promisc(pcap_t *p, int promisc)` */
  pcap_set_promisc: { parameters: ["pointer", "i32"], result: "i32" },
  /** `int pcap_set_immediate_mode(pcap_t *p, int immediate)` */
  pcap_set_immediate_mode: { parameters: ["pointer", "i32"], result: "i32" },
  /** `int pcap_set_timeout(pcap_t *p, int to_ms)` */
  pcap_set_timeout: { parameters: ["pointer", "i32"], result: "i32" },
  /** `int pcap_set_buffer_size(pcap_t *p, int buffer_size)` */
  pcap_set_buffer_size: { parameters: ["pointer", "i32"], result: "i32" },
  /** `int pcap_activate(pcap_t *p)` */
  pcap_activate: { parameters: ["pointer"], result: "i32" },
  /** `char *pcap_geterr(pcap_t *p)` */
  pcap_geterr: { parameters: ["pointer"], result: "pointer" },
  /** `const char *pcap_statustostr(int error)` */
  pcap_statustostr: { parameters: ["i32"], result: "pointer" },
  /**
   * `int pcap_compile(pcap_t *p, struct bpf_program *fp, const char *str,
   * int optimize, bpf_u_int32 netmask)`
   */
  pcap_compile: {
    parameters: ["pointer", "buffer", "buffer", "i32", "u32"],
    result: "i32",
  },
  /** `int pcap_setfilter(pcap_t *p, struct bpf_program *fp)` */
  pcap_setfilter: { parameters: ["pointer", "buffer"], result: "i32" },
  /** `void pcap_freecode(struct bpf_program *fp)` */
  pcap_freecode: { parameters: ["buffer"], result: "void" },
  /** `int pcap_setnonblock(pcap_t *p, int nonblock, char *errbuf)` */
  pcap_setnonblock: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  /** `int pcap_get_selectable_fd(pcap_t *p)` */
  pcap_get_selectable_fd: { parameters: ["pointer"], result: "i32" },
  /**
   * `int pcap_next_ex(pcap_t *p, struct pcap_pkthdr **pkt_header,
   * const u_char **pkt_data)`; both out-pointers are 8-byte buffers.
   */
  pcap_next_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  /** `int pcap_stats(pcap_t *p, struct pcap_stat *ps)` (3 × u32) */
  pcap_stats: { parameters: ["pointer", "buffer"], result: "i32" },
  /** `int pcap_datalink(pcap_t *p)` */
  pcap_datalink: { parameters: ["pointer"], result: "i32" },
  /** `void pcap_breakloop(pcap_t *p)` */
  pcap_breakloop: { parameters: ["pointer"], result: "void" },
  /** `void pcap_close(pcap_t *p)` */
  pcap_close: { parameters: ["pointer"], result: "void" },
  /** `int pcap_findalldevs(pcap_if_t **alldevsp, char *errbuf)` */
  pcap_findalldevs: { parameters: ["buffer", "buffer"], result: "i32" },
  /** `void pcap_freealldevs(pcap_if_t *alldevs)` */
  pcap_freealldevs: { parameters: ["pointer"], result: "void" },
  /** `const char *pcap_lib_version(void)` */
  pcap_lib_version: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The few libc functions capture needs. */
export const LIBC_SYMBOLS = {
  /** `int poll(struct pollfd *fds, nfds_t nfds, int timeout)` */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  /** `int open(const char *path, int flags)` (no mode: never creates) */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  /** `int setns(int fd, int nstype)` */
  setns: { parameters: ["i32", "i32"], result: "i32" },
  /** `int close(int fd)` */
  close: { parameters: ["i32"], result: "i32" },
  /** `int *__errno_location(void)` (glibc) */
  __errno_location: { parameters: [], result: "pointer" },
  /** `char *strerror(int errnum)` */
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** An open libpcap. */
export type Libpcap = Deno.DynamicLibrary<typeof PCAP_SYMBOLS>;
/** An open libc. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>;

/** Size of libpcap's error buffer (`PCAP_ERRBUF_SIZE`). */
export const PCAP_ERRBUF_SIZE = 256;
/** Size of `struct pcap_pkthdr` on LP64 Linux. */
export const PKTHDR_SIZE = 24;
/** Size of `struct bpf_program` on LP64 (u32, padding, pointer). */
export const BPF_PROGRAM_SIZE = 16;
/** `PCAP_NETMASK_UNKNOWN`, for `pcap_compile` when the netmask is unknown. */
export const PCAP_NETMASK_UNKNOWN = 0xffffffff;
/** `POLLIN` for `struct pollfd.events`. */
export const POLLIN = 0x0001;
/** `POLLNVAL` in `struct pollfd.revents`: the fd is not open. */
export const POLLNVAL = 0x0020;
/** `CLONE_NEWNET` for `setns`. */
export const CLONE_NEWNET = 0x40000000;
/** `O_RDONLY | O_CLOEXEC` for `open`. */
export const O_RDONLY_CLOEXEC = 0o2000000;

/** `pcap_activate` and friends: status codes worth naming. */
export const PCAP_ERROR = -1;
/** `pcap_next_ex`: the loop was broken with `pcap_breakloop`. */
export const PCAP_ERROR_BREAK = -2;
/** `pcap_activate`: the device does not exist. */
export const PCAP_ERROR_NO_SUCH_DEVICE = -5;
/** `pcap_activate`: no permission to open the device. */
export const PCAP_ERROR_PERM_DENIED = -8;
/** `pcap_activate`: the interface is not up. */
export const PCAP_ERROR_IFACE_NOT_UP = -9;
/** `pcap_activate`: no permission to put the device in promiscuous mode. */
export const PCAP_ERROR_PROMISC_PERM_DENIED = -11;

function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable ||
    e instanceof Deno.errors.PermissionDenied;
}

/**
 * Opens libpcap, trying {@link LIBPCAP_NAMES} in order. Needs `--allow-ffi`
 * (a missing permission is rethrown as Deno's own error).
 *
 * @throws {LibpcapMissingError} when no candidate loads.
 */
export function openLibpcap(): Libpcap {
  let last: unknown = undefined;
  for (const name of LIBPCAP_NAMES) {
    try {
      return Deno.dlopen(name, PCAP_SYMBOLS);
    } catch (e) {
      if (isPermissionError(e)) throw e;
      last = e;
    }
  }
  throw new LibpcapMissingError({ cause: last });
}

/**
 * Opens glibc's `libc.so.6` with {@link LIBC_SYMBOLS}.
 *
 * @throws {LibcMissingError} when it does not load.
 */
export function openLibc(): Libc {
  try {
    return Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw new LibcMissingError({ cause: e });
  }
}

/** Reads a NUL-terminated C string from a pointer, or "" for null. */
export function cString(p: Deno.PointerValue): string {
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

const encoder = new TextEncoder();

/** Encodes `s` as a NUL-terminated C string. */
export function toCString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Reads the NUL-terminated text in an error buffer filled by libpcap. */
export function errbufText(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end))
    .trim();
}

/** libpcap's text for its last error on `p` (`pcap_geterr`). */
export function pcapError(lib: Libpcap, p: Deno.PointerObject): string {
  return cString(lib.symbols.pcap_geterr(p)).trim();
}

/** The calling thread's `errno` and its text. */
export function lastErrno(libc: Libc): { errno: number; text: string } {
  const p = libc.symbols.__errno_location();
  const errno = p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
  return { errno, text: cString(libc.symbols.strerror(errno)) };
}

/** libpcap's version string, e.g. "libpcap version 1.10.3 (with TPACKET_V3)". */
export function pcapVersion(lib: Libpcap): string {
  return cString(lib.symbols.pcap_lib_version());
}
