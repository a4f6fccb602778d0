import assert from "node:assert/strict";
import {
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
} from "../decode/mod.ts";
import type { Alert } from "../alerts/mod.ts";
import { DEFAULT_BLOCK_POLICY, isConfirmedSource } from "../respond/mod.ts";
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

const DECOYS = ["10.99.0.201", "10.99.0.202", "10.99.0.203", "10.99.0.204"];

/**
 * nmap -D: every probe goes out from the decoys and the real scanner back
 * to back (D1, D2, ME, D3, D4, as `-D D1,D2,ME,D3,D4`). `answer(src, p)`
 * writes what the target and the source send back for one probe.
 */
function decoyScan(
  n: number,
  probe: (t: Traffic, src: string, sp: number, p: number) => void,
  answer: (t: Traffic, src: string, sp: number, p: number) => void,
): Traffic {
  const t = new Traffic();
  const order = [DECOYS[0]!, DECOYS[1]!, A, DECOYS[2]!, DECOYS[3]!];
  let sp = 50000;
  for (const p of ports(n)) {
    for (const src of order) {
      probe(t, src, sp, p);
      answer(t, src, sp, p);
    }
    sp++;
  }
  return t;
}

/** What blocking would do: no alert naming a decoy may be a confirmed source. */
function assertNoDecoyConfirmed(live: readonly { alert: Alert }[]): void {
  for (const { alert } of live) {
    if (alert.netsentinel.type !== "port_scan") continue;
    if (DECOYS.includes(alert.src_ip)) {
      assert.equal(
        isConfirmedSource(alert, DEFAULT_BLOCK_POLICY),
        false,
        `a decoy as confirmed source: ${alert.netsentinel.explanation}`,
      );
    }
  }
}

Deno.test("port scan: nmap -D decoys on the LAN give one alert naming the real scanner, the only source that answers the target, with the decoys listed", () => {
  // On one LAN the target cannot even reach the decoys' addresses (ARP
  // fails): only the real scanner gets answers, and its kernel resets the
  // SYN+ACKs of open ports.
  const t = decoyScan(30, (t, s, sp, p) => t.craftedSyn(s, sp, V, p), (
    t,
    s,
    sp,
    p,
  ) => {
    if (s !== A) return;
    if (OPEN.has(p)) {
      t.tcp(V, p, A, sp, TCP_SYN | TCP_ACK);
      t.tcp(A, sp, V, p, TCP_RST);
    } else t.tcp(V, p, A, sp, TCP_RST | TCP_ACK);
  });
  const r = run(t);
  const scans = ofType(r.alerts, "port_scan");
  assert.equal(scans.length, 1, scans.map((a) => a.src_ip).join());
  const a = scans[0]!;
  assert.equal(a.src_ip, A);
  assert.equal(a.dest_ip, V);
  assert.equal(a.alert.signature_id, 1000001);
  assert.deepEqual(a.netsentinel.evidence.decoys, DECOYS);
  assert.equal(a.netsentinel.evidence.confirmed_source, true);
  assert.equal(isConfirmedSource(a, DEFAULT_BLOCK_POLICY), true);
  assert.match(
    a.netsentinel.explanation,
    /4 decoy sources .* only 10\.99\.0\.66 answered/,
  );
  assertNoDecoyConfirmed(r.live);
  assert.ok(
    r.live.every(({ alert }) =>
      alert.netsentinel.type !== "port_scan" || alert.src_ip === A
    ),
  );
});

Deno.test("port scan: decoys that answer too (live hosts) or probes nobody answers give one alert that blocks no one", async (t) => {
  const cases: [
    string,
    (t: Traffic, s: string, sp: number, p: number) => void,
    (t: Traffic, s: string, sp: number, p: number) => void,
  ][] = [
    [
      "live decoys reset the SYN+ACKs as the scanner does",
      (t, s, sp, p) => t.craftedSyn(s, sp, V, p),
      (t, s, sp, p) => {
        if (OPEN.has(p)) {
          t.tcp(V, p, s, sp, TCP_SYN | TCP_ACK);
          t.tcp(s, sp, V, p, TCP_RST);
        } else t.tcp(V, p, s, sp, TCP_RST | TCP_ACK);
      },
    ],
    [
      "a FIN scan: every source's probes are reset alike",
      (t, s, sp, p) => t.tcp(s, sp, V, p, TCP_FIN),
      (t, s, sp, p) => {
        if (!OPEN.has(p)) t.tcp(V, p, s, sp, TCP_RST | TCP_ACK);
      },
    ],
  ];
  for (const [name, probe, answer] of cases) {
    await t.step(name, () => {
      const r = run(decoyScan(30, probe, answer));
      const scans = ofType(r.alerts, "port_scan");
      assert.equal(scans.length, 1, scans.map((a) => a.src_ip).join());
      const e = scans[0]!.netsentinel.evidence;
      assert.deepEqual(e.sources, [...DECOYS, A].sort());
      assert.equal(e.confirmed_source, false);
      assert.equal(e.decoys, undefined);
      for (const { alert } of r.live) {
        if (alert.netsentinel.type !== "port_scan") continue;
        assert.equal(isConfirmedSource(alert, DEFAULT_BLOCK_POLICY), false);
      }
    });
  }
});

Deno.test("port scan: two scanners of one host at once are two alerts, each blocking its own source", () => {
  const t = new Traffic();
  const B = "10.99.0.67";
  let sp = 40000;
  // Interleaved, different port orders: never the same port at once.
  const pa = ports(40), pb = [...ports(40)].reverse();
  for (let i = 0; i < 40; i++) {
    for (const [src, p] of [[A, pa[i]!], [B, pb[i]!]] as const) {
      t.craftedSyn(src, sp, V, p);
      t.tcp(V, p, src, sp++, TCP_RST | TCP_ACK);
    }
  }
  const scans = ofType(run(t).alerts, "port_scan");
  assert.deepEqual(scans.map((a) => a.src_ip).sort(), [A, B]);
  for (const a of scans) {
    assert.equal(a.netsentinel.evidence.decoys, undefined);
    assert.equal(isConfirmedSource(a, DEFAULT_BLOCK_POLICY), true);
  }
});
