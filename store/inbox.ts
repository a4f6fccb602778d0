/**
 * The alert inbox: alerts grouped by (type and signature, source,
 * destination), as EveBox's inbox groups Suricata alerts, with each
 * group's count, first and last seen, the newest alert's summary, and its
 * state (archived, escalated); and auto-archive rules ("archive everything
 * of signature X from source Y") that new alerts meet on arrival.
 *
 * Grouping is an index kept as alerts are written, never a scan of the
 * alerts: the {@link StoreWriter}, after each commit that carries alerts,
 * calls {@link applyAlertsToGroups}, which updates `["alert_group", id]`
 * and the group's entries in the view indexes
 * `["alert_group_view", view, pin, lastSeenMs, id]` (view `all`, `inbox`,
 * `archived`, `escalated`; pin 1 for escalated groups so they list first)
 * and, for listings by source, `["alert_group_src", view, src, pin,
 * lastSeenMs, id]`, whose values carry the group itself: a page of groups
 * is one KV range read. Every change of a group (a new alert, archive, escalate) is one
 * atomic commit checked against the group's versionstamp, so an archive
 * and an arriving alert never undo each other.
 *
 * Semantics: `count` is the number of alerts the group has had (alerts are
 * kept `storage.alert_days`; the group lives as long after its last
 * alert); a new alert in an archived group brings it back to the inbox
 * unless an auto-archive rule matches it, in which case it arrives
 * archived; escalation stays until undone.
 *
 * @module
 */
import type { Alert } from "../alerts/alert.ts";
import { isRecord } from "../common/validate.ts";
import {
  alertTimeMs,
  getAlerts,
  parseAlertLogEntry,
  parseStoredAlert,
} from "./alerts.ts";
import type { KvOp } from "./limits.ts";
import { addOps } from "./limits.ts";
import type { Store } from "./store.ts";
import {
  alertLogKey,
  alertPrefix,
  groupKey,
  groupSrcKey,
  groupViewKey,
  inboxRuleKey,
  inboxRulePrefix,
  metaKey,
} from "./keys.ts";

/** `metaKey` name of the last alert log batch folded into the groups. */
const GROUPED_THROUGH = "alert_groups_through";

/** The lists a group can be in. */
export const GROUP_VIEWS = ["inbox", "archived", "escalated", "all"] as const;

/** One list of groups: `inbox` (not archived; escalated first), `archived`, `escalated`, `all`. */
export type GroupView = typeof GROUP_VIEWS[number];

/** A group of alerts with the same type, signature, source and destination. */
export interface AlertGroup {
  /** The group's id: URL-safe, derived from what it groups by. */
  id: string;
  /** `netsentinel.type` of its alerts. */
  type: string;
  /** `alert.signature_id` of its alerts. */
  signature_id: number;
  /** The newest alert's signature text. */
  signature: string;
  /** Source address. */
  src_ip: string;
  /** Destination address, or null for alerts without one (sweeps, new hosts). */
  dest_ip: string | null;
  /** The highest severity among its alerts (1 high … 4 info). */
  severity: number;
  /** Alerts in the group. */
  count: number;
  /** Earliest alert time, ISO 8601 (packet time). */
  first_seen: string;
  /** Latest `last_seen` of its alerts, ISO 8601 (packet time). */
  last_seen: string;
  /** The newest alert: id and explanation. */
  newest: { id: string; explanation: string };
  /** Archived: out of the inbox, listed under `archived`. */
  archived: boolean;
  /** Escalated: pinned to the top. */
  escalated: boolean;
  /** Who archived it (a user, or `rule <id>` for an auto-archive rule). */
  archived_by?: string;
  /** When it was archived, ms since the epoch. */
  archived_at?: number;
  /** Who escalated it. */
  escalated_by?: string;
  /** When it was escalated, ms since the epoch. */
  escalated_at?: number;
  /** The alert log batch (`["alert_log", seq]`) last folded into it. */
  seq?: number;
}

