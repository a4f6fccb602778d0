/**
 * Compiles a split rule's options into a {@link Rule} with Suricata's
 * keyword semantics (https://docs.suricata.io/en/latest/rules/): meta
 * keywords, payload keywords and their content modifiers, sticky buffers and
 * the legacy `http_*` content modifiers, transforms, flow keywords,
 * flowbits, packet keywords, threshold and detection_filter. An unknown or
 * unsupported keyword, or a bad value, refuses the rule with a
 * {@link RuleError} naming it.
 *
 * @module
 */
import { parsePcre } from "./_pcre.ts";
import {
  BUF_PKT,
  BUF_STREAM,
  BUFFER_BY_KEYWORD,
  BUFFER_BY_MODIFIER,
  bufferId,
  BUFFERS,
} from "./buffers.ts";
import {
  type AddrExpr,
  parseAddr,
  parsePorts,
  type PortExpr,
  type RawRule,
  RuleError,
  unquote,
  type VarLookup,
} from "./parse.ts";
import type {
  BufferList,
  Cmp,
  ContentMatch,
  FlowbitOp,
  PayloadMatch,
  RateSpec,
  Rule,
} from "./rule.ts";

/** One classtype: its description and default priority. */
export interface ClassType {
  readonly description: string;
  readonly priority: number;
}

/** What compiling needs besides the rule. */
export interface CompileContext {
  readonly vars: VarLookup;
  /** Classtypes by short name (classification.config). */
  readonly classes: ReadonlyMap<string, ClassType>;
  /** Flowbit name → id, shared by every rule of an engine. */
  readonly flowbitIds: Map<string, number>;
  /**
   * Shared by the rules of one load: header expressions and pattern bytes
   * compiled once for every rule that writes them the same way (ET Open
   * repeats `$HOME_NET`, `any`, "GET" … thousands of times).
   */
  readonly cache?: CompileCache;
  readonly file: string;
  readonly line: number;
}

/** See {@link CompileContext.cache}. */
export interface CompileCache {
  readonly addr: Map<string, AddrExpr>;
  readonly ports: Map<string, PortExpr>;
  readonly bytes: Map<string, Uint8Array>;
  readonly strings: Map<string, string>;
  /**
   * Where interned patterns are copied: views into shared slabs (tens of
   * thousands of small typed arrays would each carry their own buffer).
   */
  readonly slab: { buf: Uint8Array; used: number };
}

/** Bytes of one pattern slab. */
const SLAB = 65536;

/** A fresh {@link CompileCache}. */
export function newCompileCache(): CompileCache {
  return {
    addr: new Map(),
    ports: new Map(),
    bytes: new Map(),
    strings: new Map(),
    slab: { buf: new Uint8Array(0), used: 0 },
  };
}

function internBytes(
  cache: CompileCache | undefined,
  b: Uint8Array,
): Uint8Array {
  if (cache === undefined || b.length > 256) return b;
  let k = "";
  for (let i = 0; i < b.length; i++) k += String.fromCharCode(b[i]!);
  const hit = cache.bytes.get(k);
  if (hit !== undefined) return hit;
  const slab = cache.slab;
  if (slab.used + b.length > slab.buf.length) {
    slab.buf = new Uint8Array(SLAB);
    slab.used = 0;
  }
  const view = slab.buf.subarray(slab.used, slab.used + b.length);
  view.set(b);
  slab.used += b.length;
  cache.bytes.set(k, view);
  return view;
}

function internString(cache: CompileCache | undefined, s: string): string {
  if (cache === undefined) return s;
  const hit = cache.strings.get(s);
  if (hit !== undefined) return hit;
  cache.strings.set(s, s);
  return s;
}

/**
 * The metadata of a rule as `key → values` (`metadata:created_at
 * 2010_07_30, tool nmap;` → `{created_at: ["2010_07_30"], tool: ["nmap"]}`),
 * parsed from the text kept on the rule (only alerts need it).
 */
