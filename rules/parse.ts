/**
 * The Suricata rule language's outer grammar
 * (https://docs.suricata.io/en/latest/rules/intro.html): a header of
 * action, protocol, source, source port, direction, destination and
 * destination port, then options in parentheses, `keyword;` or
 * `keyword:value;`, where `\;`, `\"` and `\\` escape inside a value.
 * Address and port expressions (variables, lists, ranges, negation, `any`)
 * compile to small matchers; `rule_vars.ts` holds the variables.
 *
 * @module
 */

/** A refusal: why a rule was not loaded. `reason` is a short fixed group. */
export class RuleError extends SyntaxError {
  /** A short group name for counting ("unsupported keyword: xbits"). */
  readonly reason: string;
  /** Creates a refusal with its group and a detail for the user. */
  constructor(reason: string, detail = "") {
    super(detail === "" ? reason : `${reason}: ${detail}`);
    this.name = "RuleError";
    this.reason = reason;
  }
}

/** Rule actions, in Suricata's default action order (pass first). */
export const ACTIONS = ["pass", "drop", "reject", "alert"] as const;
/** One action. */
export type RuleAction = typeof ACTIONS[number];

/** One option as written: keyword and raw value (null for `keyword;`). */
export interface RawOption {
  readonly key: string;
  readonly value: string | null;
}

/** A rule split into its parts, before keywords are compiled. */
export interface RawRule {
  readonly action: RuleAction;
  readonly proto: string;
  readonly src: string;
  readonly srcPorts: string;
  /** "->" or "<>". */
  readonly dir: "->" | "<>";
  readonly dst: string;
  readonly dstPorts: string;
  readonly options: readonly RawOption[];
}

const ALL_ACTIONS = new Set<string>([
  ...ACTIONS,
  "rejectsrc",
  "rejectdst",
  "rejectboth",
]);

/** Splits a header word list honouring brackets (`[1, 2]` is one word). */
function headerWords(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (depth < 0) throw new RuleError("bad header", "unbalanced ']'");
    if ((ch === " " || ch === "\t") && depth === 0) {
      if (cur !== "") out.push(cur);
      cur = "";
    } else if (!(depth > 0 && (ch === " " || ch === "\t"))) cur += ch;
  }
  if (depth !== 0) throw new RuleError("bad header", "unbalanced '['");
  if (cur !== "") out.push(cur);
  return out;
}

/**
 * Splits one rule into header fields and options. Throws a
 * {@link RuleError} on malformed text.
 */
export function splitRule(text: string): RawRule {
  const t = text.trim();
  const open = t.indexOf("(");
  if (open < 0) throw new RuleError("bad rule", "no options in parentheses");
  if (!t.endsWith(")")) {
    throw new RuleError("bad rule", "options do not end with ')'");
  }
  const words = headerWords(t.slice(0, open));
  if (words.length !== 7) {
    throw new RuleError(
      "bad header",
      `expected 7 fields before '(', got ${words.length}`,
    );
  }
  const [action, proto, src, sp, dir, dst, dp] = words as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!ALL_ACTIONS.has(action)) {
    throw new RuleError("unsupported action", action);
  }
  if (dir !== "->" && dir !== "<>") {
    throw new RuleError("bad header", `direction "${dir}"`);
  }
  return {
    action: action.startsWith("reject") ? "reject" : action as RuleAction,
    proto: proto.toLowerCase(),
    src,
    srcPorts: sp,
    dir,
    dst,
    dstPorts: dp,
    options: splitOptions(t.slice(open + 1, -1)),
  };
}

/**
 * Splits the text between the parentheses into options. A `;` ends an
 * option unless escaped with a backslash (quotes do not protect it, as in
 * Suricata); the value keeps its escapes (keywords unescape what they need).
 */
export function splitOptions(body: string): RawOption[] {
  const out: RawOption[] = [];
  let i = 0;
  const n = body.length;
  while (i < n) {
    while (i < n && /\s/.test(body[i]!)) i++;
    if (i >= n) break;
    let j = i;
    while (j < n) {
      const c = body[j]!;
      if (c === "\\") {
        j += 2;
        continue;
      }
      if (c === ";") break;
      j++;
    }
    if (j >= n) {
      throw new RuleError(
        "bad options",
        `"${body.slice(i, i + 40)}" does not end with ';'`,
      );
    }
    const opt = body.slice(i, j);
    const colon = opt.indexOf(":");
    if (colon < 0) out.push({ key: opt.trim(), value: null });
    else {
      out.push({
        key: opt.slice(0, colon).trim(),
        value: opt.slice(colon + 1).trim(),
      });
    }
    i = j + 1;
  }
  return out;
}

