import assert from "node:assert/strict";
import { readCaptureFile } from "../capture/mod.ts";
import { formatAddr } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import { FEATURE_COUNT, FeatureExtractor } from "./features.ts";
import {
  modelText,
  readModelFile,
  SHIPPED_MODEL_URL,
  trainModel,
} from "./model.ts";
import { createAnomalyScorer } from "./scorer.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url);

/** Lab hosts that only ever behave (tests/lab/make_fixtures.sh). */
function isLabHost(ip: string): boolean {
  if (ip.startsWith("198.51.100.")) return true;
  const m = /^10\.99\.0\.(\d+)$/.exec(ip);
  if (m === null) return false;
  const h = Number(m[1]);
  return h !== 66;
}

async function run(name: string, pipeline: Pipeline): Promise<void> {
  const reader = readCaptureFile(new URL(name, FIXTURES).pathname);
  let r = await reader.next();
  while (!r.done) {
    pipeline.processBatch(r.value);
    r = await reader.next();
  }
  assert.equal(r.value.error, null, `${name}: ${r.value.error}`);
  pipeline.finish();
}

const shipped = await readModelFile(SHIPPED_MODEL_URL);

Deno.test("the shipped model is what `deno task model` makes from the benign and benign_train fixtures", async () => {
  const rows: number[] = [];
  let first = Infinity, last = -Infinity;
  for (const name of ["benign.pcap", "benign_train.pcap"]) {
    await run(
      name,
      new Pipeline({
        observers: [
          new FeatureExtractor((f, v) => {
            for (let i = 0; i < FEATURE_COUNT; i++) rows.push(v[i]!);
            first = Math.min(first, f.firstUs);
            last = Math.max(last, f.lastUs);
          }),
        ],
      }),
    );
  }
  const model = trainModel(Float64Array.from(rows), {
    seed: 1,
    contamination: 0.005,
    sources: ["tests/fixtures/benign.pcap", "tests/fixtures/benign_train.pcap"],
    dataFromUs: first,
    dataToUs: last,
  });
  assert.equal(
    modelText(model),
    await Deno.readTextFile(SHIPPED_MODEL_URL),
    "data/model.json is stale: run `deno task model`",
  );
});

/** Flags by fixture: [flows of attack sources, flagged, other flows, flagged]. */
async function flagged(
  name: string,
): Promise<[number, number, number, number]> {
  const counts: [number, number, number, number] = [0, 0, 0, 0];
  const scorer = createAnomalyScorer(shipped, () => {});
  const counting: FlowObserver = {
    onPacket: (p, ctx) => scorer.onPacket!(p, ctx),
    onFlowEnd(f, reason) {
      const before = scorer.counters.flagged;
      scorer.onFlowEnd!(f, reason);
      const hit = scorer.counters.flagged > before ? 1 : 0;
      if (isLabHost(formatAddr(f.version, f.srcAddr))) {
        counts[2]++;
        counts[3] += hit;
      } else {
        counts[0]++;
        counts[1] += hit;
      }
    },
  };
  await run(name, new Pipeline({ observers: [counting] }));
  return counts;
}

Deno.test("the shipped model flags scan, sweep and flood flows", async (t) => {
  const attacks = [
    "scan_syn",
    "scan_connect",
    "scan_fin",
    "scan_xmas",
    "scan_null",
    "scan_ack",
    "scan_udp",
    "sweep_icmp",
    "sweep_tcp",
    "flood_syn",
    "flood_udp",
    "flood_icmp",
  ];
  for (const a of attacks) {
    await t.step(a, async () => {
      const [n, hit] = await flagged(`${a}.pcap`);
      assert.ok(n > 0, `${a}: no attack flows`);
      assert.ok(hit >= 0.9 * n, `${a}: ${hit} of ${n} attack flows flagged`);
    });
  }
});

Deno.test("the shipped model leaves held-out benign traffic mostly alone", async () => {
  const [att, , n, hit] = await flagged("benign_holdout.pcap");
  assert.equal(att, 0);
  assert.ok(n > 100, `${n} flows`);
  // The threshold targets 1% false positives; allow for a small sample.
  assert.ok(hit / n <= 0.04, `${hit} of ${n} held-out benign flows flagged`);
});

Deno.test("the model neither learns nor flags the LAN's control traffic: IGMP, mDNS, SSDP, DHCP of the held-out LAN capture", async () => {
  const flagged = new Map<string, number>();
  let control = 0, scored = 0;
  const scorer = createAnomalyScorer(shipped, () => {});
  const counting: FlowObserver = {
    onPacket: (p, ctx) => scorer.onPacket!(p, ctx),
    onFlowEnd(f, reason) {
      const before = scorer.counters.flagged;
      const seen = scorer.counters.scored;
      scorer.onFlowEnd!(f, reason);
      if (scorer.counters.scored === seen) control++;
      else scored++;
      if (scorer.counters.flagged > before) {
        const k = `${f.proto}/${Math.min(f.srcPort, f.dstPort)}`;
        flagged.set(k, (flagged.get(k) ?? 0) + 1);
      }
    },
  };
  await run("benign_lan_holdout.pcap", new Pipeline({ observers: [counting] }));
  // IGMP joins, mDNS, SSDP and DHCP flows are passed over, not scored.
  assert.ok(control >= 50, `${control} control flows`);
  for (const k of ["2/0", "17/5353", "17/1900", "17/67"]) {
    assert.equal(flagged.get(k) ?? 0, 0, `${k}: ${[...flagged]}`);
  }
  assert.ok(scored > 800, `${scored} flows scored`);
});
