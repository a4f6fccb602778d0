import assert from "node:assert/strict";
import {
  IPPROTO_TCP,
  newPacket,
  type Packet,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
} from "../decode/mod.ts";
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type Flow,
  FlowTable,
} from "../flows/mod.ts";
import {
  BLOCK_SIZE,
  FLOW_OVERHEAD,
  type ReassemblyConfig,
  SEGMENT_OVERHEAD,
  type StreamEndReason,
  TcpReassembler,
} from "./mod.ts";

/** What a test sink saw: each direction's bytes (gaps as "<gap N>"), ends, anomalies. */
class Recorder {
  out: [number[], number[]] = [[], []];
  gaps: [number[], number[]] = [[], []];
  ends: [StreamEndReason | null, StreamEndReason | null] = [null, null];
  anomalies: string[] = [];
  offsets: [number[], number[]] = [[], []];
  data(
    _f: Flow,
    dir: number,
    d: Uint8Array,
    off: number,
    len: number,
    at: number,
  ): void {
    this.offsets[dir]!.push(at);
    for (let i = 0; i < len; i++) this.out[dir]!.push(d[off + i]!);
  }
  gap(_f: Flow, dir: number, len: number): void {
    this.gaps[dir]!.push(len);
  }
  end(_f: Flow, dir: number, reason: StreamEndReason): void {
    this.ends[dir] = reason;
  }
  anomaly(_f: Flow, _dir: number, e: string): void {
    this.anomalies.push(e);
  }
  text(dir: number): string {
    return String.fromCharCode(...this.out[dir]!);
  }
}

const CLIENT_ISN = 1000, SERVER_ISN = 0xfffffff0; // the server's wraps

/** One connection between 10.0.0.1:40000 and 10.0.0.2:80, with a real flow table. */
class Conn {
  readonly rec = new Recorder();
  readonly r: TcpReassembler;
  readonly table = new FlowTable((f) => this.r.flowEnd(f));
  readonly p: Packet = newPacket();
  flow: Flow | null = null;
  t = 1_000_000;
  constructor(cfg: Partial<ReassemblyConfig> = {}) {
    this.r = new TcpReassembler(this.rec, cfg);
  }
  /** Sends `payload` from `dir` at stream offset `off` (SYN/FIN per flags). */
  send(
    dir: number,
    flags: number,
    seq: number,
    payload: string | Uint8Array = "",
    ack = 0,
    wireLen = -1,
  ): void {
    const p = this.p;
    const bytes = typeof payload === "string"
      ? new TextEncoder().encode(payload)
      : payload;
    const buf = new Uint8Array(bytes.length + 8);
    buf.set(bytes, 8);
    p.data = buf;
    p.payloadOffset = 8;
    p.payloadLen = bytes.length;
    p.payloadWireLen = wireLen < 0 ? bytes.length : wireLen;
    p.ipVersion = 4;
    p.proto = IPPROTO_TCP;
    const c = 0x0a000001, s = 0x0a000002;
    p.src[0] = dir === DIR_TO_SERVER ? c : s;
    p.dst[0] = dir === DIR_TO_SERVER ? s : c;
    p.srcPort = dir === DIR_TO_SERVER ? 40000 : 80;
    p.dstPort = dir === DIR_TO_SERVER ? 80 : 40000;
    p.tcpFlags = flags;
    p.tcpSeq = seq >>> 0;
    p.tcpAck = ack >>> 0;
    p.tsUs = this.t++;
    p.wirelen = 54 + bytes.length;
    const f = this.table.update(p);
    this.flow = f;
    this.r.segment(p, f, this.table.lastDir);
  }
  /** The usual handshake. */
  handshake(): void {
    this.send(DIR_TO_SERVER, TCP_SYN, CLIENT_ISN);
    this.send(DIR_TO_CLIENT, TCP_SYN | TCP_ACK, SERVER_ISN, "", CLIENT_ISN + 1);
    this.send(DIR_TO_SERVER, TCP_ACK, CLIENT_ISN + 1, "", SERVER_ISN + 1);
  }
  /** Client data at stream offset `off`. */
  c(off: number, s: string | Uint8Array, flags = TCP_ACK | TCP_PSH): void {
    this.send(DIR_TO_SERVER, flags, CLIENT_ISN + 1 + off, s, SERVER_ISN + 1);
  }
  /** Server data at stream offset `off` (its sequence numbers wrap). */
  s(
    off: number,
    s: string,
    flags = TCP_ACK | TCP_PSH,
    ack = CLIENT_ISN + 1,
  ): void {
    this.send(DIR_TO_CLIENT, flags, SERVER_ISN + 1 + off, s, ack);
  }
}

