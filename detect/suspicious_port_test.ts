import assert from "node:assert/strict";
import { TCP_RST, TCP_SYN } from "../decode/mod.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const A = "10.99.0.66", V = "10.99.0.10";

Deno.test("suspicious port: real traffic on listed ports between two hosts, either way, raises one alert listing the connections", () => {
  const t = new Traffic();
  t.connection(A, 40000, V, 4444, { request: "id\n", answer: "uid=0(root)\n" });
  t.connection(A, 40001, V, 6667, { request: "NICK bot\r\n" });
  // The victim calls back out: a reverse shell names the victim as source.
  t.connection(V, 40002, A, 4444, { request: "reverse shell\n" });
  const al = ofType(run(t).alerts, "suspicious_port");
  // The first flow names the pair; the reverse shell does not turn it round.
  assert.deepEqual(al.map((a) => [a.src_ip, a.dest_ip, a.dest_port]), [[
    A,
    V,
    6667,
  ]]);
  const e = al[0]!.netsentinel.evidence;
  assert.equal(al[0]!.netsentinel.count, 3);
  assert.deepEqual(e.connections, [
    `${A}>${V}:TCP/4444`,
    `${A}>${V}:TCP/6667`,
    `${V}>${A}:TCP/4444`,
  ]);
  // The newest detection's facts: the reverse shell's reason.
  assert.match(String(e.reason), /reverse shell/);
  assert.equal(e.direction, "internal");
  assert.match(al[0]!.netsentinel.explanation, new RegExp(`^${V} `));
});

Deno.test("suspicious port: the IRC port's reason is in the evidence", () => {
  const t = new Traffic();
  t.connection(A, 40001, V, 6667, { request: "NICK bot\r\n" });
  const al = ofType(run(t).alerts, "suspicious_port");
  assert.equal(al.length, 1);
  assert.match(String(al[0]!.netsentinel.evidence.reason), /IRC/);
  assert.equal(al[0]!.dest_port, 6667);
});

Deno.test("suspicious port: refused or silent probes of listed ports raise nothing", () => {
  const t = new Traffic();
  for (const p of [23, 31337, 9001, 12345]) {
    t.syn(A, 41000 + p, V, p).tcp(V, p, A, 41000 + p, TCP_RST | 0x10);
  }
  t.syn(A, 42000, V, 4444);
  t.tcp(V, 4444, A, 42000, TCP_SYN | 0x10);
  assert.deepEqual(ofType(run(t).alerts, "suspicious_port"), []);
});

Deno.test("suspicious port: the list comes from the policy", () => {
  const t = new Traffic();
  t.connection(A, 40000, V, 4444, { request: "id\n", answer: "x" });
  t.connection(A, 40001, V, 7777, { request: "hi\n", answer: "x" });
  const policy = {
    suspicious_ports: [{
      port: "7000-7999",
      proto: "tcp",
      reason: "lab test range",
    }],
  };
  const al = ofType(run(t, { policy }).alerts, "suspicious_port");
  assert.deepEqual(
    al.map((a) => [a.dest_port, a.netsentinel.evidence.reason]),
    [[7777, "lab test range"]],
  );
});
