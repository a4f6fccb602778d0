/**
 * Mutation fuzzing of the decoder over frames of the tcpdump corpus and
 * hand-built frames with DNS, HTTP and TLS payloads: random byte changes,
 * truncation at every length, length fields set to extremes, frames read
 * under the wrong link type. Seeded, so a failure reproduces; the failing
 * frame is printed in hex.
 */
import assert from "node:assert/strict";
import { BatchBuilder, type FrameBatch } from "../capture/mod.ts";
import {
  APP_DNS,
  APP_FAULTS,
  APP_HTTP,
  APP_NONE,
  APP_TLS,
  decodeFrame,
  FRAME_FAULTS,
  HTTP_MAX_HOST,
  HTTP_MAX_METHOD,
  HTTP_MAX_URI,
  HTTP_MAX_USER_AGENT,
  HTTP_MAX_VERSION,
  linktypeSupported,
  MAX_TUNNEL_DEPTH,
  newPacket,
  type Packet,
  SUPPORTED_LINKTYPES,
  TUNNEL_NONE,
} from "./mod.ts";
import {
  cat,
  clientHello,
  corpusFiles,
  corpusFrames,
  dnsQuery,
  eth,
  ipv4,
  ipv6,
  ipv6Ext,
  prng,
  tcp,
  type TestFrame,
  u16,
  udp,
} from "./_test_frames.ts";
import {
  erspan1,
  erspan2,
  erspan3,
  ethernet,
  geneve,
  gre,
  GRE_IPV4,
  GRE_IPV6,
  GRE_TEB,
  teredo,
  vxlan,
} from "../tests/tunnel_frames.ts";

const SEED = 0x5eed2026;
const FRAME_FAULT_SET = new Set<string>(FRAME_FAULTS);
const APP_FAULT_SET = new Set<string>(APP_FAULTS);
const PRINTABLE = /^[\x20-\x7e]*$/;

/** Frames with application payloads, which the corpus has few of. */
function appFrames(): TestFrame[] {
  const t = (data: Uint8Array): TestFrame => ({
    data,
    linktype: 1,
    wirelen: data.length,
    tsUs: 0,
  });
  const http = cat(
    "GET /index.html?a=1 HTTP/1.1\r\nHost: www.example.com\r\n",
    "User-Agent: fuzz/1.0\r\nAccept: */*\r\n\r\n",
  );
  const tls = clientHello({
    sni: "sni.example.org",
    versions: [0x0304, 0x0303],
  });
  const dns = dnsQuery("a.b.example.com", 16);
  const resp = cat(dns.subarray(0, 2), [0x81, 0x80], dns.subarray(4), [
    0xc0,
    12,
  ]);
  const inner4 = ipv4(
    { proto: 17 },
    udp({ sport: 40000, dport: 53 }, dns),
  );
  const inner6 = ipv6(
    { nh: 6 },
    tcp({ sport: 40000, dport: 80, flags: 0x18 }, http),
  );
  const o4 = (proto: number, b: Uint8Array) => eth(0x0800, ipv4({ proto }, b));
  const o6 = (nh: number, b: Uint8Array) => eth(0x86dd, ipv6({ nh }, b));
  const u4 = (dport: number, b: Uint8Array) =>
    o4(17, udp({ sport: 50000, dport }, b));
  return [
    t(eth(
      0x0800,
      ipv4({ proto: 6 }, tcp({ sport: 40000, dport: 80, flags: 0x18 }, http)),
    )),
    // Every tunnel kind, and three nested (the decoder's bound).
    t(o4(47, gre(GRE_IPV4, inner4, { key: 5, seq: 1, checksum: true }))),
    t(o4(47, gre(GRE_TEB, ethernet(0x86dd, inner6)))),
    t(o4(47, erspan1(ethernet(0x0800, inner4)))),
    t(o4(47, erspan2(ethernet(0x86dd, inner6)))),
    t(o4(47, erspan3(ethernet(0x0800, inner4), { subheader: true }))),
    t(u4(4789, vxlan(ethernet(0x0800, inner4)))),
    t(u4(
      6081,
      geneve(GRE_TEB, ethernet(0x86dd, inner6), {
        options: [1, 2, 3, 1, 0, 0, 0, 0],
      }),
    )),
    t(u4(3544, teredo(inner6, { origin: true }))),
    t(o4(4, inner4)),
    t(o4(41, inner6)),
    t(o6(4, inner4)),
    t(o4(
      4,
      ipv4(
        { proto: 17 },
        udp(
          { sport: 1, dport: 4789 },
          vxlan(ethernet(0x0800, ipv4({ proto: 47 }, gre(GRE_IPV6, inner6)))),
        ),
      ),
    )),
    t(eth(
      0x0800,
      ipv4({ proto: 6 }, tcp({ sport: 40000, dport: 443, flags: 0x18 }, tls)),
    )),
    t(eth(
      0x86dd,
      ipv6({ nh: 6 }, tcp({ sport: 40000, dport: 8443, flags: 0x18 }, tls)),
    )),
    t(eth(0x0800, ipv4({ proto: 17 }, udp({ sport: 40000, dport: 53 }, dns)), {
      vlans: [5],
    })),
    t(eth(0x0800, ipv4({ proto: 17 }, udp({ sport: 53, dport: 40000 }, resp)))),
    t(eth(
      0x0800,
      ipv4(
        { proto: 6 },
        tcp(
          { sport: 40000, dport: 53, flags: 0x18 },
          cat(u16(dns.length), dns),
        ),
      ),
    )),
    t(eth(
      0x86dd,
      ipv6(
        { nh: 0 },
        cat(
          ipv6Ext(44),
          [17, 0, 0, 1],
          [0, 0, 0, 9],
          udp({ sport: 5353, dport: 5353 }, dns),
        ),
      ),
    )),
  ];
}

