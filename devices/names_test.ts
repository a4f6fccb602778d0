import assert from "node:assert/strict";
import { cat } from "../decode/_test_frames.ts";
import {
  dhcpClient,
  dnsResponse,
  nbEncode,
  nbnsRegistration,
  srv,
  ssdpNotify,
  txt,
} from "./_test_frames.ts";
import { parseDhcpClient } from "./dhcp_client.ts";
import { parseMdns } from "./mdns.ts";
import { parseNbns } from "./nbns.ts";
import { parseSsdp } from "./ssdp.ts";
import { cleanBytes, cleanText, NAME_MAX } from "./text.ts";
import { dnsName } from "../decode/_test_frames.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("cleanText escapes control and bidi characters, keeps markup as text, and caps the length", () => {
  assert.equal(cleanText("lap\ntop\u0007"), "lap\\u{a}top\\u{7}");
  assert.equal(cleanText("a\u202eb"), "a\\u{202e}b");
  assert.equal(
    cleanText("<script>alert(1)</script>"),
    "<script>alert(1)</script>",
  );
  assert.equal(cleanText("Jane’s iPhone"), "Jane’s iPhone");
  const long = cleanText("x".repeat(1000));
  assert.equal(long, "x".repeat(NAME_MAX) + "…");
  assert.equal(
    cleanBytes(new Uint8Array([0x41, 0xff, 0x42]), 0, 3),
    "A\uFFFDB",
  );
});

Deno.test("parseDhcpClient reads the host name, FQDN, vendor class and parameter order of a DISCOVER", () => {
  const m = dhcpClient({
    mac: "b8:27:eb:12:34:56",
    type: 1,
    options: [
      [61, [1, 0xb8, 0x27, 0xeb, 0x12, 0x34, 0x56]],
      [50, [192, 168, 1, 57]],
      [12, "jane-laptop"],
      [81, [0x05, 0, 0, ...dnsName("jane-laptop.home.arpa")]],
      [60, "MSFT 5.0"],
      [55, [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]],
    ],
  });
  const f = parseDhcpClient(m, 0, m.length);
  assert.ok(f);
  assert.equal(f.msgType, 1);
  assert.equal(f.mac, 0xb827eb123456);
  assert.equal(f.hostname, "jane-laptop");
  assert.equal(f.fqdn, "jane-laptop.home.arpa");
  assert.equal(f.vendorClass, "MSFT 5.0");
  assert.equal(f.paramList, "1,3,6,15,31,33,43,44,46,47,119,121,249,252");
  assert.equal(f.requested, 0xc0a80139);
});

Deno.test("parseDhcpClient takes an ASCII FQDN, refuses server replies and survives hostile options", () => {
  const ascii = dhcpClient({
    mac: "02:00:00:00:00:01",
    type: 3,
    options: [[81, [
      0x01,
      0,
      0,
      ..."pc.lan".split("").map((c) => c.charCodeAt(0)),
    ]]],
  });
  assert.equal(parseDhcpClient(ascii, 0, ascii.length)?.fqdn, "pc.lan");
  const reply = ascii.slice();
  reply[0] = 2;
  assert.equal(parseDhcpClient(reply, 0, reply.length), null);
  assert.equal(parseDhcpClient(ascii, 0, 200), null);
  const hostile = dhcpClient({
    mac: "02:00:00:00:00:02",
    type: 1,
    options: [[
      12,
      "<img src=x onerror=alert(1)>\r\nX-Evil: 1" + "A".repeat(200),
    ]],
  });
  const f = parseDhcpClient(hostile, 0, hostile.length)!;
  assert.ok(
    f.hostname.startsWith("<img src=x onerror=alert(1)>\\u{d}\\u{a}X-Evil"),
  );
  assert.ok([...f.hostname].length <= NAME_MAX + 1 + 12);
  // An option whose length runs past the end: what came before is kept.
  const cut = cat(hostile.slice(0, 240), [53, 1, 1, 12, 200, 65, 66]);
  assert.equal(parseDhcpClient(cut, 0, cut.length)?.msgType, 1);
  assert.equal(parseDhcpClient(cut, 0, cut.length)?.hostname, "");
});

Deno.test("parseNbns reads RFC 1001's encoded name FRED from a registration and ignores group names and queries", () => {
  // RFC 1001 §14.1: "FRED" padded with spaces encodes as EGFCEFEECACACACA….
  const enc = nbEncode("FRED", 0x20);
  assert.equal(
    String.fromCharCode(...enc.slice(1, 33)),
    "EGFCEFEECACACACACACACACACACACACA",
  );
  const reg = nbnsRegistration("FRED", 0x20);
  assert.deepEqual(parseNbns(reg, 0, reg.length), {
    name: "FRED",
    suffix: 0x20,
    how: "registration",
  });
  const group = nbnsRegistration("WORKGROUP", 0x00, true);
  assert.equal(parseNbns(group, 0, group.length), null);
  const domain = nbnsRegistration("WORKGROUP", 0x1d);
  assert.equal(parseNbns(domain, 0, domain.length), null);
  const query = reg.slice();
  query[2] = 0x01; // opcode 0, a query
  assert.equal(parseNbns(query, 0, query.length), null);
  const bad = reg.slice();
  bad[13] = 0x20; // not a letter of the encoding
  assert.equal(parseNbns(bad, 0, bad.length), null);
  const ctl = nbnsRegistration("A\u0001<b>", 0);
  assert.equal(parseNbns(ctl, 0, ctl.length)?.name, "A\\u{1}<b>");
});