/** An auto-archive rule: new alerts it matches arrive archived. */
export interface InboxRule {
  /** Random id. */
  id: string;
  /** Alerts of this signature id … */
  signature_id: number;
  /** … and this type. */
  type: string;
  /** From this source (null: any). */
  src_ip: string | null;
  /** To this destination (null: any). */
  dest_ip: string | null;
  /** Why (shown on the Settings page). */
  reason: string;
  /** Who made it. */
  created_by: string;
  /** When, ms since the epoch. */
  created: number;
  /** When it stops applying, ms since the epoch, or null for never. */
  expires: number | null;
}

/** Filters of {@link listGroups}. */
export interface GroupQuery {
  /** Which list (default `inbox`). */
  view?: GroupView;
  /** Only this `netsentinel.type`. */
  type?: string;
  /** Only these severities. */
  severities?: readonly number[];
  /** Only this source address (exact text). */
  src?: string;
  /** Only this destination address (exact text). */
  dst?: string;
  /** Only groups last seen at or after this, ms since the epoch. */
  since?: number;
  /** Only groups last seen before this, ms since the epoch. */
  until?: number;
  /** Page size (default 50, at most 1,000). */
  limit?: number;
  /** Continue after a previous page. */
  cursor?: string;
}

/** One page of groups: escalated first, then newest last seen first. */
export interface GroupPage {
  groups: AlertGroup[];
  /** Pass as `cursor` for the next page; null after the last. */
  cursor: string | null;
}

/** Entries of the view index one listing reads at most (a page may end short; its cursor goes on). */
export const MAX_GROUP_SCAN = 5000;

/** Groups changed in one atomic commit. */
const CHUNK = 40;

/** Group ids: base64url text, at most this long. */
const GROUP_ID_RE = /^[A-Za-z0-9_-]{4,400}$/;

/** True when `s` has the shape of a group id. */
export function isGroupId(s: string): boolean {
  return GROUP_ID_RE.test(s);
}

function b64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The id of the group an alert belongs to: its type, signature id, source and destination. */
export function groupIdOf(a: Alert): string {
  return b64url(
    `${a.netsentinel.type}|${a.alert.signature_id}|${a.src_ip}|${
      a.dest_ip ?? ""
    }`,
  );
}

/** Validates a stored group; null when malformed. */
export function parseGroup(v: unknown): AlertGroup | null {
  if (
    !isRecord(v) || typeof v.id !== "string" || typeof v.type !== "string" ||
    typeof v.signature_id !== "number" || typeof v.src_ip !== "string" ||
    typeof v.count !== "number" || typeof v.last_seen !== "string" ||
    typeof v.first_seen !== "string" || !isRecord(v.newest)
  ) {
    return null;
  }
  return v as unknown as AlertGroup;
}

/** Validates a stored rule; null when malformed. */
export function parseInboxRule(v: unknown): InboxRule | null {
  if (
    !isRecord(v) || typeof v.id !== "string" ||
    typeof v.signature_id !== "number" || typeof v.type !== "string"
  ) {
    return null;
  }
  return v as unknown as InboxRule;
}

function msOf(iso: string): number {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : 0;
}

/** The lists a group is in, given its state. */
export function viewsOf(g: AlertGroup): GroupView[] {
  const v: GroupView[] = ["all", g.archived ? "archived" : "inbox"];
  if (g.escalated) v.push("escalated");
  return v;
}

function viewKeys(g: AlertGroup): Deno.KvKey[] {
  const pin = g.escalated ? 1 : 0;
  const ms = msOf(g.last_seen);
  return viewsOf(g).flatMap((v) => [
    groupViewKey(v, pin, ms, g.id),
    groupSrcKey(v, g.src_ip, pin, ms, g.id),
  ]);
}