export function parseMetadata(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const raw of text.split(META_SPLIT)) {
    const part = raw.trim();
    if (part === "") continue;
    const sp = part.indexOf(" ");
    const mk = sp < 0 ? part : part.slice(0, sp);
    const mv = sp < 0 ? "" : part.slice(sp + 1).trim();
    (out[mk] ??= []).push(mv);
  }
  return out;
}

const NO_FLOWBITS: readonly FlowbitOp[] = Object.freeze([]);

/** Parses `classification.config` text into classtypes. */
export function parseClassifications(text: string): Map<string, ClassType> {
  const out = new Map<string, ClassType>();
  for (const line of text.split("\n")) {
    const m = /^\s*config\s+classification\s*:\s*([^,]+),([^,]*),\s*(\d+)/
      .exec(line);
    if (m) {
      out.set(m[1]!.trim(), {
        description: m[2]!.trim(),
        priority: Number(m[3]),
      });
    }
  }
  return out;
}

const IP_PROTOS: Readonly<Record<string, number>> = {
  ip: 0,
  pkthdr: 0,
  tcp: 6,
  "tcp-pkt": 6,
  "tcp-stream": 6,
  udp: 17,
  icmp: 1,
  icmpv4: 1,
  icmpv6: 58,
  sctp: 132,
};

/** App-layer protocols in a header, with their transport (0: tcp or udp). */
const APP_PROTOS: Readonly<Record<string, [string, number]>> = {
  http: ["http", 6],
  http1: ["http", 6],
  dns: ["dns", 0],
  tls: ["tls", 6],
  ssh: ["ssh", 6],
  ftp: ["ftp", 6],
  smtp: ["smtp", 6],
  smb: ["smb", 6],
  dcerpc: ["dcerpc", 6],
};

const TRANSFORMS = new Set([
  "dotprefix",
  "to_lowercase",
  "to_uppercase",
  "strip_whitespace",
  "compress_whitespace",
  "url_decode",
  "header_lowercase",
]);

/** Keywords accepted and ignored: they change nothing this engine does. */
const IGNORED = new Set([
  "reference",
  "rawbytes",
  "target",
  "tag",
  "sid_mappings",
]);

/** Parses an unsigned integer option value. */
function uint(v: string | null, key: string, min = 0, max = 2 ** 32): number {
  const s = (v ?? "").trim();
  if (!/^-?\d+$/.test(s)) throw new RuleError("bad value", `${key}:${v}`);
  const n = Number(s);
  if (n < min || n > max) throw new RuleError("bad value", `${key}:${v}`);
  return n;
}

/** Parses Suricata's integer comparisons: N, !N, <N, >N, <=N, >=N, N<>M, N-M. */
export function parseCmp(v: string | null, key: string): Cmp {
  const s = (v ?? "").replace(/\s+/g, "");
  let m = /^(!|<=|>=|<|>|=)?(\d+)$/.exec(s);
  if (m) {
    return { op: m[1] === "!" ? "!=" : m[1] ?? "=", a: Number(m[2]), b: 0 };
  }
  m = /^(\d+)(<>|-)(\d+)$/.exec(s);
  if (m && Number(m[1]) < Number(m[3])) {
    return { op: "<>", a: Number(m[1]), b: Number(m[3]) };
  }
  throw new RuleError("bad value", `${key}:${v}`);
}

/** True when `x` satisfies the comparison. */
export function cmpMatches(c: Cmp, x: number): boolean {
  switch (c.op) {
    case "=":
      return x === c.a;
    case "!=":
      return x !== c.a;
    case "<":
      return x < c.a;
    case ">":
      return x > c.a;
    case "<=":
      return x <= c.a;
    case ">=":
      return x >= c.a;
    default:
      return x > c.a && x < c.b;
  }
}

