/**
 * Network interfaces for the `interfaces` command and the doctor: names,
 * addresses, up/down, MTU, whether this process may capture on each (found
 * by actually opening it with libpcap), and the default-route interface.
 *
 * Needs `--allow-sys` (addresses), `--allow-read` (/sys, /proc) and
 * `--allow-ffi` (the capture probe; without it the probe says so).
 *
 * @module
 */
import {
  errbufText,
  type Libpcap,
  openLibpcap,
  PCAP_ERRBUF_SIZE,
  PCAP_ERROR_IFACE_NOT_UP,
  PCAP_ERROR_NO_SUCH_DEVICE,
  PCAP_ERROR_PERM_DENIED,
  PCAP_ERROR_PROMISC_PERM_DENIED,
  pcapError,
  toCString,
} from "./_libpcap.ts";
import { CAPTURE_PERMISSION_HINT, LibpcapMissingError } from "./live_errors.ts";

/** One address of an interface. */
export interface InterfaceAddress {
  /** Address family. */
  readonly family: "IPv4" | "IPv6";
  /** The address, e.g. "192.0.2.10" or "fe80::1". */
  readonly address: string;
  /** The address with its prefix length, e.g. "192.0.2.10/24". */
  readonly cidr: string;
}

/** Why capture on an interface is not possible, by kind. */
export type CaptureDenial =
  | "permission"
  | "no_such_interface"
  | "libpcap_missing"
  | "ffi_denied"
  | "error";

/** Whether this process may capture on an interface. */
export type CaptureAccess =
  | { readonly permitted: true }
  | {
    readonly permitted: false;
    readonly code: CaptureDenial;
    /** The reason as a sentence fragment, with the fix when known. */
    readonly reason: string;
  };

/** One network interface. */
export interface InterfaceInfo {
  /** Interface name, e.g. "eth0". */
  readonly name: string;
  /** Kernel interface index, or null when unknown. */
  readonly index: number | null;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** Operational state from /sys ("up", "down", "unknown", …), or "unknown". */
  readonly operstate: string;
  /** A loopback interface (IFF_LOOPBACK). */
  readonly loopback: boolean;
  /** MTU in bytes, or null when unknown. */
  readonly mtu: number | null;
  /** MAC address, or null when it has none. */
  readonly mac: string | null;
  /** IPv4 and IPv6 addresses. */
  readonly addresses: readonly InterfaceAddress[];
  /** Capture permission, or null when not probed. */
  readonly capture: CaptureAccess | null;
}

/** Options of {@link listInterfaces}. */
export interface ListInterfacesOptions {
  /** Probe capture permission on each interface (default true). */
  readonly probe?: boolean;
  /** Directory of per-interface folders (default "/sys/class/net"). */
  readonly sysfs?: string;
}

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

async function readText(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.NotCapable
    ) {
      return null;
    }
    // Some sysfs attributes refuse to be read (EINVAL) on some devices.
    if (e instanceof Error && /invalid argument/i.test(e.message)) return null;
    throw e;
  }
}

function intOrNull(text: string | null, radix = 10): number | null {
  if (text === null) return null;
  const n = Number.parseInt(text, radix);
  return Number.isFinite(n) ? n : null;
}

async function sysfsNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.NotCapable
    ) {
      return [];
    }
    throw e;
  }
  return names;
}

/**
 * Lists the interfaces of this network namespace: every one in /sys (down
 * ones and ones without addresses too) and every one with an address,
 * sorted by index. With `probe` (the default) each is opened briefly with
 * libpcap (not promiscuous) to learn whether capture is permitted.
 */
