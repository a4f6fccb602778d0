/**
 * Errors of the anomaly-detection stage.
 *
 * @module
 */
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
