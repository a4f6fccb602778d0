/**
 * Devices from real tools in network namespaces: a dnsmasq DHCP server,
 * an ISC dhclient (chosen host name and vendor class) and a BusyBox udhcpc
 * client (chosen host name and vendor class), avahi-daemon announcing a
 * host name, an IPP printer's DNS-SD announcement and a TV's SSDP NOTIFY
 * (tests/lab/lan_announce.py), and a NetBIOS name registration whose
 * answer to Samba's `nmblookup` names the host, all recorded on the
 * bridge; the recording through the pipeline gives one device per MAC
 * with those names, vendors and kinds, and the client that moves to
 * another address keeps its one record.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readCaptureFile } from "../capture/mod.ts";
import { parseCidr } from "../decode/mod.ts";
import {
  DeviceInventory,
  deviceView,
  loadOuiRegistry,
  mergeDevice,
} from "../devices/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { createLab, poll, recordCapture, runCommand } from "./e2e/_lab.ts";

const TOOLS = [
  "ip",
  "tcpdump",
  "dnsmasq",
  "dhclient",
  "udhcpc",
  "avahi-daemon",
  "nmblookup",
  "python3",
];
const ANNOUNCE = join(import.meta.dirname!, "lab", "lan_announce.py");

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces)";
  const missing: string[] = [];
  for (const t of TOOLS) {
    const r = await runCommand(["sh", "-c", `command -v ${t}`]);
    if (!r.success) missing.push(t);
  }
  return missing.length > 0
    ? `missing ${missing.join(", ")} (./run.sh setup test)`
    : null;
}

const why = await unavailable();
const ignore = why !== null && Deno.env.get("CI") !== "true";

Deno.test({
  name:
    "real DHCP, mDNS, SSDP and NetBIOS traffic gives one device per MAC with its names and kind" +
    (ignore ? ` (skipped: ${why})` : ""),
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.equal(why, null, why ?? "");
    const dir = await Deno.makeTempDir({ prefix: "ns-devlab-" });
    await using lab = await createLab([
      "dhcpd",
      "laptop",
      "camera",
      "printer",
      "tv",
      "nas",
    ]);
    try {
      const net = lab.subnet.replace(/\.0\/24$/, "");
      // The printer gets a Brother OUI, the laptop a Raspberry Pi one; the
      // others keep the kernel's random (locally administered) MACs.
      const macs: Record<string, string> = {
        printer: "3c:2a:f4:10:20:30",
        laptop: "b8:27:eb:aa:bb:cc",
      };
      for (const [h, mac] of Object.entries(macs)) {
        await lab.exec(h, ["ip", "link", "set", "eth0", "address", mac]);
      }
      for (const h of ["camera", "tv", "nas"]) {
        const r = await lab.exec(h, ["cat", "/sys/class/net/eth0/address"]);
        macs[h] = r.stdout.trim();
      }
      for (const h of lab.hosts) {
        await lab.exec(h.name, [
          "ip",
          "route",
          "add",
          "224.0.0.0/4",
          "dev",
          "eth0",
        ]);
      }
      const pcap = join(dir, "lan.pcap");
      const stop = await recordCapture(lab.switchNs, "br0", pcap);

      await Deno.writeTextFile(
        join(dir, "dnsmasq.conf"),
        [
          "port=0",
          "interface=eth0",
          "bind-interfaces",
          `dhcp-range=${net}.100,${net}.150,255.255.255.0,1h`,
          `dhcp-leasefile=${dir}/leases`,
          `pid-file=${dir}/dnsmasq.pid`,
          "dhcp-authoritative",
        ].join("\n") + "\n",
      );
      lab.spawn("dhcpd", ["dnsmasq", "-k", "-C", join(dir, "dnsmasq.conf")]);
      await poll("dnsmasq listening", async () => {
        const r = await lab.exec("dhcpd", ["ss", "-ulnp"]);
        return r.stdout.includes(":67 ") ? true : null;
      }, { timeoutMs: 15_000 });

      // ISC dhclient with Debian's request list, a chosen host name and a
      // vendor class.
      await Deno.writeTextFile(
        join(dir, "dhclient.conf"),
        "option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\n" +
          'send host-name "jane-laptop";\nsend vendor-class-identifier "lab-laptop/1.0";\n' +
          "request subnet-mask, broadcast-address, time-offset, routers,\n" +
          "  domain-name, domain-name-servers, domain-search, host-name,\n" +
          "  dhcp6.name-servers, dhcp6.domain-search, dhcp6.fqdn, dhcp6.sntp-servers,\n" +
          "  netbios-name-servers, netbios-scope, interface-mtu,\n" +
          "  rfc3442-classless-static-routes, ntp-servers;\n",
      );
      const dh = await lab.exec("laptop", [
        "dhclient",
        "-1",
        "-v",
        "-sf",
        "/bin/true",
        "-cf",
        join(dir, "dhclient.conf"),
        "-lf",
        join(dir, "laptop.leases"),
        "-pf",
        join(dir, "laptop.pid"),
        "eth0",
      ], { timeoutMs: 40_000 });
      assert.match(dh.stderr + dh.stdout, /bound to|DHCPACK/, dh.stderr);
      await lab.exec("laptop", [
        "dhclient",
        "-x",
        "-pf",
        join(dir, "laptop.pid"),
      ]);
      // BusyBox udhcpc with its own host name and vendor class.
      const ud = await lab.exec("camera", [
        "udhcpc",
        "-i",
        "eth0",
        "-f",
        "-n",
        "-q",
        "-s",
        "/bin/true",
        "-t",
        "5",
        "-T",
        "2",
        "-x",
        "hostname:cam-porch",
        "-V",
        "ipcam-vendor/2.1",
      ], { timeoutMs: 40_000 });
      assert.ok(ud.success, ud.stderr + ud.stdout);

      // avahi-daemon announces the laptop's host name.
      await Deno.writeTextFile(
        join(dir, "avahi.conf"),
        "[server]\nhost-name=jane-laptop\ndomain-name=local\nuse-ipv4=yes\nuse-ipv6=no\n" +
          "allow-interfaces=eth0\nenable-dbus=no\n[publish]\npublish-workstation=yes\n" +
          "publish-addresses=yes\n[reflector]\n[rlimits]\n",
      );
      const avahi = lab.spawn("laptop", [
        "sh",
        "-c",
        `mount -t tmpfs none /run/avahi-daemon 2>/dev/null || mkdir -p /run/avahi-daemon; exec avahi-daemon -f ${
          join(dir, "avahi.conf")
        } --no-drop-root --no-chroot --no-rlimits`,
      ]);
      await poll(
        "avahi announcing",
        () =>
          Promise.resolve(
            /Server startup complete/.test(avahi.output()) ? true : null,
          ),
        {
          timeoutMs: 20_000,
        },
      );

      const printer = lab.host("printer");
      const pr = await lab.exec("printer", [
        "python3",
        ANNOUNCE,
        "mdns",
        "brn3c2af4",
        printer.ip,
        "Office Printer",
        "Brother HL-L2350DW series",
      ]);
      assert.ok(pr.success, pr.stderr);
      const tv = await lab.exec("tv", [
        "python3",
        ANNOUNCE,
        "ssdp",
        "Linux/4.9 UPnP/1.0 Roku/9.4.0",
        "urn:dial-multiscreen-org:device:dial:1",
        `http://${lab.host("tv").ip}:8060/`,
      ]);
      assert.ok(tv.success, tv.stderr);
      const nas = lab.host("nas");
      const responder = lab.spawn("nas", [
        "python3",
        ANNOUNCE,
        "nbns",
        "NAS-BOX",
        nas.ip,
        `${net}.255`,
        "8",
      ]);
      const nmb = await poll("nmblookup to resolve NAS-BOX", async () => {
        const r = await lab.exec("laptop", [
          "nmblookup",
          "-U",
          nas.ip,
          "NAS-BOX",
        ]);
        if (r.stdout.includes(`${nas.ip} NAS-BOX<00>`)) return r.stdout;
        throw new Error(`${r.stdout} ${r.stderr} | ${responder.output()}`);
      }, { timeoutMs: 15_000 });
      assert.match(nmb, /NAS-BOX<00>/);

      // The laptop moves to another address and talks from it.
      const laptop = lab.host("laptop");
      await lab.exec("laptop", [
        "ping",
        "-c",
        "1",
        "-W",
        "1",
        lab.host("dhcpd").ip,
      ]);
      await lab.exec("laptop", [
        "ip",
        "addr",
        "del",
        `${laptop.ip}/24`,
        "dev",
        "eth0",
      ]);
      await lab.exec("laptop", [
        "ip",
        "addr",
        "add",
        `${net}.77/24`,
        "dev",
        "eth0",
      ]);
      await lab.exec("laptop", [
        "ping",
        "-c",
        "2",
        "-W",
        "1",
        lab.host("dhcpd").ip,
      ]);
      await stop();
      await responder.stop();

      const inv = new DeviceInventory({
        homeNet: () => [parseCidr(lab.subnet)!],
        oui: await loadOuiRegistry(),
      });
      const p = new Pipeline({ observers: [inv] });
      for await (const b of readCaptureFile(pcap)) p.processBatch(b);
      p.finish();
      const views = new Map(
        inv.drain().map((d) => {
          const v = deviceView(mergeDevice(null, d), {});
          return [v.mac, v];
        }),
      );
      const get = (h: string) => {
        const v = views.get(macs[h]!);
        assert.ok(v, `no device for ${h} (${macs[h]}): ${[...views.keys()]}`);
        return v;
      };
      const lap = get("laptop");
      assert.equal(lap.vendor, "Raspberry Pi Foundation");
      assert.ok(
        lap.names.some((n) =>
          n.source === "dhcp hostname" && n.name === "jane-laptop"
        ),
        JSON.stringify(lap.names),
      );
      assert.ok(
        lap.names.some((n) => n.source === "mdns" && n.name === "jane-laptop"),
        JSON.stringify(lap.names),
      );
      assert.ok(
        lap.hints.some((h) =>
          h.field === "option 60" && h.value === "lab-laptop/1.0"
        ),
      );
      const lapParams = lap.hints.find((h) => h.field.startsWith("option 55"));
      assert.equal(
        lapParams?.field,
        "option 55 (ISC dhclient)",
        JSON.stringify(lapParams),
      );
      const addrs = lap.addresses.map((a) => a.ip);
      assert.ok(
        addrs.includes(laptop.ip) && addrs.includes(`${net}.77`),
        JSON.stringify(addrs),
      );
      assert.equal(
        [...views.values()].filter((v) =>
          v.names.some((n) => n.name === "jane-laptop")
        ).length,
        1,
      );
      const cam = get("camera");
      assert.equal(cam.mac_kind, "local");
      assert.equal(cam.vendor, null);
      assert.ok(
        cam.names.some((n) =>
          n.source === "dhcp hostname" && n.name === "cam-porch"
        ),
      );
      assert.ok(cam.hints.some((h) => h.value === "ipcam-vendor/2.1"));
      assert.equal(cam.os?.value, "Linux", JSON.stringify(cam.hints));
      const prn = get("printer");
      assert.equal(prn.display_name, "Office Printer");
      assert.equal(prn.kind?.value, "printer");
      assert.equal(prn.kind?.confidence, "likely");
      assert.equal(prn.vendor, "Brother Industries, LTD.");
      assert.equal(get("tv").kind?.value, "tv");
      assert.ok(
        get("nas").names.some((n) =>
          n.source === "nbns" && n.name === "NAS-BOX"
        ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
