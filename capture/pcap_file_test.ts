import assert from "node:assert/strict";
import {
  CaptureFileError,
  type CaptureFileSummary,
  readCaptureFile,
  type ReadCaptureOptions,
} from "./pcap_file.ts";

const CORPUS = new URL("../../shared/pcaps/", import.meta.url);

/** One frame as a test sees it. */
interface Frame {
  tsUs: number;
  caplen: number;
  wirelen: number;
  linktype: number;
  bytes: number[];
}

/** Reads a whole file; returns its frames, summary and batch count. */
async function readAll(
  path: string,
  opts?: ReadCaptureOptions,
): Promise<{ frames: Frame[]; summary: CaptureFileSummary; batches: number }> {
  const frames: Frame[] = [];
  let batches = 0;
  const g = readCaptureFile(path, opts);
  let r = await g.next();
  while (!r.done) {
    const b = r.value;
    batches++;
    for (let i = 0; i < b.count; i++) {
      const off = b.offsets[i]!;
      const caplen = b.caplens[i]!;
      frames.push({
        tsUs: b.tsUs[i]!,
        caplen,
        wirelen: b.wirelens[i]!,
        linktype: b.linktypes[i]!,
        bytes: [...b.data.subarray(off, off + caplen)],
      });
    }
    r = await g.next();
  }
  return { frames, summary: r.value, batches };
}