Deno.test("reassembler hands on in-order bytes of both directions, across a sequence wrap", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "GET / HTTP/1.1\r\n");
  k.c(16, "Host: a\r\n\r\n");
  k.s(0, "HTTP/1.1 200 OK\r\n");
  k.s(17, "\r\n");
  assert.equal(k.rec.text(DIR_TO_SERVER), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(k.rec.text(DIR_TO_CLIENT), "HTTP/1.1 200 OK\r\n\r\n");
  assert.deepEqual(k.rec.offsets[DIR_TO_SERVER], [0, 16]);
  assert.equal(k.r.counters.bytes, 27 + 19);
  assert.equal(k.r.counters.segmentsHeld, 0);
  assert.equal(k.r.counters.midstream, 0);
});

Deno.test("reassembler holds out-of-order segments until the hole fills", () => {
  const k = new Conn();
  k.handshake();
  k.c(10, "KLMNO");
  k.c(5, "FGHIJ");
  assert.equal(k.rec.text(DIR_TO_SERVER), "");
  assert.equal(k.r.heldOf(k.flow!), 10);
  assert.equal(k.r.counters.held, 10);
  k.c(0, "ABCDE");
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEFGHIJKLMNO");
  assert.equal(k.r.counters.held, 0);
  assert.equal(k.r.memUsed, FLOW_OVERHEAD, "only the connection's own state");
  assert.equal(k.r.counters.segmentsHeld, 2);
  assert.equal(k.r.counters.heldPeak, 10);
});

Deno.test("reassembler keeps the first copy of overlapping bytes and reports when a later copy differs", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "ABCD");
  k.c(0, "ABCD"); // an identical retransmission
  k.c(2, "CDEF"); // overlaps delivered bytes: the new ones are taken
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEF");
  assert.equal(k.r.counters.overlapsDiffering, 0);
  // Out of order, then a differing copy of the held bytes: first data wins.
  k.c(10, "good");
  k.c(8, "xxEVIL");
  assert.deepEqual(k.rec.anomalies, ["REASSEMBLY_OVERLAP_DIFFERENT_DATA"]);
  k.c(6, "GH");
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEFGHxxgood");
  assert.equal(k.r.counters.overlapsDiffering, 1);
  assert.ok(k.r.counters.overlaps >= 3);
  // An identical overlap of held bytes is counted but not reported.
  k.c(20, "1234");
  k.c(18, "zz1234");
  assert.equal(k.rec.anomalies.length, 1);
});

Deno.test("reassembler gives up a hole the receiver acknowledged past and signals the gap", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "ABCD");
  k.c(8, "IJKL"); // 4..8 never captured
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCD");
  // The server acknowledges everything: bytes 4..8 reached it, not us.
  k.send(DIR_TO_CLIENT, TCP_ACK, SERVER_ISN + 1, "", CLIENT_ISN + 1 + 12);
  assert.deepEqual(k.rec.gaps[DIR_TO_SERVER], [4]);
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDIJKL");
  // Data after a hole the receiver had already acknowledged is handed on
  // at once, without holding.
  k.send(DIR_TO_CLIENT, TCP_ACK, SERVER_ISN + 1, "", CLIENT_ISN + 1 + 20);
  k.c(16, "QRST");
  assert.deepEqual(k.rec.gaps[DIR_TO_SERVER], [4, 4]);
  assert.equal(k.r.counters.gaps, 2);
  assert.equal(k.r.counters.gapBytes, 8);
  assert.equal(k.r.counters.held, 0);
});

