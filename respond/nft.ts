/**
 * nftables through the `nft` command: the appliance's one table
 * (`inet netsentinel`: sets `blocked4` and `blocked6` with per-element
 * timeouts and CIDR intervals, drop rules at priority -10, before typical
 * filter chains: packets from a blocked address in the input and forward
 * hooks, packets to one in the output and forward hooks, so a block cuts
 * both directions: an attacker's connections in and a home device's
 * connections out to a listed controller), and batched element changes
 * in single `nft -f -` transactions. Never touches other tables.
 *
 * @module
 */

/** Why nft could not be used. */
export type NftFailure = "missing" | "permission" | "failed";

/** An nft invocation failed. */
export class NftError extends Error {
  /** "missing": no nft; "permission": no CAP_NET_ADMIN; "failed": anything else. */
  readonly kind: NftFailure;
  /** Creates the error; `kind` says what the fix is. */
  constructor(kind: NftFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NftError";
    this.kind = kind;
  }
}

/** One set element: an address or prefix with its timeout. */
export interface NftElement {
  /** Normalised address or CIDR text ("1.2.3.4", "10.0.0.0/24"). */
  readonly target: string;
  readonly version: 4 | 6;
  /** Timeout in seconds (whole, at least 1). */
  readonly timeout: number;
  /** Seconds left, when read back from nft. */
  readonly expires?: number;
}

/** Options of {@link Nft}. */
export interface NftOptions {
  /**
   * The nft command line (default `["nft"]`); for a network namespace,
   * `["ip", "netns", "exec", NS, "nft"]`.
   */
  command?: readonly string[];
  /** Table name in family inet (default "netsentinel"). */
  table?: string;
  /** Priority of the input and forward chains (default -10). */
  priority?: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Name of the set holding elements of an address family. */
export function setName(version: 4 | 6): string {
  return version === 4 ? "blocked4" : "blocked6";
}

function elementText(e: NftElement): string {
  return `${e.target} timeout ${Math.max(1, Math.ceil(e.timeout))}s`;
}

/** Runs nft for the appliance's table. */
export class Nft {
  /** The command line used. */
  readonly command: readonly string[];
  /** The table name. */
  readonly table: string;
  readonly #priority: number;

  /** Creates a runner; nothing runs until a method is called. */
  constructor(opts: NftOptions = {}) {
    this.command = opts.command ?? ["nft"];
    this.table = opts.table ?? "netsentinel";
    this.#priority = opts.priority ?? -10;
  }

  /**
   * Runs nft with `args`, feeding `stdin` when given; resolves to standard
   * output. Throws an {@link NftError} classified by cause.
   */
  async run(args: readonly string[], stdin?: string): Promise<string> {
    const [bin, ...pre] = this.command;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(bin!, {
        args: [...pre, ...args],
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new NftError(
          "missing",
          `Cannot run "${bin}": not found (install nftables)`,
          { cause: e },
        );
      }
      if (
        e instanceof Deno.errors.PermissionDenied ||
        e instanceof Deno.errors.NotCapable
      ) {
        throw new NftError(
          "permission",
          `Cannot run "${bin}": ${e.message} (allow running it: --allow-run)`,
          { cause: e },
        );
      }
      throw e;
    }
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(encoder.encode(stdin));
      await w.close();
    }
    const out = await child.output();
    const stderr = decoder.decode(out.stderr).trim();
    if (!out.success) {
      const cmd = [...this.command, ...args].join(" ");
      if (/Operation not permitted|Permission denied/i.test(stderr)) {
        throw new NftError(
          "permission",
          `Cannot change nftables ("${cmd}"): permission denied (run as root or grant CAP_NET_ADMIN)`,
        );
      }
      if (
        out.code === 127 ||
        /No such file or directory.*nft|nft: not found|exec of "nft" failed/i
          .test(stderr)
      ) {
        throw new NftError(
          "missing",
          `Cannot run "${cmd}": nft not found (install nftables)`,
        );
      }
      throw new NftError(
        "failed",
        `nft failed ("${cmd}"): ${stderr.split("\n")[0] ?? `exit ${out.code}`}`,
      );
    }
    return decoder.decode(out.stdout);
  }

  /** The nft version text ("nftables v1.0.6 …"). */
  async version(): Promise<string> {
    return (await this.run(["--version"])).trim();
  }

  /**
   * The script that (re)creates the table atomically with `elements`: the
   * `table …{}` / `delete table` pair makes it work whether or not the
   * table exists, and nft applies the whole file as one transaction.
   */
  installScript(elements: readonly NftElement[] = []): string {
    const t = this.table, p = this.#priority;
    const set = (v: 4 | 6) => {
      const els = elements.filter((e) => e.version === v).map(elementText);
      return `  set ${setName(v)} {
    type ${v === 4 ? "ipv4_addr" : "ipv6_addr"}
    flags interval, timeout
${els.length > 0 ? `    elements = { ${els.join(", ")} }\n` : ""}  }`;
    };
    const chain = (name: string, dirs: readonly ("saddr" | "daddr")[]) =>
      `  chain ${name} {
    type filter hook ${name} priority ${p}; policy accept;
${
        dirs.map((d) =>
          `    ip ${d} @blocked4 drop\n    ip6 ${d} @blocked6 drop\n`
        ).join("")
      }  }`;
    return `table inet ${t} {}
delete table inet ${t}
table inet ${t} {
${set(4)}
${set(6)}
${chain("input", ["saddr"])}
${chain("forward", ["saddr", "daddr"])}
${chain("output", ["daddr"])}
}
`;
  }

