/**
 * Devices through the whole appliance: a replayed capture with a DHCP
 * client, an mDNS printer with a hostile instance name, an SSDP TV and a
 * phone browsing a server abroad gives `/api/devices` (names, vendors,
 * kinds with evidence, addresses, peers with countries), the device behind
 * a new_host alert, `PATCH /api/devices/:mac` (owner's name, known, note;
 * hostile input answered 400, never 500), and the Devices and device pages
 * in headless Chromium with a screenshot; wire text stays text.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { batchOf, cat, ipv4, tcp, u16 } from "../../decode/_test_frames.ts";
import { writePcap } from "../../capture/mod.ts";
import {
  dhcpClient,
  dnsResponse,
  macBytes,
  srv,
  ssdpNotify,
  txt,
  udpFrame,
} from "../../devices/_test_frames.ts";
import { dnsName } from "../../decode/_test_frames.ts";
import {
  apiCall,
  signIn,
  startAppliance,
  TEST_PASSWORD,
} from "./_appliance.ts";
import { waitFor } from "../../store/_testing.ts";
import {
  browserUnavailable,
  launchBrowser,
  screenshot,
  waitInPage,
} from "./_browser.ts";

const PI = "b8:27:eb:12:34:56";
const PRINTER = "3c:2a:f4:00:00:01";
const TV = "02:42:ac:11:00:07";
const PHONE = "a4:83:e7:01:02:03";
const GW = "00:11:22:33:44:55";
const EVIL = '<img src=x onerror="document.title=1">';

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
    seq?: number;
    ack?: number;
  },
): { tsUs: number; data: Uint8Array } {
  return {
    tsUs: o.tsUs,
    data: cat(
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
            seq: o.seq ?? 1,
            ack: o.ack ?? 1,
          },
          cat(o.payload ?? ""),
        ),
      ),
    ),
  };
}

/** A small home network's minute: DHCP, mDNS, SSDP and a phone on the web. */
async function writeDeviceCapture(path: string): Promise<void> {
  const t0 = (Date.now() - 90_000) * 1000;
  const f: { tsUs: number; data: Uint8Array }[] = [];
  const u = (o: Parameters<typeof udpFrame>[0], p: Uint8Array) => {
    const x = udpFrame(o, p);
    f.push({ tsUs: x.tsUs, data: x.data });
  };
  u(
    {
      srcMac: PI,
      src: "0.0.0.0",
      dst: "255.255.255.255",
      sport: 68,
      dport: 67,
      tsUs: t0,
    },
    dhcpClient({
      mac: PI,
      type: 3,
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
  );
  u(
    {
      srcMac: PRINTER,
      dstMac: "01:00:5e:00:00:fb",
      src: "192.168.1.40",
      dst: "224.0.0.251",
      sport: 5353,
      dport: 5353,
      tsUs: t0 + 1000,
    },
    dnsResponse([
      {
        name: "_ipp._tcp.local",
        type: 12,
        rdata: [
          EVIL.length,
          ...new TextEncoder().encode(EVIL),
          ...dnsName("_ipp._tcp.local"),
        ],
      },
      {
        name: "printer.local",
        type: 1,
        rdata: [192, 168, 1, 40],
      },
      { name: "x._ipp._tcp.local", type: 33, rdata: srv(631, "printer.local") },
      {
        name: "x._ipp._tcp.local",
        type: 16,
        rdata: txt("ty=Brother HL-L2350DW"),
      },
    ]),
  );
  u(
    {
      srcMac: TV,
      dstMac: "01:00:5e:7f:ff:fa",
      src: "192.168.1.41",
      dst: "239.255.255.250",
      sport: 1900,
      dport: 1900,
      tsUs: t0 + 2000,
    },
    ssdpNotify(
      "Linux/4.9 UPnP/1.0 Roku/9.4.0",
      "urn:dial-multiscreen-org:device:dial:1",
    ),
  );
  // The Pi and the phone talk to servers abroad: complete connections.
  const talk = (
    mac: string,
    ip: string,
    remote: string,
    port: number,
    at: number,
    ua: string,
  ) => {
    const a = {
      srcMac: mac,
      dstMac: GW,
      src: ip,
      dst: remote,
      sport: 50000 + port % 100,
      dport: port,
    };
    const b = {
      srcMac: GW,
      dstMac: mac,
      src: remote,
      dst: ip,
      sport: port,
      dport: 50000 + port % 100,
    };
    const req =
      `GET / HTTP/1.1\r\nHost: example.org\r\nUser-Agent: ${ua}\r\n\r\n`;
    const resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    f.push(tcpFrame({ ...a, flags: 0x02, tsUs: at, seq: 100, ack: 0 }));
    f.push(
      tcpFrame({ ...b, flags: 0x12, tsUs: at + 10_000, seq: 500, ack: 101 }),
    );
    f.push(
      tcpFrame({ ...a, flags: 0x10, tsUs: at + 20_000, seq: 101, ack: 501 }),
    );
    f.push(
      tcpFrame({
        ...a,
        flags: 0x18,
        tsUs: at + 30_000,
        seq: 101,
        ack: 501,
        payload: req,
      }),
    );
    f.push(
      tcpFrame({
        ...b,
        flags: 0x18,
        tsUs: at + 40_000,
        seq: 501,
        ack: 101 + req.length,
        payload: resp,
      }),
    );
    f.push(
      tcpFrame({
        ...a,
        flags: 0x11,
        tsUs: at + 50_000,
        seq: 101 + req.length,
        ack: 501 + resp.length,
      }),
    );
    f.push(
      tcpFrame({
        ...b,
        flags: 0x11,
        tsUs: at + 60_000,
        seq: 501 + resp.length,
        ack: 102 + req.length,
      }),
    );
    f.push(
      tcpFrame({
        ...a,
        flags: 0x10,
        tsUs: at + 70_000,
        seq: 102 + req.length,
        ack: 502 + resp.length,
      }),
    );
  };
  talk(
    PI,
    "192.168.1.57",
    "93.184.216.34",
    80,
    t0 + 1_000_000,
    "Debian APT-HTTP/1.3 (2.6.1)",
  );
  talk(
    PHONE,
    "192.168.1.60",
    "151.101.1.69",
    80,
    t0 + 2_000_000,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15",
  );
  // The Pi moves to another address and keeps talking.
  talk(
    PI,
    "192.168.1.99",
    "93.184.216.34",
    8080,
    t0 + 65_000_000,
    "Debian APT-HTTP/1.3 (2.6.1)",
  );
  await writePcap(path, f);
}

type Dev = Record<string, unknown> & {
  mac: string;
  display_name: string | null;
  kind: { value: string; confidence: string; evidence: string[] } | null;
  os: { value: string } | null;
  addresses: { ip: string }[];
  peers: { ip: string }[];
};

async function replayed(app: { url: string }, caps: string) {
  await writeDeviceCapture(join(caps, "home.pcap"));
  const cookie = await signIn(app.url);
  const r = await apiCall(app.url, cookie, "POST", "/api/replay/start", {
    file: "home.pcap",
    speed: 0,
  });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  const devices = await waitFor(
    "four devices stored",
    async () =>
      ((await apiCall(app.url, cookie, "GET", "/api/devices")).data.devices ??
        []) as Dev[],
    (d) => d.length === 4 && d.some((x) => x.peers.length > 0),
    20_000,
  );
  return { cookie, devices };
}

Deno.test("a replayed home network gives devices by MAC with names, vendors, kinds and peers; edits are checked", async () => {
  const caps = await Deno.makeTempDir({ prefix: "ns-devcaps-" });
  try {
    await using app = await startAppliance({ capturesDir: caps });
    const { cookie, devices } = await replayed(app, caps);
    const by = new Map(devices.map((d) => [d.mac, d]));
    const pi = by.get(PI)!;
    assert.equal(pi.display_name, "kitchen-pi");
    assert.equal(pi.vendor, "Raspberry Pi Foundation");
    assert.deepEqual(pi.addresses.map((a) => a.ip).sort(), [
      "192.168.1.57",
      "192.168.1.99",
    ]);
    assert.equal(pi.first_seen_by, "dhcp");
    assert.equal(pi.os?.value, "Linux");
    const printer = by.get(PRINTER)!;
    assert.equal(printer.display_name, EVIL);
    assert.equal(printer.kind?.value, "printer");
    assert.equal(printer.kind?.confidence, "likely");
    assert.ok(printer.kind?.evidence.includes("mdns service: _ipp._tcp"));
    const tv = by.get(TV)!;
    assert.equal(tv.vendor, null);
    assert.equal(tv.mac_kind, "local");
    assert.equal(tv.kind?.value, "tv");
    const phone = by.get(PHONE)!;
    assert.equal(phone.kind?.value, "phone");
    assert.equal(phone.os?.value, "iOS");

    // The device page's data: peers with their country, traffic rollups.
    const detail = await apiCall(app.url, cookie, "GET", `/api/devices/${PI}`);
    assert.equal(detail.status, 200);
    const peers = detail.data.peers as { ip: string; country: string | null }[];
    assert.equal(peers[0]?.ip, "93.184.216.34");
    assert.ok(peers[0]?.country, JSON.stringify(peers));
    const traffic = detail.data.traffic as {
      minutes: unknown[];
      hourly: unknown[];
    };
    assert.ok(traffic.minutes.length >= 1 && traffic.hourly.length >= 1);

    // The new_host alert of the phone names its device.
    const alerts = await waitFor(
      "a new_host alert for the phone",
      async () =>
        (await apiCall(app.url, cookie, "GET", "/api/alerts?type=new_host"))
          .data
          .alerts as Array<
            { src_ip: string; netsentinel: Record<string, unknown> }
          >,
      (a) => a.some((x) => x.src_ip === "192.168.1.60"),
    );
    const na = alerts.find((x) => x.src_ip === "192.168.1.60")!;
    assert.deepEqual(
      (na.netsentinel.src_device as Record<string, unknown>).mac,
      PHONE,
    );
    const ev =
      (na.netsentinel.evidence as Record<string, Record<string, unknown>>)
        .device!;
    assert.equal(ev.first_seen_by, "ipv4");
    assert.equal(ev.vendor, "Apple, Inc.");

    // Owner's edits.
    const ok = await apiCall(
      app.url,
      cookie,
      "PATCH",
      `/api/devices/${PI.toUpperCase()}`,
      {
        name: "Kitchen Pi",
        known: true,
        note: "on the fridge\nsince May",
      },
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.data));
    const after = (await apiCall(app.url, cookie, "GET", `/api/devices/${PI}`))
      .data
      .device as Dev;
    assert.equal(after.display_name, "Kitchen Pi");
    assert.equal(after.name_source, "owner");
    assert.equal(after.known, true);
    assert.equal(after.note, "on the fridge\nsince May");
    assert.equal(
      (await apiCall(
        app.url,
        cookie,
        "PATCH",
        "/api/devices/02:00:00:00:00:99",
        {
          known: true,
        },
      )).status,
      404,
    );
    for (
      const [path, body] of [
        [`/api/devices/nope`, { known: true }],
        [`/api/devices/${"a".repeat(5000)}`, { known: true }],
        [`/api/devices/${PI}`, { name: "x".repeat(65) }],
        [`/api/devices/${PI}`, { name: "a\u0000b" }],
        [`/api/devices/${PI}`, { name: "a\u202eb" }],
        [`/api/devices/${PI}`, { note: "n".repeat(501) }],
        [`/api/devices/${PI}`, { known: "yes" }],
        [`/api/devices/${PI}`, { trusted: 1 }],
        [`/api/devices/${PI}`, { name: 5 }],
        [`/api/devices/${PI}`, { __proto__: { x: 1 }, evil: 1 }],
        [`/api/devices/${PI}`, [1, 2]],
        [`/api/devices/${PI}`, "{nope"],
        [`/api/devices/${PI}`, "null"],
      ] as const
    ) {
      const bad = await apiCall(app.url, cookie, "PATCH", path, body);
      assert.equal(
        bad.status,
        400,
        JSON.stringify([path.slice(0, 40), body, bad.data]),
      );
    }
    assert.equal(
      (await apiCall(app.url, cookie, "GET", "/api/devices/zz:zz")).status,
      400,
    );
    assert.equal(
      (await apiCall(app.url, cookie, "GET", "/api/devices?limit=0")).status,
      400,
    );
    // The edit survived the hostile ones.
    const still = (await apiCall(app.url, cookie, "GET", `/api/devices/${PI}`))
      .data.device as Dev;
    assert.equal(still.display_name, "Kitchen Pi");
  } finally {
    await Deno.remove(caps, { recursive: true });
  }
});

const missing = await browserUnavailable();

Deno.test({
  name:
    "the Devices page and a device page show names, evidence and peers, wire text as text, and save the owner's name",
  ignore: missing !== null && Deno.env.get("CI") !== "true",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.equal(missing, null, missing ?? "");
    const caps = await Deno.makeTempDir({ prefix: "ns-devcaps-" });
    try {
      await using app = await startAppliance({ capturesDir: caps });
      await replayed(app, caps);
      await using b = await launchBrowser();
      const { page, errors, cspViolations } = await b.page();
      await page.goto(app.url + "/devices");
      await page.type("input[name=password]", TEST_PASSWORD);
      await Promise.all([
        page.waitForNavigation(),
        page.click("button[type=submit]"),
      ]);
      const rows = await page.$$eval(
        "[data-testid=device-table] tbody tr",
        (trs) => trs.map((t) => t.textContent ?? ""),
      );
      assert.equal(rows.length, 4);
      assert.ok(
        rows.some((r) => r.includes(EVIL) && r.includes("printer")),
        JSON.stringify(rows),
      );
      assert.ok(rows.some((r) => r.includes("randomised MAC")));
      assert.equal(await page.$("img[src=x]"), null);
      await screenshot(page, "devices-page");
      await Promise.all([
        page.waitForNavigation(),
        page.click(`tr[data-mac="${PI}"] a`),
      ]);
      await waitInPage(
        page,
        "hydration",
        () => document.documentElement.dataset.hydrated === "true",
      );
      assert.equal(
        await page.$eval("[data-testid=device-name]", (e) => e.textContent),
        "kitchen-pi",
      );
      const evidence = await page.$eval(
        "[data-testid=device-evidence]",
        (e) => e.textContent ?? "",
      );
      assert.match(evidence, /dhcp option 55 \(BusyBox udhcpc\)/);
      const peers = await page.$eval(
        "[data-testid=device-peers]",
        (e) => e.textContent ?? "",
      );
      assert.match(peers, /93\.184\.216\.34/);
      await waitInPage(
        page,
        "the chart",
        () =>
          document.querySelector("[data-testid=device-chart] canvas") !== null,
      );
      await screenshot(page, "device-page");
      await page.type(
        "[data-testid=device-editor] input[name=name]",
        "Kitchen Pi",
      );
      await Promise.all([
        page.waitForNavigation(),
        page.click("[data-testid=device-editor] button[type=submit]"),
      ]);
      assert.equal(
        await page.$eval("[data-testid=device-name]", (e) => e.textContent),
        "Kitchen Pi",
      );
      assert.equal(await page.title() === "1", false);
      assert.deepEqual(errors, []);
      assert.deepEqual(cspViolations, []);
    } finally {
      await Deno.remove(caps, { recursive: true });
    }
  },
});

Deno.test("a device that just joined shows in /api/devices within seconds, before the minute's save", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  const join = (mac: string, host: string) =>
    app.pipeline.processBatch(batchOf([
      udpFrame({
        srcMac: mac,
        src: "0.0.0.0",
        dst: "255.255.255.255",
        sport: 68,
        dport: 67,
        tsUs: Date.now() * 1000,
      }, dhcpClient({ mac, type: 1, options: [[12, host]] })),
    ]));
  const list = async () =>
    ((await apiCall(app.url, cookie, "GET", "/api/devices")).data.devices ??
      []) as Dev[];
  // The first device comes with the appliance's first save.
  join(PI, "first-one");
  await waitFor("the first device", list, (d) => d.length === 1, 15_000);
  // The next one would wait for the minute's save without the early one.
  join(PHONE, "just-joined");
  const devices = await waitFor(
    "the new device",
    list,
    (d) => d.length === 2,
    20_000,
  );
  const d = devices.find((x) => x.mac === PHONE)!;
  assert.equal(d.display_name, "just-joined");
  assert.equal(d.first_seen_by, "dhcp");
});
