/**
 * The client bundle: `islands/client.ts` and everything it imports, bundled
 * for the browser by `deno bundle --platform browser --minify` into
 * `static/bundle/client.js` (gitignored). A stamp file beside it holds a
 * hash of the sources; {@link ensureBundle} rebuilds when the stamp does
 * not match (run by `deno task bundle`, by the test set-up and by the
 * server at start). A compiled binary cannot rebuild: it embeds the bundle
 * (`deno compile --include static/`) and only checks that it is there.
 *
 * @module
 */
import { UserError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";

/** Where the built bundle lives. */
export const BUNDLE_DIR: URL = new URL("../static/bundle/", import.meta.url);
/** The built bundle. */
export const BUNDLE_FILE: URL = new URL("client.js", BUNDLE_DIR);
const STAMP_FILE = new URL("client.stamp", BUNDLE_DIR);
const ENTRY = new URL("../islands/client.ts", import.meta.url);

/** Sources whose change makes the bundle stale (besides `islands/`). */
const EXTRA_SOURCES = [
  "../server/live_messages.ts",
  "../server/deps.ts",
  "../alerts/alert.ts",
  "../deno.json",
];

/** The bundle could not be built or is missing. */
export class BundleError extends UserError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BundleError";
  }
}

/** A hash (hex SHA-256) of every source that goes into the bundle. */
export async function bundleSourceHash(): Promise<string> {
  const islands = new URL("../islands/", import.meta.url);
  const names: string[] = [];
  for await (const e of Deno.readDir(islands)) {
    if (e.isFile && /\.tsx?$/.test(e.name)) names.push(e.name);
  }
  names.sort();
  const urls = [
    ...names.map((n) => new URL(n, islands)),
    ...EXTRA_SOURCES.map((p) => new URL(p, import.meta.url)),
  ];
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const u of urls) {
    parts.push(enc.encode(u.pathname + "\n"));
    parts.push(await Deno.readFile(u));
  }
  const all = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.byteLength;
  }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readText(u: URL): Promise<string | null> {
  try {
    return await Deno.readTextFile(u);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** What {@link ensureBundle} found or did. */
export interface BundleInfo {
  /** True when it was (re)built now. */
  built: boolean;
  /** Size of the bundle, bytes. */
  bytes: number;
  /** The source hash (or "embedded" in a compiled binary). */
  hash: string;
}

/**
 * Makes sure `static/bundle/client.js` is built from the current sources:
 * rebuilds when missing or stale (or when `force`). Concurrent callers are
 * safe: each builds into its own file and renames it into place.
 */
export async function ensureBundle(
  opts: { force?: boolean; log?: Logger } = {},
): Promise<BundleInfo> {
  if (Deno.build.standalone) {
    try {
      const st = await Deno.stat(BUNDLE_FILE);
      return { built: false, bytes: st.size, hash: "embedded" };
    } catch (e) {
      throw new BundleError(
        "The dashboard bundle is missing from this binary (build it with `deno task bundle` before `deno compile --include static/`)",
        { cause: e },
      );
    }
  }
  const hash = await bundleSourceHash();
  if (!opts.force && (await readText(STAMP_FILE))?.trim() === hash) {
    try {
      const st = await Deno.stat(BUNDLE_FILE);
      return { built: false, bytes: st.size, hash };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  await Deno.mkdir(BUNDLE_DIR, { recursive: true });
  const tmp = new URL(`client.${Deno.pid}.${Date.now()}.tmp.js`, BUNDLE_DIR);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--output",
      tmp.pathname,
      ENTRY.pathname,
    ],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!out.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new BundleError(
      `Cannot build the dashboard bundle: ${
        new TextDecoder().decode(out.stderr).trim().slice(0, 2000)
      }`,
    );
  }
  await Deno.rename(tmp, BUNDLE_FILE);
  const stampTmp = new URL(`client.${Deno.pid}.stamp.tmp`, BUNDLE_DIR);
  await Deno.writeTextFile(stampTmp, hash + "\n");
  await Deno.rename(stampTmp, STAMP_FILE);
  const st = await Deno.stat(BUNDLE_FILE);
  opts.log?.info("dashboard bundle built", { bytes: st.size });
  return { built: true, bytes: st.size, hash };
}
