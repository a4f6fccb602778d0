import assert from "node:assert/strict";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  newPacket,
  type Packet,
  parseAddr,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
} from "../decode/mod.ts";
import {
  DIR_TO_CLIENT,
  DIR_TO_SERVER,
  type FlowEndReason,
  FlowTable,
  TCP_STATE_CLOSED,
  TCP_STATE_ESTABLISHED,
  TCP_STATE_RESET,
} from "./mod.ts";

interface Ended {
  src: string;
  sport: number;
  dport: number;
  reason: FlowEndReason;
  pkts: [number, number];
  state: number;
}

function table(cfg = {}) {
  const ended: Ended[] = [];
  const t = new FlowTable((f, reason) => {
    ended.push({
      src: `${f.srcAddr[0]}`,
      sport: f.srcPort,
      dport: f.dstPort,
      reason,
      pkts: [f.pktsToServer, f.pktsToClient],
      state: f.tcpState,
    });
  }, cfg);
  return { t, ended };
}

function pkt(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  opts: { proto?: number; flags?: number; tsS?: number; len?: number } = {},
): Packet {
  const p = newPacket();
  const s = parseAddr(src)!, d = parseAddr(dst)!;
  p.ipVersion = s.version;
  p.src.set(s.words);
  p.dst.set(d.words);
  p.srcPort = sport;
  p.dstPort = dport;
  p.proto = opts.proto ?? IPPROTO_TCP;
  p.tcpFlags = opts.flags ?? 0;
  p.tsUs = (opts.tsS ?? 1000) * 1e6;
  p.wirelen = opts.len ?? 60;
  return p;
}

Deno.test("flow table puts both directions of a connection in one flow", () => {
  const { t } = table();
  const a = t.update(
    pkt("10.0.0.1", 40000, "10.0.0.2", 80, { flags: TCP_SYN }),
  );
  assert.equal(t.lastDir, DIR_TO_SERVER);
  const b = t.update(
    pkt("10.0.0.2", 80, "10.0.0.1", 40000, { flags: TCP_SYN | TCP_ACK }),
  );
  assert.equal(t.lastDir, DIR_TO_CLIENT);
  assert.equal(a, b);
  t.update(pkt("10.0.0.1", 40000, "10.0.0.2", 80, { flags: TCP_ACK }));
  assert.equal(t.size, 1);
  assert.equal(a.pktsToServer, 2);
  assert.equal(a.pktsToClient, 1);
  assert.equal(a.tcpState, TCP_STATE_ESTABLISHED);
  assert.equal(a.srcPort, 40000);
  assert.equal(a.dstPort, 80);
});

Deno.test("flow table treats the receiver of a first-seen SYN+ACK as the client", () => {
  const { t } = table();
  const f = t.update(
    pkt("10.0.0.2", 443, "10.0.0.1", 50000, { flags: TCP_SYN | TCP_ACK }),
  );
  assert.equal(t.lastDir, DIR_TO_CLIENT);
  assert.equal(f.srcPort, 50000);
  assert.equal(f.dstPort, 443);
  assert.equal(f.pktsToClient, 1);
});

Deno.test("flow table treats a mid-stream UDP answer from port 53 as server to client", () => {
  const { t } = table();
  const f = t.update(
    pkt("10.0.0.53", 53, "10.0.0.1", 33333, { proto: IPPROTO_UDP }),
  );
  assert.equal(f.dstPort, 53);
  assert.equal(t.lastDir, DIR_TO_CLIENT);
});

Deno.test("flow table expires idle flows by packet time, per protocol class", () => {
  const { t, ended } = table({ udpIdleS: 60, tcpAttemptS: 30, tcpIdleS: 300 });
  t.update(
    pkt("10.0.0.1", 1000, "10.0.0.2", 53, { proto: IPPROTO_UDP, tsS: 0 }),
  );
  t.update(pkt("10.0.0.1", 2000, "10.0.0.2", 22, { flags: TCP_SYN, tsS: 0 }));
  assert.equal(t.expire(29e6), 0);
  assert.equal(t.expire(30e6), 1);
  assert.equal(ended[0]!.dport, 22);
  assert.equal(ended[0]!.reason, "idle");
  assert.equal(t.expire(59e6), 0);
  assert.equal(t.expire(61e6), 1);
  assert.equal(ended[1]!.dport, 53);
  assert.equal(t.size, 0);
});

Deno.test("flow table ends a closed connection after a short linger", () => {
  const { t, ended } = table({ tcpClosedS: 5 });
  const c = "10.0.0.1", s = "10.0.0.2";
  t.update(pkt(c, 1234, s, 80, { flags: TCP_SYN, tsS: 1 }));
  t.update(pkt(s, 80, c, 1234, { flags: TCP_SYN | TCP_ACK, tsS: 1 }));
  t.update(pkt(c, 1234, s, 80, { flags: TCP_ACK, tsS: 1 }));
  t.update(pkt(c, 1234, s, 80, { flags: TCP_FIN | TCP_ACK, tsS: 2 }));
  t.update(pkt(s, 80, c, 1234, { flags: TCP_FIN | TCP_ACK, tsS: 2 }));
  const f = t.update(pkt(c, 1234, s, 80, { flags: TCP_ACK, tsS: 2 }));
  assert.equal(f.tcpState, TCP_STATE_CLOSED);
  assert.equal(t.expire(6e6), 0);
  assert.equal(t.expire(7e6), 1);
  assert.deepEqual(ended.map((e) => [e.reason, e.pkts]), [["closed", [4, 2]]]);
});

