/**
 * The JSON API under `/api/`: alerts (filters, cursor pagination, CSV
 * export), blocks, the allowlist, the policy, stats, hosts, anomaly
 * scoring, replay and API tokens (the inbox and suppressions: inbox_api.ts). Every handler validates
 * its input and answers 400 naming the bad field.
 *
 * @module
 */
import { type Alert, ALERT_TYPES } from "../alerts/alert.ts";
import { parseDuration } from "../cli/command.ts";
import { parseAddr, parseCidr } from "../decode/mod.ts";
import {
  type Handler,
  principalName,
  queryCursor,
  queryInt,
  queryParam,
  queryTime,
  type RequestContext,
} from "./context.ts";
import { ALERT_CSV_COLUMNS, alertCsvValues, csvRow } from "../alerts/mod.ts";
import {
  DeviceEditError,
  type DeviceView,
  parseDeviceEdit,
  parseMac,
} from "../devices/mod.ts";
import type { DeviceTraffic } from "../store/mod.ts";
import { withCursor } from "./kv_sources.ts";
import type {
  AlertFilter,
  AlertPage,
  BlockView,
  HostView,
  ReplaySource,
  StatsBucket,
  TokenRecord,
  TokenView,
} from "./deps.ts";
import {
  badRequest,
  fromConfigError,
  HttpError,
  json,
  optString,
  readBody,
  readJson,
  readJsonObject,
  reqString,
} from "./http.ts";
import type { StatsSnapshot } from "./live_messages.ts";
import type { Router } from "./router.ts";

/** Largest pcap accepted for replay by upload (bytes). */
export const MAX_UPLOAD_BYTES = 64_000_000;

/** Most rows of one CSV export. */
export const MAX_CSV_ROWS = 100_000;

/** Reads the alert filters of a query string (shared by the Alerts page). */
export function alertFilterFromQuery(url: URL, now: number): AlertFilter {
  const f: AlertFilter = {};
  const type = queryParam(url, "type");
  if (type !== undefined) {
    if (!(ALERT_TYPES as readonly string[]).includes(type)) {
      throw badRequest(
        "type",
        `"${type.slice(0, 40)}" is not an alert type (${
          ALERT_TYPES.join(", ")
        })`,
      );
    }
    f.type = type;
  }
  const sev = queryParam(url, "severity");
  if (sev !== undefined) {
    const list = sev.split(",").map((s) => s.trim()).filter((s) => s !== "");
    const nums = list.map(Number);
    if (
      list.length === 0 ||
      nums.some((n) => !Number.isInteger(n) || n < 1 || n > 4)
    ) {
      throw badRequest("severity", "must be 1 to 4, or a list such as 1,2");
    }
    f.severities = nums;
  }
  const src = queryParam(url, "src");
  if (src !== undefined) {
    if (parseAddr(src.trim()) === null) {
      throw badRequest("src", `"${src.slice(0, 60)}" is not an IP address`);
    }
    f.src = src.trim();
  }
  const since = queryTime(url, "since", now);
  const until = queryTime(url, "until", now);
  if (since !== undefined) f.since = since;
  if (until !== undefined) f.until = until;
  if (since !== undefined && until !== undefined && until <= since) {
    throw badRequest("until", "must be after since");
  }
  const limit = queryInt(url, "limit", { min: 1, max: 1000 });
  if (limit !== undefined) f.limit = limit;
  const cursor = queryCursor(url);
  if (cursor !== undefined) f.cursor = cursor;
  return f;
}

async function listAlerts(ctx: RequestContext): Promise<Response> {
  const f = alertFilterFromQuery(ctx.url, ctx.now);
  const format = queryParam(ctx.url, "format") ?? "json";
  if (format !== "json" && format !== "csv") {
    throw badRequest(
      "format",
      `must be "json" or "csv", got "${format.slice(0, 20)}"`,
    );
  }
  if (format === "csv") return await csvExport(ctx, f);
  const page = await ctx.deps.alerts.list({ ...f, limit: f.limit ?? 100 });
  return json({ alerts: page.alerts, cursor: page.cursor });
}

