/**
 * The dashboard server: pages, the JSON API, `/ws/live`, `/metrics` and
 * `/health` over `Deno.serve` (optionally TLS), with sign-in, sessions, API
 * tokens, origin checks on state-changing requests, a sign-in rate limit
 * and a strict Content-Security-Policy. Background work: a stats tick once
 * a second, live alerts and block changes pushed to browsers, and the
 * list of signed-in admin addresses kept fresh for the blocker.
 *
 * @module
 */
import type { Logger } from "../common/logger.ts";
import { VERSION } from "../common/version.ts";
import { addApiRoutes } from "./api.ts";
import { addInboxRoutes } from "./inbox_api.ts";
import { AttemptLimiter, type AttemptLimiterOptions } from "./security.ts";
import {
  addSecurityHeaders,
  cookieHeader,
  getCookie,
  isUnsafeMethod,
  sameOrigin,
} from "./security.ts";
import { type Principal, sessionCookieName, Sessions } from "./auth.ts";
import type { Handler, RequestContext } from "./context.ts";
import type { DashboardDeps, MetricFamily, PartHealth } from "./deps.ts";
import {
  errorResponse,
  Gate,
  HttpError,
  json,
  readBody,
  unsendableHeader,
} from "./http.ts";
import { LiveHub, type LiveHubOptions } from "./live_hub.ts";
import type { LiveBlock } from "./live_messages.ts";
import { metric, renderMetrics } from "./metrics.ts";
import { addPageRoutes, renderSignIn } from "./pages.ts";
import { Router } from "./router.ts";
import { StaticFiles } from "./static_files.ts";

/** Options of {@link createDashboard} and {@link createServer}. */
export interface DashboardOptions {
  /** Session lifetime, ms (default 12 h). */
  sessionTtlMs?: number;
  /** Failed sign-ins allowed per address (default 5 in 15 minutes). */
  signinLimit?: AttemptLimiterOptions;
  /** WebSocket limits. */
  live?: LiveHubOptions;
  /** Stats tick interval, ms (default 1000). */
  tickMs?: number;
  /** True when served over TLS (cookies get `Secure`). */
  tls?: boolean;
  /** Re-read static files on every request (development). */
  devStatic?: boolean;
}

/** The dashboard without a listener: a request handler plus its background work. */
export interface Dashboard {
  /** Answers one request. */
  handler(req: Request, info: Deno.ServeHandlerInfo): Promise<Response>;
  /** Starts the stats tick and the live feeds. */
  start(): void;
  /** Stops background work and closes live clients. */
  stop(): Promise<void>;
  readonly hub: LiveHub;
  readonly sessions: Sessions;
  /** Every route, for documentation and tests. */
  readonly routes: readonly { method: string; pattern: string }[];
}

/** Paths answered without signing in. */
export const PUBLIC_PATHS: readonly string[] = ["/health", "/signin"];

/** Normalises a peer address ("::ffff:1.2.3.4" → "1.2.3.4"). */
export function peerAddr(info: Deno.ServeHandlerInfo): string {
  const a = info.remoteAddr as Deno.NetAddr;
  const h = a.hostname ?? "";
  return h.startsWith("::ffff:") && h.includes(".") ? h.slice(7) : h;
}

const NEXT_BASE = "http://netsentinel.invalid";

/**
 * The page to go to after signing in: `v` when it is a path of this
 * dashboard, else "/". Only printable ASCII without spaces (a `next` made
 * by this server is percent-encoded), at most 512 characters, no `//` or
 * backslash at the start or anywhere a browser could read as another host
 * (browsers drop tabs and newlines and read `\` as `/`, so `/\t/evil` is
 * refused by the first rule and `/\\evil` by the second), and it must
 * resolve to this origin.
 */
