/**
 * Test fixture: two fresh network namespaces joined by a veth pair, with
 * addresses in 10.200.X.0/24 and static neighbour entries (no ARP), so tests
 * and benches send traffic only between addresses they made, never to the
 * host's own networks. Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and
 * iproute2. Remove with `await using` or {@link VethPair.remove}.
 *
 * @example
 * ```ts
 * await using pair = await createVethPair();
 * await pair.exec(pair.b, ["ping", "-c", "1", pair.a.ip]);
 * ```
 *
 * @module
 */

/** One side of a {@link VethPair}. */
export interface VethEnd {
  /** Namespace name (under /run/netns). */
  readonly ns: string;
  /** Interface name inside that namespace. */
  readonly iface: string;
  /** IPv4 address of the interface (no prefix length). */
  readonly ip: string;
  /** MAC address of the interface. */
  readonly mac: string;
}

/** Two namespaces joined by a veth, removed on dispose. */
export interface VethPair extends AsyncDisposable {
  /** Side A (addresses ending in .1). */
  readonly a: VethEnd;
  /** Side B (addresses ending in .2). */
  readonly b: VethEnd;
  /** Runs `cmd` inside `end`'s namespace; resolves to its output. */
  exec(end: VethEnd, cmd: readonly string[]): Promise<Deno.CommandOutput>;
  /** Deletes both namespaces (and with them the veth); idempotent. */
  remove(): Promise<void>;
}

/** A command of the fixture failed. */
export class NetnsCommandError extends Error {
  /** Creates the error with the command line and its stderr. */
  constructor(cmd: readonly string[], stderr: string) {
    super(`Command failed: "${cmd.join(" ")}": ${stderr.trim()}`);
    this.name = "NetnsCommandError";
  }
}

const decoder = new TextDecoder();

async function run(cmd: readonly string[]): Promise<string> {
  const [bin, ...args] = cmd;
  const out = await new Deno.Command(bin!, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new NetnsCommandError(cmd, decoder.decode(out.stderr));
  }
  return decoder.decode(out.stdout);
}

/**
 * Why namespace tests cannot run here ("not root", "iproute2 missing"), or
 * null when they can.
 */
export async function netnsUnavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "not root";
  try {
    await run(["ip", "-V"]);
  } catch {
    return "iproute2 (ip) missing";
  }
  return null;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

async function macOf(ns: string, iface: string): Promise<string> {
  const text = await run(["ip", "-n", ns, "-j", "link", "show", iface]);
  const parsed: unknown = JSON.parse(text);
  const first: unknown = Array.isArray(parsed) ? parsed[0] : null;
  if (typeof first === "object" && first !== null && "address" in first) {
    const addr = first.address;
    if (typeof addr === "string") return addr;
  }
  throw new NetnsCommandError(["ip", "-n", ns, "link", "show", iface], text);
}

async function waitUp(ns: string, iface: string, deadlineMs: number) {
  const until = Date.now() + deadlineMs;
  let last = "";
  while (Date.now() < until) {
    last = await run(["ip", "-n", ns, "-o", "link", "show", iface]);
    if (/state UP/.test(last)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Interface "${iface}" in "${ns}" is not up: ${last.trim()}`);
}

/**
 * Creates namespaces `ns-<hex>a` and `ns-<hex>b` joined by a veth pair
 * (`vs<hex>a` ↔ `vs<hex>b`), addresses 10.200.X.1/24 and 10.200.X.2/24 with
 * X random, both links and loopbacks up, neighbours set statically. On any
 * failure whatever was made is removed before the error is thrown.
 */
export async function createVethPair(): Promise<VethPair> {
  const tag = randomHex(3);
  const subnet = crypto.getRandomValues(new Uint8Array(1))[0]!;
  const nsA = `ns-${tag}a`, nsB = `ns-${tag}b`;
  const ifA = `vs${tag}a`, ifB = `vs${tag}b`;
  const ipA = `10.200.${subnet}.1`, ipB = `10.200.${subnet}.2`;
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    for (const ns of [nsA, nsB]) {
      try {
        await run(["ip", "netns", "del", ns]);
      } catch (e) {
        // Already gone is fine; anything else is worth failing for.
        if (
          !(e instanceof NetnsCommandError) || !/No such file/.test(e.message)
        ) {
          throw e;
        }
      }
    }
  };
  try {
    await run(["ip", "netns", "add", nsA]);
    await run(["ip", "netns", "add", nsB]);
    await run([
      "ip",
      "-n",
      nsA,
      "link",
      "add",
      ifA,
      "type",
      "veth",
      "peer",
      "name",
      ifB,
      "netns",
      nsB,
    ]);
    for (const [ns, iface, ip] of [[nsA, ifA, ipA], [nsB, ifB, ipB]] as const) {
      await run(["ip", "-n", ns, "addr", "add", `${ip}/24`, "dev", iface]);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
      await run(["ip", "-n", ns, "link", "set", iface, "up"]);
    }
    const macA = await macOf(nsA, ifA), macB = await macOf(nsB, ifB);
    await run([
      "ip",
      "-n",
      nsA,
      "neigh",
      "replace",
      ipB,
      "lladdr",
      macB,
      "dev",
      ifA,
      "nud",
      "permanent",
    ]);
    await run([
      "ip",
      "-n",
      nsB,
      "neigh",
      "replace",
      ipA,
      "lladdr",
      macA,
      "dev",
      ifB,
      "nud",
      "permanent",
    ]);
    await waitUp(nsA, ifA, 5000);
    await waitUp(nsB, ifB, 5000);
    const a = { ns: nsA, iface: ifA, ip: ipA, mac: macA };
    const b = { ns: nsB, iface: ifB, ip: ipB, mac: macB };
    return {
      a,
      b,
      exec: (end, cmd) =>
        new Deno.Command("ip", {
          args: ["netns", "exec", end.ns, ...cmd],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output(),
      remove,
      [Symbol.asyncDispose]: remove,
    };
  } catch (e) {
    await remove();
    throw e;
  }
}