async function csvExport(
  ctx: RequestContext,
  f: AlertFilter,
): Promise<Response> {
  const deps = ctx.deps;
  const enc = new TextEncoder();
  let cursor = f.cursor;
  let rows = 0;
  let started = false;
  const read = () =>
    deps.alerts.list({
      ...f,
      cursor,
      limit: Math.min(500, MAX_CSV_ROWS - rows),
    });
  // The first page is read before answering: a bad cursor is a 400, not
  // a file with only the header line.
  let first: AlertPage | null = await read();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(enc.encode(csvRow(ALERT_CSV_COLUMNS) + "\r\n"));
        return;
      }
      try {
        const page = first ?? await read();
        first = null;
        const text = page.alerts.map((a) => csvRow(alertCsvValues(a)) + "\r\n")
          .join("");
        rows += page.alerts.length;
        if (text !== "") controller.enqueue(enc.encode(text));
        cursor = page.cursor ?? undefined;
        if (page.cursor === null || rows >= MAX_CSV_ROWS) controller.close();
      } catch (e) {
        deps.log.error("csv export failed", { error: e });
        controller.error(e);
      }
    },
  });
  const stamp = new Date(ctx.now).toISOString().slice(0, 19).replaceAll(
    ":",
    "",
  );
  return new Response(stream, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition":
        `attachment; filename="netsentinel-alerts-${stamp}.csv"`,
      "cache-control": "no-store",
    },
  });
}

async function recentAlerts(ctx: RequestContext): Promise<Response> {
  const limit = queryInt(ctx.url, "limit", { min: 1, max: 200 }) ?? 20;
  const since = queryTime(ctx.url, "since", ctx.now);
  const page = await ctx.deps.alerts.list({
    limit,
    ...(since === undefined ? {} : { since }),
  });
  return json({ alerts: page.alerts });
}

function checkAlertId(id: string, field = "id"): string {
  if (!/^[0-9A-Za-z]{1,40}$/.test(id)) {
    throw badRequest(field, "is not an alert id");
  }
  return id;
}

async function getAlert(ctx: RequestContext): Promise<Response> {
  const a = await ctx.deps.alerts.get(checkAlertId(ctx.params.id ?? ""));
  if (a === null) throw new HttpError(404, "No such alert");
  return json(a);
}

/**
 * The alert's pcap (pcaps/) as a download: `application/vnd.tcpdump.pcap`,
 * an attachment named for the alert; 404 when there is none (removed for
 * the cap, a link-layer alert, or no packets left in the ring).
 */
async function getAlertPcap(ctx: RequestContext): Promise<Response> {
  const id = checkAlertId(ctx.params.id ?? "");
  const path = ctx.deps.pcaps?.path(id) ?? null;
  if (path === null) throw new HttpError(404, "No pcap for this alert");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    // Removed for the cap between the look-up and the open.
    if (e instanceof Deno.errors.NotFound) {
      throw new HttpError(404, "No pcap for this alert");
    }
    throw e;
  }
  const size = (await file.stat()).size;
  return new Response(file.readable, {
    headers: {
      "content-type": "application/vnd.tcpdump.pcap",
      "content-length": String(size),
      "content-disposition": `attachment; filename="netsentinel-${id}.pcap"`,
      "cache-control": "no-store",
    },
  });
}

/** Parses a duration field of a JSON body: seconds or text ("1h"). */
function durationField(
  o: Record<string, unknown>,
  field: string,
): number | undefined {
  const v = o[field];
  if (v === undefined || v === null || v === "") return undefined;
  const s = typeof v === "number"
    ? v
    : typeof v === "string"
    ? parseDuration(v)
    : null;
  if (s === null || !Number.isFinite(s) || s <= 0 || s > 366 * 86400) {
    throw badRequest(
      field,
      "must be a duration up to a year: seconds or text such as 90s, 4h, 7d",
    );
  }
  return s;
}

function checkTarget(text: string, field: string): string {
  if (parseCidr(text) === null) {
    throw badRequest(
      field,
      `"${text.slice(0, 60)}" is not an IP address or CIDR prefix`,
    );
  }
  return text;
}

async function listBlocks(ctx: RequestContext): Promise<Response> {
  return json({
    blocks: await ctx.deps.responder.listBlocks(),
    state: ctx.deps.responder.state(),
  });
}

