/**
 * Translates a Suricata `pcre` value (`"/regex/flags"`, PCRE syntax) to a
 * JavaScript RegExp over a latin1 view of the buffer, where the two
 * languages mean the same; refuses (with the construct named) where they do
 * not: possessive quantifiers, atomic groups, recursion, conditionals,
 * `\Q…\E`, `\K`, `\G`, `\R`, callouts. Differences handled by rewriting:
 * PCRE's `.` excludes only `\n` (JS also excludes `\r`, U+2028/9), `$`
 * without `m` or `D` also matches before a final `\n`, `\A` `\Z` `\z`,
 * `\h` `\v` `\e`, `\x{HH}`, POSIX classes in brackets, `(?P<name>`, the
 * `x` (extended) flag and leading `(?i)`-style option settings.
 * Reference: https://docs.suricata.io/en/latest/rules/pcre.html and the
 * pcre2pattern man page.
 *
 * @module
 */
import { RuleError } from "./parse.ts";

/** The Suricata pcre flags that select a buffer, by flag letter. */
export const PCRE_BUFFER_FLAGS: Readonly<Record<string, string>> = {
  U: "http.uri",
  I: "http.uri.raw",
  P: "http.request_body",
  Q: "http.response_body",
  H: "http.header",
  D: "http.header.raw",
  M: "http.method",
  C: "http.cookie",
  S: "http.stat_code",
  Y: "http.stat_msg",
  V: "http.user_agent",
  W: "http.host",
  Z: "http.host.raw",
};

/** A translated pcre. */
export interface PcreSpec {
  /** The RegExp (flags without `g`/`y`). */
  readonly re: RegExp;
  readonly negated: boolean;
  /** `R`: starts where the previous match ended. */
  readonly relative: boolean;
  /** `A`: anchored at the start (of the buffer or the relative position). */
  readonly anchored: boolean;
  /** A buffer selected by a flag (U, H, …), or null. */
  readonly buffer: string | null;
}

const POSIX: Readonly<Record<string, string>> = {
  alpha: "a-zA-Z",
  digit: "0-9",
  alnum: "a-zA-Z0-9",
  upper: "A-Z",
  lower: "a-z",
  space: "\\t\\n\\v\\f\\r ",
  blank: " \\t",
  xdigit: "0-9a-fA-F",
  punct: "!-\\/:-@\\[-`{-~",
  print: " -~",
  graph: "!-~",
  cntrl: "\\x00-\\x1f\\x7f",
  word: "\\w",
};

function refuse(what: string): never {
  throw new RuleError("unsupported pcre", what);
}

/** Rewrites a PCRE pattern body to JS syntax (see the module doc). */
function translate(
  src: string,
  opts: {
    dotall: boolean;
    multiline: boolean;
    dollarEnd: boolean;
    extended: boolean;
  },
): string {
  let out = "";
  let i = 0;
  const n = src.length;
  let inClass = false;
  while (i < n) {
    const c = src[i]!;
    if (c === "\\") {
      const d = src[i + 1];
      if (d === undefined) refuse("trailing backslash");
      if (d === "x" && src[i + 2] === "{") {
        const end = src.indexOf("}", i);
        const hex = src.slice(i + 3, end);
        if (end < 0 || !/^[0-9a-fA-F]{1,2}$/.test(hex)) refuse("\\x{...}");
        out += "\\x" + hex.padStart(2, "0");
        i = end + 1;
        continue;
      }
      if (d === "g") {
        const m = /^\\g\{?(-?\d+)\}?/.exec(src.slice(i));
        if (!m || m[1]!.startsWith("-")) refuse("\\g");
        out += `\\${m![1]}`;
        i += m![0].length;
        continue;
      }
      switch (d) {
        case "A":
          if (inClass) refuse("\\A in class");
          out += "^";
          break;
        case "Z":
          out += "(?=\\n?$)";
          break;
        case "z":
          out += "$";
          break;
        case "h":
          out += inClass ? "\\t \\xa0" : "[\\t \\xa0]";
          break;
        case "H":
          if (inClass) refuse("\\H in class");
          out += "[^\\t \\xa0]";
          break;
        case "v":
          out += inClass ? "\\n\\x0b\\f\\r\\x85" : "[\\n\\x0b\\f\\r\\x85]";
          break;
        case "V":
          if (inClass) refuse("\\V in class");
          out += "[^\\n\\x0b\\f\\r\\x85]";
          break;
        case "e":
          out += "\\x1b";
          break;
        case "a":
          out += "\\x07";
          break;
        case "Q":
        case "E":
        case "K":
        case "G":
        case "R":
        case "X":
        case "C":
        case "N":
        case "p":
        case "P":
          refuse(`\\${d}`);
          break;
        case "/":
          out += "\\/";
          break;
        default:
          out += c + d;
      }
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === "[" && src[i + 1] === ":") {
        const end = src.indexOf(":]", i + 2);
        if (end < 0) refuse("bad POSIX class");
        let name = src.slice(i + 2, end);
        const neg = name.startsWith("^");
        if (neg) refuse("negated POSIX class");
        name = name.trim();
        const cls = POSIX[name];
        if (cls === undefined) refuse(`[:${name}:]`);
        out += cls;
        i = end + 2;
        continue;
      }
      if (c === "[") {
        out += "\\[";
        i++;
        continue;
      }
      if (c === "]") inClass = false;
      out += c;
      i++;
      continue;
    }
    if (opts.extended) {
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") {
        i++;
        continue;
      }
      if (c === "#") {
        while (i < n && src[i] !== "\n") i++;
        continue;
      }
    }
    if (c === "[") {
      inClass = true;
      out += c;
      i++;
      if (src[i] === "^") {
        out += "^";
        i++;
      }
      if (src[i] === "]") {
        out += "\\]";
        i++;
      }
      continue;
    }
    if (c === "(" && src[i + 1] === "?") {
      const rest = src.slice(i + 2, i + 4);
      if (rest.startsWith(">")) refuse("atomic group (?>");
      if (rest.startsWith("(")) refuse("conditional (?(");
      if (rest.startsWith("R") || /^[0-9+-]/.test(rest)) refuse("recursion");
      if (rest.startsWith("C")) refuse("callout");
      if (rest.startsWith("|")) refuse("branch reset (?|");
      if (rest.startsWith("#")) {
        const end = src.indexOf(")", i);
        if (end < 0) refuse("unterminated comment");
        i = end + 1;
        continue;
      }
      if (rest.startsWith("P<")) {
        out += "(?<";
        i += 4;
        continue;
      }
      if (rest.startsWith("P=")) {
        const end = src.indexOf(")", i);
        if (end < 0) refuse("unterminated (?P=");
        out += `\\k<${src.slice(i + 4, end)}>`;
        i = end + 1;
        continue;
      }
      if (rest.startsWith("P>")) refuse("(?P>");
      const m = /^\(\?([a-zA-Z-]+)(\)|:)/.exec(src.slice(i));
      if (m) {
        // Inline option settings: only i/s/m, as a group modifier.
        if (!/^[ism]*(-[ism]*)?$/.test(m[1]!)) refuse(`(?${m[1]}`);
        if (m[2] === ")") {
          if (out !== "") refuse(`(?${m[1]}) after the start`);
          throw new InlineFlags(m[1]!, src.slice(i + m[0].length));
        }
        out += `(?${m[1]}:`;
        i += m[0].length;
        continue;
      }
    }
    if (
      (c === "*" || c === "+" || c === "?" || c === "}") && src[i + 1] === "+"
    ) {
      refuse("possessive quantifier");
    }
    if (c === ".") {
      out += opts.dotall ? "[\\s\\S]" : "[^\\n]";
      i++;
      continue;
    }
    if (c === "$" && !opts.multiline && !opts.dollarEnd) {
      out += "(?=\\n?$)";
      i++;
      continue;
    }
    out += c;
    i++;
  }
  if (inClass) refuse("unterminated class");
  return out;
}

