import assert from "node:assert/strict";
import { readCaptureFile } from "../capture/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { openEnricher } from "../enrich/mod.ts";
import { LiveStats } from "./stats.ts";

const CORPUS = new URL("../../shared/pcaps/tcpdump-tests/", import.meta.url);

async function feed(p: Pipeline, name: string): Promise<void> {
  for await (const b of readCaptureFile(new URL(name, CORPUS).pathname)) {
    p.processBatch(b);
  }
}

Deno.test("LiveStats counts a real capture into rates, protocols, ports, talkers with flags, and DNS names", async () => {
  await using e = (await openEnricher({ rdns: { enabled: false } })).enricher;
  const rollups: [number, Record<string, unknown>][] = [];
  let p: Pipeline | null = null;
  const stats = new LiveStats({
    enricher: e,
    totals: () => p!.counters,
    flows: () => p!.flows.size,
    rollup: (b, r) => rollups.push([b, r]),
  });
  p = new Pipeline({ observers: [stats] });
  const t0 = Date.UTC(2026, 10, 25, 12, 0, 30);
  stats.snapshot(t0);
  await feed(p, "dns_udp.pcap");
  const s = stats.snapshot(t0 + 2000);
  assert.equal(s.pps, 1, "2 packets over 2 s");
  assert.equal(s.packets, 2);
  assert.ok(
    s.bps_out > 0 && s.bps_in > 0,
    "192.168.1.11 is home; the resolver is not",
  );
  assert.deepEqual(s.protocols.map((x) => x.name), ["udp"]);
  assert.deepEqual(s.apps.map((x) => [x.name, x.packets]), [["dns", 2]]);
  assert.deepEqual(s.ports.map((x) => [x.port, x.proto]), [[53, "udp"]]);
  assert.deepEqual(s.names, [{
    kind: "dns",
    name: "www.tcpdump.org",
    count: 1,
  }]);
  assert.deepEqual(s.talkers.map((x) => x.ip).sort(), [
    "192.168.1.11",
    "209.87.249.18",
  ]);
  const pub = s.talkers.find((x) => x.ip === "209.87.249.18")!;
  assert.match(pub.flag ?? "", /^\p{Regional_Indicator}{2}$/u);
  assert.equal(s.talkers.find((x) => x.ip === "192.168.1.11")!.scope, "LAN");
  assert.equal(s.countries.length, 1);
  assert.equal(stats.latest(), s);
  assert.deepEqual(stats.history()[1]!.talkers, [], "history keeps no tops");

  // The next second has no traffic; the tops decay but stay.
  const quiet = stats.snapshot(t0 + 3000);
  assert.equal(quiet.pps, 0);
  assert.equal(quiet.talkers.length, 2);
  // A new minute hands the last one's totals to the rollup sink.
  stats.snapshot(t0 + 40_000);
  assert.equal(rollups.length, 1);
  assert.equal(rollups[0]![0], Date.UTC(2026, 10, 25, 12, 0, 0));
  assert.equal(rollups[0]![1].packets, 2);
  assert.ok((rollups[0]![1].bytes as number) > 0);
});

Deno.test("LiveStats bounds what it tracks and forgets quiet talkers", async () => {
  const stats = new LiveStats({ maxTalkers: 1, maxNames: 0, decayS: 0.01 });
  const p = new Pipeline({ observers: [stats] });
  await feed(p, "dns_udp.pcap");
  const s = stats.snapshot(1000);
  assert.equal(s.talkers.length, 1);
  assert.equal(s.names.length, 0);
  const later = stats.snapshot(3000);
  assert.equal(later.talkers.length, 0, "decayed away");
  assert.equal(later.protocols.length, 0);
});
