/**
 * Deno KV's limits and how NetSentinel stays inside them: exact value sizes
 * (V8 serialisation, as KV stores values), trimming of oversized values with
 * a marker instead of a failed write, and splitting of large writes into
 * atomic commits under the per-commit limits.
 *
 * Limits measured on Deno 2.9.6 (local SQLite backend): a value of 65,536
 * serialised bytes is accepted, one more is refused; a commit may hold 1,000
 * mutations, 819,200 bytes of keys plus values, and 81,920 bytes of keys.
 *
 * @module
 */
import { serialize } from "node:v8";

/** Largest value KV accepts, in serialised bytes. */
export const KV_MAX_VALUE_BYTES = 65_536;
/** Largest key KV accepts for a write, in encoded bytes. */
export const KV_MAX_KEY_BYTES = 2048;
/** Most mutations in one atomic commit. */
export const KV_MAX_MUTATIONS = 1000;
/** Most key plus value bytes in one atomic commit. */
export const KV_MAX_COMMIT_BYTES = 819_200;
/** Most key bytes in one atomic commit. */
export const KV_MAX_COMMIT_KEY_BYTES = 81_920;

/** What this module keeps per commit: a margin below KV's limits. */
export const COMMIT_BUDGET = {
  mutations: KV_MAX_MUTATIONS,
  bytes: 780_000,
  keyBytes: 78_000,
} as const;

/** Name of the marker field added to a trimmed object. */
export const TRIM_MARKER = "_trimmed";

const encoder = new TextEncoder();

/** Size of a value as KV stores it (V8 serialisation), in bytes. */
export function valueSize(value: unknown): number {
  return serialize(value).length;
}

/**
 * Size of a key as KV encodes it, in bytes: strings and byte arrays are
 * framed (type byte, terminator, escaped zero bytes), numbers take 9 bytes.
 */
export function keySize(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    if (typeof part === "string") {
      const b = encoder.encode(part);
      n += 2 + b.length + zeros(b);
    } else if (part instanceof Uint8Array) {
      n += 2 + part.length + zeros(part);
    } else if (typeof part === "number") {
      n += 9;
    } else if (typeof part === "bigint") {
      n += 2 + Math.ceil(part.toString(16).length / 2);
    } else {
      n += 1;
    }
  }
  return n;
}

function zeros(b: Uint8Array): number {
  let z = 0;
  for (const x of b) if (x === 0) z++;
  return z;
}

/** What {@link fitValue} did. */
export interface FitResult<T> {
  /** The value to store: the input itself when it fitted. */
  value: T;
  /** True when something was replaced by a marker. */
  trimmed: boolean;
  /** Serialised size of `value`. */
  bytes: number;
}

/**
 * Makes a JSON-like object fit in `maxBytes` (default: one KV value):
 * replaces its largest fields, one at a time, by a short marker string
 * (`"[trimmed: N bytes]"`) and lists them under `_trimmed`. Returns the
 * input unchanged when it already fits. Never mutates the input.
 */
export function fitValue<T extends Record<string, unknown>>(
  value: T,
  maxBytes: number = KV_MAX_VALUE_BYTES,
): FitResult<T> {
  const bytes = valueSize(value);
  if (bytes <= maxBytes) return { value, trimmed: false, bytes };
  const out = trimFields(value, bytes - maxBytes);
  return { value: out.value as T, trimmed: true, bytes: valueSize(out.value) };
}

/**
 * Replaces the largest fields of `obj` by markers until at least `excess`
 * bytes are saved (or nothing is left to replace). Returns a copy.
 */
function trimFields(
  obj: Record<string, unknown>,
  excess: number,
): { value: Record<string, unknown>; saved: number } {
  const sized = Object.entries(obj)
    .filter(([k]) => k !== TRIM_MARKER)
    .map(([k, v]) => [k, valueSize(v)] as const)
    .sort((a, b) => b[1] - a[1]);
  const copy: Record<string, unknown> = { ...obj };
  const names: string[] = Array.isArray(obj[TRIM_MARKER])
    ? [...(obj[TRIM_MARKER] as unknown[]).map(String)]
    : [];
  let saved = 0;
  for (const [k, size] of sized) {
    if (saved >= excess + 256) break;
    const marker = `[trimmed: ${size} bytes]`;
    if (size <= marker.length + 8) break;
    copy[k] = marker;
    names.push(k);
    saved += size - marker.length - 8;
  }
  copy[TRIM_MARKER] = names;
  return { value: copy, saved };
}

/** Longest text kept in an alert's free-text fields when it must shrink. */
const MAX_TEXT = 2000;

/**
 * Makes an alert-shaped value fit one KV value: first trims the largest
 * fields of `netsentinel.evidence` (marker `evidence._trimmed`), then
 * shortens long text fields, then drops the evidence entirely. The alert's
 * identity (id, type, addresses, times) is never touched.
 *
 * @example
 * ```ts
 * const { value, trimmed } = fitAlert(alert);
 * ```
 */
