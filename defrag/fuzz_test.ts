/**
 * Fuzzing of the defragmenter with hostile fragments: random offsets,
 * lengths, flags and identifications from a few sources, in random order,
 * under a small memcap. Seeded, so a failure reproduces.
 */
import assert from "node:assert/strict";
import { decodeBytes, LINKTYPE_RAW, newPacket } from "../decode/mod.ts";
import { Defragmenter } from "./mod.ts";
import {
  ipv4Fragment,
  ipv4Packet,
  ipv6Fragment,
  ipv6Packet,
} from "../tests/fragment_frames.ts";

const SEED = 0xf4a9;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("Defragmenter survives random hostile fragments within its bounds", () => {
  const rnd = prng(SEED);
  const memcap = 256 * 1024;
  let anomalies = 0;
  const d = new Defragmenter(
    { memcapBytes: memcap, maxDatagrams: 64, maxFragments: 32 },
    () => anomalies++,
  );
  const p = newPacket();
  const q = newPacket();
  const pick = (n: number) => Math.floor(rnd() * n);
  const hdr4 = [0, 1, 2].map((i) =>
    ipv4Packet(
      { src: `10.0.0.${i}`, dst: "10.0.0.9", proto: [6, 17, 1][i]!, id: 1 },
      new Uint8Array(0),
    )
  );
  const hdr6 = ipv6Packet(
    { src: "fd00::1", dst: "fd00::2", nh: 58 },
    new Uint8Array(0),
  );
  let decoded = 0, whole = 0;
  for (let k = 0; k < 60_000; k++) {
    if (k % 50 === 0) {
      // A well-formed datagram in two fragments among the noise.
      const h = hdr4[0]!.slice();
      h[4] = 0x80 | (k >> 16);
      h[5] = (k >> 8) & 0xff;
      const a = ipv4Fragment(h, 0, new Uint8Array(24), true);
      const b = ipv4Fragment(h, 24, new Uint8Array(8), false);
      for (const f of [b, a]) {
        decodeBytes(p, f, { linktype: LINKTYPE_RAW, tsUs: k * 1000 });
        if (d.add(p) > 0) whole++;
      }
    }
    const len = rnd() < 0.1 ? pick(3000) : pick(64) & ~(rnd() < 0.8 ? 7 : 0);
    const data = new Uint8Array(len);
    for (let i = 0; i < len; i++) data[i] = pick(256);
    const off = rnd() < 0.05 ? 65528 - pick(4) * 8 : pick(24) * 8;
    const more = rnd() < 0.7;
    const id = pick(6);
    let frag: Uint8Array;
    if (rnd() < 0.7) {
      const h = hdr4[pick(3)]!.slice();
      h[5] = id;
      frag = ipv4Fragment(h, off, data, more);
    } else {
      frag = ipv6Fragment(hdr6, {
        nh: [58, 6, 17, 60][pick(4)]!,
        id,
        off,
        more,
      }, data);
    }
    // Now and then a cut capture of it.
    const length = rnd() < 0.05 ? pick(frag.length) : frag.length;
    const tsUs = k * 1000;
    if (
      decodeBytes(p, frag, { linktype: LINKTYPE_RAW, tsUs, length }) !== null ||
      !p.fragment
    ) continue;
    decoded++;
    const n = d.add(p);
    assert.ok(d.memoryBytes <= memcap, `memory ${d.memoryBytes}`);
    assert.ok(d.datagrams <= 64);
    if (n > 0) {
      whole++;
      assert.ok(n <= d.output.length);
      // The rebuilt packet decodes or faults, never throws.
      decodeBytes(q, d.output, { linktype: LINKTYPE_RAW, length: n, tsUs });
      assert.equal(q.fragment, false);
    }
  }
  assert.ok(decoded > 40_000, `${decoded} fragments decoded`);
  assert.ok(anomalies > 50, `${anomalies} anomalies`);
  assert.ok(d.counters.dropped > 1000, JSON.stringify(d.counters));
  assert.ok(whole > 0, "some datagrams complete");
  d.expire(1e12);
  assert.equal(d.datagrams, 0);
  assert.equal(d.memoryBytes, 0);
});
