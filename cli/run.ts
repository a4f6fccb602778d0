/**
 * `run`: live capture on an interface through the pipeline, with alerts and
 * a once-a-second stats line on the terminal.
 *
 * @module
 */
import {
  type CaptureStats,
  defaultRouteInterface,
  LiveSource,
} from "../capture/mod.ts";
import { UserError } from "../common/errors.ts";
import { LineWriter, printErr } from "../common/output.ts";
import { Pipeline, type PipelineCounters } from "../engine/mod.ts";
import { type Command, type Flags, num, str } from "./command.ts";

/** One stats line: rates over the last interval and totals. */
export function formatStatsLine(
  now: PipelineCounters,
  prev: PipelineCounters,
  seconds: number,
  capture: CaptureStats,
  flows: number,
): string {
  const pps = (now.packets - prev.packets) / seconds;
  const bps = (now.bytes - prev.bytes) / seconds;
  return `${fmtRate(pps, "pkts/s")}  ${fmtBytesRate(bps)}  ` +
    `drops ${capture.drop + capture.ifdrop + capture.overflow}  ` +
    `flows ${flows}  decode errors ${now.decodeErrors}`;
}

function fmtRate(v: number, unit: string): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M${unit}`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k${unit}`;
  return `${Math.round(v)} ${unit}`;
}

function fmtBytesRate(bps: number): string {
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} MB/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(1)} kB/s`;
  return `${Math.round(bps)} B/s`;
}

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "capture live on an interface and detect (the appliance)",
  options: {
    interface: { type: "string", short: "i" },
    filter: { type: "string", short: "f" },
    snaplen: { type: "string" },
  },
  help: `Usage: netsentinel run [options]

Captures live on an interface, runs every packet through the decoder, flow
table and detectors, prints alerts as they happen and a stats line once a
second (packets/s, bytes/s, kernel drops, live flows). Stops on Ctrl-C or
SIGTERM. Capturing needs root or CAP_NET_RAW and CAP_NET_ADMIN.

Options:
  -i, --interface NAME  interface to capture on (default: the interface of
                        the default route)
  -f, --filter BPF      a BPF capture filter, e.g. "not port 22"
  --snaplen N           bytes captured per packet (default 262144)
  -h, --help            show this help`,
  async run(flags: Flags): Promise<number> {
    const iface = str(flags, "interface") ?? await defaultRouteInterface();
    if (!iface) {
      throw new UserError(
        'No default route to pick an interface from: name one with --interface (see "netsentinel interfaces")',
      );
    }
    const snaplen = num(flags, "snaplen", 262144, {
      min: 64,
      max: 262144,
      integer: true,
    });
    const source = await LiveSource.open({
      iface,
      filter: str(flags, "filter", ""),
      snaplen,
    });
    const out = new LineWriter();
    const pipeline = new Pipeline();
    printErr(`netsentinel: capturing on "${iface}" (Ctrl-C to stop)`);
    if (source.warning) printErr(`netsentinel: ${source.warning}`);
    let prev = { ...pipeline.counters };
    let prevT = performance.now();
    const timer = setInterval(() => {
      pipeline.tick(Date.now() * 1000);
      const t = performance.now();
      const line = formatStatsLine(
        pipeline.counters,
        prev,
        (t - prevT) / 1000,
        source.stats(),
        pipeline.flows.size,
      );
      prev = { ...pipeline.counters };
      prevT = t;
      out.line(line);
      out.flush();
    }, 1000);
    const stop = () => void source.close();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    try {
      for await (const batch of source.batches()) pipeline.processBatch(batch);
    } finally {
      clearInterval(timer);
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      await source.close();
      pipeline.finish();
      out.flush();
    }
    const s = source.stats();
    printErr(
      `netsentinel: stopped; ${pipeline.counters.packets} packets, ${s.drop} dropped by the kernel`,
    );
    return 0;
  },
};
