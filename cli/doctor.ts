/**
 * `doctor`: checks that this host can run the appliance and says what to
 * fix: libpcap, capture and nftables permissions, the capture interface,
 * the data directory and database, the clock, the shipped data, the
 * dashboard port.
 *
 * @module
 */
import {
  defaultRouteInterface,
  listInterfaces,
  probeCapture,
} from "../capture/mod.ts";
import { isWritableDir, resolveDataDir } from "../common/data_dir.ts";
import { printOut } from "../common/output.ts";
import { openGeo } from "../enrich/mod.ts";
import { resolveModel } from "../ml/mod.ts";
import { Nft, NftError } from "../respond/mod.ts";
import { openStore } from "../store/mod.ts";
import { defaultConfigPath, loadConfig } from "../appliance/config.ts";
import { bool, type Command, type Flags, str } from "./command.ts";

/** The outcome of one check. */
export interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  /** What to do about a warning or failure. */
  fix?: string;
}

const CAP_NET_ADMIN = 12n, CAP_NET_RAW = 13n;

/** Effective capabilities of this process from /proc (null when unreadable). */
export async function effectiveCaps(): Promise<bigint | null> {
  try {
    const s = await Deno.readTextFile("/proc/self/status");
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(s);
    return m ? BigInt(`0x${m[1]}`) : null;
  } catch {
    return null;
  }
}

function hasCap(caps: bigint, bit: bigint): boolean {
  return ((caps >> bit) & 1n) === 1n;
}

/** Runs every check; never throws for a failed check. */
export async function runChecks(opts: {
  dataFlag?: string;
  configFlag?: string;
  iface?: string;
}): Promise<Check[]> {
  const out: Check[] = [];
  const add = (c: Check) => out.push(c);

  const caps = await effectiveCaps();
  if (caps === null) {
    add({
      name: "capabilities",
      status: "warn",
      detail: "cannot read /proc/self/status",
    });
  } else {
    const raw = hasCap(caps, CAP_NET_RAW), admin = hasCap(caps, CAP_NET_ADMIN);
    add({
      name: "capabilities",
      status: raw && admin ? "ok" : "fail",
      detail: `CAP_NET_RAW ${raw ? "yes" : "no"}, CAP_NET_ADMIN ${
        admin ? "yes" : "no"
      }`,
      fix: raw && admin
        ? undefined
        : "run as root, or: setcap cap_net_raw,cap_net_admin=eip " +
          "<netsentinel binary> (the systemd unit grants both as AmbientCapabilities)",
    });
  }

  const dataDir = await resolveDataDir(opts.dataFlag);
  const configPath = opts.configFlag ?? defaultConfigPath(dataDir);
  let iface = opts.iface ?? null;
  let listen = { hostname: "0.0.0.0", port: 8080 };
  try {
    const { config, found } = await loadConfig(configPath);
    iface ??= config.capture.interface;
    listen = config.dashboard.listen;
    add({
      name: "config",
      status: "ok",
      detail: found
        ? `"${configPath}" is valid`
        : `no "${configPath}" yet: defaults apply`,
    });
  } catch (e) {
    add({
      name: "config",
      status: "fail",
      detail: (e as Error).message,
      fix: "correct the named field",
    });
  }

  iface ??= await defaultRouteInterface();
  if (iface === null) {
    add({
      name: "interface",
      status: "fail",
      detail: "no default route to pick an interface from",
      fix: "set capture.interface in the config or pass --interface",
    });
  } else {
    const info = (await listInterfaces({ probe: false })).find((i) =>
      i.name === iface
    );
    if (!info) {
      add({
        name: "interface",
        status: "fail",
        detail: `"${iface}" does not exist`,
        fix: 'see "netsentinel interfaces"',
      });
    } else {
      add({
        name: "interface",
        status: info.up ? "ok" : "warn",
        detail: `"${iface}" is ${
          info.up ? "up" : "down"
        }, ${info.addresses.length} address(es)`,
        fix: info.up ? undefined : `ip link set ${iface} up`,
      });
      const access = probeCapture(iface);
      add(
        access.permitted
          ? {
            name: "capture",
            status: "ok",
            detail: `libpcap can capture on "${iface}"`,
          }
          : {
            name: "capture",
            status: "fail",
            detail: access.reason,
            fix: access.code === "libpcap_missing"
              ? "apt install libpcap0.8"
              : access.code === "permission"
              ? "run as root or grant CAP_NET_RAW and CAP_NET_ADMIN"
              : undefined,
          },
      );
    }
  }

  try {
    const v = await new Nft().run(["--version"]);
    await new Nft().run(["list", "tables"]);
    add({ name: "nftables", status: "ok", detail: v.trim() || "nft works" });
  } catch (e) {
    if (!(e instanceof NftError)) throw e;
    add({
      name: "nftables",
      status: "warn",
      detail: `${e.message}; detection works, blocking will be unavailable`,
      fix: e.kind === "missing"
        ? "apt install nftables"
        : "grant CAP_NET_ADMIN",
    });
  }

  if (await isWritableDir(dataDir)) {
    add({
      name: "data directory",
      status: "ok",
      detail: `"${dataDir}" is writable`,
    });
    try {
      using _store = await openStore(dataDir);
      add({ name: "database", status: "ok", detail: "Deno KV opens" });
    } catch (e) {
      add({ name: "database", status: "fail", detail: (e as Error).message });
    }
  } else {
    add({
      name: "data directory",
      status: "fail",
      detail: `"${dataDir}" is not writable`,
      fix:
        "pass --data DIR, or run as the service user (StateDirectory=netsentinel)",
    });
  }

  const now = Date.now();
  const sane = now > Date.UTC(2025, 0, 1) && now < Date.UTC(2100, 0, 1);
  let synced: boolean | null = null;
  try {
    await Deno.stat("/run/systemd/timesync/synchronized");
    synced = true;
  } catch {
    synced = null;
  }
  add({
    name: "clock",
    status: sane ? "ok" : "fail",
    detail: `${new Date(now).toISOString()}${
      synced ? ", synchronised by systemd-timesyncd" : ""
    }`,
    fix: sane
      ? undefined
      : "set the clock (alert times, block expiry and sessions depend on it): enable NTP",
  });

  const geo = await openGeo();
  add(
    geo.problems.length === 0
      ? {
        name: "GeoIP",
        status: "ok",
        detail: "shipped country database opens",
      }
      : {
        name: "GeoIP",
        status: "warn",
        detail: geo.problems.map((p) => p.message).join("; "),
      },
  );
  try {
    const m = await resolveModel({ dataDir });
    add({
      name: "model",
      status: m.fallback ? "warn" : "ok",
      detail: m.fallback ?? `Isolation Forest model "${m.path}"`,
    });
  } catch (e) {
    add({ name: "model", status: "fail", detail: (e as Error).message });
  }

  try {
    const l = Deno.listen({ hostname: listen.hostname, port: listen.port });
    l.close();
    add({
      name: "dashboard port",
      status: "ok",
      detail: `${listen.hostname}:${listen.port} is free`,
    });
  } catch (e) {
    add({
      name: "dashboard port",
      status: "warn",
      detail: `${listen.hostname}:${listen.port}: ${(e as Error).message}`,
      fix: "is NetSentinel already running? else set dashboard.listen",
    });
  }
  return out;
}

