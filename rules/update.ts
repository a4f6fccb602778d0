/**
 * `rules update`: fetches the Emerging Threats Open tarball for the rule
 * dialect the engine targets (Suricata 7) and its published MD5, checks
 * the checksum, unpacks the `rules/` files into a staging folder beside the
 * data directory's `rules/`, loads them to make sure they are usable, and
 * only then swaps the folders. Anything that fails leaves the previous set
 * in place. `file` reads a tarball from disk instead (its `FILE.md5` is
 * checked when present), for boxes without internet.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { UserError } from "../common/errors.ts";
import { loadClassifications, loadRulePaths } from "./load.ts";
import { ruleVars } from "./rule_vars.ts";
import { SHIPPED_RULES_DIR } from "./rule_set.ts";

/** Largest tarball accepted (ET Open is about 5 MB compressed). */
export const MAX_TARBALL_BYTES = 256 * 1024 * 1024;
/** Largest unpacked size accepted. */
export const MAX_UNPACKED_BYTES = 512 * 1024 * 1024;

/** Written into the rules folder after each update. */
export const UPDATE_STAMP = "UPDATED.json";

/** Options of {@link updateRules}. */
export interface UpdateOptions {
  /** The folder that receives the rules (the data directory's `rules/`). */
  readonly dir: string;
  /** Tarball address (its `.md5` is fetched beside it). */
  readonly url: string;
  /** A local tarball instead of downloading. */
  readonly file?: string;
  /** Download timeout, ms (default 120 s). */
  readonly timeoutMs?: number;
}

/** What an update did. */
export interface UpdateResult {
  /** Where the tarball came from. */
  readonly source: string;
  /** The MD5 checked, or null (a local file without `.md5`). */
  readonly md5: string | null;
  readonly files: number;
  readonly loaded: number;
  readonly refused: number;
}

async function download(
  url: string,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new UserError(
      `Cannot download "${url}": ${
        (e as Error).message
      } (or use --file with a tarball)`,
      { cause: e },
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new UserError(`Cannot download "${url}": HTTP ${res.status}`);
  }
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of res.body!) {
    n += c.length;
    if (n > MAX_TARBALL_BYTES) {
      throw new UserError(
        `Cannot download "${url}": larger than ${MAX_TARBALL_BYTES} bytes`,
      );
    }
    chunks.push(c);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** The hex MD5 at the start of a `.md5` file's text, or null. */
export function parseMd5File(text: string): string | null {
  const m = /^\s*([0-9a-fA-F]{32})\b/.exec(text);
  return m ? m[1]!.toLowerCase() : null;
}

/** Gunzips bytes (Web streams), bounded by {@link MAX_UNPACKED_BYTES}. */
async function gunzip(
  bytes: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      n += c.length;
      if (n > MAX_UNPACKED_BYTES) {
        throw new UserError("Tarball unpacks too large");
      }
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(
      `Cannot unpack the rules tarball: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** One regular file of a tar archive. */
export interface TarEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

/**
 * The regular files of a ustar/GNU tar archive. Throws on a malformed
 * header or a file running past the end.
 */
export function readTar(tar: Uint8Array): TarEntry[] {
  const out: TarEntry[] = [];
  const dec = new TextDecoder();
  const str = (o: number, len: number) => {
    let e = o;
    while (e < o + len && tar[e] !== 0) e++;
    return dec.decode(tar.subarray(o, e));
  };
  let o = 0;
  let longName: string | null = null;
  while (o + 512 <= tar.length) {
    if (tar.subarray(o, o + 512).every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[o + i]!;
    const want = parseInt(str(o + 148, 8).trim(), 8);
    if (!Number.isFinite(want) || want !== sum) {
      throw new UserError(
        "Cannot unpack the rules tarball: bad tar header checksum",
      );
    }
    const size = parseInt(str(o + 124, 12).trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0 || o + 512 + size > tar.length) {
      throw new UserError("Cannot unpack the rules tarball: truncated");
    }
    const type = String.fromCharCode(tar[o + 156]!);
    const prefix = str(o + 345, 155);
    let name = str(o, 100);
    if (prefix !== "" && str(o + 257, 6).startsWith("ustar")) {
      name = `${prefix}/${name}`;
    }
    const data = tar.subarray(o + 512, o + 512 + size);
    if (type === "L") longName = dec.decode(data).replace(/\0+$/, "");
    else {
      if (longName !== null) name = longName;
      longName = null;
      if (type === "0" || type === "\0") out.push({ name, data });
    }
    o += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Files of the tarball kept: `rules/NAME.rules` and the config files beside them. */
const KEEP = /^(?:\.\/)?rules\/([A-Za-z0-9_.-]+\.(?:rules|config|txt|map))$/;

/** Runs an update (see the module doc). */
export async function updateRules(o: UpdateOptions): Promise<UpdateResult> {
  let bytes: Uint8Array<ArrayBuffer>;
  let md5: string | null = null;
  let source: string;
  if (o.file !== undefined) {
    source = o.file;
    try {
      bytes = await Deno.readFile(o.file);
    } catch (e) {
      throw new UserError(`Cannot read "${o.file}": ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      md5 = parseMd5File(await Deno.readTextFile(`${o.file}.md5`));
      if (md5 === null) {
        throw new UserError(`Cannot read "${o.file}.md5": no MD5 in it`);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  } else {
    source = o.url;
    const timeout = o.timeoutMs ?? 120_000;
    const sum = new TextDecoder().decode(
      await download(`${o.url}.md5`, timeout),
    );
    md5 = parseMd5File(sum);
    if (md5 === null) {
      throw new UserError(`Cannot use "${o.url}.md5": no MD5 in it`);
    }
    bytes = await download(o.url, timeout);
  }
  if (md5 !== null) {
    const got = createHash("md5").update(bytes).digest("hex");
    if (got !== md5) {
      throw new UserError(
        `Checksum mismatch for "${source}": MD5 ${got}, published ${md5} (download again)`,
      );
    }
  }
  const entries = readTar(await gunzip(bytes));
  const keep = entries.flatMap((e) => {
    const m = KEEP.exec(e.name);
    return m ? [{ base: m[1]!, data: e.data }] : [];
  });
  if (!keep.some((k) => k.base.endsWith(".rules"))) {
    throw new UserError(`No rules/*.rules files in "${source}"`);
  }
  const staging = `${o.dir}.new-${Deno.pid}`;
  const old = `${o.dir}.old-${Deno.pid}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  try {
    await Deno.mkdir(staging, { recursive: true });
    for (const k of keep) await Deno.writeFile(join(staging, k.base), k.data);
    const r = await loadRulePaths([staging], {
      vars: ruleVars(null),
      classes: await loadClassifications(
        join(SHIPPED_RULES_DIR, "classification.config"),
      ),
    });
    if (r.rules.length === 0) {
      throw new UserError(
        `No usable rule in "${source}" (the previous set is kept)`,
      );
    }
    const result: UpdateResult = {
      source,
      md5,
      files: r.files.length,
      loaded: r.rules.length,
      refused: r.refused.length,
    };
    await Deno.writeTextFile(
      join(staging, UPDATE_STAMP),
      JSON.stringify({ ...result, at: new Date().toISOString() }) + "\n",
    );
    let hadOld = false;
    try {
      await Deno.rename(o.dir, old);
      hadOld = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    try {
      await Deno.rename(staging, o.dir);
    } catch (e) {
      if (hadOld) await Deno.rename(old, o.dir);
      throw e;
    }
    if (hadOld) await Deno.remove(old, { recursive: true });
    return result;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}
