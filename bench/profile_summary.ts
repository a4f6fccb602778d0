/**
 * Summarises a V8 CPU profile (`deno run --cpu-prof …` writes one
 * `.cpuprofile` per thread): where the time went by pipeline stage, the
 * top functions by self time, and the longest stretches without idle (the
 * event-loop stalls a dashboard request would wait behind).
 *
 *   deno run -R bench/profile_summary.ts FILE.cpuprofile [--top N] [--stalls N]
 *
 * Self time of a sample goes to its leaf function. In the by-stage table a
 * sample whose leaf is a V8 builtin or a runtime op (no file of ours) is
 * charged to the nearest caller in a file, so `Map.get` called by the flow
 * table counts as `flows/`. Stages are this repository's folders, with
 * `detect/` split by detector file; Deno's own modules are `runtime`,
 * npm packages `npm`.
 *
 * @example
 * ```sh
 * deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof main.ts analyze big.pcap
 * deno run -R bench/profile_summary.ts /tmp/prof/CPU.*.cpuprofile
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).href;

/** A call frame of a profile node. */
export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based line. */
  readonly lineNumber: number;
}

/** A node of the profile's call tree. */
export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

/** The `.cpuprofile` JSON that V8 writes. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  /** µs between a sample and the one before it. */
  readonly timeDeltas: readonly number[];
}

/** A profile file is not a V8 CPU profile. */
export class ProfileFormatError extends SyntaxError {
  /** Creates the error for `path` with what is wrong. */
  constructor(path: string, detail: string) {
    super(`Cannot read profile "${path}": ${detail}`);
    this.name = "ProfileFormatError";
  }
}

/** Validates parsed JSON as a {@link CpuProfile}. */
export function parseCpuProfile(input: unknown, path = "profile"): CpuProfile {
  if (typeof input !== "object" || input === null) {
    throw new ProfileFormatError(path, "not a JSON object");
  }
  const o = input as Record<string, unknown>;
  if (
    !Array.isArray(o.nodes) || !Array.isArray(o.samples) ||
    !Array.isArray(o.timeDeltas) || typeof o.startTime !== "number" ||
    typeof o.endTime !== "number"
  ) {
    throw new ProfileFormatError(
      path,
      "expected nodes, samples, timeDeltas, startTime and endTime",
    );
  }
  if (o.samples.length !== o.timeDeltas.length) {
    throw new ProfileFormatError(
      path,
      "samples and timeDeltas differ in length",
    );
  }
  for (const n of o.nodes) {
    if (
      typeof n !== "object" || n === null || typeof n.id !== "number" ||
      typeof n.callFrame !== "object" || n.callFrame === null ||
      typeof n.callFrame.functionName !== "string" ||
      typeof n.callFrame.url !== "string"
    ) {
      throw new ProfileFormatError(path, "a node lacks an id or a call frame");
    }
  }
  return o as unknown as CpuProfile;
}

/** Time charged to one key. */
export interface Share {
  readonly key: string;
  /** Milliseconds. */
  readonly ms: number;
}

/** What {@link summarise} found. */
export interface ProfileSummary {
  /** Wall time covered by samples, ms. */
  readonly totalMs: number;
  readonly idleMs: number;
  readonly gcMs: number;
  /** Self time by stage (builtins charged to their caller's file), busiest first. */
  readonly stages: Share[];
  /** Self time by function (`name  module:line`), busiest first. */
  readonly functions: Share[];
  /** Longest runs of consecutive non-idle samples, with their top functions. */
  readonly stalls: { startMs: number; ms: number; top: Share[] }[];
}

const SPECIAL = new Set([
  "(idle)",
  "(garbage collector)",
  "(program)",
  "(root)",
]);

/** The module key of a URL: a path in this repository, `runtime`, `npm` or `(native)`. */
export function moduleOf(url: string): string {
  if (url.startsWith(ROOT)) return url.slice(ROOT.length);
  if (url.startsWith("ext:") || url.startsWith("node:")) return "runtime";
  if (url.includes("/npm/") || url.startsWith("npm:")) return "npm";
  if (url === "") return "(native)";
  return url;
}

/** The stage of a module key: its folder, `detect/<file>` for detectors. */
export function stageOf(module: string): string {
  const parts = module.split("/");
  if (parts.length < 2) return module;
  if (parts[0] === "detect") return `detect/${parts[1]!.replace(/\.ts$/, "")}`;
  return `${parts[0]}/`;
}

function label(cf: CallFrame): string {
  const name = cf.functionName || "(anonymous)";
  if (SPECIAL.has(name)) return name;
  const m = moduleOf(cf.url);
  return m === "(native)"
    ? `${name}  (native)`
    : `${name}  ${m}:${cf.lineNumber + 1}`;
}

