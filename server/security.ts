/**
 * Browser-facing protections: the Content-Security-Policy (no inline
 * scripts, no inline styles, same-origin everything), the other security
 * headers, the origin check of state-changing requests, cookies, and the
 * per-address limit on failed sign-ins.
 *
 * @module
 */

/** The Content-Security-Policy of every answer. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Adds the security headers to an answer's headers (in place). */
export function addSecurityHeaders(h: Headers, tls: boolean): void {
  h.set("content-security-policy", CSP);
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "same-origin");
  h.set("x-frame-options", "DENY");
  h.set("permissions-policy", "camera=(), microphone=(), geolocation=()");
  if (tls) {
    // Browsers ignore (and log an error for) COOP on plain-HTTP LAN origins.
    h.set("cross-origin-opener-policy", "same-origin");
    h.set("strict-transport-security", "max-age=31536000");
  }
}

/** True for methods that change state. */
export function isUnsafeMethod(method: string): boolean {
  return !(method === "GET" || method === "HEAD" || method === "OPTIONS");
}

/**
 * True when a request comes from a page of this server: its `Origin`
 * header equals the server's own origin (scheme and the `Host` the browser
 * used), or, without `Origin`, `Sec-Fetch-Site` says same-origin.
 */
export function sameOrigin(req: Request, url: URL): boolean {
  const origin = req.headers.get("origin");
  const host = req.headers.get("host") ?? url.host;
  if (origin !== null) {
    return origin === `${url.protocol}//${host}`;
  }
  return req.headers.get("sec-fetch-site") === "same-origin";
}

/** Reads one cookie's value from a request, or "". */
export function getCookie(req: Request, name: string): string {
  const header = req.headers.get("cookie");
  if (header === null) return "";
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return "";
}

/** A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure over TLS. */
export function cookieHeader(
  name: string,
  value: string,
  opts: { maxAge: number; secure: boolean },
): string {
  return [
    `${name}=${value}`,
    "Path=/",
    `Max-Age=${opts.maxAge}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(opts.secure ? ["Secure"] : []),
  ].join("; ");
}

/** Options of {@link AttemptLimiter}. */
export interface AttemptLimiterOptions {
  /** Failures allowed per address within the window (default 5). */
  max?: number;
  /** Window, ms (default 15 minutes). */
  windowMs?: number;
  /** Most addresses tracked; the oldest is forgotten (default 10,000). */
  maxAddrs?: number;
  now?: () => number;
}

/**
 * Counts sign-in attempts per address in a sliding window and refuses more
 * than `max` failed or pending ones until the oldest leaves the window.
 * Bounded memory.
 */
export class AttemptLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxAddrs: number;
  readonly #now: () => number;
  readonly #fails = new Map<string, number[]>();

  /** Creates the limiter. */
  constructor(opts: AttemptLimiterOptions = {}) {
    this.#max = opts.max ?? 5;
    this.#windowMs = opts.windowMs ?? 15 * 60_000;
    this.#maxAddrs = opts.maxAddrs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  #recent(addr: string): number[] {
    const now = this.#now();
    const list = (this.#fails.get(addr) ?? []).filter((t) =>
      now - t < this.#windowMs
    );
    if (list.length === 0) this.#fails.delete(addr);
    else this.#fails.set(addr, list);
    return list;
  }

  /** Seconds until `addr` may try again, or 0 when it may now. */
  retryAfter(addr: string): number {
    const list = this.#recent(addr);
    if (list.length < this.#max) return 0;
    const oldest = list[list.length - this.#max]!;
    return Math.max(
      1,
      Math.ceil((oldest + this.#windowMs - this.#now()) / 1000),
    );
  }

  /**
   * Takes one attempt for `addr` before its password is checked: resolves
   * to 0 and counts the attempt as a failure (forgotten by {@link succeed}
   * when the password was right), or to the seconds to wait when `addr`
   * has used up its attempts. Counting before the slow hash is what keeps
   * parallel guesses within the limit.
   */
  take(addr: string): number {
    const wait = this.retryAfter(addr);
    if (wait === 0) this.fail(addr);
    return wait;
  }

  /** Records a failure from `addr`. */
  fail(addr: string): void {
    const list = this.#recent(addr);
    list.push(this.#now());
    this.#fails.delete(addr);
    this.#fails.set(addr, list.slice(-this.#max));
    if (this.#fails.size > this.#maxAddrs) {
      const first = this.#fails.keys().next().value;
      if (first !== undefined) this.#fails.delete(first);
    }
  }

  /** Forgets the failures of `addr` (after a successful sign-in). */
  succeed(addr: string): void {
    this.#fails.delete(addr);
  }

  /** Addresses currently tracked. */
  get size(): number {
    return this.#fails.size;
  }
}
