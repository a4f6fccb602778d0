/**
 * Bench: the device inventory (devices/). Its cost on the live path: the
 * large mixed capture (held in memory) through the pipeline with no
 * observers and with the inventory alone. Its memory: 10,000 devices, each
 * announcing itself with DHCP (host name, vendor class, parameter list)
 * and mDNS (host name, a printer service, a TXT model), using two
 * addresses and talking to four remote peers, measured in a child with
 * `--expose-gc` beside the same frames through the pipeline without the
 * inventory.
 *
 *   deno run -A bench/devices.ts [--quick]   (or: deno task bench --only devices)
 *
 * @module
 */
import { BatchBuilder, type FrameBatch } from "../capture/mod.ts";
import { defaultPolicy } from "../alerts/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { DeviceInventory, loadOuiRegistry } from "../devices/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import { type BenchRow, largeCapture } from "./bench.ts";
import { loadBatches } from "./_batches.ts";
import { printRows } from "./_print.ts";

const enc = new TextEncoder();

function u16(x: number): number[] {
  return [(x >> 8) & 255, x & 255];
}

function ipv4Udp(
  src: number[],
  dst: number[],
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const udpLen = 8 + payload.length;
  const out = new Uint8Array(20 + udpLen);
  out.set([
    0x45,
    0,
    ...u16(20 + udpLen),
    0,
    0,
    0,
    0,
    64,
    17,
    0,
    0,
    ...src,
    ...dst,
  ]);
  out.set([...u16(sport), ...u16(dport), ...u16(udpLen), 0, 0], 20);
  out.set(payload, 28);
  return out;
}

function frame(srcMac: number[], dstMac: number[], ip: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  f.set([8, 0], 12);
  f.set(ip, 14);
  return f;
}

function name(n: string): number[] {
  const out: number[] = [];
  for (const l of n.split(".")) out.push(l.length, ...enc.encode(l));
  out.push(0);
  return out;
}

/** The frames of `n` devices (see the module doc). */
export function deviceFrames(n: number): FrameBatch[] {
  const out: FrameBatch[] = [];
  let b = new BatchBuilder(4096, 4096 * 600);
  let t = Date.UTC(2026, 0, 1) * 1000;
  const push = (f: Uint8Array) => {
    if (b.full) {
      out.push(b.take()!);
      b = new BatchBuilder(4096, 4096 * 600);
    }
    b.push(f, 0, f.length, f.length, t, 1);
    t += 100;
  };
  const gw = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
  for (let i = 0; i < n; i++) {
    const mac = [0xb8, 0x27, 0xeb, (i >> 16) & 255, (i >> 8) & 255, i & 255];
    const ip = [10, 1 + (i >> 16), (i >> 8) & 255, (i & 255) | 0];
    const ip2 = [10, 100 + (i >> 16), (i >> 8) & 255, i & 255];
    const dhcp = new Uint8Array(300);
    dhcp.set([1, 1, 6, 0], 0);
    dhcp.set(mac, 28);
    dhcp.set([0x63, 0x82, 0x53, 0x63], 236);
    const host = enc.encode(`device-${i}`);
    const vc = enc.encode("udhcp 1.36.1");
    let o = 240;
    dhcp.set([53, 1, 3, 12, host.length, ...host, 60, vc.length, ...vc], o);
    o += 3 + 2 + host.length + 2 + vc.length;
    dhcp.set([55, 7, 1, 3, 6, 12, 15, 28, 42, 255], o);
    push(
      frame(
        mac,
        [255, 255, 255, 255, 255, 255],
        ipv4Udp([0, 0, 0, 0], [255, 255, 255, 255], 68, 67, dhcp),
      ),
    );
    const inst = enc.encode(`Printer ${i}`);
    const mdns = new Uint8Array([
      0,
      0,
      0x84,
      0,
      0,
      0,
      0,
      2,
      0,
      0,
      0,
      0,
      ...name("_ipp._tcp.local"),
      0,
      12,
      0,
      1,
      0,
      0,
      0,
      120,
      ...u16(inst.length + 1 + 17),
      inst.length,
      ...inst,
      ...name("_ipp._tcp.local"),
      ...name(`device-${i}.local`),
      0,
      1,
      0x80,
      1,
      0,
      0,
      0,
      120,
      0,
      4,
      ...ip,
    ]);
    push(
      frame(
        mac,
        [1, 0, 0x5e, 0, 0, 0xfb],
        ipv4Udp(ip, [224, 0, 0, 251], 5353, 5353, mdns),
      ),
    );
    for (let k = 0; k < 4; k++) {
      const remote = [203, 0, 113, (i + k * 61) % 250 + 1];
      const src = k < 2 ? ip : ip2;
      push(
        frame(
          mac,
          gw,
          ipv4Udp(src, remote, 40000 + k, 443, new Uint8Array(100)),
        ),
      );
      push(
        frame(
          gw,
          mac,
          ipv4Udp(remote, src, 443, 40000 + k, new Uint8Array(200)),
        ),
      );
    }
  }
  const last = b.take();
  if (last) out.push(last);
  return out;
}

