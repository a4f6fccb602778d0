/**
 * A one-line progress display on standard error for terminals: file name,
 * packets, rate. Redrawn at most ten times a second.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A progress line for long offline runs. */
export class Progress {
  #last = 0;
  #start = performance.now();
  #width: number;

  /** Creates a progress line sized to the terminal. */
  constructor() {
    let cols = 80;
    try {
      cols = Deno.consoleSize().columns;
    } catch {
      // Not a terminal after all: keep the default width.
    }
    this.#width = Math.max(40, cols - 1);
  }

  /** Redraws with the current file and its packet count (rate-limited). */
  update(file: string, packets: number): void {
    const now = performance.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    const secs = (now - this.#start) / 1000;
    const rate = secs > 0 ? packets / secs : 0;
    let line = `${file}  ${packets.toLocaleString("en")} pkts  ` +
      `${Math.round(rate).toLocaleString("en")} pkts/s`;
    if (line.length > this.#width) line = "…" + line.slice(-(this.#width - 1));
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}`));
  }

  /** Clears the line. */
  done(): void {
    Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
  }
}
