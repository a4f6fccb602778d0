/**
 * The training worker: runs {@link trainModel} off the main thread, so a
 * periodic retrain (hundreds of milliseconds on a PC, seconds on a small
 * board) never stalls capture, the pipeline or the dashboard. Started once
 * per retrain by {@link trainModelOffThread}; answers one request with the
 * model file's text (parsed and checked again on the main thread) or the
 * error message, then the caller terminates it.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { modelText, trainModel } from "./model.ts";
import { parseTrainRequest, type TrainReply } from "./_train_protocol.ts";

self.onmessage = (e: MessageEvent<unknown>) => {
  let reply: TrainReply;
  try {
    const req = parseTrainRequest(e.data);
    reply = { ok: true, text: modelText(trainModel(req.rows, req.opts)) };
  } catch (err) {
    reply = {
      ok: false,
      message: err instanceof Error ? err.message : String(err),
    };
  }
  self.postMessage(reply);
};