function sameKey(a: Deno.KvKey, b: Deno.KvKey): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The ops that store `next` (replacing `prev`): the group and its list entries. */
export function groupOps(
  prev: AlertGroup | null,
  next: AlertGroup,
  expireIn: number,
): KvOp[] {
  const ops: KvOp[] = [{ key: groupKey(next.id), value: next, expireIn }];
  const keep = viewKeys(next);
  if (prev !== null) {
    for (const k of viewKeys(prev)) {
      if (!keep.some((n) => sameKey(n, k))) ops.push({ key: k, delete: true });
    }
  }
  for (const k of keep) ops.push({ key: k, value: next, expireIn });
  return ops;
}

/** True when `rule` applies to `a` at `now` (ms). */
export function ruleMatches(rule: InboxRule, a: Alert, now: number): boolean {
  if (rule.expires !== null && rule.expires <= now) return false;
  return rule.signature_id === a.alert.signature_id &&
    rule.type === a.netsentinel.type &&
    (rule.src_ip === null || rule.src_ip === a.src_ip) &&
    (rule.dest_ip === null || rule.dest_ip === (a.dest_ip ?? null));
}

function newGroup(a: Alert): AlertGroup {
  return {
    id: groupIdOf(a),
    type: a.netsentinel.type,
    signature_id: a.alert.signature_id,
    signature: a.alert.signature,
    src_ip: a.src_ip,
    dest_ip: a.dest_ip ?? null,
    severity: a.alert.severity,
    count: 0,
    first_seen: a.timestamp,
    last_seen: a.netsentinel.last_seen,
    newest: { id: a.netsentinel.id, explanation: a.netsentinel.explanation },
    archived: false,
    escalated: false,
  };
}

/** Folds one written alert into its group (a copy); `rule` is the auto-archive rule it matches. */
export function foldAlert(
  prev: AlertGroup | null,
  a: Alert,
  isNew: boolean,
  rule: InboxRule | null,
  now: number,
): AlertGroup {
  const g: AlertGroup = prev === null ? newGroup(a) : { ...prev };
  if (isNew || prev === null) g.count++;
  g.severity = Math.min(g.severity, a.alert.severity);
  if (alertTimeMs(a) < msOf(g.first_seen)) g.first_seen = a.timestamp;
  const last = msOf(a.netsentinel.last_seen);
  if (last >= msOf(g.last_seen) || g.newest.id === a.netsentinel.id) {
    if (last > msOf(g.last_seen)) g.last_seen = a.netsentinel.last_seen;
    g.signature = a.alert.signature;
    g.newest = {
      id: a.netsentinel.id,
      explanation: a.netsentinel.explanation,
    };
  }
  // Something new happened: back to the inbox, unless a rule archives it.
  if (isNew) {
    return (rule !== null
      ? actOn(g, "archive", `rule ${rule.id}`, now)
      : actOn(g, "unarchive", "", now)) ?? g;
  }
  return g;
}

/** Reads groups by id (10 per KV read): each entry's group (or null) and versionstamp. */
async function readGroups(
  store: Store,
  ids: readonly string[],
): Promise<Map<string, { g: AlertGroup | null; vs: string | null }>> {
  const out = new Map<string, { g: AlertGroup | null; vs: string | null }>();
  for (let i = 0; i < ids.length; i += 10) {
    const part = ids.slice(i, i + 10);
    const es = await store.kv.getMany(part.map((id) => groupKey(id)));
    es.forEach((e, j) => {
      out.set(part[j]!, { g: parseGroup(e.value), vs: e.versionstamp });
    });
  }
  return out;
}

/**
 * Changes groups read-modify-write, {@link CHUNK} a commit, each commit
 * checked against the versionstamps read (retried when another writer got
 * there first). `change` gets the stored group (or null) and returns the
 * new one, or null for no change.
 */
