/**
 * Frames for the devices tests, built byte by byte from the RFCs' layouts:
 * DHCP client messages (RFC 2131/2132, 4702), NetBIOS name registrations
 * (RFC 1002 §4.2.2), mDNS responses (RFC 6762/6763), SSDP NOTIFY (UPnP
 * Device Architecture 2.0 §1.2.2).
 *
 * @module
 */
import {
  addrBytes,
  cat,
  dnsName,
  ipv4,
  type TestFrame,
  u16,
  u32,
  udp,
} from "../decode/_test_frames.ts";
import { LINKTYPE_ETHERNET } from "../decode/mod.ts";

/** MAC text to 6 bytes. */
export function macBytes(mac: string): number[] {
  return mac.split(":").map((h) => parseInt(h, 16));
}

/** An Ethernet/IPv4/UDP frame. */
export function udpFrame(o: {
  srcMac: string;
  dstMac?: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  tsUs?: number;
}, payload: Uint8Array): TestFrame {
  const data = cat(
    macBytes(o.dstMac ?? "ff:ff:ff:ff:ff:ff"),
    macBytes(o.srcMac),
    u16(0x0800),
    ipv4({ src: o.src, dst: o.dst, proto: 17 }, udp(o, payload)),
  );
  return {
    data,
    wirelen: data.length,
    tsUs: o.tsUs ?? 1_700_000_000_000_000,
    linktype: LINKTYPE_ETHERNET,
  };
}

/** A DHCP client message with the given options (code → bytes). */
export function dhcpClient(o: {
  mac: string;
  type: number;
  ciaddr?: string;
  options: [number, number[] | string][];
}): Uint8Array {
  const opts: number[] = [53, 1, o.type];
  for (const [code, v] of o.options) {
    const b = typeof v === "string"
      ? [...v].map((c) => c.charCodeAt(0) & 0xff)
      : v;
    opts.push(code, b.length, ...b);
  }
  opts.push(255);
  return cat(
    [1, 1, 6, 0],
    u32(0x3903f326),
    u16(0),
    u16(0),
    addrBytes(o.ciaddr ?? "0.0.0.0"),
    addrBytes("0.0.0.0"),
    addrBytes("0.0.0.0"),
    addrBytes("0.0.0.0"),
    macBytes(o.mac),
    new Array(10).fill(0),
    new Array(64 + 128).fill(0),
    u32(0x63825363),
    opts,
  );
}

/** NetBIOS first-level encoding of a 16-byte name (RFC 1001 §14.1). */
export function nbEncode(name: string, suffix: number): number[] {
  const raw = [...name.padEnd(15, " ").slice(0, 15)].map((c) =>
    c.charCodeAt(0) & 0xff
  );
  raw.push(suffix);
  const out = [32];
  for (const b of raw) out.push(0x41 + (b >> 4), 0x41 + (b & 15));
  out.push(0);
  return out;
}

/** A NetBIOS name registration request (RFC 1002 §4.2.2). */
export function nbnsRegistration(
  name: string,
  suffix = 0x00,
  group = false,
  ip = "10.0.0.5",
): Uint8Array {
  return cat(
    u16(0x1234),
    u16(0x2910), // request, opcode 5 registration, RD, B
    u16(1),
    u16(0),
    u16(0),
    u16(1),
    nbEncode(name, suffix),
    u16(0x20),
    u16(1),
    [0xc0, 0x0c],
    u16(0x20),
    u16(1),
    u32(300000),
    u16(6),
    u16(group ? 0x8000 : 0),
    addrBytes(ip),
  );
}

/** One resource record for {@link dnsResponse}. */
export interface Rr {
  name: string;
  type: number;
  rdata: number[];
}

/** A DNS response (id 0, QR and AA set) with these answers. */
export function dnsResponse(answers: Rr[]): Uint8Array {
  const parts: number[] = [];
  for (const a of answers) {
    parts.push(
      ...dnsName(a.name),
      ...u16(a.type),
      ...u16(0x8001),
      ...u32(120),
      ...u16(a.rdata.length),
      ...a.rdata,
    );
  }
  return cat(
    u16(0),
    u16(0x8400),
    u16(0),
    u16(answers.length),
    u16(0),
    u16(0),
    parts,
  );
}

/** TXT rdata from strings. */
export function txt(...s: string[]): number[] {
  return s.flatMap((
    x,
  ) => [x.length, ...[...x].map((c) => c.charCodeAt(0) & 0xff)]);
}

/** SRV rdata. */
export function srv(port: number, target: string): number[] {
  return [...u16(0), ...u16(0), ...u16(port), ...dnsName(target)];
}

/** An SSDP NOTIFY ssdp:alive. */
export function ssdpNotify(
  server: string,
  nt: string,
  usn = "uuid:2f402f80-da50-11e1-9b23-001788682fa1",
): Uint8Array {
  return cat(
    "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n" +
      "LOCATION: http://192.168.1.40:49152/description.xml\r\n" +
      `NT: ${nt}\r\nNTS: ssdp:alive\r\nSERVER: ${server}\r\nUSN: ${usn}::${nt}\r\n\r\n`,
  );
}