/** Decodes a content value (`"abc|0d 0a|def"`, escapes) to bytes. */
export function contentBytes(raw: string): Uint8Array {
  let s = raw.trim();
  if (!(s.length >= 2 && s.startsWith('"') && s.endsWith('"'))) {
    throw new RuleError("bad value", `content is not a quoted string: ${raw}`);
  }
  s = s.slice(1, -1);
  const out: number[] = [];
  let hex = false;
  let nib = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "|") {
      if (hex && nib >= 0) {
        throw new RuleError("bad value", `odd hex in ${raw}`);
      }
      hex = !hex;
      continue;
    }
    if (hex) {
      if (c === " " || c === "\t") continue;
      const d = parseInt(c, 16);
      if (Number.isNaN(d)) throw new RuleError("bad value", `hex in ${raw}`);
      if (nib < 0) nib = d;
      else {
        out.push(nib * 16 + d);
        nib = -1;
      }
      continue;
    }
    if (c === "\\") {
      const d = s[++i];
      if (d === undefined) throw new RuleError("bad value", `escape in ${raw}`);
      out.push(d.charCodeAt(0) & 0xff);
      continue;
    }
    const code = c.charCodeAt(0);
    if (code > 0xff) {
      // Non-latin1 text: its UTF-8 bytes, as Suricata reads the file.
      for (const b of new TextEncoder().encode(c)) out.push(b);
    } else out.push(code);
  }
  if (hex) throw new RuleError("bad value", `unterminated hex in ${raw}`);
  if (out.length === 0) throw new RuleError("bad value", "empty content");
  return new Uint8Array(out);
}

/** ASCII lower case of bytes. */
export function foldBytes(b: Uint8Array): Uint8Array {
  const o = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    o[i] = c >= 65 && c <= 90 ? c + 32 : c;
  }
  return o;
}

function parseFlags(v: string | null): NonNullable<Rule["flags"]> {
  const s = (v ?? "").replace(/\s+/g, "");
  const [spec = "", ign = ""] = s.split(",");
  const bit = (ch: string): number => {
    const i = "FSRPAUEC".indexOf(ch.toUpperCase());
    if (i >= 0) return 1 << i;
    if (ch === "1") return 0x80;
    if (ch === "2") return 0x40;
    throw new RuleError("bad value", `flags:${v}`);
  };
  let mode = "=";
  let body = spec;
  if (/^[!+*]/.test(body)) {
    mode = body[0]!;
    body = body.slice(1);
  } else if (/[+*!]$/.test(body)) {
    mode = body[body.length - 1]!;
    body = body.slice(0, -1);
  }
  let want = 0;
  if (body !== "0") { for (const ch of body) want |= bit(ch); }
  let ignore = 0;
  for (const ch of ign) ignore |= bit(ch);
  return { mode, want, ignore };
}

function parseRate(v: string | null, key: string): RateSpec {
  const parts = (v ?? "").split(",").map((x) => x.trim().split(/\s+/));
  let type = key === "detection_filter" ? "detection_filter" : "";
  let track = "";
  let count = -1;
  let seconds = -1;
  for (const [k, val] of parts) {
    if (k === "type" && key !== "detection_filter") type = val ?? "";
    else if (k === "track") track = val ?? "";
    else if (k === "count") count = uint(val ?? "", key, 1);
    else if (k === "seconds") seconds = uint(val ?? "", key, 1);
    else throw new RuleError("bad value", `${key}:${v}`);
  }
  if (
    !["limit", "threshold", "both", "detection_filter"].includes(type) ||
    !["by_src", "by_dst", "by_rule", "by_both"].includes(track) ||
    count < 1 || seconds < 1
  ) throw new RuleError("bad value", `${key}:${v}`);
  return { type, track: track as RateSpec["track"], count, seconds };
}

function parseByteNumberOpts(
  opts: string[],
  key: string,
  v: string | null,
): {
  relative: boolean;
  little: boolean;
  base: number;
  bitmask: number;
  rest: string[];
} {
  let relative = false, little = false, string = false, base = 0;
  let bitmask = 0;
  const rest: string[] = [];
  for (const o of opts) {
    const [w, arg] = o.split(/\s+/);
    switch (w) {
      case "relative":
        relative = true;
        break;
      case "little":
        little = true;
        break;
      case "big":
        break;
      case "string":
        string = true;
        break;
      case "hex":
        base = 16;
        break;
      case "dec":
        base = 10;
        break;
      case "oct":
        base = 8;
        break;
      case "bitmask": {
        const n = Number(arg);
        if (!Number.isInteger(n) || n <= 0) {
          throw new RuleError("bad value", `${key}:${v}`);
        }
        bitmask = n;
        break;
      }
      case "dce":
        throw new RuleError("unsupported option", `${key} dce`);
      default:
        rest.push(o);
    }
  }
  if (string && base === 0) base = 10;
  if (!string && base !== 0) throw new RuleError("bad value", `${key}:${v}`);
  return { relative, little, base, bitmask, rest };
}