async function updateGroups(
  store: Store,
  ids: readonly string[],
  change: (id: string, g: AlertGroup | null) => AlertGroup | null,
): Promise<AlertGroup[]> {
  const out: AlertGroup[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const part = ids.slice(i, i + CHUNK);
    for (let attempt = 0;; attempt++) {
      const cur = await readGroups(store, part);
      const atomic = store.kv.atomic();
      const ops: KvOp[] = [];
      const changed: AlertGroup[] = [];
      for (const id of part) {
        const c = cur.get(id)!;
        const next = change(id, c.g);
        if (next === null) continue;
        atomic.check({ key: groupKey(id), versionstamp: c.vs });
        ops.push(...groupOps(c.g, next, store.retention.alertMs));
        changed.push(next);
      }
      if (changed.length === 0) break;
      addOps(atomic, ops);
      if ((await atomic.commit()).ok) {
        out.push(...changed);
        break;
      }
      if (attempt >= 20) {
        throw new Error("the alert groups keep changing under this write");
      }
    }
  }
  return out;
}

/**
 * Folds the alerts of alert log batch `seq` into their groups (called by
 * the writer after each commit that carries alerts, in commit order). New
 * alerts that an auto-archive rule matches arrive archived. A group that
 * has already folded batch `seq` or a later one is left as it is, so a
 * batch folded again (after a crash between the alerts' commit and their
 * groups') counts once. Resolves to the groups as stored.
 */
export async function applyAlertsToGroups(
  store: Store,
  items: readonly { alert: Alert; isNew: boolean }[],
  seq: number,
): Promise<AlertGroup[]> {
  if (items.length === 0) return [];
  const byGroup = new Map<string, { alert: Alert; isNew: boolean }[]>();
  for (const it of items) {
    const id = groupIdOf(it.alert);
    const l = byGroup.get(id);
    if (l) l.push(it);
    else byGroup.set(id, [it]);
  }
  const now = store.now();
  const rules = await listInboxRules(store);
  return await updateGroups(store, [...byGroup.keys()], (id, g) => {
    if (g !== null && (g.seq ?? 0) >= seq) return null;
    let cur = g;
    for (const it of byGroup.get(id)!) {
      const rule = it.isNew
        ? rules.find((r) => ruleMatches(r, it.alert, now)) ?? null
        : null;
      cur = foldAlert(cur, it.alert, it.isNew, rule, now);
    }
    if (cur !== null) cur.seq = seq;
    return cur;
  });
}

