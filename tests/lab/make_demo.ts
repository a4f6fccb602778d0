/**
 * Builds `data/demo.pcap`, the capture `run --demo` plays: a few minutes of
 * the benign lab session with attacks from the fixtures laid over it at
 * fixed offsets (a SYN scan, an ssh brute force, a DNS tunnel, a host
 * sweep, malformed HTTP, an inbound connection from outside), the lab's
 * home LAN (DHCP, mDNS, SSDP) and home devices talking to public servers
 * (demo_devices.ts). Deterministic: the same fixtures give the same file.
 *
 *   deno task demo-capture
 *
 * @module
 */
import { PcapWriter, readCaptureFile } from "../../capture/mod.ts";
import { homeDeviceFrames } from "./demo_devices.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIX = `${ROOT}tests/fixtures/`;

/** Attack fixtures and when they start, seconds into the demo. */
const LAYERS: ReadonlyArray<readonly [string, number, number]> = [
  // file, start offset (s), longest part kept (s)
  ["scan_syn.pcap", 20, 30],
  ["brute_ssh.pcap", 40, 120],
  ["dns_tunnel.pcap", 80, 30],
  ["sweep_icmp.pcap", 110, 20],
  ["malformed_http.pcap", 130, 20],
  ["external_inbound.pcap", 150, 20],
  // Lab 2's home LAN: dnsmasq DHCP with dhclient, avahi-daemon, SSDP.
  ["benign_lan.pcap", 0, 180],
];
const BENIGN = "benign_holdout.pcap";
const LENGTH_S = 180;

interface Frame {
  tsUs: number;
  data: Uint8Array;
  wirelen: number;
}

async function frames(
  path: string,
  offsetUs: number,
  keepS: number,
): Promise<Frame[]> {
  const out: Frame[] = [];
  let first = NaN;
  for await (const b of readCaptureFile(path)) {
    for (let i = 0; i < b.count; i++) {
      const t = b.tsUs[i]!;
      if (Number.isNaN(first)) first = t;
      if (t - first > keepS * 1e6) continue;
      const o = b.offsets[i]!;
      out.push({
        tsUs: offsetUs + (t - first),
        data: b.data.slice(o, o + b.caplens[i]!),
        wirelen: b.wirelens[i]!,
      });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const start = Date.UTC(2026, 0, 1) * 1000;
  const all = await frames(`${FIX}${BENIGN}`, start, LENGTH_S);
  for (const [file, at, keep] of LAYERS) {
    all.push(...await frames(`${FIX}${file}`, start + at * 1e6, keep));
  }
  all.push(...homeDeviceFrames(start, LENGTH_S));
  all.sort((a, b) => a.tsUs - b.tsUs);
  const out = `${ROOT}data/demo.pcap`;
  await using w = await PcapWriter.create(out, { linktype: 1 });
  for (const f of all) await w.write(f.tsUs, f.data, f.wirelen);
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `demo: ${all.length} frames over ${LENGTH_S} s to ${out}\n`,
    ),
  );
}

if (import.meta.main) await main();
