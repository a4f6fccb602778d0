/**
 * The lab's web server: a small site over HTTP (and HTTPS when given a
 * certificate) for the fixture captures. Pages, assets and downloads are
 * deterministic bytes, so two runs send the same sizes; `/admin/` is behind
 * HTTP basic auth for the brute-force capture.
 *
 * ```sh
 * deno run --allow-net --allow-read tests/lab/http_server.ts \
 *   --host 10.99.0.10 --port 80 --tls-port 443 --cert c.pem --key k.pem
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

/** User name accepted on `/admin/`. */
export const ADMIN_USER = "admin";
/** Password accepted on `/admin/` (the last line of `wordlist.txt`). */
export const ADMIN_PASSWORD = "Lab-Adm1n-2024";
/** Largest download `/files/<KiB>.bin` serves, in KiB. */
export const MAX_DOWNLOAD_KIB = 8192;

const TEXT_WORDS = [
  "network",
  "sentinel",
  "packet",
  "report",
  "weekly",
  "meeting",
  "printer",
  "update",
  "backup",
  "schedule",
  "project",
  "budget",
  "office",
  "coffee",
  "release",
  "notes",
];

/** Returns a 32-bit FNV-1a hash of `text`, used to size pages stably. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Fills `length` bytes from a xorshift generator seeded with `seed`. */
function pseudoRandomBytes(
  length: number,
  seed: number,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Builds an HTML page of roughly `paragraphs` paragraphs titled `title`. */
function page(title: string, paragraphs: number): string {
  let seed = hash32(title);
  const parts: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const words: string[] = [];
    for (let w = 0; w < 40; w++) {
      seed = Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) >>> 0;
      words.push(TEXT_WORDS[seed % TEXT_WORDS.length] ?? "lab");
    }
    parts.push(`<p>${words.join(" ")}</p>`);
  }
  return `<!doctype html><html><head><title>${title}</title>` +
    `<link rel="stylesheet" href="/static/style.css">` +
    `<script src="/static/app.js" defer></script></head><body>` +
    `<h1>${title}</h1>${parts.join("\n")}` +
    `<p><a href="/">home</a> <a href="/page/news.html">news</a></p>` +
    `</body></html>\n`;
}

/** True when the request carries the lab's admin credentials. */
function authorized(req: Request): boolean {
  const header = req.headers.get("authorization") ?? "";
  const [scheme, token] = header.split(" ", 2);
  if (scheme?.toLowerCase() !== "basic" || token === undefined) return false;
  let decoded: string;
  try {
    decoded = atob(token);
  } catch {
    return false;
  }
  return decoded === `${ADMIN_USER}:${ADMIN_PASSWORD}`;
}

function html(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}

/**
 * Answers one request of the lab site: `/`, `/page/<name>.html`,
 * `/static/style.css`, `/static/app.js`, `/img/<n>.png`, `/files/<KiB>.bin`
 * (at most {@link MAX_DOWNLOAD_KIB}), `/api/status`, `POST /api/echo`, and
 * `/admin/` behind basic auth (401 with a `WWW-Authenticate` challenge
 * otherwise). Anything else is 404.
 */
export async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path.startsWith("/admin")) {
    if (!authorized(req)) {
      return new Response("authorization required\n", {
        status: 401,
        headers: { "www-authenticate": 'Basic realm="lab admin"' },
      });
    }
    return html(page("Admin console", 3));
  }
  if (req.method === "POST" && path === "/api/echo") {
    const body = new Uint8Array(await req.arrayBuffer());
    return Response.json({ received: body.byteLength });
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405 });
  }
  if (path === "/" || path === "/index.html") {
    return html(page("Lab intranet", 6));
  }
  if (path === "/api/status") {
    return Response.json({ ok: true, host: url.hostname, services: 5 });
  }
  if (path === "/static/style.css") {
    return new Response("body{font-family:sans-serif}\n".repeat(40), {
      headers: { "content-type": "text/css" },
    });
  }
  if (path === "/static/app.js") {
    return new Response("console.log('lab');\n".repeat(80), {
      headers: { "content-type": "text/javascript" },
    });
  }
  const pageMatch = /^\/page\/([a-z0-9-]{1,40})\.html$/.exec(path);
  if (pageMatch?.[1] !== undefined) {
    const name = pageMatch[1];
    return html(page(name, 2 + (hash32(name) % 10)));
  }
  const imgMatch = /^\/img\/([0-9]{1,4})\.png$/.exec(path);
  if (imgMatch?.[1] !== undefined) {
    const n = Number(imgMatch[1]);
    return new Response(pseudoRandomBytes(1024 + (n * 3331) % 5000, n), {
      headers: { "content-type": "image/png" },
    });
  }
  const fileMatch = /^\/files\/([0-9]{1,5})\.bin$/.exec(path);
  if (fileMatch?.[1] !== undefined) {
    const kib = Number(fileMatch[1]);
    if (kib < 1 || kib > MAX_DOWNLOAD_KIB) {
      return new Response("bad size\n", { status: 400 });
    }
    return new Response(pseudoRandomBytes(kib * 1024, kib), {
      headers: { "content-type": "application/octet-stream" },
    });
  }
  return html("<h1>not found</h1>\n", 404);
}

function say(message: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`http_server: ${message}\n`));
}

/** Starts the servers described by the command line and runs until killed. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      host: { type: "string", default: "0.0.0.0" },
      port: { type: "string", default: "80" },
      "tls-port": { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
    },
  });
  const hostname = values.host;
  const servers: Deno.HttpServer[] = [];
  servers.push(Deno.serve({
    hostname,
    port: Number(values.port),
    onListen: ({ port }) => say(`listening on ${hostname}:${port}`),
  }, handle));
  const tlsPort = values["tls-port"];
  if (tlsPort !== undefined) {
    if (values.cert === undefined || values.key === undefined) {
      throw new Error("Cannot serve TLS: --tls-port needs --cert and --key");
    }
    servers.push(Deno.serve({
      hostname,
      port: Number(tlsPort),
      cert: await Deno.readTextFile(values.cert),
      key: await Deno.readTextFile(values.key),
      onListen: ({ port }) => say(`listening on ${hostname}:${port} (tls)`),
    }, handle));
  }
  await Promise.all(servers.map((s) => s.finished));
}

if (import.meta.main) await main();
