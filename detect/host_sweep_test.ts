import assert from "node:assert/strict";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../decode/mod.ts";
import { DEFAULT_BLOCK_POLICY, isConfirmedSource } from "../respond/mod.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const A = "10.99.0.66";

Deno.test("host sweep: ICMP echo requests to many hosts raise one icmp sweep alert", () => {
  const t = new Traffic();
  for (let h = 1; h <= 50; h++) {
    t.icmp(A, `10.99.0.${100 + h}`, 8);
    if (h % 2) t.icmp(`10.99.0.${100 + h}`, A, 0);
  }
  const r = run(t);
  const sw = ofType(r.alerts, "host_sweep");
  assert.equal(sw.length, 1);
  assert.equal(sw[0]!.src_ip, A);
  assert.equal(sw[0]!.alert.signature_id, 1000101);
  assert.equal(sw[0]!.netsentinel.evidence.distinct_hosts, 50);
  assert.equal(sw[0]!.dest_ip, undefined);
});

Deno.test("host sweep: SYNs to port 22 across hosts raise a tcp sweep alert with the port", () => {
  const t = new Traffic();
  for (let h = 1; h <= 30; h++) {
    const v = `10.99.0.${100 + h}`;
    t.craftedSyn(A, 50000 + h, v, 22);
    if (h % 3 === 0) {
      t.tcp(v, 22, A, 50000 + h, TCP_SYN | TCP_ACK).tcp(
        A,
        50000 + h,
        v,
        22,
        TCP_RST,
      );
    } else t.tcp(v, 22, A, 50000 + h, TCP_RST | TCP_ACK);
  }
  const [a] = ofType(run(t).alerts, "host_sweep");
  assert.equal(a?.dest_port, 22);
  assert.equal(a?.alert.signature_id, 1000102);
  assert.equal(a?.netsentinel.evidence.distinct_hosts, 30);
});

Deno.test("host sweep: a few pings and a resolver answering many clients raise nothing", () => {
  const t = new Traffic();
  for (let h = 1; h <= 5; h++) {
    t.icmp("10.99.0.20", `10.99.0.${h}`, 8).icmp(
      `10.99.0.${h}`,
      "10.99.0.20",
      0,
    );
  }
  for (let c = 1; c <= 60; c++) {
    const client = `10.99.0.${100 + c}`;
    t.udp(client, 40000 + c, "10.99.0.10", 53, "q").udp(
      "10.99.0.10",
      53,
      client,
      40000 + c,
      "a",
    );
  }
  // A web client's successful connections to many outside servers.
  for (let s = 1; s <= 40; s++) {
    t.connection("10.99.0.20", 41000 + s, `198.51.100.${s}`, 443, {
      request: "x",
      answer: "y",
    });
  }
  assert.deepEqual(ofType(run(t).alerts, "host_sweep"), []);
});

Deno.test("host sweep: failures toward outside hosts need the higher external threshold", () => {
  const mk = (n: number) => {
    const t = new Traffic();
    for (let s = 1; s <= n; s++) {
      t.syn("10.99.0.20", 42000 + s, `198.51.100.${s}`, 6881).wait(1);
    }
    return ofType(run(t).alerts, "host_sweep");
  };
  assert.equal(mk(20).length, 0);
  const [a] = mk(30);
  assert.equal(a?.netsentinel.evidence.targets, "outside home_net");
  void TCP_ACK;
});

Deno.test("host sweep: four sources splitting a sweep of port 22 raise one distributed sweep naming them", () => {
  const t = new Traffic();
  let h = 0;
  for (let s = 1; s <= 4; s++) {
    const src = `10.99.0.${70 + s}`;
    for (let k = 0; k < 3; k++, h++) {
      const v = `10.99.0.${100 + h}`;
      t.craftedSyn(src, 50000 + h, v, 22);
      t.tcp(v, 22, src, 50000 + h, TCP_RST | TCP_ACK);
    }
  }
  const sw = ofType(run(t).alerts, "host_sweep");
  assert.equal(sw.length, 1, "no source reached 8 hosts alone");
  assert.equal(sw[0]!.alert.signature_id, 1001002);
  assert.equal(sw[0]!.dest_port, 22);
  const e = sw[0]!.netsentinel.evidence;
  assert.equal(e.distinct_hosts, 12);
  assert.equal(e.distinct_sources, 4);
  assert.equal((e.sources as string[]).length, 4);
  assert.equal(e.confirmed_source, false);
});

const DECOYS = ["10.99.0.201", "10.99.0.202", "10.99.0.203", "10.99.0.204"];
const ORDER = [DECOYS[0]!, DECOYS[1]!, A, DECOYS[2]!, DECOYS[3]!];

Deno.test("host sweep: nmap -D decoys of a SYN sweep on port 22 give one alert naming the sweeper, the only source that reset the SYN+ACKs, decoys listed", () => {
  const t = new Traffic();
  let sp = 41000;
  for (let h = 1; h <= 20; h++) {
    const host = `10.99.0.${h}`;
    for (const src of ORDER) {
      t.craftedSyn(src, sp, host, 22);
      // On one LAN only the sweeper gets the answers.
      if (src === A) {
        t.tcp(host, 22, A, sp, TCP_SYN | TCP_ACK);
        t.tcp(A, sp, host, 22, TCP_RST);
      }
    }
    sp++;
  }
  const r = run(t);
  const sweeps = ofType(r.alerts, "host_sweep");
  assert.equal(sweeps.length, 1, sweeps.map((a) => a.src_ip).join());
  const e = sweeps[0]!.netsentinel.evidence;
  assert.equal(sweeps[0]!.src_ip, A);
  assert.deepEqual(e.decoys, DECOYS);
  assert.equal(e.confirmed_source, true);
  for (const { alert } of r.live) {
    if (alert.netsentinel.type !== "host_sweep") continue;
    assert.ok(
      !DECOYS.includes(alert.src_ip) ||
        !isConfirmedSource(alert, DEFAULT_BLOCK_POLICY),
      alert.netsentinel.explanation,
    );
  }
});

Deno.test("host sweep: an ICMP sweep among decoys is one alert that blocks no one (nobody answers echo replies)", () => {
  const t = new Traffic();
  for (let h = 1; h <= 20; h++) {
    const host = `10.99.0.${h}`;
    for (const src of ORDER) {
      t.icmp(src, host, 8);
      if (src === A) t.icmp(host, A, 0);
    }
  }
  const r = run(t);
  const sweeps = ofType(r.alerts, "host_sweep");
  assert.equal(sweeps.length, 1, sweeps.map((a) => a.src_ip).join());
  const e = sweeps[0]!.netsentinel.evidence;
  assert.deepEqual(e.sources, [...DECOYS, A].sort());
  assert.equal(e.confirmed_source, false);
  for (const { alert } of r.live) {
    if (alert.netsentinel.type !== "host_sweep") continue;
    assert.equal(isConfirmedSource(alert, DEFAULT_BLOCK_POLICY), false);
  }
});