class InlineFlags extends Error {
  constructor(readonly flags: string, readonly rest: string) {
    super("inline flags");
  }
}

/**
 * Parses a pcre option value (with its quotes and an optional leading `!`).
 * Throws a RuleError when the pattern has no JS equivalent.
 */
export function parsePcre(value: string): PcreSpec {
  let v = value.trim();
  let negated = false;
  if (v.startsWith("!")) {
    negated = true;
    v = v.slice(1).trim();
  }
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
  else throw new RuleError("bad value", "pcre is not a quoted string");
  // Undo the rule language's escapes of ; and " (PCRE reads \; as ; anyway).
  v = v.replace(/\\([;"])/g, "$1");
  if (!v.startsWith("/")) refuse("pattern does not start with '/'");
  const last = v.lastIndexOf("/");
  if (last <= 0) refuse("pattern does not end with '/'");
  let body = v.slice(1, last);
  const flags = v.slice(last + 1);
  let i = false, s = false, m = false, x = false, dollarEnd = false;
  let relative = false, anchored = false;
  let buffer: string | null = null;
  for (const f of flags) {
    switch (f) {
      case "i":
        i = true;
        break;
      case "s":
        s = true;
        break;
      case "m":
        m = true;
        break;
      case "x":
        x = true;
        break;
      case "A":
        anchored = true;
        break;
      case "E":
        dollarEnd = true;
        break;
      case "R":
        relative = true;
        break;
      case "O":
      case "B":
        break; // match-limit override; no effect here.
      case "G":
        refuse("ungreedy flag G");
        break;
      default: {
        const b = PCRE_BUFFER_FLAGS[f];
        if (b === undefined) refuse(`flag ${f}`);
        if (buffer !== null && buffer !== b) refuse("two buffer flags");
        buffer = b;
      }
    }
  }
  let js: string;
  for (let round = 0;; round++) {
    try {
      js = translate(body, { dotall: s, multiline: m, dollarEnd, extended: x });
      break;
    } catch (e) {
      if (!(e instanceof InlineFlags) || round > 2) throw e;
      const [on, off = ""] = e.flags.split("-");
      if (off !== "") refuse(`(?-${off})`);
      if (on!.includes("i")) i = true;
      if (on!.includes("s")) s = true;
      if (on!.includes("m")) m = true;
      body = e.rest;
    }
  }
  if (anchored) js = `^(?:${js})`;
  let re: RegExp;
  try {
    re = new RegExp(js, (i ? "i" : "") + (m ? "m" : ""));
  } catch (e) {
    throw new RuleError(
      "unsupported pcre",
      `not valid in JavaScript: ${(e as Error).message}`,
    );
  }
  return { re, negated, relative, anchored, buffer };
}
