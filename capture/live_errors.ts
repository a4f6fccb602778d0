/**
 * Errors of live capture: what a caller may handle when opening an interface
 * (missing libpcap, no permission, no such interface, a bad BPF filter) and
 * when a running capture dies (the worker failed or crashed).
 *
 * @module
 */
import { UserError } from "../common/errors.ts";

/** File names tried, in order, when loading libpcap. */
export const LIBPCAP_NAMES: readonly string[] = [
  "libpcap.so.0.8",
  "libpcap.so",
  "libpcap.so.1",
];

/** The fix printed with every permission failure. */
export const CAPTURE_PERMISSION_HINT =
  "run as root or grant CAP_NET_RAW and CAP_NET_ADMIN: setcap cap_net_raw,cap_net_admin=eip <binary>";

/** libpcap cannot be found on this system. */
export class LibpcapMissingError extends UserError {
  /** Creates the error naming the library files that were tried. */
  constructor(options?: ErrorOptions) {
    super(
      `Cannot load libpcap: none of ${
        LIBPCAP_NAMES.map((n) => `"${n}"`).join(", ")
      } was found (install it: apt install libpcap0.8)`,
      options,
    );
    this.name = "LibpcapMissingError";
  }
}

/** libc cannot be loaded (not a glibc Linux system). */
export class LibcMissingError extends UserError {
  /** Creates the error; keep the loader's failure as `cause`. */
  constructor(options?: ErrorOptions) {
    super(
      'Cannot load libc: "libc.so.6" was not found (live capture needs glibc Linux)',
      options,
    );
    this.name = "LibcMissingError";
  }
}

/** Opening a live capture on an interface failed. */
export class CaptureOpenError extends UserError {
  /** The interface that was asked for. */
  readonly iface: string;
  /** Creates the error; `message` is the full sentence. */
  constructor(iface: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CaptureOpenError";
    this.iface = iface;
  }
}

/** This process may not capture on the interface. */
export class CapturePermissionError extends CaptureOpenError {
  /** Creates the error for `iface`, with the fix in the message. */
  constructor(iface: string, options?: ErrorOptions) {
    super(
      iface,
      `Cannot capture on "${iface}": permission denied (${CAPTURE_PERMISSION_HINT})`,
      options,
    );
    this.name = "CapturePermissionError";
  }
}

/** The interface does not exist (in the network namespace captured in). */
export class InterfaceNotFoundError extends CaptureOpenError {
  /** Creates the error for `iface`. */
  constructor(iface: string, options?: ErrorOptions) {
    super(
      iface,
      `Cannot capture on "${iface}": no such interface (list them with "netsentinel interfaces")`,
      options,
    );
    this.name = "InterfaceNotFoundError";
  }
}

/** The BPF filter expression does not compile. */
export class BpfFilterError extends CaptureOpenError {
  /** The filter text as given. */
  readonly filter: string;
  /** Creates the error; `detail` is libpcap's `pcap_geterr` text. */
  constructor(iface: string, filter: string, detail: string) {
    super(iface, `Invalid BPF filter "${filter}": ${detail}`);
    this.name = "BpfFilterError";
    this.filter = filter;
  }
}

/**
 * A running capture stopped on its own: libpcap reported a read error (the
 * interface went away) or the capture worker crashed. The appliance restarts
 * the source with backoff.
 */
export class CaptureWorkerError extends Error {
  /** The interface the capture was on. */
  readonly iface: string;
  /** Creates the error; `message` is the full sentence. */
  constructor(iface: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CaptureWorkerError";
    this.iface = iface;
  }
}