Deno.test("reassembler delivers data carried on the SYN (TCP Fast Open)", () => {
  const k = new Conn();
  k.send(DIR_TO_SERVER, TCP_SYN, CLIENT_ISN, "GET /tfo");
  k.send(DIR_TO_CLIENT, TCP_SYN | TCP_ACK, SERVER_ISN, "", CLIENT_ISN + 9);
  k.c(8, " HTTP/1.1\r\n");
  assert.equal(k.rec.text(DIR_TO_SERVER), "GET /tfo HTTP/1.1\r\n");
  assert.equal(k.r.counters.synData, 1);
});

Deno.test("reassembler picks up a connection whose handshake it did not see, at the peer's acknowledgement", () => {
  const k = new Conn();
  // The server's ACK says the client's next byte is at 5000; the client's
  // first captured segment is a later one.
  k.send(DIR_TO_CLIENT, TCP_ACK, 90000, "", 5000);
  k.send(DIR_TO_SERVER, TCP_ACK | TCP_PSH, 5004, "EFGH", 90000);
  k.send(DIR_TO_SERVER, TCP_ACK | TCP_PSH, 5000, "ABCD", 90000);
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEFGH");
  assert.equal(k.r.counters.midstream, 1);
});

Deno.test("reassembler ends a direction at its FIN even when the FIN came before the last data", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "ABCD");
  k.c(8, "", TCP_ACK | TCP_FIN);
  assert.equal(k.rec.ends[DIR_TO_SERVER], null);
  k.c(4, "EFGH");
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEFGH");
  assert.equal(k.rec.ends[DIR_TO_SERVER], "fin");
  k.c(8, "late"); // after the FIN: ignored
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEFGH");
});

Deno.test("reassembler ends both directions on a RST, handing on what it held with a gap", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "AB");
  k.c(4, "EF");
  k.send(DIR_TO_CLIENT, TCP_RST, SERVER_ISN + 1);
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABEF");
  assert.deepEqual(k.rec.gaps[DIR_TO_SERVER], [2]);
  assert.equal(k.rec.ends[DIR_TO_SERVER], "rst");
  assert.equal(k.rec.ends[DIR_TO_CLIENT], "rst");
  assert.equal(k.r.counters.held, 0);
});

Deno.test("reassembler lets a connection's stream state go at its RST, not when the flow ends", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "AB");
  k.c(4, "EF");
  assert.equal(k.r.memUsed, FLOW_OVERHEAD + BLOCK_SIZE + SEGMENT_OVERHEAD);
  k.send(DIR_TO_CLIENT, TCP_RST | TCP_ACK, SERVER_ISN + 1);
  assert.equal(k.table.size, 1, "the flow itself is still in the table");
  assert.equal(k.r.memUsed, 0);
  assert.equal(k.r.blocksInUse, 0);
  // Later segments of the connection are dropped, not reassembled anew.
  k.c(6, "GH");
  k.s(0, "late");
  assert.equal(k.r.memUsed, 0);
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABEF");
  assert.equal(k.rec.text(DIR_TO_CLIENT), "");
  assert.equal(k.r.counters.midstream, 0);
  k.table.flush();
  assert.equal(k.r.memUsed, 0);
});

Deno.test("reassembler lets a connection's stream state go once both directions sent their FIN", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "GET", TCP_ACK | TCP_PSH | TCP_FIN);
  assert.equal(k.rec.ends[DIR_TO_SERVER], "fin");
  // Half closed: the server may still answer.
  assert.equal(k.r.memUsed, FLOW_OVERHEAD);
  k.s(0, "200", TCP_ACK | TCP_PSH, CLIENT_ISN + 5);
  k.s(3, "", TCP_ACK | TCP_FIN, CLIENT_ISN + 5);
  assert.equal(k.rec.text(DIR_TO_CLIENT), "200");
  assert.equal(k.rec.ends[DIR_TO_CLIENT], "fin");
  assert.equal(k.r.memUsed, 0);
  k.c(0, "GET", TCP_ACK | TCP_PSH | TCP_FIN); // a retransmission
  assert.equal(k.r.memUsed, 0);
  assert.equal(k.rec.text(DIR_TO_SERVER), "GET");
});

