/**
 * The re-segmenting property: every TCP connection of the fixture captures
 * (recorded with real tools by tests/lab/make_fixtures.sh: the attack and
 * benign lab captures, HTTP keep-alive and pipelining with curl and
 * netcat, DNS over TCP with dig against dnsmasq, TLS 1.2 and 1.3 with
 * openssl and curl) is rewritten by tests/tools/resegment.ts as 1-byte
 * segments, or as segments of random sizes reordered within a window,
 * with duplicated and overlapping (identical) retransmissions, the
 * client's first bytes on its SYN and FINs moved; `analyze` must give the
 * same dns, http and tls records and the same alerts as on the original.
 * A variant that also sends differing copies of out-of-order bytes shows
 * the overlap policy (first data wins: the records do not change) and the
 * counted stream event.
 *
 * Compared: every record but its timestamp (a record is stamped with the
 * packet that completed it, which a reordering may change) and flow id (a
 * flow idle past its timeout ends at the next batch's expiry, and batch
 * boundaries move when frames are added: a UDP flow silent for 75 s may
 * continue or start anew), and the alerts
 * of the rule detectors by type, source, target and signature (the
 * Isolation Forest and signature rules are not run here: the first scores
 * packet counts and sizes, which re-segmenting changes by design). Two
 * detectors read the wire's shape rather than its bytes, and are exempt
 * where the rewrite changes that shape: `brute_force` against SSH in the
 * 1-byte variant (it judges encrypted logins by their packets' count and
 * sizes, the only place the outcome shows), and `beacon` in the variants
 * with retransmissions (it scores each connection's payload bytes on the
 * wire, which a retransmission adds to).
 */
import assert from "node:assert/strict";
import { analyzeFiles } from "../cli/analyze.ts";
import type { EveRecord } from "../events/mod.ts";
import { resegment, type ResegmentOptions } from "./tools/resegment.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

interface Seen {
  records: string[];
  alerts: string[];
  anomalies: number;
  differing: number;
}

async function analyze(path: string): Promise<Seen> {
  const records: string[] = [], alerts: string[] = [];
  let anomalies = 0;
  const stats = await analyzeFiles([path], {
    events: new Set(["alert", "dns", "http", "tls", "anomaly"]),
    sink: (rec: EveRecord) => {
      if (rec.event_type === "alert") {
        const n = rec.netsentinel as {
          type: string;
          evidence: { service?: string };
        };
        const a = rec.alert as { signature_id: number };
        const ssh = n.type === "brute_force" && n.evidence.service === "ssh";
        const shape = ssh ? " ssh" : n.type === "beacon" ? " wire" : "";
        alerts.push(
          `${n.type} ${rec.src_ip} ${rec.dest_ip} ${a.signature_id}${shape}`,
        );
      } else if (rec.event_type === "anomaly") {
        if ((rec.anomaly as { type: string }).type === "stream") anomalies++;
      } else {
        const { timestamp: _t, flow_id: _f, ...rest } = rec;
        records.push(JSON.stringify(rest));
      }
    },
  });
  assert.equal(
    stats.files[0]?.error,
    null,
    `${path}: ${stats.files[0]?.error}`,
  );
  return {
    records: records.sort(),
    alerts: [...new Set(alerts)].sort(),
    anomalies,
    differing: stats.files[0]?.stream?.overlaps_differing ?? 0,
  };
}

async function fixtures(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(FIXTURES)) {
    if (e.isFile && e.name.endsWith(".pcap")) names.push(e.name);
  }
  return names.sort();
}

const originals = new Map<string, Promise<Seen>>();
function original(name: string): Promise<Seen> {
  let p = originals.get(name);
  if (p === undefined) {
    p = analyze(FIXTURES + name);
    originals.set(name, p);
  }
  return p;
}

async function rewritten(name: string, o: ResegmentOptions): Promise<Seen> {
  const { bytes, stats } = resegment(await Deno.readFile(FIXTURES + name), o);
  assert.ok(stats.framesOut >= stats.framesIn);
  const tmp = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await Deno.writeFile(tmp, bytes);
    return await analyze(tmp);
  } finally {
    await Deno.remove(tmp);
  }
}

function same(name: string, a: Seen, b: Seen, exempt = ""): void {
  assert.deepEqual(b.records, a.records, `${name}: protocol records differ`);
  const keep = (x: string) => exempt === "" || !x.endsWith(exempt);
  assert.deepEqual(
    b.alerts.filter(keep),
    a.alerts.filter(keep),
    `${name}: alerts differ`,
  );
}

/** The captures whose TCP connections carry the protocols parsed from streams. */
const APP_FIXTURES = [
  "http_keepalive.pcap",
  "dns_tcp.pcap",
  "tls12.pcap",
  "tls13.pcap",
  "malformed_http.pcap",
  "brute_http.pcap",
  "mixed.pcap",
];

Deno.test("resegmenting as 1-byte segments changes no protocol record and no alert", async (t) => {
  const have = await fixtures();
  for (const name of APP_FIXTURES) {
    await t.step(name, async () => {
      assert.ok(have.includes(name), `${name} is a fixture`);
      const a = await original(name);
      assert.ok(a.records.length > 0, `${name} has protocol records`);
      same(name, a, await rewritten(name, { sizes: "one", seed: 1 }), " ssh");
    });
  }
});

Deno.test("resegmenting every fixture at random sizes, reordered, duplicated, overlapping, with SYN data and moved FINs, changes no protocol record and no alert", async (t) => {
  for (const name of await fixtures()) {
    await t.step(name, async () => {
      const a = await original(name);
      for (const seed of [1, 2]) {
        same(
          `${name} seed ${seed}`,
          a,
          await rewritten(name, {
            sizes: "random",
            maxSize: 700,
            window: 8,
            duplicate: 0.15,
            overlap: 0.15,
            synFin: true,
            seed,
          }),
          " wire",
        );
      }
    });
  }
});

Deno.test("differing overlapping bytes: the first copy is kept (records unchanged) and each overlap is an EVE stream anomaly", async (t) => {
  for (
    const name of ["http_keepalive.pcap", "malformed_http.pcap", "tls12.pcap"]
  ) {
    await t.step(name, async () => {
      const a = await original(name);
      assert.equal(a.anomalies, 0);
      const b = await rewritten(name, {
        sizes: "random",
        maxSize: 300,
        differ: 2,
        seed: 3,
      });
      same(name, a, b);
      assert.ok(b.differing > 0, `${name}: overlaps with other bytes counted`);
      assert.equal(b.anomalies, b.differing, "one anomaly record each");
    });
  }
});