  /** (Re)creates the table with exactly `elements`, in one transaction. */
  async install(elements: readonly NftElement[] = []): Promise<void> {
    await this.run(["-f", "-"], this.installScript(elements));
  }

  /**
   * True when the table exists with both sets (interval and timeout flags)
   * and the three chains; false when it is missing or has another shape
   * (a table of an older version without the output chain is rebuilt).
   */
  async tableOk(): Promise<boolean> {
    let text: string;
    try {
      text = await this.run(["-j", "list", "table", "inet", this.table]);
    } catch (e) {
      if (e instanceof NftError && e.kind === "failed") return false;
      throw e;
    }
    const items = nftItems(text);
    const sets = new Map<string, string[]>();
    const chains = new Set<string>();
    for (const it of items) {
      const s = it.set as Record<string, unknown> | undefined;
      if (s && typeof s.name === "string") {
        sets.set(s.name, Array.isArray(s.flags) ? s.flags.map(String) : []);
      }
      const c = it.chain as Record<string, unknown> | undefined;
      if (c && typeof c.name === "string" && typeof c.hook === "string") {
        chains.add(c.name);
      }
    }
    for (const v of [4, 6] as const) {
      const f = sets.get(setName(v));
      if (!f || !f.includes("interval") || !f.includes("timeout")) return false;
    }
    return chains.has("input") && chains.has("forward") &&
      chains.has("output");
  }

  /** Lists the elements of both sets with their timeouts and seconds left. */
  async listElements(): Promise<NftElement[]> {
    const out: NftElement[] = [];
    for (const v of [4, 6] as const) {
      const text = await this.run([
        "-j",
        "list",
        "set",
        "inet",
        this.table,
        setName(v),
      ]);
      for (const it of nftItems(text)) {
        const s = it.set as { elem?: unknown } | undefined;
        if (!s || !Array.isArray(s.elem)) continue;
        for (const raw of s.elem) {
          const e = parseElem(raw, v);
          if (e !== null) out.push(e);
        }
      }
    }
    return out;
  }

  /**
   * Removes then adds elements in one transaction (a timeout is refreshed
   * by removing and adding the element). Fails as a whole when any change
   * fails; see {@link applyEach}.
   */
  async apply(
    changes: { add?: readonly NftElement[]; remove?: readonly NftElement[] },
  ): Promise<void> {
    const script = this.changeScript(changes);
    if (script !== "") await this.run(["-f", "-"], script);
  }

  /** The script {@link apply} runs. */
  changeScript(
    changes: { add?: readonly NftElement[]; remove?: readonly NftElement[] },
  ): string {
    const lines: string[] = [];
    for (const v of [4, 6] as const) {
      const rm = (changes.remove ?? []).filter((e) => e.version === v);
      if (rm.length > 0) {
        lines.push(
          `delete element inet ${this.table} ${setName(v)} { ${
            rm.map((e) => e.target).join(", ")
          } }`,
        );
      }
    }
    for (const v of [4, 6] as const) {
      const add = (changes.add ?? []).filter((e) => e.version === v);
      if (add.length > 0) {
        lines.push(
          `add element inet ${this.table} ${setName(v)} { ${
            add.map(elementText).join(", ")
          } }`,
        );
      }
    }
    return lines.length === 0 ? "" : lines.join("\n") + "\n";
  }

  /**
   * Applies changes one element at a time (after a batch failed); returns
   * the errors of the ones that failed. Removing an element that is not
   * there is not an error.
   */
  async applyEach(
    changes: { add?: readonly NftElement[]; remove?: readonly NftElement[] },
  ): Promise<NftError[]> {
    const errors: NftError[] = [];
    for (const e of changes.remove ?? []) {
      try {
        await this.apply({ remove: [e] });
      } catch (err) {
        if (!(err instanceof NftError)) throw err;
        if (
          err.kind !== "failed" ||
          !/No such file|does not exist/i.test(err.message)
        ) {
          errors.push(err);
        }
      }
    }
    for (const e of changes.add ?? []) {
      try {
        await this.apply({ add: [e] });
      } catch (err) {
        if (!(err instanceof NftError)) throw err;
        errors.push(err);
      }
    }
    return errors;
  }
}

function nftItems(text: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new NftError(
      "failed",
      `nft printed JSON that does not parse: ${(e as Error).message}`,
    );
  }
  const list = (parsed as { nftables?: unknown })?.nftables;
  return Array.isArray(list)
    ? list.filter((x): x is Record<string, unknown> =>
      typeof x === "object" && x !== null
    )
    : [];
}

function parseElem(raw: unknown, version: 4 | 6): NftElement | null {
  let val: unknown = raw;
  let timeout = 0;
  let expires: number | undefined;
  if (typeof raw === "object" && raw !== null && "elem" in raw) {
    const e = (raw as { elem: Record<string, unknown> }).elem;
    val = e.val;
    if (typeof e.timeout === "number") timeout = e.timeout;
    if (typeof e.expires === "number") expires = e.expires;
  }
  let target: string | null = null;
  if (typeof val === "string") target = val;
  else if (typeof val === "object" && val !== null && "prefix" in val) {
    const p = (val as { prefix: { addr?: unknown; len?: unknown } }).prefix;
    if (typeof p.addr === "string" && typeof p.len === "number") {
      target = `${p.addr}/${p.len}`;
    }
  }
  if (target === null) return null;
  return { target, version, timeout, expires };
}