function runPipeline(batches: FrameBatch[], observers: FlowObserver[]): number {
  const p = new Pipeline({ observers });
  const t0 = performance.now();
  for (const b of batches) p.processBatch(b);
  p.finish();
  return performance.now() - t0;
}

function best(n: number, fn: () => number): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) b = Math.min(b, fn());
  return b;
}

/** In the child: heap (after GC) holding the pipeline state, with or without the inventory. */
async function child(n: number, withInventory: boolean): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const frames = deviceFrames(n);
  const policy = defaultPolicy();
  const oui = await loadOuiRegistry();
  gc();
  const before = Deno.memoryUsage().heapUsed;
  const inv = new DeviceInventory({ homeNet: () => policy.home_net, oui });
  const p = new Pipeline({
    observers: withInventory ? [inv] : [],
    maxHosts: 4 * n,
  });
  for (const b of frames) p.processBatch(b);
  p.finish();
  gc();
  const after = Deno.memoryUsage().heapUsed;
  Deno.stdout.writeSync(enc.encode(
    JSON.stringify({
      heap: after - before,
      devices: inv.size,
      names: [...inv.devices()].reduce((s, d) => s + d.names.size, 0),
      keep: p.hosts.size + frames.length,
    }) + "\n",
  ));
}

async function measure(n: number, withInventory: boolean) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--child",
      String(n),
      withInventory ? "with" : "without",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `devices bench child failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    heap: number;
    devices: number;
    names: number;
  };
}

/** The `devices` bench section. */
export async function devicesBench(quick: boolean): Promise<BenchRow[]> {
  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const batches = await loadBatches(path);
  const policy = defaultPolicy();
  const oui = await loadOuiRegistry();
  const runs = quick ? 2 : 3;
  const base = best(runs, () => runPipeline(batches, []));
  const withInv = best(runs, () =>
    runPipeline(batches, [
      new DeviceInventory({ homeNet: () => policy.home_net, oui }),
    ]));
  const pps = (ms: number) => packets / (ms / 1000);
  const n = 10_000;
  const ref = await measure(n, false);
  const dev = await measure(n, true);
  return [
    {
      section: "devices",
      metric: "pipeline with the device inventory",
      value: pps(withInv),
      unit: "pkts/s",
      reference: "no observers",
      referenceValue: pps(base),
      note: `${packets} packets; ${
        ((withInv - base) * 1e6 / packets).toFixed(0)
      } ns a packet`,
    },
    {
      section: "devices",
      metric: `JS heap with ${n.toLocaleString("en")} devices`,
      value: dev.heap / 2 ** 20,
      unit: "MiB",
      reference: "the same frames without the inventory",
      referenceValue: ref.heap / 2 ** 20,
      note: `${dev.devices} devices, ${dev.names} names held; ${
        ((dev.heap - ref.heap) / dev.devices / 1024).toFixed(1)
      } KiB a device (2 addresses, 3 names, 6 hints, 4 peers each)`,
    },
  ];
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    await child(Number(Deno.args[1]), Deno.args[2] === "with");
  } else {
    printRows(await devicesBench(Deno.args.includes("--quick")));
  }
}
