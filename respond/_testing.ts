/**
 * Test helpers of respond/: whether nft tests can run, a throwaway network
 * namespace, reading a namespace's set elements, pinging between the ends
 * of a veth pair.
 *
 * @module
 */
import {
  netnsUnavailable,
  type VethEnd,
  type VethPair,
} from "../tests/netns.ts";
import { Nft, NftError } from "./nft.ts";

/** Why nft namespace tests cannot run here, or null when they can. */
export async function nftTestsUnavailable(): Promise<string | null> {
  const ns = await netnsUnavailable();
  if (ns !== null) return ns;
  try {
    const out = await new Deno.Command("nft", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success ? null : "nft does not run";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "nft (nftables) missing";
    throw e;
  }
}

/**
 * The `ignore` value for a test needing root, iproute2 and nft: skipped
 * outside CI when they are missing, never skipped under CI=true.
 */
export async function ignoreWithout(): Promise<
  { ignore: boolean; why: string }
> {
  const why = await nftTestsUnavailable();
  return {
    ignore: why !== null && Deno.env.get("CI") !== "true",
    why: why ?? "",
  };
}

async function run(args: string[]): Promise<void> {
  const out = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `"${args.join(" ")}" failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/** A bare network namespace (only `lo`, up), deleted on dispose. */
export interface TempNetns extends AsyncDisposable {
  readonly name: string;
}

/** Creates a namespace with a random short name. */
export async function tempNetns(): Promise<TempNetns> {
  const name = "nsr-" + crypto.randomUUID().slice(0, 8);
  await run(["ip", "netns", "add", name]);
  try {
    await run(["ip", "-n", name, "link", "set", "lo", "up"]);
  } catch (e) {
    await run(["ip", "netns", "del", name]);
    throw e;
  }
  return {
    name,
    async [Symbol.asyncDispose]() {
      await run(["ip", "netns", "del", name]);
    },
  };
}

/** The targets in the blocker's sets inside `ns` (empty when the table is missing). */
export async function nsElements(ns: string): Promise<string[]> {
  const nft = new Nft({ command: ["ip", "netns", "exec", ns, "nft"] });
  try {
    return (await nft.listElements()).map((e) => e.target).sort();
  } catch (e) {
    if (e instanceof NftError && e.kind === "failed") return [];
    throw e;
  }
}

/** One ping from `from` (optionally from address `src`) to `to`; true when answered. */
export async function pings(
  pair: VethPair,
  from: VethEnd,
  to: VethEnd,
  src?: string,
): Promise<boolean> {
  const args = ["ping", "-n", "-c", "1", "-W", "1"];
  if (src !== undefined) args.push("-I", src);
  args.push(to.ip);
  return (await pair.exec(from, args)).success;
}

/** Adds a second address on `end`'s interface, known to the peer without ARP. */
export async function addAddress(
  end: VethEnd,
  peer: VethEnd,
  ip: string,
): Promise<void> {
  await run(["ip", "-n", end.ns, "addr", "add", `${ip}/24`, "dev", end.iface]);
  await run([
    "ip",
    "-n",
    peer.ns,
    "neigh",
    "replace",
    ip,
    "lladdr",
    end.mac,
    "dev",
    peer.iface,
    "nud",
    "permanent",
  ]);
}
