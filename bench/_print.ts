/**
 * Prints a bench section's rows when the section's file is run on its own
 * (`deno run -A bench/inbox.ts`): one line a row, with its reference and
 * note. `deno task bench` prints its table instead (bench.ts).
 *
 * @module
 */
import type { BenchRow } from "./bench.ts";

/** Writes `rows` to standard output, a line each. */
export function printRows(rows: readonly BenchRow[]): void {
  const enc = new TextEncoder();
  for (const r of rows) {
    const ref = r.reference
      ? `  (${r.reference}: ${r.referenceValue!.toFixed(2)} ${r.unit})`
      : "";
    Deno.stdout.writeSync(enc.encode(
      `${r.metric}: ${r.value.toFixed(2)} ${r.unit}${ref}${
        r.note ? `  [${r.note}]` : ""
      }\n`,
    ));
  }
}