/** A temporary directory removed at the end of an `await using` block. */
class TempDir implements AsyncDisposable {
  private constructor(readonly dir: string) {}
  static async create(): Promise<TempDir> {
    return new TempDir(await Deno.makeTempDir({ prefix: "pcap_file_test_" }));
  }
  /** Writes `bytes` to `name` in the directory and returns its path. */
  async write(name: string, bytes: Uint8Array): Promise<string> {
    const path = `${this.dir}/${name}`;
    await Deno.writeFile(path, bytes);
    return path;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Builds bytes field by field in one byte order. */
class Bytes {
  #out: number[] = [];
  constructor(readonly le: boolean) {}
  u8(n: number): this {
    this.#out.push(n & 0xff);
    return this;
  }
  u16(n: number): this {
    const v = new DataView(new ArrayBuffer(2));
    v.setUint16(0, n, this.le);
    return this.raw(new Uint8Array(v.buffer));
  }
  u32(n: number): this {
    const v = new DataView(new ArrayBuffer(4));
    v.setUint32(0, n >>> 0, this.le);
    return this.raw(new Uint8Array(v.buffer));
  }
  u64(n: bigint): this {
    const v = new DataView(new ArrayBuffer(8));
    v.setBigUint64(0, n, this.le);
    return this.raw(new Uint8Array(v.buffer));
  }
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.#out.push(bytes[i]!);
    return this;
  }
  pad4(): this {
    while (this.#out.length % 4 !== 0) this.#out.push(0);
    return this;
  }
  get length(): number {
    return this.#out.length;
  }
  done(): Uint8Array {
    return new Uint8Array(this.#out);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Frame bytes 0, 1, 2, … plus `tag`, so frames tell each other apart. */
function payload(len: number, tag = 0): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (i + tag) & 0xff;
  return p;
}

interface PcapRecord {
  sec: number;
  frac: number;
  data: Uint8Array;
  caplen?: number;
  wirelen?: number;
}

interface PcapHeader {
  le?: boolean;
  magic?: number;
  major?: number;
  minor?: number;
  snaplen?: number;
  linktype?: number;
}

function pcapFile(h: PcapHeader, records: PcapRecord[]): Uint8Array {
  const b = new Bytes(h.le ?? true)
    .u32(h.magic ?? 0xa1b2c3d4)
    .u16(h.major ?? 2)
    .u16(h.minor ?? 4)
    .u32(0)
    .u32(0)
    .u32(h.snaplen ?? 65535)
    .u32(h.linktype ?? 1);
  const kuznetzov = h.magic === 0xa1b2cd34;
  for (const r of records) {
    b.u32(r.sec).u32(r.frac).u32(r.caplen ?? r.data.length)
      .u32(r.wirelen ?? r.data.length);
    if (kuznetzov) b.u32(3).u16(0x0800).u8(0).u8(0);
    b.raw(r.data);
  }
  return b.done();
}

// pcapng blocks

function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const padded = (body.length + 3) & ~3;
  return new Bytes(le).u32(type).u32(12 + padded).raw(body).pad4()
    .u32(12 + padded).done();
}

function shb(le: boolean, major = 1, minor = 0): Uint8Array {
  return block(
    le,
    0x0a0d0d0a,
    new Bytes(le).u32(0x1a2b3c4d).u16(major).u16(minor)
      .u64(0xffffffffffffffffn).done(),
  );
}

function opt(le: boolean, code: number, value: Uint8Array): Uint8Array {
  return new Bytes(le).u16(code).u16(value.length).raw(value).pad4().done();
}

const endOfOpt = (le: boolean) => opt(le, 0, new Uint8Array(0));

function tsresol(le: boolean, v: number): Uint8Array {
  return opt(le, 9, new Uint8Array([v]));
}

function tsoffset(le: boolean, seconds: bigint): Uint8Array {
  return opt(le, 14, new Bytes(le).u64(seconds).done());
}

function idb(
  le: boolean,
  linktype: number,
  snaplen: number,
  ...options: Uint8Array[]
): Uint8Array {
  const body = new Bytes(le).u16(linktype).u16(0).u32(snaplen);
  for (const o of options) body.raw(o);
  return block(le, 1, body.done());
}

function epb(
  le: boolean,
  iface: number,
  t: bigint,
  data: Uint8Array,
  wirelen = data.length,
): Uint8Array {
  return block(
    le,
    6,
    new Bytes(le).u32(iface).u32(Number(t >> 32n)).u32(Number(t & 0xffffffffn))
      .u32(data.length).u32(wirelen).raw(data).pad4().done(),
  );
}

function spb(le: boolean, wirelen: number, data: Uint8Array): Uint8Array {
  return block(le, 3, new Bytes(le).u32(wirelen).raw(data).pad4().done());
}

function packetBlock(
  le: boolean,
  iface: number,
  t: bigint,
  data: Uint8Array,
): Uint8Array {
  return block(
    le,
    2,
    new Bytes(le).u16(iface).u16(0).u32(Number(t >> 32n))
      .u32(Number(t & 0xffffffffn)).u32(data.length).u32(data.length)
      .raw(data).pad4().done(),
  );
}

// The tcpdump corpus

interface CorpusRow {
  file: string;
  packets: number;
}

async function corpusRows(): Promise<CorpusRow[]> {
  const tsv = await Deno.readTextFile(new URL("tcpdump-tests.tsv", CORPUS));
  const rows: CorpusRow[] = [];
  for (const line of tsv.split("\n").slice(1)) {
    if (line.trim() === "") continue;
    const [file, packets] = line.split("\t");
    rows.push({ file: file ?? "", packets: Number(packets) });
  }
  return rows;
}

Deno.test("readCaptureFile() reads tcpdump's packet count from every file of the tcpdump corpus", async () => {
  const rows = await corpusRows();
  const names = new Set<string>();
  for await (const e of Deno.readDir(new URL("tcpdump-tests/", CORPUS))) {
    if (e.isFile && /\.pcap(ng)?$/.test(e.name)) names.add(e.name);
  }
  assert.equal(rows.length, 830, "rows in tcpdump-tests.tsv");
  assert.deepEqual(
    [...names].filter((n) => !rows.some((r) => r.file === n)),
    [],
    "capture files missing from tcpdump-tests.tsv",
  );
  const mismatches: string[] = [];
  for (const row of rows) {
    const path = new URL(`tcpdump-tests/${row.file}`, CORPUS).pathname;
    const { frames, summary } = await readAll(path);
    if (frames.length !== row.packets || summary.packets !== row.packets) {
      mismatches.push(
        `${row.file}: read ${frames.length}, tcpdump ${row.packets}` +
          (summary.error === null ? "" : ` (${summary.error})`),
      );
    }
  }
  assert.deepEqual(mismatches, [], "files whose count differs from tcpdump's");
});

// libpcap through FFI, for a frame-by-frame comparison on the corpus.
const LIBPCAP_FILE_SYMBOLS = {
  pcap_open_offline: { parameters: ["buffer", "buffer"], result: "pointer" },
  pcap_next_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  pcap_close: { parameters: ["pointer"], result: "void" },
} as const;

function openLibpcapForFiles():
  | Deno.DynamicLibrary<
    typeof LIBPCAP_FILE_SYMBOLS
  >
  | null {
  try {
    return Deno.dlopen("libpcap.so.0.8", LIBPCAP_FILE_SYMBOLS);
  } catch {
    return null;
  }
}

/** Frames as libpcap reads them: [tsUs, caplen, wirelen, bytes]. */
function libpcapFrames(
  lib: Deno.DynamicLibrary<typeof LIBPCAP_FILE_SYMBOLS>,
  path: string,
): Frame[] | string {
  const errbuf = new Uint8Array(256);
  const p = lib.symbols.pcap_open_offline(
    new TextEncoder().encode(path + "\0"),
    errbuf,
  );
  if (p === null) return "cannot open";
  const hdrOut = new BigUint64Array(1);
  const dataOut = new BigUint64Array(1);
  const frames: Frame[] = [];
  try {
    while (lib.symbols.pcap_next_ex(p, hdrOut, dataOut) === 1) {
      const h = new Deno.UnsafePointerView(
        Deno.UnsafePointer.create(hdrOut[0] ?? 0n)!,
      );
      const caplen = h.getUint32(16);
      const bytes = new Uint8Array(caplen);
      if (caplen > 0) {
        Deno.UnsafePointerView.copyInto(
          Deno.UnsafePointer.create(dataOut[0] ?? 0n)!,
          bytes,
        );
      }
      // libpcap before 1.10.5 reads the 32-bit seconds and fraction as
      // signed; the reader (like later libpcap) reads them unsigned.
      const sec = Number(h.getBigInt64(0));
      const frac = Number(h.getBigInt64(8));
      frames.push({
        tsUs: sec < 0 || frac < 0 ? NaN : sec * 1e6 + frac,
        caplen,
        wirelen: h.getUint32(20),
        linktype: 0,
        bytes: [...bytes],
      });
    }
  } finally {
    lib.symbols.pcap_close(p);
  }
  return frames;
}

const libpcap = openLibpcapForFiles();

Deno.test({
  name:
    "readCaptureFile() reads the same frames as libpcap from every file of the tcpdump corpus",
  ignore: libpcap === null,
  async fn() {
    assert(libpcap !== null);
    try {
      const diffs: string[] = [];
      for (const row of await corpusRows()) {
        const path = new URL(`tcpdump-tests/${row.file}`, CORPUS).pathname;
        const theirs = libpcapFrames(libpcap, path);
        const { frames: ours } = await readAll(path);
        if (typeof theirs === "string") {
          diffs.push(`${row.file}: libpcap ${theirs}`);
          continue;
        }
        if (ours.length !== theirs.length) {
          diffs.push(`${row.file}: ${ours.length} vs ${theirs.length} frames`);
          continue;
        }
        const at = ours.findIndex((f, i) => {
          const t = theirs[i]!;
          return f.caplen !== t.caplen || f.wirelen !== t.wirelen ||
            (!Number.isNaN(t.tsUs) && f.tsUs !== t.tsUs) ||
            f.bytes.some((b, j) => b !== t.bytes[j]);
        });
        if (at >= 0) diffs.push(`${row.file}: frame ${at} differs`);
      }
      assert.deepEqual(diffs, [], "files read differently from libpcap");
    } finally {
      libpcap.close();
    }
  },
});

// pcap

const RECORDS: PcapRecord[] = [
  { sec: 1_700_000_000, frac: 1, data: payload(60, 1) },
  { sec: 1_700_000_001, frac: 999_999, data: payload(1514, 2) },
  { sec: 4_000_000_000, frac: 500_000, data: payload(0), wirelen: 64 },
  { sec: 1_700_000_002, frac: 0, data: payload(42, 3), wirelen: 1500 },
];

Deno.test("readCaptureFile() reads little- and big-endian pcap files alike", async (t) => {
  await using tmp = await TempDir.create();
  for (const le of [true, false]) {
    await t.step(le ? "little-endian" : "big-endian", async () => {
      const bytes = pcapFile({ le, linktype: 113 }, RECORDS);
      const path = await tmp.write(`order_${le}.pcap`, bytes);
      const { frames, summary } = await readAll(path);
      assert.deepEqual(
        frames,
        RECORDS.map((r) => ({
          tsUs: r.sec * 1e6 + r.frac,
          caplen: r.data.length,
          wirelen: r.wirelen ?? r.data.length,
          linktype: 113,
          bytes: [...r.data],
        })),
      );
      assert.deepEqual(summary, {
        path,
        format: "pcap",
        linktypes: [113],
        packets: 4,
        bytesRead: bytes.length,
        fileBytes: bytes.length,
        error: null,
      });
    });
  }
});

Deno.test("readCaptureFile() reads nanosecond pcap timestamps to the microsecond", async () => {
  await using tmp = await TempDir.create();
  for (const le of [true, false]) {
    const path = await tmp.write(
      `nano_${le}.pcap`,
      pcapFile({ le, magic: 0xa1b23c4d }, [
        { sec: 1_700_000_000, frac: 123_456_789, data: payload(20) },
        { sec: 1_700_000_001, frac: 999_999_999, data: payload(20) },
        { sec: 1_700_000_002, frac: 999, data: payload(20) },
      ]),
    );
    const { frames, summary } = await readAll(path);
    assert.equal(summary.error, null);
    // Truncated like libpcap does, not rounded.
    assert.deepEqual(frames.map((f) => f.tsUs), [
      1_700_000_000_123_456,
      1_700_000_001_999_999,
      1_700_000_002_000_000,
    ]);
  }
});

Deno.test("readCaptureFile() reads Kuznetzov's modified pcap records", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write(
    "kuznetzov.pcap",
    pcapFile({ magic: 0xa1b2cd34, snaplen: 60 }, [
      { sec: 1, frac: 2, data: payload(74, 1) },
      { sec: 3, frac: 4, data: payload(30, 2) },
    ]),
  );
  const { frames, summary } = await readAll(path);
  assert.equal(summary.error, null);
  // libpcap allows 14 bytes over the snaplen for a faked Ethernet header.
  assert.deepEqual(frames.map((f) => [f.tsUs, f.caplen, f.bytes[0]]), [
    [1_000_002, 74, 1],
    [3_000_004, 30, 2],
  ]);
});

Deno.test("readCaptureFile() cuts a pcap record longer than the snaplen to the snaplen, like libpcap", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write(
    "over_snaplen.pcap",
    pcapFile({ snaplen: 64 }, [
      { sec: 1, frac: 0, data: payload(100, 1), wirelen: 1000 },
      { sec: 2, frac: 0, data: payload(10, 2) },
    ]),
  );
  const { frames, summary } = await readAll(path);
  assert.equal(summary.error, null);
  assert.deepEqual(frames.map((f) => [f.caplen, f.wirelen, f.bytes[0]]), [
    [64, 1000, 1],
    [10, 10, 2],
  ]);
  assert.deepEqual(frames[0]?.bytes, [...payload(64, 1)]);
});

Deno.test("readCaptureFile() swaps caplen and len in pcap files older than 2.3", async () => {
  await using tmp = await TempDir.create();
  const data = payload(40);
  for (
    const [major, minor, wire, expected] of [
      [2, 2, 40, [40, 1500]],
      [2, 3, 40, [40, 1500]],
      [543, 0, 40, [40, 1500]],
    ] as const
  ) {
    // Written in the old order: "caplen" holds the wire length.
    const path = await tmp.write(
      `v${major}_${minor}.pcap`,
      pcapFile({ major, minor }, [
        { sec: 1, frac: 0, data, caplen: 1500, wirelen: wire },
      ]),
    );
    const { frames, summary } = await readAll(path);
    assert.equal(summary.error, null, `${major}.${minor}`);
    assert.deepEqual(
      frames.map((f) => [f.caplen, f.wirelen]),
      [expected],
      `${major}.${minor}`,
    );
  }
});

Deno.test("readCaptureFile() delivers every whole pcap record before a format error and reports it", async (t) => {
  await using tmp = await TempDir.create();
  const good = pcapFile({}, RECORDS.slice(0, 2));
  const cases: {
    name: string;
    bytes: Uint8Array;
    packets: number;
    error: RegExp;
    bytesRead: number;
  }[] = [
    {
      name: "a truncated last record",
      bytes: concat(
        good,
        pcapFile({}, [{ sec: 9, frac: 0, data: payload(100) }]).subarray(
          24,
          24 + 16 + 50,
        ),
      ),
      packets: 2,
      error: /^Truncated record 3: caplen 100, the file has 50 bytes left$/,
      bytesRead: good.length,
    },
    {
      name: "a truncated last record header",
      bytes: concat(good, new Uint8Array(7)),
      packets: 2,
      error: /^Truncated record 3: its header needs 16 bytes, the file has 7$/,
      bytesRead: good.length,
    },
    {
      name: "a caplen over the maximum",
      bytes: concat(
        good,
        new Bytes(true).u32(0).u32(0).u32(300_000).u32(300_000).done(),
        payload(64),
      ),
      packets: 2,
      error: /^Record 3 has caplen 300000, bigger than the snaplen 65535$/,
      bytesRead: good.length,
    },
    {
      name: "a caplen over the maximum with a huge snaplen",
      bytes: concat(
        pcapFile({ snaplen: 0x7fffffff }, RECORDS.slice(0, 1)),
        new Bytes(true).u32(0).u32(0).u32(262_145).u32(262_145).done(),
      ),
      packets: 1,
      error: /bigger than the maximum 262144$/,
      bytesRead: 24 + 16 + 60,
    },
    {
      name: "a truncated file header",
      bytes: good.subarray(0, 10),
      packets: 0,
      error: /^Truncated pcap file header: needs 24 bytes, the file has 10$/,
      bytesRead: 0,
    },
    {
      name: "an archaic version",
      bytes: pcapFile({ major: 1, minor: 0 }, RECORDS),
      packets: 0,
      error: /^Unsupported pcap version 1\.0/,
      bytesRead: 0,
    },
    {
      name: "an unknown version",
      bytes: pcapFile({ major: 2, minor: 5 }, RECORDS),
      packets: 0,
      error: /^Unsupported pcap version 2\.5/,
      bytesRead: 0,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const path = await tmp.write("bad.pcap", c.bytes);
      const { frames, summary } = await readAll(path);
      assert.equal(frames.length, c.packets);
      assert.equal(summary.packets, c.packets);
      assert.match(summary.error ?? "(none)", c.error);
      assert.equal(summary.bytesRead, c.bytesRead);
      assert.equal(summary.fileBytes, c.bytes.length);
    });
  }
});

