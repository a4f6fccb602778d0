/**
 * The dashboard's dependencies over the real parts: alerts, hosts, stats
 * history, users/sessions/tokens from the KV store; blocks and the
 * allowlist through the nftables {@link Blocker} (KV as the source of
 * truth). The policy is the appliance's (its config file).
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";
import type { Blocker } from "../respond/mod.ts";
import {
  addInboxRule,
  blockHeadKey,
  deleteSession,
  deleteToken,
  getAlert,
  getGroup,
  getHost,
  getSession,
  getToken,
  getUser,
  listAlerts,
  listAllow,
  listBlocks,
  listDecisions,
  listGroups,
  listHosts,
  listInboxRules,
  listSessions,
  listStats,
  listTokens,
  listUsers,
  putSession,
  putToken,
  putUser,
  removeInboxRule,
  setGroupState,
  type Store,
  watchAlerts,
} from "../store/mod.ts";
import type {
  AlertFilter,
  AlertPage,
  AlertSource,
  AuthStore,
  BlockView,
  HostSource,
  InboxSource,
  Responder,
  StatsHistory,
} from "./deps.ts";
import { badRequest } from "./http.ts";

/**
 * Runs a listing that was given `cursor`, turning the store's refusal of
 * a cursor that points nowhere (KV: "invalid cursor", or a key too long)
 * into a 400 naming `cursor`; other errors pass through.
 */
export async function withCursor<T>(
  cursor: string | undefined,
  list: () => Promise<T>,
): Promise<T> {
  try {
    return await list();
  } catch (e) {
    if (
      cursor !== undefined && e instanceof TypeError &&
      /cursor|key too large/i.test(e.message)
    ) {
      throw badRequest("cursor", "is not a cursor from a previous page");
    }
    throw e;
  }
}

/** Alerts from KV; live delivery through KV watch on the alert log head. */
export function kvAlerts(store: Store): AlertSource {
  return {
    list: (f) => withCursor(f.cursor, () => alertPage(f)),
    get: (id) => getAlert(store, id),
    async *follow(signal) {
      for await (const f of watchAlerts(store, { signal })) {
        yield { alert: f.alert, isNew: f.isNew };
      }
    },
  };

  async function alertPage(f: AlertFilter): Promise<AlertPage> {
    const limit = f.limit ?? 100;
    const sev = f.severities;
    const base = {
      ...(f.since === undefined ? {} : { since: f.since }),
      ...(f.until === undefined ? {} : { until: f.until }),
      ...(f.type === undefined ? {} : { type: f.type }),
      ...(f.src === undefined ? {} : { src: f.src }),
    };
    if (sev === undefined) {
      return await listAlerts(store, { ...base, limit, cursor: f.cursor });
    }
    // Severity is not indexed: read pages and keep matches until full.
    const out: Alert[] = [];
    let cursor = f.cursor;
    for (let reads = 0; reads < 50; reads++) {
      const page = await listAlerts(store, { ...base, limit: 200, cursor });
      for (const a of page.alerts) {
        if (sev.includes(a.alert.severity)) out.push(a);
      }
      if (page.cursor === null) {
        return { alerts: out.slice(0, limit), cursor: null };
      }
      cursor = page.cursor;
      if (out.length >= limit) break;
    }
    // The cursor points after the last page read; cut there (the next
    // page continues after it, so a few matches past `limit` are shown
    // on this page rather than lost).
    return { alerts: out, cursor: cursor ?? null };
  }
}

/** The alert inbox from KV (store/inbox.ts). */
export function kvInbox(store: Store): InboxSource {
  return {
    groups: (q) => withCursor(q.cursor, () => listGroups(store, q)),
    group: (id) => getGroup(store, id),
    act: (ids, action, by) => setGroupState(store, ids, action, by),
    rules: () => listInboxRules(store),
    addRule: (r) => addInboxRule(store, r),
    removeRule: (id) => removeInboxRule(store, id),
  };
}

/** Known hosts from KV. */
export function kvHosts(store: Store): HostSource {
  return {
    list: (o) => withCursor(o.cursor, () => listHosts(store, o)),
    get: (ip) => getHost(store, ip),
  };
}

/** Stats rollups from KV. */
export function kvStatsHistory(store: Store): StatsHistory {
  return {
    list: (resolution, from, to) => listStats(store, resolution, { from, to }),
  };
}

/** Users, sessions and tokens in KV. */
export function kvAuth(store: Store): AuthStore {
  return {
    getUser: (n) => getUser(store, n),
    putUser: (r) => putUser(store, r),
    listUsers: () => listUsers(store),
    putSession: (r) => putSession(store, r),
    getSession: (h) => getSession(store, h),
    deleteSession: (h) => deleteSession(store, h),
    listSessions: () => listSessions(store),
    putToken: (r) => putToken(store, r),
    getToken: (h) => getToken(store, h),
    listTokens: () => listTokens(store),
    deleteToken: (h) => deleteToken(store, h),
  };
}

/**
 * Blocks and the allowlist through the blocker (never-block check,
 * nftables), read back from KV.
 */
export function blockerResponder(store: Store, blocker: Blocker): Responder {
  return {
    listBlocks: () => listBlocks(store),
    async block(req) {
      const reason = req.alertId === undefined
        ? req.reason
        : `${req.reason} (alert ${req.alertId})`.slice(0, 300);
      const r = await blocker.block(req.target, {
        ...(req.durationS === undefined ? {} : { duration: req.durationS }),
        reason,
        by: req.by,
        source: req.source,
      });
      if (!r.ok) return { ok: false, reason: r.reason, detail: r.detail };
      const block: BlockView = { ...r.record };
      return { ok: true, block };
    },
    async unblock(target) {
      return (await blocker.unblock(target)).removed;
    },
    listAllow: () => listAllow(store),
    async allow(req) {
      const r = await blocker.allow(req.cidr, {
        note: req.note,
        by: req.by,
        ...(req.durationS === undefined ? {} : { duration: req.durationS }),
      });
      if (r.record === null) {
        throw badRequest("cidr", r.error ?? "not an address or CIDR");
      }
      return r.record;
    },
    disallow: (cidr) => blocker.disallow(cidr),
    decisions: (limit) => listDecisions(store, limit),
    state() {
      const s = blocker.state();
      const detail = s.mode === "unavailable"
        ? s.reason ?? "nftables unavailable"
        : s.mode === "dry_run"
        ? "dry run: blocks are recorded, not applied"
        : s.mode === "disabled"
        ? "alerts do not block (manual blocks still work)"
        : s.nft_version ?? "";
      const n = s.ssh_sessions;
      const ssh = n === 0 || s.mode === "disabled"
        ? ""
        : `${n} SSH ${
          n === 1 ? "session" : "sessions"
        } to this box: never blocked by an alert`;
      return {
        state: s.mode,
        detail: [detail, ssh].filter((x) => x !== "").join(" · "),
      };
    },
    async *changes(signal) {
      if (signal.aborted) return;
      const reader = store.kv.watch([blockHeadKey()]).getReader();
      const onAbort = () => void reader.cancel().catch(() => {});
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        let first = true;
        while (!signal.aborted) {
          const r = await reader.read();
          if (r.done) return;
          if (first) {
            first = false;
            continue;
          }
          yield;
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        await reader.cancel().catch(() => {});
      }
    },
  };
}
