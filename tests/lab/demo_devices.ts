/**
 * The home devices of the demo capture: a phone, a laptop, a printer, a
 * TV and a smart plug announcing themselves as such devices do (DHCP
 * requests with host names, vendor classes and parameter lists, mDNS
 * announcements, SSDP NOTIFYs) and talking to public servers, so the
 * Devices page, the countries panel and flags have something to show in
 * `run --demo`. Frames are built byte by byte (devices/_test_frames.ts);
 * the lab's real DHCP, mDNS and SSDP traffic (benign_lan.pcap) is laid in
 * beside them by make_demo.ts.
 *
 * @module
 */
import { cat, dnsName, ipv4, tcp, u16 } from "../../decode/_test_frames.ts";
import {
  dhcpClient,
  dnsResponse,
  macBytes,
  srv,
  ssdpNotify,
  txt,
  udpFrame,
} from "../../devices/_test_frames.ts";

/** One frame of the demo. */
export interface DemoFrame {
  tsUs: number;
  data: Uint8Array;
  wirelen: number;
}

const GW = "00:1b:2f:aa:00:01";

interface Dev {
  mac: string;
  ip: string;
  host: string;
  vendorClass: string;
  params: number[];
  ua: string;
  peers: string[];
}

const DEVICES: Dev[] = [
  {
    mac: "a4:83:e7:3c:11:02",
    ip: "192.168.1.23",
    host: "Annas-iPhone",
    vendorClass: "",
    params: [1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46],
    ua:
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    peers: ["17.253.144.10", "151.101.1.69"],
  },
  {
    mac: "f8:bc:12:51:9e:40",
    ip: "192.168.1.31",
    host: "DESKTOP-4QK7N2",
    vendorClass: "MSFT 5.0",
    params: [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252],
    ua:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    peers: ["140.82.121.4", "2.16.0.1", "185.199.108.153"],
  },
  {
    mac: "fc:f1:52:12:0f:7c",
    ip: "192.168.1.44",
    host: "living-room-tv",
    vendorClass: "android-dhcp-12",
    params: [1, 3, 6, 15, 26, 28, 51, 58, 59, 43],
    ua:
      "Mozilla/5.0 (Linux; Android 12; BRAVIA 4K VH2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    peers: ["8.8.8.8", "151.101.1.69"],
  },
  {
    mac: "24:62:ab:0c:33:91",
    ip: "192.168.1.52",
    host: "shelly-plug-0c3391",
    vendorClass: "udhcp 1.33.2",
    params: [1, 3, 6, 12, 15, 28, 42],
    ua: "ESP32 HTTP Client/1.0",
    peers: ["3.120.0.10"],
  },
];

function tcpFrame(o: {
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  seq: number;
  ack: number;
  payload?: string;
}): Uint8Array {
  return cat(
    macBytes(o.dstMac),
    macBytes(o.srcMac),
    u16(0x0800),
    ipv4(
      { src: o.src, dst: o.dst, proto: 6 },
      tcp(
        {
          sport: o.sport,
          dport: o.dport,
          flags: o.flags,
          seq: o.seq,
          ack: o.ack,
        },
        cat(o.payload ?? ""),
      ),
    ),
  );
}

