/**
 * Small HTTP helpers of the dashboard server: the error a handler throws to
 * answer with a status and a message (naming the bad field), JSON answers,
 * and request bodies read with a size cap.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";

/** An error answered as `{ "error": message, "field"?: name }` with a status. */
export class HttpError extends Error {
  /** HTTP status to answer with. */
  readonly status: number;
  /** The request field at fault, when one is. */
  readonly field: string | undefined;
  /** Creates an HTTP error. */
  constructor(status: number, message: string, field?: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.field = field;
  }
}

/** A 400 answer naming the field: `Invalid "limit": must be from 1 to 1000`. */
export function badRequest(field: string, problem: string): HttpError {
  return new HttpError(400, `Invalid "${field}": ${problem}`, field);
}

/** Turns a ConfigError into a 400 naming its field; other errors pass through. */
export function fromConfigError(e: unknown): unknown {
  if (e instanceof ConfigError) return new HttpError(400, e.message, e.field);
  return e;
}

/** A JSON answer. */
export function json(
  body: unknown,
  status = 200,
  headers: HeadersInit = {},
): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  h.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/**
 * The name of the first header whose value HTTP cannot carry (a control
 * character other than tab), or null when all can be sent. Deno aborts
 * the process on such a value instead of throwing, so every answer is
 * checked before it leaves.
 */
export function unsendableHeader(h: Headers): string | null {
  for (const [name, value] of h) {
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return name;
  }
  return null;
}

/** The answer of an {@link HttpError}. */
export function errorResponse(e: HttpError): Response {
  const body: Record<string, unknown> = { error: e.message };
  if (e.field !== undefined) body.field = e.field;
  return json(body, e.status);
}

/**
 * Reads a request body of at most `maxBytes`, streaming, and stops early
 * with a 413 when it is larger.
 */
export async function readBody(
  req: Request,
  maxBytes: number,
): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(
      413,
      `Request body too large: ${declared} bytes (at most ${maxBytes})`,
    );
  }
  if (req.body === null) return new Uint8Array(0);
  if (Number.isSafeInteger(declared) && declared >= 0) {
    return await readDeclared(req.body, declared);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  while (true) {
    const r = await reader.read();
    if (r.done) break;
    total += r.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new HttpError(
        413,
        `Request body too large: more than ${maxBytes} bytes`,
      );
    }
    parts.push(r.value);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/**
 * Reads a body of `length` declared bytes into one buffer (no copy of the
 * parts: a 64 MB upload costs 64 MB, not twice that).
 */
async function readDeclared(
  body: ReadableStream<Uint8Array>,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let o = 0;
  const reader = body.getReader();
  while (true) {
    const r = await reader.read();
    if (r.done) break;
    if (o + r.value.byteLength > length) {
      await reader.cancel();
      throw new HttpError(400, "Request body longer than its Content-Length");
    }
    out.set(r.value, o);
    o += r.value.byteLength;
  }
  return o === length ? out : out.subarray(0, o);
}

/**
 * A count of things in progress with a cap: {@link tryEnter} refuses
 * above it. The dashboard bounds concurrent uploads with one.
 */
export class Gate {
  readonly #max: number;
  #active = 0;

  /** Creates a gate letting at most `max` in at once. */
  constructor(max: number) {
    this.#max = max;
  }

  /** True (and counted) when there is room; call {@link leave} after. */
  tryEnter(): boolean {
    if (this.#active >= this.#max) return false;
    this.#active++;
    return true;
  }

  /** Ends one {@link tryEnter}. */
  leave(): void {
    this.#active = Math.max(0, this.#active - 1);
  }

  /** How many are in. */
  get active(): number {
    return this.#active;
  }
}

/** Reads a JSON body (at most `maxBytes`, default 256 KiB) as `unknown`. */
export async function readJson(
  req: Request,
  maxBytes = 256 * 1024,
): Promise<unknown> {
  const bytes = await readBody(req, maxBytes);
  const text = new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "Invalid JSON body", "body");
  }
}

/** Reads a JSON body that must be an object. */
export async function readJsonObject(
  req: Request,
  maxBytes?: number,
): Promise<Record<string, unknown>> {
  const v = await readJson(req, maxBytes);
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw badRequest("body", "must be a JSON object");
  }
  return v as Record<string, unknown>;
}

/** A required string field of a JSON body, trimmed, at most `maxLen` characters. */
export function reqString(
  o: Record<string, unknown>,
  field: string,
  maxLen = 256,
): string {
  const v = o[field];
  if (typeof v !== "string" || v.trim() === "") {
    throw badRequest(field, "required (a non-empty string)");
  }
  if (v.length > maxLen) {
    throw badRequest(field, `at most ${maxLen} characters`);
  }
  return v.trim();
}

/** An optional string field of a JSON body ("" when absent). */
export function optString(
  o: Record<string, unknown>,
  field: string,
  maxLen = 512,
): string {
  const v = o[field];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw badRequest(field, "must be a string");
  if (v.length > maxLen) {
    throw badRequest(field, `at most ${maxLen} characters`);
  }
  return v.trim();
}
