/**
 * Feed file formats: turns a feed's text into indicators (prefixes in a
 * {@link PrefixSet}, names in a {@link NameSet}) with the line each came
 * from. Feed files are hostile input: every line is validated for its
 * indicator kind, bad lines are counted and skipped, lines over 4 KiB are
 * skipped unread, and the number of indicators is capped.
 *
 * Formats (the files as their publishers serve them):
 * - `plain`: one indicator a line; `#`, `;` and `//` start comments.
 * - `csv`: the indicator in column `column` (1-based), `#` comments,
 *   quoted fields; a first line whose cell is not an indicator is a header.
 * - `spamhaus_drop`: Spamhaus DROP/EDROP, the JSON lines
 *   (`{"cidr":"1.10.16.0/20","sblid":"SBL256894",…}` with a metadata line)
 *   or the classic text (`1.10.16.0/20 ; SBL256894`).
 * - `feodo`: abuse.ch Feodo Tracker IP blocklist, text (one address a
 *   line) or CSV (`first_seen_utc,dst_ip,dst_port,c2_status,…`).
 * - `sslbl_ja3`: abuse.ch SSLBL `ja3_md5,Firstseen,Lastseen,Listingreason`.
 * - `sslbl_cert`: abuse.ch SSLBL `Listingdate,SHA1,Listingreason`.
 * - `urlhaus_hosts`: abuse.ch URLhaus hostfile (`127.0.0.1<TAB>host`).
 * - `firehol`: FireHOL netsets (`#` comments, an address or CIDR a line).
 *
 * Indicator kinds: `ip` (IPv4/IPv6 addresses and prefixes, at most /8 and
 * /16 wide), `domain` (a name and its subdomains; at least two labels),
 * `ja3` (32 hex), `ja4` (the JA4 TLS client fingerprint, FoxIO spec),
 * `cert_sha1` (40 hex, colons allowed), `url` (`http://host[:port]/path`).
 * A domain feed's address lines go to its prefix set.
 *
 * @module
 */
import { type NameSet, NameSetBuilder } from "./name_set.ts";
import {
  formatPrefix,
  type ParsedPrefix,
  parsePrefix,
  type PrefixSet,
  PrefixSetBuilder,
} from "./prefix_set.ts";

/** Feed formats. */
export const FEED_FORMATS = [
  "plain",
  "csv",
  "spamhaus_drop",
  "feodo",
  "sslbl_ja3",
  "sslbl_cert",
  "urlhaus_hosts",
  "firehol",
] as const;

/** One feed format. */
export type FeedFormat = typeof FEED_FORMATS[number];

/** Indicator kinds. */
export const INDICATOR_KINDS = [
  "ip",
  "domain",
  "ja3",
  "ja4",
  "cert_sha1",
  "url",
] as const;

/** One indicator kind. */
export type IndicatorKind = typeof INDICATOR_KINDS[number];

/** The kind each format's indicators are (null: the feed says). */
export const FORMAT_KIND: Readonly<Record<FeedFormat, IndicatorKind | null>> = {
  plain: null,
  csv: null,
  spamhaus_drop: "ip",
  feodo: "ip",
  sslbl_ja3: "ja3",
  sslbl_cert: "cert_sha1",
  urlhaus_hosts: "domain",
  firehol: "ip",
};

/** What {@link parseFeed} needs to know about a feed. */
export interface FeedShape {
  format: FeedFormat;
  kind: IndicatorKind;
  /** `csv`: the 1-based column of the indicator. */
  column?: number;
  /** Most indicators kept; more are counted as `over_limit`. */
  maxEntries?: number;
}

/** The longest line read; longer ones are skipped. */
export const MAX_LINE = 4096;
const DEFAULT_MAX_ENTRIES = 2_000_000;

/** A feed's indicators, ready for matching. */
export interface ParsedFeed {
  readonly kind: IndicatorKind;
  /** Addresses and prefixes (null when the feed has none). */
  readonly ips: PrefixSet | null;
  /** Names, hashes or URLs (null when the feed has none). */
  readonly names: NameSet | null;
  /** Indicators kept. */
  readonly entries: number;
  /** Lines that were neither an indicator, a comment nor blank. */
  readonly rejected: number;
  /** Indicators beyond `maxEntries`, dropped. */
  readonly overLimit: number;
  /** The first few rejected lines (number and a cut of the text), for the error message. */
  readonly rejects: ReadonlyArray<{ line: number; text: string }>;
  /** Where indicator `id` came from: line number (1-based) and text. */
  line(id: number): { no: number; text: string };
  /** The date the feed gives for indicator `id` (first seen, listing date), or null. */
  since(id: number): string | null;
  /** Indicator `id` as listed, canonical ("192.0.2.0/24", "evil.example", a hash). */
  value(id: number): string;
}

