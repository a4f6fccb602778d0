import assert from "node:assert/strict";
import { AlertAggregator, defaultPolicy, parsePolicy } from "../alerts/mod.ts";
import { readCaptureFile } from "../capture/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { createDetectors } from "./mod.ts";

const CORPUS = new URL("../../shared/pcaps/tcpdump-tests/", import.meta.url);

Deno.test("every detector runs over the whole tcpdump corpus without an exception", async () => {
  const names: string[] = [];
  for await (const e of Deno.readDir(CORPUS)) {
    if (e.isFile && /\.(pcap|pcapng)$/.test(e.name)) names.push(e.name);
  }
  names.sort();
  assert.ok(names.length >= 800, `corpus has ${names.length} files`);
  // Tight caps and thresholds, so eviction and every alert path are exercised.
  const tight = parsePolicy({
    detectors: {
      port_scan: { ports: 2, max_trackers: 16 },
      host_sweep: { hosts: 2, hosts_external: 2, max_trackers: 16 },
      syn_flood: { pps: 2, max_targets: 16 },
      udp_flood: { pps: 2, max_targets: 16 },
      icmp_flood: { pps: 2, max_targets: 16 },
      brute_force: {
        attempts: 2,
        http_401: 2,
        http_posts: 2,
        max_trackers: 16,
      },
      dns_tunnel: {
        encoded_queries: 1,
        unique_names: 2,
        rrtype_queries: 1,
        max_trackers: 16,
      },
    },
    aggregation: { max_open: 8 },
  });
  let packets = 0, alerts = 0;
  for (const policy of [defaultPolicy(), tight]) {
    for (const name of names) {
      const agg = new AlertAggregator({
        policy,
        onFinal: (a) => {
          alerts++;
          JSON.stringify(a);
        },
      });
      const pipeline = new Pipeline({
        observers: [...createDetectors(policy, agg.emit), agg.observer()],
      });
      for await (
        const batch of readCaptureFile(new URL(name, CORPUS).pathname)
      ) {
        pipeline.processBatch(batch);
      }
      pipeline.finish();
      packets += pipeline.counters.packets;
    }
  }
  assert.ok(packets > 10_000, `${packets} packets`);
  assert.ok(alerts > 0);
});