function num(s: string | undefined, key: string, v: string | null): number {
  const t = (s ?? "").trim();
  if (!/^-?(0x[0-9a-fA-F]+|\d+)$/.test(t)) {
    throw new RuleError(
      /^[A-Za-z_]/.test(t) ? "unsupported option" : "bad value",
      /^[A-Za-z_]/.test(t)
        ? `${key} with a byte_extract variable`
        : `${key}:${v}`,
    );
  }
  return t.startsWith("-") ? -Number(t.slice(1)) : Number(t);
}

const META_SPLIT = /\s*,\s*/;

/**
 * Compiles one rule. Throws a {@link RuleError} with the reason when a
 * keyword is unknown or unsupported or a value is bad.
 */
export function compileRule(raw: RawRule, ctx: CompileContext): Rule {
  let sid = -1, gid = 1, rev = 1, msg = "", classtype = "", priority = -1;
  const metadata: string[] = [];
  const cache = ctx.cache;
  const lists: BufferList[] = [];
  const listFor = (buf: number, fresh: boolean): BufferList => {
    if (!fresh) {
      for (let i = lists.length - 1; i >= 0; i--) {
        const l = lists[i]!;
        if (l.buf === buf && l.transforms.length === 0) return l;
      }
    }
    const l: BufferList = {
      buf,
      transforms: [],
      matches: [],
      size: null,
      ib: -1,
    };
    lists.push(l);
    return l;
  };
  let cur: BufferList | null = null; // the sticky buffer in force
  const payloadList = (): BufferList => cur ?? listFor(BUF_PKT, false);
  let last: ContentMatch | null = null;
  let lastList: BufferList | null = null;
  let lastMatch: PayloadMatch | null = null;

  const headerProto = raw.proto;
  let ipProto = IP_PROTOS[headerProto];
  let app = "";
  let appNegated = false;
  let streamMode = headerProto === "tcp-pkt"
    ? 2
    : headerProto === "tcp-stream"
    ? 1
    : 0;
  if (ipProto === undefined) {
    const a = APP_PROTOS[headerProto];
    if (a === undefined) {
      throw new RuleError("unsupported protocol", headerProto);
    }
    app = a[0];
    ipProto = a[1];
  }

  let flowDir = -1, established = -1;
  const flowbits: FlowbitOp[] = [];
  let noalert = false;
  let dsize: Cmp | null = null, ttl: Cmp | null = null;
  let itype: Cmp | null = null, icode: Cmp | null = null;
  let ipProtoCmp: Cmp | null = null;
  let flags: Rule["flags"] = null;
  let streamSize: Rule["streamSize"] = null;
  let threshold: RateSpec | null = null;
  let detectionFilter: RateSpec | null = null;

  const needContent = (key: string): ContentMatch => {
    if (last === null) {
      throw new RuleError("bad rule", `${key} without a preceding content`);
    }
    return last;
  };

  for (const { key: k, value: v } of raw.options) {
    const key = k.toLowerCase();
    switch (key) {
      case "msg":
        // A copy, not a slice: a slice would keep the whole line alive.
        msg = JSON.parse(JSON.stringify(unquote(v ?? ""))) as string;
        break;
      case "sid":
        sid = uint(v, key, 1);
        break;
      case "gid":
        gid = uint(v, key, 0);
        break;
      case "rev":
        rev = uint(v, key, 0);
        break;
      case "classtype":
        classtype = (v ?? "").trim();
        if (!ctx.classes.has(classtype)) {
          throw new RuleError("unknown classtype", classtype);
        }
        break;
      case "priority":
        priority = uint(v, key, 1, 255);
        break;
      case "metadata":
        metadata.push((v ?? "").trim());
        break;
      case "content": {
        const value = (v ?? "").trim();
        const negated = value.startsWith("!");
        const pat = internBytes(
          cache,
          contentBytes(negated ? value.slice(1) : value),
        );
        const c: ContentMatch = {
          k: "content",
          pat,
          folded: pat,
          nocase: false,
          negated,
          offset: -1,
          depth: -1,
          distance: NaN,
          within: -1,
          relative: false,
          startswith: false,
          endswith: false,
          fast: false,
          fastChop: null,
        };
        const l = payloadList();
        l.matches.push(c);
        last = c;
        lastList = l;
        lastMatch = c;
        break;
      }
      case "nocase": {
        const c = needContent(key);
        c.nocase = true;
        c.folded = internBytes(cache, foldBytes(c.pat));
        break;
      }
      case "depth":
      case "offset":
      case "distance":
      case "within": {
        const c = needContent(key);
        const n = num(v ?? "", key, v);
        if (key === "depth") {
          if (n < c.pat.length) {
            throw new RuleError("bad value", `depth ${n} shorter than content`);
          }
          c.depth = n;
        } else if (key === "offset") {
          if (n < 0) throw new RuleError("bad value", `offset:${v}`);
          c.offset = n;
        } else if (key === "distance") {
          c.distance = n;
          c.relative = true;
        } else {
          if (n < c.pat.length) {
            throw new RuleError(
              "bad value",
              `within ${n} shorter than content`,
            );
          }
          c.within = n;
          c.relative = true;
        }
        break;
      }
      case "startswith":
        needContent(key).startswith = true;
        break;
      case "endswith":
        needContent(key).endswith = true;
        break;
      case "fast_pattern": {
        const c = needContent(key);
        c.fast = true;
        const s = (v ?? "").trim();
        if (s !== "" && s !== "only") {
          const m = /^(\d+)\s*,\s*(\d+)$/.exec(s);
          if (!m) throw new RuleError("bad value", `fast_pattern:${v}`);
          const o = Number(m[1]), len = Number(m[2]);
          if (o + len > c.pat.length || len === 0) {
            throw new RuleError("bad value", `fast_pattern:${v}`);
          }
          c.fastChop = [o, len];
        }
        break;
      }
      case "isdataat": {
        let s = (v ?? "").trim();
        const negated = s.startsWith("!");
        if (negated) s = s.slice(1);
        const [n, ...opts] = s.split(",").map((x) => x.trim());
        const rel = opts.includes("relative");
        if (opts.some((o) => o !== "relative" && o !== "rawbytes")) {
          throw new RuleError("bad value", `isdataat:${v}`);
        }
        const m: PayloadMatch = {
          k: "isdataat",
          n: num(n, key, v),
          relative: rel,
          negated,
        };
        payloadList().matches.push(m);
        lastMatch = m;
        break;
      }
      case "byte_test": {
        const parts = (v ?? "").split(",").map((x) => x.trim());
        if (parts.length < 4) {
          throw new RuleError("bad value", `byte_test:${v}`);
        }
        const n = num(parts[0], key, v);
        let op = parts[1]!.replace(/\s+/g, "");
        const negated = op.startsWith("!");
        if (negated) op = op.slice(1);
        if (op === "") op = "=";
        if (!["<", ">", "=", "<=", ">=", "&", "^"].includes(op)) {
          throw new RuleError("bad value", `byte_test:${v}`);
        }
        const value = num(parts[2], key, v);
        const offset = num(parts[3], key, v);
        const o = parseByteNumberOpts(parts.slice(4), key, v);
        if (o.rest.length > 0) {
          throw new RuleError("unsupported option", `byte_test ${o.rest[0]}`);
        }
        // 0 bytes with `string`: the rest of the buffer (Suricata 7).
        if (n < (o.base ? 0 : 1) || n > (o.base ? 20 : 4)) {
          throw new RuleError("bad value", `byte_test:${v}`);
        }
        const m: PayloadMatch = {
          k: "byte_test",
          n,
          op,
          negated,
          value,
          offset,
          relative: o.relative,
          little: o.little,
          base: o.base,
          bitmask: o.bitmask,
        };
        payloadList().matches.push(m);
        lastMatch = m;
        break;
      }
      case "byte_jump": {
        const parts = (v ?? "").split(",").map((x) => x.trim());
        if (parts.length < 2) {
          throw new RuleError("bad value", `byte_jump:${v}`);
        }
        const n = num(parts[0], key, v);
        const offset = num(parts[1], key, v);
        const o = parseByteNumberOpts(parts.slice(2), key, v);
        let multiplier = 1, align = false, fromBeginning = false;
        let fromEnd = false, postOffset = 0;
        for (const r of o.rest) {
          const [w, arg] = r.split(/\s+/);
          if (w === "multiplier") multiplier = num(arg, key, v);
          else if (w === "align") align = true;
          else if (w === "from_beginning") fromBeginning = true;
          else if (w === "from_end") fromEnd = true;
          else if (w === "post_offset") postOffset = num(arg, key, v);
          else throw new RuleError("unsupported option", `byte_jump ${w}`);
        }
        if (n < (o.base ? 0 : 1) || n > (o.base ? 20 : 4)) {
          throw new RuleError("bad value", `byte_jump:${v}`);
        }
        const m: PayloadMatch = {
          k: "byte_jump",
          n,
          offset,
          relative: o.relative,
          little: o.little,
          base: o.base,
          multiplier,
          align,
          fromBeginning,
          fromEnd,
          postOffset,
          bitmask: o.bitmask,
        };
        payloadList().matches.push(m);
        lastMatch = m;
        break;
      }
      case "pcre": {
        const spec = parsePcre(v ?? "");
        let l = payloadList();
        if (spec.buffer !== null) l = listFor(bufferId(spec.buffer), false);
        const m: PayloadMatch = { k: "pcre", spec, relative: spec.relative };
        l.matches.push(m);
        lastMatch = m;
        break;
      }
      case "dsize":
        dsize = parseCmp(v, key);
        break;
      case "bsize":
      case "urilen": {
        let s = v ?? "";
        let l: BufferList;
        if (key === "urilen") {
          const [c, kind] = s.split(",").map((x) => x.trim());
          s = c ?? "";
          const b = kind === "raw" ? "http.uri.raw" : "http.uri";
          l = listFor(bufferId(b), false);
        } else {
          if (cur === null) {
            throw new RuleError("bad rule", "bsize without a sticky buffer");
          }
          l = cur;
        }
        l.size = parseCmp(s, key);
        break;
      }
      case "flow": {
        for (const w of (v ?? "").split(",").map((x) => x.trim())) {
          switch (w) {
            case "to_server":
            case "from_client":
              flowDir = 0;
              break;
            case "to_client":
            case "from_server":
              flowDir = 1;
              break;
            case "established":
              established = 1;
              break;
            case "not_established":
              established = 0;
              break;
            case "stateless":
              break;
            case "only_stream":
              streamMode = 1;
              break;
            case "no_stream":
              streamMode = 2;
              break;
            default:
              throw new RuleError("unsupported option", `flow:${w}`);
          }
        }
        break;
      }
      case "flowbits": {
        const [op = "", names = ""] = (v ?? "").split(",").map((x) => x.trim());
        if (op === "noalert") {
          noalert = true;
          break;
        }
        if (!["set", "unset", "toggle", "isset", "isnotset"].includes(op)) {
          throw new RuleError("bad value", `flowbits:${v}`);
        }
        if (names === "") throw new RuleError("bad value", `flowbits:${v}`);
        const join = names.includes("|") ? "|" : "&";
        const bits = names.split(/[|&]/).map((n) => {
          const name = n.trim();
          let id = ctx.flowbitIds.get(name);
          if (id === undefined) {
            id = ctx.flowbitIds.size;
            ctx.flowbitIds.set(name, id);
          }
          return id;
        });
        flowbits.push({ op: op as FlowbitOp["op"], bits, join });
        break;
      }
      case "noalert":
        noalert = true;
        break;
      case "stream_size": {
        const parts = (v ?? "").split(",").map((x) => x.trim());
        if (
          parts.length !== 3 ||
          !["server", "client", "both", "either"].includes(parts[0]!)
        ) throw new RuleError("bad value", `stream_size:${v}`);
        const op = parts[1] === "!=" ? "!" : parts[1];
        streamSize = {
          side: parts[0]!,
          cmp: parseCmp(`${op}${parts[2]}`, key),
        };
        break;
      }
      case "app-layer-protocol": {
        let s = (v ?? "").trim();
        const neg = s.startsWith("!");
        if (neg) s = s.slice(1);
        const a = APP_PROTOS[s];
        if (a === undefined) {
          throw new RuleError(
            "unsupported protocol",
            `app-layer-protocol:${s}`,
          );
        }
        app = a[0];
        appNegated = neg;
        break;
      }
      case "flags":
        flags = parseFlags(v);
        break;
      case "ttl":
        ttl = parseCmp(v, key);
        break;
      case "itype":
        itype = parseCmp(v, key);
        break;
      case "icode":
        icode = parseCmp(v, key);
        break;
      case "ip_proto": {
        const s = (v ?? "").trim();
        const m = /^([!<>]?)(\w+)$/.exec(s);
        if (!m) throw new RuleError("bad value", `ip_proto:${v}`);
        const p = /^\d+$/.test(m[2]!) ? Number(m[2]) : IP_PROTOS[m[2]!];
        if (p === undefined || p > 255) {
          throw new RuleError("bad value", `ip_proto:${v}`);
        }
        ipProtoCmp = { op: m[1] === "!" ? "!=" : m[1] || "=", a: p, b: 0 };
        break;
      }
      case "threshold":
        threshold = parseRate(v, key);
        break;
      case "detection_filter":
        detectionFilter = parseRate(v, key);
        break;
      default: {
        if (IGNORED.has(key)) break;
        if (TRANSFORMS.has(key)) {
          if (cur === null) {
            throw new RuleError("bad rule", `${key} not after a sticky buffer`);
          }
          if (cur.matches.length > 0 || cur.size !== null) {
            cur = listFor(cur.buf, true);
          }
          if (
            key !== "dotprefix" && key !== "to_lowercase" &&
            key !== "to_uppercase" && key !== "strip_whitespace" &&
            key !== "compress_whitespace"
          ) throw new RuleError("unsupported keyword", key);
          cur.transforms.push(key);
          break;
        }
        const sticky = BUFFER_BY_KEYWORD.get(key);
        if (sticky !== undefined && (v === null || v === "")) {
          // A sticky buffer: later payload keywords inspect it.
          cur = listFor(sticky, false);
          last = null;
          break;
        }
        const mod = BUFFER_BY_MODIFIER.get(key);
        if (mod !== undefined) {
          // A legacy content modifier: moves the previous content.
          const c = needContent(key);
          const from = lastList!;
          const i = from.matches.indexOf(c);
          if (i >= 0) from.matches.splice(i, 1);
          const to = listFor(mod, false);
          to.matches.push(c);
          lastList = to;
          break;
        }
        throw new RuleError("unsupported keyword", key);
      }
    }
  }
  if (sid < 0) throw new RuleError("bad rule", "no sid");
  if (msg === "") msg = `sid ${sid}`;
  void lastMatch;

  // Drop lists a legacy modifier emptied; a stream-buffer rule is stream-only.
  const kept = lists.filter((l) =>
    l.matches.length > 0 || l.size !== null || l.buf !== BUF_PKT
  );
  if (kept.some((l) => l.buf === BUF_STREAM)) streamMode = 1;
  const tx = kept.some((l) => BUFFERS[l.buf]!.scope === "tx");
  if (tx && app === "") {
    const protos = new Set(
      kept.map((l) => BUFFERS[l.buf]!.proto).filter((p) => p !== ""),
    );
    if (protos.size > 1) {
      throw new RuleError("bad rule", "buffers of two app-layer protocols");
    }
    app = [...protos][0] ?? "";
  } else if (tx) {
    for (const l of kept) {
      const p = BUFFERS[l.buf]!.proto;
      if (p !== "" && p !== app) {
        const name = l.buf === bufferId("http.response_body")
          ? "file_data"
          : BUFFERS[l.buf]!.name;
        throw new RuleError(
          "unsupported keyword",
          `${name} in a ${app} rule`,
        );
      }
    }
  }
  for (const l of kept) {
    for (const m of l.matches) {
      if (m.k === "content" && m.relative && m.offset >= 0) {
        // Suricata refuses offset/depth mixed with distance/within.
        throw new RuleError("bad rule", "content with offset and distance");
      }
    }
  }

  const cls = ctx.classes.get(classtype);
  const fast = pickFast(kept, cache);
  const gm = /^(?:ET|GPL|ETPRO)\s+([A-Z_0-9]+)/.exec(msg);
  return {
    idx: -1,
    action: raw.action,
    sid,
    gid,
    rev,
    msg,
    classtype: internString(cache, classtype),
    category: cls?.description ?? "",
    priority: Math.min(
      4,
      Math.max(1, priority > 0 ? priority : cls?.priority ?? 3),
    ),
    // Copied: a slice of the line would keep the whole line alive.
    metadataText: JSON.parse(JSON.stringify(metadata.join(", "))) as string,
    file: ctx.file,
    line: ctx.line,
    group: gm
      ? gm[1]!
      : ctx.file.replace(/^.*[\\/]/, "").replace(/\.rules$/, ""),
    ipProto: ipProto!,
    app,
    appNegated,
    src: addrOf(raw.src, ctx),
    srcPorts: portsOf(raw.srcPorts, ctx),
    dst: addrOf(raw.dst, ctx),
    dstPorts: portsOf(raw.dstPorts, ctx),
    bidir: raw.dir === "<>",
    flowDir,
    established,
    streamMode,
    flowbits: flowbits.length === 0 ? NO_FLOWBITS : flowbits,
    setsBits: flowbits.some((f) =>
      f.op === "set" || f.op === "unset" || f.op === "toggle"
    ),
    noalert,
    dsize,
    ttl,
    itype,
    icode,
    ipProtoCmp,
    flags,
    streamSize,
    lists: kept,
    tx,
    fast,
    threshold,
    detectionFilter,
  };
}