/**
 * Removes surrounding quotes and the escapes `\"`, `\;`, `\\`, `\:` of a
 * string value (`msg`, `content`).
 */
export function unquote(v: string): string {
  let s = v.trim();
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) {
    s = s.slice(1, -1);
  } else if (s.startsWith('"') || s.endsWith('"')) {
    throw new RuleError("bad value", `unbalanced quotes in ${v}`);
  }
  if (!s.includes("\\")) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) {
      out += s[i + 1];
      i++;
    } else out += c;
  }
  return out;
}

// ---- addresses ----------------------------------------------------------

/** A compiled address expression. */
export type AddrExpr =
  | { readonly k: "any" }
  | { readonly k: "v4"; readonly lo: number; readonly hi: number }
  | { readonly k: "v6"; readonly w: Uint32Array; readonly bits: number }
  | { readonly k: "not"; readonly e: AddrExpr }
  | {
    readonly k: "list";
    readonly pos: readonly AddrExpr[];
    readonly neg: readonly AddrExpr[];
  };

/** Resolves `$NAME` to its text, or undefined when not defined. */
export type VarLookup = (name: string) => string | undefined;

/** Splits a bracket list's inside at top-level commas. */
function splitList(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter((x) => x !== "");
}

function parseV4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return null;
    v = v * 256 + b;
  }
  return v;
}

function parseV6(s: string): Uint32Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return null;
  let head = s;
  let tail4: number | null = null;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (tail4 === null) return null;
    head = s.slice(0, lastColon + 1) + "0:0";
  }
  const dbl = head.split("::");
  if (dbl.length > 2) return null;
  const part = (x: string) => x === "" ? [] : x.split(":");
  const a = part(dbl[0]!);
  const b = dbl.length === 2 ? part(dbl[1]!) : [];
  const fill = 8 - a.length - b.length;
  if (fill < 0 || (dbl.length === 1 && fill !== 0)) return null;
  const groups = [...a, ...Array(dbl.length === 2 ? fill : 0).fill("0"), ...b];
  if (groups.length !== 8) return null;
  const w = new Uint32Array(4);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    w[i >> 1] = (w[i >> 1]! | (parseInt(g, 16) << ((i & 1) ? 0 : 16))) >>> 0;
  }
  if (tail4 !== null) w[3] = tail4 >>> 0;
  return w;
}

/**
 * Compiles an address expression (`any`, `$VAR`, `!x`, `[a, b]`, CIDR,
 * address, `a-b` range) with variables resolved through `vars`.
 */
export function parseAddr(text: string, vars: VarLookup, depth = 0): AddrExpr {
  if (depth > 16) throw new RuleError("bad address", "variables nest too deep");
  const s = text.trim();
  if (s === "") throw new RuleError("bad address", "empty");
  if (s === "any") return { k: "any" };
  if (s.startsWith("!")) {
    return { k: "not", e: parseAddr(s.slice(1), vars, depth + 1) };
  }
  if (s.startsWith("$")) {
    const v = vars(s.slice(1));
    if (v === undefined) throw new RuleError("undefined variable", s);
    return parseAddr(v, vars, depth + 1);
  }
  if (s.startsWith("[")) {
    if (!s.endsWith("]")) throw new RuleError("bad address", s);
    const pos: AddrExpr[] = [];
    const neg: AddrExpr[] = [];
    for (const item of splitList(s.slice(1, -1))) {
      const e = parseAddr(item, vars, depth + 1);
      if (e.k === "not") neg.push(e.e);
      else pos.push(e);
    }
    return { k: "list", pos, neg };
  }
  const dash = s.indexOf("-");
  if (dash > 0 && !s.includes(":")) {
    const lo = parseV4(s.slice(0, dash));
    const hi = parseV4(s.slice(dash + 1));
    if (lo === null || hi === null || lo > hi) {
      throw new RuleError("bad address", s);
    }
    return { k: "v4", lo, hi };
  }
  const slash = s.indexOf("/");
  const host = slash < 0 ? s : s.slice(0, slash);
  const bitsText = slash < 0 ? null : s.slice(slash + 1);
  const v4 = parseV4(host);
  if (v4 !== null) {
    let bits = 32;
    if (bitsText !== null) {
      const m = parseV4(bitsText);
      if (m !== null) bits = 32 - Math.log2(2 ** 32 - m);
      else bits = Number(bitsText);
      if (!Number.isInteger(bits) || bits < 0 || bits > 32) {
        throw new RuleError("bad address", s);
      }
    }
    const size = 2 ** (32 - bits);
    const lo = Math.floor(v4 / size) * size;
    return { k: "v4", lo, hi: lo + size - 1 };
  }
  const v6 = parseV6(host);
  if (v6 !== null) {
    const bits = bitsText === null ? 128 : Number(bitsText);
    if (!Number.isInteger(bits) || bits < 0 || bits > 128) {
      throw new RuleError("bad address", s);
    }
    return { k: "v6", w: v6, bits };
  }
  throw new RuleError("bad address", s);
}

