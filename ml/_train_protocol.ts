/**
 * Messages between {@link trainModelOffThread} and the training worker
 * (train_worker.ts), and the checks each side makes of what it receives.
 *
 * @module
 */
import { isRecord } from "../common/validate.ts";
import type { TrainModelOptions } from "./model.ts";

/** Main thread → worker: the rows (transferred) and the options. */
export interface TrainRequest {
  rows: Float64Array;
  opts: TrainModelOptions;
}

/** Worker → main thread: the model file's text, or why training failed. */
export type TrainReply =
  | { ok: true; text: string }
  | { ok: false; message: string };

/** Checks a request's shape (the options are checked by trainModel). */
export function parseTrainRequest(v: unknown): TrainRequest {
  if (!isRecord(v) || !(v.rows instanceof Float64Array) || !isRecord(v.opts)) {
    throw new TypeError(
      "training worker: expected { rows: Float64Array, opts: object }",
    );
  }
  return { rows: v.rows, opts: v.opts as TrainModelOptions };
}

/** Checks a reply's shape. */
export function parseTrainReply(v: unknown): TrainReply {
  if (isRecord(v)) {
    if (v.ok === true && typeof v.text === "string") {
      return { ok: true, text: v.text };
    }
    if (v.ok === false && typeof v.message === "string") {
      return { ok: false, message: v.message };
    }
  }
  throw new TypeError("training worker: unexpected reply");
}