/** The `doctor` command. */
export const doctorCommand: Command = {
  name: "doctor",
  summary: "check this host can run the appliance and say what to fix",
  options: {
    data: { type: "string" },
    config: { type: "string" },
    interface: { type: "string", short: "i" },
    json: { type: "boolean" },
  },
  help:
    `Usage: netsentinel doctor [--data DIR] [--config FILE] [-i IFACE] [--json]

Checks libpcap and capture permission on the interface, capabilities,
nftables, the data directory and database, the clock, the shipped GeoIP
database and model, the config file and the dashboard port, and prints what
to fix. Exit code 1 when a check fails (warnings do not fail).`,
  async run(flags: Flags): Promise<number> {
    const checks = await runChecks({
      dataFlag: str(flags, "data"),
      configFlag: str(flags, "config"),
      iface: str(flags, "interface"),
    });
    if (bool(flags, "json")) {
      printOut(JSON.stringify(checks, null, 2));
    } else {
      const w = Math.max(...checks.map((c) => c.name.length));
      for (const c of checks) {
        const mark = c.status === "ok"
          ? "ok  "
          : c.status === "warn"
          ? "WARN"
          : "FAIL";
        printOut(`${mark}  ${c.name.padEnd(w)}  ${c.detail}`);
        if (c.fix && c.status !== "ok") {
          printOut(`      ${"".padEnd(w)}  fix: ${c.fix}`);
        }
      }
    }
    return checks.some((c) => c.status === "fail") ? 1 : 0;
  },
};