/** Lower-cased domain without a leading "*." or trailing dot, or null. */
export function normalizeDomain(s: string): string | null {
  let d = s.trim().toLowerCase();
  if (d.startsWith("*.")) d = d.slice(2);
  else if (d.startsWith(".")) d = d.slice(1);
  if (d.endsWith(".")) d = d.slice(0, -1);
  if (d.length < 3 || d.length > 253) return null;
  if (
    !/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)+$/
      .test(d)
  ) return null;
  return d;
}

/**
 * An HTTP URL as matched: lower-cased host (port kept unless the scheme's
 * default), then the path and query as sent; no scheme, no fragment.
 * Null when it is not an http(s) URL with a host.
 */
export function normalizeUrl(s: string): string | null {
  const m = /^(https?):\/\/([^/?#\s]+)([^#\s]*)/i.exec(s.trim());
  if (!m) return null;
  let host = m[2]!.toLowerCase();
  if (host.includes("@")) return null;
  const scheme = m[1]!.toLowerCase();
  if (
    (scheme === "http" && host.endsWith(":80")) ||
    (scheme === "https" && host.endsWith(":443"))
  ) host = host.slice(0, host.lastIndexOf(":"));
  let path = m[3]!;
  if (path === "" || path[0] === "?") path = "/" + path;
  return host + path;
}

const JA3 = /^[0-9a-f]{32}$/;
const JA4 = /^[tqd]\d{2}[di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/;
const SHA1 = /^[0-9a-f]{40}$/;

/** The indicator in canonical form for `kind`, or null when `v` is not one. */
export function normalizeIndicator(
  kind: IndicatorKind,
  v: string,
): string | null {
  const t = v.trim();
  switch (kind) {
    case "ip":
      return t;
    case "domain":
      return normalizeDomain(t);
    case "ja3": {
      const x = t.toLowerCase();
      return JA3.test(x) ? x : null;
    }
    case "ja4": {
      const x = t.toLowerCase();
      return JA4.test(x) ? x : null;
    }
    case "cert_sha1": {
      const x = t.toLowerCase().replaceAll(":", "");
      return SHA1.test(x) ? x : null;
    }
    case "url":
      return normalizeUrl(t);
    default: {
      const never: never = kind;
      throw new Error(`Unknown indicator kind ${never}`);
    }
  }
}

/** Splits one CSV line (RFC 4180 quotes) into cells. */
export function csvCells(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          v += line.slice(i);
          i = line.length;
          break;
        }
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      const c = line.indexOf(",", i);
      i = c < 0 ? line.length + 1 : c + 1;
    } else {
      const c = line.indexOf(",", i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end).trim());
      i = end + 1;
    }
  }
  return out;
}

/** The first whitespace-delimited token of s after `from`. */
function firstToken(s: string): string {
  const m = /^\s*(\S+)/.exec(s);
  return m ? m[1]! : "";
}

/**
 * The line without its comment: a mark starts one at the line's start or
 * after whitespace ("http://x/#a" keeps its "//" and "#").
 */
function stripComment(line: string, marks: readonly string[]): string {
  let end = line.length;
  for (const m of marks) {
    for (
      let i = line.indexOf(m);
      i >= 0 && i < end;
      i = line.indexOf(m, i + 1)
    ) {
      if (i === 0 || line.charCodeAt(i - 1) <= 32) {
        end = i;
        break;
      }
    }
  }
  return line.slice(0, end).trim();
}

/** What one line yields: a value to validate, nothing (comment/blank), or a date too. */
type Extracted = { value: string; since: string | null } | null;

/**
 * The raw indicator of one line by format (validation follows), null for
 * comments and blanks. `header` is true for the first non-comment line of
 * a CSV (a cell that fails validation there is a header, not an error).
 */
function extract(shape: FeedShape, line: string): Extracted {
  switch (shape.format) {
    case "plain": {
      const s = stripComment(line, ["#", ";", "//"]);
      return s === "" ? null : { value: firstToken(s), since: null };
    }
    case "firehol": {
      const s = stripComment(line, ["#"]);
      return s === "" ? null : { value: firstToken(s), since: null };
    }
    case "csv": {
      const t = line.trim();
      if (t === "" || t.startsWith("#")) return null;
      const cells = csvCells(t);
      return { value: cells[(shape.column ?? 1) - 1] ?? "", since: null };
    }
    case "spamhaus_drop": {
      const t = line.trim();
      if (t === "" || t.startsWith(";") || t.startsWith("#")) return null;
      if (t.startsWith("{")) {
        let o: unknown;
        try {
          o = JSON.parse(t);
        } catch {
          return { value: t, since: null };
        }
        if (typeof o !== "object" || o === null) {
          return { value: t, since: null };
        }
        const r = o as Record<string, unknown>;
        if (r.type === "metadata") return null;
        return { value: typeof r.cidr === "string" ? r.cidr : t, since: null };
      }
      return { value: firstToken(stripComment(t, [";"])), since: null };
    }
    case "feodo": {
      const t = line.trim();
      if (t === "" || t.startsWith("#")) return null;
      if (t.includes(",")) {
        const c = csvCells(t);
        return { value: c[1] ?? "", since: c[0] || null };
      }
      return { value: firstToken(t), since: null };
    }
    case "sslbl_ja3": {
      const t = line.trim();
      if (t === "" || t.startsWith("#")) return null;
      const c = csvCells(t);
      return { value: c[0] ?? "", since: c[1] || null };
    }
    case "sslbl_cert": {
      const t = line.trim();
      if (t === "" || t.startsWith("#")) return null;
      const c = csvCells(t);
      return { value: c[1] ?? "", since: c[0] || null };
    }
    case "urlhaus_hosts": {
      const s = stripComment(line, ["#"]);
      if (s === "") return null;
      const parts = s.split(/\s+/);
      const host = parts.length >= 2 ? parts[1]! : parts[0]!;
      // A hosts file's own "localhost" line is no indicator.
      return host === "localhost" ? null : { value: host, since: null };
    }
    default: {
      const never: never = shape.format;
      throw new Error(`Unknown feed format ${never}`);
    }
  }
}

