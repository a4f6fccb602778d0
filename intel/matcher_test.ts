import assert from "node:assert/strict";
import { AlertAggregator, defaultPolicy } from "../alerts/mod.ts";
import type { Alert, Detection } from "../alerts/mod.ts";
import {
  cat,
  clientHello,
  dnsName,
  dnsQuery,
  u16,
  u32,
} from "../decode/_test_frames.ts";
import { TCP_ACK, TCP_PSH, TCP_SYN } from "../decode/mod.ts";
import { Traffic } from "../detect/_test_traffic.ts";
import { Pipeline } from "../engine/mod.ts";
import { parseFeedConfig } from "./config.ts";
import { parseFeed } from "./formats.ts";
import { IntelIndex } from "./intel_index.ts";
import { intelMatcher } from "./matcher.ts";

const HOME = "192.168.1.20";
const C2 = "203.0.113.66";

function index(): IntelIndex {
  const idx = new IntelIndex();
  const add = (o: Record<string, unknown>, text: string) => {
    const c = parseFeedConfig(o, "f");
    idx.set(
      c,
      parseFeed(text, { format: c.format, kind: c.kind, column: c.column }),
      "2026-12-07T10:00:00.000Z",
    );
  };
  add({
    name: "feodo",
    url: "https://feodotracker.abuse.ch/downloads/ipblocklist.txt",
    format: "feodo",
    block: true,
  }, `# x\n${C2}\n`);
  add({
    name: "drop",
    url: "https://www.spamhaus.org/drop/drop_v4.json",
    format: "spamhaus_drop",
    severity: 2,
  }, '{"cidr":"198.51.100.0/24","sblid":"SBL1"}\n');
  add({
    name: "hosts",
    url: "https://urlhaus.abuse.ch/downloads/hostfile/",
    format: "urlhaus_hosts",
    block: true,
  }, "127.0.0.1\tmalware-drop.example\n");
  add({
    name: "urls",
    url: "https://example.org/urls.txt",
    format: "plain",
    kind: "url",
  }, "http://files.example/payload.bin\n");
  return idx;
}

function runTraffic(
  t: Traffic,
  idx: IntelIndex,
): { detections: Detection[]; alerts: Alert[] } {
  const policy = defaultPolicy();
  const detections: Detection[] = [];
  const alerts: Alert[] = [];
  const agg = new AlertAggregator({
    policy,
    onFinal: (a) => alerts.push(structuredClone(a)),
  });
  const m = intelMatcher(idx, policy, (d) => {
    detections.push(d);
    agg.add(d);
  });
  const p = new Pipeline({ observers: [m, agg.observer()] });
  p.processBatch(t.batch());
  p.finish();
  return { detections, alerts };
}

Deno.test("an outbound connection to a listed address is a high alert naming the home host, feed, line and block target", () => {
  const t = new Traffic().tcp(HOME, 40000, C2, 443, TCP_SYN).tcp(
    C2,
    443,
    HOME,
    40000,
    TCP_SYN | TCP_ACK,
  );
  const { alerts } = runTraffic(t, index());
  assert.equal(alerts.length, 1);
  const a = alerts[0]!;
  assert.equal(a.netsentinel.type, "intel");
  assert.equal(a.alert.signature_id, 1002001);
  assert.equal(a.alert.severity, 1);
  assert.equal(a.src_ip, HOME);
  assert.equal(a.dest_ip, C2);
  const e = a.netsentinel.evidence;
  assert.equal(e.feed, "feodo");
  assert.equal(e.direction, "outbound");
  assert.equal(e.internal_host, HOME);
  assert.equal(e.indicator, C2);
  assert.equal(e.line, C2);
  assert.equal(e.line_no, 2);
  assert.equal(e.block_target, C2);
  assert.equal(
    e.feed_link,
    "https://feodotracker.abuse.ch/downloads/ipblocklist.txt",
  );
  assert.match(
    a.netsentinel.explanation,
    /Home host 192\.168\.1\.20 connected to 203\.0\.113\.66, listed by the "feodo" feed/,
  );
});

