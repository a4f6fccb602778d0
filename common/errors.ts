/**
 * Error classes shared by every stage: usage errors of the CLI and errors a
 * user can act on, which the CLI prints as one line.
 *
 * @module
 */

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends TypeError {
  /** Creates a usage error with a message naming the bad flag or value. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A known failure a user can fix (missing file, no permission, bad config):
 * printed as one line, exit code 1, no stack.
 */
export class UserError extends Error {
  /** Creates a user-facing error; keep `cause` when wrapping. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UserError";
  }
}

/** An invalid configuration or policy value, naming the field path. */
export class ConfigError extends UserError {
  /** Dotted path of the offending field, for example "detectors.port_scan.ports". */
  readonly field: string;
  /** Creates a config error for `field` with a message that names it. */
  constructor(field: string, message: string) {
    super(`Invalid config "${field}": ${message}`);
    this.name = "ConfigError";
    this.field = field;
  }
}