function top(map: Map<string, number>, n: number): Share[] {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, us]) => ({
    key,
    ms: us / 1000,
  }));
}

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

/** Summarises a profile: stages, top `n` functions, `stalls` longest stalls. */
export function summarise(
  p: CpuProfile,
  opts: { top?: number; stalls?: number } = {},
): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // The stage a sample is charged to: the leaf's file, or the nearest
  // caller's for builtins and ops.
  const stageCache = new Map<number, string>();
  const stageOfNode = (id: number): string => {
    const hit = stageCache.get(id);
    if (hit !== undefined) return hit;
    const n = byId.get(id)!;
    const name = n.callFrame.functionName;
    let s: string;
    if (SPECIAL.has(name)) s = name;
    else if (n.callFrame.url !== "") s = stageOf(moduleOf(n.callFrame.url));
    else {
      const up = parent.get(id);
      s = up === undefined ? "(native)" : stageOfNode(up);
      if (s === "(root)") s = "(native)";
    }
    stageCache.set(id, s);
    return s;
  };
  const fns = new Map<string, number>();
  const stages = new Map<string, number>();
  let total = 0, idle = 0, gc = 0;
  const stalls: { start: number; us: number; fns: Map<string, number> }[] = [];
  let cur: { start: number; us: number; fns: Map<string, number> } | null =
    null;
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    // A sample covers the time until the next one.
    const us = p.timeDeltas[i + 1] ?? 0;
    t += p.timeDeltas[i]!;
    const node = byId.get(p.samples[i]!);
    if (node === undefined) continue;
    const key = label(node.callFrame);
    total += us;
    add(fns, key, us);
    add(stages, stageOfNode(node.id), us);
    if (node.callFrame.functionName === "(idle)") {
      idle += us;
      if (cur) stalls.push(cur);
      cur = null;
      continue;
    }
    if (node.callFrame.functionName === "(garbage collector)") gc += us;
    cur ??= { start: t, us: 0, fns: new Map() };
    cur.us += us;
    add(cur.fns, key, us);
  }
  if (cur) stalls.push(cur);
  stalls.sort((a, b) => b.us - a.us);
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    stages: top(stages, Infinity),
    functions: top(fns, opts.top ?? 25),
    stalls: stalls.slice(0, opts.stalls ?? 5).map((s) => ({
      startMs: s.start / 1000,
      ms: s.us / 1000,
      top: top(s.fns, 4),
    })),
  };
}

/** Formats a summary as the printed text. */
export function formatSummary(s: ProfileSummary, title: string): string {
  const busy = s.totalMs - s.idleMs;
  const pct = (ms: number) => busy > 0 ? (100 * ms / busy).toFixed(1) : "-";
  const out: string[] = [
    `${title}: ${(s.totalMs / 1000).toFixed(2)} s sampled, ${
      (busy / 1000).toFixed(2)
    } s busy (idle ${(s.idleMs / 1000).toFixed(2)} s, GC ${
      (s.gcMs / 1000).toFixed(2)
    } s); % of busy time`,
    "",
    "by stage (self time; builtins and ops charged to their caller's file)",
  ];
  for (const x of s.stages) {
    if (x.key === "(idle)") continue;
    out.push(
      `  ${x.ms.toFixed(0).padStart(7)} ms ${
        pct(x.ms).padStart(5)
      } %  ${x.key}`,
    );
  }
  out.push("", "top functions by self time");
  for (const x of s.functions) {
    if (x.key === "(idle)") continue;
    out.push(
      `  ${x.ms.toFixed(0).padStart(7)} ms ${
        pct(x.ms).padStart(5)
      } %  ${x.key}`,
    );
  }
  out.push("", "longest stretches without idle (event-loop stalls)");
  for (const st of s.stalls) {
    out.push(
      `  ${st.ms.toFixed(0).padStart(7)} ms at ${
        (st.startMs / 1000).toFixed(2)
      } s: ${
        st.top.map((f) => `${f.key.split("  ")[0]} ${f.ms.toFixed(0)} ms`)
          .join(", ")
      }`,
    );
  }
  return out.join("\n");
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      top: { type: "string", default: "25" },
      stalls: { type: "string", default: "5" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) {
    throw new Error(
      "Usage: profile_summary.ts FILE.cpuprofile... [--top N] [--stalls N]",
    );
  }
  const parts: string[] = [];
  for (const path of positionals) {
    const p = parseCpuProfile(JSON.parse(await Deno.readTextFile(path)), path);
    parts.push(formatSummary(
      summarise(p, { top: Number(values.top), stalls: Number(values.stalls) }),
      path,
    ));
  }
  Deno.stdout.writeSync(new TextEncoder().encode(parts.join("\n\n") + "\n"));
}

if (import.meta.main) await main();