/** Reads every field a consumer may read; returns what is wrong, or null. */
function problem(p: Packet, fault: string | null): string | null {
  if (fault !== null && !FRAME_FAULT_SET.has(fault)) {
    return `unknown fault ${fault}`;
  }
  if (p.appFault !== null && !APP_FAULT_SET.has(p.appFault)) {
    return `unknown app fault ${p.appFault}`;
  }
  const start = p.frameOffset;
  const end = start + p.caplen;
  if (end > p.data.length) return "frame past the buffer";
  if (p.payloadOffset < start || p.payloadLen < 0) {
    return "payload before the frame";
  }
  if (p.payloadOffset + p.payloadLen > end) return "payload past the frame";
  if (!(p.payloadWireLen >= 0)) return "negative wire payload";
  if (p.l3Offset !== -1 && (p.l3Offset < start || p.l3Offset > end)) {
    return "l3 outside";
  }
  if (p.l4Offset !== -1 && (p.l4Offset < start || p.l4Offset >= end)) {
    return "l4 outside";
  }
  if (fault === null && p.ipVersion !== 0 && p.l3Offset < 0) {
    return "IP without l3";
  }
  if (p.ipVersion === 4 && (p.src[1] !== 0 || p.dst[3] !== 0)) {
    return "stale v6 words";
  }
  if (p.srcPort < 0 || p.srcPort > 65535 || p.dstPort > 65535) {
    return "bad port";
  }
  if (p.app !== APP_NONE && p.appFault !== null) return "facts and a fault";
  if (
    fault === null && p.fragment &&
    (p.fragDataOffset < p.l3Offset || p.fragDataLen < 0 ||
      p.fragDataOffset > p.frameOffset + p.caplen)
  ) return "fragment fields";
  if (p.tunnelDepth < 0 || p.tunnelDepth > MAX_TUNNEL_DEPTH) {
    return "tunnel depth";
  }
  if ((p.tunnelDepth === 0) !== (p.tunnelType === TUNNEL_NONE)) {
    return "tunnel kind and depth disagree";
  }
  if (p.tunnelDepth === 0) {
    if (
      p.tunnelKinds !== 0 || p.tunnelVersion !== 0 || p.tunnelProto !== 0 ||
      p.tunnelSrc[0] !== 0 || p.tunnelDst[3] !== 0
    ) return "stale tunnel fields";
  } else if (
    (p.tunnelKinds & (1 << p.tunnelType)) === 0 ||
    (p.tunnelVersion !== 4 && p.tunnelVersion !== 6)
  ) return "tunnel fields";
  const d = p.dns, h = p.http, t = p.tls;
  if (p.app === APP_DNS) {
    if (!PRINTABLE.test(d.qname) || d.qname.length > 1100) return "bad qname";
  } else if (d.qname !== "" || d.id !== 0 || d.qtype !== 0) return "stale DNS";
  if (p.app === APP_HTTP) {
    if (!PRINTABLE.test(h.method + h.uri + h.version + h.host + h.userAgent)) {
      return "unprintable HTTP";
    }
    if (
      h.method.length === 0 || h.method.length > HTTP_MAX_METHOD ||
      h.uri.length === 0 || h.uri.length > HTTP_MAX_URI ||
      h.version.length > HTTP_MAX_VERSION || h.host.length > HTTP_MAX_HOST ||
      h.userAgent.length > HTTP_MAX_USER_AGENT
    ) return "HTTP field length";
  } else if (h.method !== "" || h.uri !== "" || h.host !== "") {
    return "stale HTTP";
  }
  if (p.app === APP_TLS) {
    if (!PRINTABLE.test(t.sni) || t.sni.length > 255 * 4) return "bad SNI";
  } else if (t.sni !== "" || t.version !== 0) return "stale TLS";
  return null;
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Decodes every frame of `mutants` (in batches, so frames sit at offsets
 * other than 0) and fails on the first exception or broken record.
 */
function decodeAllChecked(mutants: TestFrame[], what: string): number {
  const p = newPacket();
  let n = 0;
  for (let at = 0; at < mutants.length; at += 4096) {
    const chunk = mutants.slice(at, at + 4096);
    const b = new BatchBuilder(chunk.length, 1 << 20);
    for (const f of chunk) {
      b.push(f.data, 0, f.data.length, f.wirelen, f.tsUs, f.linktype);
    }
    const batch: FrameBatch = b.take()!;
    for (let i = 0; i < batch.count; i++) {
      const f = chunk[i]!;
      let fault;
      try {
        fault = decodeFrame(p, batch, i);
      } catch (e) {
        throw new Error(
          `${what} (seed ${SEED}): decoding threw on link type ${f.linktype}, ` +
            `wirelen ${f.wirelen}, frame ${hex(f.data)}`,
          { cause: e },
        );
      }
      const bad = problem(p, fault);
      if (bad !== null) {
        assert.fail(
          `${what} (seed ${SEED}): ${bad} on link type ${f.linktype}, ` +
            `wirelen ${f.wirelen}, frame ${hex(f.data)}`,
        );
      }
      n++;
    }
  }
  return n;
}

let frames: TestFrame[] | null = null;

async function seedFrames(): Promise<TestFrame[]> {
  if (frames !== null) return frames;
  const all: TestFrame[] = appFrames();
  for (const name of corpusFiles()) {
    for (const f of await corpusFrames(name)) {
      if (linktypeSupported(f.linktype) && f.data.length > 0) all.push(f);
    }
  }
  frames = all;
  return all;
}

/** How many frames {@link appFrames} makes (always sampled). */
const N_APP = 19;

/** Picks `n` frames, the application and tunnel frames always among them. */
function sample(all: TestFrame[], n: number, rnd: () => number): TestFrame[] {
  const out = all.slice(0, N_APP);
  while (out.length < n) out.push(all[Math.floor(rnd() * all.length)]!);
  return out;
}

Deno.test("decodeFrame() survives random byte changes to real frames", async () => {
  const all = await seedFrames();
  const rnd = prng(SEED);
  const mutants: TestFrame[] = [];
  for (const f of all) {
    for (let k = 0; k < 12; k++) {
      const data = f.data.slice();
      const changes = 1 + Math.floor(rnd() * 8);
      for (let c = 0; c < changes; c++) {
        // Mostly near the headers, where the decoder looks.
        const span = rnd() < 0.8 ? Math.min(data.length, 96) : data.length;
        data[Math.floor(rnd() * span)] = Math.floor(rnd() * 256);
      }
      const wirelen = rnd() < 0.1
        ? Math.floor(rnd() * 2 * data.length)
        : f.wirelen;
      mutants.push({ ...f, data, wirelen });
    }
  }
  assert.ok(decodeAllChecked(mutants, "byte changes") > 100_000);
});

Deno.test("decodeFrame() survives frames cut at every length", async () => {
  const all = await seedFrames();
  const rnd = prng(SEED + 1);
  const mutants: TestFrame[] = [];
  for (const f of sample(all, 400, rnd)) {
    const upto = Math.min(f.data.length, 600);
    for (let len = 0; len < upto; len++) {
      mutants.push({ ...f, data: f.data.slice(0, len) });
      // The same cut, as the snap length would leave it.
      if (len % 7 === 0) {
        mutants.push({ ...f, data: f.data.slice(0, len), wirelen: len });
      }
    }
  }
  decodeAllChecked(mutants, "truncation");
});

Deno.test("decodeFrame() survives length and count fields set to extremes", async () => {
  const all = await seedFrames();
  const rnd = prng(SEED + 2);
  const p = newPacket();
  const mutants: TestFrame[] = [];
  const extremes = [0x0000, 0x0001, 0x00ff, 0x7fff, 0xff00, 0xffff];
  for (const f of sample(all, 1500, rnd)) {
    // Find where the headers are, then hit the fields there.
    const batch = new BatchBuilder(1, f.data.length + 1);
    batch.push(f.data, 0, f.data.length, f.wirelen, f.tsUs, f.linktype);
    decodeFrame(p, batch.take()!, 0);
    const spots: number[] = [];
    const l3 = p.l3Offset, l4 = p.l4Offset, pl = p.payloadOffset;
    if (l3 >= 0) spots.push(l3, l3 + 2, l3 + 4, l3 + 6, l3 + 40, l3 + 41);
    if (l4 >= 0) spots.push(l4 + 4, l4 + 12);
    if (p.payloadLen > 0) {
      // DNS counts (UDP and TCP), TLS record and handshake lengths, names.
      for (let k = 0; k < 16; k++) spots.push(pl + k);
      spots.push(pl + 43, pl + 76, pl + 82, pl + 84, pl + 92, pl + 94);
    }
    for (const at of spots) {
      if (at < 0 || at >= f.data.length) continue;
      for (const v of extremes) {
        const data = f.data.slice();
        data[at] = v >> 8;
        if (at + 1 < data.length) data[at + 1] = v & 0xff;
        mutants.push({ ...f, data });
      }
      // Header-length nibbles (IHL, TCP data offset).
      for (const nibble of [0, 1, 5, 15]) {
        const data = f.data.slice();
        data[at] = (data[at]! & 0xf0) | nibble;
        mutants.push({ ...f, data });
        const data2 = f.data.slice();
        data2[at] = (data2[at]! & 0x0f) | (nibble << 4);
        mutants.push({ ...f, data: data2 });
      }
    }
    // Every 2-byte window of the first 128 bytes, for a few frames.
    if (rnd() < 0.1) {
      for (let at = 0; at + 1 < Math.min(f.data.length, 128); at++) {
        for (const v of extremes) {
          const data = f.data.slice();
          data[at] = v >> 8;
          data[at + 1] = v & 0xff;
          mutants.push({ ...f, data });
        }
      }
    }
  }
  assert.ok(decodeAllChecked(mutants, "length fields") > 50_000);
});

Deno.test("decodeFrame() survives frames read under the wrong link type, and noise", async () => {
  const all = await seedFrames();
  const rnd = prng(SEED + 3);
  const mutants: TestFrame[] = [];
  for (const f of sample(all, 2000, rnd)) {
    for (const linktype of SUPPORTED_LINKTYPES) {
      mutants.push({ ...f, linktype });
    }
  }
  for (let k = 0; k < 20_000; k++) {
    const data = new Uint8Array(Math.floor(rnd() * 200));
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(rnd() * 256);
    // Random bytes behind a plausible start: Ethernet/IPv4, IPv6, raw.
    if (data.length > 40 && rnd() < 0.5) {
      data[12] = 0x08;
      data[13] = 0x00;
      data[14] = 0x45;
    }
    const linktype =
      SUPPORTED_LINKTYPES[Math.floor(rnd() * SUPPORTED_LINKTYPES.length)]!;
    mutants.push({ data, linktype, wirelen: Math.floor(rnd() * 400), tsUs: 0 });
  }
  decodeAllChecked(mutants, "link types and noise");
});
