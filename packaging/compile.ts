/**
 * `deno task compile`: builds the single `netsentinel` executable for
 * x86_64 and aarch64 Linux with every asset embedded: the dashboard bundle
 * and stylesheet (static/), the shipped policy, model, GeoIP database and
 * demo capture (data/), and the capture and training workers (loaded as
 * Workers by URL).
 *
 *   deno task compile                 # both targets into dist/
 *   deno task compile --target aarch64
 *   deno task compile --print         # show the commands, build nothing
 *
 * `deno compile` downloads Deno's runtime for each target the first time;
 * on a machine without access to dl.deno.land, set DENORT_BIN to a local
 * denort binary of the same Deno version.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ensureBundle } from "../server/mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Rust target triples by short name. */
export const TARGETS = {
  x86_64: "x86_64-unknown-linux-gnu",
  aarch64: "aarch64-unknown-linux-gnu",
} as const;

/** Files and folders embedded in the binary (paths relative to the repo). */
export const INCLUDES = [
  "static/",
  "data/",
  "capture/capture_worker.ts",
  "ml/train_worker.ts",
] as const;

/**
 * Permissions the appliance needs: capture through libpcap (ffi), the
 * dashboard (net), the data directory and assets (read, write), nft and ip
 * (run), NETSENTINEL_PASSWORD (env), interfaces and uid (sys).
 */
export const PERMISSIONS = [
  "--allow-ffi",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
  "--allow-sys",
] as const;

/**
 * V8 heap limits of the appliance, baked into the binary (and used by
 * `deno task start` and the benches): the old generation capped at 320 MiB
 * and the young generation's semi-spaces at 8 MiB. Without a cap V8 sizes
 * its heap from the board's RAM and lets it grow to about twice what is
 * live before collecting hard; with it, RSS under a 2-million-source SYN
 * flood at the default limits stays near 420 MiB, inside the unit's
 * `MemoryMax=512M`, while the live heap then is about 180 MiB (`deno task
 * bench --only memory`).
 */
export const V8_FLAGS = [
  "--max-old-space-size=320",
  "--max-semi-space-size=8",
] as const;

/** The `deno compile` argument list for one target. */
export function compileArgs(
  target: keyof typeof TARGETS,
  outDir = "dist",
): string[] {
  return [
    "compile",
    "--unstable-kv",
    `--v8-flags=${V8_FLAGS.join(",")}`,
    ...PERMISSIONS,
    ...INCLUDES.flatMap((p) => ["--include", p]),
    "--target",
    TARGETS[target],
    "--output",
    `${outDir}/netsentinel-${target}`,
    "main.ts",
  ];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      target: { type: "string" },
      out: { type: "string" },
      print: { type: "boolean" },
    },
    strict: true,
  });
  const names = values.target === undefined || values.target === "all"
    ? Object.keys(TARGETS) as (keyof typeof TARGETS)[]
    : [values.target as keyof typeof TARGETS];
  for (const n of names) {
    if (!(n in TARGETS)) {
      throw new Error(`Unknown target "${n}" (x86_64, aarch64 or all)`);
    }
  }
  const out = values.out ?? "dist";
  if (values.print) {
    for (const n of names) {
      Deno.stdout.writeSync(
        new TextEncoder().encode(`deno ${compileArgs(n, out).join(" ")}\n`),
      );
    }
    return 0;
  }
  await ensureBundle();
  for (const n of names) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(n, out),
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!r.success) return r.code;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
