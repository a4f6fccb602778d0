import assert from "node:assert/strict";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const GW = "10.99.0.1", GW_MAC = "02:99:0a:63:00:01";
const CLIENT = "10.99.0.20", CLIENT_MAC = "02:99:0a:63:00:14";
const EVIL = "10.99.0.66", EVIL_MAC = "02:99:0a:63:00:42";
const NEW_MAC = "02:99:0a:63:00:77";

/** The gateway, the client and the attacker resolve each other. */
function lan(): Traffic {
  const t = new Traffic()
    .mac(GW, GW_MAC).mac(CLIENT, CLIENT_MAC).mac(EVIL, EVIL_MAC)
    .mac("203.0.113.80", GW_MAC);
  t.arp(1, CLIENT_MAC, { spa: CLIENT, tpa: GW });
  t.arp(2, GW_MAC, { spa: GW, tha: CLIENT_MAC, tpa: CLIENT });
  t.arp(1, EVIL_MAC, { spa: EVIL, tpa: CLIENT });
  t.arp(2, CLIENT_MAC, { spa: CLIENT, tha: EVIL_MAC, tpa: EVIL });
  // The gateway forwards an answer from outside: it is a router.
  t.connection(CLIENT, 40000, "203.0.113.80", 80, { request: "GET /" });
  return t;
}

Deno.test("arp_spoof names the attacker when it claims the live gateway's address", () => {
  const t = lan().wait(3);
  for (let i = 0; i < 10; i++) {
    t.arp(2, EVIL_MAC, { spa: GW, tha: CLIENT_MAC, tpa: CLIENT });
    t.tcp(GW, 80, CLIENT, 40001, 0x10); // the gateway still talks
    t.wait(2);
  }
  const { alerts } = run(t, { only: ["arp_spoof"] });
  const a = ofType(alerts, "arp_spoof");
  assert.equal(a.length, 1, JSON.stringify(alerts, null, 1));
  assert.equal(a[0]!.src_ip, EVIL);
  assert.equal(a[0]!.dest_ip, GW);
  assert.equal(a[0]!.netsentinel.count, 10);
  assert.equal(a[0]!.alert.signature_id, 1001102);
  const e = a[0]!.netsentinel.evidence;
  assert.equal(e.attacker_mac, EVIL_MAC);
  assert.equal(e.owner_mac, GW_MAC);
  assert.equal(e.owner_role, "router");
});

Deno.test("arp_spoof stays quiet when an address moves from a MAC that went silent", () => {
  const t = lan().wait(600);
  // The client's laptop is replaced: new MAC, same address, old one gone.
  t.arp(1, NEW_MAC, { spa: CLIENT, tpa: GW });
  t.arp(2, GW_MAC, { spa: GW, tha: NEW_MAC, tpa: CLIENT });
  t.arp(1, NEW_MAC, { spa: CLIENT, tpa: GW });
  const { alerts } = run(t, { only: ["arp_spoof"] });
  assert.deepEqual(ofType(alerts, "arp_spoof"), []);
});

Deno.test("arp_spoof reports a host's address taken over by a request while its owner is alive", () => {
  const t = lan().wait(1);
  t.arp(1, EVIL_MAC, { spa: CLIENT, tpa: GW });
  t.arp(1, CLIENT_MAC, { spa: CLIENT, tpa: GW });
  const { alerts } = run(t, { only: ["arp_spoof"] });
  const a = ofType(alerts, "arp_spoof");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.alert.signature_id, 1001101);
  assert.equal(a[0]!.src_ip, EVIL);
  assert.equal(a[0]!.dest_ip, CLIENT);
});

