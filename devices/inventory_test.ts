import assert from "node:assert/strict";
import {
  batchOf,
  cat,
  dnsName,
  ipv4,
  tcp,
  type TestFrame,
  u16,
} from "../decode/_test_frames.ts";
import { type Cidr, LINKTYPE_ETHERNET, parseCidr } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import {
  dhcpClient,
  dnsResponse,
  macBytes,
  nbnsRegistration,
  srv,
  ssdpNotify,
  txt,
  udpFrame,
} from "./_test_frames.ts";
import { DeviceInventory } from "./inventory.ts";
import { OuiRegistry } from "./oui.ts";
import { deviceView, mergeDevice } from "./record.ts";

const HOME: Cidr[] = [parseCidr("192.168.1.0/24")!];
const OUI = OuiRegistry.parse(
  "B827EB\tRaspberry Pi Foundation\n3C2AF4\tBrother Industries, LTD.\n",
);
const T0 = 1_700_000_000_000_000;

function run(
  frames: TestFrame[],
  inv = new DeviceInventory({ homeNet: () => HOME, oui: OUI }),
): DeviceInventory {
  const p = new Pipeline({ observers: [inv] });
  p.processBatch(batchOf(frames));
  p.finish();
  return inv;
}

function tcpFrame(
  o: {
    srcMac: string;
    dstMac: string;
    src: string;
    dst: string;
    sport: number;
    dport: number;
    flags: number;
    tsUs: number;
    payload?: string;
  },
): TestFrame {
  const data = cat(
    macBytes(o.dstMac),
    macBytes(o.srcMac),
    u16(0x0800),
    ipv4(
      { src: o.src, dst: o.dst, proto: 6 },
      tcp(
        { sport: o.sport, dport: o.dport, flags: o.flags, seq: 1, ack: 1 },
        cat(o.payload ?? ""),
      ),
    ),
  );
  return {
    data,
    wirelen: data.length,
    tsUs: o.tsUs,
    linktype: LINKTYPE_ETHERNET,
  };
}

const PI = "b8:27:eb:12:34:56";
const GW = "00:11:22:33:44:55";

Deno.test("a device keeps one record by MAC when DHCP gives it another address, with its names and hints", () => {
  const frames = [
    udpFrame(
      {
        srcMac: PI,
        src: "0.0.0.0",
        dst: "255.255.255.255",
        sport: 68,
        dport: 67,
        tsUs: T0,
      },
      dhcpClient({
        mac: PI,
        type: 1,
        options: [[12, "kitchen-pi"], [60, "udhcp 1.36.1"], [55, [
          1,
          3,
          6,
          12,
          15,
          28,
          42,
        ]]],
      }),
    ),
    udpFrame(
      {
        srcMac: PI,
        dstMac: GW,
        src: "192.168.1.57",
        dst: "192.168.1.1",
        sport: 40000,
        dport: 53,
        tsUs: T0 + 1e6,
      },
      cat(
        u16(1),
        u16(0x0100),
        u16(1),
        u16(0),
        u16(0),
        u16(0),
        dnsName("example.org"),
        u16(1),
        u16(1),
      ),
    ),
    udpFrame(
      {
        srcMac: PI,
        dstMac: GW,
        src: "192.168.1.99",
        dst: "192.168.1.1",
        sport: 40001,
        dport: 53,
        tsUs: T0 + 120e6,
      },
      cat(
        u16(2),
        u16(0x0100),
        u16(1),
        u16(0),
        u16(0),
        u16(0),
        dnsName("example.org"),
        u16(1),
        u16(1),
      ),
    ),
  ];
  const inv = run(frames);
  assert.equal(inv.size, 1); // the gateway only received: no device until it sends
  const d = inv.get(0xb827eb123456)!;
  assert.equal(d.vendor, "Raspberry Pi Foundation");
  assert.equal(d.firstBy, "dhcp");
  assert.deepEqual([...d.addrs.keys()].sort(), [
    "192.168.1.57",
    "192.168.1.99",
  ]);
  assert.equal(inv.byIp("192.168.1.57"), d);
  assert.equal(inv.byIp("192.168.1.99"), d);
  assert.equal(d.bestName(), "kitchen-pi");
  const view = deviceView(
    mergeDevice(null, inv.drain().find((x) => x.device === d)!),
    {},
  );
  assert.equal(view.display_name, "kitchen-pi");
  assert.equal(view.os?.value, "Linux");
  assert.ok(view.os?.evidence.some((e) => e.includes("BusyBox udhcpc")));
  assert.equal(view.mac, PI);
  assert.equal(view.packets_out, 3);
});

