/**
 * `block`, `unblock`, `blocks`, `allow`, `disallow`: the blocklist and the
 * allowlist by hand. Each command writes KV (the source of truth) and then
 * makes nftables match it itself, so a change takes effect at once; a
 * running appliance picks it up from KV at its next re-sync (every 5 s).
 * A refused block (loopback, the appliance's own address, a signed-in
 * admin, …) exits 1 with the reason.
 *
 * @module
 */
import { UsageError, UserError } from "../common/errors.ts";
import { printErr, printOut } from "../common/output.ts";
import {
  allowWidthError,
  formatDuration,
  Nft,
  NftError,
} from "../respond/mod.ts";
import {
  deleteAllow,
  listAllow,
  listBlocks,
  parseTarget,
} from "../store/mod.ts";
import {
  commandBlocker,
  configuredBlockPolicy,
  DATA_HELP,
  DATA_OPTION,
  openStoreFromFlags,
} from "./_store_cli.ts";
import { type Command, duration, type Flags, oneOf, str } from "./command.ts";

function onePositional(
  name: string,
  positionals: string[],
  what: string,
): string {
  if (positionals.length !== 1) {
    throw new UsageError(`${name}: give exactly one ${what} (try --help)`);
  }
  const t = parseTarget(positionals[0]!);
  if (t === null) {
    throw new UsageError(
      `${name}: "${positionals[0]}" is not an IP address or CIDR`,
    );
  }
  return t.text;
}

/** The `block` command. */
export const blockCommand: Command = {
  name: "block",
  summary: "block an address or CIDR in nftables (recorded in KV)",
  positionals: true,
  options: {
    for: { type: "string" },
    reason: { type: "string" },
    ...DATA_OPTION,
  },
  help: `Usage: netsentinel block [options] IP|CIDR

Blocks traffic from an address or prefix: records the block in the
database and adds it to the nftables set at once (needs root or
CAP_NET_ADMIN). Never blocks loopback, link-local, multicast or broadcast
addresses, the appliance's own addresses, gateways or DNS servers,
allowlisted prefixes, or the address of a signed-in admin: those exit 1
with the reason.

Options:
  --for DURATION         how long (90s, 15m, 4h, 7d; default: the policy's
                         manual_duration, 24h)
  --reason TEXT          why (shown in "blocks" and on the dashboard)
${DATA_HELP}
  -h, --help             show this help

Exit codes: 0 blocked, 1 refused or not applied to nftables, 2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    const target = onePositional("block", positionals, "address or CIDR");
    using store = await openStoreFromFlags(flags, { create: true });
    const policy = await configuredBlockPolicy(store, flags);
    const seconds = duration(flags, "for", policy.manual_duration);
    const blocker = await commandBlocker(store, flags);
    try {
      const r = await blocker.block(target, {
        duration: seconds,
        reason: str(flags, "reason") ?? "manual block",
        by: "cli",
        source: "cli",
      });
      if (!r.ok) throw new UserError(`Refusing to block: ${r.detail}`);
      printOut(
        `Blocked ${r.record.target} for ${
          formatDuration(seconds)
        } (until ${r.record.until})`,
      );
      if (!r.applied) {
        throw new UserError(
          `The block is recorded but nftables was not changed: ${r.error} (a running appliance with CAP_NET_ADMIN applies it within 5 s)`,
        );
      }
      return 0;
    } finally {
      await blocker.stop();
    }
  },
};

/** The `unblock` command. */
export const unblockCommand: Command = {
  name: "unblock",
  summary: "lift the block of an address or CIDR",
  positionals: true,
  options: { ...DATA_OPTION },
  help: `Usage: netsentinel unblock [options] IP|CIDR

Lifts the block of exactly this address or prefix (from the database and
from nftables) and forgets its earlier offences.

Options:
${DATA_HELP}
  -h, --help             show this help

Exit codes: 0 lifted, 1 no such block (or nftables not changed), 2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    const target = onePositional("unblock", positionals, "address or CIDR");
    using store = await openStoreFromFlags(flags, { create: false });
    const blocker = await commandBlocker(store, flags);
    try {
      const r = await blocker.unblock(target);
      if (!r.removed) throw new UserError(`No block of "${target}"`);
      printOut(`Unblocked ${target}`);
      if (r.coveredBy.length > 0) {
        printErr(
          `netsentinel: "${target}" is still blocked by ${
            r.coveredBy.join(", ")
          }`,
        );
      }
      if (r.error !== null) {
        throw new UserError(
          `The block is lifted in the database but nftables was not changed: ${r.error}`,
        );
      }
      return 0;
    } finally {
      await blocker.stop();
    }
  },
};

