/**
 * Blocks, the allowlist, refused/dry-run block decisions and repeat
 * offenders as stored in KV: record shapes, validation of what is read
 * back, and reads and writes. Every change of blocks or the allowlist bumps
 * `["block_head"]` in the same atomic commit, so a running appliance notices
 * changes made by the CLI with one small read.
 *
 * Block and allow entries carry their end time; they are also written with
 * `expireIn` so KV removes them eventually, but KV's local backend only
 * sweeps expired entries about once a minute, so every read here filters
 * on the stored end time.
 *
 * @module
 */
import { isRecord } from "../common/validate.ts";
import { type Cidr, formatAddr, parseCidr } from "../decode/mod.ts";
import {
  allowKey,
  allowPrefix,
  blockHeadKey,
  blockKey,
  blockPrefix,
  decisionKey,
  decisionPrefix,
  offenderKey,
} from "./keys.ts";
import type { Store } from "./store.ts";

/** An address or CIDR prefix to block or allow, normalised. */
export interface Target {
  /** "1.2.3.4" for one address, "10.0.0.0/24" for a prefix (host bits cleared). */
  readonly text: string;
  readonly version: 4 | 6;
  readonly cidr: Cidr;
  /** True for a single address (/32 or /128). */
  readonly single: boolean;
}

/**
 * Parses an address or CIDR into a {@link Target}: host bits below the
 * prefix are cleared, IPv4-mapped IPv6 becomes IPv4, a full-length prefix
 * becomes a bare address. Returns null for anything else.
 *
 * @example
 * ```ts
 * parseTarget("10.0.0.7/24")?.text; // "10.0.0.0/24"
 * parseTarget("::ffff:1.2.3.4")?.text; // "1.2.3.4"
 * ```
 */
export function parseTarget(text: string): Target | null {
  let c = parseCidr(text.trim());
  if (c === null) return null;
  if (
    c.version === 6 && c.bits >= 96 && c.words[0] === 0 && c.words[1] === 0 &&
    c.words[2] === 0xffff
  ) {
    c = parseCidr(`${formatAddr(4, [c.words[3]!])}/${c.bits - 96}`);
    if (c === null) return null;
  }
  const max = c.version === 4 ? 32 : 128;
  const single = c.bits === max;
  return {
    text: single ? formatAddr(c.version, c.words) : c.text,
    version: c.version,
    cidr: c,
    single,
  };
}

/** Who or what made a block; "fleet": applied from another sensor's decision (fleet/). */
export type BlockSource = "auto" | "cli" | "api" | "dashboard" | "fleet";

/** An active (or recently ended) block. */
export interface BlockRecord {
  /** Normalised target text (see {@link parseTarget}). */
  target: string;
  version: 4 | 6;
  reason: string;
  source: BlockSource;
  /** The alert that caused an automatic block. */
  alert_id: string | null;
  alert_type: string | null;
  /** Start and end (ISO 8601). */
  since: string;
  until: string;
  duration_s: number;
  /** Escalation level (0: first block within the repeat window). */
  level: number;
  /** User name for manual blocks, null for automatic ones. */
  by: string | null;
}

/** An allowlist entry: never blocked. */
export interface AllowRecord {
  /** Normalised CIDR or address text. */
  cidr: string;
  note: string;
  added_by: string | null;
  since: string;
  /** End (ISO 8601), or null for no end. */
  until: string | null;
}

/** Outcomes of a block decision that are recorded. */
export type RecordedOutcome = "refused" | "would_block";

/** A refused or dry-run block decision, the last one per address. */
export interface DecisionRecord {
  ip: string;
  outcome: RecordedOutcome;
  /** Short code: "own_address", "gateway", "allowlisted", "rate_limited", … */
  reason: string;
  /** One sentence for people. */
  detail: string;
  alert_id: string | null;
  alert_type: string | null;
  /** Time of the last such decision (ISO 8601). */
  at: string;
  /** Decisions with this outcome and reason since the record was created. */
  count: number;
}

