/**
 * `passwd`: sets the dashboard's admin password. On a terminal it asks
 * twice without echo; otherwise it reads the first line of standard input
 * (`echo "$PW" | netsentinel passwd`). Only a salted PBKDF2 hash is stored;
 * signed-in sessions are signed out and API tokens revoked.
 *
 * @module
 */
import { UserError } from "../common/errors.ts";
import { printErr, printOut } from "../common/output.ts";
import { kvAuth, setAdminPassword } from "../server/mod.ts";
import { DATA_HELP, DATA_OPTION, openStoreFromFlags } from "./_store_cli.ts";
import type { Command, Flags } from "./command.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads one line from a terminal without echoing it. */
async function readHidden(prompt: string): Promise<string> {
  Deno.stderr.writeSync(enc.encode(prompt));
  Deno.stdin.setRaw(true);
  const buf = new Uint8Array(1);
  const out: number[] = [];
  try {
    while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      const c = buf[0]!;
      if (c === 13 || c === 10) break;
      if (c === 3) throw new UserError("Cancelled");
      if (c === 127 || c === 8) out.pop();
      else out.push(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(enc.encode("\n"));
  }
  return dec.decode(new Uint8Array(out));
}

/** Reads the first line of standard input (at most 4 KiB). */
async function readFirstLine(): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const c of Deno.stdin.readable) {
    chunks.push(c);
    total += c.byteLength;
    if (total > 4096 || c.includes(10)) break;
  }
  const all = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.byteLength;
  }
  return dec.decode(all).split(/\r?\n/)[0] ?? "";
}

/** The `passwd` command. */
export const passwdCommand: Command = {
  name: "passwd",
  summary: "set the dashboard's admin password",
  help: `Usage: netsentinel passwd [--data DIR]

Sets the password of the dashboard's "admin" user (at least 10 characters).
On a terminal it asks twice without echo; otherwise it reads the first line
of standard input. Only a salted PBKDF2 hash is stored. Everyone signed in
is signed out and every API token is revoked (make new ones on the Settings
page).

Options:
${DATA_HELP}

Examples:
  sudo netsentinel passwd
  printf '%s\\n' "$NEW_PASSWORD" | netsentinel passwd --data ./netsentinel-data`,
  options: { ...DATA_OPTION },
  async run(flags: Flags): Promise<number> {
    let password: string;
    if (Deno.stdin.isTerminal()) {
      password = await readHidden("New admin password: ");
      const again = await readHidden("Again: ");
      if (again !== password) {
        throw new UserError("The two passwords differ; nothing changed");
      }
    } else {
      password = await readFirstLine();
    }
    using store = await openStoreFromFlags(flags, { create: true });
    const ended = await setAdminPassword(kvAuth(store), password);
    const n = (k: number, one: string) => `${k} ${one}${k === 1 ? "" : "s"}`;
    printOut(
      `Admin password changed; ${n(ended.sessions, "session")} signed out and ${
        n(ended.tokens, "API token")
      } revoked (a running dashboard closes their live connections within a second; make new tokens on the Settings page).`,
    );
    if (Deno.stdin.isTerminal()) printErr("Sign in again at the dashboard.");
    return 0;
  },
};
