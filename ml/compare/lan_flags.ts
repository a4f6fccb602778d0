/**
 * How many flows of each kind of LAN traffic a model flags: IGMP, mDNS,
 * SSDP, DHCP, NTP, ssh, DNS, web and the rest, per capture, and how many
 * flows of the lab's attackers (clients other than its well-behaved hosts)
 * against the others. The measurement behind ml/README.md's tables (before
 * and after a model change).
 *
 *   deno run -A ml/compare/lan_flags.ts [--model data/model.json] \
 *     tests/fixtures/benign_lan_holdout.pcap tests/fixtures/benign_holdout.pcap
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readCaptureFile } from "../../capture/mod.ts";
import { Pipeline } from "../../engine/mod.ts";
import type { Flow } from "../../flows/mod.ts";
import { formatAddr } from "../../decode/mod.ts";
import { readModelFile, SHIPPED_MODEL_URL } from "../model.ts";
import { createAnomalyScorer } from "../scorer.ts";

/** Lab hosts that only ever behave (tests/lab/make_fixtures.sh, lab 1). */
export function isLabHost(ip: string): boolean {
  if (ip.startsWith("198.51.100.")) return true;
  const m = /^10\.99\.0\.(\d+)$/.exec(ip);
  return m !== null && Number(m[1]) !== 66;
}

/** The kind of LAN traffic a flow is, by protocol and port. */
export function lanKind(f: Flow): string {
  if (f.proto === 2) return "IGMP";
  const port = (p: number) => f.dstPort === p || f.srcPort === p;
  if (f.proto === 17) {
    if (port(5353)) return "mDNS";
    if (port(1900)) return "SSDP";
    if (port(67) || port(68)) return "DHCP";
    if (port(123)) return "NTP";
    if (port(53)) return "DNS";
    return "other UDP";
  }
  if (f.proto === 6) {
    if (port(22)) return "ssh";
    if (port(80) || port(443)) return "web";
    return "other TCP";
  }
  if (f.proto === 1 || f.proto === 58) return "ICMP";
  return "other";
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { model: { type: "string" } },
    allowPositionals: true,
  });
  const model = await readModelFile(
    values.model
      ? new URL(values.model, `file://${Deno.cwd()}/`)
      : SHIPPED_MODEL_URL,
  );
  for (const path of positionals) {
    const counts = new Map<string, [number, number]>();
    const attack = [0, 0], other = [0, 0];
    const scorer = createAnomalyScorer(model, () => {});
    const pipeline = new Pipeline({
      observers: [{
        onPacket: (p, ctx) => scorer.onPacket!(p, ctx),
        onFlowEnd(f, reason) {
          const before = scorer.counters.flagged;
          scorer.onFlowEnd!(f, reason);
          const hit = scorer.counters.flagged > before ? 1 : 0;
          const c = counts.get(lanKind(f)) ?? [0, 0];
          c[0]++;
          c[1] += hit;
          counts.set(lanKind(f), c);
          const who = isLabHost(formatAddr(f.version, f.srcAddr))
            ? other
            : attack;
          who[0]!++;
          who[1]! += hit;
        },
      }],
    });
    const reader = readCaptureFile(path);
    let r = await reader.next();
    while (!r.done) {
      pipeline.processBatch(r.value);
      r = await reader.next();
    }
    pipeline.finish();
    let n = 0, hit = 0;
    const parts: string[] = [];
    for (const [k, [a, b]] of [...counts].sort()) {
      n += a;
      hit += b;
      parts.push(`${k} ${b}/${a}`);
    }
    Deno.stdout.writeSync(
      new TextEncoder().encode(
        `${path}: ${hit}/${n} flagged (attack ${attack[1]}/${
          attack[0]
        }, other ${other[1]}/${other[0]}); ${parts.join(", ")}\n`,
      ),
    );
  }
}
