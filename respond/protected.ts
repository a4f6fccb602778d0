/**
 * What must never be blocked, and the check every block goes through:
 * loopback, link-local, multicast, broadcast and unspecified ranges; the
 * appliance's own addresses (and the broadcast address of each of its
 * subnets); its gateways (`/proc/net/route`, `/proc/net/ipv6_route`); its
 * DNS servers (`/etc/resolv.conf`, and systemd-resolved's upstream list);
 * allowlisted CIDRs; the addresses of signed-in admin sessions; the peers of
 * established sessions to the host's own SSH server (`/proc/net/tcp`,
 * `/proc/net/tcp6`: whoever is logged in to the box). A prefix is
 * refused when it overlaps any of them, and when it is broader than /8
 * (IPv4) or /32 (IPv6).
 *
 * @module
 */
import {
  type Cidr,
  cidrContains,
  formatAddr,
  parseAddr,
  parseCidr,
} from "../decode/mod.ts";
import { parseTarget, type Target } from "../store/mod.ts";

/** Why a block was refused. */
export type RefusalReason =
  | "invalid"
  | "too_broad"
  | "unspecified"
  | "loopback"
  | "link_local"
  | "multicast"
  | "broadcast"
  | "own_address"
  | "gateway"
  | "dns_server"
  | "allowlisted"
  | "admin_session"
  | "ssh_session"
  | "unconfirmed_source"
  | "rate_limited"
  | "blocker_unavailable";

/** A refused block: a code and one sentence. */
export interface Refusal {
  readonly reason: RefusalReason;
  readonly detail: string;
}

/** Addresses of the host the appliance runs on. */
export interface SystemFacts {
  /** Addresses of its interfaces. */
  readonly ownAddrs: readonly string[];
  /** Broadcast addresses of its IPv4 subnets. */
  readonly broadcasts: readonly string[];
  /** Gateways of its routes (default and others). */
  readonly gateways: readonly string[];
  /** Its DNS servers. */
  readonly dnsServers: readonly string[];
}

/** No facts (a host with nothing to protect but the fixed ranges). */
export const NO_FACTS: SystemFacts = {
  ownAddrs: [],
  broadcasts: [],
  gateways: [],
  dnsServers: [],
};

const RANGES: ReadonlyArray<readonly [Cidr, RefusalReason]> = (
  [
    ["0.0.0.0/8", "unspecified"],
    ["127.0.0.0/8", "loopback"],
    ["169.254.0.0/16", "link_local"],
    ["224.0.0.0/4", "multicast"],
    ["255.255.255.255/32", "broadcast"],
    ["::/128", "unspecified"],
    ["::1/128", "loopback"],
    ["fe80::/10", "link_local"],
    ["ff00::/8", "multicast"],
  ] as const
).map(([t, r]) => [parseCidr(t)!, r] as const);

const RANGE_TEXT: Record<string, string> = {
  unspecified: "an unspecified address",
  loopback: "loopback",
  link_local: "link-local",
  multicast: "multicast",
  broadcast: "a broadcast address",
};

/** True when two prefixes share at least one address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  if (a.version !== b.version) return false;
  return cidrContains(a, b.version, b.words) ||
    cidrContains(b, a.version, a.words);
}

interface Protected {
  readonly cidr: Cidr;
  readonly text: string;
  readonly reason: RefusalReason;
}

const WHAT: Partial<Record<RefusalReason, string>> = {
  own_address: "the appliance's own address",
  broadcast: "a subnet broadcast address",
  gateway: "a gateway of the appliance",
  dns_server: "a DNS server of the appliance",
  allowlisted: "allowlisted",
  admin_session: "the address of a signed-in admin session",
  ssh_session: "the address of an SSH session to the appliance",
};

function toCidrs(addrs: Iterable<string>, reason: RefusalReason): Protected[] {
  const out: Protected[] = [];
  for (const a of addrs) {
    const t = parseTarget(a);
    if (t !== null) out.push({ cidr: t.cidr, text: t.text, reason });
  }
  return out;
}

function describe(target: Target, p: Protected): string {
  const what = WHAT[p.reason] ?? p.reason;
  if (p.reason === "allowlisted") {
    return `"${target.text}" is allowlisted (${p.text})`;
  }
  return target.text === p.text
    ? `"${target.text}" is ${what}`
    : `"${target.text}" contains ${what} (${p.text})`;
}

/**
 * The never-block check. Holds the system facts and allowlist (replace
 * them as they change); admin addresses are asked for on every check.
 */
