import assert from "node:assert/strict";
import { readCaptureFile } from "../capture/mod.ts";
import { IPPROTO_UDP, newPacket, type Packet } from "../decode/mod.ts";
import { protocolEvents } from "../events/mod.ts";
import { Pipeline } from "./mod.ts";

const PCAPS = new URL("../../shared/pcaps/", import.meta.url).pathname;

interface TsvRow {
  file: string;
  packets: number;
  linktype: string;
}

async function corpus(): Promise<TsvRow[]> {
  const text = await Deno.readTextFile(`${PCAPS}tcpdump-tests.tsv`);
  return text.trim().split("\n").slice(1).map((line) => {
    const [file, packets, linktype] = line.split("\t");
    return { file: file!, packets: Number(packets), linktype: linktype! };
  });
}

Deno.test("pipeline runs every tcpdump corpus capture end to end without an uncaught error", async () => {
  const rows = await corpus();
  assert.ok(rows.length >= 800, `corpus has ${rows.length} files`);
  const mismatches: string[] = [];
  let events = 0, flows = 0, decoded = 0;
  for (const row of rows) {
    const pipeline = new Pipeline({
      observers: [
        protocolEvents(new Set(["dns", "http", "tls", "flow"]), (rec) => {
          events++;
          // Every record must serialise: no cycles, no BigInt, no undefined ports.
          JSON.stringify(rec);
        }),
      ],
    });
    const reader = readCaptureFile(`${PCAPS}tcpdump-tests/${row.file}`);
    for await (const batch of reader) pipeline.processBatch(batch);
    pipeline.finish();
    flows += pipeline.flows.counters.created;
    decoded += pipeline.counters.packets - pipeline.counters.decodeErrors;
    if (pipeline.counters.packets !== row.packets) {
      mismatches.push(
        `${row.file} (${row.linktype}): ${pipeline.counters.packets} != ${row.packets}`,
      );
    }
    assert.equal(
      pipeline.flows.size,
      0,
      `${row.file}: flows left after finish`,
    );
  }
  assert.deepEqual(mismatches, []);
  assert.ok(
    events > 500 && flows > 500 && decoded > 5_000,
    `${events} ${flows} ${decoded}`,
  );
});

Deno.test("pipeline counts protocols and decode faults of a mixed capture", async () => {
  const pipeline = new Pipeline();
  for await (const b of readCaptureFile(`${PCAPS}tcpdump-tests/dns_tcp.pcap`)) {
    pipeline.processBatch(b);
  }
  const c = pipeline.counters;
  assert.equal(c.packets, 11);
  assert.equal(c.tcp, 11);
  assert.equal(c.decodeErrors, 0);
  assert.equal(pipeline.flows.size, 1);
  pipeline.finish();
  assert.equal(pipeline.flows.size, 0);
  assert.equal(pipeline.hosts.size, 2);
});

Deno.test("pipeline with an expire budget ends a burst of timeouts over several ticks", async () => {
  const ended: string[] = [];
  const budgeted = new Pipeline({
    expireBudget: 2,
    observers: [{ onFlowEnd: (_f, reason) => ended.push(reason) }],
  });
  const whole = new Pipeline();
  for await (const b of readCaptureFile(`${PCAPS}tcpdump-tests/dns_tcp.pcap`)) {
    budgeted.processBatch(b);
    whole.processBatch(b);
  }
  // Five distinct UDP flows, all idle past their timeout by the tick.
  for (const p of [budgeted, whole]) {
    for (let i = 0; i < 5; i++) p.flows.update(udp(i, p.nowUs));
  }
  const later = budgeted.nowUs + 3600e6;
  whole.tick(later);
  budgeted.tick(later);
  assert.ok(budgeted.expiring);
  assert.equal(ended.length, 2);
  while (budgeted.expiring) budgeted.tick(later);
  assert.equal(budgeted.flows.size, whole.flows.size);
  assert.equal(budgeted.flows.size, 0);
  assert.equal(ended.length, 6);
});

function udp(i: number, tsUs: number): Packet {
  const p = newPacket();
  p.ipVersion = 4;
  p.proto = IPPROTO_UDP;
  p.src[0] = 0x0a000001 + i;
  p.dst[0] = 0x0a0000fe;
  p.srcPort = 5000;
  p.dstPort = 53;
  p.tsUs = tsUs;
  p.wirelen = 60;
  return p;
}