Deno.test("an inbound connection from a listed prefix is one severity lower and never blocks when the feed does not allow it", () => {
  const t = new Traffic().tcp("198.51.100.9", 5555, HOME, 22, TCP_SYN);
  const { alerts } = runTraffic(t, index());
  assert.equal(alerts.length, 1);
  const a = alerts[0]!;
  assert.equal(a.alert.signature_id, 1002002);
  assert.equal(a.alert.severity, 3);
  assert.equal(a.src_ip, "198.51.100.9");
  assert.equal(a.netsentinel.evidence.direction, "inbound");
  assert.equal(a.netsentinel.evidence.internal_host, HOME);
  assert.equal(a.netsentinel.evidence.indicator, "198.51.100.0/24");
  assert.equal(a.netsentinel.evidence.block_target, null);
});

Deno.test("DNS lookups, TLS SNI, HTTP Host and URLs of listed names raise intel alerts; look-alikes do not", () => {
  const t = new Traffic()
    .udp(HOME, 5353, "192.168.1.1", 53, dnsQuery("cdn.malware-drop.example"))
    .udp(HOME, 5354, "192.168.1.1", 53, dnsQuery("notmalware-drop.example"))
    .tcp(HOME, 40001, "192.0.2.10", 443, TCP_SYN)
    .tcp(HOME, 40001, "192.0.2.10", 443, TCP_ACK | TCP_PSH, {
      payload: clientHello({ sni: "malware-drop.example" }),
    })
    .tcp(HOME, 40002, "192.0.2.11", 80, TCP_SYN)
    .tcp(HOME, 40002, "192.0.2.11", 80, TCP_ACK | TCP_PSH, {
      payload: "GET /payload.bin HTTP/1.1\r\nHost: files.example\r\n\r\n",
    })
    .tcp(HOME, 40003, "192.0.2.12", 80, TCP_SYN)
    .tcp(HOME, 40003, "192.0.2.12", 80, TCP_ACK | TCP_PSH, {
      payload: "GET / HTTP/1.1\r\nHost: www.malware-drop.example:8080\r\n\r\n",
    });
  const { alerts } = runTraffic(t, index());
  const by = new Map(
    alerts.map((a) => [a.netsentinel.evidence.via as string, a]),
  );
  assert.deepEqual([...by.keys()].sort(), [
    "dns_query",
    "http_host",
    "http_url",
    "tls_sni",
  ]);
  const dns = by.get("dns_query")!;
  assert.equal(dns.src_ip, HOME);
  assert.equal(dns.netsentinel.evidence.observed, "cdn.malware-drop.example");
  assert.equal(dns.netsentinel.evidence.indicator, "malware-drop.example");
  assert.equal(
    dns.netsentinel.evidence.block_target,
    null,
    "a lookup never blocks the resolver",
  );
  assert.equal(
    by.get("tls_sni")!.netsentinel.evidence.block_target,
    "192.0.2.10",
  );
  assert.equal(
    by.get("http_host")!.netsentinel.evidence.observed,
    "www.malware-drop.example",
  );
  assert.equal(
    by.get("http_url")!.netsentinel.evidence.indicator,
    "files.example/payload.bin",
  );
});

Deno.test("the same traffic raises nothing when no feed lists it", () => {
  const t = new Traffic()
    .tcp(HOME, 40000, C2, 443, TCP_SYN)
    .udp(HOME, 5353, "192.168.1.1", 53, dnsQuery("cdn.malware-drop.example"));
  assert.deepEqual(runTraffic(t, new IntelIndex()).alerts, []);
});