Deno.test("reassembler keeps counting bytes past stream.depth after both directions ended", () => {
  const k = new Conn({ depth: 4 });
  k.handshake();
  k.c(0, "012345");
  k.s(0, "ab", TCP_ACK | TCP_PSH | TCP_FIN);
  assert.equal(k.r.memUsed, 0);
  k.c(6, "6789");
  assert.equal(k.r.counters.depthDropped, 2 + 4);
});

Deno.test("reassembler holds segments in slab blocks: the memcap counts the blocks really held, and the slab is reused", () => {
  const memcap = 4 << 20;
  const rec = new Recorder();
  const r = new TcpReassembler(rec, { memcap });
  const table = new FlowTable((f) => r.flowEnd(f));
  const p = newPacket();
  const sizes = [1, 100, 511, 512, 513, 1448, 1460, 9000, 65_000];
  const send = (i: number, seq: number, bytes: Uint8Array) => {
    const buf = new Uint8Array(bytes.length + 8);
    buf.set(bytes, 8);
    p.data = buf;
    p.payloadOffset = 8;
    p.payloadLen = p.payloadWireLen = bytes.length;
    p.ipVersion = 4;
    p.proto = IPPROTO_TCP;
    p.src[0] = 0x0a000100 + i;
    p.dst[0] = 0x0a000002;
    p.srcPort = 40000;
    p.dstPort = 80;
    p.tcpFlags = bytes.length === 0 ? TCP_SYN : TCP_ACK;
    p.tcpSeq = seq >>> 0;
    p.tcpAck = 0;
    p.tsUs = 1_000_000 + i;
    const f = table.update(p);
    r.segment(p, f, table.lastDir);
  };
  for (let round = 0; round < 2; round++) {
    let blocks = 0, bytes = 0;
    for (let i = 0; i < sizes.length; i++) {
      const n = sizes[i]!;
      const data = new Uint8Array(n + 1);
      for (let j = 0; j <= n; j++) data[j] = (j * 7 + i + round) & 0xff;
      send(i, 999, new Uint8Array(0)); // SYN: the stream starts at 1000
      send(i, 1001, data.subarray(1)); // held: byte 0 is missing
      blocks += Math.ceil(n / BLOCK_SIZE);
      bytes += n;
    }
    assert.equal(r.counters.held, bytes);
    assert.equal(r.blocksInUse, blocks);
    assert.equal(
      r.memUsed,
      sizes.length * FLOW_OVERHEAD + blocks * (BLOCK_SIZE + SEGMENT_OVERHEAD),
    );
    assert.ok(r.slabBytes >= blocks * BLOCK_SIZE);
    assert.ok(r.slabBytes <= memcap, `slab ${r.slabBytes} > ${memcap}`);
    const slab = r.slabBytes;
    // Byte 0 of each: the held bytes come out exactly as sent.
    for (let i = 0; i < sizes.length; i++) {
      const n = sizes[i]!;
      const data = new Uint8Array(n + 1);
      for (let j = 0; j <= n; j++) data[j] = (j * 7 + i + round) & 0xff;
      const before = rec.out[DIR_TO_SERVER].length;
      send(i, 1000, data.subarray(0, 1));
      assert.deepEqual(
        new Uint8Array(rec.out[DIR_TO_SERVER].slice(before)),
        data,
        `round ${round}, ${n} bytes`,
      );
    }
    assert.equal(r.blocksInUse, 0);
    assert.equal(r.counters.held, 0);
    assert.equal(r.memUsed, sizes.length * FLOW_OVERHEAD);
    table.flush();
    assert.equal(r.memUsed, 0);
    assert.equal(r.slabBytes, slab, "the slab is kept for reuse, not grown");
  }
});

Deno.test("reassembler stops a direction at stream.depth and counts the bytes past it", () => {
  const k = new Conn({ depth: 10 });
  k.handshake();
  k.c(0, "0123456");
  k.c(7, "789abc");
  assert.equal(k.rec.text(DIR_TO_SERVER), "0123456789");
  assert.equal(k.rec.ends[DIR_TO_SERVER], "depth");
  k.c(13, "more");
  assert.equal(k.r.counters.depthDropped, 3 + 4);
  // The other direction is not affected.
  k.s(0, "ok");
  assert.equal(k.rec.text(DIR_TO_CLIENT), "ok");
});