/** The `blocks` command. */
export const blocksCommand: Command = {
  name: "blocks",
  summary: "list active blocks and the allowlist",
  options: { format: { type: "string" }, ...DATA_OPTION },
  help: `Usage: netsentinel blocks [options]

Lists the active blocks (target, time left, source, reason, and whether
nftables holds it) and the allowlist.

Options:
  --format table|json    output format (default table)
${DATA_HELP}
  -h, --help             show this help`,
  async run(flags: Flags): Promise<number> {
    const format = oneOf(flags, "format", ["table", "json"], "table");
    using store = await openStoreFromFlags(flags, { create: false });
    const blocks = await listBlocks(store);
    const allow = await listAllow(store);
    let inNft: Set<string> | null = null;
    try {
      const els = await new Nft().listElements();
      inNft = new Set(els.map((e) => parseTarget(e.target)?.text ?? e.target));
    } catch (e) {
      if (!(e instanceof NftError)) throw e;
    }
    if (format === "json") {
      printOut(JSON.stringify({
        blocks: blocks.map((b) => ({
          ...b,
          in_nftables: inNft?.has(b.target) ?? null,
        })),
        allow,
      }));
      return 0;
    }
    const now = Date.now();
    const lines: string[] = [];
    if (blocks.length === 0) lines.push("No active blocks.");
    else {
      lines.push(
        "TARGET                         LEFT      NFT  SOURCE  REASON",
      );
      for (const b of blocks) {
        const left = formatDuration((Date.parse(b.until) - now) / 1000);
        const nft = inNft === null ? "?" : inNft.has(b.target) ? "yes" : "no";
        lines.push(
          `${b.target.padEnd(30)} ${left.padEnd(9)} ${nft.padEnd(4)} ${
            b.source.padEnd(7)
          } ${b.reason}`,
        );
      }
    }
    lines.push("");
    if (allow.length === 0) lines.push("Allowlist is empty.");
    else {
      lines.push(
        "ALLOWED                        UNTIL                     NOTE",
      );
      for (const a of allow) {
        lines.push(
          `${a.cidr.padEnd(30)} ${(a.until ?? "-").padEnd(25)} ${a.note}`,
        );
      }
    }
    if (inNft === null) {
      lines.push("", "(nftables not readable here: the NFT column shows ?)");
    }
    printOut(lines.join("\n"));
    return 0;
  },
};

/** The `allow` command. */
export const allowCommand: Command = {
  name: "allow",
  summary: "allowlist a CIDR: never blocked (lifts blocks inside it)",
  positionals: true,
  options: {
    note: { type: "string" },
    for: { type: "string" },
    ...DATA_OPTION,
  },
  help: `Usage: netsentinel allow [options] CIDR

Adds an address or prefix to the allowlist: it is never blocked, and
blocks that overlap it are lifted now. Like blocks, at most a /8 (IPv4) or
a /32 (IPv6): a wider entry would switch blocking off.

Options:
  --note TEXT            why (shown in "blocks" and on the dashboard)
  --for DURATION         until when (90s, 15m, 4h, 7d; default: no end)
${DATA_HELP}
  -h, --help             show this help`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    const cidr = onePositional("allow", positionals, "address or CIDR");
    // Refused before anything is opened (nftables is not touched).
    const wide = allowWidthError(parseTarget(cidr)!);
    if (wide !== null) throw new UserError(`Cannot allowlist: ${wide}`);
    const forText = str(flags, "for");
    const seconds = forText === undefined
      ? undefined
      : duration(flags, "for", 0);
    using store = await openStoreFromFlags(flags, { create: true });
    const blocker = await commandBlocker(store, flags);
    try {
      const r = await blocker.allow(cidr, {
        note: str(flags, "note") ?? "",
        duration: seconds,
        by: "cli",
      });
      if (r.record === null) {
        throw new UserError(`Cannot allowlist: ${r.error}`);
      }
      printOut(
        `Allowlisted ${cidr}${
          seconds === undefined ? "" : ` for ${formatDuration(seconds)}`
        }`,
      );
      if (r.lifted.length > 0) {
        printOut(`Lifted blocks: ${r.lifted.join(", ")}`);
      }
      if (r.error !== null && r.lifted.length > 0) {
        throw new UserError(
          `The lifted blocks are still in nftables: ${r.error}`,
        );
      }
      return 0;
    } finally {
      await blocker.stop();
    }
  },
};

/** The `disallow` command. */
export const disallowCommand: Command = {
  name: "disallow",
  summary: "remove a CIDR from the allowlist",
  positionals: true,
  options: { ...DATA_OPTION },
  help: `Usage: netsentinel disallow [options] CIDR

Removes exactly this address or prefix from the allowlist.

Options:
${DATA_HELP}
  -h, --help             show this help

Exit codes: 0 removed, 1 not on the allowlist, 2 bad usage.`,
  async run(flags: Flags, positionals: string[]): Promise<number> {
    const cidr = onePositional("disallow", positionals, "address or CIDR");
    using store = await openStoreFromFlags(flags, { create: false });
    const removed = await deleteAllow(store, cidr);
    if (!removed) throw new UserError(`"${cidr}" is not on the allowlist`);
    printOut(`Removed ${cidr} from the allowlist`);
    return 0;
  },
};
