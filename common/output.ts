/**
 * Buffered line output for the CLI: lines collect in memory and go out in
 * large synchronous writes, so printing thousands of events costs few
 * syscalls.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Something with a synchronous write, like `Deno.stdout`. */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/** Collects lines and writes them in chunks of about `chunk` characters. */
export class LineWriter {
  #parts: string[] = [];
  #size = 0;
  #out: SyncWriter;
  #chunk: number;

  /** Creates a writer to `out` (default standard output). */
  constructor(out: SyncWriter = Deno.stdout, chunk = 64 * 1024) {
    this.#out = out;
    this.#chunk = chunk;
  }

  /** Appends one line (a newline is added). */
  line(s: string): void {
    this.#parts.push(s, "\n");
    this.#size += s.length + 1;
    if (this.#size >= this.#chunk) this.flush();
  }

  /** Writes everything collected so far. */
  flush(): void {
    if (this.#parts.length === 0) return;
    const bytes = encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
    let off = 0;
    while (off < bytes.length) off += this.#out.writeSync(bytes.subarray(off));
  }
}

/** Writes a line to standard error. */
export function printErr(s: string): void {
  Deno.stderr.writeSync(encoder.encode(s + "\n"));
}

/** Writes a line to standard output. */
export function printOut(s: string): void {
  Deno.stdout.writeSync(encoder.encode(s + "\n"));
}
