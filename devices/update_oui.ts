/**
 * Refreshes the shipped MAC vendor registry `data/oui/oui.tsv.gz` from the
 * npm package `oui-data` (the IEEE MA-L, MA-M and MA-S registries as JSON,
 * rebuilt by its maintainer from standards-oui.ieee.org; the package is
 * BSD-2-Clause, the registry is public data of the IEEE). A maintainer's
 * tool, not part of the product.
 *
 * Run: `deno run -A devices/update_oui.ts [VERSION]` (default: latest).
 * Needs `npm` and `tar`; writes the organization (first line of each
 * entry) per prefix, checks the result loads and knows well-known
 * prefixes, and records the version in `data/oui/README.md`.
 *
 * @module
 */
import { OuiRegistry } from "./oui.ts";

/** The npm package the registry comes from. */
export const OUI_PACKAGE = "oui-data";

const DIR = new URL("../data/oui/", import.meta.url);

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null" })
    .output();
  if (!out.success) {
    throw new Error(
      `Cannot run "${cmd} ${args.join(" ")}": ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Converts the package's JSON (prefix → multi-line address) to the shipped TSV. */
export function ouiTsv(json: Record<string, unknown>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(json)) {
    if (!/^[0-9A-F]{6}([0-9A-F]|[0-9A-F]{3})?$/.test(k)) continue;
    if (typeof v !== "string") continue;
    const name = v.split("\n")[0]!.replace(/[\t\r]/g, " ").trim();
    if (name) lines.push(`${k}\t${name}`);
  }
  lines.sort();
  return lines.join("\n") + "\n";
}

/** Fetches `oui-data@version` and installs it into `data/oui/`. Returns the version. */
export async function updateOui(version = "latest"): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "oui-" });
  try {
    const packed = JSON.parse(
      await run("npm", ["pack", `${OUI_PACKAGE}@${version}`, "--json"], tmp),
    ) as { filename: string; version: string }[];
    const pkg = packed[0];
    if (pkg === undefined) {
      throw new Error(`npm pack gave no file for ${OUI_PACKAGE}`);
    }
    await run("tar", ["xzf", pkg.filename], tmp);
    const json = JSON.parse(
      await Deno.readTextFile(`${tmp}/package/index.json`),
    );
    const tsv = ouiTsv(json);
    const reg = OuiRegistry.parse(tsv);
    // Raspberry Pi Trading's OUI and an MA-L of Apple: a registry without them is broken.
    if (!reg.lookup(0xb827eb000001) || !reg.lookup(0x001b63000001)) {
      throw new Error(
        `${OUI_PACKAGE}@${pkg.version} lacks well-known prefixes`,
      );
    }
    const gz = await new Response(
      new Blob([tsv]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    await Deno.writeFile(new URL("oui.tsv.gz", DIR), new Uint8Array(gz));
    const readme = new URL("README.md", DIR);
    const text = await Deno.readTextFile(readme);
    await Deno.writeTextFile(
      readme,
      text.replace(/`oui-data@[^`]+`/, `\`oui-data@${pkg.version}\``)
        .replace(/\d+ prefixes/, `${reg.size} prefixes`),
    );
    return pkg.version;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  const v = await updateOui(Deno.args[0]);
  Deno.stdout.writeSync(new TextEncoder().encode(`installed oui-data@${v}\n`));
}