export async function listInterfaces(
  opts: ListInterfacesOptions = {},
): Promise<InterfaceInfo[]> {
  const sysfs = opts.sysfs ?? "/sys/class/net";
  const byName = new Map<string, InterfaceAddress[]>();
  const macs = new Map<string, string>();
  for (const ni of Deno.networkInterfaces()) {
    const list = byName.get(ni.name) ?? [];
    const cidr = ni.cidr ?? ni.address;
    list.push({ family: ni.family, address: ni.address, cidr });
    byName.set(ni.name, list);
    if (ni.mac !== "00:00:00:00:00:00") macs.set(ni.name, ni.mac);
  }
  const names = new Set([...await sysfsNames(sysfs), ...byName.keys()]);
  const infos: InterfaceInfo[] = [];
  for (const name of names) {
    const base = `${sysfs}/${name}`;
    const flags = intOrNull(await readText(`${base}/flags`), 16);
    const address = await readText(`${base}/address`);
    const mac = address !== null && address !== "" &&
        address !== "00:00:00:00:00:00"
      ? address
      : macs.get(name) ?? null;
    infos.push({
      name,
      index: intOrNull(await readText(`${base}/ifindex`)),
      up: flags !== null ? (flags & IFF_UP) !== 0 : byName.has(name),
      operstate: (await readText(`${base}/operstate`)) ?? "unknown",
      loopback: flags !== null
        ? (flags & IFF_LOOPBACK) !== 0
        : (byName.get(name) ?? []).some((a) =>
          a.address === "127.0.0.1" || a.address === "::1"
        ),
      mtu: intOrNull(await readText(`${base}/mtu`)),
      mac,
      addresses: byName.get(name) ?? [],
      capture: null,
    });
  }
  infos.sort((a, b) =>
    (a.index ?? Infinity) - (b.index ?? Infinity) ||
    a.name.localeCompare(b.name)
  );
  if (opts.probe === false) return infos;
  const access = probeCaptureAll(infos.map((i) => i.name));
  return infos.map((i) => ({ ...i, capture: access.get(i.name) ?? null }));
}

function denied(code: CaptureDenial, reason: string): CaptureAccess {
  return { permitted: false, code, reason };
}

function probeWith(lib: Libpcap, iface: string): CaptureAccess {
  const pcap = lib.symbols;
  const errbuf = new Uint8Array(PCAP_ERRBUF_SIZE);
  const handle = pcap.pcap_create(toCString(iface), errbuf);
  if (handle === null) return denied("error", errbufText(errbuf));
  try {
    pcap.pcap_set_snaplen(handle, 64);
    pcap.pcap_set_promisc(handle, 0);
    pcap.pcap_set_timeout(handle, 100);
    pcap.pcap_set_buffer_size(handle, 65536);
    const rc = pcap.pcap_activate(handle);
    if (rc >= 0 || rc === PCAP_ERROR_IFACE_NOT_UP) return { permitted: true };
    switch (rc) {
      case PCAP_ERROR_PERM_DENIED:
      case PCAP_ERROR_PROMISC_PERM_DENIED:
        return denied(
          "permission",
          `permission denied (${CAPTURE_PERMISSION_HINT})`,
        );
      case PCAP_ERROR_NO_SUCH_DEVICE:
        return denied("no_such_interface", "no such interface");
      default:
        return denied("error", pcapError(lib, handle));
    }
  } finally {
    pcap.pcap_close(handle);
  }
}

function probeCaptureAll(names: readonly string[]): Map<string, CaptureAccess> {
  const out = new Map<string, CaptureAccess>();
  let lib: Libpcap;
  try {
    lib = openLibpcap();
  } catch (e) {
    let access: CaptureAccess;
    if (e instanceof LibpcapMissingError) {
      access = denied(
        "libpcap_missing",
        "libpcap missing (apt install libpcap0.8)",
      );
    } else if (
      e instanceof Deno.errors.NotCapable ||
      e instanceof Deno.errors.PermissionDenied
    ) {
      access = denied("ffi_denied", "not checked (needs --allow-ffi)");
    } else {
      throw e;
    }
    for (const n of names) out.set(n, access);
    return out;
  }
  try {
    for (const n of names) out.set(n, probeWith(lib, n));
  } finally {
    lib.close();
  }
  return out;
}

/**
 * Tells whether this process may capture on `iface`, by opening it with
 * libpcap (not promiscuous) and closing it again. An interface that is down
 * counts as permitted. Never throws for a missing libpcap or FFI permission:
 * those come back as the reason.
 *
 * @example
 * ```ts
 * const access = probeCapture("eth0");
 * if (!access.permitted) console.error(access.reason);
 * ```
 */
export function probeCapture(iface: string): CaptureAccess {
  return probeCaptureAll([iface]).get(iface)!;
}

const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;

/**
 * Finds the interface of the IPv4 default route in the text of
 * /proc/net/route (lowest metric wins), or null when there is none.
 */
export function parseRouteTable(text: string): string | null {
  let best: { iface: string; metric: number } | null = null;
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flagsHex, , , metricText, mask] = f;
    const flags = Number.parseInt(flagsHex!, 16);
    if (dest !== "00000000" || mask !== "00000000") continue;
    if (!(flags & RTF_UP) || (flags & RTF_REJECT)) continue;
    const metric = Number.parseInt(metricText!, 10);
    if (best === null || metric < best.metric) {
      best = { iface: iface!, metric };
    }
  }
  return best?.iface ?? null;
}

