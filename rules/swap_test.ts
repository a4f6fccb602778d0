/**
 * Swapping the rule set in a running pipeline (what the appliance does
 * after `rules update`) between two batches: every packet is inspected by
 * exactly one of the two engines, and the new set's rules fire from the
 * next batch on.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PolicyHolder } from "../alerts/mod.ts";
import type { Detection } from "../alerts/mod.ts";
import { DetectorSet } from "../appliance/detector_set.ts";
import { readCaptureFile } from "../capture/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { RuleEngine } from "./engine.ts";
import { signatureDetector } from "./detector.ts";
import { loadText } from "./_testing.ts";

const PCAP = join(
  import.meta.dirname!,
  "..",
  "tests",
  "fixtures",
  "brute_http.pcap",
);

const HYDRA =
  'alert http any any -> any any (msg:"hydra"; flow:to_server; http.user_agent; content:"(Hydra)"; sid:1;)';
const BASIC =
  'alert http any any -> any any (msg:"basic"; flow:to_server; http.header; content:"Authorization|3a 20|Basic"; sid:2;)';

type Batch = Parameters<Pipeline["processBatch"]>[0];

/** The capture's frames in batches of 16 (as a live source hands them over). */
async function batches(): Promise<Batch[]> {
  const out: Batch[] = [];
  const r = readCaptureFile(PCAP);
  for (let x = await r.next(); !x.done; x = await r.next()) {
    const b = x.value;
    for (let i = 0; i < b.count; i += 16) {
      const n = Math.min(16, b.count - i);
      out.push({
        count: n,
        data: b.data,
        offsets: b.offsets.slice(i, i + n),
        caplens: b.caplens.slice(i, i + n),
        wirelens: b.wirelens.slice(i, i + n),
        tsUs: b.tsUs.slice(i, i + n),
        linktypes: b.linktypes.slice(i, i + n),
      });
    }
  }
  return out;
}

function run(
  all: Batch[],
  swapAt: number,
): { a: RuleEngine; b: RuleEngine; got: Detection[]; packets: number } {
  const a = new RuleEngine(loadText(HYDRA).rules, () => {});
  const b = new RuleEngine(loadText(`${HYDRA}\n${BASIC}`).rules, () => {});
  const got: Detection[] = [];
  const set = new DetectorSet(new PolicyHolder(), (d) => {
    if (d.type === "signature") got.push(d);
  }, {
    extra: [signatureDetector(a)],
  });
  const pipeline = new Pipeline({ observers: [set] });
  all.forEach((batch, i) => {
    if (i === swapAt) set.setExtra([signatureDetector(b)]);
    pipeline.processBatch(batch);
  });
  pipeline.finish();
  return { a, b, got, packets: pipeline.counters.packets };
}

Deno.test("a rule set swapped between batches inspects every packet once and its new rules fire at once", async () => {
  const all = await batches();
  assert.ok(all.length >= 2, `only ${all.length} batch(es)`);
  const whole = run(all, all.length); // never swapped
  const half = Math.floor(all.length / 2);
  const swapped = run(all, half);
  assert.equal(swapped.packets, whole.packets);
  assert.equal(
    swapped.a.counters.inspections + swapped.b.counters.inspections,
    whole.a.counters.inspections,
  );
  assert.ok(swapped.b.counters.inspections > 0);
  assert.ok(whole.got.length > 0);
  assert.ok(whole.got.every((d) => d.signatureId === 1));
  assert.ok(
    swapped.got.some((d) => d.signatureId === 2),
    "the new rule never fired",
  );
});
