import assert from "node:assert/strict";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const REAL = "10.99.0.2", REAL_MAC = "02:99:0a:63:00:02";
const ROGUE = "10.99.0.77", ROGUE_MAC = "02:99:0a:63:00:4d";
const C1 = "02:99:00:00:dc:01", C2 = "02:99:00:00:dc:02";

function exchange(t: Traffic, server: string, client: string, ip: string) {
  const bc = "255.255.255.255";
  t.dhcp("0.0.0.0", bc, { op: 1, type: 1, chaddr: client });
  t.dhcp(server, bc, {
    op: 2,
    type: 2,
    chaddr: client,
    yiaddr: ip,
    serverId: server,
    router: server === REAL ? "10.99.0.1" : server,
    dns: [server === REAL ? "10.99.0.10" : server],
    lease: 120,
  });
  t.dhcp("0.0.0.0", bc, { op: 1, type: 3, chaddr: client, serverId: server });
  t.dhcp(server, bc, {
    op: 2,
    type: 5,
    chaddr: client,
    yiaddr: ip,
    serverId: server,
    router: server === REAL ? "10.99.0.1" : server,
    dns: [server === REAL ? "10.99.0.10" : server],
    lease: 120,
  });
}

Deno.test("rogue_dhcp learns the first server and names a second one with what it handed out", () => {
  const t = new Traffic().mac(REAL, REAL_MAC).mac(ROGUE, ROGUE_MAC);
  exchange(t, REAL, C1, "10.99.0.150");
  t.wait(10);
  exchange(t, ROGUE, C2, "10.99.0.170");
  exchange(t, REAL, C1, "10.99.0.150");
  const { alerts } = run(t, { only: ["rogue_dhcp"] });
  const a = ofType(alerts, "rogue_dhcp");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.src_ip, ROGUE);
  assert.equal(a[0]!.netsentinel.count, 2, "its offer and its ack");
  const e = a[0]!.netsentinel.evidence;
  assert.equal(e.server_mac, ROGUE_MAC);
  assert.equal(e.router, ROGUE);
  assert.deepEqual(e.dns, [ROGUE]);
  assert.equal(e.offered_ip, "10.99.0.170");
  assert.equal(e.client_mac, C2);
  assert.deepEqual(e.known_servers, [REAL]);
});

Deno.test("rogue_dhcp with listed servers names an unlisted first one; clients are never servers", () => {
  const t = new Traffic().mac(ROGUE, ROGUE_MAC);
  exchange(t, ROGUE, C2, "10.99.0.170");
  const policy = { detectors: { rogue_dhcp: { servers: ["10.99.0.2/32"] } } };
  const { alerts } = run(t, { only: ["rogue_dhcp"], policy });
  assert.equal(ofType(alerts, "rogue_dhcp").length, 1);
  assert.equal(alerts[0]!.src_ip, ROGUE);
});

Deno.test("rogue_dhcp does not take requests or hostile replies for offers", () => {
  const t = new Traffic();
  exchange(t, REAL, C1, "10.99.0.150");
  // A client message pretending to be an offer (op 1), and a server reply
  // of a non-offer type: neither is an offer or an ack.
  t.dhcp("10.99.0.66", "255.255.255.255", { op: 1, type: 2, chaddr: C2 });
  t.dhcp("10.99.0.66", "255.255.255.255", { op: 2, type: 8, chaddr: C2 });
  // Garbage on the DHCP ports.
  t.udp("10.99.0.66", 67, "255.255.255.255", 68, new Uint8Array(300));
  t.udp("10.99.0.66", 67, "255.255.255.255", 68, "x");
  const { alerts } = run(t, { only: ["rogue_dhcp"] });
  assert.deepEqual(alerts, []);
});