Deno.test("readCaptureFile() reports a file with a bad magic number as a summary error", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write(
    "text.pcap",
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: example\r\n\r\n"),
  );
  const { frames, summary } = await readAll(path);
  assert.equal(frames.length, 0);
  assert.equal(summary.format, null);
  assert.deepEqual(summary.linktypes, []);
  assert.equal(
    summary.error,
    "Not a pcap or pcapng file: unknown magic number 0x47455420",
  );
});

Deno.test("readCaptureFile() reports an empty file as a summary error", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write("empty.pcap", new Uint8Array(0));
  const { frames, summary, batches } = await readAll(path);
  assert.equal(frames.length, 0);
  assert.equal(batches, 0);
  assert.deepEqual(summary, {
    path,
    format: null,
    linktypes: [],
    packets: 0,
    bytesRead: 0,
    fileBytes: 0,
    error: "Not a capture file: it is empty",
  });
});

Deno.test("readCaptureFile() reads a pcap file with a header and no records cleanly", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write("header_only.pcap", pcapFile({}, []));
  const { frames, summary } = await readAll(path);
  assert.equal(frames.length, 0);
  assert.equal(summary.error, null);
  assert.equal(summary.format, "pcap");
  assert.deepEqual(summary.linktypes, [1]);
});

Deno.test("readCaptureFile() reads a valid pcapng file without packets as an empty capture", async (t) => {
  // Wireshark reads these as empty captures; only the section header is required.
  const custom = block(
    true,
    0x00000bad,
    new Bytes(true).u32(32473).raw(new TextEncoder().encode("note")).done(),
  );
  const cases: { name: string; bytes: Uint8Array; linktypes: number[] }[] = [
    { name: "only a section header", bytes: shb(true), linktypes: [] },
    { name: "a big-endian section header", bytes: shb(false), linktypes: [] },
    {
      name: "a section header and a custom block",
      bytes: concat(shb(true), custom),
      linktypes: [],
    },
    {
      name: "two sections without interfaces",
      bytes: concat(shb(true), shb(false)),
      linktypes: [],
    },
    {
      name: "a section header and an interface",
      bytes: concat(shb(true), idb(true, 1, 65535)),
      linktypes: [1],
    },
  ];
  await using tmp = await TempDir.create();
  for (const c of cases) {
    await t.step(c.name, async () => {
      const path = await tmp.write("empty.pcapng", c.bytes);
      const { frames, summary } = await readAll(path);
      assert.equal(frames.length, 0);
      assert.equal(summary.error, null);
      assert.equal(summary.format, "pcapng");
      assert.equal(summary.packets, 0);
      assert.deepEqual(summary.linktypes, c.linktypes);
    });
  }
});

