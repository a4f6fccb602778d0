/**
 * Held-out known anomalies ("probes") for the retraining gate: feature
 * vectors of attack flows recorded in the lab (scans, sweeps, floods, brute
 * force, DNS tunnels and exfiltration, …). A retrained model must still
 * flag them (see {@link acceptNewModel}); the shipped set lives in
 * `data/anomaly_probes.json` and `deno task probes` rebuilds it from the
 * fixture captures (`ml/make_probes.ts`).
 *
 * @module
 */
import { ProbesError, readJsonFile } from "./errors.ts";
import { FEATURE_COUNT, FEATURE_NAMES } from "./features.ts";
import { isRecord, show } from "../common/validate.ts";

/** The `format` tag of a probes file. */
export const PROBES_FORMAT = "netsentinel-anomaly-probes";
/** The probes file version this build reads and writes. */
export const PROBES_VERSION = 1;

/** Where the probes that ship with the program live. */
export const SHIPPED_PROBES_URL: URL = new URL(
  "../data/anomaly_probes.json",
  import.meta.url,
);

/** One known anomaly: where it came from and its feature vector (human units). */
export interface Probe {
  /** Capture file (base name without extension) the flow came from. */
  source: string;
  /** {@link FEATURE_NAMES} order, human units. */
  features: number[];
}

/** A probes file. */
export interface ProbesJson {
  format: typeof PROBES_FORMAT;
  version: typeof PROBES_VERSION;
  /** Feature names in vector order; must equal this build's. */
  features: string[];
  /** How the probes were picked, one sentence. */
  note: string;
  probes: Probe[];
}

/** Most probes a file may hold (they are scored twice per retrain). */
export const MAX_PROBES = 10_000;

/**
 * Validates a probes file's JSON and returns its vectors (human units,
 * {@link FEATURE_NAMES} order). Refuses another format, version or feature
 * list and any malformed entry with a {@link ProbesError} naming the field.
 */
export function parseProbes(input: unknown): Float64Array[] {
  if (!isRecord(input)) {
    throw new ProbesError("", `expected an object, got ${show(input)}`);
  }
  for (const k of Object.keys(input)) {
    if (!["format", "version", "features", "note", "probes"].includes(k)) {
      throw new ProbesError(k, "unknown field");
    }
  }
  if (input.format !== PROBES_FORMAT) {
    throw new ProbesError(
      "format",
      `expected "${PROBES_FORMAT}", got ${show(input.format)}`,
    );
  }
  if (input.version !== PROBES_VERSION) {
    throw new ProbesError(
      "version",
      `version ${
        show(input.version)
      } is not supported (this build reads version ${PROBES_VERSION})`,
    );
  }
  const names = input.features;
  if (
    !Array.isArray(names) || names.length !== FEATURE_COUNT ||
    names.some((n, i) => n !== FEATURE_NAMES[i])
  ) {
    throw new ProbesError(
      "features",
      `the probes' features differ from this build's; rebuild them with "deno task probes"`,
    );
  }
  const list = input.probes;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_PROBES) {
    throw new ProbesError(
      "probes",
      `expected an array of 1 to ${MAX_PROBES} probes, got ${show(list)}`,
    );
  }
  return list.map((p, i) => {
    const at = `probes[${i}]`;
    if (!isRecord(p) || typeof p.source !== "string") {
      throw new ProbesError(at, "expected { source, features }");
    }
    const f = p.features;
    if (!Array.isArray(f) || f.length !== FEATURE_COUNT) {
      throw new ProbesError(
        `${at}.features`,
        `expected ${FEATURE_COUNT} numbers`,
      );
    }
    const out = new Float64Array(FEATURE_COUNT);
    for (let k = 0; k < FEATURE_COUNT; k++) {
      const v = f[k];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new ProbesError(
          `${at}.features[${k}]`,
          `expected a finite number, got ${show(v)}`,
        );
      }
      out[k] = v;
    }
    return out;
  });
}

/**
 * Reads and parses a probes file (default: the shipped one). Read and JSON
 * errors become a {@link ProbesError}.
 *
 * @example
 * ```ts
 * const probes = await readProbesFile();
 * acceptNewModel(current, candidate, probes);
 * ```
 */
export async function readProbesFile(
  path: string | URL = SHIPPED_PROBES_URL,
): Promise<Float64Array[]> {
  return parseProbes(await readJsonFile(path, ProbesError));
}

/**
 * The text of a probes file: one probe a line, values to 7 significant
 * digits, so the file diffs well and is the same for the same probes.
 */
export function probesText(probes: readonly Probe[], note: string): string {
  const num = (v: number) => Number(v.toPrecision(7));
  const lines = probes.map((p) =>
    JSON.stringify({ source: p.source, features: p.features.map(num) })
  );
  return `{"format":${
    JSON.stringify(PROBES_FORMAT)
  },"version":${PROBES_VERSION},` +
    `"features":${JSON.stringify(FEATURE_NAMES)},"note":${
      JSON.stringify(note)
    },"probes":[\n${lines.join(",\n")}\n]}\n`;
}