/** The last alert log batch whose alerts are in their groups, or null before the first. */
export async function groupedThrough(store: Store): Promise<number | null> {
  const v = (await store.kv.get(metaKey(GROUPED_THROUGH))).value;
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Records that every batch up to `seq` is in its groups. */
export async function setGroupedThrough(
  store: Store,
  seq: number,
): Promise<void> {
  await store.kv.set(metaKey(GROUPED_THROUGH), seq);
}

/**
 * Brings the groups up to alert log batch `upTo`: folds the batches after
 * the last one recorded as grouped (those a crash or a failed group write
 * left out), reading their alerts back. A database that has never been
 * grouped (written before the inbox existed) is grouped from all its
 * stored alerts once. Resolves to the batches folded (or alerts grouped,
 * for that first time).
 */
export async function catchUpGroups(
  store: Store,
  upTo: number,
): Promise<number> {
  const done = await groupedThrough(store);
  if (done === null) {
    const n = await groupAllAlerts(store, upTo);
    await setGroupedThrough(store, upTo);
    return n;
  }
  let folded = 0;
  if (done >= upTo) return folded;
  const it = store.kv.list({
    start: alertLogKey(done + 1),
    end: alertLogKey(upTo + 1),
  });
  for await (const e of it) {
    const entry = parseAlertLogEntry(e.value);
    if (entry === null) continue;
    const fresh = new Set(entry.new);
    const alerts = await getAlerts(store, [...entry.new, ...entry.updated]);
    await applyAlertsToGroups(
      store,
      alerts.map((alert) => ({
        alert,
        isNew: fresh.has(alert.netsentinel.id),
      })),
      entry.seq,
    );
    await setGroupedThrough(store, entry.seq);
    folded++;
  }
  await setGroupedThrough(store, upTo);
  return folded;
}

/** Groups every stored alert (a database written before the inbox); groups that exist are left as they are. */
async function groupAllAlerts(store: Store, seq: number): Promise<number> {
  const groups = new Map<string, AlertGroup>();
  let n = 0;
  for await (const e of store.kv.list({ prefix: alertPrefix() })) {
    const a = parseStoredAlert(e.value);
    if (a === null) continue;
    const id = groupIdOf(a);
    groups.set(id, foldAlert(groups.get(id) ?? null, a, true, null, 0));
    n++;
  }
  await updateGroups(store, [...groups.keys()], (id, g) => {
    if (g !== null) return null;
    const next = groups.get(id)!;
    next.seq = seq;
    return next;
  });
  return n;
}

/** A change of state asked for on groups. */
export type GroupAction = "archive" | "unarchive" | "escalate" | "unescalate";

/** Every {@link GroupAction}. */
export const GROUP_ACTIONS: readonly GroupAction[] = [
  "archive",
  "unarchive",
  "escalate",
  "unescalate",
];

/** Applies `action` to one group (a copy), or null when it is already so. */
export function actOn(
  g: AlertGroup,
  action: GroupAction,
  by: string,
  now: number,
): AlertGroup | null {
  const n: AlertGroup = { ...g };
  switch (action) {
    case "archive":
      if (g.archived) return null;
      n.archived = true;
      n.archived_by = by;
      n.archived_at = now;
      return n;
    case "unarchive":
      if (!g.archived) return null;
      n.archived = false;
      delete n.archived_by;
      delete n.archived_at;
      return n;
    case "escalate":
      if (g.escalated) return null;
      n.escalated = true;
      n.escalated_by = by;
      n.escalated_at = now;
      return n;
    case "unescalate":
      if (!g.escalated) return null;
      n.escalated = false;
      delete n.escalated_by;
      delete n.escalated_at;
      return n;
    default: {
      const never: never = action;
      throw new TypeError(`Unknown group action ${String(never)}`);
    }
  }
}

/**
 * Archives, unarchives, escalates or unescalates groups by id. Resolves to
 * the groups changed and the ids not found; groups already in that state
 * are neither.
 */
export async function setGroupState(
  store: Store,
  ids: readonly string[],
  action: GroupAction,
  by: string,
): Promise<{ changed: AlertGroup[]; missing: string[] }> {
  const missing: string[] = [];
  const unique = [...new Set(ids)];
  const now = store.now();
  const changed = await updateGroups(store, unique, (id, g) => {
    if (g === null) {
      if (!missing.includes(id)) missing.push(id);
      return null;
    }
    return actOn(g, action, by, now);
  });
  return { changed, missing };
}

/** Reads one group, or null. */
export async function getGroup(
  store: Store,
  id: string,
): Promise<AlertGroup | null> {
  return parseGroup((await store.kv.get(groupKey(id))).value);
}

function matchGroup(g: AlertGroup, q: GroupQuery): boolean {
  if (q.type !== undefined && g.type !== q.type) return false;
  if (q.src !== undefined && g.src_ip !== q.src) return false;
  if (q.dst !== undefined && g.dest_ip !== q.dst) return false;
  if (q.severities !== undefined && !q.severities.includes(g.severity)) {
    return false;
  }
  return true;
}

/**
 * Lists groups of one view: escalated ones first, then by last seen, newest
 * first; filters by type, severity, source, destination and a last-seen
 * time range. Reads the view index only (its entries carry the groups), at
 * most {@link MAX_GROUP_SCAN} entries a call.
 *
 * @example
 * ```ts
 * const page = await listGroups(store, { view: "inbox", src: "10.0.0.66" });
 * ```
 */
export async function listGroups(
  store: Store,
  q: GroupQuery = {},
): Promise<GroupPage> {
  const view = q.view ?? "inbox";
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 50)));
  let pin = 1;
  let kvCursor: string | undefined;
  if (q.cursor !== undefined) {
    const m = /^([01])(.*)$/.exec(q.cursor);
    if (m === null) throw new TypeError("invalid cursor");
    pin = Number(m[1]);
    kvCursor = m[2] === "" ? undefined : m[2];
  }
  const base: Deno.KvKey = q.src === undefined
    ? ["alert_group_view", view]
    : ["alert_group_src", view, q.src];
  const out: AlertGroup[] = [];
  let scanned = 0;
  for (; pin >= 0; pin--, kvCursor = undefined) {
    const iter = store.kv.list({
      start: [...base, pin, q.since ?? 0, ""],
      end: [...base, pin, q.until ?? Number.MAX_SAFE_INTEGER],
    }, {
      reverse: true,
      cursor: kvCursor,
      batchSize: Math.min(500, limit + 1),
    });
    for await (const e of iter) {
      scanned++;
      const g = parseGroup(e.value);
      if (g !== null && matchGroup(g, q)) {
        out.push(g);
        if (out.length === limit) {
          const at = iter.cursor;
          if (!(await iter.next()).done) {
            return { groups: out, cursor: `${pin}${at}` };
          }
          return { groups: out, cursor: pin === 0 ? null : `${pin - 1}` };
        }
      }
      if (scanned >= MAX_GROUP_SCAN) {
        return { groups: out, cursor: `${pin}${iter.cursor}` };
      }
    }
  }
  return { groups: out, cursor: null };
}

