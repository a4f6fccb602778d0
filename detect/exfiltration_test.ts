import assert from "node:assert/strict";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const HOST = "10.99.0.21", USUAL = "203.0.113.66", NEW = "192.0.2.99";

/** An upload of `bytes` in full-size segments, the server acknowledging. */
function upload(t: Traffic, dst: string, port: number, bytes: number): Traffic {
  t.syn(HOST, port, dst, 443);
  t.tcp(dst, 443, HOST, port, 0x12);
  t.tcp(HOST, port, dst, 443, 0x10);
  const seg = new Uint8Array(1448);
  for (let sent = 0; sent < bytes; sent += seg.length) {
    t.tcp(HOST, port, dst, 443, 0x18, { payload: seg });
    if ((sent / seg.length) % 8 === 0) t.tcp(dst, 443, HOST, port, 0x10);
  }
  t.tcp(dst, 443, HOST, port, 0x18, { payload: "HTTP/1.1 200 OK\r\n\r\n" });
  t.tcp(HOST, port, dst, 443, 0x11);
  t.tcp(dst, 443, HOST, port, 0x11);
  return t.tcp(HOST, port, dst, 443, 0x10);
}

function usualDays(): Traffic {
  const t = new Traffic();
  for (let i = 0; i < 8; i++) {
    upload(t, USUAL, 40000 + i, 20_000 + 1000 * i);
    t.wait(30);
  }
  return t;
}

Deno.test("exfiltration names the host, bytes, duration and a new destination", () => {
  const t = upload(usualDays(), NEW, 41000, 12_000_000);
  const { alerts } = run(t, { only: ["exfiltration"], batchSize: 4096 });
  const a = ofType(alerts, "exfiltration");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.src_ip, HOST);
  assert.equal(a[0]!.dest_ip, NEW);
  const e = a[0]!.netsentinel.evidence;
  assert.ok((e.bytes_sent as number) >= 12_000_000);
  assert.equal(e.prior_connections, 0);
  assert.ok(
    (e.usual_bytes as number) > 20_000 && (e.usual_bytes as number) < 30_000,
  );
  assert.equal(typeof e.duration_s, "number");
  assert.equal(e.destination, `${NEW}:443`);
});

Deno.test("exfiltration stays quiet for a big upload to a destination in regular use", () => {
  const t = usualDays();
  for (let i = 0; i < 3; i++) upload(t, NEW, 42000 + i, 30_000);
  upload(t, NEW, 41000, 12_000_000);
  const { alerts } = run(t, { only: ["exfiltration"], batchSize: 4096 });
  assert.deepEqual(alerts, []);
});

Deno.test("exfiltration stays quiet below min_bytes, for downloads and inside transfers", () => {
  const small = upload(usualDays(), NEW, 41000, 2_000_000);
  assert.deepEqual(
    run(small, { only: ["exfiltration"], batchSize: 4096 }).alerts,
    [],
  );
  const inside = new Traffic();
  upload(inside, "10.99.0.10", 41000, 12_000_000);
  assert.deepEqual(
    run(inside, { only: ["exfiltration"], batchSize: 4096 }).alerts,
    [],
  );
  // A host that always uploads a lot: 12 MB is its usual (its very first
  // big uploads, with no history yet, were reported).
  const backup = new Traffic();
  for (let i = 0; i < 6; i++) upload(backup, USUAL, 40000 + i, 11_000_000);
  upload(backup, NEW, 41000, 12_000_000);
  const seen = run(backup, { only: ["exfiltration"], batchSize: 4096 }).alerts;
  assert.ok(seen.length > 0);
  assert.deepEqual(seen.filter((a) => a.dest_ip === NEW), []);
});