Deno.test("parseMdns reads host names, services, instances and TXT models from a response, never from a query", () => {
  const m = dnsResponse([
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
      rdata: txt("txtvers=1", "ty=Brother HL-L2350DW series", "note=Hall"),
    },
    { name: "brn3c2af4.local", type: 1, rdata: [192, 168, 1, 40] },
  ]);
  const f = parseMdns(m, 0, m.length, false)!;
  assert.deepEqual(f.hostnames, ["brn3c2af4"]);
  assert.deepEqual(f.services, ["_ipp._tcp"]);
  assert.deepEqual(f.instances, ["Office Printer"]);
  const utf = dnsResponse([{
    name: "_airplay._tcp.local",
    type: 12,
    rdata: [
      12,
      ...new TextEncoder().encode("Jane’s Mac"),
      ...dnsName("_airplay._tcp.local"),
    ],
  }]);
  assert.deepEqual(parseMdns(utf, 0, utf.length, false)?.instances, [
    "Jane’s Mac",
  ]);
  assert.deepEqual(f.models, ["Brother HL-L2350DW series"]);
  const cast = dnsResponse([
    {
      name: "Chromecast-abc._googlecast._tcp.local",
      type: 16,
      rdata: txt("id=abc", "md=Chromecast", "fn=Living Room <TV>"),
    },
  ]);
  const c = parseMdns(cast, 0, cast.length, false)!;
  assert.deepEqual(c.models, ["Chromecast"]);
  assert.deepEqual(c.instances, ["Living Room <TV>"]);
  const q = cat(m);
  q[2] = 0; // QR clear: a query
  assert.equal(parseMdns(q, 0, q.length, false), null);
});

Deno.test("parseMdns reads LLMNR's answered name (RFC 4795)", () => {
  const m = dnsResponse([{
    name: "DESKTOP-7Q2",
    type: 1,
    rdata: [10, 0, 0, 7],
  }]);
  assert.deepEqual(parseMdns(m, 0, m.length, true)?.hostnames, ["DESKTOP-7Q2"]);
});

Deno.test("parseSsdp reads SERVER, NT and USN of a NOTIFY, byebye and search answers, and refuses other text", () => {
  const n = ssdpNotify(
    "Linux/5.4 UPnP/1.0 Sonos/70.3-35220 (ZPS23)",
    "urn:schemas-upnp-org:device:ZonePlayer:1",
  );
  const f = parseSsdp(n, 0, n.length)!;
  assert.equal(f.what, "alive");
  assert.equal(f.server, "Linux/5.4 UPnP/1.0 Sonos/70.3-35220 (ZPS23)");
  assert.equal(f.type, "urn:schemas-upnp-org:device:ZonePlayer:1");
  assert.equal(f.location, "http://192.168.1.40:49152/description.xml");
  const bye = bytes(
    "NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:byebye\r\n\r\n",
  );
  assert.equal(parseSsdp(bye, 0, bye.length)?.what, "byebye");
  const resp = bytes(
    "HTTP/1.1 200 OK\r\nST: urn:dial-multiscreen-org:service:dial:1\r\nserver: Roku/9.4 UPnP/1.0\r\n\r\n",
  );
  assert.equal(parseSsdp(resp, 0, resp.length)?.server, "Roku/9.4 UPnP/1.0");
  assert.equal(parseSsdp(bytes("GET / HTTP/1.1\r\n\r\n"), 0, 18), null);
  const evil = bytes(
    `NOTIFY * HTTP/1.1\r\nSERVER: <b>${"x".repeat(10_000)}\u0000\r\n\r\n`,
  );
  assert.ok(parseSsdp(evil, 0, evil.length)!.server.length <= 202);
});

Deno.test("name parsers never throw on random bytes", () => {
  let s = 7;
  const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let i = 0; i < 3000; i++) {
    const n = rnd() * 2;
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = rnd();
    if (i % 3 === 0 && n > 240) b.set([0x63, 0x82, 0x53, 0x63], 236), b[0] = 1;
    parseDhcpClient(b, 0, n);
    parseNbns(b, 0, n);
    parseSsdp(b, 0, n);
    parseMdns(b, 0, n, i % 2 === 0);
  }
});