async function addBlock(ctx: RequestContext): Promise<Response> {
  const o = await readJsonObject(ctx.req);
  const target = checkTarget(reqString(o, "target", 64), "target");
  const durationS = durationField(o, "duration");
  const reason = optString(o, "reason", 200) || "blocked by hand";
  const alertId = optString(o, "alert_id", 40);
  const res = await ctx.deps.responder.block({
    target,
    ...(durationS === undefined ? {} : { durationS }),
    reason,
    by: principalName(ctx),
    source: ctx.principal?.kind === "token" ? "api" : "dashboard",
    ...(alertId === "" ? {} : { alertId: checkAlertId(alertId, "alert_id") }),
  });
  if (!res.ok) {
    return json(
      {
        error: `Refused to block: ${res.detail}`,
        reason: res.reason,
        field: "target",
      },
      409,
    );
  }
  return json({ block: res.block }, 201);
}

async function removeBlock(ctx: RequestContext): Promise<Response> {
  const target = checkTarget(ctx.params.target ?? "", "target");
  const existed = await ctx.deps.responder.unblock(target);
  if (!existed) throw new HttpError(404, `No block of "${target}"`);
  return json({ unblocked: target });
}

async function listAllow(ctx: RequestContext): Promise<Response> {
  return json({ allowlist: await ctx.deps.responder.listAllow() });
}

async function addAllow(ctx: RequestContext): Promise<Response> {
  const o = await readJsonObject(ctx.req);
  const cidr = checkTarget(reqString(o, "cidr", 64), "cidr");
  const note = optString(o, "note", 200);
  const durationS = durationField(o, "duration");
  try {
    const entry = await ctx.deps.responder.allow({
      cidr,
      note,
      by: principalName(ctx),
      ...(durationS === undefined ? {} : { durationS }),
    });
    return json({ entry }, 201);
  } catch (e) {
    throw fromConfigError(e);
  }
}

async function removeAllow(ctx: RequestContext): Promise<Response> {
  const cidr = checkTarget(ctx.params.cidr ?? "", "cidr");
  if (!(await ctx.deps.responder.disallow(cidr))) {
    throw new HttpError(404, `No allowlist entry "${cidr}"`);
  }
  return json({ removed: cidr });
}

/**
 * The entity tag of a policy document (RFC 9110 8.8.3): a hash of its
 * JSON, quoted. `PUT /api/config` with `If-Match` refuses to replace a
 * policy that changed since the tag was read.
 */
export async function policyTag(doc: unknown): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(doc)),
  );
  const hex = [...new Uint8Array(digest, 0, 16)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return `"${hex}"`;
}

async function getConfig(ctx: RequestContext): Promise<Response> {
  const doc = await ctx.deps.policy.document();
  return json(doc, 200, { etag: await policyTag(doc) });
}