Deno.test("mDNS, NetBIOS and SSDP announcements name a device and say what it is, with the evidence", () => {
  const PR = "3c:2a:f4:00:00:01",
    TV = "02:42:ac:11:00:07",
    PC = "00:1b:63:aa:bb:cc";
  const frames = [
    udpFrame(
      {
        srcMac: PR,
        dstMac: "01:00:5e:00:00:fb",
        src: "192.168.1.40",
        dst: "224.0.0.251",
        sport: 5353,
        dport: 5353,
        tsUs: T0,
      },
      dnsResponse([
        {
          name: "_ipp._tcp.local",
          type: 12,
          rdata: dnsName("Office Printer._ipp._tcp.local"),
        },
        {
          name: "Office Printer._ipp._tcp.local",
          type: 33,
          rdata: srv(631, "brn3c2af4.local"),
        },
        {
          name: "Office Printer._ipp._tcp.local",
          type: 16,
          rdata: txt("ty=Brother HL-L2350DW series"),
        },
      ]),
    ),
    udpFrame(
      {
        srcMac: TV,
        dstMac: "01:00:5e:7f:ff:fa",
        src: "192.168.1.41",
        dst: "239.255.255.250",
        sport: 1900,
        dport: 1900,
        tsUs: T0 + 1,
      },
      ssdpNotify(
        "Linux/4.9 UPnP/1.0 Roku/9.4.0",
        "urn:dial-multiscreen-org:device:dial:1",
      ),
    ),
    udpFrame({
      srcMac: PC,
      src: "192.168.1.42",
      dst: "192.168.1.255",
      sport: 137,
      dport: 137,
      tsUs: T0 + 2,
    }, nbnsRegistration("DESKTOP-7Q2", 0x00, false, "192.168.1.42")),
    // Not a home address: no device.
    udpFrame({
      srcMac: "00:99:99:99:99:99",
      src: "203.0.113.9",
      dst: "192.168.1.42",
      sport: 1900,
      dport: 1900,
      tsUs: T0 + 3,
    }, ssdpNotify("x", "upnp:rootdevice")),
  ];
  const inv = run(frames);
  assert.equal(inv.size, 3);
  const pr = inv.get(0x3c2af4000001)!;
  const v = deviceView(
    mergeDevice(null, inv.drain().find((x) => x.device === pr)!),
    {},
  );
  assert.equal(v.display_name, "Office Printer");
  assert.equal(v.name_source, "mdns instance");
  assert.deepEqual(v.names.map((n) => n.name).sort(), [
    "Office Printer",
    "brn3c2af4",
  ]);
  assert.equal(v.kind?.value, "printer");
  assert.equal(v.kind?.confidence, "likely");
  assert.ok(v.kind?.evidence.includes("mdns service: _ipp._tcp"));
  assert.equal(v.vendor, "Brother Industries, LTD.");
  assert.equal(v.first_seen_by, "mdns");
  const tv = inv.get(0x0242ac110007)!;
  assert.equal(tv.macKind, "local");
  assert.equal(tv.vendor, null);
  const tvv = deviceView(
    mergeDevice(null, {
      device: tv,
      bytesIn: 0,
      bytesOut: 0,
      pktsIn: 0,
      pktsOut: 0,
      minutes: [],
      peers: null,
      services: null,
    }),
    {},
  );
  assert.equal(tvv.kind?.value, "tv");
  assert.equal(tvv.display_name, null);
  const pc = inv.get(0x001b63aabbcc)!;
  assert.equal(pc.bestName(), "DESKTOP-7Q2");
});

Deno.test("the owner's name wins over wire names, and a guess with weak evidence says possibly", () => {
  const inv = run([
    udpFrame({
      srcMac: PI,
      src: "192.168.1.57",
      dst: "192.168.1.1",
      sport: 5355,
      dport: 40000,
      tsUs: T0,
    }, dnsResponse([{ name: "pi", type: 1, rdata: [192, 168, 1, 57] }])),
  ]);
  const rec = mergeDevice(null, inv.drain()[0]!);
  const v = deviceView(rec, {
    name: "Kitchen <Pi>",
    known: true,
    note: "on the fridge",
  });
  assert.equal(v.display_name, "Kitchen <Pi>");
  assert.equal(v.name_source, "owner");
  assert.equal(v.known, true);
  assert.equal(v.kind?.value, "computer");
  assert.equal(v.kind?.confidence, "possibly");
  assert.deepEqual(v.kind?.evidence, ["vendor OUI: Raspberry Pi Foundation"]);
});

