/**
 * The feeds in force, grouped by what they are matched against (addresses,
 * domains, JA3, JA4, certificate SHA-1, URLs), swapped one feed at a time
 * when an update brings a new copy; and the lookup behind `intel lookup`.
 *
 * @module
 */
import type { FeedConfig } from "./config.ts";
import {
  normalizeDomain,
  normalizeIndicator,
  type ParsedFeed,
} from "./formats.ts";
import { type ParsedPrefix, parsePrefix } from "./prefix_set.ts";

/** A feed and its parsed indicators. */
export interface LoadedFeed {
  readonly config: FeedConfig;
  readonly parsed: ParsedFeed;
}

/** Which feed lists a value, as `intel lookup` and alerts say it. */
export interface IntelHit {
  feed: string;
  kind: string;
  /** The listed indicator ("192.0.2.0/24", "evil.example"). */
  indicator: string;
  /** The feed's line and its number. */
  line: string;
  line_no: number;
  /** The feed's own date for the entry (first seen, listing date), or null. */
  listed_since: string | null;
  /** When the copy holding it was taken (ISO 8601), or null. */
  copy_of: string | null;
  link: string | null;
  severity: number;
  block: boolean;
}

/** The loaded feeds; see the module doc. */
export class IntelIndex {
  #feeds = new Map<string, LoadedFeed>();
  #copyOf = new Map<string, string | null>();
  /** Feeds with addresses or prefixes. */
  ipFeeds: LoadedFeed[] = [];
  /** Feeds of domains (suffix match). */
  domainFeeds: LoadedFeed[] = [];
  ja3Feeds: LoadedFeed[] = [];
  ja4Feeds: LoadedFeed[] = [];
  certFeeds: LoadedFeed[] = [];
  urlFeeds: LoadedFeed[] = [];
  /** Bumped on every change. */
  version = 0;

  /** Puts (or replaces) a feed's indicators in force. */
  set(config: FeedConfig, parsed: ParsedFeed, copyOf: string | null): void {
    this.#feeds.set(config.name, { config, parsed });
    this.#copyOf.set(config.name, copyOf);
    this.#regroup();
  }

  /** Drops a feed. */
  delete(name: string): void {
    this.#feeds.delete(name);
    this.#copyOf.delete(name);
    this.#regroup();
  }

  /** The feed named so, if loaded. */
  get(name: string): LoadedFeed | undefined {
    return this.#feeds.get(name);
  }

  /** Every loaded feed. */
  get feeds(): LoadedFeed[] {
    return [...this.#feeds.values()];
  }

  /** Indicators loaded over all feeds. */
  get entries(): number {
    let n = 0;
    for (const f of this.#feeds.values()) n += f.parsed.entries;
    return n;
  }

  #regroup(): void {
    const all = [...this.#feeds.values()];
    const names = (k: string) =>
      all.filter((f) => f.parsed.kind === k && f.parsed.names !== null);
    this.ipFeeds = all.filter((f) => f.parsed.ips !== null);
    this.domainFeeds = names("domain");
    this.ja3Feeds = names("ja3");
    this.ja4Feeds = names("ja4");
    this.certFeeds = names("cert_sha1");
    this.urlFeeds = names("url");
    this.version++;
  }

  /** The hit record of indicator `id` of feed `f`. */
  hit(f: LoadedFeed, id: number): IntelHit {
    const line = f.parsed.line(id);
    return {
      feed: f.config.name,
      kind: f.parsed.kind,
      indicator: f.parsed.value(id),
      line: line.text,
      line_no: line.no,
      listed_since: f.parsed.since(id),
      copy_of: this.#copyOf.get(f.config.name) ?? null,
      link: f.config.link,
      severity: f.config.severity,
      block: f.config.block,
    };
  }

  /**
   * Every feed listing `value`: an address (longest prefix), a domain (or
   * a parent), a JA3/JA4 fingerprint, a certificate SHA-1 or a URL (and
   * its host as a domain).
   */
  lookup(value: string): IntelHit[] {
    const v = value.trim();
    const out: IntelHit[] = [];
    const p: ParsedPrefix = {
      version: 4,
      v4: 0,
      v6: new Uint32Array(4),
      bits: 0,
    };
    if (parsePrefix(v, p) && !v.includes("/")) {
      const w = p.version === 4 ? [p.v4] : p.v6;
      for (const f of this.ipFeeds) {
        const id = f.parsed.ips!.lookup(p.version, w);
        if (id >= 0) out.push(this.hit(f, id));
      }
      return out;
    }
    const exact = (feeds: LoadedFeed[], key: string | null) => {
      if (key === null) return;
      for (const f of feeds) {
        const id = f.parsed.names!.matchExact(key);
        if (id >= 0) out.push(this.hit(f, id));
      }
    };
    exact(this.ja3Feeds, normalizeIndicator("ja3", v));
    exact(this.ja4Feeds, normalizeIndicator("ja4", v));
    exact(this.certFeeds, normalizeIndicator("cert_sha1", v));
    const url = normalizeIndicator("url", v);
    exact(this.urlFeeds, url);
    let host = url === null ? v : url.slice(0, url.indexOf("/"));
    const colon = host.lastIndexOf(":");
    if (colon > 0 && !host.includes("]")) host = host.slice(0, colon);
    const domain = normalizeDomain(host);
    if (domain !== null) {
      for (const f of this.domainFeeds) {
        const id = f.parsed.names!.matchSuffix(domain);
        if (id >= 0) out.push(this.hit(f, id));
      }
    }
    if (url !== null && parsePrefix(host, p)) {
      const w = p.version === 4 ? [p.v4] : p.v6;
      for (const f of this.ipFeeds) {
        const id = f.parsed.ips!.lookup(p.version, w);
        if (id >= 0) out.push(this.hit(f, id));
      }
    }
    return out;
  }
}
