/**
 * Feed updates and the stored copies. Each feed's last good copy lives in
 * the data directory as `intel/NAME.txt` beside `intel/NAME.json` (its
 * status: when fetched, the validators, entries, bytes, the last error), so
 * a restart without network still has every feed.
 *
 * An update downloads with `If-None-Match`/`If-Modified-Since` (RFC 9110
 * §13.1: a 304 keeps the copy), caps the body at `max_bytes` while it
 * streams and the time at `timeout_s`, parses, and validates: a feed that
 * fails to parse (no indicator, or more bad lines than good ones) or that
 * shrinks to less than half its last good size keeps the last good copy and
 * records why. A local-path feed is read the same way (its modification
 * time and size stand in for the validators).
 *
 * The network is injected (`fetch`), the files are Deno's.
 *
 * @module
 */
import { join } from "node:path";
import type { FeedConfig, IntelConfig } from "./config.ts";
import { type ParsedFeed, parseFeed } from "./formats.ts";

/** A feed's stored status (`intel/NAME.json`). */
export interface FeedStatus {
  name: string;
  /** When the stored copy was taken (ISO 8601), or null when there is none. */
  updated_at: string | null;
  /** When the source was last asked (ISO 8601), or null. */
  checked_at: string | null;
  /** Validators of the stored copy. */
  etag: string | null;
  last_modified: string | null;
  /** Indicators in the stored copy and its size in bytes. */
  entries: number;
  bytes: number;
  /** Lines of the stored copy that were not indicators. */
  rejected: number;
  /** The last failure (ISO 8601 time and one line), or null after a success. */
  last_error: string | null;
  last_error_at: string | null;
  /** Updates that failed since the last success. */
  failures: number;
}

/** What one update did. */
export type UpdateOutcome = "updated" | "not_modified" | "kept" | "failed";

/** The result of {@link updateFeed}. */
export interface UpdateResult {
  outcome: UpdateOutcome;
  status: FeedStatus;
  /** The new indicators when `outcome` is "updated". */
  parsed: ParsedFeed | null;
  /** One line for the CLI and the log. */
  message: string;
}

/** The fetch function updates use (tests and the CLI pass `globalThis.fetch`). */
export type FetchLike = (
  input: string,
  init: RequestInit,
) => Promise<Response>;

/** Options of {@link updateFeed}. */
export interface UpdateOptions {
  /** The data directory (the copies go in its `intel/`). */
  dataDir: string;
  fetch: FetchLike;
  limits: Pick<IntelConfig, "max_bytes" | "max_entries" | "timeout_s">;
  /** Clock, ms (tests). */
  now?: () => number;
  /** Sent as User-Agent. */
  userAgent?: string;
}

/** The folder of the stored copies. */
export function intelDir(dataDir: string): string {
  return join(dataDir, "intel");
}

function emptyStatus(name: string): FeedStatus {
  return {
    name,
    updated_at: null,
    checked_at: null,
    etag: null,
    last_modified: null,
    entries: 0,
    bytes: 0,
    rejected: 0,
    last_error: null,
    last_error_at: null,
    failures: 0,
  };
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function nat(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

/** Validates a stored status (`unknown` from JSON); a broken one reads as none. */
export function parseFeedStatus(v: unknown, name: string): FeedStatus {
  if (typeof v !== "object" || v === null) return emptyStatus(name);
  const r = v as Record<string, unknown>;
  return {
    name,
    updated_at: str(r.updated_at),
    checked_at: str(r.checked_at),
    etag: str(r.etag),
    last_modified: str(r.last_modified),
    entries: nat(r.entries),
    bytes: nat(r.bytes),
    rejected: nat(r.rejected),
    last_error: str(r.last_error),
    last_error_at: str(r.last_error_at),
    failures: nat(r.failures),
  };
}

/** Reads a feed's stored status (none: an empty one). */
export async function readFeedStatus(
  dataDir: string,
  name: string,
): Promise<FeedStatus> {
  try {
    const t = await Deno.readTextFile(join(intelDir(dataDir), `${name}.json`));
    return parseFeedStatus(JSON.parse(t), name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof SyntaxError) {
      return emptyStatus(name);
    }
    throw e;
  }
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, data, { mode: 0o640 });
  await Deno.rename(tmp, path);
}

async function writeStatus(dataDir: string, s: FeedStatus): Promise<void> {
  await Deno.mkdir(intelDir(dataDir), { recursive: true });
  await writeAtomic(
    join(intelDir(dataDir), `${s.name}.json`),
    JSON.stringify(s, null, 1) + "\n",
  );
}

/** Parses a feed's stored copy; null when there is none. */
export async function loadStoredFeed(
  dataDir: string,
  feed: FeedConfig,
  maxEntries: number,
): Promise<{ parsed: ParsedFeed; status: FeedStatus; text: string } | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(intelDir(dataDir), `${feed.name}.txt`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const status = await readFeedStatus(dataDir, feed.name);
  const parsed = parseFeed(text, {
    format: feed.format,
    kind: feed.kind,
    column: feed.column,
    maxEntries,
  });
  return { parsed, status, text };
}

/** A download or read that failed, with a message for the status. */
class FeedFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FeedFetchError";
  }
}