Deno.test("readCaptureFile() throws CaptureFileError for a path it cannot read", async (t) => {
  await using tmp = await TempDir.create();
  await t.step("a missing file", async () => {
    const path = `${tmp.dir}/missing.pcap`;
    await assert.rejects(readAll(path), (e: unknown) => {
      assert(e instanceof CaptureFileError);
      assert.equal(e.message, `Cannot read "${path}": no such file`);
      assert.equal(e.path, path);
      assert(e.cause instanceof Deno.errors.NotFound);
      return true;
    });
  });
  await t.step("a directory", async () => {
    await assert.rejects(readAll(tmp.dir), {
      name: "CaptureFileError",
      message: `Cannot read "${tmp.dir}": it is a directory`,
    });
  });
});

// pcapng

Deno.test("readCaptureFile() reads pcapng interfaces with their own link types, resolutions and offsets", async () => {
  await using tmp = await TempDir.create();
  for (const le of [true, false]) {
    const bytes = concat(
      shb(le),
      // 0: Ethernet, microseconds, snaplen 64.
      idb(le, 1, 64),
      // 1: Linux cooked, nanoseconds, 10 s offset.
      idb(le, 113, 0, tsresol(le, 9), tsoffset(le, 10n), endOfOpt(le)),
      // 2: raw IP, 2^-20 s.
      idb(
        le,
        101,
        65535,
        opt(le, 2, new TextEncoder().encode("eth9")),
        tsresol(le, 0x80 | 20),
      ),
      // 3: IPv4, picoseconds (exact BigInt path).
      idb(le, 228, 65535, tsresol(le, 12)),
      epb(le, 0, 1_700_000_000_000_001n, payload(60, 1), 60),
      epb(le, 1, 1_700_000_000_123_456_789n, payload(30, 2), 1500),
      block(le, 5, new Uint8Array(16)), // interface statistics: skipped
      block(le, 0x0bad, new Uint8Array(8)), // custom: skipped
      epb(le, 2, 1_600_000_000n * 2n ** 20n + 2n ** 19n, payload(20, 3)),
      epb(le, 3, 1_000_000n * 10n ** 12n + 987_654_321_000n, payload(5, 4)),
      spb(le, 100, payload(100, 5)),
      packetBlock(le, 1, 2_000_000_000_000_000_999n, payload(8, 6)),
    );
    const path = await tmp.write(`ng_${le}.pcapng`, bytes);
    const { frames, summary } = await readAll(path);
    assert.deepEqual(
      frames.map((f) => [f.tsUs, f.caplen, f.wirelen, f.linktype, f.bytes[0]]),
      [
        [1_700_000_000_000_001, 60, 60, 1, 1],
        [1_700_000_010_123_456, 30, 1500, 113, 2],
        [1_600_000_000_500_000, 20, 20, 101, 3],
        [1_000_000_987_654, 5, 5, 228, 4],
        // Simple Packet Block: interface 0's snaplen, the last timestamp.
        [1_000_000_987_654, 64, 100, 1, 5],
        [2_000_000_010_000_000, 8, 8, 113, 6],
      ],
      le ? "little-endian" : "big-endian",
    );
    assert.deepEqual(summary, {
      path,
      format: "pcapng",
      linktypes: [1, 113, 101, 228],
      packets: 6,
      bytesRead: bytes.length,
      fileBytes: bytes.length,
      error: null,
    });
  }
});

