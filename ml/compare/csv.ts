/**
 * Numeric CSV in and out for the comparison harness: one header row, then
 * one row of numbers a line.
 *
 * @module
 */
import type { Matrix } from "../isolation_forest.ts";

/** Writes `m` as CSV with `header` (default f0, f1, …) to `path`. */
export async function writeMatrixCsv(
  path: string,
  m: Matrix,
  header?: readonly string[],
): Promise<void> {
  const names = header ?? Array.from({ length: m.cols }, (_, i) => `f${i}`);
  const lines = [names.join(",")];
  for (let r = 0; r < m.rows; r++) {
    lines.push(
      Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)).join(","),
    );
  }
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

/**
 * Reads a numeric CSV with a header row. Throws a SyntaxError naming the
 * line when a row has the wrong width or a value is not a number.
 */
export async function readMatrixCsv(
  path: string,
): Promise<{ header: string[]; matrix: Matrix }> {
  const text = await Deno.readTextFile(path);
  const lines = text.split("\n").filter((l) => l !== "");
  const header = (lines[0] ?? "").split(",");
  const cols = header.length;
  const rows = lines.length - 1;
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const parts = lines[r + 1]!.split(",");
    if (parts.length !== cols) {
      throw new SyntaxError(
        `Cannot read "${path}" line ${
          r + 2
        }: ${parts.length} values, expected ${cols}`,
      );
    }
    for (let c = 0; c < cols; c++) {
      const v = Number(parts[c]);
      if (parts[c]!.trim() === "" || !Number.isFinite(v)) {
        throw new SyntaxError(
          `Cannot read "${path}" line ${r + 2}: "${parts[c]}" is not a number`,
        );
      }
      data[r * cols + c] = v;
    }
  }
  return { header, matrix: { data, rows, cols } };
}

/** Reads one number a line (a scores file). */
export async function readNumbers(path: string): Promise<Float64Array> {
  const text = await Deno.readTextFile(path);
  return Float64Array.from(
    text.split("\n").filter((l) => l.trim() !== ""),
    Number,
  );
}
