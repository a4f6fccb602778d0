import assert from "node:assert/strict";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../decode/mod.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const O = "203.0.113.66", V = "10.99.0.10";

Deno.test("external inbound: completed connections from outside to ports not exposed raise one alert per host pair listing the ports", () => {
  const t = new Traffic();
  t.connection(O, 40000, V, 22, {
    request: "SSH-2.0-x\r\n",
    answer: "SSH-2.0-y\r\n",
  });
  t.connection(O, 40001, V, 3306, { request: "\x0a\x00" });
  // Refused: not a connection.
  t.syn(O, 40002, V, 5432).tcp(V, 5432, O, 40002, TCP_RST | TCP_ACK);
  // Exposed by the policy: web.
  t.connection(O, 40003, V, 80, {
    request: "GET / HTTP/1.1\r\n\r\n",
    answer: "HTTP/1.1 200 OK\r\n\r\n",
  });
  // Inside to outside: not inbound.
  t.connection(V, 40004, O, 22, { request: "x", answer: "y" });
  const policy = {
    home_net: ["10.99.0.0/24"],
    exposed: [{ port: 80, proto: "tcp" }],
  };
  const al = ofType(run(t, { policy }).alerts, "external_inbound");
  // One outside host reaching two services of one inside host: one incident.
  assert.deepEqual(al.map((a) => [a.src_ip, a.dest_ip, a.dest_port]), [[
    O,
    V,
    3306,
  ]]);
  assert.equal(al[0]!.alert.signature_id, 1000701);
  assert.equal(al[0]!.netsentinel.count, 2);
  assert.deepEqual(al[0]!.netsentinel.evidence.ports, ["TCP/22", "TCP/3306"]);
});

Deno.test("external inbound: another inside host reached is another alert", () => {
  const t = new Traffic();
  t.connection(O, 40000, V, 22, { request: "SSH-2.0-x\r\n", answer: "y" });
  t.connection(O, 40001, "10.99.0.11", 22, { request: "SSH-2.0-x\r\n" });
  const al = ofType(
    run(t, { policy: { home_net: ["10.99.0.0/24"] } }).alerts,
    "external_inbound",
  );
  assert.deepEqual(al.map((a) => [a.dest_ip, a.netsentinel.evidence.ports]), [
    [V, ["TCP/22"]],
    ["10.99.0.11", ["TCP/22"]],
  ]);
});

Deno.test("external inbound: a spoofed SYN flood from outside raises no external_inbound alerts", () => {
  const t = new Traffic();
  for (let i = 0; i < 500; i++) {
    const s = `198.18.${i >> 8}.${i & 255}`;
    t.tcp(s, 1024 + i, V, 22, TCP_SYN).tcp(
      V,
      22,
      s,
      1024 + i,
      TCP_SYN | TCP_ACK,
    );
  }
  assert.deepEqual(ofType(run(t).alerts, "external_inbound"), []);
});

Deno.test("external inbound: require_accepted false counts every SYN to a port not exposed", () => {
  const t = new Traffic();
  t.syn(O, 40002, V, 5432).tcp(V, 5432, O, 40002, TCP_RST | TCP_ACK);
  const policy = {
    detectors: { external_inbound: { require_accepted: false } },
  };
  const al = ofType(run(t, { policy }).alerts, "external_inbound");
  assert.deepEqual(al.map((a) => a.dest_port), [5432]);
});