Deno.test("reassembler never holds more than stream.memcap and counts what it dropped", () => {
  const memcap = FLOW_OVERHEAD + 4 * (BLOCK_SIZE + SEGMENT_OVERHEAD);
  const k = new Conn({ memcap });
  k.handshake();
  const seg = "x".repeat(100);
  for (let i = 1; i <= 20; i++) {
    k.c(i * 200, seg); // every one after a hole
    assert.ok(k.r.memUsed <= memcap, `memUsed ${k.r.memUsed} > ${memcap}`);
  }
  assert.ok(k.r.counters.memcapDropped > 0);
  assert.ok(k.r.counters.gaps > 0);
  assert.ok(k.r.counters.held <= memcap);
});

Deno.test("reassembler frees a flow's held segments when the flow ends", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "AB");
  k.c(6, "GH");
  k.table.flush();
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABGH");
  assert.equal(k.rec.ends[DIR_TO_SERVER], "closed");
  assert.equal(k.r.memUsed, 0);
});

/** A seeded PRNG (mulberry32) so failures repeat. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("reassembler rebuilds a stream cut, reordered and duplicated at random (fuzz)", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rand = rng(seed);
    const n = 1 + Math.floor(rand() * 6000);
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.floor(rand() * 256);
    // Cut into segments of random sizes (1-byte ones too).
    const segs: [number, number][] = [];
    for (let o = 0; o < n;) {
      // Now and then longer than a slab block (held as several pieces).
      const len = rand() < 0.3
        ? 1
        : 1 + Math.floor(rand() * (rand() < 0.2 ? 2000 : 200));
      segs.push([o, Math.min(n, o + len)]);
      o += len;
    }
    // Duplicates and overlapping (identical) retransmissions.
    const extra: [number, number][] = [];
    for (const [a, b] of segs) {
      if (rand() < 0.2) extra.push([a, b]);
      if (rand() < 0.1) {
        const s = Math.max(0, a - Math.floor(rand() * 50));
        extra.push([s, Math.min(n, b + Math.floor(rand() * 50))]);
      }
    }
    const all = [...segs, ...extra];
    // Reorder within a window of 8.
    for (let i = 0; i < all.length; i++) {
      const j = Math.min(all.length - 1, i + Math.floor(rand() * 8));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    const k = new Conn();
    k.handshake();
    for (const [a, b] of all) k.c(a, data.subarray(a, b));
    k.c(n, "", TCP_ACK | TCP_FIN);
    assert.deepEqual(
      new Uint8Array(k.rec.out[DIR_TO_SERVER]),
      data,
      `seed ${seed}`,
    );
    assert.equal(k.rec.gaps[DIR_TO_SERVER].length, 0, `seed ${seed}`);
    assert.equal(k.rec.anomalies.length, 0, `seed ${seed}`);
    assert.equal(k.rec.ends[DIR_TO_SERVER], "fin", `seed ${seed}`);
    assert.equal(k.r.memUsed, FLOW_OVERHEAD, `seed ${seed}`);
  }
});

Deno.test("reassembler survives hostile segments: random sequence numbers, flags and sizes (fuzz)", () => {
  const memcap = 64 * 1024;
  for (let seed = 1; seed <= 30; seed++) {
    const rand = rng(seed);
    const k = new Conn({ memcap, depth: 256 * 1024 });
    const base = Math.floor(rand() * 2 ** 32);
    for (let i = 0; i < 2000; i++) {
      const dir = rand() < 0.5 ? DIR_TO_SERVER : DIR_TO_CLIENT;
      const flags = Math.floor(rand() * 64) & ~(rand() < 0.95 ? TCP_RST : 0);
      const seq = rand() < 0.5
        ? base + Math.floor(rand() * 300_000) - 1000
        : Math.floor(rand() * 2 ** 32);
      const len = Math.floor(rand() * 1500);
      const p = new Uint8Array(len);
      k.send(dir, flags, seq, p, Math.floor(rand() * 2 ** 32));
      assert.ok(k.r.memUsed <= memcap, `seed ${seed}: ${k.r.memUsed}`);
      assert.ok(k.r.counters.held >= 0);
    }
    k.table.flush();
    assert.equal(k.r.memUsed, 0, `seed ${seed}`);
    assert.equal(k.r.counters.held, 0, `seed ${seed}`);
  }
});

Deno.test("reassembler signals bytes the capture cut off (snap length) as a gap where they belong, even out of order", () => {
  const k = new Conn();
  k.handshake();
  // 10 bytes sent at offset 4, only 2 captured; it arrives before offset 0.
  k.send(DIR_TO_SERVER, TCP_ACK, CLIENT_ISN + 1 + 4, "EF", SERVER_ISN + 1, 10);
  k.c(14, "OP");
  assert.equal(k.rec.text(DIR_TO_SERVER), "");
  k.c(0, "ABCD");
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEFOP");
  assert.deepEqual(k.rec.gaps[DIR_TO_SERVER], [8]);
  assert.equal(k.r.memUsed, FLOW_OVERHEAD);
  // In order, the cut is a gap at once.
  k.send(DIR_TO_SERVER, TCP_ACK, CLIENT_ISN + 1 + 16, "QR", SERVER_ISN + 1, 5);
  assert.deepEqual(k.rec.gaps[DIR_TO_SERVER], [8, 3]);
  k.c(21, "V");
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEFOPQRV");
});

Deno.test("reassembler leaves connections beyond the memcap unreassembled and counts them", () => {
  const rec = new Recorder();
  const r = new TcpReassembler(rec, { memcap: 3 * FLOW_OVERHEAD });
  const table = new FlowTable((f) => r.flowEnd(f));
  const p = newPacket();
  for (let i = 0; i < 5; i++) {
    const buf = new Uint8Array(12);
    p.data = buf;
    p.payloadOffset = 8;
    p.payloadLen = p.payloadWireLen = 4;
    p.ipVersion = 4;
    p.proto = IPPROTO_TCP;
    p.src[0] = 0x0a000100 + i;
    p.dst[0] = 0x0a000002;
    p.srcPort = 40000;
    p.dstPort = 80;
    p.tcpFlags = TCP_ACK;
    p.tcpSeq = 1;
    p.tsUs = 1 + i;
    const f = table.update(p);
    r.segment(p, f, table.lastDir);
    assert.ok(r.memUsed <= 3 * FLOW_OVERHEAD);
  }
  assert.equal(r.counters.flowsSkipped, 2);
  assert.equal(r.counters.bytes, 12);
  table.flush();
  assert.equal(r.memUsed, 0);
});

Deno.test("reassembler keeps urgent data inline (the urgent pointer is ignored)", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "ABC", TCP_ACK | TCP_PSH | 0x20); // URG set, as telnet's interrupt
  k.c(3, "DEF");
  assert.equal(k.rec.text(DIR_TO_SERVER), "ABCDEF");
});

Deno.test("reassembler tells apart two flows of one slot whose ids share their low 32 bits", () => {
  const k = new Conn();
  k.handshake();
  k.c(0, "first");
  const f = k.flow!;
  // Nobody wants this flow's bytes any more.
  k.r.ignore(f);
  k.c(5, "dropped");
  assert.equal(k.rec.text(DIR_TO_SERVER), "first");
  // A later flow in the same slot, its id 2^32 away (flow ids pass 2^32).
  const g: Flow = { ...f, id: f.id + 2 ** 32 };
  const p = k.p;
  const bytes = new TextEncoder().encode("second");
  p.data = bytes;
  p.payloadOffset = 0;
  p.payloadLen = p.payloadWireLen = bytes.length;
  p.tcpFlags = TCP_SYN;
  p.tcpSeq = 5000;
  k.r.segment(p, g, DIR_TO_SERVER);
  // Its SYN's data is its own stream's first bytes: not the ignored flow's state.
  assert.equal(k.rec.text(DIR_TO_SERVER), "firstsecond");
});
