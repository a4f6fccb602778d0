/**
 * Test helpers: compile rule text with the shipped classtypes, and fill an
 * inspection record by hand (buffers by name).
 *
 * @module
 */
import { join } from "node:path";
import { bufferId } from "./buffers.ts";
import { parseClassifications } from "./compile.ts";
import { type Inspection, newInspection, RuleEngine } from "./engine.ts";
import { emptyLoadResult, type LoadResult, loadRuleText } from "./load.ts";
import type { Rule } from "./rule.ts";
import { ruleVars } from "./rule_vars.ts";

const CLASSES = parseClassifications(
  Deno.readTextFileSync(
    join(import.meta.dirname!, "..", "data", "rules", "classification.config"),
  ),
);

/** Loads rule text (one rule a line) with the default variables. */
export function loadText(text: string): LoadResult {
  return loadRuleText(text, "test.rules", {
    vars: ruleVars(["10.0.0.0/8"]),
    classes: CLASSES,
  }, emptyLoadResult());
}

/** Compiles one rule, throwing when it is refused. */
export function rule(text: string): Rule {
  const r = loadText(text);
  if (r.refused.length > 0) throw new Error(r.refused[0]!.detail);
  return r.rules[0]!;
}

/** Facts of a hand-made inspection. */
export interface Facts {
  src?: string;
  dst?: string;
  sp?: number;
  dp?: number;
  proto?: number;
  dir?: number;
  established?: boolean;
  app?: string;
  flowId?: number;
  tsUs?: number;
  tcpFlags?: number;
  ttl?: number;
  /** Buffers by name (pkt_data, http.uri, …): text or bytes. */
  bufs?: Record<string, string | Uint8Array>;
}

function v4(s: string): number {
  return s.split(".").reduce((a, b) => a * 256 + Number(b), 0);
}

/** Fills an inspection record from facts. */
export function inspection(
  f: Facts,
  x: Inspection = newInspection(),
): Inspection {
  x.filled.fill(0);
  x.version = 4;
  x.src[0] = v4(f.src ?? "10.0.0.1");
  x.dst[0] = v4(f.dst ?? "192.0.2.1");
  x.srcPort = f.sp ?? 40000;
  x.dstPort = f.dp ?? 80;
  x.proto = f.proto ?? 6;
  x.dir = f.dir ?? 0;
  x.established = f.established ?? true;
  x.app = f.app ?? "";
  x.flowId = f.flowId ?? 1;
  x.tsUs = f.tsUs ?? 1_000_000;
  x.tcpFlags = f.tcpFlags ?? 0x18;
  x.ttl = f.ttl ?? 64;
  x.payloadLen = 0;
  for (const [name, v] of Object.entries(f.bufs ?? {})) {
    const bytes = typeof v === "string"
      ? Uint8Array.from(v, (c) => c.charCodeAt(0))
      : v;
    const id = bufferId(name);
    const b = x.bufs[id]!;
    b.data = bytes;
    b.len = bytes.length;
    b.text = null;
    x.filled[id] = 1;
    if (name === "pkt_data") x.payloadLen = bytes.length;
  }
  return x;
}

/** The sids that alert for one inspection at `scope` over rule text. */
export function firing(
  rulesText: string,
  f: Facts,
  scope: "packet" | "stream" | "tx" = "packet",
): number[] {
  const r = loadText(rulesText);
  if (r.refused.length > 0) throw new Error(r.refused[0]!.detail);
  const out: number[] = [];
  const e = new RuleEngine(r.rules, (rule) => out.push(rule.sid));
  const x = inspection(f);
  if (scope === "packet") e.inspectPacket(x);
  else if (scope === "stream") e.inspectStream(x);
  else e.inspectTx(x);
  return out.sort((a, b) => a - b);
}
