/**
 * Users, sessions and API tokens as stored in KV. Only hashes are stored:
 * the password hash (the dashboard makes it, e.g. salted PBKDF2), the hash
 * of a session cookie value, the hash of an API token. Sessions carry the
 * address they signed in from: the blocker never blocks those addresses
 * ({@link sessionAddrs}).
 *
 * @module
 */
import { isRecord } from "../common/validate.ts";
import type { Store } from "./store.ts";
import {
  sessionKey,
  sessionPrefix,
  tokenKey,
  tokenPrefix,
  userKey,
  userPrefix,
} from "./keys.ts";

/** A user of the dashboard. */
export interface UserRecord {
  name: string;
  /** Self-describing hash, e.g. "pbkdf2-sha256$600000$<salt>$<hash>". */
  password_hash: string;
  role: "admin";
  created: string;
  updated: string;
}

/** A signed-in session. */
export interface SessionRecord {
  /** Hash of the cookie value (the key). */
  id_hash: string;
  user: string;
  /** Address the session signed in from (and was last seen from). */
  addr: string;
  created: string;
  /** End of the session (ISO 8601). */
  expires: string;
  last_seen: string;
}

/** An API token (only its hash is kept). */
export interface TokenRecord {
  /** Hash of the token (the key). */
  hash: string;
  name: string;
  /** First characters of the token, to tell tokens apart in lists. */
  prefix: string;
  created: string;
  created_by: string;
  last_used: string | null;
}

function allStrings(
  v: Record<string, unknown>,
  names: readonly string[],
): boolean {
  return names.every((n) => typeof v[n] === "string");
}

/** Validates a stored user; null when malformed. */
export function parseUserRecord(v: unknown): UserRecord | null {
  if (
    !isRecord(v) ||
    !allStrings(v, ["name", "password_hash", "created", "updated"]) ||
    v.role !== "admin"
  ) {
    return null;
  }
  return v as unknown as UserRecord;
}

/** Validates a stored session; null when malformed. */
export function parseSessionRecord(v: unknown): SessionRecord | null {
  if (
    !isRecord(v) ||
    !allStrings(v, [
      "id_hash",
      "user",
      "addr",
      "created",
      "expires",
      "last_seen",
    ])
  ) {
    return null;
  }
  return v as unknown as SessionRecord;
}

/** Validates a stored token; null when malformed. */
export function parseTokenRecord(v: unknown): TokenRecord | null {
  if (
    !isRecord(v) ||
    !allStrings(v, ["hash", "name", "prefix", "created", "created_by"]) ||
    (v.last_used !== null && typeof v.last_used !== "string")
  ) {
    return null;
  }
  return v as unknown as TokenRecord;
}

/** Reads a user, or null. */
export async function getUser(
  store: Store,
  name: string,
): Promise<UserRecord | null> {
  return parseUserRecord((await store.kv.get(userKey(name))).value);
}

/** Lists users. */
export async function listUsers(store: Store): Promise<UserRecord[]> {
  const out: UserRecord[] = [];
  for await (const e of store.kv.list({ prefix: userPrefix() })) {
    const u = parseUserRecord(e.value);
    if (u) out.push(u);
  }
  return out;
}

/** Writes a user (create or replace). */
export async function putUser(store: Store, rec: UserRecord): Promise<void> {
  await store.kv.set(userKey(rec.name), rec);
}

/** Deletes a user. */
export async function deleteUser(store: Store, name: string): Promise<void> {
  await store.kv.delete(userKey(name));
}

function ended(iso: string, nowMs: number): boolean {
  const t = Date.parse(iso);
  return !Number.isFinite(t) || t <= nowMs;
}

/** Writes a session; KV drops it after `expires`. */
export async function putSession(
  store: Store,
  rec: SessionRecord,
): Promise<void> {
  const ms = Date.parse(rec.expires) - store.now();
  await store.kv.set(sessionKey(rec.id_hash), rec, {
    expireIn: Math.max(1000, ms),
  });
}

/** Reads a session that has not ended, or null. */
export async function getSession(
  store: Store,
  idHash: string,
): Promise<SessionRecord | null> {
  const s = parseSessionRecord((await store.kv.get(sessionKey(idHash))).value);
  return s === null || ended(s.expires, store.now()) ? null : s;
}

/** Deletes a session (sign-out). */
export async function deleteSession(
  store: Store,
  idHash: string,
): Promise<void> {
  await store.kv.delete(sessionKey(idHash));
}

/** Lists sessions that have not ended. */
export async function listSessions(store: Store): Promise<SessionRecord[]> {
  const now = store.now();
  const out: SessionRecord[] = [];
  for await (const e of store.kv.list({ prefix: sessionPrefix() })) {
    const s = parseSessionRecord(e.value);
    if (s && !ended(s.expires, now)) out.push(s);
  }
  return out;
}

/** Addresses of the sessions that have not ended (never to be blocked). */
export async function sessionAddrs(store: Store): Promise<string[]> {
  return [...new Set((await listSessions(store)).map((s) => s.addr))];
}

/** Writes an API token record. */
export async function putToken(store: Store, rec: TokenRecord): Promise<void> {
  await store.kv.set(tokenKey(rec.hash), rec);
}

/** Reads an API token by the hash of the presented token, or null. */
export async function getToken(
  store: Store,
  hash: string,
): Promise<TokenRecord | null> {
  return parseTokenRecord((await store.kv.get(tokenKey(hash))).value);
}

/** Lists API tokens. */
export async function listTokens(store: Store): Promise<TokenRecord[]> {
  const out: TokenRecord[] = [];
  for await (const e of store.kv.list({ prefix: tokenPrefix() })) {
    const t = parseTokenRecord(e.value);
    if (t) out.push(t);
  }
  return out;
}

/** Deletes an API token. */
export async function deleteToken(store: Store, hash: string): Promise<void> {
  await store.kv.delete(tokenKey(hash));
}