function addrOf(text: string, ctx: CompileContext): AddrExpr {
  const c = ctx.cache;
  let e = c?.addr.get(text);
  if (e === undefined) {
    e = parseAddr(text, ctx.vars);
    c?.addr.set(text, e);
  }
  return e;
}

function portsOf(text: string, ctx: CompileContext): PortExpr {
  const c = ctx.cache;
  let e = c?.ports.get(text);
  if (e === undefined) {
    e = parsePorts(text, ctx.vars);
    c?.ports.set(text, e);
  }
  return e;
}

/**
 * The prefilter pattern: the content marked `fast_pattern`, else the
 * longest positive content (Suricata prefers the longest too). Negated
 * contents never prefilter.
 */
function pickFast(
  lists: BufferList[],
  cache: CompileCache | undefined,
): Rule["fast"] {
  let best: ContentMatch | null = null;
  let bestList: BufferList | null = null;
  const size = (m: ContentMatch) => m.fastChop ? m.fastChop[1] : m.pat.length;
  outer: for (const l of lists) {
    for (const m of l.matches) {
      if (m.k !== "content" || m.negated) continue;
      if (m.fast) {
        best = m;
        bestList = l;
        break outer;
      }
      if (best === null || size(m) > size(best)) {
        best = m;
        bestList = l;
      }
    }
  }
  if (best === null) return null;
  const bytes = best.fastChop
    ? best.folded.subarray(
      best.fastChop[0],
      best.fastChop[0] + best.fastChop[1],
    )
    : best.folded;
  return { list: bestList!, bytes: internBytes(cache, foldBytes(bytes)) };
}