Deno.test("arp_spoof reports a protected address claimed unasked even when its owner is quiet", () => {
  const t = lan().wait(900);
  t.arp(2, EVIL_MAC, { spa: "10.99.0.5", tha: CLIENT_MAC, tpa: CLIENT });
  const base = new Traffic().mac("10.99.0.5", "02:99:0a:63:00:05");
  base.arp(2, "02:99:0a:63:00:05", { spa: "10.99.0.5", tpa: CLIENT });
  base.frames.push(...t.frames.map((f) => ({ ...f, tsUs: f.tsUs + 1e6 })));
  const policy = { detectors: { arp_spoof: { protected: ["10.99.0.5/32"] } } };
  const { alerts } = run(base, { only: ["arp_spoof"], policy });
  const a = ofType(alerts, "arp_spoof");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.dest_ip, "10.99.0.5");
  assert.equal(a[0]!.netsentinel.evidence.owner_role, "protected address");
});

Deno.test("arp_spoof reports one MAC holding many addresses, once", () => {
  const t = lan();
  for (let i = 0; i < 70; i++) {
    t.arp(2, EVIL_MAC, { spa: `10.99.1.${i}`, tpa: CLIENT, tha: CLIENT_MAC });
  }
  const { alerts } = run(t, { only: ["arp_spoof"] });
  const many = alerts.filter((a) => a.alert.signature_id === 1001103);
  assert.equal(many.length, 1);
  assert.equal(many[0]!.src_ip, EVIL);
  assert.equal(many[0]!.netsentinel.evidence.addresses, 64);
});

Deno.test("arp_spoof reports an ARP flood of spoofed senders and stays bounded", () => {
  const t = lan();
  let x = 1;
  for (let s = 0; s < 5; s++) {
    for (let i = 0; i < 400; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const mac = `02:${
        [24, 16, 8, 0].map((k) =>
          ((x >>> k) & 255).toString(16).padStart(2, "0")
        ).join(":")
      }:01`;
      t.arp(2, mac, {
        spa: `10.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${(x & 254) + 1}`,
        tpa: CLIENT,
      });
      t.wait(0.0024);
    }
  }
  const policy = { detectors: { arp_spoof: { max_bindings: 500 } } };
  const { alerts, detectors } = run(t, { only: ["arp_spoof"], policy });
  const flood = alerts.filter((a) => a.alert.signature_id === 1001104);
  assert.equal(flood.length, 1, JSON.stringify(alerts.map((a) => a.alert)));
  assert.ok((flood[0]!.netsentinel.evidence.messages as number) >= 1200);
  assert.equal(flood[0]!.netsentinel.evidence.confirmed_source, false);
  assert.ok(detectors[0]!.stateSize() <= 1000, `${detectors[0]!.stateSize()}`);
});

Deno.test("arp_spoof ignores hostile ARP: zero, broadcast and group addresses", () => {
  const t = lan();
  for (
    const mac of ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"]
  ) {
    t.arp(2, mac, { sha: mac, spa: GW, tpa: CLIENT });
  }
  t.arp(2, EVIL_MAC, { spa: "0.0.0.0", tpa: CLIENT });
  t.arp(2, EVIL_MAC, { spa: "255.255.255.255", tpa: CLIENT });
  t.arp(2, EVIL_MAC, { spa: "224.0.0.1", tpa: CLIENT });
  const { alerts } = run(t, { only: ["arp_spoof"] });
  assert.deepEqual(ofType(alerts, "arp_spoof"), []);
});

Deno.test("arp_spoof never names the claimed address as the source when the attacker has none of its own", () => {
  const t = new Traffic().mac(GW, GW_MAC).mac(CLIENT, CLIENT_MAC);
  t.arp(1, CLIENT_MAC, { spa: CLIENT, tpa: GW });
  t.arp(2, GW_MAC, { spa: GW, tha: CLIENT_MAC, tpa: CLIENT });
  t.wait(3);
  t.arp(2, NEW_MAC, { spa: CLIENT, tha: GW_MAC, tpa: GW });
  const { alerts } = run(t, { only: ["arp_spoof"] });
  const a = ofType(alerts, "arp_spoof");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.src_ip, "0.0.0.0");
  assert.equal(a[0]!.dest_ip, CLIENT);
  assert.equal(a[0]!.netsentinel.evidence.attacker_mac, NEW_MAC);
  assert.equal(a[0]!.netsentinel.evidence.attacker_ip, null);
});
