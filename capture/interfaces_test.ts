import assert from "node:assert/strict";
import {
  defaultRouteInterface,
  formatInterfacesTable,
  type InterfaceInfo,
  listInterfaces,
  parseIpv6RouteTable,
  parseRouteTable,
  probeCapture,
} from "./interfaces.ts";

const ROUTE_HEADER =
  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";

const IPV6_ROUTE = [
  "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0",
  "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0",
  "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo",
].join("\n");

Deno.test("parseRouteTable() finds the interface of the default route", async (t) => {
  await t.step("with one default route", () => {
    const text = [
      ROUTE_HEADER,
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
    ].join("\n");
    assert.equal(parseRouteTable(text), "eth0");
  });
  await t.step("preferring the lowest metric", () => {
    const text = [
      ROUTE_HEADER,
      "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0",
      "eth1\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0",
    ].join("\n");
    assert.equal(parseRouteTable(text), "eth1");
  });
  await t.step("ignoring routes that are down or reject", () => {
    const text = [
      ROUTE_HEADER,
      "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0",
      "eth1\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0",
    ].join("\n");
    assert.equal(parseRouteTable(text), null);
  });
  await t.step("returning null for a table without a default route", () => {
    assert.equal(parseRouteTable(ROUTE_HEADER + "\n"), null);
    assert.equal(parseRouteTable(""), null);
  });
});

Deno.test("parseIpv6RouteTable() finds the default route and skips the lo reject route", () => {
  assert.equal(parseIpv6RouteTable(IPV6_ROUTE), "eth0");
  assert.equal(parseIpv6RouteTable(IPV6_ROUTE.split("\n")[2]!), null);
  assert.equal(parseIpv6RouteTable("garbage\n\n"), null);
});

Deno.test("defaultRouteInterface() falls back to IPv6 when IPv4 has no default route", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/route`, ROUTE_HEADER + "\n");
    await Deno.writeTextFile(`${dir}/ipv6_route`, IPV6_ROUTE + "\n");
    assert.equal(
      await defaultRouteInterface({
        route: `${dir}/route`,
        ipv6Route: `${dir}/ipv6_route`,
      }),
      "eth0",
    );
    assert.equal(
      await defaultRouteInterface({
        route: `${dir}/missing`,
        ipv6Route: `${dir}/missing6`,
      }),
      null,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatInterfacesTable() lays out one row per interface with notes", () => {
  const list: InterfaceInfo[] = [
    {
      name: "lo",
      index: 1,
      up: true,
      operstate: "unknown",
      loopback: true,
      mtu: 65536,
      mac: null,
      addresses: [
        { family: "IPv4", address: "127.0.0.1", cidr: "127.0.0.1/8" },
        { family: "IPv6", address: "::1", cidr: "::1/128" },
      ],
      capture: { permitted: true },
    },
    {
      name: "eth0",
      index: 2,
      up: true,
      operstate: "up",
      loopback: false,
      mtu: 1500,
      mac: "02:00:00:00:00:01",
      addresses: [
        { family: "IPv4", address: "192.0.2.2", cidr: "192.0.2.2/24" },
      ],
      capture: {
        permitted: false,
        code: "permission",
        reason: "permission denied",
      },
    },
    {
      name: "wlan0",
      index: 3,
      up: false,
      operstate: "down",
      loopback: false,
      mtu: null,
      mac: null,
      addresses: [],
      capture: null,
    },
  ];
  assert.equal(
    formatInterfacesTable(list, { defaultRoute: "eth0" }),
    [
      "INTERFACE  STATE  MTU    MAC                ADDRESSES     CAPTURE",
      "lo         up     65536  -                  127.0.0.1/8   permitted",
      "                                            ::1/128",
      "eth0 *     up     1500   02:00:00:00:00:01  192.0.2.2/24  no: permission denied",
      "wlan0      down   -      -                  -             not checked",
      "",
      "* carries the default route",
      "Capture needs more privilege: run as root or grant CAP_NET_RAW and CAP_NET_ADMIN: setcap cap_net_raw,cap_net_admin=eip <binary>",
      "",
    ].join("\n"),
  );
  assert.equal(
    formatInterfacesTable([]),
    "INTERFACE  STATE  MTU  MAC  ADDRESSES  CAPTURE\n(no interfaces)\n",
  );
});

Deno.test("listInterfaces() reads state, MTU and flags from sysfs, including interfaces without addresses", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/nsfake0`);
    await Deno.writeTextFile(`${dir}/nsfake0/flags`, "0x1002\n");
    await Deno.writeTextFile(`${dir}/nsfake0/operstate`, "down\n");
    await Deno.writeTextFile(`${dir}/nsfake0/mtu`, "9000\n");
    await Deno.writeTextFile(`${dir}/nsfake0/ifindex`, "0\n");
    await Deno.writeTextFile(`${dir}/nsfake0/address`, "02:aa:bb:cc:dd:ee\n");
    const list = await listInterfaces({ sysfs: dir, probe: false });
    const fake = list.find((i) => i.name === "nsfake0");
    assert.deepEqual(fake, {
      name: "nsfake0",
      index: 0,
      up: false,
      operstate: "down",
      loopback: false,
      mtu: 9000,
      mac: "02:aa:bb:cc:dd:ee",
      addresses: [],
      capture: null,
    });
    assert.equal(list[0]?.name, "nsfake0", "sorted by index");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listInterfaces() finds the loopback with its address and probes capture on it", async () => {
  const list = await listInterfaces();
  const lo = list.find((i) => i.loopback);
  assert.ok(lo, `no loopback among ${list.map((i) => i.name).join(", ")}`);
  assert.equal(lo.up, true);
  assert.ok(lo.addresses.some((a) => a.cidr === "127.0.0.1/8"));
  assert.equal(typeof lo.mtu, "number");
  if (Deno.uid() === 0) {
    assert.deepEqual(lo.capture, { permitted: true });
  } else {
    assert.equal(lo.capture?.permitted, false);
  }
});

Deno.test("probeCapture() tells a missing interface from a permission problem", () => {
  const access = probeCapture("nsx-nope0");
  assert.equal(access.permitted, false);
  if (access.permitted) return;
  assert.equal(
    access.code,
    Deno.uid() === 0 ? "no_such_interface" : "permission",
  );
});