async function readCapped(
  body: ReadableStream<Uint8Array>,
  max: number,
  what: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
      if (n > max) {
        throw new FeedFetchError(
          `${what} is larger than ${max / 1_000_000} MB (raise intel.max_mb)`,
        );
      }
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

type Fetched =
  | { kind: "not_modified" }
  | {
    kind: "body";
    text: string;
    etag: string | null;
    lastModified: string | null;
  };

async function fetchSource(
  feed: FeedConfig,
  prev: FeedStatus,
  o: UpdateOptions,
): Promise<Fetched> {
  if (feed.path !== null) {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(feed.path);
    } catch (e) {
      throw new FeedFetchError(
        `cannot read "${feed.path}": ${(e as Error).message}`,
      );
    }
    if (st.size > o.limits.max_bytes) {
      throw new FeedFetchError(
        `"${feed.path}" is larger than ${
          o.limits.max_bytes / 1_000_000
        } MB (raise intel.max_mb)`,
      );
    }
    const validator = `${st.mtime?.getTime() ?? 0}-${st.size}`;
    if (prev.etag === validator && prev.updated_at !== null) {
      return { kind: "not_modified" };
    }
    const bytes = await Deno.readFile(feed.path);
    return {
      kind: "body",
      text: new TextDecoder().decode(bytes),
      etag: validator,
      lastModified: null,
    };
  }
  const url = feed.url!;
  const headers: Record<string, string> = {
    "user-agent": o.userAgent ?? "NetSentinel",
  };
  // Validators only when the copy they describe is still there.
  if (prev.updated_at !== null) {
    if (prev.etag) headers["if-none-match"] = prev.etag;
    if (prev.last_modified) headers["if-modified-since"] = prev.last_modified;
  }
  let res: Response;
  try {
    res = await o.fetch(url, {
      headers,
      redirect: "follow",
      signal: AbortSignal.timeout(o.limits.timeout_s * 1000),
    });
  } catch (e) {
    const err = e as Error;
    const why = err.name === "TimeoutError" || err.name === "AbortError"
      ? `no answer within ${o.limits.timeout_s} s (raise intel.timeout)`
      : err.message.split("\n")[0];
    throw new FeedFetchError(`cannot download ${url}: ${why}`);
  }
  if (res.status === 304) {
    await res.body?.cancel();
    return { kind: "not_modified" };
  }
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new FeedFetchError(`cannot download ${url}: HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > o.limits.max_bytes) {
    await res.body.cancel();
    throw new FeedFetchError(
      `${url} is larger than ${
        o.limits.max_bytes / 1_000_000
      } MB (raise intel.max_mb)`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readCapped(res.body, o.limits.max_bytes, url);
  } catch (e) {
    if (e instanceof FeedFetchError) throw e;
    const err = e as Error;
    const why = err.name === "TimeoutError" || err.name === "AbortError"
      ? `no complete answer within ${o.limits.timeout_s} s (raise intel.timeout)`
      : err.message.split("\n")[0];
    throw new FeedFetchError(`cannot download ${url}: ${why}`);
  }
  return {
    kind: "body",
    text: new TextDecoder().decode(bytes),
    etag: res.headers.get("etag"),
    lastModified: res.headers.get("last-modified"),
  };
}

/** Why a parsed copy is not taken, or null when it is good. */
function invalidity(p: ParsedFeed, prev: FeedStatus): string | null {
  if (p.entries === 0) {
    return p.rejected > 0
      ? `no indicator in it (${p.rejected} bad lines; line ${
        p.rejects[0]?.line
      }: ${JSON.stringify(p.rejects[0]?.text ?? "")})`
      : "no indicator in it (empty)";
  }
  if (p.rejected > p.entries) {
    return `more bad lines (${p.rejected}) than indicators (${p.entries}); line ${
      p.rejects[0]?.line
    }: ${JSON.stringify(p.rejects[0]?.text ?? "")}`;
  }
  if (
    prev.updated_at !== null && prev.entries > 0 && p.entries * 2 < prev.entries
  ) {
    return `it shrank from ${prev.entries} to ${p.entries} indicators (more than half gone)`;
  }
  return null;
}

/**
 * Updates one feed into the data directory; never throws for a feed's
 * fault (network, HTTP, size, content): the result says what happened and
 * the stored status keeps the error.
 */
export async function updateFeed(
  feed: FeedConfig,
  o: UpdateOptions,
): Promise<UpdateResult> {
  const now = new Date((o.now ?? Date.now)()).toISOString();
  const prev = await readFeedStatus(o.dataDir, feed.name);
  const status: FeedStatus = { ...prev, checked_at: now };
  const fail = async (outcome: UpdateOutcome, why: string) => {
    status.last_error = why;
    status.last_error_at = now;
    status.failures = prev.failures + 1;
    await writeStatus(o.dataDir, status);
    const kept = prev.updated_at !== null
      ? ` (kept the copy of ${prev.updated_at}, ${prev.entries} indicators)`
      : " (no copy yet)";
    return {
      outcome,
      status,
      parsed: null,
      message: `Cannot update feed "${feed.name}": ${why}${kept}`,
    };
  };
  let got: Fetched;
  try {
    got = await fetchSource(feed, prev, o);
  } catch (e) {
    if (!(e instanceof FeedFetchError)) throw e;
    return await fail("failed", e.message);
  }
  if (got.kind === "not_modified") {
    status.last_error = null;
    status.last_error_at = null;
    status.failures = 0;
    await writeStatus(o.dataDir, status);
    return {
      outcome: "not_modified",
      status,
      parsed: null,
      message: `Feed "${feed.name}" not modified (${prev.entries} indicators)`,
    };
  }
  const parsed = parseFeed(got.text, {
    format: feed.format,
    kind: feed.kind,
    column: feed.column,
    maxEntries: o.limits.max_entries,
  });
  const bad = invalidity(parsed, prev);
  if (bad !== null) return await fail("kept", bad);
  await Deno.mkdir(intelDir(o.dataDir), { recursive: true });
  await writeAtomic(join(intelDir(o.dataDir), `${feed.name}.txt`), got.text);
  Object.assign(status, {
    updated_at: now,
    etag: got.etag,
    last_modified: got.lastModified,
    entries: parsed.entries,
    bytes: new TextEncoder().encode(got.text).byteLength,
    rejected: parsed.rejected,
    last_error: parsed.overLimit > 0
      ? `${parsed.overLimit} indicators over intel.max_entries dropped`
      : null,
    last_error_at: parsed.overLimit > 0 ? now : null,
    failures: 0,
  });
  await writeStatus(o.dataDir, status);
  return {
    outcome: "updated",
    status,
    parsed,
    message: `Feed "${feed.name}" updated: ${parsed.entries} indicators` +
      (parsed.rejected > 0 ? `, ${parsed.rejected} bad lines skipped` : ""),
  };
}
