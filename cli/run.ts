/**
 * `run` and `replay`: the appliance. `run` captures live (or plays the
 * bundled demo with `--demo`); `replay FILE` feeds it a capture with
 * packet time mapped to wall time. Both serve the dashboard, store,
 * block, and stop cleanly on SIGTERM/SIGINT.
 *
 * @module
 */
import { Appliance, type PacketSourceSpec } from "../appliance/appliance.ts";
import {
  type AppConfig,
  defaultConfigPath,
  loadConfig,
  parseConfig,
} from "../appliance/config.ts";
import { DEMO_CAPTURE_URL } from "../appliance/replay_control.ts";
import { resolveDataDir } from "../common/data_dir.ts";
import { ConfigError, UsageError } from "../common/errors.ts";
import { createLogger, type Logger } from "../common/logger.ts";
import { printErr, printOut } from "../common/output.ts";
import { listenAddr } from "../common/validate.ts";
import { alertTableLine } from "./alert_format.ts";
import { bool, type Command, type Flags, num, str } from "./command.ts";

/** Flags both `run` and `replay` take. */
const COMMON = {
  data: { type: "string" },
  config: { type: "string" },
  listen: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  "no-capture": { type: "boolean" },
  block: { type: "boolean" },
} as const;

const COMMON_HELP =
  `  --data DIR            data directory (KV database, EVE log, model; default
                        /var/lib/netsentinel as root, else ./netsentinel-data)
  --config FILE         config file (default: config.json in the data directory)
  --listen HOST:PORT    dashboard address (default 0.0.0.0:8080)
  --cert FILE --key FILE  serve the dashboard over HTTPS
  --block               enforce blocks while replaying (default: dry run that
                        never runs nft, so replayed addresses are never
                        blocked on this host)
  -h, --help            show this help`;

/** Applies command-line overrides to the config. */
function override(config: AppConfig, flags: Flags): AppConfig {
  const c = structuredClone(config);
  const iface = str(flags, "interface");
  if (iface !== undefined) c.capture.interface = iface;
  const filter = str(flags, "filter");
  if (filter !== undefined) c.capture.filter = filter;
  const listen = str(flags, "listen");
  if (listen !== undefined) {
    try {
      c.dashboard.listen = listenAddr(listen, "listen", "");
    } catch (e) {
      if (e instanceof ConfigError) {
        throw new UsageError(`--listen: "${listen}" is not HOST:PORT`);
      }
      throw e;
    }
  }
  const cert = str(flags, "cert"), key = str(flags, "key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--cert and --key go together");
  }
  if (cert !== undefined) {
    c.dashboard.cert = cert;
    c.dashboard.key = key!;
  }
  // Keep the parsed policy object (structuredClone drops nothing it needs).
  c.policy = config.policy;
  c.enrich = config.enrich;
  c.blocking = config.blocking;
  return c;
}

function dashboardUrls(c: AppConfig, port: number): string[] {
  const { hostname } = c.dashboard.listen;
  const scheme = c.dashboard.cert ? "https" : "http";
  const hosts: string[] = [];
  if (hostname === "0.0.0.0" || hostname === "::") {
    for (const ni of Deno.networkInterfaces()) {
      if (ni.family === "IPv4" && !ni.address.startsWith("169.254.")) {
        hosts.push(ni.address);
      }
    }
  } else {
    hosts.push(hostname.includes(":") ? `[${hostname}]` : hostname);
  }
  return [...new Set(hosts)].map((h) => `${scheme}://${h}:${port}/`);
}

