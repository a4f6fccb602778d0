import assert from "node:assert/strict";
import { readCaptureFile } from "./pcap_file.ts";
import {
  PcapWriter,
  type PcapWriterOptions,
  writePcap,
} from "./pcap_writer.ts";

/** Reads a file back as [tsUs, caplen, wirelen, linktype, bytes] rows. */
async function readBack(
  path: string,
): Promise<
  { rows: [number, number, number, number, number[]][]; error: string | null }
> {
  const rows: [number, number, number, number, number[]][] = [];
  const g = readCaptureFile(path);
  let r = await g.next();
  while (!r.done) {
    const b = r.value;
    for (let i = 0; i < b.count; i++) {
      const off = b.offsets[i]!;
      rows.push([
        b.tsUs[i]!,
        b.caplens[i]!,
        b.wirelens[i]!,
        b.linktypes[i]!,
        [...b.data.subarray(off, off + b.caplens[i]!)],
      ]);
    }
    r = await g.next();
  }
  return { rows, error: r.value.error };
}

async function tempFile(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path);
    },
  };
}

const FRAMES = [
  { tsUs: 1_700_000_000_000_001, data: new Uint8Array([1, 2, 3, 4]) },
  { tsUs: 1_700_000_000_999_999, data: new Uint8Array(1514).fill(7) },
  { tsUs: 0, data: new Uint8Array(0), wirelen: 60 },
  { tsUs: 4_294_967_295_000_000, data: new Uint8Array([9]), wirelen: 1500 },
];

Deno.test("PcapWriter writes frames that readCaptureFile() reads back unchanged", async (t) => {
  const variants: [string, PcapWriterOptions][] = [
    ["microseconds, little-endian", { linktype: 1 }],
    ["nanoseconds, little-endian", { linktype: 113, nanosecond: true }],
    ["microseconds, big-endian", { linktype: 101, bigEndian: true }],
    ["nanoseconds, big-endian", {
      linktype: 228,
      nanosecond: true,
      bigEndian: true,
    }],
  ];
  for (const [name, opts] of variants) {
    await t.step(name, async () => {
      await using f = await tempFile();
      {
        await using w = await PcapWriter.create(f.path, opts);
        for (const fr of FRAMES) await w.write(fr.tsUs, fr.data, fr.wirelen);
        assert.equal(w.frames, FRAMES.length);
      }
      const { rows, error } = await readBack(f.path);
      assert.equal(error, null);
      assert.deepEqual(
        rows,
        FRAMES.map((fr) => [
          fr.tsUs,
          fr.data.length,
          fr.wirelen ?? fr.data.length,
          opts.linktype,
          [...fr.data],
        ]),
      );
    });
  }
});

Deno.test("PcapWriter cuts frames to the snaplen and keeps their wire length", async () => {
  await using f = await tempFile();
  const w = await PcapWriter.create(f.path, { snaplen: 10 });
  await w.write(5, new Uint8Array(20).fill(3));
  await w.close();
  const { rows, error } = await readBack(f.path);
  assert.equal(error, null);
  assert.deepEqual(rows, [[5, 10, 20, 1, new Array(10).fill(3)]]);
});

Deno.test("PcapWriter rounds sub-microsecond timestamps to the file's resolution", async () => {
  await using f = await tempFile();
  const w = await PcapWriter.create(f.path);
  await w.write(1_000_000.6, new Uint8Array(1));
  await w.write(1_999_999.7, new Uint8Array(1));
  await w.close();
  const { rows } = await readBack(f.path);
  assert.deepEqual(rows.map((r) => r[0]), [1_000_001, 2_000_000]);
});

Deno.test("PcapWriter flushes across its 1 MiB buffer and writes frames bigger than it", async () => {
  await using f = await tempFile();
  const big = new Uint8Array(3 << 20).fill(0xab);
  const small = new Uint8Array(1500).fill(0xcd);
  const w = await PcapWriter.create(f.path, {
    snaplen: 0x7fffffff,
    linktype: 231,
  });
  for (let i = 0; i < 1000; i++) await w.write(i, small);
  await w.write(1000, big);
  await w.write(1001, small);
  await w.close();
  const { rows, error } = await readBack(f.path);
  assert.equal(error, null);
  assert.equal(rows.length, 1002);
  assert.equal(rows[1000]?.[1], big.length);
  assert.equal(rows[1001]?.[0], 1001);
  assert.deepEqual(rows[1001]?.[4], [...small]);
});

Deno.test("writePcap() writes a whole capture in one call", async () => {
  await using f = await tempFile();
  await writePcap(f.path, FRAMES, { linktype: 0 });
  const { rows, error } = await readBack(f.path);
  assert.equal(error, null);
  assert.deepEqual(
    rows.map((r) => [r[0], r[3]]),
    FRAMES.map((fr) => [fr.tsUs, 0]),
  );
});

Deno.test("PcapWriter refuses bad options, times out of range and writes after close", async () => {
  await using f = await tempFile();
  await assert.rejects(PcapWriter.create(f.path, { snaplen: 0 }), RangeError);
  await assert.rejects(PcapWriter.create(f.path, { linktype: -1 }), RangeError);
  const w = await PcapWriter.create(f.path);
  await assert.rejects(w.write(-1, new Uint8Array(1)), RangeError);
  await assert.rejects(w.write(2 ** 32 * 1e6, new Uint8Array(1)), RangeError);
  await w.close();
  await w.close();
  await assert.rejects(w.write(0, new Uint8Array(1)), {
    name: "TypeError",
    message: "Cannot write to a closed PcapWriter",
  });
});
