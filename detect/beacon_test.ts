import assert from "node:assert/strict";
import { prng } from "../decode/_test_frames.ts";
import { dispersionScores, type SampleScores } from "./beacon.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const HOST = "10.99.0.22", C2 = "203.0.113.66";
const REQUEST = "GET /api/status HTTP/1.1\r\nHost: c2.example\r\n\r\n";

/** `n` check-ins every `period` s with uniform jitter of ±`jitter` s. */
function checkIns(
  n: number,
  period: number,
  jitter: number,
  o: { port?: number; seed?: number; request?: string } = {},
): Traffic {
  const rnd = prng(o.seed ?? 5);
  const t = new Traffic();
  for (let i = 0; i < n; i++) {
    t.connection(HOST, 40000 + i, C2, o.port ?? 8080, {
      request: o.request ?? REQUEST,
      answer: "HTTP/1.1 200 OK\r\n\r\n{}",
    });
    t.wait(period + (rnd() * 2 - 1) * jitter);
  }
  return t;
}

Deno.test("beacon names the host, the interval and the jitter of jittered check-ins", () => {
  const { alerts } = run(checkIns(30, 5, 1), { only: ["beacon"] });
  const a = ofType(alerts, "beacon");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.src_ip, HOST);
  assert.equal(a[0]!.dest_ip, C2);
  assert.equal(a[0]!.dest_port, 8080);
  const e = a[0]!.netsentinel.evidence;
  assert.ok(Math.abs((e.interval_s as number) - 5) < 0.5, `${e.interval_s}`);
  assert.ok((e.jitter_s as number) > 0.1 && (e.jitter_s as number) < 1);
  assert.ok((e.score as number) >= 0.8);
  assert.equal(e.connections, 30);
});

Deno.test("beacon stays quiet for irregular use of one site and too few check-ins", () => {
  // Exponential gaps (a person): mean 20 s.
  const rnd = prng(9);
  const t = new Traffic();
  for (let i = 0; i < 40; i++) {
    const size = 100 + Math.floor(rnd() * 3000);
    t.connection(HOST, 41000 + i, C2, 443, { request: "x".repeat(size) });
    t.wait(-Math.log(1 - rnd()) * 20);
  }
  assert.deepEqual(ofType(run(t, { only: ["beacon"] }).alerts, "beacon"), []);
  const few = checkIns(8, 5, 1);
  assert.deepEqual(ofType(run(few, { only: ["beacon"] }).alerts, "beacon"), []);
});

Deno.test("beacon skips the allowed ports and domains (NTP, update checks)", () => {
  const ntp = new Traffic();
  for (let i = 0; i < 30; i++) {
    ntp.udp(HOST, 123, C2, 123, new Uint8Array(48));
    ntp.udp(C2, 123, HOST, 123, new Uint8Array(48));
    ntp.wait(64);
  }
  assert.deepEqual(run(ntp, { only: ["beacon"] }).alerts, []);
  const update = checkIns(30, 5, 0.2, {
    request: "GET /check HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n",
  });
  assert.deepEqual(run(update, { only: ["beacon"] }).alerts, []);
  // The same traffic without the allowlist is a beacon.
  const policy = { detectors: { beacon: { allow_domains: [] } } };
  const again = checkIns(30, 5, 0.2, {
    request: "GET /check HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n",
  });
  assert.equal(run(again, { only: ["beacon"], policy }).alerts.length, 1);
});

Deno.test("beacon keeps bounded state under many destinations", () => {
  const t = new Traffic();
  for (let i = 0; i < 3000; i++) {
    t.connection(
      HOST,
      1024 + (i % 60000),
      `198.51.${(i >> 8) & 255}.${i & 255}`,
      443,
    );
  }
  const policy = { detectors: { beacon: { max_trackers: 100 } } };
  const { detectors, alerts } = run(t, { only: ["beacon"], policy });
  assert.ok(detectors[0]!.stateSize() <= 100);
  assert.deepEqual(alerts, []);
});

Deno.test("dispersionScores() follows RITA: symmetric samples score 1, skewed and spread ones less", () => {
  const out: SampleScores = { skew: 0, madm: 0, median: 0, madmValue: 0 };
  const scratch = new Float64Array(16);
  dispersionScores(Float64Array.from([10, 10, 10, 10, 10]), 5, scratch, out);
  assert.deepEqual(out, { skew: 1, madm: 1, median: 10, madmValue: 0 });
  dispersionScores(Float64Array.from([4, 5, 6, 5, 4, 6, 5]), 7, scratch, out);
  assert.equal(out.skew, 1);
  assert.equal(out.median, 5);
  assert.equal(out.madmValue, 1);
  assert.equal(out.madm, 0.8);
  // Skewed: most gaps short, a long tail.
  dispersionScores(
    Float64Array.from([1, 1, 1, 2, 2, 9, 30, 60]),
    8,
    scratch,
    out,
  );
  assert.ok(out.skew < 0.5, `${out.skew}`);
  assert.equal(out.madm, 0.5, "MADM 1 about a median of 2");
});