Deno.test("flow table marks a reset connection", () => {
  const { t } = table();
  t.update(pkt("10.0.0.1", 1, "10.0.0.2", 2, { flags: TCP_SYN }));
  const f = t.update(
    pkt("10.0.0.2", 2, "10.0.0.1", 1, { flags: TCP_RST | TCP_ACK }),
  );
  assert.equal(f.tcpState, TCP_STATE_RESET);
  assert.equal(f.rstCount, 1);
});

Deno.test("flow table evicts unanswered attempts first when full", () => {
  const { t, ended } = table({ maxFlows: 3 });
  // An established flow, then attempts that fill the table.
  t.update(pkt("10.0.0.1", 5000, "10.0.0.2", 80, { flags: TCP_SYN, tsS: 1 }));
  t.update(
    pkt("10.0.0.2", 80, "10.0.0.1", 5000, { flags: TCP_SYN | TCP_ACK, tsS: 1 }),
  );
  t.update(pkt("10.0.0.1", 5000, "10.0.0.2", 80, { flags: TCP_ACK, tsS: 1 }));
  for (let i = 0; i < 10; i++) {
    t.update(
      pkt(`192.0.2.${i}`, 6000 + i, "10.0.0.2", 80, {
        flags: TCP_SYN,
        tsS: 2 + i,
      }),
    );
  }
  assert.equal(t.size, 3);
  assert.equal(t.counters.evicted, 8);
  assert.ok(
    ended.every((e) =>
      e.reason === "evicted" && e.dport === 80 && e.sport !== 5000
    ),
  );
  let established = 0;
  t.forEach((f) => {
    if (f.srcPort === 5000) established++;
  });
  assert.equal(established, 1);
});

Deno.test("flow table splits a flow older than the active timeout", () => {
  const { t, ended } = table({ activeS: 100 });
  const f1 = t.update(
    pkt("10.0.0.1", 1, "10.0.0.2", 53, { proto: IPPROTO_UDP, tsS: 0 }),
  );
  const id1 = f1.id;
  t.update(pkt("10.0.0.1", 1, "10.0.0.2", 53, { proto: IPPROTO_UDP, tsS: 50 }));
  const f2 = t.update(
    pkt("10.0.0.1", 1, "10.0.0.2", 53, { proto: IPPROTO_UDP, tsS: 100 }),
  );
  assert.equal(ended.length, 1);
  assert.equal(ended[0]!.reason, "active");
  assert.deepEqual(ended[0]!.pkts, [2, 0]);
  assert.equal(f2.pktsToServer, 1);
  assert.notEqual(f2.id, id1);
});

Deno.test("flow table recycles ended flows without leaking their counters", () => {
  const { t } = table({ udpIdleS: 1 });
  for (let i = 0; i < 5; i++) {
    t.update(
      pkt("10.0.0.1", 1, "10.0.0.2", 2, {
        proto: IPPROTO_UDP,
        tsS: 0,
        len: 1000,
      }),
    );
  }
  t.expire(10e6);
  const f = t.update(
    pkt("10.0.0.3", 3, "10.0.0.4", 4, { proto: IPPROTO_UDP, tsS: 20 }),
  );
  assert.equal(f.pktsToServer, 1);
  assert.equal(f.bytesToServer, 60);
  assert.equal(f.sizeSum, 60);
});

Deno.test("flow table keeps many distinct flows apart", () => {
  const { t, ended } = table({ maxFlows: 300_000 });
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    t.update(pkt(a, 1024 + (i % 50000), "10.255.0.1", 443, { flags: TCP_SYN }));
  }
  assert.equal(t.size, n);
  for (let i = 0; i < n; i += 997) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const f = t.update(
      pkt("10.255.0.1", 443, a, 1024 + (i % 50000), {
        flags: TCP_SYN | TCP_ACK,
      }),
    );
    assert.equal(f.pktsToServer, 1, `flow ${i}`);
    assert.equal(f.pktsToClient, 1, `flow ${i}`);
  }
  assert.equal(t.size, n);
  t.flush();
  assert.equal(ended.length, n);
  assert.ok(ended.every((e) => e.reason === "shutdown"));
});

Deno.test("flow table keeps IPv6 flows apart from IPv4 ones", () => {
  const { t } = table();
  t.update(pkt("2001:db8::1", 1, "2001:db8::2", 80, { flags: TCP_SYN }));
  t.update(pkt("10.0.0.1", 1, "10.0.0.2", 80, { flags: TCP_SYN }));
  const f = t.update(
    pkt("2001:db8::2", 80, "2001:db8::1", 1, { flags: TCP_SYN | TCP_ACK }),
  );
  assert.equal(t.size, 2);
  assert.equal(f.version, 6);
  assert.equal(f.pktsToClient, 1);
});

Deno.test("flow table ends flows left by a budgeted expire as an unbudgeted one would", () => {
  const { t, ended } = table({ udpIdleS: 60 });
  for (let i = 1; i <= 5; i++) {
    t.update(pkt(`10.0.0.${i}`, 5000, "10.0.9.9", 53, { proto: IPPROTO_UDP }));
  }
  assert.equal(t.expire(1061e6, 2), 2);
  assert.ok(t.behind);
  assert.equal(ended.length, 2);
  // A packet of a flow that is due starts a new flow: the old one ends first.
  const f = t.update(
    pkt("10.0.0.3", 5000, "10.0.9.9", 53, { proto: IPPROTO_UDP, tsS: 1062 }),
  );
  assert.equal(f.pktsToServer, 1);
  assert.deepEqual(ended.map((e) => [e.src, e.reason]).slice(2), [
    [`${parseAddr("10.0.0.3")!.words[0]}`, "idle"],
  ]);
  assert.equal(t.expire(1062e6), 2);
  assert.ok(!t.behind);
  assert.equal(ended.length, 5);
  assert.equal(t.size, 1);
});
