/**
 * What every request handler and page handler of the dashboard gets: the
 * request, its path parameters, the caller's address and identity, the
 * dependencies, and query-parameter parsers that answer 400 naming the
 * parameter.
 *
 * @module
 */
import { parseDuration } from "../cli/command.ts";
import type { Principal, Sessions } from "./auth.ts";
import type { DashboardDeps } from "./deps.ts";
import { badRequest, type Gate } from "./http.ts";
import type { LiveHub } from "./live_hub.ts";
import type { Params } from "./router.ts";

/** One request as handlers see it. */
export interface RequestContext {
  readonly req: Request;
  readonly url: URL;
  readonly params: Params;
  /** The caller's address. */
  readonly addr: string;
  /** The signed-in user or token; null only on public routes. */
  readonly principal: Principal | null;
  readonly deps: DashboardDeps;
  readonly sessions: Sessions;
  readonly hub: LiveHub;
  /** Request time, ms since the epoch. */
  readonly now: number;
  /** True when served over TLS. */
  readonly tls: boolean;
  /** Capture uploads in progress (bounded: each holds its bytes in memory). */
  readonly uploads: Gate;
}

/** A route handler. */
export type Handler = (ctx: RequestContext) => Promise<Response> | Response;

/**
 * A page handler: loads and checks what the page shows; resolves to the
 * page's props, or to a Response (redirect, 404).
 */
export type PageHandler<P> = (ctx: RequestContext) => Promise<P | Response>;

/** The name of whoever made the request ("admin", "token:ci"). */
export function principalName(ctx: RequestContext): string {
  return ctx.principal?.name ?? "anonymous";
}

/** An optional query parameter ("" counts as absent). */
export function queryParam(url: URL, name: string): string | undefined {
  const v = url.searchParams.get(name);
  return v === null || v === "" ? undefined : v;
}

/** An optional integer query parameter within [min, max]. */
export function queryInt(
  url: URL,
  name: string,
  limits: { min: number; max: number },
): number | undefined {
  const v = queryParam(url, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
    throw badRequest(name, `"${v.slice(0, 40)}" is not an integer`);
  }
  if (n < limits.min || n > limits.max) {
    throw badRequest(
      name,
      `must be from ${limits.min} to ${limits.max}, got ${n}`,
    );
  }
  return n;
}

/** The last millisecond of the year 9999: later times are refused. */
export const MAX_TIME_MS = 253_402_300_799_999;

/**
 * Parses a time: ISO 8601, milliseconds since the epoch, or a duration
 * before `now` ("15m", "24h", "7d"). Returns ms since the epoch, from 1970
 * to the end of 9999 (anything else is a 400 naming the parameter).
 */
export function parseTimeParam(
  text: string,
  name: string,
  now: number,
): number {
  const t = text.trim();
  const inRange = (ms: number): number => {
    if (!(ms >= 0 && ms <= MAX_TIME_MS)) {
      throw badRequest(
        name,
        `"${t.slice(0, 40)}" is out of range (1970 to 9999)`,
      );
    }
    return ms;
  };
  if (/^\d{10,}$/.test(t)) return inRange(Number(t));
  const rel = parseDuration(t);
  if (rel !== null && /[a-z]$/.test(t)) return inRange(now - rel * 1000);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return inRange(ms);
  }
  throw badRequest(
    name,
    `"${
      t.slice(0, 40)
    }" is not a time (ISO 8601, ms since the epoch, or a duration ago such as 15m, 24h)`,
  );
}

/** An optional time query parameter (see {@link parseTimeParam}). */
export function queryTime(
  url: URL,
  name: string,
  now: number,
): number | undefined {
  const v = queryParam(url, name);
  return v === undefined ? undefined : parseTimeParam(v, name, now);
}

/**
 * An optional page cursor (from a previous page's `cursor`): base64 text
 * of at most 512 characters; a 400 naming `cursor` otherwise. The store
 * still decides whether it points anywhere (see `invalidCursor`).
 */
export function queryCursor(url: URL): string | undefined {
  const cursor = queryParam(url, "cursor");
  if (cursor === undefined) return undefined;
  if (cursor.length > 512 || !/^[A-Za-z0-9_\-=+/]+$/.test(cursor)) {
    throw badRequest("cursor", "is not a cursor from a previous page");
  }
  return cursor;
}
