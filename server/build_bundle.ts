/**
 * `deno task bundle`: builds the dashboard's client bundle and prints its
 * size, raw and gzipped.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { BUNDLE_FILE, ensureBundle } from "./bundle.ts";

if (import.meta.main) {
  const info = await ensureBundle({ force: Deno.args.includes("--force") });
  const gz =
    gzipSync(await Deno.readFile(BUNDLE_FILE), { level: 9 }).byteLength;
  const line = `static/bundle/client.js: ${info.bytes} bytes, ${gz} gzipped` +
    (info.built ? " (built)" : " (up to date)");
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}