/** A whole HTTP exchange between a home device and a server. */
function exchange(
  out: DemoFrame[],
  at: number,
  d: Dev,
  server: string,
  port: number,
): void {
  const a = {
    srcMac: d.mac,
    dstMac: GW,
    src: d.ip,
    dst: server,
    sport: port,
    dport: 80,
  };
  const b = {
    srcMac: GW,
    dstMac: d.mac,
    src: server,
    dst: d.ip,
    sport: 80,
    dport: port,
  };
  const req =
    `GET /generate_204 HTTP/1.1\r\nHost: connectivity.example\r\nUser-Agent: ${d.ua}\r\n\r\n`;
  const body = "x".repeat(2000);
  const resp =
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const push = (t: number, data: Uint8Array) =>
    out.push({ tsUs: at + t, data, wirelen: data.length });
  push(0, tcpFrame({ ...a, flags: 0x02, seq: 1000, ack: 0 }));
  push(30_000, tcpFrame({ ...b, flags: 0x12, seq: 5000, ack: 1001 }));
  push(31_000, tcpFrame({ ...a, flags: 0x10, seq: 1001, ack: 5001 }));
  push(
    32_000,
    tcpFrame({ ...a, flags: 0x18, seq: 1001, ack: 5001, payload: req }),
  );
  push(
    62_000,
    tcpFrame({
      ...b,
      flags: 0x18,
      seq: 5001,
      ack: 1001 + req.length,
      payload: resp,
    }),
  );
  const cEnd = 1001 + req.length, sEnd = 5001 + resp.length;
  push(63_000, tcpFrame({ ...a, flags: 0x11, seq: cEnd, ack: sEnd }));
  push(90_000, tcpFrame({ ...b, flags: 0x11, seq: sEnd, ack: cEnd + 1 }));
  push(91_000, tcpFrame({ ...a, flags: 0x10, seq: cEnd + 1, ack: sEnd + 1 }));
}

/** The demo's home devices over `seconds` from `startUs`. */
export function homeDeviceFrames(
  startUs: number,
  seconds: number,
): DemoFrame[] {
  const out: DemoFrame[] = [];
  const udp = (t: number, o: Parameters<typeof udpFrame>[0], p: Uint8Array) => {
    const f = udpFrame({ ...o, tsUs: t }, p);
    out.push({ tsUs: f.tsUs, data: f.data, wirelen: f.wirelen });
  };
  DEVICES.forEach((d, i) => {
    const t0 = startUs + (2 + i * 7) * 1e6;
    udp(
      t0,
      {
        srcMac: d.mac,
        src: "0.0.0.0",
        dst: "255.255.255.255",
        sport: 68,
        dport: 67,
      },
      dhcpClient({
        mac: d.mac,
        type: 3,
        options: [
          [50, d.ip.split(".").map(Number)],
          [12, d.host],
          ...(d.vendorClass ? [[60, d.vendorClass] as [number, string]] : []),
          [55, d.params],
        ],
      }),
    );
    for (let s = 10; s < seconds; s += 40) {
      d.peers.forEach((peer, k) =>
        exchange(out, t0 + (s + k * 3) * 1e6, d, peer, 49152 + s * 4 + k)
      );
    }
  });
  // The printer and the TV announce their services.
  const printer = { mac: "3c:2a:f4:8e:51:07", ip: "192.168.1.60" };
  for (let s = 5; s < seconds; s += 60) {
    udp(
      startUs + s * 1e6,
      {
        srcMac: printer.mac,
        dstMac: "01:00:5e:00:00:fb",
        src: printer.ip,
        dst: "224.0.0.251",
        sport: 5353,
        dport: 5353,
      },
      dnsResponse([
        {
          name: "_ipp._tcp.local",
          type: 12,
          rdata: dnsName("Brother HL-L2350DW._ipp._tcp.local"),
        },
        {
          name: "Brother HL-L2350DW._ipp._tcp.local",
          type: 33,
          rdata: srv(631, "BRW3C2AF48E5107.local"),
        },
        {
          name: "Brother HL-L2350DW._ipp._tcp.local",
          type: 16,
          rdata: txt("txtvers=1", "ty=Brother HL-L2350DW series", "note=Hall"),
        },
        {
          name: "BRW3C2AF48E5107.local",
          type: 1,
          rdata: printer.ip.split(".").map(Number),
        },
      ]),
    );
    udp(
      startUs + (s + 1) * 1e6,
      {
        srcMac: DEVICES[2]!.mac,
        dstMac: "01:00:5e:7f:ff:fa",
        src: DEVICES[2]!.ip,
        dst: "239.255.255.250",
        sport: 1900,
        dport: 1900,
      },
      ssdpNotify(
        "Linux/4.9 UPnP/1.0 Sony-BRAVIA/1.0",
        "urn:dial-multiscreen-org:device:dial:1",
      ),
    );
  }
  return out;
}