Deno.test("readCaptureFile() reads pcapng sections in different byte orders, each with its own interfaces", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write(
    "sections.pcapng",
    concat(
      shb(false),
      idb(false, 1, 0),
      epb(false, 0, 5n, payload(10, 1)),
      shb(true, 1, 2),
      idb(true, 229, 0, tsresol(true, 3)),
      epb(true, 0, 7_500n, payload(11, 2)),
      shb(true),
      idb(true, 1, 0),
      idb(true, 113, 0),
      epb(true, 1, 9n, payload(12, 3)),
    ),
  );
  const { frames, summary } = await readAll(path);
  assert.equal(summary.error, null);
  assert.deepEqual(frames.map((f) => [f.tsUs, f.linktype, f.bytes[0]]), [
    [5, 1, 1],
    [7_500_000, 229, 2],
    [9, 113, 3],
  ]);
  assert.deepEqual(summary.linktypes, [1, 229, 113]);
});

Deno.test("readCaptureFile() delivers every whole pcapng packet before a format error and reports it", async (t) => {
  await using tmp = await TempDir.create();
  const head = concat(shb(true), idb(true, 1, 0));
  const one = epb(true, 0, 1n, payload(60));
  const cases: {
    name: string;
    bytes: Uint8Array;
    packets: number;
    error: RegExp;
  }[] = [
    {
      name: "a truncated last block",
      bytes: concat(head, one, one.subarray(0, 50)),
      packets: 1,
      error:
        /^Truncated pcapng block of type 0x00000006: length 92, the file has 50 bytes left$/,
    },
    {
      name: "a truncated block header",
      bytes: concat(head, one, one.subarray(0, 5)),
      packets: 1,
      error: /^Truncated pcapng block: its header needs 8 bytes/,
    },
    {
      name: "a packet on an interface without a description",
      bytes: concat(head, one, epb(true, 1, 1n, payload(60))),
      packets: 1,
      error:
        /^Packet 2 is on interface 1, which has no Interface Description Block$/,
    },
    {
      name: "a packet before any interface",
      bytes: concat(shb(true), one),
      packets: 0,
      error: /interface 0, which has no Interface Description Block$/,
    },
    {
      name: "header and trailer lengths that differ",
      bytes: concat(
        head,
        one,
        one.slice(0, 88),
        new Bytes(true).u32(96).done(),
      ),
      packets: 1,
      error: /lengths in its header \(92\) and trailer \(96\) differ$/,
    },
    {
      name: "a caplen over the interface's snaplen",
      bytes: concat(shb(true), idb(true, 1, 32), one),
      packets: 0,
      error: /^Packet 1 has caplen 60, bigger than the snaplen 32$/,
    },
    {
      name: "a caplen over the block",
      bytes: concat(
        head,
        one,
        block(
          true,
          6,
          new Bytes(true).u32(0).u32(0).u32(0).u32(100).u32(100).raw(
            payload(20),
          ).done(),
        ),
      ),
      packets: 1,
      error: /^Bad pcapng block of type 0x00000006: too short$/,
    },
    {
      name: "a block length that is not a multiple of 4",
      bytes: concat(head, one, new Bytes(true).u32(6).u32(30).done()),
      packets: 1,
      error: /length 30 is not a multiple of 4$/,
    },
    {
      name: "a block length over the maximum",
      bytes: concat(head, one, new Bytes(true).u32(6).u32(20 << 20).done()),
      packets: 1,
      error: /length 20971520 is bigger than the maximum 16777216$/,
    },
    {
      name: "an if_tsresol that is too fine",
      bytes: concat(shb(true), idb(true, 1, 0, tsresol(true, 20)), one),
      packets: 0,
      error: /^Bad pcapng interface: if_tsresol 10\^-20 is too fine$/,
    },
    {
      name: "an unsupported version",
      bytes: concat(shb(true, 2, 0), idb(true, 1, 0), one),
      packets: 0,
      error: /^Unsupported pcapng version 2\.0/,
    },
    {
      name: "a section header with a bad byte-order magic",
      bytes: concat(head, one, block(true, 0x0a0d0d0a, new Uint8Array(16))),
      packets: 1,
      error: /^Bad pcapng section header: byte-order magic 0x00000000$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const path = await tmp.write("bad.pcapng", c.bytes);
      const { frames, summary } = await readAll(path);
      assert.equal(frames.length, c.packets);
      assert.equal(summary.format, "pcapng");
      assert.match(summary.error ?? "(none)", c.error);
    });
  }
});

