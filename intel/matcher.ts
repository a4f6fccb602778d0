/**
 * The intel matcher: a detector (`intel` alerts) that checks every new
 * flow's addresses against the IP feeds (longest prefix) and, from the
 * app-layer records of protocols/ (reassembled streams, UDP and TCP DNS),
 * DNS queries, TLS SNI and HTTP Host against the domain feeds (the name and
 * its parents), the addresses of DNS answers against the IP feeds, HTTP
 * URLs against the URL feeds, and TLS client fingerprints (JA3, JA4) and the
 * server certificate's SHA-1 against theirs.
 *
 * Direction, as Maltrail and Zeek's Intel framework report it: the listed
 * side is the remote one. A home host that opens a connection to a listed
 * address, or looks up / names a listed domain, is "outbound": the alert's
 * source is that internal host (the device at risk), its severity the
 * feed's. A listed address that opens a connection to a home host is
 * "inbound", one severity level lower. When the feed allows blocking, the
 * evidence names the listed remote address as `block_target` (the blocker
 * cuts it both ways); DNS lookups name none (the remote side is the
 * resolver).
 *
 * Per packet it does nothing beyond a new flow's address lookups; app-layer
 * records come once per message; lookups allocate nothing, only a match
 * builds its detection.
 *
 * @module
 */
import type { Policy } from "../alerts/policy.ts";
import {
  anyCidrContains,
  formatAddr,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Packet,
} from "../decode/mod.ts";
import { detection, type Detector, type Emit } from "../detect/mod.ts";
import { DIR_TO_SERVER, type Flow, type PacketContext } from "../flows/mod.ts";
import {
  type AppContext,
  type AppRecord,
  type TlsConnection,
  tlsConnectionOf,
  type TlsHandshake,
} from "../protocols/mod.ts";
import { type ParsedPrefix, parsePrefix } from "./prefix_set.ts";
import type { IntelHit, IntelIndex, LoadedFeed } from "./intel_index.ts";

/** How a match was seen: the signature variant. */
export type IntelVia =
  | "ip_out"
  | "ip_in"
  | "dns_query"
  | "dns_answer"
  | "tls_sni"
  | "http_host"
  | "http_url"
  | "ja3"
  | "ja4"
  | "cert_sha1";

/** The connection a fact belongs to: a flow, or a parser's record of one (client first). */
export type IntelConn = Pick<
  Flow,
  "id" | "version" | "srcAddr" | "dstAddr" | "srcPort" | "dstPort" | "proto"
>;

/** App-layer facts of a flow the matcher checks (see {@link IntelMatcher}). */
export type IntelFact =
  | { kind: "dns_query"; name: string }
  | { kind: "dns_answer"; version: 4 | 6; words: ArrayLike<number> }
  | { kind: "tls_sni"; name: string }
  | { kind: "http_host"; host: string }
  | { kind: "http_url"; host: string; uri: string }
  | { kind: "ja3"; hash: string }
  | { kind: "ja4"; fingerprint: string }
  | { kind: "cert_sha1"; hash: string };

/** The detector, plus the entry point for app-layer records. */
export interface IntelMatcher extends Detector {
  /**
   * Checks one app-layer fact of connection `f` (client first) at packet
   * time `tsUs`; `onApp` calls it for the records of protocols/.
   */
  matchFact(f: IntelConn, fact: IntelFact, tsUs: number): void;
  /** Matches seen, by feed. */
  readonly matches: Map<string, number>;
}

/** The connection with its sides swapped (a flow picked up the other way round). */
function swapped(f: IntelConn): IntelConn {
  return {
    id: f.id,
    version: f.version,
    srcAddr: f.dstAddr,
    dstAddr: f.srcAddr,
    srcPort: f.dstPort,
    dstPort: f.srcPort,
    proto: f.proto,
  };
}

/** A TLS record's connection (client first) as the matcher's. */
function connOf(c: TlsConnection): IntelConn {
  return {
    id: c.flowId,
    version: c.ipVersion,
    srcAddr: c.clientAddr,
    dstAddr: c.serverAddr,
    srcPort: c.clientPort,
    dstPort: c.serverPort,
    proto: IPPROTO_TCP,
  };
}

const scratch: ParsedPrefix = {
  version: 4,
  v4: 0,
  v6: new Uint32Array(4),
  bits: 0,
};

function hostEnd(h: string): number {
  // "host:port" → end of host; IPv6 literals "[::1]:80" keep their brackets.
  if (h.startsWith("[")) return h.indexOf("]") + 1 || h.length;
  const c = h.lastIndexOf(":");
  return c > 0 && h.indexOf(":") === c ? c : h.length;
}

/**
 * Builds the matcher over the feeds of `index` (read at every match, so a
 * feed update applies at once); `matches` counts matches by feed (pass the
 * same map to a rebuilt matcher to keep the counts).
 */
