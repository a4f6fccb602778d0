import assert from "node:assert/strict";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../decode/mod.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const V = "10.99.0.10";

function spoofed(i: number): string {
  return `${11 + (i % 200)}.${(i >> 3) & 255}.${(i * 7) & 255}.${
    (i * 13) & 255
  }`;
}

Deno.test("syn flood: spoofed SYNs name the target, the top sources and a distinct-source estimate", () => {
  const t = new Traffic();
  for (let i = 0; i < 3000; i++) {
    const s = spoofed(i);
    t.tcp(s, 1024 + (i % 60000), V, 80, TCP_SYN);
    t.tcp(V, 80, s, 1024 + (i % 60000), TCP_SYN | TCP_ACK);
    t.tUs += 200; // ~4000 SYNs per second
  }
  const r = run(t);
  const fl = ofType(r.alerts, "syn_flood");
  assert.equal(fl.length, 1);
  const a = fl[0]!;
  assert.equal(a.dest_ip, V);
  assert.equal(a.dest_port, 80);
  const ev = a.netsentinel.evidence;
  assert.ok((ev.peak_pps as number) >= 500);
  assert.ok(Array.isArray(ev.top_sources) && ev.top_sources.length > 0);
  assert.ok(
    (ev.distinct_sources_est as number) > 1000,
    String(ev.distinct_sources_est),
  );
  assert.equal(ev.spoofed_likely, true);
  assert.equal(a.netsentinel.count, 3000);
  // The spoofed sources are not scanners and the victim is not one either.
  assert.deepEqual(ofType(r.alerts, "port_scan"), []);
});

Deno.test("syn flood: a busy server completing its handshakes is not flooded", () => {
  const t = new Traffic();
  for (let i = 0; i < 3000; i++) {
    const c = `10.99.${1 + (i >> 8)}.${i & 255}`;
    t.syn(c, 40000, V, 443).tcp(V, 443, c, 40000, TCP_SYN | TCP_ACK).tcp(
      c,
      40000,
      V,
      443,
      TCP_ACK,
    );
    t.tUs += 100;
  }
  assert.deepEqual(ofType(run(t).alerts, "syn_flood"), []);
});

Deno.test("udp flood: one source's datagrams at thousands per second raise udp_flood naming it", () => {
  const t = new Traffic();
  for (let i = 0; i < 4000; i++) {
    t.udp("10.99.0.66", 2000 + (i % 1000), V, 5060, "x".repeat(200));
    t.tUs += 200;
  }
  const [a] = ofType(run(t).alerts, "udp_flood");
  assert.equal(a?.src_ip, "10.99.0.66");
  assert.equal(a?.dest_ip, V);
  assert.equal(a?.netsentinel.evidence.spoofed_likely, false);
});

Deno.test("udp flood: a busy DNS server that answers is not flooded", () => {
  const t = new Traffic();
  for (let i = 0; i < 5000; i++) {
    const c = `10.99.0.${20 + (i % 50)}`;
    t.udp(c, 30000 + i, V, 53, "q").udp(V, 53, c, 30000 + i, "a");
    t.tUs += 100;
  }
  assert.deepEqual(ofType(run(t).alerts, "udp_flood"), []);
});

Deno.test("icmp flood: echo requests at thousands per second raise icmp_flood", () => {
  const t = new Traffic();
  for (let i = 0; i < 3000; i++) {
    t.icmp("10.99.0.66", V, 8).icmp(V, "10.99.0.66", 0);
    t.tUs += 200;
  }
  const r = run(t);
  const [a] = ofType(r.alerts, "icmp_flood");
  assert.equal(a?.src_ip, "10.99.0.66");
  assert.equal(a?.proto, "ICMP");
  assert.deepEqual(ofType(r.alerts, "host_sweep"), []);
  void TCP_RST;
});

Deno.test("floods: a steady rate that is the target's baseline needs the factor, not just the floor", () => {
  const t = new Traffic();
  // 600 pings a second for two minutes: the floor (500) is passed from the start.
  for (let s = 0; s < 120; s++) {
    for (let i = 0; i < 600; i++) {
      t.icmp("10.99.0.20", V, 8);
      t.tUs += Math.floor(1e6 / 600) - 50;
    }
  }
  const [a] = ofType(run(t).alerts, "icmp_flood");
  // The first seconds alert (baseline 0), then the baseline catches up and
  // the episode ends: one alert, not one per second.
  assert.ok(a);
  assert.equal(ofType(run(t).alerts, "icmp_flood").length, 1);
});