Deno.test("readCaptureFile() reads a short text file starting like a pcapng header as an unknown format", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write(
    "crlf.txt",
    new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a, 0x41, 0x42]),
  );
  const { summary } = await readAll(path);
  assert.equal(summary.format, null);
  assert.match(summary.error ?? "", /^Not a pcap or pcapng file/);
});

// Streaming

Deno.test("readCaptureFile() keeps records that straddle its 4 MiB reads whole", async (t) => {
  await using tmp = await TempDir.create();
  const count = 4000; // about 6 MB
  const sizeOf = (i: number) => 1000 + (i * 37) % 514;
  const records: PcapRecord[] = [];
  const blocks: Uint8Array[] = [shb(true), idb(true, 1, 0)];
  for (let i = 0; i < count; i++) {
    const data = payload(sizeOf(i), i);
    records.push({ sec: i, frac: 0, data });
    blocks.push(epb(true, 0, BigInt(i) * 1_000_000n, data));
  }
  for (
    const [name, bytes] of [
      ["big.pcap", pcapFile({}, records)],
      ["big.pcapng", concat(...blocks)],
    ] as const
  ) {
    await t.step(name, async () => {
      const path = await tmp.write(name, bytes);
      const g = readCaptureFile(path, { batchFrames: 1000 });
      let i = 0;
      const sizes: number[] = [];
      let bad = -1;
      let r = await g.next();
      while (!r.done) {
        const b = r.value;
        sizes.push(b.count);
        for (let k = 0; k < b.count; k++, i++) {
          const off = b.offsets[k]!;
          const len = b.caplens[k]!;
          if (
            bad < 0 &&
            (len !== sizeOf(i) || b.tsUs[k] !== i * 1e6 ||
              b.data[off] !== (i & 0xff) ||
              b.data[off + len - 1] !== ((len - 1 + i) & 0xff))
          ) bad = i;
        }
        r = await g.next();
      }
      assert.equal(r.value.error, null);
      assert.equal(i, count);
      assert.equal(bad, -1, "first frame read wrong");
      assert.deepEqual(sizes, [1000, 1000, 1000, 1000]);
      assert.equal(r.value.bytesRead, bytes.length);
    });
  }
});

