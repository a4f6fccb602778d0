import assert from "node:assert/strict";
import {
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
} from "../decode/mod.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const A = "10.99.0.66", V = "10.99.0.10";
const OPEN = new Set([22, 53, 80]);

function ports(n: number): number[] {
  const out: number[] = [];
  for (let p = 1; out.length < n; p += 7) out.push(p);
  return out;
}

/** Quoted UDP datagram for an ICMP port unreachable from `v` to `a`. */
function quoted(
  a: number[],
  v: number[],
  sport: number,
  dport: number,
): number[] {
  return [
    0,
    0,
    0,
    0,
    0x45,
    0,
    0,
    28,
    0,
    1,
    0,
    0,
    64,
    17,
    0,
    0,
    ...a,
    ...v,
    sport >> 8,
    sport & 255,
    dport >> 8,
    dport & 255,
    0,
    8,
    0,
    0,
  ];
}

Deno.test("port scan: a SYN scan raises one alert naming the scanner, the target and the kind", () => {
  const t = new Traffic();
  let sp = 40000;
  for (const p of ports(200)) {
    t.craftedSyn(A, sp, V, p);
    if (OPEN.has(p)) {
      t.tcp(V, p, A, sp, TCP_SYN | TCP_ACK);
      t.tcp(A, sp, V, p, TCP_RST);
    } else t.tcp(V, p, A, sp, TCP_RST | TCP_ACK);
    sp++;
  }
  const r = run(t);
  const scans = ofType(r.alerts, "port_scan");
  assert.equal(scans.length, 1);
  const a = scans[0]!;
  assert.equal(a.src_ip, A);
  assert.equal(a.dest_ip, V);
  assert.equal(a.alert.signature_id, 1000001);
  const ev = a.netsentinel.evidence;
  assert.equal(ev.scan_kind, "syn");
  assert.equal(ev.distinct_ports, 200);
  assert.equal(a.netsentinel.count, 200);
  assert.equal(ofType(r.alerts, "host_sweep").length, 0);
});

Deno.test("port scan: a connect scan is told apart from a SYN scan by its handshakes and SYN shape", () => {
  const t = new Traffic();
  let sp = 40000;
  for (const p of ports(60)) {
    t.syn(A, sp, V, p);
    if (p === 22) {
      t.tcp(V, p, A, sp, TCP_SYN | TCP_ACK);
      t.tcp(A, sp, V, p, TCP_ACK);
      t.tcp(A, sp, V, p, TCP_RST | TCP_ACK);
    } else t.tcp(V, p, A, sp, TCP_RST | TCP_ACK);
    sp++;
  }
  const [a] = ofType(run(t).alerts, "port_scan");
  assert.equal(a?.netsentinel.evidence.scan_kind, "connect");
  assert.equal(a?.alert.signature, "TCP connect port scan");
});

for (
  const [name, flags, sid] of [
    ["fin", TCP_FIN, 1000003],
    ["xmas", TCP_FIN | TCP_PSH | TCP_URG, 1000004],
    ["null", 0, 1000005],
  ] as const
) {
  Deno.test(`port scan: a ${name.toUpperCase()} scan is counted from refused and unanswered probes`, () => {
    const t = new Traffic();
    let sp = 50000;
    for (const p of ports(40)) {
      t.tcp(A, sp, V, p, flags, { window: 1024 });
      // Closed ports answer RST; open ones stay silent (counted at flow end).
      if (!OPEN.has(p)) t.tcp(V, p, A, sp, TCP_RST | TCP_ACK);
      sp++;
    }
    const [a] = ofType(run(t).alerts, "port_scan");
    assert.equal(a?.netsentinel.evidence.scan_kind, name);
    assert.equal(a?.alert.signature_id, sid);
    assert.equal(a?.netsentinel.evidence.distinct_ports, 40);
  });
}

Deno.test("port scan: an ACK scan is seen through the target's resets", () => {
  const t = new Traffic();
  let sp = 50000;
  for (const p of ports(30)) {
    t.tcp(A, sp, V, p, TCP_ACK).tcp(V, p, A, sp++, TCP_RST);
  }
  const [a] = ofType(run(t).alerts, "port_scan");
  assert.equal(a?.netsentinel.evidence.scan_kind, "ack");
});

Deno.test("port scan: a UDP scan counts ICMP port unreachables and unanswered datagrams", () => {
  const t = new Traffic();
  const a = [10, 99, 0, 66], v = [10, 99, 0, 10];
  let i = 0;
  for (const p of ports(25)) {
    t.udp(A, 45000, V, p);
    // The victim rate-limits its ICMP errors: only every third gets one.
    if (i++ % 3 === 0) t.icmp(V, A, 3, 3, quoted(a, v, 45000, p));
  }
  const [al] = ofType(run(t).alerts, "port_scan");
  assert.equal(al?.netsentinel.evidence.scan_kind, "udp");
  assert.equal(al?.proto, "UDP");
  assert.equal(al?.netsentinel.evidence.distinct_ports, 25);
});

