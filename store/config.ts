/**
 * The config/policy document in KV (`["config"]`). Stored and returned as
 * `unknown`: the config parser owns validation.
 *
 * @module
 */
import { configKey } from "./keys.ts";
import { KV_MAX_VALUE_BYTES, valueSize } from "./limits.ts";
import { type Store, StoreError } from "./store.ts";

/**
 * Reads the stored config/policy document as `unknown` (validate it with
 * the config parser), or null when none is stored.
 */
export async function getConfig(store: Store): Promise<unknown> {
  return (await store.kv.get(configKey())).value;
}

/** Stores the config/policy document; it must fit one KV value (64 KiB). */
export async function putConfig(store: Store, doc: unknown): Promise<void> {
  const size = valueSize(doc);
  if (size > KV_MAX_VALUE_BYTES) {
    throw new StoreError(
      `Cannot store the config: ${size} bytes is more than the ${KV_MAX_VALUE_BYTES} a value can hold`,
    );
  }
  await store.kv.set(configKey(), doc);
}
