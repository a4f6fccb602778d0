/**
 * The inbox's JSON API: alert groups (list with filters and a cursor;
 * archive, unarchive, escalate, unescalate, one or many), auto-archive
 * rules, and mutes, which are the policy's `suppressions` (one mechanism:
 * the aggregator drops what a suppression matches until it expires) made
 * from an alert or a group with a scope (source, destination or the pair),
 * an expiry and a reason. Every parameter is validated: a 400 names it.
 *
 * @module
 */
import { ALERT_TYPES } from "../alerts/alert.ts";
import { ConfigError } from "../common/errors.ts";
import { isRecord } from "../common/validate.ts";
import { parseAddr, parseCidr } from "../decode/mod.ts";
import {
  GROUP_ACTIONS,
  GROUP_VIEWS,
  type GroupAction,
  type GroupQuery,
  type GroupView,
  isGroupId,
} from "../store/mod.ts";
import { alertFilterFromQuery } from "./api.ts";
import {
  type Handler,
  parseTimeParam,
  principalName,
  queryParam,
  type RequestContext,
} from "./context.ts";
import {
  badRequest,
  fromConfigError,
  HttpError,
  json,
  optString,
  readJsonObject,
} from "./http.ts";
import type { Router } from "./router.ts";

/** Most groups one action names. */
export const MAX_BULK = 1000;

/** Mute and rule durations offered by the dashboard, seconds (null: forever). */
export const MUTE_DURATIONS: Readonly<Record<string, number | null>> = {
  "1h": 3600,
  "1d": 86_400,
  "1w": 604_800,
  forever: null,
};

/** The group filters of a query string (shared by the Alerts page). */
export function groupQueryFromUrl(url: URL, now: number): GroupQuery {
  const f = alertFilterFromQuery(url, now);
  const q: GroupQuery = {};
  const view = queryParam(url, "view") ?? "inbox";
  if (!(GROUP_VIEWS as readonly string[]).includes(view)) {
    throw badRequest(
      "view",
      `"${view.slice(0, 40)}" is not a view (${GROUP_VIEWS.join(", ")})`,
    );
  }
  q.view = view as GroupView;
  if (f.type !== undefined) q.type = f.type;
  if (f.severities !== undefined) q.severities = f.severities;
  if (f.src !== undefined) q.src = f.src;
  const dst = queryParam(url, "dst");
  if (dst !== undefined) {
    if (parseAddr(dst.trim()) === null) {
      throw badRequest("dst", `"${dst.slice(0, 60)}" is not an IP address`);
    }
    q.dst = dst.trim();
  }
  if (f.since !== undefined) q.since = f.since;
  if (f.until !== undefined) q.until = f.until;
  if (f.limit !== undefined) q.limit = f.limit;
  if (f.cursor !== undefined) q.cursor = f.cursor;
  return q;
}

function groupIdParam(v: unknown, field: string): string {
  if (typeof v !== "string" || !isGroupId(v)) {
    throw badRequest(field, "is not a group id");
  }
  return v;
}

async function listGroupsRoute(ctx: RequestContext): Promise<Response> {
  const q = groupQueryFromUrl(ctx.url, ctx.now);
  return json(await ctx.deps.inbox.groups(q));
}

async function getGroupRoute(ctx: RequestContext): Promise<Response> {
  const g = await ctx.deps.inbox.group(groupIdParam(ctx.params.id, "id"));
  if (g === null) throw new HttpError(404, "No such alert group");
  return json(g);
}

async function actRoute(ctx: RequestContext): Promise<Response> {
  const action = ctx.params.action ?? "";
  if (!(GROUP_ACTIONS as readonly string[]).includes(action)) {
    throw new HttpError(404, "Not found");
  }
  const o = await readJsonObject(ctx.req);
  const ids = o.groups;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BULK) {
    throw badRequest(
      "groups",
      `required: a list of 1 to ${MAX_BULK} group ids`,
    );
  }
  const checked = ids.map((v, i) => groupIdParam(v, `groups[${i}]`));
  const r = await ctx.deps.inbox.act(
    checked,
    action as GroupAction,
    principalName(ctx),
  );
  return json({ changed: r.changed.map((g) => g.id), missing: r.missing });
}

