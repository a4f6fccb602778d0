/**
 * Test helpers of common/: the field a validator names when it refuses.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";

/**
 * Runs `fn`, which must throw a ConfigError whose message starts with
 * `Invalid config "<field>": `, and returns that field.
 *
 * @example
 * ```ts
 * assert.equal(configErrorField(() => parsePolicy([])), "policy");
 * ```
 */
export function configErrorField(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.ok(
      e.message.startsWith(`Invalid config "${e.field}": `),
      e.message,
    );
    return e.field;
  }
  assert.fail("no ConfigError");
}
