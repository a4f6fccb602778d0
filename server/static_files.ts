/**
 * Static files of the dashboard (`static/`: stylesheet, icon, the built
 * bundle), found beside the code through `import.meta.url` (so a compiled
 * binary serves its embedded copies), read once and cached in memory with
 * an ETag.
 *
 * @module
 */

const STATIC_DIR = new URL("../static/", import.meta.url);

const TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
};

interface Cached {
  body: Uint8Array;
  etag: string;
  type: string;
}

/** Serves files under `static/`, caching them in memory. */
export class StaticFiles {
  readonly #cache = new Map<string, Cached>();
  readonly #dev: boolean;

  /** `dev`: re-read files on every request (no cache). */
  constructor(opts: { dev?: boolean } = {}) {
    this.#dev = opts.dev ?? false;
  }

  /** Drops cached files (after the bundle was rebuilt). */
  clear(): void {
    this.#cache.clear();
  }

  /** The answer for `rel` (path below `/static/`), or null when there is no such file. */
  async serve(rel: string, req: Request): Promise<Response | null> {
    if (!/^[a-z0-9_\-]+(\/[a-z0-9_\-]+)*\.[a-z0-9]+$/i.test(rel)) return null;
    if (rel.endsWith(".stamp") || rel.includes(".tmp.")) return null;
    const ext = rel.slice(rel.lastIndexOf(".") + 1).toLowerCase();
    const type = TYPES[ext];
    if (type === undefined) return null;
    let c = this.#dev ? undefined : this.#cache.get(rel);
    if (c === undefined) {
      let body: Uint8Array;
      try {
        body = await Deno.readFile(new URL(rel, STATIC_DIR));
      } catch (e) {
        if (
          e instanceof Deno.errors.NotFound ||
          e instanceof Deno.errors.IsADirectory
        ) {
          return null;
        }
        throw e;
      }
      const d = new Uint8Array(
        await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
      );
      const etag = `"${
        Array.from(d.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join(
          "",
        )
      }"`;
      c = { body, etag, type };
      this.#cache.set(rel, c);
    }
    const headers = {
      "content-type": c.type,
      etag: c.etag,
      "cache-control": "public, max-age=3600",
    };
    if (req.headers.get("if-none-match") === c.etag) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(
      req.method === "HEAD" ? null : c.body as Uint8Array<ArrayBuffer>,
      {
        headers,
      },
    );
  }
}