/** An expiry from `duration` (1h, 1d, 1w, forever) or `until` (a future time); ms or null (never). */
function expiryOf(o: Record<string, unknown>, now: number): number | null {
  if (o.duration !== undefined && o.until !== undefined) {
    throw badRequest("until", "give duration or until, not both");
  }
  if (o.until !== undefined) {
    if (typeof o.until !== "string" && typeof o.until !== "number") {
      throw badRequest("until", "must be a time (ISO 8601 or ms)");
    }
    const t = parseTimeParam(String(o.until), "until", now);
    if (t <= now) throw badRequest("until", "must be in the future");
    return t;
  }
  if (o.duration === undefined) return null;
  const d = o.duration;
  if (typeof d !== "string" || !(d in MUTE_DURATIONS)) {
    throw badRequest(
      "duration",
      `must be one of ${Object.keys(MUTE_DURATIONS).join(", ")}`,
    );
  }
  const s = MUTE_DURATIONS[d]!;
  return s === null ? null : now + s * 1000;
}

const SCOPES = ["src", "dst", "pair"] as const;
type Scope = typeof SCOPES[number];

function scopeOf(o: Record<string, unknown>, fallback: Scope): Scope {
  if (o.scope === undefined) return fallback;
  if (typeof o.scope !== "string" || !SCOPES.includes(o.scope as Scope)) {
    throw badRequest("scope", `must be one of ${SCOPES.join(", ")}`);
  }
  return o.scope as Scope;
}

/** What a mute or a rule is about: signature, type and addresses. */
interface Subject {
  signature_id: number;
  type?: string;
  src: string;
  dest: string | null;
  /** Where it came from, for the default note. */
  from: string;
}

async function subjectOf(
  ctx: RequestContext,
  o: Record<string, unknown>,
): Promise<Subject> {
  if (o.group_id !== undefined) {
    const g = await ctx.deps.inbox.group(groupIdParam(o.group_id, "group_id"));
    if (g === null) throw badRequest("group_id", "no such alert group");
    return {
      signature_id: g.signature_id,
      type: g.type,
      src: g.src_ip,
      dest: g.dest_ip,
      from: `group of ${g.signature}`,
    };
  }
  if (o.alert_id !== undefined) {
    const id = String(o.alert_id);
    if (!/^[0-9A-Za-z]{1,40}$/.test(id)) {
      throw badRequest("alert_id", "is not an alert id");
    }
    const a = await ctx.deps.alerts.get(id);
    if (a === null) throw badRequest("alert_id", "no such alert");
    return {
      signature_id: a.alert.signature_id,
      src: a.src_ip,
      dest: a.dest_ip ?? null,
      from: `alert ${a.netsentinel.id}`,
    };
  }
  const s = o.signature_id;
  if (typeof s !== "number" || !Number.isInteger(s) || s < 1 || s > 2 ** 31) {
    throw badRequest(
      "signature_id",
      "required (a positive integer) when alert_id and group_id are absent",
    );
  }
  const subject: Subject = { signature_id: s, src: "", dest: null, from: "" };
  if (o.type !== undefined) {
    if (
      typeof o.type !== "string" ||
      !(ALERT_TYPES as readonly string[]).includes(o.type)
    ) {
      throw badRequest("type", "is not an alert type");
    }
    subject.type = o.type;
  }
  const addr = (field: string): string => {
    const v = o[field];
    if (typeof v !== "string" || parseCidr(v.trim()) === null) {
      throw badRequest(field, "required: an IP address or CIDR prefix");
    }
    return v.trim();
  };
  const scope = scopeOf(o, "src");
  if (scope !== "dst") subject.src = addr("ip");
  if (scope === "dst") subject.dest = addr("ip");
  if (scope === "pair") subject.dest = addr("dest_ip");
  return subject;
}

