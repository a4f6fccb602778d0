/**
 * End-to-end detection over the second set of lab captures (issue 23:
 * distributed scans, ARP spoofing, rogue DHCP, beaconing, exfiltration and a
 * LAN's own chatter), recorded by tests/lab/make_fixtures.sh with real tools
 * (nmap, dsniff's arpspoof, dnsmasq with ISC dhclient and busybox udhcpc,
 * curl over TLS, avahi-daemon, chronyd): each attack raises its alert naming
 * the attacker (the target, for distributed scans), no alert of the new
 * types names anyone else, and the LAN capture raises nothing but
 * informational new_host alerts. Runs `analyzeFiles`, the code behind
 * `analyze`.
 */
import assert from "node:assert/strict";
import type { Alert } from "../alerts/mod.ts";
import { analyzeFiles } from "../cli/analyze.ts";
import type { EveRecord } from "../events/mod.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const ATTACKER = "10.99.0.66";
const VICTIM = "10.99.0.10";
const NEW_TYPES = new Set([
  "arp_spoof",
  "nd_spoof",
  "rogue_ra",
  "rogue_dhcp",
  "beacon",
  "exfiltration",
]);

async function alertsOf(name: string): Promise<Alert[]> {
  const out: Alert[] = [];
  const stats = await analyzeFiles([new URL(name, FIXTURES).pathname], {
    events: new Set(["alert"]),
    sink: (rec: EveRecord) => out.push(rec as unknown as Alert),
  });
  assert.equal(
    stats.files[0]?.error,
    null,
    `${name}: ${stats.files[0]?.error}`,
  );
  assert.ok(stats.total.packets > 0, `${name} has packets`);
  return out;
}

function summary(alerts: readonly Alert[]): string {
  return alerts.map((a) =>
    `${a.netsentinel.type}/${a.alert.signature_id} ${a.src_ip}->${
      a.dest_ip ?? ""
    } x${a.netsentinel.count}`
  ).join("; ");
}

function ofType(alerts: readonly Alert[], type: string): Alert[] {
  return alerts.filter((a) => a.netsentinel.type === type);
}

/** No alert of the new types names a source other than `src`. */
function onlyNaming(alerts: readonly Alert[], src: string): void {
  const others = alerts.filter((a) =>
    NEW_TYPES.has(a.netsentinel.type) && a.src_ip !== src
  );
  assert.deepEqual(others, [], summary(others));
}

Deno.test("scan_distributed.pcap: five scouts of 10 ports each raise one distributed port_scan about the victim naming them", async () => {
  const alerts = await alertsOf("scan_distributed.pcap");
  const scans = ofType(alerts, "port_scan");
  assert.equal(scans.length, 1, summary(alerts));
  const a = scans[0]!;
  assert.equal(a.alert.signature_id, 1001001);
  assert.equal(a.dest_ip, VICTIM);
  const e = a.netsentinel.evidence;
  assert.deepEqual(e.sources, [
    "10.99.0.71",
    "10.99.0.72",
    "10.99.0.73",
    "10.99.0.74",
    "10.99.0.75",
  ]);
  assert.equal(e.distinct_ports, 50);
  assert.equal(e.confirmed_source, false);
  onlyNaming(alerts, "");
});

Deno.test("scan_decoy.pcap: nmap -D raises one port_scan naming the attacker, the only source the victim's answers reached, with the four decoys listed", async () => {
  const alerts = await alertsOf("scan_decoy.pcap");
  const scans = ofType(alerts, "port_scan");
  // One incident: no per-decoy alert, no distributed alert beside it.
  assert.equal(scans.length, 1, summary(alerts));
  const a = scans[0]!;
  assert.equal(a.src_ip, ATTACKER);
  assert.equal(a.dest_ip, VICTIM);
  assert.equal(a.alert.signature_id, 1000001);
  const e = a.netsentinel.evidence;
  assert.deepEqual(e.decoys, [
    "10.99.0.201",
    "10.99.0.202",
    "10.99.0.203",
    "10.99.0.204",
  ]);
  assert.equal(e.confirmed_source, true);
  assert.equal(e.distinct_ports, 100);
  // No alert of any kind names a decoy as its source.
  const decoyNamed = alerts.filter((x) =>
    (e.decoys as string[]).includes(x.src_ip) &&
    x.netsentinel.type !== "new_host"
  );
  assert.deepEqual(decoyNamed, [], summary(decoyNamed));
});