/** Blocks of one address within the repeat window, for escalation. */
export interface OffenderRecord {
  ip: string;
  blocks: number;
  last_block: string;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

const SOURCES: readonly string[] = [
  "auto",
  "cli",
  "api",
  "dashboard",
  "fleet",
];

/** Validates a stored block; null when malformed. */
export function parseBlockRecord(v: unknown): BlockRecord | null {
  if (!isRecord(v)) return null;
  const target = str(v.target), since = str(v.since), until = str(v.until);
  if (target === null || since === null || until === null) return null;
  if (v.version !== 4 && v.version !== 6) return null;
  if (typeof v.source !== "string" || !SOURCES.includes(v.source)) return null;
  return {
    target,
    version: v.version,
    reason: str(v.reason) ?? "",
    source: v.source as BlockSource,
    alert_id: str(v.alert_id),
    alert_type: str(v.alert_type),
    since,
    until,
    duration_s: typeof v.duration_s === "number" ? v.duration_s : 0,
    level: typeof v.level === "number" ? v.level : 0,
    by: str(v.by),
  };
}

/** Validates a stored allowlist entry; null when malformed. */
export function parseAllowRecord(v: unknown): AllowRecord | null {
  if (!isRecord(v)) return null;
  const cidr = str(v.cidr), since = str(v.since);
  if (cidr === null || since === null) return null;
  return {
    cidr,
    note: str(v.note) ?? "",
    added_by: str(v.added_by),
    since,
    until: str(v.until),
  };
}

/** Validates a stored decision; null when malformed. */
export function parseDecisionRecord(v: unknown): DecisionRecord | null {
  if (!isRecord(v)) return null;
  const ip = str(v.ip), reason = str(v.reason), at = str(v.at);
  if (ip === null || reason === null || at === null) return null;
  if (v.outcome !== "refused" && v.outcome !== "would_block") return null;
  return {
    ip,
    outcome: v.outcome,
    reason,
    detail: str(v.detail) ?? "",
    alert_id: str(v.alert_id),
    alert_type: str(v.alert_type),
    at,
    count: typeof v.count === "number" ? v.count : 1,
  };
}

/** Validates a stored offender record; null when malformed. */
export function parseOffenderRecord(v: unknown): OffenderRecord | null {
  if (!isRecord(v)) return null;
  const ip = str(v.ip), last = str(v.last_block);
  if (ip === null || last === null || typeof v.blocks !== "number") return null;
  return { ip, blocks: v.blocks, last_block: last };
}

/** True when the record's end time has passed at `nowMs`. */
export function isExpired(
  rec: { until: string | null },
  nowMs: number,
): boolean {
  if (rec.until === null) return false;
  const t = Date.parse(rec.until);
  return !Number.isFinite(t) || t <= nowMs;
}

/** Milliseconds a record is kept in KV after its end (for the sweep). */
const GRACE_MS = 60_000;

function expireInFor(until: string | null, nowMs: number): number | undefined {
  if (until === null) return undefined;
  return Math.max(1000, Date.parse(until) - nowMs + GRACE_MS);
}

/** The versionstamp of `["block_head"]` (null before the first change). */
export async function getBlockHeadVersion(
  store: Store,
): Promise<string | null> {
  return (await store.kv.get(blockHeadKey())).versionstamp;
}

/** Reads one block (null when absent or ended). */
export async function getBlock(
  store: Store,
  target: string,
): Promise<BlockRecord | null> {
  const rec = parseBlockRecord((await store.kv.get(blockKey(target))).value);
  return rec === null || isExpired(rec, store.now()) ? null : rec;
}

/** Lists blocks that have not ended, in key order. */
export async function listBlocks(store: Store): Promise<BlockRecord[]> {
  const now = store.now();
  const out: BlockRecord[] = [];
  for await (const e of store.kv.list({ prefix: blockPrefix() })) {
    const rec = parseBlockRecord(e.value);
    if (rec !== null && !isExpired(rec, now)) out.push(rec);
  }
  return out;
}

/**
 * Writes a block (replacing one for the same target) and, when given, the
 * offender record, bumping the block head, in one atomic commit.
 */
export async function putBlock(
  store: Store,
  rec: BlockRecord,
  offender?: OffenderRecord,
  offenderTtlMs?: number,
): Promise<void> {
  const now = store.now();
  const atomic = store.kv.atomic()
    .set(blockKey(rec.target), rec, { expireIn: expireInFor(rec.until, now) })
    .set(blockHeadKey(), { at: now });
  if (offender) {
    atomic.set(offenderKey(offender.ip), offender, {
      expireIn: offenderTtlMs,
    });
  }
  await atomic.commit();
}

/** Deletes blocks (bumping the block head); resolves to those that existed. */
export async function deleteBlocks(
  store: Store,
  targets: readonly string[],
): Promise<string[]> {
  const existed: string[] = [];
  for (let i = 0; i < targets.length; i += 10) {
    const slice = targets.slice(i, i + 10);
    const entries = await store.kv.getMany(slice.map((t) => blockKey(t)));
    const atomic = store.kv.atomic();
    for (const [j, e] of entries.entries()) {
      if (e.versionstamp !== null) existed.push(slice[j]!);
      atomic.delete(blockKey(slice[j]!));
    }
    atomic.set(blockHeadKey(), { at: store.now() });
    await atomic.commit();
  }
  return existed;
}

/** Reads one allowlist entry (null when absent or ended). */
export async function getAllow(
  store: Store,
  cidr: string,
): Promise<AllowRecord | null> {
  const rec = parseAllowRecord((await store.kv.get(allowKey(cidr))).value);
  return rec === null || isExpired(rec, store.now()) ? null : rec;
}

/** Lists allowlist entries that have not ended. */
export async function listAllow(store: Store): Promise<AllowRecord[]> {
  const now = store.now();
  const out: AllowRecord[] = [];
  for await (const e of store.kv.list({ prefix: allowPrefix() })) {
    const rec = parseAllowRecord(e.value);
    if (rec !== null && !isExpired(rec, now)) out.push(rec);
  }
  return out;
}

/** Writes an allowlist entry, bumping the block head. */
export async function putAllow(store: Store, rec: AllowRecord): Promise<void> {
  const now = store.now();
  await store.kv.atomic()
    .set(allowKey(rec.cidr), rec, { expireIn: expireInFor(rec.until, now) })
    .set(blockHeadKey(), { at: now })
    .commit();
}

/** Deletes an allowlist entry; resolves to true when it existed. */
export async function deleteAllow(
  store: Store,
  cidr: string,
): Promise<boolean> {
  const e = await store.kv.get(allowKey(cidr));
  await store.kv.atomic()
    .delete(allowKey(cidr))
    .set(blockHeadKey(), { at: store.now() })
    .commit();
  return e.versionstamp !== null;
}

/** Reads the offender record of an address (null when none in the window). */
export async function getOffender(
  store: Store,
  ip: string,
): Promise<OffenderRecord | null> {
  return parseOffenderRecord((await store.kv.get(offenderKey(ip))).value);
}

/** Reads the last recorded decision for an address, or null. */
export async function getDecision(
  store: Store,
  ip: string,
): Promise<DecisionRecord | null> {
  return parseDecisionRecord((await store.kv.get(decisionKey(ip))).value);
}

/** Lists recorded decisions, newest first, at most `limit` (default 1000). */
export async function listDecisions(
  store: Store,
  limit = 1000,
): Promise<DecisionRecord[]> {
  const out: DecisionRecord[] = [];
  for await (const e of store.kv.list({ prefix: decisionPrefix() })) {
    const rec = parseDecisionRecord(e.value);
    if (rec !== null) out.push(rec);
  }
  out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return out.slice(0, limit);
}
