import assert from "node:assert/strict";
import { Pipeline } from "../engine/mod.ts";
import { applianceMetrics, renderMetrics } from "./metrics.ts";

Deno.test("renderMetrics() writes HELP, TYPE and escaped labels, merging families of one name", () => {
  const text = renderMetrics([
    {
      name: "a_total",
      type: "counter",
      help: "A\nthing",
      samples: [{ value: 1 }],
    },
    {
      name: "b",
      type: "gauge",
      help: "B",
      samples: [{ labels: { k: 'x"y\\z\n' }, value: 2.5 }],
    },
    {
      name: "a_total",
      type: "counter",
      help: "ignored",
      samples: [{ labels: { t: "z" }, value: Infinity }],
    },
  ]);
  assert.equal(
    text,
    [
      "# HELP a_total A\\nthing",
      "# TYPE a_total counter",
      "a_total 1",
      'a_total{t="z"} +Inf',
      "# HELP b B",
      "# TYPE b gauge",
      'b{k="x\\"y\\\\z\\n"} 2.5',
      "",
    ].join("\n"),
  );
});

Deno.test("applianceMetrics() covers packets, decode errors by reason, flows, capture drops, KV batches and blocks", () => {
  const p = new Pipeline();
  const text = renderMetrics(applianceMetrics({
    pipeline: p,
    capture: { recv: 10, drop: 2, ifdrop: 0, overflow: 1 },
    writer: {
      flushes: 3,
      commits: 4,
      mutations: 50,
      errors: 0,
      dropped: 0,
      pending: 1,
    },
    blocker: {
      active_blocks: 1,
      blocked_total: 2,
      refused_total: 3,
      would_block_total: 0,
      nft_errors: 0,
    },
  }));
  for (
    const line of [
      "netsentinel_packets_total 0",
      'netsentinel_capture_drops_total{where="kernel"} 2',
      "netsentinel_kv_write_batches_total 3",
      "netsentinel_blocks_refused_total 3",
      "netsentinel_flows 0",
      'netsentinel_tunnel_packets_total{type="vxlan"} 0',
      'netsentinel_defrag_total{what="reassembled"} 0',
      'netsentinel_defrag_anomalies_total{anomaly="frag_teardrop"} 0',
      "netsentinel_defrag_memory_bytes 0",
    ]
  ) {
    assert.ok(text.includes(line + "\n"), line);
  }
  assert.match(
    text,
    /^netsentinel_decode_errors_total\{reason="[a-z0-9_]+"\} 0$/m,
  );
});

Deno.test("applianceMetrics() exports the reassembly and app-layer counters of a real pipeline", async () => {
  const { readCaptureFile } = await import("../capture/mod.ts");
  const { resegment } = await import("../tests/tools/resegment.ts");
  const file = new URL(
    "../tests/fixtures/http_keepalive.pcap",
    import.meta.url,
  );
  // Rewritten with differing overlapping copies, so every counter moves.
  const { bytes } = resegment(await Deno.readFile(file), {
    sizes: "random",
    maxSize: 200,
    window: 4,
    differ: 1,
    seed: 5,
  });
  const tmp = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await Deno.writeFile(tmp, bytes);
    const pipeline = new Pipeline({ observers: [{ onApp() {} }] });
    for await (const b of readCaptureFile(tmp)) pipeline.processBatch(b);
    pipeline.finish();
    const text = renderMetrics(applianceMetrics({ pipeline }));
    const value = (line: string) => {
      const m = text.split("\n").find((l) => l.startsWith(line + " "));
      assert.ok(m, `${line} in /metrics`);
      return Number(m.split(" ").at(-1));
    };
    assert.ok(value("netsentinel_stream_reassembled_bytes_total") > 10_000);
    assert.ok(value("netsentinel_stream_held_segments_total") > 0);
    assert.equal(value("netsentinel_stream_held_bytes"), 0);
    assert.ok(value("netsentinel_stream_overlaps_differing_total") > 0);
    assert.equal(
      value('netsentinel_stream_dropped_bytes_total{reason="memcap"}'),
      0,
    );
    assert.equal(value('netsentinel_app_flows_total{proto="http"}'), 3);
    assert.equal(value('netsentinel_app_records_total{kind="http"}'), 18);
  } finally {
    await Deno.remove(tmp);
  }
});