Deno.test("arp_spoof.pcap: arpspoof between the client and the gateway raises one arp_spoof naming the attacker and its MAC, both claimed addresses listed", async () => {
  const alerts = await alertsOf("arp_spoof.pcap");
  const spoof = ofType(alerts, "arp_spoof");
  // -r poisons both ways: one poisoner, one incident.
  assert.equal(spoof.length, 1, summary(alerts));
  onlyNaming(alerts, ATTACKER);
  const a = spoof[0]!;
  // The gateway's address was claimed first (in the same frame burst).
  assert.equal(a.dest_ip, "10.99.0.1");
  assert.equal(a.alert.signature_id, 1001102);
  const e = a.netsentinel.evidence;
  assert.equal(e.attacker_mac, "02:99:0a:63:00:42");
  assert.deepEqual(e.claimed, ["10.99.0.1", "10.99.0.20"]);
  // 7 unsolicited replies each way.
  assert.equal(a.netsentinel.count, 14);
  // Each claimed address with its owner, the gateway's kept beside the
  // client's.
  assert.deepEqual(e.owners, [
    "10.99.0.1 02:99:0a:63:00:01 router",
    "10.99.0.20 02:99:0a:63:00:14 host",
  ]);
  // The other facts are the latest claim's: one of the two owners.
  assert.ok(
    (e.owner_mac === "02:99:0a:63:00:01" && e.owner_role === "router") ||
      (e.owner_mac === "02:99:0a:63:00:14" && e.owner_role === "host"),
    `${e.owner_mac} ${e.owner_role}`,
  );
});

Deno.test("rogue_dhcp.pcap: the second dnsmasq raises rogue_dhcp naming its address, MAC, router and DNS", async () => {
  const alerts = await alertsOf("rogue_dhcp.pcap");
  const rogue = ofType(alerts, "rogue_dhcp");
  assert.equal(rogue.length, 1, summary(alerts));
  onlyNaming(alerts, "10.99.0.77");
  const e = rogue[0]!.netsentinel.evidence;
  assert.equal(e.server_mac, "02:99:0a:63:00:4d");
  assert.equal(e.router, "10.99.0.77");
  assert.deepEqual(e.dns, ["10.99.0.77"]);
  assert.deepEqual(e.known_servers, ["10.99.0.2"]);
  assert.match(String(e.offered_ip), /^10\.99\.0\.1[78]\d$/);
});

Deno.test("beacon.pcap: a jittered 5 s check-in raises beacon with its interval and jitter", async () => {
  const alerts = await alertsOf("beacon.pcap");
  const b = ofType(alerts, "beacon");
  assert.equal(b.length, 1, summary(alerts));
  onlyNaming(alerts, "10.99.0.22");
  assert.equal(b[0]!.dest_ip, "203.0.113.66");
  assert.equal(b[0]!.dest_port, 8080);
  const e = b[0]!.netsentinel.evidence;
  assert.ok(Math.abs((e.interval_s as number) - 5) < 0.6, `${e.interval_s}`);
  assert.ok((e.jitter_s as number) > 0.1, `${e.jitter_s}`);
  assert.equal(e.connections, 30);
});

Deno.test("exfil_upload.pcap: a 12 MB TLS upload to a new address raises exfiltration naming bytes and destination", async () => {
  const alerts = await alertsOf("exfil_upload.pcap");
  const x = ofType(alerts, "exfiltration");
  assert.equal(x.length, 1, summary(alerts));
  onlyNaming(alerts, "10.99.0.21");
  assert.equal(x[0]!.dest_ip, "192.0.2.99");
  const e = x[0]!.netsentinel.evidence;
  assert.ok((e.bytes_sent as number) >= 12_582_912, `${e.bytes_sent}`);
  assert.equal(e.prior_connections, 0);
  assert.equal(e.destination, "192.0.2.99:443");
});

for (const file of ["benign_lan.pcap", "benign_lan_holdout.pcap"]) {
  Deno.test(`${file}: mDNS, SSDP, IGMP, DHCP renewals, NTP and interactive ssh raise nothing but new_host`, async () => {
    const alerts = await alertsOf(file);
    // Neither a rule nor the anomaly model: normal LAN chatter is no incident.
    const others = alerts.filter((a) => a.netsentinel.type !== "new_host");
    assert.deepEqual(others, [], summary(others));
    assert.ok(ofType(alerts, "new_host").length > 5);
  });
}