export function safeNext(v: string | null): string {
  if (
    v === null || v.length > 512 || !/^\/[\x21-\x7e]*$/.test(v) ||
    v.startsWith("//") || v.includes("\\")
  ) {
    return "/";
  }
  try {
    const u = new URL(v, NEXT_BASE);
    if (u.origin !== NEXT_BASE) return "/";
  } catch {
    return "/";
  }
  return v;
}

/** How often live sockets' credentials are checked again, ms. */
const LIVE_RECHECK_MS = 500;

/**
 * Builds the dashboard over `deps`. `run` calls {@link createServer}
 * instead; this is for embedding the handler elsewhere.
 */
export function createDashboard(
  deps: DashboardDeps,
  opts: DashboardOptions = {},
): Dashboard {
  const now = deps.now ?? Date.now;
  const log: Logger = deps.log;
  const tls = opts.tls ?? false;
  const sessions = new Sessions(deps.auth, {
    ...(opts.sessionTtlMs === undefined ? {} : { ttlMs: opts.sessionTtlMs }),
    now,
  });
  const limiter = new AttemptLimiter({ now, ...opts.signinLimit });
  const hub = new LiveHub(opts.live);
  const statics = new StaticFiles({ dev: opts.devStatic ?? false });
  const cookieName = sessionCookieName(tls);
  const uploads = new Gate(1);
  const started = now();
  const assetTag = VERSION.replace(/[^\w.-]/g, "") + "-" + started.toString(36);

  const router = new Router<Handler>();
  addPageRoutes(router, () => assetTag);
  addApiRoutes(router);
  addInboxRoutes(router);

  const counters = {
    requests: new Map<string, number>(),
    signinFailures: 0,
    signinLimited: 0,
    originRejected: 0,
    alertsByType: new Map<string, number>(),
    activeBlocks: 0,
  };

  /**
   * `/health`: every part's state; with a session or token also the
   * details (interface, counts, file paths, errors), the version and the
   * uptime. Anonymous callers learn only up or down per part.
   */
  const health = async (signedIn: boolean): Promise<Response> => {
    const parts: Record<string, PartHealth> = { ...deps.health() };
    try {
      await deps.probeStore();
      parts.kv = { state: "up" };
    } catch (e) {
      parts.kv = { state: "down", detail: (e as Error).message };
    }
    const b = deps.responder.state();
    parts.blocker = { state: b.state, detail: b.detail };
    const bad = Object.values(parts).some((p) =>
      p.state === "down" || p.state === "failed"
    );
    if (!signedIn) {
      const states: Record<string, { state: string }> = {};
      for (const [k, p] of Object.entries(parts)) {
        states[k] = { state: p.state };
      }
      return json(
        { status: bad ? "degraded" : "ok", parts: states },
        bad ? 503 : 200,
      );
    }
    return json({
      status: bad ? "degraded" : "ok",
      version: VERSION,
      uptime_s: Math.round((now() - started) / 1000),
      parts,
    }, bad ? 503 : 200);
  };

  const metricsText = (): Response => {
    const hm = hub.metrics();
    const fams: MetricFamily[] = [
      ...deps.metrics(),
      {
        name: "netsentinel_alerts_live_total",
        type: "counter",
        help: "New alerts committed since the server started, by type",
        samples: [...counters.alertsByType].map(([type, value]) => ({
          labels: { type },
          value,
        })),
      },
      metric(
        "netsentinel_blocks_active",
        "gauge",
        "Active blocks",
        counters.activeBlocks,
      ),
      metric(
        "netsentinel_ws_clients",
        "gauge",
        "Live WebSocket clients",
        hm.clients,
      ),
      metric(
        "netsentinel_ws_messages_total",
        "counter",
        "Live messages sent",
        hm.sent,
      ),
      metric(
        "netsentinel_ws_dropped_total",
        "counter",
        "Live clients dropped for being too slow",
        hm.dropped,
      ),
      metric(
        "netsentinel_signin_failures_total",
        "counter",
        "Failed sign-ins",
        counters.signinFailures,
      ),
      metric(
        "netsentinel_signin_limited_total",
        "counter",
        "Sign-ins refused by the rate limit",
        counters.signinLimited,
      ),
      {
        name: "netsentinel_http_requests_total",
        type: "counter",
        help: "HTTP requests answered, by status",
        samples: [...counters.requests].map(([status, value]) => ({
          labels: { status },
          value,
        })),
      },
    ];
    return new Response(renderMetrics(fams), {
      headers: {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
        "cache-control": "no-store",
      },
    });
  };

  const signIn = async (
    req: Request,
    url: URL,
    addr: string,
  ): Promise<Response> => {
    if (req.method === "GET") {
      return renderSignIn({
        next: safeNext(url.searchParams.get("next")),
        error: null,
      }, assetTag);
    }
    if (!sameOrigin(req, url)) {
      counters.originRejected++;
      return new Response("Cross-origin sign-in refused", { status: 403 });
    }
    const form = new URLSearchParams(
      new TextDecoder().decode(await readBody(req, 8192)),
    );
    const next = safeNext(form.get("next"));
    // The attempt counts before the slow hash: parallel guesses cannot all
    // pass the check before the first failure is recorded.
    const wait = limiter.take(addr);
    if (wait > 0) {
      counters.signinLimited++;
      log.warn("sign-in rate limited", { addr });
      const mins = Math.ceil(wait / 60);
      const res = renderSignIn(
        {
          next,
          error: `Too many failed sign-ins from ${addr}. Try again in ${
            wait < 90 ? `${wait} seconds` : `${mins} minutes`
          }.`,
        },
        assetTag,
        429,
      );
      res.headers.set("retry-after", String(wait));
      return res;
    }
    const user = (form.get("user") ?? "").trim();
    const password = form.get("password") ?? "";
    if (
      user === "" || password === "" ||
      !(await sessions.checkPassword(user, password))
    ) {
      counters.signinFailures++;
      log.warn("sign-in failed", { addr, user: user.slice(0, 64) });
      return renderSignIn(
        { next, error: "Wrong user name or password." },
        assetTag,
        401,
      );
    }
    limiter.succeed(addr);
    const secret = await sessions.create(user, addr);
    log.info("signed in", { addr, user });
    return new Response(null, {
      status: 303,
      headers: {
        location: next,
        "set-cookie": cookieHeader(cookieName, secret, {
          maxAge: sessions.ttlSeconds,
          secure: tls,
        }),
      },
    });
  };

  const authenticate = async (req: Request): Promise<Principal | null> => {
    const auth = req.headers.get("authorization");
    if (auth !== null) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (m === null) return null;
      const t = await sessions.resolveToken(m[1]!);
      return t === null
        ? null
        : { name: `token:${t.name}`, kind: "token", tokenHash: t.hash };
    }
    const cookie = getCookie(req, cookieName);
    if (cookie === "") return null;
    const s = await sessions.resolve(cookie);
    return s === null
      ? null
      : { name: s.user, kind: "session", sessionHash: s.id_hash };
  };

  const upgrade = (req: Request, principal: Principal): Response => {
    if ((req.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
      return json({ error: "Expected a WebSocket upgrade" }, 426);
    }
    let up: { socket: WebSocket; response: Response };
    try {
      up = Deno.upgradeWebSocket(req, { idleTimeout: 60 });
    } catch (e) {
      // A missing or malformed Sec-WebSocket-Key, Connection, version, …
      throw new HttpError(
        400,
        `Invalid WebSocket upgrade: ${(e as Error).message}`,
        "upgrade",
      );
    }
    hub.add(up.socket, { kind: "hello", user: principal.name, t: now() }, {
      ...(principal.sessionHash === undefined
        ? {}
        : { session: principal.sessionHash }),
      ...(principal.tokenHash === undefined
        ? {}
        : { token: principal.tokenHash }),
    });
    return up.response;
  };

  const route = async (
    req: Request,
    url: URL,
    addr: string,
  ): Promise<Response> => {
    const path = url.pathname;
    if (
      path.startsWith("/static/") &&
      (req.method === "GET" || req.method === "HEAD")
    ) {
      return (await statics.serve(path.slice(8), req)) ??
        new Response("Not found", { status: 404 });
    }
    if (path === "/health") {
      return await health((await authenticate(req)) !== null);
    }
    if (path === "/signin") {
      if (req.method !== "GET" && req.method !== "POST") {
        return new Response("Method not allowed", {
          status: 405,
          headers: { allow: "GET, POST" },
        });
      }
      return await signIn(req, url, addr);
    }
    const principal = await authenticate(req);
    const isApi = path.startsWith("/api/") || path === "/metrics" ||
      path === "/ws/live";
    if (principal === null) {
      if (isApi || req.method !== "GET") {
        return json(
          { error: "Sign in or send an API token (Authorization: Bearer …)" },
          401,
          {
            "www-authenticate": 'Bearer realm="netsentinel"',
          },
        );
      }
      return new Response(null, {
        status: 303,
        headers: {
          location: `/signin?next=${encodeURIComponent(path + url.search)}`,
        },
      });
    }
    if (
      principal.kind === "session" &&
      (isUnsafeMethod(req.method) || path === "/ws/live") &&
      !sameOrigin(req, url)
    ) {
      counters.originRejected++;
      return json({
        error: "Cross-origin request refused (Origin does not match)",
      }, 403);
    }
    if (path === "/ws/live" && req.method === "GET") {
      return upgrade(req, principal);
    }
    if (path === "/metrics" && req.method === "GET") return metricsText();
    if (path === "/signout" && req.method === "POST") {
      if (principal.sessionHash !== undefined) {
        const h = principal.sessionHash;
        await sessions.destroy(h);
        hub.closeWhere((o) => o.session === h, "signed out");
      }
      return new Response(null, {
        status: 303,
        headers: {
          location: "/signin",
          "set-cookie": cookieHeader(cookieName, "", {
            maxAge: 0,
            secure: tls,
          }),
        },
      });
    }
    const m = router.match(req.method, path);
    if (m.kind === "none") {
      return isApi
        ? json({ error: "No such API route" }, 404)
        : new Response("Not found", { status: 404 });
    }
    if (m.kind === "method") {
      return json({ error: `Method ${req.method} not allowed` }, 405, {
        allow: m.allowed.join(", "),
      });
    }
    const ctx: RequestContext = {
      req,
      url,
      params: m.params,
      addr,
      principal,
      deps,
      sessions,
      hub,
      now: now(),
      tls,
      uploads,
    };
    return await m.route.handler(ctx);
  };

  const handler = async (
    req: Request,
    info: Deno.ServeHandlerInfo,
  ): Promise<Response> => {
    let res: Response;
    let path = "";
    try {
      const url = new URL(req.url);
      path = url.pathname;
      res = await route(req, url, peerAddr(info));
    } catch (e) {
      if (e instanceof HttpError) res = errorResponse(e);
      else {
        log.error("request failed", { path: path.slice(0, 200), error: e });
        res = json({ error: "Internal error (see the appliance's log)" }, 500);
      }
    }
    if (res.status !== 101) {
      try {
        addSecurityHeaders(res.headers, tls);
      } catch {
        // Headers of some responses are immutable; copy them.
        const h = new Headers(res.headers);
        addSecurityHeaders(h, tls);
        res = new Response(res.body, { status: res.status, headers: h });
      }
      // A header value the HTTP layer cannot send would abort the whole
      // process (Deno panics on it); answer an error instead.
      const bad = unsendableHeader(res.headers);
      if (bad !== null) {
        log.error("unsendable response header", {
          path: path.slice(0, 200),
          header: bad,
        });
        await res.body?.cancel().catch(() => {});
        res = json({ error: "Internal error (see the appliance's log)" }, 500);
        addSecurityHeaders(res.headers, tls);
      }
    }
    const k = String(res.status);
    counters.requests.set(k, (counters.requests.get(k) ?? 0) + 1);
    return res;
  };

  // Background work.
  const abort = new AbortController();
  const tasks: Promise<void>[] = [];
  let tick: ReturnType<typeof setInterval> | undefined;
  let sessionTimer: ReturnType<typeof setInterval> | undefined;
  let recheckTimer: ReturnType<typeof setInterval> | undefined;
  let rechecking: Promise<void> | null = null;

  /**
   * Closes live sockets whose session or token is gone: signed out
   * elsewhere, expired, revoked, or ended by `passwd` in another process
   * (which only the store knows about).
   */
  const recheckLive = async (): Promise<void> => {
    const [live, tokens] = await Promise.all([
      deps.auth.listSessions(),
      deps.auth.listTokens(),
    ]);
    const sessionIds = new Set(live.map((x) => x.id_hash));
    const tokenIds = new Set(tokens.map((x) => x.hash));
    hub.closeWhere(
      (o) =>
        (o.session !== undefined && !sessionIds.has(o.session)) ||
        (o.token !== undefined && !tokenIds.has(o.token)),
      "credentials ended",
    );
  };

  const pushBlocks = async () => {
    const blocks = await deps.responder.listBlocks();
    counters.activeBlocks = blocks.length;
    const live: LiveBlock[] = blocks.map((b) => ({
      target: b.target,
      reason: b.reason,
      source: b.source,
      since: b.since,
      until: b.until,
    }));
    hub.broadcast({ kind: "blocks", blocks: live });
  };

  const loop = (name: string, body: () => Promise<void>) => {
    tasks.push((async () => {
      let backoff = 1000;
      while (!abort.signal.aborted) {
        try {
          await body();
          backoff = 1000;
        } catch (e) {
          if (abort.signal.aborted) return;
          log.error(`${name} failed`, { error: e });
        }
        if (abort.signal.aborted) return;
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, backoff);
          function done() {
            clearTimeout(t);
            abort.signal.removeEventListener("abort", done);
            resolve();
          }
          abort.signal.addEventListener("abort", done, { once: true });
        });
        backoff = Math.min(30_000, backoff * 2);
      }
    })());
  };

  const start = () => {
    tick = setInterval(() => {
      try {
        const snap = deps.stats.snapshot(now());
        hub.broadcast({ kind: "stats", stats: snap });
        for (const h of deps.stats.takeNewHosts?.() ?? []) {
          hub.broadcast({ kind: "host", host: h });
        }
      } catch (e) {
        log.error("stats tick failed", { error: e });
      }
    }, opts.tickMs ?? 1000);
    recheckTimer = setInterval(() => {
      if (hub.size === 0 || rechecking !== null) return;
      rechecking = recheckLive().catch((e) =>
        log.error("live credential check failed", { error: e })
      ).finally(() => rechecking = null);
    }, LIVE_RECHECK_MS);
    sessionTimer = setInterval(() => {
      sessions.refresh().catch((e) =>
        log.error("session refresh failed", { error: e })
      );
    }, 60_000);
    tasks.push(
      sessions.refresh().catch((e) =>
        log.error("session refresh failed", { error: e })
      ),
    );
    loop("live alert feed", async () => {
      for await (const { alert, isNew } of deps.alerts.follow(abort.signal)) {
        if (isNew) {
          const t = alert.netsentinel.type;
          counters.alertsByType.set(t, (counters.alertsByType.get(t) ?? 0) + 1);
          deps.stats.noteAlert?.(alert.netsentinel.src_geo?.country);
        }
        hub.broadcast({ kind: "alert", alert, isNew });
      }
    });
    loop("live block feed", async () => {
      await pushBlocks();
      for await (const _ of deps.responder.changes(abort.signal)) {
        await pushBlocks();
      }
    });
  };

  const stop = async () => {
    abort.abort();
    if (tick !== undefined) clearInterval(tick);
    if (sessionTimer !== undefined) clearInterval(sessionTimer);
    if (recheckTimer !== undefined) clearInterval(recheckTimer);
    await rechecking;
    hub.closeAll();
    await Promise.allSettled(tasks);
  };

  return {
    handler,
    start,
    stop,
    hub,
    sessions,
    routes: [
      ...router.routes.map((r) => ({ method: r.method, pattern: r.pattern })),
      { method: "GET", pattern: "/signin" },
      { method: "POST", pattern: "/signin" },
      { method: "POST", pattern: "/signout" },
      { method: "GET", pattern: "/ws/live" },
      { method: "GET", pattern: "/metrics" },
      { method: "GET", pattern: "/health" },
    ],
  };
}