async function putConfig(ctx: RequestContext): Promise<Response> {
  const doc = await readJson(ctx.req, 60 * 1024);
  // A save from an editor loaded before a mute, an allowlist change or
  // another editor's save would silently undo them: with If-Match it is
  // refused instead (412), and nothing changes.
  const ifMatch = ctx.req.headers.get("if-match");
  if (ifMatch !== null && ifMatch.trim() !== "*") {
    const current = await policyTag(await ctx.deps.policy.document());
    const tags = ifMatch.split(",").map((t) => t.trim().replace(/^W\//, ""));
    if (!tags.includes(current)) {
      throw new HttpError(
        412,
        "Cannot save the policy: it changed since it was loaded (a mute, an allowlist entry or another save); load the policy in force (Revert) and make the change again",
        "if-match",
      );
    }
  }
  try {
    await ctx.deps.policy.replace(doc);
  } catch (e) {
    throw fromConfigError(e);
  }
  ctx.deps.log.info("policy replaced", { by: principalName(ctx) });
  const now = await ctx.deps.policy.document();
  return json(now, 200, { etag: await policyTag(now) });
}

/** Stats resolutions and their bucket sizes in ms. */
export const RESOLUTIONS: Readonly<Record<string, number>> = {
  "1s": 1000,
  "1m": 60_000,
  "5m": 300_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};

/** One point of a stats series. */
export interface StatsPoint {
  t: number;
  packets: number;
  bytes: number;
  bytes_in: number;
  bytes_out: number;
  drops: number;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** Sums 1-minute rollups into buckets of `stepMs`. */
export function rollupSeries(
  buckets: readonly StatsBucket[],
  stepMs: number,
): StatsPoint[] {
  const out = new Map<number, StatsPoint>();
  for (const b of buckets) {
    const t = Math.floor(b.bucket / stepMs) * stepMs;
    let p = out.get(t);
    if (p === undefined) {
      p = { t, packets: 0, bytes: 0, bytes_in: 0, bytes_out: 0, drops: 0 };
      out.set(t, p);
    }
    p.packets += num(b.rollup.packets);
    p.bytes += num(b.rollup.bytes);
    p.bytes_in += num(b.rollup.bytes_in);
    p.bytes_out += num(b.rollup.bytes_out);
    p.drops += num(b.rollup.drops);
  }
  return [...out.values()].sort((a, b) => a.t - b.t);
}

function secondSeries(
  hist: readonly StatsSnapshot[],
  from: number,
  to: number,
) {
  return hist.filter((s) => s.t >= from && s.t < to).map((s) => ({
    t: s.t,
    packets: Math.round(s.pps),
    bytes: Math.round(s.bps),
    bytes_in: Math.round(s.bps_in),
    bytes_out: Math.round(s.bps_out),
    drops: Math.round(s.drops_ps),
  }));
}

async function getStats(ctx: RequestContext): Promise<Response> {
  const url = ctx.url;
  const resolution = queryParam(url, "resolution") ?? "1m";
  const step = RESOLUTIONS[resolution];
  if (step === undefined) {
    throw badRequest(
      "resolution",
      `must be one of ${Object.keys(RESOLUTIONS).join(", ")}`,
    );
  }
  const to = queryTime(url, "to", ctx.now) ?? ctx.now;
  const from = queryTime(url, "from", ctx.now) ??
    to - (resolution === "1s" ? 600_000 : Math.max(3600_000, step * 60));
  if (to <= from) throw badRequest("to", "must be after from");
  if ((to - from) / step > 10_000) {
    throw badRequest(
      "from",
      "range too long for this resolution (at most 10,000 points)",
    );
  }
  const history = ctx.deps.stats.history();
  const points = resolution === "1s"
    ? secondSeries(history, from, to)
    : rollupSeries(await ctx.deps.statsHistory.list("1m", from, to), step);
  return json({
    resolution,
    from,
    to,
    points,
    current: ctx.deps.stats.latest(),
  });
}

async function listHosts(ctx: RequestContext): Promise<Response> {
  const limit = queryInt(ctx.url, "limit", { min: 1, max: 1000 }) ?? 200;
  const cursor = queryCursor(ctx.url);
  const page = await ctx.deps.hosts.list({
    limit,
    ...(cursor === undefined ? {} : { cursor }),
  });
  return json(page);
}

/** Everything the dashboard knows about one address. */
export interface HostDetail {
  ip: string;
  /** The stored host, or null when it was never seen. */
  host: HostView | null;
  /** GeoIP facts, or null without an enricher. */
  geo: Record<string, unknown> | null;
  /** Reverse DNS name, or null. */
  name: string | null;
  /** Its latest alerts as the source, newest first (at most 50). */
  alerts: Alert[];
  /** Its active block, or null. */
  block: BlockView | null;
  /** The home device seen last with this address, or null. */
  device: { mac: string; name: string | null } | null;
}

/** Everything the dashboard knows about one address. */
export async function hostDetail(
  ctx: RequestContext,
  ip: string,
): Promise<HostDetail> {
  const host = await ctx.deps.hosts.get(ip);
  const e = ctx.deps.enricher?.enrichAddr(ip);
  const alerts = (await ctx.deps.alerts.list({ src: ip, limit: 50 })).alerts;
  const block =
    (await ctx.deps.responder.listBlocks()).find((b) => b.target === ip) ??
      null;
  return {
    ip,
    host,
    geo: e === undefined ? null : { ...e.geo },
    name: e?.host ?? (typeof host?.rdns === "string" ? host.rdns : null),
    alerts,
    block,
    device: ctx.deps.devices?.byIp(ip) ?? null,
  };
}

/** Checks and normalises an address path parameter. */
export function ipParam(text: string): string {
  const a = parseAddr(text.trim());
  if (a === null) {
    throw badRequest("ip", `"${text.slice(0, 60)}" is not an IP address`);
  }
  return text.trim();
}

async function getHost(ctx: RequestContext): Promise<Response> {
  const ip = ipParam(ctx.params.ip ?? "");
  const d = await hostDetail(ctx, ip);
  if (d.host === null && d.alerts.length === 0 && d.block === null) {
    return json({ ...d, known: false });
  }
  return json({ ...d, known: true });
}

async function detect(ctx: RequestContext): Promise<Response> {
  const scorer = ctx.deps.scorer;
  if (scorer === undefined) {
    throw new HttpError(
      503,
      "Anomaly scoring is not available (no model loaded)",
    );
  }
  const body = await readJson(ctx.req, 64 * 1024);
  try {
    return json(scorer.scoreRequest(body));
  } catch (e) {
    const h = fromConfigError(e);
    if (h instanceof HttpError) throw h;
    if (e instanceof TypeError || e instanceof RangeError) {
      const field = (e as { field?: unknown }).field;
      throw new HttpError(
        400,
        e.message,
        typeof field === "string" ? field : "body",
      );
    }
    throw e;
  }
}

function replayOf(ctx: RequestContext) {
  const r = ctx.deps.replay;
  if (r === undefined) {
    throw new HttpError(503, "Replay is not available in this mode");
  }
  return r;
}

async function replayStatus(ctx: RequestContext): Promise<Response> {
  const r = replayOf(ctx);
  return json({
    status: r.status(),
    captures: await r.captures(),
    max_upload_bytes: MAX_UPLOAD_BYTES,
  });
}

function speedParam(v: unknown, field: string): number {
  if (v === undefined || v === null || v === "") return 1;
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1000) {
    throw badRequest(field, "must be from 0 (as fast as possible) to 1000");
  }
  return n;
}

function uploadName(v: string | undefined): string {
  const name = (v ?? "upload.pcap").trim();
  if (
    name.length > 128 || /[/\\]/.test(name) ||
    [...name].some((c) => c.charCodeAt(0) < 32)
  ) {
    throw badRequest(
      "name",
      "must be a plain file name of at most 128 characters",
    );
  }
  return name;
}

async function replayStart(ctx: RequestContext): Promise<Response> {
  const r = replayOf(ctx);
  const type = ctx.req.headers.get("content-type") ?? "";
  let src: ReplaySource;
  let speed: number;
  if (type.startsWith("application/json")) {
    const o = await readJsonObject(ctx.req);
    const name = reqString(o, "file", 256);
    const known = await r.captures();
    if (!known.some((c) => c.name === name)) {
      throw badRequest(
        "file",
        `no stored capture named "${name.slice(0, 60)}"`,
      );
    }
    src = { kind: "file", name };
    speed = speedParam(o.speed, "speed");
  } else if (
    type.startsWith("application/octet-stream") ||
    type.startsWith("application/vnd.tcpdump.pcap")
  ) {
    speed = speedParam(queryParam(ctx.url, "speed"), "speed");
    const name = uploadName(queryParam(ctx.url, "name"));
    // One upload at a time: each holds up to 64 MB until it is on disk.
    if (!ctx.uploads.tryEnter()) {
      await ctx.req.body?.cancel().catch(() => {});
      return json(
        {
          error:
            "Another capture upload is in progress; try again when it ends",
        },
        429,
        { "retry-after": "5" },
      );
    }
    try {
      const bytes = await readBody(ctx.req, MAX_UPLOAD_BYTES);
      if (bytes.byteLength < 24) {
        throw badRequest("body", "is not a capture file (too short)");
      }
      const magic = new DataView(bytes.buffer, bytes.byteOffset, 4)
        .getUint32(0);
      const known = [
        0xa1b2c3d4,
        0xd4c3b2a1,
        0xa1b23c4d,
        0x4d3cb2a1,
        0x0a0d0d0a,
      ];
      if (!known.includes(magic)) {
        throw badRequest("body", "is not a pcap or pcapng file");
      }
      return json({
        status: await r.start({ kind: "upload", name, bytes }, speed),
      });
    } catch (e) {
      throw fromConfigError(e);
    } finally {
      ctx.uploads.leave();
    }
  } else {
    throw new HttpError(
      415,
      "Send JSON {file, speed} or the capture as application/octet-stream",
    );
  }
  try {
    return json({ status: await r.start(src, speed) });
  } catch (e) {
    throw fromConfigError(e);
  }
}

async function replayStop(ctx: RequestContext): Promise<Response> {
  return json({ status: await replayOf(ctx).stop() });
}

/** A stored token as the API and the Settings page list it. */
export function tokenView(t: TokenRecord): TokenView {
  return {
    id: t.hash,
    name: t.name,
    prefix: t.prefix,
    created: t.created,
    created_by: t.created_by,
    last_used: t.last_used,
  };
}

async function listTokens(ctx: RequestContext): Promise<Response> {
  return json({ tokens: (await ctx.deps.auth.listTokens()).map(tokenView) });
}

async function createToken(ctx: RequestContext): Promise<Response> {
  const o = await readJsonObject(ctx.req);
  const name = reqString(o, "name", 64);
  if (!/^[\w .@-]+$/.test(name)) {
    throw badRequest(
      "name",
      "may hold letters, digits, space, dot, @, - and _",
    );
  }
  const { token, record } = await ctx.sessions.createToken(
    name,
    principalName(ctx),
  );
  return json({ token, ...tokenView(record) }, 201);
}

async function deleteToken(ctx: RequestContext): Promise<Response> {
  const id = ctx.params.id ?? "";
  if (!/^[0-9a-f]{64}$/.test(id)) throw badRequest("id", "is not a token id");
  if ((await ctx.deps.auth.getToken(id)) === null) {
    throw new HttpError(404, "No such token");
  }
  await ctx.deps.auth.deleteToken(id);
  ctx.hub.closeWhere((o) => o.token === id, "token revoked");
  return json({ deleted: id });
}

function rulesOf(ctx: RequestContext) {
  const r = ctx.deps.rules;
  if (!r) throw new HttpError(503, "Signature rules are not available");
  return r;
}

function getRules(ctx: RequestContext): Response {
  return json(rulesOf(ctx).view());
}

async function toggleRule(ctx: RequestContext): Promise<Response> {
  const r = rulesOf(ctx);
  const doc = await readJsonObject(ctx.req);
  try {
    return json(await r.toggle(doc));
  } catch (e) {
    throw fromConfigError(e);
  }
}

function notifyOf(ctx: RequestContext) {
  const n = ctx.deps.notify;
  if (!n) throw new HttpError(503, "Notifications are not available");
  return n;
}

function channelId(ctx: RequestContext): string {
  const id = ctx.params.id ?? "";
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(id)) {
    throw badRequest("id", "is not a channel id");
  }
  return id;
}

async function getNotify(ctx: RequestContext): Promise<Response> {
  return json(await notifyOf(ctx).view());
}

async function addChannel(ctx: RequestContext): Promise<Response> {
  const n = notifyOf(ctx);
  const doc = await readJsonObject(ctx.req);
  try {
    return json({ channel: await n.add(doc) }, 201);
  } catch (e) {
    throw fromConfigError(e);
  }
}

async function updateChannel(ctx: RequestContext): Promise<Response> {
  const n = notifyOf(ctx);
  const id = channelId(ctx);
  const doc = await readJsonObject(ctx.req);
  let ch;
  try {
    ch = await n.update(id, doc);
  } catch (e) {
    throw fromConfigError(e);
  }
  if (ch === null) throw new HttpError(404, `No channel "${id}"`);
  return json({ channel: ch });
}

async function removeChannel(ctx: RequestContext): Promise<Response> {
  const id = channelId(ctx);
  if (!(await notifyOf(ctx).remove(id))) {
    throw new HttpError(404, `No channel "${id}"`);
  }
  return json({ deleted: id });
}

async function testChannel(ctx: RequestContext): Promise<Response> {
  const id = channelId(ctx);
  const r = await notifyOf(ctx).test(id);
  if (r === null) throw new HttpError(404, `No channel "${id}"`);
  return json(r);
}

function deviceSource(ctx: RequestContext) {
  const s = ctx.deps.devices;
  if (s === undefined) throw new HttpError(503, "The device inventory is off");
  return s;
}

/** Checks a MAC path parameter; its normal form (lower case, colons). */
export function macParam(text: string): string {
  if (parseMac(text) === null) {
    throw badRequest(
      "mac",
      `"${text.slice(0, 40)}" is not a MAC address (aa:bb:cc:dd:ee:ff)`,
    );
  }
  return text.toLowerCase().replaceAll("-", ":");
}

async function listDevicesRoute(ctx: RequestContext): Promise<Response> {
  const limit = queryInt(ctx.url, "limit", { min: 1, max: 10_000 }) ?? 1000;
  const cursor = queryCursor(ctx.url);
  const src = deviceSource(ctx);
  return json(
    await withCursor(cursor, () =>
      src.list({
        limit,
        ...(cursor === undefined ? {} : { cursor }),
      })),
  );
}

/** Everything the dashboard shows about one device. */
export interface DeviceDetail {
  device: DeviceView;
  /** Hourly traffic over the last 7 days and per-minute over the last 24 hours. */
  traffic: { hourly: DeviceTraffic[]; minutes: DeviceTraffic[] };
  /** Alerts from any of its addresses, newest first (at most 50). */
  alerts: Alert[];
  /** Countries and names of its top peers (GeoIP and reverse DNS as cached). */
  peers: {
    ip: string;
    flag: string | null;
    country: string | null;
    name: string | null;
  }[];
}

/** Loads a device's page data, or null. */
export async function deviceDetail(
  ctx: RequestContext,
  mac: string,
): Promise<DeviceDetail | null> {
  const src = deviceSource(ctx);
  const device = await src.get(mac);
  if (device === null) return null;
  const now = ctx.now;
  const [hourly, minutes] = await Promise.all([
    src.traffic(mac, "1h", now - 7 * 86_400_000, now + 3_600_000),
    src.traffic(mac, "1m", now - 86_400_000, now + 60_000),
  ]);
  const alerts: Alert[] = [];
  for (const a of device.addresses.slice(0, 8)) {
    alerts.push(
      ...(await ctx.deps.alerts.list({ src: a.ip, limit: 50 })).alerts,
    );
  }
  alerts.sort((a, b) => b.timestamp.localeCompare(a.timestamp));
  const peers = device.peers.map((p) => {
    const e = ctx.deps.enricher?.enrichAddr(p.ip);
    return {
      ip: p.ip,
      flag: e?.geo.flag ?? null,
      country: e?.geo.country_name ?? e?.geo.country ?? null,
      name: e?.host ?? null,
    };
  });
  return {
    device,
    traffic: { hourly, minutes },
    alerts: alerts.slice(0, 50),
    peers,
  };
}

async function getDeviceRoute(ctx: RequestContext): Promise<Response> {
  const mac = macParam(ctx.params.mac ?? "");
  const d = await deviceDetail(ctx, mac);
  if (d === null) throw new HttpError(404, `No device "${mac}"`);
  return json(d);
}

async function patchDevice(ctx: RequestContext): Promise<Response> {
  const mac = macParam(ctx.params.mac ?? "");
  const o = await readJsonObject(ctx.req);
  let edit;
  try {
    edit = parseDeviceEdit(o);
  } catch (e) {
    if (e instanceof DeviceEditError) throw new HttpError(400, e.message);
    throw e;
  }
  const d = await deviceSource(ctx).edit(mac, edit);
  if (d === null) throw new HttpError(404, `No device "${mac}"`);
  return json({ device: d });
}

function intelSource(ctx: RequestContext) {
  const s = ctx.deps.intel;
  if (s === undefined) throw new HttpError(503, "Threat intelligence is off");
  return s;
}

function listIntel(ctx: RequestContext): Response {
  return json({ feeds: intelSource(ctx).feeds() });
}

function lookupIntel(ctx: RequestContext): Response {
  const v = (ctx.url.searchParams.get("value") ?? "").trim();
  if (v === "" || v.length > 2048) {
    throw badRequest(
      "value",
      "give an address, domain, hash or URL (at most 2048 characters)",
    );
  }
  return json({ value: v, hits: intelSource(ctx).lookup(v) });
}

function fleetSource(ctx: RequestContext) {
  const s = ctx.deps.fleet;
  if (s === undefined) {
    throw new HttpError(503, "This appliance is in no fleet (config: fleet)");
  }
  return s;
}

const SENSOR_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The `sensor` query parameter: a sensor name, or undefined for all. */
export function fleetSensorParam(url: URL): string | undefined {
  const v = url.searchParams.get("sensor");
  if (v === null || v === "") return undefined;
  if (!SENSOR_RE.test(v)) {
    throw badRequest(
      "sensor",
      `"${
        v.slice(0, 40)
      }" is not a sensor name (letters, digits, ".", "_", "-")`,
    );
  }
  return v;
}

function getFleet(ctx: RequestContext): Response {
  const v = fleetSource(ctx).view();
  const sensor = fleetSensorParam(ctx.url);
  if (sensor === undefined) return json(v);
  return json({
    ...v,
    sensors: v.sensors.filter((s) => s.sensor === sensor),
    decisions: v.decisions.filter((d) => d.sensor === sensor),
    refusals: v.refusals.filter((r) => r.sensor === sensor),
  });
}

async function getFleetAlerts(ctx: RequestContext): Promise<Response> {
  const s = fleetSource(ctx);
  const limit = queryInt(ctx.url, "limit", { min: 1, max: 1000 }) ?? 100;
  const sensor = fleetSensorParam(ctx.url);
  try {
    return json({
      alerts: await s.alerts({
        limit,
        ...(sensor === undefined ? {} : { sensor }),
      }),
    });
  } catch (e) {
    throw new HttpError(503, (e as Error).message);
  }
}

/** Adds every `/api/` route to `router`. */
export function addApiRoutes(router: Router<Handler>): void {
  router
    .add("GET", "/api/alerts", listAlerts)
    .add("GET", "/api/alerts/recent", recentAlerts)
    .add("GET", "/api/alerts/:id", getAlert)
    .add("GET", "/api/alerts/:id/pcap", getAlertPcap)
    .add("GET", "/api/blocks", listBlocks)
    .add("POST", "/api/blocks", addBlock)
    .add("DELETE", "/api/blocks/:target", removeBlock)
    .add("GET", "/api/allowlist", listAllow)
    .add("POST", "/api/allowlist", addAllow)
    .add("DELETE", "/api/allowlist/:cidr", removeAllow)
    .add("GET", "/api/config", getConfig)
    .add("PUT", "/api/config", putConfig)
    .add("GET", "/api/stats", getStats)
    .add("GET", "/api/hosts", listHosts)
    .add("GET", "/api/hosts/:ip", getHost)
    .add("GET", "/api/devices", listDevicesRoute)
    .add("GET", "/api/devices/:mac", getDeviceRoute)
    .add("PATCH", "/api/devices/:mac", patchDevice)
    .add("POST", "/api/detect", detect)
    .add("GET", "/api/replay", replayStatus)
    .add("POST", "/api/replay/start", replayStart)
    .add("POST", "/api/replay/stop", replayStop)
    .add("GET", "/api/intel", listIntel)
    .add("GET", "/api/intel/lookup", lookupIntel)
    .add("GET", "/api/fleet", getFleet)
    .add("GET", "/api/fleet/alerts", getFleetAlerts)
    .add("GET", "/api/tokens", listTokens)
    .add("POST", "/api/tokens", createToken)
    .add("DELETE", "/api/tokens/:id", deleteToken)
    .add("GET", "/api/notify", getNotify)
    .add("POST", "/api/notify/channels", addChannel)
    .add("PUT", "/api/notify/channels/:id", updateChannel)
    .add("DELETE", "/api/notify/channels/:id", removeChannel)
    .add("POST", "/api/notify/channels/:id/test", testChannel)
    .add("GET", "/api/rules", getRules)
    .add("POST", "/api/rules/toggle", toggleRule);
}
