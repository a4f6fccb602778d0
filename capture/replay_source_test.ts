import assert from "node:assert/strict";
import { writePcap } from "./pcap_writer.ts";
import { ReplaySource } from "./replay_source.ts";

const FRAME = new Uint8Array(60);

async function capture(times: number[]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  await writePcap(path, times.map((t) => ({ tsUs: t, data: FRAME })), {
    linktype: 1,
  });
  return path;
}

async function collect(src: ReplaySource): Promise<number[]> {
  const out: number[] = [];
  for await (const b of src.batches()) {
    for (let i = 0; i < b.count; i++) out.push(b.tsUs[i]!);
  }
  return out;
}

Deno.test("replay maps packet time to wall time and keeps the capture's intervals", async () => {
  const base = Date.UTC(2020, 0, 1) * 1000;
  const path = await capture([base, base + 200_000, base + 400_000]);
  try {
    const before = Date.now() * 1000;
    const src = new ReplaySource({ path, speed: 100 });
    const ts = await collect(src);
    assert.equal(ts.length, 3);
    assert.ok(
      ts[0]! >= before && ts[0]! <= Date.now() * 1000,
      "first packet happens now",
    );
    assert.equal(ts[1]! - ts[0]!, 200_000);
    assert.equal(ts[2]! - ts[0]!, 400_000);
    const st = src.status();
    assert.equal(st.packets, 3);
    assert.equal(st.ended, true);
    assert.equal(st.error, null);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("replay paces delivery by the speed", async () => {
  const base = Date.UTC(2020, 0, 1) * 1000;
  // 0.6 s of capture at speed 4 takes at least 150 ms of wall time.
  const path = await capture([base, base + 300_000, base + 600_000]);
  try {
    const arrivals: number[] = [];
    // One clock for the source and the measurement (sub-millisecond).
    const now = () => performance.timeOrigin + performance.now();
    const src = new ReplaySource({ path, speed: 4, now });
    const t0 = now();
    for await (const b of src.batches()) {
      for (let i = 0; i < b.count; i++) arrivals.push(now() - t0);
    }
    assert.equal(arrivals.length, 3);
    // Causality, not speed: the last frame cannot arrive before its moment.
    assert.ok(arrivals[2]! >= 150, `last frame after ${arrivals[2]} ms`);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("replay loops with time moving forward and stops when closed", async () => {
  const base = Date.UTC(2020, 0, 1) * 1000;
  const path = await capture([base, base + 100_000]);
  try {
    const src = new ReplaySource({ path, speed: 0, loop: true });
    const ts: number[] = [];
    for await (const b of src.batches()) {
      for (let i = 0; i < b.count; i++) ts.push(b.tsUs[i]!);
      if (ts.length >= 6) src.close();
    }
    assert.equal(ts.length, 6);
    for (let i = 1; i < ts.length; i++) {
      assert.ok(ts[i]! > ts[i - 1]!, `time moves forward at ${i}`);
    }
    // Each pass starts one second after the previous one ended.
    assert.equal(ts[2]! - ts[1]!, 1_000_000);
    assert.ok(src.status().loops >= 2);
    assert.equal(src.status().ended, true);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("replay of a truncated file delivers what is there and reports the error", async () => {
  const base = Date.UTC(2020, 0, 1) * 1000;
  const path = await capture([base, base + 1, base + 2]);
  try {
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 10));
    const src = new ReplaySource({ path, speed: 0 });
    const ts = await collect(src);
    assert.equal(ts.length, 2);
    assert.match(src.status().error ?? "", /truncated|short|end/i);
  } finally {
    await Deno.remove(path);
  }
});
