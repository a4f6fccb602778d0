/**
 * {@link trainModelOffThread}: {@link trainModel} in a worker of its own,
 * for the appliance's periodic retrain. The result is the same model the
 * main thread would have trained (same rows, same seed), read back through
 * {@link parseModel} like any model file.
 *
 * @module
 */
import {
  type AnomalyModel,
  parseModel,
  type TrainModelOptions,
} from "./model.ts";
import { parseTrainReply, type TrainRequest } from "./_train_protocol.ts";

/**
 * Trains a model in a new worker and terminates it. `rows` is transferred
 * (the caller's array is detached afterwards): pass a copy.
 *
 * @throws {Error} with trainModel's message when training fails, or when
 *   the worker dies.
 *
 * @example
 * ```ts
 * const model = await trainModelOffThread(reservoir.rows(), { seed: 1 });
 * ```
 */
export function trainModelOffThread(
  rows: Float64Array,
  opts: TrainModelOptions = {},
): Promise<AnomalyModel> {
  const worker = new Worker(new URL("./train_worker.ts", import.meta.url), {
    type: "module",
  });
  return new Promise<AnomalyModel>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<unknown>) => {
      try {
        const reply = parseTrainReply(e.data);
        if (reply.ok) resolve(parseModel(JSON.parse(reply.text)));
        else reject(new Error(reply.message));
      } catch (err) {
        reject(err);
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      reject(new Error(`training worker failed: ${e.message}`));
    };
    const req: TrainRequest = { rows, opts };
    worker.postMessage(req, [rows.buffer]);
  }).finally(() => worker.terminate());
}
