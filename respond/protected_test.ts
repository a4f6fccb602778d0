import assert from "node:assert/strict";
import { parseTarget } from "../store/mod.ts";
import {
  Guard,
  parseProcIpv6Route,
  parseProcNetTcp,
  parseProcRoute,
  parseResolvConf,
  readSystemFacts,
  type SystemFacts,
} from "./protected.ts";

Deno.test("parseProcRoute() reads the gateways in the kernel's byte order", () => {
  const text =
    `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0101A8C0	0003	0	0	100	00000000	0	0	0
eth0	0001A8C0	00000000	0001	0	0	100	00FFFFFF	0	0	0
wg0	0000000A	FE00000A	0003	0	0	0	000000FF	0	0	0
`;
  assert.deepEqual(parseProcRoute(text), ["192.168.1.1", "10.0.0.254"]);
});

Deno.test("parseProcIpv6Route() reads next hops and skips direct routes", () => {
  const text =
    `00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0
`;
  assert.deepEqual(parseProcIpv6Route(text), ["fe80::1"]);
});

Deno.test("parseResolvConf() lists name servers", () => {
  const text = `# generated
search lan
nameserver 192.168.1.53
nameserver fe80::1%eth0
nameserver not-an-ip
options edns0
`;
  assert.deepEqual(parseResolvConf(text), ["192.168.1.53", "fe80::1"]);
});

const facts: SystemFacts = {
  ownAddrs: ["192.168.1.10", "2001:db8::10"],
  broadcasts: ["192.168.1.255"],
  gateways: ["192.168.1.1"],
  dnsServers: ["9.9.9.9"],
};

Deno.test("Guard refuses everything that must never be blocked and says why", async (t) => {
  const guard = new Guard(facts, () => ["203.0.113.50"]);
  guard.setAllow(["198.51.100.0/24"]);
  const cases: [string, string | null][] = [
    ["127.0.0.1", "loopback"],
    ["::1", "loopback"],
    ["169.254.3.4", "link_local"],
    ["fe80::1234", "link_local"],
    ["224.0.0.251", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["0.0.0.0", "unspecified"],
    ["192.168.1.10", "own_address"],
    ["2001:db8::10", "own_address"],
    ["192.168.1.255", "broadcast"],
    ["192.168.1.1", "gateway"],
    ["9.9.9.9", "dns_server"],
    ["198.51.100.77", "allowlisted"],
    ["203.0.113.50", "admin_session"],
    ["::ffff:127.0.0.1", "loopback"],
    ["192.168.1.0/24", "own_address"],
    ["203.0.113.0/25", "admin_session"],
    ["10.0.0.0/7", "too_broad"],
    ["126.0.0.0/7", "too_broad"],
    ["2001:db8::/16", "too_broad"],
    ["192.168.1.77", null],
    ["203.0.113.51", null],
    ["10.0.0.0/8", null],
    ["2001:db8:1::/48", null],
  ];
  for (const [text, reason] of cases) {
    await t.step(`${text} → ${reason ?? "may be blocked"}`, () => {
      const target = parseTarget(text);
      assert.ok(target);
      const r = guard.check(target);
      assert.equal(r?.reason ?? null, reason);
      if (r) assert.ok(r.detail.includes(target.text), r.detail);
    });
  }
});

Deno.test("readSystemFacts() finds this host's loopback address", async () => {
  const f = await readSystemFacts();
  assert.ok(f.ownAddrs.includes("127.0.0.1"), JSON.stringify(f));
});

Deno.test("parseProcNetTcp() lists the peers of established connections to the given ports", () => {
  const tcp =
    `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0A01A8C0:0016 4D01A8C0:D2A4 01 00000000:00000000 02:000A1B2C 00000000     0        0 2 4 0 20 4 30 10 -1
   2: 0A01A8C0:0016 4E01A8C0:D2A5 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0
   3: 0A01A8C0:1F90 4F01A8C0:D2A6 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   4: 0A01A8C0:0016 4D01A8C0:D2A7 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
`;
  // LISTEN (0A), TIME_WAIT (06) and port 8080 are left out; one peer, once.
  assert.deepEqual(parseProcNetTcp(tcp, new Set([22])), ["192.168.1.77"]);
  assert.deepEqual(parseProcNetTcp(tcp, new Set([22, 8080])), [
    "192.168.1.77",
    "192.168.1.79",
  ]);
  const tcp6 =
    `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000A01A8C0:0016 0000000000000000FFFF00004D01A8C0:C350 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0 20 4 30 10 -1
   1: B80D0120000000000000000010000000:0016 B80D0120000000000000000066000000:C351 01 00000000:00000000 00:00000000 00000000     0        0 6 1 0 20 4 30 10 -1
   2: garbage
`;
  assert.deepEqual(parseProcNetTcp(tcp6, new Set([22])), [
    "192.168.1.77",
    "2001:db8::66",
  ]);
});

Deno.test("SSH session peers are kept from automatic blocks only", () => {
  const guard = new Guard();
  guard.setSessions(["192.168.1.77", "2001:db8::66"]);
  assert.equal(guard.sessions, 2);
  for (const text of ["192.168.1.77", "192.168.1.0/24", "2001:db8::66"]) {
    const t = parseTarget(text)!;
    assert.equal(guard.check(t)?.reason, "ssh_session", text);
    assert.match(guard.check(t)!.detail, /SSH session to the appliance/);
    assert.equal(guard.check(t, false), null, `${text} by hand`);
  }
  guard.setSessions([]);
  assert.equal(guard.check(parseTarget("192.168.1.77")!), null);
});