export function fitAlert<
  A extends { netsentinel: { evidence: Record<string, unknown> } },
>(alert: A, maxBytes: number = KV_MAX_VALUE_BYTES): FitResult<A> {
  let bytes = valueSize(alert);
  if (bytes <= maxBytes) return { value: alert, trimmed: false, bytes };
  const ns = alert.netsentinel as A["netsentinel"] & Record<string, unknown>;
  const evidence = trimFields(ns.evidence, bytes - maxBytes).value;
  let out = { ...alert, netsentinel: { ...ns, evidence } } as A;
  bytes = valueSize(out);
  if (bytes > maxBytes) {
    const nsOut: Record<string, unknown> = { ...out.netsentinel };
    for (const [k, v] of Object.entries(nsOut)) {
      if (typeof v === "string" && v.length > MAX_TEXT) {
        nsOut[k] = v.slice(0, MAX_TEXT) + "…[trimmed]";
      }
    }
    out = { ...out, netsentinel: nsOut } as A;
    bytes = valueSize(out);
  }
  if (bytes > maxBytes) {
    out = {
      ...out,
      netsentinel: {
        ...out.netsentinel,
        evidence: { [TRIM_MARKER]: ["*"] },
      },
    } as A;
    bytes = valueSize(out);
  }
  return { value: out, trimmed: true, bytes };
}

/** One KV write: a set (with optional expiry) or a delete. */
export interface KvOp {
  readonly key: Deno.KvKey;
  /** Absent for a delete. */
  readonly value?: unknown;
  /** Milliseconds until KV may delete the entry. */
  readonly expireIn?: number;
  /** True for a delete. */
  readonly delete?: boolean;
}

/** Size accounting of one op, as the commit limits count it. */
export function opSize(op: KvOp): { keyBytes: number; bytes: number } {
  const keyBytes = keySize(op.key);
  const v = op.delete ? 0 : valueSize(op.value);
  return { keyBytes, bytes: keyBytes + v };
}

/** Limits a plan must respect (defaults: {@link COMMIT_BUDGET}). */
export interface CommitLimits {
  mutations: number;
  bytes: number;
  keyBytes: number;
}

/**
 * Packs groups of ops into commits under the limits; the ops of one group
 * (an alert and its index entries) always land in the same commit. A group
 * larger than a whole commit is an error (it cannot be written atomically).
 * `reserve` is kept free in every commit (for head and log updates);
 * `sizes`, when given, receives the key plus value bytes of every group.
 */
export function planCommits<G extends { ops: readonly KvOp[] }>(
  groups: readonly G[],
  reserve: CommitLimits = { mutations: 0, bytes: 0, keyBytes: 0 },
  limits: CommitLimits = COMMIT_BUDGET,
  sizes?: Map<G, number>,
): G[][] {
  const max = {
    mutations: limits.mutations - reserve.mutations,
    bytes: limits.bytes - reserve.bytes,
    keyBytes: limits.keyBytes - reserve.keyBytes,
  };
  const parts: G[][] = [];
  let cur: G[] = [];
  let used = { mutations: 0, bytes: 0, keyBytes: 0 };
  for (const g of groups) {
    const need = { mutations: g.ops.length, bytes: 0, keyBytes: 0 };
    for (const op of g.ops) {
      const s = opSize(op);
      need.bytes += s.bytes;
      need.keyBytes += s.keyBytes;
    }
    sizes?.set(g, need.bytes);
    if (
      need.mutations > max.mutations || need.bytes > max.bytes ||
      need.keyBytes > max.keyBytes
    ) {
      throw new RangeError(
        `Cannot write a group of ${need.mutations} mutations and ${need.bytes} bytes in one commit`,
      );
    }
    if (
      used.mutations + need.mutations > max.mutations ||
      used.bytes + need.bytes > max.bytes ||
      used.keyBytes + need.keyBytes > max.keyBytes
    ) {
      parts.push(cur);
      cur = [];
      used = { mutations: 0, bytes: 0, keyBytes: 0 };
    }
    cur.push(g);
    used.mutations += need.mutations;
    used.bytes += need.bytes;
    used.keyBytes += need.keyBytes;
  }
  if (cur.length > 0) parts.push(cur);
  return parts;
}

/** Adds `ops` to an atomic operation. */
export function addOps(
  atomic: Deno.AtomicOperation,
  ops: readonly KvOp[],
): void {
  for (const op of ops) {
    if (op.delete) atomic.delete(op.key);
    else {
      atomic.set(
        op.key,
        op.value,
        op.expireIn === undefined ? undefined : { expireIn: op.expireIn },
      );
    }
  }
}