Deno.test("HTTP User-Agents and TLS JA4s from the app layer become hints of the client's device; peers and services come from ended flows", () => {
  const PH = "a4:83:e7:01:02:03";
  const req =
    "GET / HTTP/1.1\r\nHost: example.org\r\nUser-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15\r\n\r\n";
  const resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const a = {
    srcMac: PH,
    dstMac: GW,
    src: "192.168.1.60",
    dst: "93.184.216.34",
    sport: 50000,
    dport: 80,
  };
  const b = {
    srcMac: GW,
    dstMac: PH,
    src: "93.184.216.34",
    dst: "192.168.1.60",
    sport: 80,
    dport: 50000,
  };
  const frames = [
    tcpFrame({ ...a, flags: 0x02, tsUs: T0 }),
    tcpFrame({ ...b, flags: 0x12, tsUs: T0 + 10 }),
    tcpFrame({ ...a, flags: 0x18, tsUs: T0 + 20, payload: req }),
    tcpFrame({ ...b, flags: 0x18, tsUs: T0 + 30, payload: resp }),
  ];
  const inv = run(frames);
  const d = inv.get(0xa483e7010203)!;
  assert.ok(d);
  const deltas = inv.drain();
  const rec = mergeDevice(null, deltas.find((x) => x.device === d)!);
  const v = deviceView(rec, {});
  assert.equal(v.kind?.value, "phone");
  assert.equal(v.os?.value, "iOS");
  assert.ok(
    v.os?.evidence[0]?.startsWith("http User-Agent: Mozilla/5.0 (iPhone"),
  );
  assert.equal(rec.peers[0]?.ip, "93.184.216.34");
  assert.equal(rec.peers[0]?.service, "tcp/80");
  assert.ok(rec.bytes_in > 0 && rec.bytes_out > 0);
  // The remote address never becomes the gateway's.
  assert.equal(inv.byIp("93.184.216.34"), undefined);
});

Deno.test("the inventory stays within its bound under a flood of source MACs", () => {
  const inv = new DeviceInventory({
    homeNet: () => HOME,
    oui: OUI,
    maxDevices: 100,
  });
  const frames: TestFrame[] = [];
  for (let i = 0; i < 1000; i++) {
    const mac = `02:00:00:00:${
      ((i >> 8) & 255).toString(16).padStart(2, "0")
    }:${(i & 255).toString(16).padStart(2, "0")}`;
    frames.push(
      udpFrame({
        srcMac: mac,
        dstMac: GW,
        src: `192.168.1.${1 + (i % 250)}`,
        dst: "192.168.1.1",
        sport: 1000,
        dport: 9,
        tsUs: T0 + i,
      }, cat("x")),
    );
  }
  run(frames, inv);
  assert.equal(inv.size, 100);
  assert.equal(inv.evicted, 900);
});

Deno.test("an ARP request makes its sender a device at its address", () => {
  const data = cat(
    macBytes("ff:ff:ff:ff:ff:ff"),
    macBytes(PI),
    u16(0x0806),
    [0, 1, 8, 0, 6, 4, 0, 1],
    macBytes(PI),
    [192, 168, 1, 57],
    [0, 0, 0, 0, 0, 0],
    [192, 168, 1, 1],
  );
  const inv = run([{
    data,
    wirelen: 60,
    tsUs: T0,
    linktype: LINKTYPE_ETHERNET,
  }]);
  const d = inv.get(0xb827eb123456)!;
  assert.equal(d.firstBy, "arp");
  assert.equal(inv.byIp("192.168.1.57"), d);
  // Another MAC claiming to send for it in the ARP body is not believed.
  const forged = data.slice();
  forged[6 + 5] = 0x99;
  const inv2 = run([{
    data: forged,
    wirelen: 60,
    tsUs: T0,
    linktype: LINKTYPE_ETHERNET,
  }]);
  assert.equal(inv2.size, 0);
});

Deno.test("a MAC sending for a thousand home addresses stops teaching addresses and keeps its maps bounded", () => {
  const inv = new DeviceInventory({
    homeNet: () => [parseCidr("10.0.0.0/8")!],
    oui: OUI,
  });
  const frames: TestFrame[] = [];
  for (let i = 0; i < 1200; i++) {
    frames.push(
      udpFrame({
        srcMac: GW,
        dstMac: PI,
        src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        dst: "10.255.0.1",
        sport: 1000,
        dport: 9,
        tsUs: T0 + i,
      }, cat("x")),
    );
  }
  run(frames, inv);
  const d = inv.get(0x001122334455)!;
  assert.equal(d.addrs.size, 16);
  assert.ok(
    [...d.hints.values()].some((h) =>
      h.source === "traffic" && h.kind === "network"
    ),
  );
  let mapped = 0;
  for (let i = 0; i < 1200; i++) {
    if (inv.byIp(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)) {
      mapped++;
    }
  }
  assert.ok(mapped <= 16, `${mapped} addresses mapped`);
  assert.equal(d.pktsOut, 1200);
});