Deno.test("matchFact checks JA3, JA4, certificate SHA-1 and DNS answers from app-layer records", () => {
  const idx = new IntelIndex();
  const add = (o: Record<string, unknown>, text: string) => {
    const c = parseFeedConfig(o, "f");
    idx.set(c, parseFeed(text, { format: c.format, kind: c.kind }), null);
  };
  add(
    { name: "ja3", url: "https://x.example/a", format: "sslbl_ja3" },
    "b386946a5a44d1ddcc843bc75336dfce,2017-07-14 18:08:15,2019-07-27 20:42:54,Dridex\n",
  );
  add(
    { name: "ja4", url: "https://x.example/b", format: "plain", kind: "ja4" },
    "t13d1516h2_8daaf6152771_b186095e22b6\n",
  );
  add(
    {
      name: "certs",
      url: "https://x.example/c",
      format: "sslbl_cert",
      block: true,
    },
    "2024-05-13 10:09:39,b8a1d6a9a4bd6dcb02f0b40e4c9c4b9c7f3a1e22,AsyncRAT C&C\n",
  );
  add({ name: "ips", url: "https://x.example/d", format: "feodo" }, `${C2}\n`);
  const policy = defaultPolicy();
  const got: Detection[] = [];
  const m = intelMatcher(idx, policy, (d) => got.push(d));
  let flow: unknown = null;
  const p = new Pipeline({
    observers: [{
      onPacket: (
        _p,
        ctx,
      ) => (flow ??= structuredClone({
        ...ctx.flow,
        srcAddr: ctx.flow.srcAddr,
        dstAddr: ctx.flow.dstAddr,
      })),
    }],
  });
  p.processBatch(
    new Traffic().tcp(HOME, 40000, "192.0.2.50", 443, TCP_SYN).batch(),
  );
  const f = flow as Parameters<typeof m.matchFact>[0];
  m.matchFact(f, {
    kind: "ja3",
    hash: "B386946A5A44D1DDCC843BC75336DFCE".toLowerCase(),
  }, 1);
  m.matchFact(f, {
    kind: "ja4",
    fingerprint: "t13d1516h2_8daaf6152771_b186095e22b6",
  }, 2);
  m.matchFact(f, {
    kind: "cert_sha1",
    hash: "b8a1d6a9a4bd6dcb02f0b40e4c9c4b9c7f3a1e22",
  }, 3);
  m.matchFact(f, { kind: "dns_answer", version: 4, words: [0xcb007142] }, 4);
  m.matchFact(f, { kind: "ja3", hash: "00000000000000000000000000000000" }, 5);
  assert.deepEqual(got.map((d) => d.signatureId), [
    1002007,
    1002008,
    1002009,
    1002010,
  ]);
  assert.equal(got[0]!.evidence.listed_since, "2017-07-14 18:08:15");
  assert.equal(got[2]!.evidence.block_target, "192.0.2.50");
  assert.equal(got[3]!.evidence.observed, C2);
  assert.deepEqual(Object.fromEntries(m.matches), {
    ja3: 1,
    ja4: 1,
    certs: 1,
    ips: 1,
  });
});

/** A DNS answer for `name`: one A record per address. */
function dnsAnswer(name: string, addrs: number[], id = 0xbeef): Uint8Array {
  return cat(
    u16(id),
    u16(0x8180),
    u16(1),
    u16(addrs.length),
    u16(0),
    u16(0),
    dnsName(name),
    u16(1),
    u16(1),
    ...addrs.map((a) =>
      cat([0xc0, 12], u16(1), u16(1), u32(300), u16(4), u32(a))
    ),
  );
}

Deno.test("a DNS answer naming a listed address raises dns_answer for the asking home host, blocking the address", () => {
  const t = new Traffic()
    .udp(HOME, 5353, "192.168.1.1", 53, dnsQuery("cdn.example", 1, 7))
    .udp(
      "192.168.1.1",
      53,
      HOME,
      5353,
      dnsAnswer("cdn.example", [0xc0000201, 0xcb007142], 7),
    );
  const { alerts } = runTraffic(t, index());
  assert.equal(
    alerts.length,
    1,
    JSON.stringify(alerts.map((a) => a.netsentinel.evidence)),
  );
  const a = alerts[0]!;
  assert.equal(a.alert.signature_id, 1002010);
  assert.equal(a.src_ip, HOME);
  assert.equal(a.netsentinel.evidence.observed, C2);
  assert.equal(a.netsentinel.evidence.internal_host, HOME);
  assert.equal(a.netsentinel.evidence.block_target, C2);
});