/** Too wide to be an indicator: a /0 feed line would list everything. */
function tooWide(p: ParsedPrefix): boolean {
  return p.version === 4 ? p.bits < 8 : p.bits < 16;
}

/**
 * Parses a feed's text. Never throws on content: bad lines are counted in
 * `rejected` with the first few kept for the message.
 */
export function parseFeed(text: string, shape: FeedShape): ParsedFeed {
  const max = shape.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const ips = new PrefixSetBuilder();
  const names = new NameSetBuilder();
  let offs = new Uint32Array(1024);
  const dates = new Map<number, string>();
  let n = 0, rejected = 0, overLimit = 0, lineNo = 0;
  let sawData = false;
  const rejects: { line: number; text: string }[] = [];
  const p: ParsedPrefix = {
    version: 4,
    v4: 0,
    v6: new Uint32Array(4),
    bits: 0,
  };
  const kind = shape.kind;
  let start = 0;
  if (text.charCodeAt(0) === 0xfeff) start = 1;
  while (start <= text.length) {
    let nl = text.indexOf("\n", start);
    if (nl < 0) nl = text.length;
    lineNo++;
    const lineStart = start;
    start = nl + 1;
    if (nl - lineStart > MAX_LINE) {
      rejected++;
      if (rejects.length < 5) {
        rejects.push({ line: lineNo, text: "(line too long)" });
      }
      continue;
    }
    const line = text.slice(lineStart, nl);
    const ex = extract(shape, line);
    if (ex === null) continue;
    const header = !sawData && shape.format === "csv";
    sawData = true;
    let ok = false;
    const v = ex.value;
    if (kind === "ip" || (kind === "domain" && parsePrefix(v, p))) {
      if (parsePrefix(v, p) && !tooWide(p)) {
        if (n >= max) {
          overLimit++;
          continue;
        }
        if (p.version === 4) ips.add4(p.v4, p.bits, n);
        else ips.add6(p.v6, p.bits, n);
        ok = true;
      }
    } else {
      const norm = normalizeIndicator(kind, v);
      if (norm !== null) {
        if (n >= max) {
          overLimit++;
          continue;
        }
        names.add(norm, n);
        ok = true;
      }
    }
    if (!ok) {
      if (header) continue;
      rejected++;
      if (rejects.length < 5) {
        rejects.push({ line: lineNo, text: line.slice(0, 80) });
      }
      continue;
    }
    if (n === offs.length) {
      const o = new Uint32Array(offs.length * 2);
      o.set(offs);
      offs = o;
    }
    offs[n] = lineStart;
    if (ex.since) dates.set(n, ex.since.slice(0, 32));
    n++;
  }
  const lineOffs = offs.slice(0, n);
  return {
    kind,
    ips: ips.size > 0 ? ips.build() : null,
    names: names.size > 0 ? names.build() : null,
    entries: n,
    rejected,
    overLimit,
    rejects,
    line(id: number) {
      const off = lineOffs[id];
      if (off === undefined) return { no: 0, text: "" };
      let end = text.indexOf("\n", off);
      if (end < 0) end = text.length;
      let no = 1;
      for (
        let i = text.indexOf("\n");
        i >= 0 && i < off;
        i = text.indexOf("\n", i + 1)
      ) no++;
      return {
        no,
        text: text.slice(off, end).replace(/\r$/, "").slice(0, 512),
      };
    },
    since(id: number) {
      return dates.get(id) ?? null;
    },
    value(id: number) {
      const ex = extract(shape, this.line(id).text);
      if (ex === null) return "";
      if (parsePrefix(ex.value, p)) {
        return formatPrefix(p.version, p.version === 4 ? [p.v4] : p.v6, p.bits);
      }
      return normalizeIndicator(kind, ex.value) ?? ex.value;
    },
  };
}
