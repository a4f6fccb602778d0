/**
 * The command line: the command table, `--help`, dispatch, and the one place
 * that turns errors into exit codes (usage 2, known errors 1 with one line,
 * anything else a stack trace: a bug report).
 *
 * @module
 */
import { UsageError, UserError } from "../common/errors.ts";
import { printErr, printOut } from "../common/output.ts";
import { VERSION } from "../common/version.ts";
import { analyzeCommand } from "./analyze.ts";
import { featuresCommand } from "./features.ts";
import { interfacesCommand } from "./interfaces.ts";
import { replayCommand, runCommand } from "./run.ts";
import { trainCommand } from "./train.ts";
import { alertsCommand } from "./alerts.ts";
import { hostCommand } from "./host.ts";
import {
  allowCommand,
  blockCommand,
  blocksCommand,
  disallowCommand,
  unblockCommand,
} from "./block.ts";
import { passwdCommand } from "./passwd.ts";
import { doctorCommand } from "./doctor.ts";
import { rulesCommand } from "./rules.ts";
import { intelCommand } from "./intel.ts";
import { type Command, parseCommandArgs } from "./command.ts";

export type { Command } from "./command.ts";

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  runCommand,
  replayCommand,
  analyzeCommand,
  rulesCommand,
  interfacesCommand,
  featuresCommand,
  trainCommand,
  alertsCommand,
  hostCommand,
  blockCommand,
  unblockCommand,
  blocksCommand,
  allowCommand,
  disallowCommand,
  intelCommand,
  passwdCommand,
  doctorCommand,
];

/** Error classes whose message is enough: printed as one line, exit 1. */
const knownErrors: Array<abstract new (...args: never[]) => Error> = [
  UserError,
];

/** Registers more error classes the CLI prints as one line. */
export function registerKnownError(
  cls: abstract new (...args: never[]) => Error,
): void {
  knownErrors.push(cls);
}

function programHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `NetSentinel ${VERSION}: network intrusion detection for small boxes

Usage: netsentinel <command> [options]
       deno run -A main.ts <command> [options]

Commands:
${lines.join("\n")}

Run "netsentinel <command> --help" for a command's options.`;
}

/**
 * Runs the CLI on `args` and resolves to the exit code. Never throws for
 * usage or known errors.
 */
export async function runCli(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (
    name === undefined || name === "--help" || name === "-h" || name === "help"
  ) {
    printOut(programHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    printOut(`netsentinel ${VERSION}`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) {
      throw new UsageError(
        name.startsWith("-")
          ? `unknown option "${name}" (try --help)`
          : `unknown command "${name}" (try --help)`,
      );
    }
    const parsed = parseCommandArgs(cmd, rest);
    if (parsed === null) {
      printOut(cmd.help);
      return 0;
    }
    return await cmd.run(parsed.flags, parsed.positionals);
  } catch (e) {
    // Output piped into a reader that stopped (| head): end quietly, as Unix tools do.
    if (e instanceof Deno.errors.BrokenPipe) return 0;
    if (e instanceof UsageError) {
      printErr(`netsentinel: ${e.message}`);
      return 2;
    }
    if (knownErrors.some((k) => e instanceof k)) {
      printErr(`netsentinel: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}
