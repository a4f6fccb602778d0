/**
 * IP addresses as 32-bit words (the decoder's representation) and as text,
 * plus CIDR prefixes for policy matching. Pure functions, no I/O.
 *
 * @module
 */

/** An IP address: version and four 32-bit words (IPv4 uses word 0 only). */
export interface IpAddr {
  readonly version: 4 | 6;
  readonly words: Uint32Array;
}

/** A CIDR prefix: a network address and a prefix length in bits. */
export interface Cidr {
  readonly version: 4 | 6;
  readonly words: Uint32Array;
  readonly bits: number;
  /** The prefix as text, normalised ("10.0.0.0/8"). */
  readonly text: string;
}

/**
 * Formats an address held in words as text: dotted quad for IPv4, RFC 5952
 * compressed form for IPv6.
 *
 * @example
 * ```ts
 * formatAddr(4, Uint32Array.of(0x0a000001)); // "10.0.0.1"
 * ```
 */
export function formatAddr(version: number, words: ArrayLike<number>): string {
  if (version === 4) {
    const a = words[0]! >>> 0;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[i]! >>> 0;
    g.push(w >>> 16, w & 0xffff);
  }
  // IPv4-mapped ::ffff:a.b.c.d keeps the dotted tail, as inet_ntop does.
  if (
    g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 &&
    g[5] === 0xffff
  ) {
    return `::ffff:${formatAddr(4, [words[3]!])}`;
  }
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number) => x.toString(16);
  if (bestStart < 0) return g.map(hex).join(":");
  const head = g.slice(0, bestStart).map(hex).join(":");
  const tail = g.slice(bestStart + bestLen).map(hex).join(":");
  return `${head}::${tail}`;
}

/**
 * Parses an IPv4 or IPv6 address from text. Returns null when the text is
 * not an address (no exceptions: input may come from users or the wire).
 * IPv4 parts with leading zeros ("010") are refused as ambiguous (octal to
 * inet_aton); an IPv6 zone ("%eth0") is dropped.
 *
 * @example
 * ```ts
 * parseAddr("2001:db8::1")?.words; // Uint32Array [0x20010db8, 0, 0, 1]
 * ```
 */
export function parseAddr(text: string): IpAddr | null {
  if (text.includes(":")) return parseIpv6(text);
  const v4 = parseIpv4(text);
  return v4 === null
    ? null
    : { version: 4, words: Uint32Array.of(v4, 0, 0, 0) };
}

/**
 * Parses an address the way a host is looked up: surrounding space is
 * ignored and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) gives the IPv4
 * address itself. Null when the text is not an address.
 *
 * @example
 * ```ts
 * parseHostAddr(" ::ffff:192.0.2.1")?.version; // 4
 * ```
 */
export function parseHostAddr(text: string): IpAddr | null {
  const a = parseAddr(text.trim());
  if (a === null) return null;
  const w = a.words;
  if (a.version === 6 && w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    return { version: 4, words: Uint32Array.of(w[3]!, 0, 0, 0) };
  }
  return a;
}

function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    // No leading zeros: inet_aton reads "010" as octal 8, so it is ambiguous.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

function parseIpv6(text: string): IpAddr | null {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const groups: number[] = [];
  let tail4: number | null = null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parseHalf = (s: string, allowV4: boolean): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const items = s.split(":");
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (allowV4 && i === items.length - 1 && it.includes(".")) {
        tail4 = parseIpv4(it);
        if (tail4 === null) return null;
        out.push(tail4 >>> 16, tail4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return null;
      out.push(parseInt(it, 16));
    }
    return out;
  };
  if (halves.length === 2) {
    const a = parseHalf(halves[0]!, false);
    const b = parseHalf(halves[1]!, true);
    if (a === null || b === null || a.length + b.length > 7) return null;
    groups.push(...a, ...new Array(8 - a.length - b.length).fill(0), ...b);
  } else {
    const a = parseHalf(halves[0]!, true);
    if (a === null || a.length !== 8) return null;
    groups.push(...a);
  }
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    words[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  }
  return { version: 6, words };
}