export class Guard {
  #facts: Protected[] = [];
  #allow: Protected[] = [];
  #sessions: Protected[] = [];
  #admins: () => Iterable<string>;

  /** Creates a guard; `admins` yields the addresses of signed-in admin sessions. */
  constructor(
    facts: SystemFacts = NO_FACTS,
    admins: () => Iterable<string> = () => [],
  ) {
    this.#admins = admins;
    this.setFacts(facts);
  }

  /** Replaces the system facts. */
  setFacts(f: SystemFacts): void {
    this.#facts = [
      ...toCidrs(f.ownAddrs, "own_address"),
      ...toCidrs(f.broadcasts, "broadcast"),
      ...toCidrs(f.gateways, "gateway"),
      ...toCidrs(f.dnsServers, "dns_server"),
    ];
  }

  /** Number of SSH session peers protected. */
  get sessions(): number {
    return this.#sessions.length;
  }

  /** Replaces the peers of SSH sessions to the appliance (see {@link readSessionPeers}). */
  setSessions(addrs: Iterable<string>): void {
    this.#sessions = toCidrs(addrs, "ssh_session");
  }

  /** Replaces the allowlist (CIDR or address texts). */
  setAllow(cidrs: Iterable<string>): void {
    this.#allow = toCidrs(cidrs, "allowlisted");
  }

  /**
   * Returns why `target` must not be blocked, or null when it may be. SSH
   * session peers are protected from automatic blocks only: the owner may
   * still block by hand an intruder who is logged in.
   */
  check(target: Target, automatic = true): Refusal | null {
    const c = target.cidr;
    if (c.bits < (c.version === 4 ? 8 : 32)) {
      return {
        reason: "too_broad",
        detail: `"${target.text}" is too broad (at most /${
          c.version === 4 ? 8 : 32
        } may be blocked)`,
      };
    }
    for (const [r, reason] of RANGES) {
      if (cidrOverlaps(c, r)) {
        return {
          reason,
          detail: `"${target.text}" is ${RANGE_TEXT[reason]}${
            target.single ? "" : ` or contains such addresses (${r.text})`
          }`,
        };
      }
    }
    const hit = (list: Iterable<Protected>): Refusal | null => {
      for (const p of list) {
        if (cidrOverlaps(c, p.cidr)) {
          return { reason: p.reason, detail: describe(target, p) };
        }
      }
      return null;
    };
    return hit(this.#facts) ?? hit(this.#allow) ??
      (automatic ? hit(this.#sessions) : null) ??
      hit(toCidrs(this.#admins(), "admin_session"));
  }
}

/**
 * Byte-swaps a 32-bit word: the kernel prints addresses in /proc in host
 * (little-endian) byte order.
 */
function swap32(x: number): number {
  return (((x & 0xff) << 24) | ((x >>> 8 & 0xff) << 16) |
    ((x >>> 16 & 0xff) << 8) | (x >>> 24)) >>> 0;
}

/** Parses `/proc/net/route` and returns the IPv4 gateways of its routes. */
export function parseProcRoute(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const gw = f[2];
    if (gw === undefined || !/^[0-9A-Fa-f]{8}$/.test(gw)) continue;
    const le = parseInt(gw, 16) >>> 0;
    if (le === 0) continue;
    out.add(formatAddr(4, [swap32(le)]));
  }
  return [...out];
}

/** Parses `/proc/net/ipv6_route` and returns the IPv6 next hops of its routes. */
export function parseProcIpv6Route(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    const hop = f[4];
    if (hop === undefined || !/^[0-9a-fA-F]{32}$/.test(hop)) continue;
    if (/^0+$/.test(hop)) continue;
    const words = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      words[i] = parseInt(hop.slice(i * 8, i * 8 + 8), 16) >>> 0;
    }
    out.add(formatAddr(6, words));
  }
  return [...out];
}

/**
 * Parses `/proc/net/tcp` or `/proc/net/tcp6` and returns the remote
 * addresses of ESTABLISHED connections whose local port is in `ports`
 * (IPv4-mapped IPv6 peers as IPv4). Lines that do not parse are skipped.
 */
export function parseProcNetTcp(
  text: string,
  ports: ReadonlySet<number>,
): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st …
    if (f.length < 4 || f[3] !== "01") continue;
    const local = /^[0-9A-Fa-f]+:([0-9A-Fa-f]{4})$/.exec(f[1]!);
    if (local === null || !ports.has(parseInt(local[1]!, 16))) continue;
    const rem = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):[0-9A-Fa-f]{4}$/.exec(f[2]!);
    if (rem === null) continue;
    const hex = rem[1]!;
    const words = new Uint32Array(hex.length / 8);
    for (let i = 0; i < words.length; i++) {
      words[i] = swap32(parseInt(hex.slice(i * 8, i * 8 + 8), 16) >>> 0);
    }
    if (words.length === 1) out.add(formatAddr(4, words));
    else if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
      out.add(formatAddr(4, [words[3]!]));
    } else out.add(formatAddr(6, words));
  }
  return [...out];
}