export function intelMatcher(
  index: IntelIndex,
  policy: Policy,
  emit: Emit,
  matches: Map<string, number> = new Map(),
): IntelMatcher {
  const home = (v: number, w: ArrayLike<number>) =>
    anyCidrContains(policy.home_net, v, w);

  function report(
    f: IntelConn,
    feed: LoadedFeed,
    id: number,
    via: IntelVia,
    observed: string,
    tsUs: number,
  ): void {
    const h: IntelHit = index.hit(feed, id);
    matches.set(h.feed, (matches.get(h.feed) ?? 0) + 1);
    const client = formatAddr(f.version, f.srcAddr);
    const server = formatAddr(f.version, f.dstAddr);
    const inbound = via === "ip_in";
    // The internal host: the client, unless a listed client came in.
    const internal = inbound ? server : client;
    const remote = inbound ? client : server;
    const severity = (inbound ? Math.min(4, h.severity + 1) : h.severity) as
      | 1
      | 2
      | 3
      | 4;
    // DNS: the remote side is the resolver; an answer names the address.
    const blockTarget = !h.block || via === "dns_query"
      ? null
      : via === "dns_answer"
      ? observed
      : remote;
    const proto = f.proto === IPPROTO_TCP
      ? "TCP"
      : f.proto === IPPROTO_UDP
      ? "UDP"
      : String(f.proto);
    const what = via === "ip_out"
      ? `connected to ${server}`
      : via === "ip_in"
      ? `was contacted by ${client}`
      : via === "dns_query"
      ? `looked up ${observed}`
      : via === "dns_answer"
      ? `was told ${observed} by DNS`
      : via === "tls_sni"
      ? `opened TLS to ${observed} (${server})`
      : via === "http_host" || via === "http_url"
      ? `requested ${observed} (${server})`
      : via === "ja3" || via === "ja4"
      ? `used a TLS client fingerprint ${observed} (to ${server})`
      : `was shown a certificate ${observed} by ${server}`;
    const d = detection(policy, "intel", via, {
      tsUs,
      src: client,
      dest: server,
      srcPort: f.srcPort,
      destPort: f.dstPort,
      proto,
      flowId: f.id,
      key: `${h.feed}|${internal}|${h.indicator}|${via}`,
      evidence: {
        feed: h.feed,
        feed_link: h.link,
        indicator: h.indicator,
        indicator_kind: h.kind,
        observed,
        via,
        direction: inbound ? "inbound" : "outbound",
        internal_host: internal,
        remote,
        line: h.line,
        line_no: h.line_no,
        listed_since: h.listed_since,
        copy_of: h.copy_of,
        block_target: blockTarget,
        confirmed_source: true,
      },
      explanation: inbound
        ? `${internal} ${what}, listed by the "${h.feed}" feed as ${h.indicator}`
        : `Home host ${internal} ${what}, listed by the "${h.feed}" feed as ${h.indicator}`,
    });
    // Severity is the feed's (per direction), not the policy's one value.
    d.severity = severity;
    emit(d);
  }

  function names(
    f: IntelConn,
    feeds: LoadedFeed[],
    s: string,
    end: number,
    via: IntelVia,
    tsUs: number,
    suffix: boolean,
  ): void {
    for (let i = 0; i < feeds.length; i++) {
      const feed = feeds[i]!;
      const set = feed.parsed.names!;
      const id = suffix
        ? set.matchSuffix(s, 0, end)
        : set.matchExact(s, 0, end);
      if (id >= 0) report(f, feed, id, via, s.slice(0, end), tsUs);
    }
  }

  function matchFact(f: IntelConn, fact: IntelFact, tsUs: number): void {
    switch (fact.kind) {
      case "dns_query":
      case "tls_sni":
        if (fact.name !== "") {
          names(
            f,
            index.domainFeeds,
            fact.name,
            fact.name.length,
            fact.kind,
            tsUs,
            true,
          );
        }
        return;
      case "http_host":
        if (fact.host !== "") {
          names(
            f,
            index.domainFeeds,
            fact.host,
            hostEnd(fact.host),
            "http_host",
            tsUs,
            true,
          );
        }
        return;
      case "http_url": {
        if (index.urlFeeds.length === 0 || fact.host === "") return;
        const key = fact.host.toLowerCase() +
          (fact.uri === "" ? "/" : fact.uri);
        names(f, index.urlFeeds, key, key.length, "http_url", tsUs, false);
        return;
      }
      case "ja3":
        names(
          f,
          index.ja3Feeds,
          fact.hash,
          fact.hash.length,
          "ja3",
          tsUs,
          false,
        );
        return;
      case "ja4":
        names(
          f,
          index.ja4Feeds,
          fact.fingerprint,
          fact.fingerprint.length,
          "ja4",
          tsUs,
          false,
        );
        return;
      case "cert_sha1":
        names(
          f,
          index.certFeeds,
          fact.hash,
          fact.hash.length,
          "cert_sha1",
          tsUs,
          false,
        );
        return;
      case "dns_answer": {
        const feeds = index.ipFeeds;
        for (let i = 0; i < feeds.length; i++) {
          const id = feeds[i]!.parsed.ips!.lookup(fact.version, fact.words);
          if (id >= 0) {
            report(
              f,
              feeds[i]!,
              id,
              "dns_answer",
              formatAddr(fact.version, fact.words),
              tsUs,
            );
          }
        }
        return;
      }
      default: {
        const never: never = fact;
        throw new Error(`Unknown intel fact ${JSON.stringify(never)}`);
      }
    }
  }

  const self: IntelMatcher = {
    type: "intel",
    matches,
    stateSize: () => 0,
    matchFact,
    onPacket(p: Packet, ctx: PacketContext): void {
      const f = ctx.flow;
      if (ctx.newFlow) {
        const feeds = index.ipFeeds;
        if (feeds.length > 0) {
          const cHome = home(f.version, f.srcAddr);
          const sHome = home(f.version, f.dstAddr);
          for (let i = 0; i < feeds.length; i++) {
            const ips = feeds[i]!.parsed.ips!;
            if (!sHome) {
              const id = ips.lookup(f.version, f.dstAddr);
              if (id >= 0) {
                report(
                  f,
                  feeds[i]!,
                  id,
                  "ip_out",
                  formatAddr(f.version, f.dstAddr),
                  p.tsUs,
                );
              }
            }
            if (!cHome) {
              const id = ips.lookup(f.version, f.srcAddr);
              if (id >= 0) {
                report(
                  f,
                  feeds[i]!,
                  id,
                  "ip_in",
                  formatAddr(f.version, f.srcAddr),
                  p.tsUs,
                );
              }
            }
          }
        }
      }
    },
    onApp(rec: AppRecord, ctx: AppContext): void {
      const f = ctx.flow;
      switch (rec.kind) {
        case "dns": {
          // The asker is the side the query came from (the flow's client,
          // unless the flow was picked up the other way round).
          const askerIsClient = rec.qr
            ? ctx.dir !== DIR_TO_SERVER
            : ctx.dir === DIR_TO_SERVER;
          const c = askerIsClient ? f : swapped(f);
          if (!rec.qr) {
            if (index.domainFeeds.length === 0) return;
            for (const q of rec.queries) {
              matchFact(c, { kind: "dns_query", name: q.rrname }, ctx.tsUs);
            }
            return;
          }
          if (index.ipFeeds.length === 0) return;
          const p: ParsedPrefix = scratch;
          for (const an of rec.answers) {
            if (
              (an.rrtype !== 1 && an.rrtype !== 28) || !parsePrefix(an.rdata, p)
            ) {
              continue;
            }
            matchFact(c, {
              kind: "dns_answer",
              version: p.version,
              words: p.version === 4 ? [p.v4] : p.v6,
            }, ctx.tsUs);
          }
          return;
        }
        case "http": {
          // Once, when the request is complete.
          if (rec.state !== "request" || rec.request === null) return;
          const host = rec.hostname;
          if (host === "") return;
          matchFact(f, { kind: "http_host", host }, ctx.tsUs);
          if (index.urlFeeds.length > 0) {
            matchFact(f, { kind: "http_url", host, uri: rec.url }, ctx.tsUs);
          }
          return;
        }
        case "tls": {
          const conn = tlsConnectionOf(rec, ctx);
          const hs = rec.handshake;
          if (hs.sni !== "" && index.domainFeeds.length > 0) {
            matchFact(
              connOf(conn),
              { kind: "tls_sni", name: hs.sni },
              conn.tsUs,
            );
          }
          matchTlsHandshake(self, hs, conn);
          return;
        }
        default: {
          const never: never = rec;
          void never;
        }
      }
    },
  };
  return self;
}

/**
 * Hands a TLS handshake from the stream parser (protocols/) to the matcher:
 * the client's JA3 and JA4 and the server certificate's SHA-1 (SSLBL lists
 * it as 40 hex digits; Suricata's `fingerprint` has colons). The SNI is
 * matched from the packet already.
 */
export function matchTlsHandshake(
  m: IntelMatcher,
  hs: TlsHandshake,
  conn: TlsConnection,
): void {
  const c = connOf(conn);
  if (hs.ja3 !== null) {
    m.matchFact(c, { kind: "ja3", hash: hs.ja3.hash }, conn.tsUs);
  }
  if (hs.ja4 !== "") {
    m.matchFact(c, { kind: "ja4", fingerprint: hs.ja4 }, conn.tsUs);
  }
  if (hs.cert !== null) {
    m.matchFact(c, {
      kind: "cert_sha1",
      hash: hs.cert.fingerprint.replaceAll(":", ""),
    }, conn.tsUs);
  }
}
