/**
 * Test helpers of server/: a KV store at a temporary path, removed on
 * dispose.
 *
 * @module
 */
import { openStore, type Store } from "../store/mod.ts";

/** A store in a fresh temporary directory. */
export interface TempKv extends AsyncDisposable {
  store: Store;
  dir: string;
}

/** Opens a store in a new temporary directory. */
export async function tempKv(): Promise<TempKv> {
  const dir = await Deno.makeTempDir({ prefix: "ns-server-" });
  const store = await openStore(dir);
  return {
    store,
    dir,
    async [Symbol.asyncDispose]() {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