/**
 * Finds the interface of the IPv6 default route in the text of
 * /proc/net/ipv6_route (lowest metric wins, reject routes skipped), or null.
 */
export function parseIpv6RouteTable(text: string): string | null {
  let best: { iface: string; metric: number } | null = null;
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, prefix, , , , metricHex, , , flagsHex, iface] = f;
    if (!/^0{32}$/.test(dest!) || prefix !== "00") continue;
    const flags = Number.parseInt(flagsHex!, 16);
    if (!(flags & RTF_UP) || (flags & RTF_REJECT) || iface === "lo") continue;
    const metric = Number.parseInt(metricHex!, 16);
    if (best === null || metric < best.metric) {
      best = { iface: iface!, metric };
    }
  }
  return best?.iface ?? null;
}

/** Options of {@link defaultRouteInterface}. */
export interface DefaultRouteOptions {
  /** IPv4 route table (default "/proc/net/route"). */
  readonly route?: string;
  /** IPv6 route table (default "/proc/net/ipv6_route"). */
  readonly ipv6Route?: string;
}

/**
 * The interface the default route goes out of: IPv4 first, then IPv6, null
 * when neither table has one (or they cannot be read).
 */
export async function defaultRouteInterface(
  opts: DefaultRouteOptions = {},
): Promise<string | null> {
  const v4 = await readText(opts.route ?? "/proc/net/route");
  const fromV4 = v4 === null ? null : parseRouteTable(v4);
  if (fromV4 !== null) return fromV4;
  const v6 = await readText(opts.ipv6Route ?? "/proc/net/ipv6_route");
  return v6 === null ? null : parseIpv6RouteTable(v6);
}

/** Options of {@link formatInterfacesTable}. */
export interface FormatInterfacesOptions {
  /** Interface to mark as carrying the default route. */
  readonly defaultRoute?: string | null;
}

function captureCell(c: CaptureAccess | null): string {
  if (c === null) return "not checked";
  if (c.permitted) return "permitted";
  switch (c.code) {
    case "permission":
      return "no: permission denied";
    case "no_such_interface":
      return "no: no such interface";
    case "libpcap_missing":
      return "no: libpcap missing";
    case "ffi_denied":
      return "not checked: needs --allow-ffi";
    case "error":
      return `no: ${c.reason}`;
    default: {
      const never: never = c.code;
      return String(never);
    }
  }
}

/**
 * Formats interfaces as a plain-text table for the `interfaces` command: one
 * row per interface (extra lines for extra addresses), the default-route
 * interface marked with `*`, and footnotes with the fix for any capture that
 * is not permitted. Pure; ends with a newline.
 *
 * @example
 * ```ts
 * const list = await listInterfaces();
 * const text = formatInterfacesTable(list, {
 *   defaultRoute: await defaultRouteInterface(),
 * });
 * ```
 */
export function formatInterfacesTable(
  list: readonly InterfaceInfo[],
  opts: FormatInterfacesOptions = {},
): string {
  const header = ["INTERFACE", "STATE", "MTU", "MAC", "ADDRESSES", "CAPTURE"];
  const rows: string[][] = [header];
  for (const i of list) {
    const mark = i.name === opts.defaultRoute ? " *" : "";
    const state = i.up
      ? (i.operstate === "down" ? "no-carrier" : "up")
      : "down";
    const addrs = i.addresses.map((a) => a.cidr);
    rows.push([
      i.name + mark,
      state,
      i.mtu === null ? "-" : String(i.mtu),
      i.mac ?? "-",
      addrs[0] ?? "-",
      captureCell(i.capture),
    ]);
    for (const a of addrs.slice(1)) rows.push(["", "", "", "", a, ""]);
  }
  const widths = header.map((_, c) =>
    Math.max(...rows.map((r) => r[c]!.length))
  );
  const lines = rows.map((r) =>
    r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c]!))
      .join("  ").trimEnd()
  );
  if (list.length === 0) lines.push("(no interfaces)");
  const notes: string[] = [];
  if (list.some((i) => i.name === opts.defaultRoute)) {
    notes.push("* carries the default route");
  }
  const denials = new Set(
    list.flatMap((i) =>
      i.capture !== null && !i.capture.permitted ? [i.capture.code] : []
    ),
  );
  if (denials.has("permission")) {
    notes.push(`Capture needs more privilege: ${CAPTURE_PERMISSION_HINT}`);
  }
  if (denials.has("libpcap_missing")) {
    notes.push("Capture needs libpcap: apt install libpcap0.8");
  }
  return [...lines, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n") +
    "\n";
}