function v6In(w: ArrayLike<number>, net: Uint32Array, bits: number): boolean {
  for (let i = 0; i < 4; i++) {
    const b = bits - i * 32;
    if (b <= 0) return true;
    const mask = b >= 32 ? 0xffffffff : (0xffffffff << (32 - b)) >>> 0;
    if (((w[i]! & mask) >>> 0) !== ((net[i]! & mask) >>> 0)) return false;
  }
  return true;
}

/** True when the address (`version` 4 or 6, words as in `Packet.src`) matches. */
export function addrMatches(
  e: AddrExpr,
  version: number,
  w: ArrayLike<number>,
): boolean {
  switch (e.k) {
    case "any":
      return true;
    case "v4": {
      if (version !== 4) return false;
      const a = w[0]! >>> 0;
      return a >= e.lo && a <= e.hi;
    }
    case "v6":
      return version === 6 && v6In(w, e.w, e.bits);
    case "not":
      return !addrMatches(e.e, version, w);
    case "list": {
      for (const n of e.neg) if (addrMatches(n, version, w)) return false;
      if (e.pos.length === 0) return true;
      for (const p of e.pos) if (addrMatches(p, version, w)) return true;
      return false;
    }
  }
}

// ---- ports --------------------------------------------------------------

/** A compiled port expression. */
export type PortExpr =
  | { readonly k: "any" }
  | { readonly k: "range"; readonly lo: number; readonly hi: number }
  | { readonly k: "not"; readonly e: PortExpr }
  | {
    readonly k: "list";
    readonly pos: readonly PortExpr[];
    readonly neg: readonly PortExpr[];
  };

function port(s: string, whole: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) {
    throw new RuleError("bad port", whole);
  }
  return Number(s);
}

/** Compiles a port expression (`any`, `80`, `1024:`, `:1023`, `!80`, `[80,443]`, `$VAR`). */
export function parsePorts(text: string, vars: VarLookup, depth = 0): PortExpr {
  if (depth > 16) throw new RuleError("bad port", "variables nest too deep");
  const s = text.trim();
  if (s === "") throw new RuleError("bad port", "empty");
  if (s === "any") return { k: "any" };
  if (s.startsWith("!")) {
    return { k: "not", e: parsePorts(s.slice(1), vars, depth + 1) };
  }
  if (s.startsWith("$")) {
    const v = vars(s.slice(1));
    if (v === undefined) throw new RuleError("undefined variable", s);
    return parsePorts(v, vars, depth + 1);
  }
  if (s.startsWith("[")) {
    if (!s.endsWith("]")) throw new RuleError("bad port", s);
    const pos: PortExpr[] = [];
    const neg: PortExpr[] = [];
    for (const item of splitList(s.slice(1, -1))) {
      const e = parsePorts(item, vars, depth + 1);
      if (e.k === "not") neg.push(e.e);
      else pos.push(e);
    }
    return { k: "list", pos, neg };
  }
  const colon = s.indexOf(":");
  if (colon >= 0) {
    const a = s.slice(0, colon);
    const b = s.slice(colon + 1);
    const lo = a === "" ? 0 : port(a, s);
    const hi = b === "" ? 65535 : port(b, s);
    if (lo > hi) throw new RuleError("bad port", s);
    return { k: "range", lo, hi };
  }
  const p = port(s, s);
  return { k: "range", lo: p, hi: p };
}

/** True when the port matches. */
export function portMatches(e: PortExpr, p: number): boolean {
  switch (e.k) {
    case "any":
      return true;
    case "range":
      return p >= e.lo && p <= e.hi;
    case "not":
      return !portMatches(e.e, p);
    case "list": {
      for (const n of e.neg) if (portMatches(n, p)) return false;
      if (e.pos.length === 0) return true;
      for (const x of e.pos) if (portMatches(x, p)) return true;
      return false;
    }
  }
}