/** Starts the appliance with `source` and waits for a stop signal. */
async function serve(
  flags: Flags,
  source: PacketSourceSpec,
  exitOnEnd: boolean,
): Promise<number> {
  // Usage errors first, before anything touches the disk.
  override(parseConfig({}), flags);
  const dataDir = await resolveDataDir(str(flags, "data"));
  const configPath = str(flags, "config") ?? defaultConfigPath(dataDir);
  const loaded = await loadConfig(configPath);
  let config = override(loaded.config, flags);
  // A replay's addresses are not this network's: unless --block, it only
  // records what it would block and never runs nft (so it also leaves a
  // live instance's table alone).
  const enforce = source.kind !== "replay" || bool(flags, "block");
  if (!enforce) {
    config = { ...config, blocking: { ...config.blocking, dry_run: true } };
  }
  const log: Logger = createLogger({ level: config.log_level });
  if (source.kind === "live" && bool(flags, "no-capture")) {
    source = { kind: "none" };
  }
  if (source.kind === "live") {
    source = {
      ...source,
      iface: config.capture.interface,
      filter: config.capture.filter,
    };
  }
  let ended: () => void = () => {};
  const endedP = new Promise<void>((r) => ended = r);
  const app = await Appliance.start({
    dataDir,
    configPath,
    config,
    rawConfig: loaded.raw,
    source,
    log,
    ...(enforce ? {} : { nftables: false }),
    initialPassword: Deno.env.get("NETSENTINEL_PASSWORD"),
    // Threat feeds are downloaded on their schedule (config intel.update).
    intelFetch: fetch,
    onReplayEnd: exitOnEnd ? () => ended() : undefined,
    // On a terminal, new alerts are shown as they are raised.
    onAlert: Deno.stdout.isTerminal()
      ? (a, isNew) => {
        if (isNew) printOut(alertTableLine(a));
      }
      : undefined,
  });
  for (const u of dashboardUrls(config, app.server.port)) {
    printErr(`netsentinel: dashboard at ${u}`);
  }
  if (app.generatedPassword !== null) {
    printErr(
      `netsentinel: first start: sign in as "admin" with password ${app.generatedPassword}\n` +
        `netsentinel: it is shown only this once; change it with "netsentinel passwd"`,
    );
  }
  const capture = app.health().capture!;
  if (capture.state === "down") {
    printErr(`netsentinel: capture is down: ${capture.detail}`);
  }
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) Deno.exit(1);
    ended();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await endedP;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await app.stop();
  }
  return 0;
}

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "the appliance: capture, detect, store, block, serve the dashboard",
  options: {
    ...COMMON,
    interface: { type: "string", short: "i" },
    filter: { type: "string", short: "f" },
    demo: { type: "boolean" },
  },
  help: `Usage: netsentinel run [options]

Captures live on an interface, runs every detector, stores alerts in the
database and the EVE log, blocks attackers with nftables per the policy, and
serves the dashboard. Prints the dashboard address and, on the first start,
the admin password. Stops cleanly on SIGTERM or Ctrl-C. Capturing needs root
or CAP_NET_RAW and CAP_NET_ADMIN; without them the dashboard still runs and
shows capture as down with the fix.

Options:
  -i, --interface NAME  capture interface (default: the interface of the
                        default route, or capture.interface in the config)
  -f, --filter BPF      BPF capture filter, e.g. "not port 22"
  --demo                play the bundled demo capture in a loop instead of
                        capturing (no network needed)
  --no-capture          serve the dashboard without capturing
${COMMON_HELP}`,
  run(flags: Flags): Promise<number> {
    const source: PacketSourceSpec = bool(flags, "demo")
      ? {
        kind: "replay",
        path: DEMO_CAPTURE_URL.pathname,
        speed: 1,
        loop: true,
      }
      : { kind: "live", iface: null, filter: "" };
    return serve(flags, source, false);
  },
};

/** The `replay` command. */
export const replayCommand: Command = {
  name: "replay",
  summary:
    "the appliance fed from a capture file, packet time mapped to wall time",
  positionals: true,
  options: {
    ...COMMON,
    speed: { type: "string" },
    max: { type: "boolean" },
    loop: { type: "boolean" },
    stay: { type: "boolean" },
  },
  help: `Usage: netsentinel replay FILE [--speed X | --max] [--loop] [options]

Runs the whole appliance (detectors, storage, blocking, dashboard) on a
capture file instead of an interface: the first packet happens now and the
rest follow at their recorded intervals. Detectors see the capture's own
timing whatever the speed, so a replay raises the same alerts as "analyze".
Ends when the file ends (unless --loop or --stay).

Options:
  --speed X             playback speed (default 1 = real time)
  --max                 as fast as possible
  --loop                start again at the end (a demo)
  --stay                keep serving the dashboard after the file ends
${COMMON_HELP}`,
  run(flags: Flags, positionals: string[]): Promise<number> {
    if (positionals.length !== 1) {
      throw new UsageError(
        "replay: give exactly one capture file (try --help)",
      );
    }
    if (bool(flags, "max") && flags.speed !== undefined) {
      throw new UsageError("replay: --speed and --max exclude each other");
    }
    const speed = bool(flags, "max")
      ? 0
      : num(flags, "speed", 1, { min: 0.01, max: 10_000 });
    const loop = bool(flags, "loop");
    return serve(
      flags,
      { kind: "replay", path: positionals[0]!, speed, loop },
      !loop && !bool(flags, "stay"),
    );
  },
};