/** Parses a resolv.conf and returns its name servers. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && parseAddr(m[1]!) !== null) out.push(m[1]!.replace(/%.*$/, ""));
  }
  return out;
}

/**
 * The peers of established connections to `ports` of this host (of
 * `netns` when given): who is logged in over SSH right now. Missing files
 * count as empty.
 */
export async function readSessionPeers(
  ports: readonly number[],
  netns?: string,
): Promise<string[]> {
  if (ports.length === 0) return [];
  const set = new Set(ports);
  return [
    ...parseProcNetTcp(await readText("/proc/net/tcp", netns), set),
    ...parseProcNetTcp(await readText("/proc/net/tcp6", netns), set),
  ];
}

function broadcastOf(address: string, netmask: string): string | null {
  const a = parseAddr(address), m = parseAddr(netmask);
  if (a === null || m === null || a.version !== 4 || m.version !== 4) {
    return null;
  }
  const mask = m.words[0]!;
  if (mask === 0xffffffff || mask === 0xfffffffe) return null;
  return formatAddr(4, [(a.words[0]! | ~mask) >>> 0]);
}

/** Options of {@link readSystemFacts}. */
export interface SystemFactsOptions {
  /** Read the facts of this network namespace (through `ip netns exec`). */
  netns?: string;
}

const decoder = new TextDecoder();

async function readText(path: string, netns?: string): Promise<string> {
  try {
    if (netns === undefined) return await Deno.readTextFile(path);
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", netns, "cat", path],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    return out.success ? decoder.decode(out.stdout) : "";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

interface IfAddr {
  address: string;
  netmask: string;
}

async function interfaceAddrs(netns?: string): Promise<IfAddr[]> {
  if (netns === undefined) {
    return Deno.networkInterfaces().map((i) => ({
      address: i.address,
      netmask: i.netmask,
    }));
  }
  const out = await new Deno.Command("ip", {
    args: ["-n", netns, "-j", "addr", "show"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot list the addresses of namespace "${netns}": ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  const parsed: unknown = JSON.parse(decoder.decode(out.stdout));
  const res: IfAddr[] = [];
  if (!Array.isArray(parsed)) return res;
  for (const link of parsed) {
    const infos = (link as { addr_info?: unknown }).addr_info;
    if (!Array.isArray(infos)) continue;
    for (const ai of infos) {
      const { local, prefixlen, family } = ai as Record<string, unknown>;
      if (typeof local !== "string" || typeof prefixlen !== "number") continue;
      const mask = family === "inet" && prefixlen > 0
        ? formatAddr(4, [(0xffffffff << (32 - prefixlen)) >>> 0])
        : "255.255.255.255";
      res.push({ address: local, netmask: family === "inet" ? mask : "" });
    }
  }
  return res;
}

/**
 * Reads the host's own addresses, subnet broadcasts, gateways and DNS
 * servers (of `netns` when given). Missing files count as empty.
 */
export async function readSystemFacts(
  opts: SystemFactsOptions = {},
): Promise<SystemFacts> {
  const addrs = await interfaceAddrs(opts.netns);
  const ownAddrs = [
    ...new Set(addrs.map((a) => a.address.replace(/%.*$/, ""))),
  ];
  const broadcasts = [
    ...new Set(
      addrs.map((a) => broadcastOf(a.address, a.netmask)).filter((b) =>
        b !== null
      ),
    ),
  ];
  const gateways = [
    ...parseProcRoute(await readText("/proc/net/route", opts.netns)),
    ...parseProcIpv6Route(await readText("/proc/net/ipv6_route", opts.netns)),
  ];
  const dns = new Set([
    ...parseResolvConf(await readText("/etc/resolv.conf", opts.netns)),
    ...parseResolvConf(
      await readText("/run/systemd/resolve/resolv.conf", opts.netns),
    ),
  ]);
  return { ownAddrs, broadcasts, gateways, dnsServers: [...dns] };
}
