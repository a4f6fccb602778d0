/**
 * `features PATH... --csv OUT [--model FILE]`: one CSV row per finished flow
 * with the anomaly detector's features (and its score with `--model`), for
 * users' own tools, like a flow meter. Also the shared helper that turns
 * capture files into feature vectors for `train`.
 *
 * @module
 */
import { CaptureFileError, readCaptureFile } from "../capture/mod.ts";
import { UsageError, UserError } from "../common/errors.ts";
import { LineWriter, printErr } from "../common/output.ts";
import { resolveDataDir } from "../common/data_dir.ts";
import { formatAddr } from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { protoName } from "../events/mod.ts";
import type { Flow } from "../flows/mod.ts";
import {
  type AnomalyModel,
  FEATURE_NAMES,
  FeatureExtractor,
  resolveModel,
} from "../ml/mod.ts";
import { expandPaths } from "./analyze.ts";
import { type Command, type Flags, str } from "./command.ts";

/** What reading one capture file for features found. */
export interface FeatureFileStats {
  file: string;
  packets: number;
  flows: number;
  /** Why the file could not be read completely, or null. */
  error: string | null;
}

/**
 * Runs each capture file through its own pipeline with a feature extractor
 * and calls `onFlow` for every finished flow with its feature vector (human
 * units; the array is reused, copy what you keep). A file that cannot be
 * read gets an `error` and the rest go on.
 */
export async function flowFeaturesOfFiles(
  files: readonly string[],
  onFlow: (flow: Flow, features: Float64Array, file: string) => void,
): Promise<FeatureFileStats[]> {
  const out: FeatureFileStats[] = [];
  for (const file of files) {
    const st: FeatureFileStats = { file, packets: 0, flows: 0, error: null };
    const fx = new FeatureExtractor((f, v) => {
      st.flows++;
      onFlow(f, v, file);
    });
    const pipeline = new Pipeline({ observers: [fx] });
    try {
      const reader = readCaptureFile(file);
      let r = await reader.next();
      while (!r.done) {
        pipeline.processBatch(r.value);
        r = await reader.next();
      }
      st.error = r.value.error;
    } catch (e) {
      if (!(e instanceof CaptureFileError)) throw e;
      st.error = e.message;
    }
    pipeline.finish();
    st.packets = pipeline.counters.packets;
    out.push(st);
  }
  return out;
}

/** Formats a number for CSV: integers as they are, others to 6 decimals. */
function csvNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6)));
}

/** The CSV header of the `features` command. */
export function featuresCsvHeader(withScore: boolean): string {
  const cols = [
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "first_ts",
    "last_ts",
    ...FEATURE_NAMES,
  ];
  if (withScore) cols.push("score");
  return cols.join(",");
}

/** One CSV row: the flow's tuple and times (seconds), its features, and the score. */
export function featuresCsvRow(
  f: Flow,
  features: Float64Array,
  score?: number,
): string {
  const parts = [
    formatAddr(f.version, f.srcAddr),
    String(f.srcPort),
    formatAddr(f.version, f.dstAddr),
    String(f.dstPort),
    protoName(f.proto),
    (f.firstUs / 1e6).toFixed(6),
    (f.lastUs / 1e6).toFixed(6),
  ];
  for (let i = 0; i < features.length; i++) parts.push(csvNumber(features[i]!));
  if (score !== undefined) parts.push(score.toFixed(6));
  return parts.join(",");
}

function openOut(path: string): { out: LineWriter; close(): void } {
  if (path === "-") return { out: new LineWriter(), close() {} };
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { write: true, create: true, truncate: true });
  } catch (e) {
    throw new UserError(
      `Cannot write "${path}": ${e instanceof Error ? e.message : e}`,
      { cause: e },
    );
  }
  return { out: new LineWriter(file), close: () => file.close() };
}

/** The `features` command. */
export const featuresCommand: Command = {
  name: "features",
  summary: "write per-flow feature vectors (and anomaly scores) as CSV",
  positionals: true,
  options: {
    csv: { type: "string" },
    model: { type: "string" },
    data: { type: "string" },
  },
  help: `Usage: netsentinel features PATH... --csv OUT [--model FILE]

Runs capture files through the decoder and flow table and writes one CSV row
per finished flow: src_ip, src_port, dest_ip, dest_port, proto, first_ts and
last_ts (seconds since the epoch), then every feature of the anomaly
detector in human units (packets, bytes, seconds, counts), with a header.
PATH is a pcap or pcapng file or a directory of them.

Options:
  --csv OUT        where to write the CSV ("-" for standard output)
  --model FILE     add a "score" column from this model (higher is more
                   anomalous; falls back to the shipped model with a warning
                   when FILE is unusable). "--model default" uses the data
                   directory's model, else the shipped one.
  --data DIR       data directory for "--model default"
  -h, --help       show this help

Exit codes: 0 all files read, 1 a file could not be read, 2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    if (positionals.length === 0) {
      throw new UsageError("features: no capture file given (try --help)");
    }
    const csvPath = str(flags, "csv");
    if (csvPath === undefined) {
      throw new UsageError(
        'features: --csv OUT is required ("-" for standard output)',
      );
    }
    const modelFlag = str(flags, "model");
    let model: AnomalyModel | null = null;
    if (modelFlag !== undefined) {
      const loaded = await resolveModel(
        modelFlag === "default"
          ? { dataDir: await resolveDataDir(str(flags, "data")) }
          : { path: modelFlag },
      );
      if (loaded.fallback) printErr(`netsentinel: ${loaded.fallback}`);
      model = loaded.model;
    }
    const files = await expandPaths(positionals);
    const { out, close } = openOut(csvPath);
    try {
      out.line(featuresCsvHeader(model !== null));
      const stats = await flowFeaturesOfFiles(files, (f, v) => {
        out.line(featuresCsvRow(f, v, model?.score(v)));
      });
      out.flush();
      let failed = 0;
      for (const s of stats) {
        if (s.error !== null) {
          failed++;
          printErr(`netsentinel: ${s.file}: ${s.error}`);
        }
      }
      return failed > 0 ? 1 : 0;
    } finally {
      close();
    }
  },
};