/** Where and how to listen. */
export interface ServerOptions extends DashboardOptions {
  /** Address and port (default 0.0.0.0:8080; port 0 picks a free one). */
  hostname?: string;
  port?: number;
  /** PEM certificate and key (both or neither): serve HTTPS. */
  cert?: string;
  key?: string;
}

/** A listening dashboard. */
export interface DashboardServer extends AsyncDisposable {
  /** Base URL, e.g. "http://127.0.0.1:8080". */
  readonly url: string;
  readonly port: number;
  readonly dashboard: Dashboard;
  /** Stops background work and the listener. */
  close(): Promise<void>;
}

/**
 * Starts the dashboard: `Deno.serve` on the address, TLS when `cert` and
 * `key` are given, plus the background work.
 *
 * @example
 * ```ts
 * await using server = await createServer(deps, { hostname: "0.0.0.0", port: 8080 });
 * log.info("dashboard", { url: server.url });
 * ```
 */
export async function createServer(
  deps: DashboardDeps,
  opts: ServerOptions = {},
): Promise<DashboardServer> {
  if ((opts.cert === undefined) !== (opts.key === undefined)) {
    throw new HttpError(
      500,
      "TLS needs both a certificate and a key (--cert and --key)",
    );
  }
  const tls = opts.cert !== undefined;
  const dashboard = createDashboard(deps, { ...opts, tls });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const base = {
    hostname: opts.hostname ?? "0.0.0.0",
    port: opts.port ?? 8080,
    onListen: (a: Deno.NetAddr) => resolve(a),
    onError: (e: unknown) => {
      deps.log.error("http error", { error: e });
      return new Response("Internal error", { status: 500 });
    },
  };
  // Requests whose handler is still running (the stop lets them finish).
  let inFlight = 0;
  const handler: Deno.ServeHandler<Deno.NetAddr> = async (req, info) => {
    inFlight++;
    try {
      return await dashboard.handler(req, info);
    } finally {
      inFlight--;
    }
  };
  const abort = new AbortController();
  const served = { ...base, signal: abort.signal };
  const server = tls
    ? Deno.serve({ ...served, cert: opts.cert!, key: opts.key! }, handler)
    : Deno.serve(served, handler);
  const addr = await listening;
  dashboard.start();
  const host = addr.hostname === "0.0.0.0" || addr.hostname === "::"
    ? "127.0.0.1"
    : addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await dashboard.stop();
    // Not server.shutdown(): on Deno 2.9.6 it waits forever for a WebSocket
    // whose client left before its 101 answer went out (a browser leaving a
    // page while the upgrade's session check ran): that socket stays
    // CONNECTING and cannot be closed. Requests under way get up to 5 s to
    // finish; then the server ends by its abort signal, which does not wait
    // for such sockets (and cuts what is left).
    const until = Date.now() + 5_000;
    while (inFlight > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    abort.abort();
    await server.finished;
  };
  return {
    url: `${tls ? "https" : "http"}://${host}:${addr.port}`,
    port: addr.port,
    dashboard,
    close,
    [Symbol.asyncDispose]: close,
  };
}
