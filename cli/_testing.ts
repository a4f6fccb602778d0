/**
 * Test helpers: the CLI run as a user runs it, `deno run -A main.ts …` in a
 * subprocess, optionally inside a network namespace or under a wrapper such
 * as `setpriv`. Colours are off (`NO_COLOR=1`) so output can be matched.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Absolute path of `main.ts`. */
export const MAIN: string = fileURLToPath(
  new URL("../main.ts", import.meta.url),
);

/** How {@link cliCommand} and {@link runCli} run the CLI. */
export interface CliOptions {
  /** Working directory (default: the test's). */
  cwd?: string;
  /** Variables added to the test's environment and `NO_COLOR=1`. */
  env?: Record<string, string>;
  /** Network namespace to run in (`ip netns exec NS …`). */
  netns?: string;
  /** A command the CLI runs under, e.g. `["setpriv", "--inh-caps=-all"]`. */
  wrapper?: readonly string[];
  /** Text written to standard input, which is then closed (runCli only). */
  stdin?: string;
  /** Standard output: "piped" (default) or "null" for a chatty child. */
  stdout?: "piped" | "null";
}

/** What a finished CLI run printed, and its exit code. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The command that runs the CLI with `args` (stderr piped): `.spawn()` it
 * for a long-running command such as `run` or `alerts --follow`.
 *
 * @example
 * ```ts
 * const child = cliCommand(["run", "--demo"], { netns: ns }).spawn();
 * ```
 */
export function cliCommand(
  args: readonly string[],
  opts: CliOptions = {},
): Deno.Command {
  const argv = [
    ...(opts.netns === undefined ? [] : ["ip", "netns", "exec", opts.netns]),
    ...(opts.wrapper ?? []),
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    ...args,
  ];
  return new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: opts.stdin === undefined ? "inherit" : "piped",
    stdout: opts.stdout ?? "piped",
    stderr: "piped",
  });
}

/**
 * Runs the CLI with `args` to completion and returns its exit code and
 * output.
 *
 * @example
 * ```ts
 * const r = await runCli(["alerts", "--data", dir, "--limit", "3"]);
 * assert.equal(r.code, 0, r.stderr);
 * ```
 */
export async function runCli(
  args: readonly string[],
  opts: CliOptions = {},
): Promise<CliResult> {
  const cmd = cliCommand(args, opts);
  let out: Deno.CommandOutput;
  if (opts.stdin === undefined) {
    out = await cmd.output();
  } else {
    const child = cmd.spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
    out = await child.output();
  }
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}
