/**
 * The dashboard server: pages (server-rendered Preact from `routes/`,
 * islands hydrated from one bundle), the JSON API under `/api/`,
 * `/ws/live`, `/metrics`, `/health`, sign-in with sessions and API tokens.
 * `run` builds a {@link DashboardDeps} (mostly with the `kv*` adapters and
 * a {@link LiveStats} added to the pipeline) and calls {@link createServer}.
 *
 * @example
 * ```ts
 * const stats = new LiveStats({ totals: () => pipeline.counters, enricher,
 *   rollup: (b, r) => writer.queueStats("1m", b, r) });
 * pipeline.addObserver(stats);
 * const auth = kvAuth(store);
 * const first = await ensureAdmin(auth, Deno.env.get("NETSENTINEL_PASSWORD"));
 * await ensureBundle({ log });
 * const server = await createServer({ alerts: kvAlerts(store), ... }, { port: 8080 });
 * ```
 *
 * @module
 */
export {
  createDashboard,
  createServer,
  type Dashboard,
  type DashboardOptions,
  type DashboardServer,
  PUBLIC_PATHS,
  type ServerOptions,
} from "./app.ts";
export type * from "./deps.ts";
export {
  ADMIN_USER,
  ensureAdmin,
  type EnsureAdminResult,
  generatePassword,
  hashPassword,
  type Principal,
  Sessions,
  setAdminPassword,
  verifyPassword,
  WeakPasswordError,
} from "./auth.ts";
export { BundleError, type BundleInfo, ensureBundle } from "./bundle.ts";
export {
  blockerResponder,
  kvAlerts,
  kvAuth,
  kvHosts,
  kvInbox,
  kvStatsHistory,
} from "./kv_sources.ts";
export { LiveHub, type LiveHubOptions } from "./live_hub.ts";
export type * from "./live_messages.ts";
export {
  LiveStats,
  type LiveStatsOptions,
  type TrafficTotals,
} from "./stats.ts";
export {
  applianceMetrics,
  type ApplianceMetricSources,
  renderMetrics,
} from "./metrics.ts";