/** Auto-archive rules in force at `store.now()` (expired ones are left out). */
export async function listInboxRules(store: Store): Promise<InboxRule[]> {
  const now = store.now();
  const out: InboxRule[] = [];
  for await (const e of store.kv.list({ prefix: inboxRulePrefix() })) {
    const r = parseInboxRule(e.value);
    if (r !== null && (r.expires === null || r.expires > now)) out.push(r);
  }
  return out.sort((a, b) => a.created - b.created);
}

/** Most auto-archive rules kept. */
export const MAX_INBOX_RULES = 1000;

/**
 * Stores an auto-archive rule (KV deletes it after its expiry) and
 * archives the groups in the inbox it matches (at most
 * {@link MAX_GROUP_SCAN} looked at). Resolves to the rule and how many
 * groups it archived.
 */
export async function addInboxRule(
  store: Store,
  rule: Omit<InboxRule, "id" | "created">,
): Promise<{ rule: InboxRule; archived: number }> {
  if ((await listInboxRules(store)).length >= MAX_INBOX_RULES) {
    throw new RangeError(
      `Cannot add an auto-archive rule: there are ${MAX_INBOX_RULES} already (remove some on the Settings page)`,
    );
  }
  const now = store.now();
  const r: InboxRule = { ...rule, id: crypto.randomUUID(), created: now };
  await store.kv.set(
    inboxRuleKey(r.id),
    r,
    r.expires === null ? undefined : { expireIn: Math.max(1, r.expires - now) },
  );
  const ids: string[] = [];
  let cursor: string | undefined;
  let seen = 0;
  do {
    const page = await listGroups(store, {
      view: "inbox",
      type: r.type,
      ...(r.src_ip === null ? {} : { src: r.src_ip }),
      ...(r.dest_ip === null ? {} : { dst: r.dest_ip }),
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const g of page.groups) {
      if (g.signature_id === r.signature_id) ids.push(g.id);
    }
    seen += MAX_GROUP_SCAN;
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined && seen < MAX_GROUP_SCAN * 4);
  const res = await setGroupState(store, ids, "archive", `rule ${r.id}`);
  return { rule: r, archived: res.changed.length };
}

/** Removes an auto-archive rule; false when there was none with that id. */
export async function removeInboxRule(
  store: Store,
  id: string,
): Promise<boolean> {
  const key = inboxRuleKey(id);
  const e = await store.kv.get(key);
  if (e.versionstamp === null) return false;
  await store.kv.delete(key);
  return true;
}
