/**
 * MAC vendors from the IEEE registration authority's registries (MA-L:
 * 24-bit OUI, MA-M: 28-bit, MA-S: 36-bit prefixes), shipped as
 * `data/oui/oui.tsv.gz` (one `PREFIX<TAB>Organization` a line, upper-case
 * hex of 6, 7 or 9 digits) made from the npm package `oui-data` by
 * {@link updateOui} in `update_oui.ts`. The longest prefix wins, as the
 * registry asks (MA-M and MA-S blocks sit inside MA-L blocks assigned to
 * "IEEE Registration Authority").
 *
 * Locally administered addresses (bit 1 of the first byte: randomised
 * "private" Wi-Fi addresses of phones, virtual machines, containers) have
 * no vendor: {@link macKind} says so.
 *
 * @module
 */

/** The shipped registry file. */
export const SHIPPED_OUI_URL: URL = new URL(
  "../data/oui/oui.tsv.gz",
  import.meta.url,
);

/** What kind of address a MAC is. */
export type MacKind = "global" | "local" | "multicast";

/**
 * "multicast" (group bit), "local" (locally administered: randomised or
 * assigned by software, no vendor) or "global" (a vendor's OUI).
 */
export function macKind(mac: number): MacKind {
  const first = Math.floor(mac / 0x10000000000) & 0xff;
  if (first & 1) return "multicast";
  return first & 2 ? "local" : "global";
}

/** Parses `aa:bb:cc:dd:ee:ff` (or `-` separated, any case) to a MAC number; null when malformed. */
export function parseMac(text: string): number | null {
  const m =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i
      .exec(text);
  if (m === null) return null;
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i]!, 16);
  return v;
}

/** The vendor registry: prefix maps by length. */
export class OuiRegistry {
  readonly #l = new Map<number, string>();
  readonly #m = new Map<number, string>();
  readonly #s = new Map<number, string>();

  /** Prefixes loaded. */
  get size(): number {
    return this.#l.size + this.#m.size + this.#s.size;
  }

  /**
   * Builds a registry from the TSV text; lines that are not a 6, 7 or 9
   * digit hex prefix and a name are skipped.
   */
  static parse(text: string): OuiRegistry {
    const r = new OuiRegistry();
    const names = new Map<string, string>();
    for (const line of text.split("\n")) {
      const tab = line.indexOf("\t");
      if (tab !== 6 && tab !== 7 && tab !== 9) continue;
      const hex = line.slice(0, tab);
      if (!/^[0-9A-F]+$/.test(hex)) continue;
      let name = line.slice(tab + 1).trim();
      if (name === "" || name.length > 120) continue;
      name = names.get(name) ?? (names.set(name, name), name);
      const v = parseInt(hex, 16);
      (tab === 6 ? r.#l : tab === 7 ? r.#m : r.#s).set(v, name);
    }
    return r;
  }

  /** The vendor of a globally administered MAC, or null (unknown or local). */
  lookup(mac: number): string | null {
    if (mac < 0 || macKind(mac) !== "global") return null;
    return this.#s.get(Math.floor(mac / 0x1000)) ??
      this.#m.get(Math.floor(mac / 0x100000)) ??
      this.#l.get(Math.floor(mac / 0x1000000)) ?? null;
  }
}

/**
 * Reads a registry file (gzip-compressed TSV, as shipped).
 *
 * @throws {Error} `Cannot read the MAC vendor registry "path": …` when the
 *   file is missing, not gzip, or holds no prefix.
 */
export async function loadOuiRegistry(
  path: string | URL = SHIPPED_OUI_URL,
): Promise<OuiRegistry> {
  try {
    const bytes = await Deno.readFile(path);
    const text = await new Response(
      new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
    ).text();
    const r = OuiRegistry.parse(text);
    if (r.size === 0) throw new Error("no prefix in it");
    return r;
  } catch (e) {
    throw new Error(
      `Cannot read the MAC vendor registry "${String(path)}": ${
        e instanceof Error ? e.message : String(e)
      } (reinstall, or refresh it with deno run -A devices/update_oui.ts)`,
      { cause: e },
    );
  }
}