Deno.test("port scan: a slow scan (20 ports, 4 s apart) is caught and marked slow", () => {
  const t = new Traffic();
  let sp = 41000;
  for (const p of ports(20)) {
    t.craftedSyn(A, sp, V, p).tcp(V, p, A, sp++, TCP_RST | TCP_ACK);
    t.wait(4);
  }
  const [a] = ofType(run(t).alerts, "port_scan");
  assert.ok(a);
  assert.equal(a.netsentinel.evidence.slow, true);
  assert.ok((a.netsentinel.evidence.duration_s as number) >= 56);
});

Deno.test("port scan: probes spread wider than the window do not add up", () => {
  const t = new Traffic();
  let sp = 41000;
  for (const p of ports(20)) {
    t.craftedSyn(A, sp, V, p).tcp(V, p, A, sp++, TCP_RST | TCP_ACK);
    t.wait(30); // 20 ports over 10 minutes: under 15 per 5 minutes
  }
  assert.equal(ofType(run(t).alerts, "port_scan").length, 0);
});

Deno.test("port scan: normal clients and a busy server raise nothing", () => {
  const t = new Traffic();
  // Forty clients use the web server; one also has a few refused attempts.
  for (let c = 0; c < 40; c++) {
    const client = `10.99.0.${100 + c}`;
    for (let k = 0; k < 5; k++) {
      t.connection(client, 30000 + k, V, k % 2 ? 80 : 443, {
        request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        answer: "HTTP/1.1 200 OK\r\n\r\n",
      });
    }
  }
  for (const p of [8080, 8443, 3000]) {
    t.syn("10.99.0.20", 33000 + p, V, p).tcp(
      V,
      p,
      "10.99.0.20",
      33000 + p,
      TCP_RST | TCP_ACK,
    );
  }
  // The server refuses forty clients' connections to a closed port.
  for (let c = 0; c < 40; c++) {
    t.syn(`10.99.0.${100 + c}`, 35000, V, 9999).tcp(
      V,
      9999,
      `10.99.0.${100 + c}`,
      35000,
      TCP_RST | TCP_ACK,
    );
  }
  const r = run(t);
  assert.deepEqual(ofType(r.alerts, "port_scan"), []);
  assert.deepEqual(ofType(r.alerts, "host_sweep"), []);
});

Deno.test("port scan: state stays bounded under a flood of spoofed sources", () => {
  const t = new Traffic();
  for (let i = 0; i < 3000; i++) {
    const src = `172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    t.craftedSyn(src, 1024 + (i % 50000), V, 80).tcp(
      V,
      80,
      src,
      1024 + (i % 50000),
      TCP_RST | TCP_ACK,
    );
  }
  const r = run(t, {
    policy: { detectors: { port_scan: { max_trackers: 100 } } },
    only: ["port_scan"],
  });
  const ps = r.detectors.find((d) => d.type === "port_scan")!;
  // Pair trackers and per-target trackers, each table capped at 100.
  assert.ok(ps.stateSize() <= 200, `state ${ps.stateSize()}`);
  assert.equal(r.alerts.length, 0);
});

Deno.test("port scan: five sources splitting 50 ports raise one distributed scan about the target naming them", () => {
  const t = new Traffic();
  let sp = 30000;
  for (let s = 1; s <= 5; s++) {
    for (let p = s * 10 - 9; p <= s * 10; p++) {
      const src = `10.99.0.${70 + s}`;
      t.craftedSyn(src, sp, V, p);
      t.tcp(V, p, src, sp++, TCP_RST | TCP_ACK);
    }
  }
  const r = run(t);
  const scans = ofType(r.alerts, "port_scan");
  assert.equal(scans.length, 1, "no source reached 15 ports alone");
  const a = scans[0]!;
  assert.equal(a.alert.signature_id, 1001001);
  assert.equal(a.dest_ip, V);
  const e = a.netsentinel.evidence;
  assert.deepEqual(e.sources, [1, 2, 3, 4, 5].map((s) => `10.99.0.${70 + s}`));
  assert.equal(e.distinct_sources, 5);
  assert.equal(e.distinct_ports, 50);
  assert.equal(e.confirmed_source, false);
  assert.equal(a.netsentinel.count, 50);
});

Deno.test("port scan: two sources or a busy server raise no distributed scan", () => {
  const t = new Traffic();
  let sp = 30000;
  for (let s = 1; s <= 2; s++) {
    for (let p = s * 10 - 9; p <= s * 10; p++) {
      const src = `10.99.0.${70 + s}`;
      t.craftedSyn(src, sp, V, p);
      t.tcp(V, p, src, sp++, TCP_RST | TCP_ACK);
    }
  }
  // Forty clients each reaching the web server: no probes at all.
  for (let c = 0; c < 40; c++) {
    t.connection(`10.99.0.${100 + c}`, 40000 + c, V, 80, { request: "GET /" });
  }
  assert.deepEqual(ofType(run(t).alerts, "port_scan"), []);
});