/**
 * Parses "addr/bits" or a bare address (a host prefix) into a {@link Cidr}.
 * Host bits below the prefix are cleared. Returns null on bad input.
 */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  const addr = parseAddr(slash < 0 ? text.trim() : text.slice(0, slash).trim());
  if (addr === null) return null;
  const max = addr.version === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(b)) return null;
    bits = Number(b);
    if (bits > max) return null;
  }
  const words = Uint32Array.from(addr.words);
  maskWords(words, addr.version === 4 ? bits + 96 : bits, addr.version);
  return {
    version: addr.version,
    words,
    bits,
    text: `${formatAddr(addr.version, words)}/${bits}`,
  };
}

function maskWords(words: Uint32Array, bits128: number, version: 4 | 6): void {
  if (version === 4) {
    const b = bits128 - 96;
    words[0] = b === 0 ? 0 : (words[0]! & (0xffffffff << (32 - b))) >>> 0;
    return;
  }
  for (let i = 0; i < 4; i++) {
    const b = Math.max(0, Math.min(32, bits128 - 32 * i));
    words[i] = b === 0 ? 0 : (words[i]! & (0xffffffff << (32 - b))) >>> 0;
  }
}

/** True when the address (version + words) lies inside the prefix. */
export function cidrContains(
  c: Cidr,
  version: number,
  words: ArrayLike<number>,
): boolean {
  if (c.version !== version) return false;
  if (version === 4) {
    if (c.bits === 0) return true;
    const mask = (0xffffffff << (32 - c.bits)) >>> 0;
    return ((words[0]! & mask) >>> 0) === c.words[0];
  }
  let left = c.bits;
  for (let i = 0; i < 4 && left > 0; i++) {
    const b = Math.min(32, left);
    const mask = (0xffffffff << (32 - b)) >>> 0;
    if (((words[i]! & mask) >>> 0) !== c.words[i]) return false;
    left -= b;
  }
  return true;
}

/** True when any prefix in the list contains the address. */
export function anyCidrContains(
  list: readonly Cidr[],
  version: number,
  words: ArrayLike<number>,
): boolean {
  for (let i = 0; i < list.length; i++) {
    if (cidrContains(list[i]!, version, words)) return true;
  }
  return false;
}

/** Address scopes that are labelled instead of looked up or blocked. */
export type AddrScope =
  | "loopback"
  | "private"
  | "link-local"
  | "cgnat"
  | "multicast"
  | "broadcast"
  | "unspecified"
  | "documentation"
  | "unique-local"
  | "public";

const SCOPES: ReadonlyArray<[Cidr, AddrScope]> = (
  [
    ["0.0.0.0/32", "unspecified"],
    ["127.0.0.0/8", "loopback"],
    ["10.0.0.0/8", "private"],
    ["172.16.0.0/12", "private"],
    ["192.168.0.0/16", "private"],
    ["169.254.0.0/16", "link-local"],
    ["100.64.0.0/10", "cgnat"],
    ["224.0.0.0/4", "multicast"],
    ["255.255.255.255/32", "broadcast"],
    ["192.0.2.0/24", "documentation"],
    ["198.51.100.0/24", "documentation"],
    ["203.0.113.0/24", "documentation"],
    ["::/128", "unspecified"],
    ["::1/128", "loopback"],
    ["fe80::/10", "link-local"],
    ["fc00::/7", "unique-local"],
    ["ff00::/8", "multicast"],
    ["2001:db8::/32", "documentation"],
  ] as const
).map(([t, s]) => [parseCidr(t)!, s]);

/**
 * Classifies an address: loopback, private (RFC 1918), link-local, CGNAT,
 * multicast, broadcast, documentation, unique-local (fc00::/7), or public.
 * IPv4-mapped IPv6 addresses are classified by their IPv4 part.
 */
export function addrScope(
  version: number,
  words: ArrayLike<number>,
): AddrScope {
  if (
    version === 6 && words[0] === 0 && words[1] === 0 && words[2] === 0xffff
  ) {
    return addrScope(4, [words[3]!]);
  }
  for (const [c, s] of SCOPES) if (cidrContains(c, version, words)) return s;
  return "public";
}
