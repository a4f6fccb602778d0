/**
 * Errors of the anomaly-detection stage.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { UserError } from "../common/errors.ts";

/**
 * A model file or object that is corrupt or incompatible, naming the field
 * at fault (a dotted path such as `forest.left[12]`). The CLI prints it as
 * one line.
 */
export class ModelError extends UserError {
  /** Dotted path of the offending field ("" for the whole document). */
  readonly field: string;
  /** Creates a model error for `field`; keep `cause` when wrapping. */
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(
      field === ""
        ? `Invalid model: ${message}`
        : `Invalid model field "${field}": ${message}`,
      options,
    );
    this.name = "ModelError";
    this.field = field;
  }
}

/**
 * A probes file (held-out known anomalies for the retraining gate) that is
 * unreadable, corrupt or built for other features, naming the field at fault.
 */
export class ProbesError extends UserError {
  /** Dotted path of the offending field ("" for the whole document). */
  readonly field: string;
  /** Creates a probes error for `field`; keep `cause` when wrapping. */
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(
      field === ""
        ? `Invalid anomaly probes: ${message}`
        : `Invalid anomaly probes field "${field}": ${message}`,
      options,
    );
    this.name = "ProbesError";
    this.field = field;
  }
}

/**
 * Reads a JSON file of ml/ (a model, the probes): a missing or unreadable
 * file and text that is not JSON become `err("", message, { cause })`
 * naming the file.
 */
export async function readJsonFile(
  path: string | URL,
  err: new (field: string, message: string, options?: ErrorOptions) => Error,
): Promise<unknown> {
  const shown = path instanceof URL ? fileURLToPath(path) : path;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new err("", `cannot read "${shown}": ${why}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new err(
      "",
      `"${shown}" is not JSON: ${e instanceof Error ? e.message : e}`,
      { cause: e },
    );
  }
}
