/**
 * Sign-in: salted PBKDF2 password hashes (WebCrypto), the first admin,
 * sessions (random cookie values, only their SHA-256 stored), API tokens
 * (shown once, only their SHA-256 stored), and the addresses of signed-in
 * admins that the blocker must never block.
 *
 * @module
 */
import { UserError } from "../common/errors.ts";
import type { AuthStore, SessionRecord, TokenRecord } from "./deps.ts";

/** PBKDF2-HMAC-SHA256 iterations of new hashes (OWASP 2023 figure). */
export const PBKDF2_ITERATIONS = 600_000;

/** The one user name of the dashboard. */
export const ADMIN_USER = "admin";

/** Name of the session cookie (`__Host-` prefix over TLS). */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-ns_session" : "ns_session";
}

const enc = new TextEncoder();

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function b64url(bytes: Uint8Array): string {
  return b64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

async function pbkdf2(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    {
      name: "PBKDF2",
      hash: "SHA-256",
      salt: salt as Uint8Array<ArrayBuffer>,
      iterations,
    },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * Hashes a password: `pbkdf2-sha256$<iterations>$<salt>$<hash>` with a
 * random 16-byte salt (base64 fields).
 */
export async function hashPassword(
  password: string,
  iterations = PBKDF2_ITERATIONS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await pbkdf2(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(hash)}`;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** True when `password` matches `stored` (a {@link hashPassword} string). */
export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const [scheme, iter, saltText, hashText] = stored.split("$");
  if (scheme !== "pbkdf2-sha256" || hashText === undefined) return false;
  const iterations = Number(iter);
  const salt = unb64(saltText ?? "");
  const want = unb64(hashText);
  if (
    !Number.isInteger(iterations) || iterations < 1 ||
    iterations > 10_000_000 || salt === null || want === null
  ) {
    return false;
  }
  return equalBytes(await pbkdf2(password, salt, iterations), want);
}

/** SHA-256 of a secret as lower-case hex (session ids, tokens). */
export async function sha256Hex(text: string): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", enc.encode(text)),
  );
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A random secret of `bytes` bytes, base64url. */
export function randomSecret(bytes = 32): string {
  return b64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/**
 * A strong generated password: 20 characters from a 56-letter alphabet
 * without look-alikes (about 116 bits).
 */
export function generatePassword(length = 20): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const out: string[] = [];
  const buf = new Uint8Array(1);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    const v = buf[0]!;
    if (v < 224) out.push(alphabet[v % 56]!);
  }
  return out.join("");
}

/** A password that is too weak to accept. */
export class WeakPasswordError extends UserError {
  /** Creates the error with the reason. */
  constructor(message: string) {
    super(message);
    this.name = "WeakPasswordError";
  }
}

/** Throws {@link WeakPasswordError} for a password under 10 characters. */
export function checkPasswordStrength(password: string): void {
  if (password.length < 10) {
    throw new WeakPasswordError(
      `Password too short: ${password.length} characters (at least 10)`,
    );
  }
  if (password.length > 1024) {
    throw new WeakPasswordError("Password too long (at most 1024 characters)");
  }
}

/** What {@link ensureAdmin} did. */
export interface EnsureAdminResult {
  /** True when the admin user was created now. */
  created: boolean;
  /** The generated password when one was made (print it once), else null. */
  generatedPassword: string | null;
  /** Where the password came from when created. */
  from: "env" | "generated" | null;
}

/**
 * Creates the admin user when there is none: with `NETSENTINEL_PASSWORD`
 * (`envPassword`) when set, else with a generated password that is
 * returned for `run` to print once. Only the salted hash is stored.
 *
 * @example
 * ```ts
 * const r = await ensureAdmin(auth, Deno.env.get("NETSENTINEL_PASSWORD"));
 * if (r.generatedPassword) printOut(`Sign in as admin with ${r.generatedPassword}`);
 * ```
 */
export async function ensureAdmin(
  auth: AuthStore,
  envPassword?: string,
  opts: { now?: () => number; iterations?: number } = {},
): Promise<EnsureAdminResult> {
  if ((await auth.getUser(ADMIN_USER)) !== null) {
    return { created: false, generatedPassword: null, from: null };
  }
  const fromEnv = envPassword !== undefined && envPassword !== "";
  if (fromEnv) checkPasswordStrength(envPassword);
  const password = fromEnv ? envPassword : generatePassword();
  const now = new Date((opts.now ?? Date.now)()).toISOString();
  await auth.putUser({
    name: ADMIN_USER,
    password_hash: await hashPassword(password, opts.iterations),
    role: "admin",
    created: now,
    updated: now,
  });
  return {
    created: true,
    generatedPassword: fromEnv ? null : password,
    from: fromEnv ? "env" : "generated",
  };
}

/**
 * Sets the admin password (the `passwd` command). Every session is signed
 * out and every API token revoked (a token is as good as the password, so
 * a changed password must not leave one working); resolves to how many of
 * each ended. A running appliance closes the live sockets of both within a
 * second. Throws {@link WeakPasswordError} for a weak password.
 */
export async function setAdminPassword(
  auth: AuthStore,
  password: string,
  opts: { now?: () => number; iterations?: number } = {},
): Promise<{ sessions: number; tokens: number }> {
  checkPasswordStrength(password);
  const now = new Date((opts.now ?? Date.now)()).toISOString();
  const prev = await auth.getUser(ADMIN_USER);
  await auth.putUser({
    name: ADMIN_USER,
    password_hash: await hashPassword(password, opts.iterations),
    role: "admin",
    created: prev?.created ?? now,
    updated: now,
  });
  const sessions = await auth.listSessions();
  for (const s of sessions) await auth.deleteSession(s.id_hash);
  const tokens = await auth.listTokens();
  for (const t of tokens) await auth.deleteToken(t.hash);
  return { sessions: sessions.length, tokens: tokens.length };
}

/** Who made a request. */
export interface Principal {
  /** User name, or `token:<name>` for API tokens. */
  name: string;
  kind: "session" | "token";
  /** For sessions: the hash of the cookie value (sign-out). */
  sessionHash?: string;
  /** For tokens: the hash of the token (revocation). */
  tokenHash?: string;
}

/** Options of {@link Sessions}. */
export interface SessionOptions {
  /** Session lifetime, ms (default 12 h). */
  ttlMs?: number;
  now?: () => number;
}

/**
 * Sessions and tokens over an {@link AuthStore}, with an in-memory list of
 * the addresses of signed-in sessions for the blocker's never-block check
 * ({@link adminAddrs}, refreshed on sign-in, sign-out and {@link refresh}).
 */
export class Sessions {
  readonly #auth: AuthStore;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #addrs: string[] = [];

  /** Creates the session manager. */
  constructor(auth: AuthStore, opts: SessionOptions = {}) {
    this.#auth = auth;
    this.#ttlMs = opts.ttlMs ?? 12 * 3600_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Session lifetime in seconds (cookie Max-Age). */
  get ttlSeconds(): number {
    return Math.floor(this.#ttlMs / 1000);
  }

  /**
   * Checks the password of `user`; resolves to true when it matches. Spends
   * the same hashing time when the user does not exist.
   */
  async checkPassword(user: string, password: string): Promise<boolean> {
    const rec = await this.#auth.getUser(user);
    if (rec === null) {
      await verifyPassword(password, DUMMY_HASH);
      return false;
    }
    return await verifyPassword(password, rec.password_hash);
  }

  /** Creates a session for `user` from `addr`; resolves to the cookie value. */
  async create(user: string, addr: string): Promise<string> {
    const secret = randomSecret(32);
    const now = this.#now();
    const rec: SessionRecord = {
      id_hash: await sha256Hex(secret),
      user,
      addr,
      created: new Date(now).toISOString(),
      expires: new Date(now + this.#ttlMs).toISOString(),
      last_seen: new Date(now).toISOString(),
    };
    await this.#auth.putSession(rec);
    await this.refresh();
    return secret;
  }

  /** The session of a cookie value, or null. */
  async resolve(secret: string): Promise<SessionRecord | null> {
    if (secret === "" || secret.length > 100) return null;
    return await this.#auth.getSession(await sha256Hex(secret));
  }

  /** Ends a session. */
  async destroy(idHash: string): Promise<void> {
    await this.#auth.deleteSession(idHash);
    await this.refresh();
  }

  /** Re-reads the addresses of signed-in sessions. */
  async refresh(): Promise<void> {
    const list = await this.#auth.listSessions();
    this.#addrs = [...new Set(list.map((s) => s.addr))];
  }

  /**
   * Addresses of signed-in admin sessions (synchronous, for the blocker's
   * `protectedAddrs()` provider).
   */
  adminAddrs(): string[] {
    return this.#addrs;
  }

  /**
   * Creates an API token named `name`; resolves to the token (shown once)
   * and its record (only the hash is stored).
   */
  async createToken(
    name: string,
    by: string,
  ): Promise<{ token: string; record: TokenRecord }> {
    const token = "nst_" + randomSecret(24);
    const record: TokenRecord = {
      hash: await sha256Hex(token),
      name,
      prefix: token.slice(0, 10),
      created: new Date(this.#now()).toISOString(),
      created_by: by,
      last_used: null,
    };
    await this.#auth.putToken(record);
    return { token, record };
  }

  /** The token record of a presented token, or null; notes its use (at most once a minute). */
  async resolveToken(token: string): Promise<TokenRecord | null> {
    if (!token.startsWith("nst_") || token.length > 100) return null;
    const rec = await this.#auth.getToken(await sha256Hex(token));
    if (rec === null) return null;
    const now = this.#now();
    const last = rec.last_used === null ? 0 : Date.parse(rec.last_used);
    if (!(now - last < 60_000)) {
      await this.#auth.putToken({
        ...rec,
        last_used: new Date(now).toISOString(),
      });
    }
    return rec;
  }
}

/** A hash verified when the user does not exist (same cost, always false). */
const DUMMY_HASH =
  `pbkdf2-sha256$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`;