/** A stable id of a suppression entry of the policy document (its content). */
export async function suppressionId(entry: unknown): Promise<string> {
  const text = JSON.stringify(entry);
  const d = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(d).slice(0, 8)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function policyBase(
  ctx: RequestContext,
): Promise<{ base: Record<string, unknown>; list: unknown[] }> {
  const doc = await ctx.deps.policy.document();
  const base = isRecord(doc) ? doc : {};
  const list = Array.isArray(base.suppressions) ? base.suppressions : [];
  return { base, list };
}

async function replaceSuppressions(
  ctx: RequestContext,
  base: Record<string, unknown>,
  list: unknown[],
): Promise<void> {
  try {
    await ctx.deps.policy.replace({ ...base, suppressions: list });
  } catch (e) {
    if (e instanceof ConfigError) throw fromConfigError(e);
    throw e;
  }
}

function sameTarget(x: unknown, e: Record<string, unknown>): boolean {
  if (!isRecord(x)) return false;
  return x.signature_id === e.signature_id && x.type === e.type &&
    x.ip === e.ip && (x.track ?? "by_either") === e.track &&
    x.dest_ip === e.dest_ip;
}

/**
 * `POST /api/suppressions`: mutes a signature for a source, a destination
 * or the pair, from an alert, a group or by hand, with an optional expiry
 * (`duration` or `until`) and reason. The same target muted again gets
 * the new expiry and reason (`existed: true`).
 */
async function addSuppression(ctx: RequestContext): Promise<Response> {
  const o = await readJsonObject(ctx.req);
  const reason = o.reason !== undefined
    ? optString(o, "reason", 200)
    : optString(o, "note", 200);
  const expires = expiryOf(o, ctx.now);
  const sub = await subjectOf(ctx, o);
  const scope = scopeOf(o, "src");
  const entry: Record<string, unknown> = {
    signature_id: sub.signature_id,
    ...(sub.type === undefined ? {} : { type: sub.type }),
  };
  if (scope === "dst") {
    if (sub.dest === null) {
      throw badRequest("scope", "this alert has no destination");
    }
    entry.ip = sub.dest;
    entry.track = "by_dst";
  } else if (scope === "pair") {
    if (sub.dest === null) {
      throw badRequest("scope", "this alert has no destination");
    }
    entry.ip = sub.src;
    entry.dest_ip = sub.dest;
    entry.track = "by_pair";
  } else {
    entry.ip = sub.src;
    entry.track = "by_src";
  }
  const { base, list } = await policyBase(ctx);
  const i = list.findIndex((x) => sameTarget(x, entry));
  const mute = o.duration !== undefined || o.until !== undefined ||
    o.reason !== undefined;
  entry.note = reason ||
    (sub.from ? `Muted from ${sub.from}` : `by ${principalName(ctx)}`);
  if (expires !== null) entry.expires = new Date(expires).toISOString();
  entry.created = new Date(ctx.now).toISOString();
  entry.created_by = principalName(ctx);
  if (i >= 0) {
    if (!mute) {
      return json({
        suppression: {
          ...(list[i] as object),
          id: await suppressionId(list[i]),
        },
        existed: true,
      });
    }
    const next = [...list];
    next[i] = entry;
    await replaceSuppressions(ctx, base, next);
    return json({
      suppression: { ...entry, id: await suppressionId(entry) },
      existed: true,
    });
  }
  await replaceSuppressions(ctx, base, [...list, entry]);
  return json({
    suppression: { ...entry, id: await suppressionId(entry) },
    existed: false,
  }, 201);
}

/** A suppression of the policy as the API and the Settings page list it. */
export interface MuteView {
  id: string;
  signature_id: number | null;
  type: string | null;
  ip: string;
  dest_ip: string | null;
  track: string;
  /** ISO 8601, or null: never. */
  expires: string | null;
  /** True while it applies (not expired). */
  active: boolean;
  /** Seconds left, or null: never ends. */
  remaining_s: number | null;
  note: string;
  created: string | null;
  created_by: string | null;
}

/** The policy's suppressions as {@link MuteView}s at `now` (ms). */
export async function muteViews(
  doc: unknown,
  now: number,
): Promise<MuteView[]> {
  const list = isRecord(doc) && Array.isArray(doc.suppressions)
    ? doc.suppressions
    : [];
  const out: MuteView[] = [];
  for (const x of list) {
    if (!isRecord(x)) continue;
    const exp = typeof x.expires === "string" ? Date.parse(x.expires) : NaN;
    const str = (v: unknown) => typeof v === "string" ? v : null;
    out.push({
      id: await suppressionId(x),
      signature_id: typeof x.signature_id === "number" ? x.signature_id : null,
      type: str(x.type),
      ip: str(x.ip) ?? "",
      dest_ip: str(x.dest_ip),
      track: str(x.track) ?? "by_either",
      expires: Number.isFinite(exp) ? new Date(exp).toISOString() : null,
      active: !Number.isFinite(exp) || exp > now,
      remaining_s: Number.isFinite(exp)
        ? Math.max(0, Math.round((exp - now) / 1000))
        : null,
      note: str(x.note) ?? "",
      created: str(x.created),
      created_by: str(x.created_by),
    });
  }
  return out;
}

async function listSuppressions(ctx: RequestContext): Promise<Response> {
  return json({
    suppressions: await muteViews(await ctx.deps.policy.document(), ctx.now),
  });
}

async function removeSuppression(ctx: RequestContext): Promise<Response> {
  const id = ctx.params.id ?? "";
  if (!/^[0-9a-f]{16}$/.test(id)) throw badRequest("id", "is not a mute id");
  const { base, list } = await policyBase(ctx);
  const keep: unknown[] = [];
  for (const x of list) {
    if ((await suppressionId(x)) !== id) keep.push(x);
  }
  if (keep.length === list.length) {
    throw new HttpError(404, "No such suppression");
  }
  await replaceSuppressions(ctx, base, keep);
  return json({ removed: id });
}

async function listRules(ctx: RequestContext): Promise<Response> {
  return json({ rules: await ctx.deps.inbox.rules() });
}

async function addRule(ctx: RequestContext): Promise<Response> {
  const o = await readJsonObject(ctx.req);
  const reason = optString(o, "reason", 200);
  const expires = expiryOf(o, ctx.now);
  const sub = await subjectOf(ctx, o);
  if (sub.type === undefined) {
    throw badRequest("type", "required with signature_id (an alert type)");
  }
  const scope = o.group_id === undefined
    ? (o.scope === undefined ? "src" : scopeOf(o, "src"))
    : scopeOf(o, "pair");
  if ((scope === "dst" || scope === "pair") && sub.dest === null) {
    throw badRequest("scope", "this group has no destination");
  }
  try {
    const r = await ctx.deps.inbox.addRule({
      signature_id: sub.signature_id,
      type: sub.type,
      src_ip: scope === "dst" ? null : sub.src,
      dest_ip: scope === "src" ? null : sub.dest,
      reason: reason || (sub.from ? `Archived from ${sub.from}` : ""),
      created_by: principalName(ctx),
      expires,
    });
    return json(r, 201);
  } catch (e) {
    if (e instanceof RangeError) throw new HttpError(409, e.message);
    throw e;
  }
}

async function removeRule(ctx: RequestContext): Promise<Response> {
  const id = ctx.params.id ?? "";
  if (!/^[0-9a-f-]{36}$/.test(id)) throw badRequest("id", "is not a rule id");
  if (!(await ctx.deps.inbox.removeRule(id))) {
    throw new HttpError(404, "No such rule");
  }
  return json({ removed: id });
}

/** Adds the inbox routes (groups, rules, suppressions) to `router`. */
export function addInboxRoutes(router: Router<Handler>): void {
  router
    .add("GET", "/api/inbox", listGroupsRoute)
    .add("GET", "/api/inbox/rules", listRules)
    .add("POST", "/api/inbox/rules", addRule)
    .add("DELETE", "/api/inbox/rules/:id", removeRule)
    .add("GET", "/api/inbox/groups/:id", getGroupRoute)
    .add("POST", "/api/inbox/:action", actRoute)
    .add("GET", "/api/suppressions", listSuppressions)
    .add("POST", "/api/suppressions", addSuppression)
    .add("DELETE", "/api/suppressions/:id", removeSuppression);
}
