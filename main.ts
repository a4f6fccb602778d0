/**
 * NetSentinel: a network intrusion-detection appliance in one executable.
 *
 * `deno run -A main.ts <command> [options]`; `--help` on the program and on
 * every command. Known errors print one line and exit 1; usage errors exit 2.
 *
 * @module
 */
import { COMMANDS, runCli } from "./cli/mod.ts";

export { COMMANDS };

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