Deno.test("readCaptureFile() hands a batch over once its bytes reach batchBytes", async () => {
  await using tmp = await TempDir.create();
  const records = Array.from(
    { length: 10 },
    (_, i) => ({ sec: i, frac: 0, data: payload(1000) }),
  );
  const path = await tmp.write("bytes.pcap", pcapFile({}, records));
  const g = readCaptureFile(path, { batchFrames: 100, batchBytes: 2500 });
  const counts: number[] = [];
  for await (const b of g) counts.push(b.count);
  assert.deepEqual(counts, [3, 3, 3, 1]);
});

Deno.test("readCaptureFile() closes the file when the caller stops early", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write(
    "early.pcap",
    pcapFile({}, Array.from({ length: 10 }, () => RECORDS[0]!)),
  );
  let seen = 0;
  for await (const b of readCaptureFile(path, { batchFrames: 2 })) {
    seen += b.count;
    break;
  }
  // The resource sanitizer fails this test if the file stayed open.
  assert.equal(seen, 2);
});

Deno.test("readCaptureFile() throws the signal's reason when aborted", async () => {
  await using tmp = await TempDir.create();
  const path = await tmp.write(
    "abort.pcap",
    pcapFile({}, Array.from({ length: 10 }, () => RECORDS[0]!)),
  );
  const ctl = new AbortController();
  const g = readCaptureFile(path, { batchFrames: 2, signal: ctl.signal });
  const first = await g.next();
  assert.equal(first.done, false);
  ctl.abort(new Error("stop now"));
  await assert.rejects(g.next(), { message: "stop now" });
});

Deno.test("readCaptureFile() refuses a batchFrames that is not a positive integer", async () => {
  await assert.rejects(
    readCaptureFile("x.pcap", { batchFrames: 0 }).next(),
    RangeError,
  );
});
