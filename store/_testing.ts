/**
 * Test helpers of store/: a store in a temporary directory removed on
 * dispose, and alerts with sortable ids.
 *
 * @module
 */
import type { Alert, AlertType } from "../alerts/alert.ts";
import { openStore, type Store, type StoreOptions } from "./store.ts";

/** A store in a fresh temporary directory; disposing closes it and removes the directory. */
export interface TempStore extends AsyncDisposable {
  store: Store;
  dir: string;
}

/** Opens a store in a new temporary directory. */
export async function tempStore(opts: StoreOptions = {}): Promise<TempStore> {
  const dir = await Deno.makeTempDir({ prefix: "ns-store-" });
  const store = await openStore(dir, opts);
  return {
    store,
    dir,
    async [Symbol.asyncDispose]() {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A 26-character id that sorts like `n` (ULID-shaped, not a real ULID). */
export function testId(n: number): string {
  return "01J" + String(n).padStart(23, "0");
}

/** An alert numbered `n`, with overrides of top-level and netsentinel fields. */
export function makeAlert(
  n: number,
  o: {
    src?: string;
    type?: AlertType;
    severity?: 1 | 2 | 3 | 4;
    timeMs?: number;
    evidence?: Record<string, unknown>;
    count?: number;
  } = {},
): Alert {
  const ts = new Date(o.timeMs ?? Date.UTC(2026, 10, 24, 14, 0, 0) + n * 1000)
    .toISOString();
  return {
    timestamp: ts,
    event_type: "alert",
    src_ip: o.src ?? "10.99.0.66",
    src_port: 51234,
    dest_ip: "10.99.0.10",
    dest_port: 22,
    proto: "TCP",
    alert: {
      action: "allowed",
      signature_id: 1000001,
      rev: 1,
      signature: "TCP SYN port scan",
      category: "Attempted Information Leak",
      severity: o.severity ?? 2,
    },
    netsentinel: {
      id: testId(n),
      type: o.type ?? "port_scan",
      count: o.count ?? 1,
      first_seen: ts,
      last_seen: ts,
      evidence: o.evidence ?? { distinct_ports: 1000, window_s: 3.1 },
      explanation: "A host probed many ports.",
    },
  };
}

/**
 * Polls `fn` until `ok` accepts its value or `ms` pass; then fails with the
 * last value seen.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  ok: (v: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > until) {
      throw new Error(
        `Timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
    last = await fn();
  }
  return last;
}
