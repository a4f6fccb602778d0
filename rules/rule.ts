/**
 * The compiled form of one rule: header matchers, packet and flow
 * conditions, and per-buffer lists of payload matchers in rule order.
 * Produced by `compile.ts`, evaluated by `match.ts` and `engine.ts`.
 *
 * @module
 */
import type { PcreSpec } from "./_pcre.ts";
import type { AddrExpr, PortExpr, RuleAction } from "./parse.ts";

/** A number comparison (`dsize`, `bsize`, `ttl`, `itype`, …). */
export interface Cmp {
  /** "=", "!=", "<", ">", "<=", ">=", "<>" (exclusive range). */
  readonly op: string;
  readonly a: number;
  readonly b: number;
}

/** `content`. */
export interface ContentMatch {
  readonly k: "content";
  /** The bytes as written. */
  readonly pat: Uint8Array;
  /** The bytes ASCII-lower-cased when `nocase`, else `pat`. */
  folded: Uint8Array;
  nocase: boolean;
  negated: boolean;
  /** Absolute window: offset and depth (-1: none). */
  offset: number;
  depth: number;
  /** Relative window: distance and within (NaN / -1: none). */
  distance: number;
  within: number;
  relative: boolean;
  startswith: boolean;
  endswith: boolean;
  /** Marked `fast_pattern` (with an optional chop offset,length). */
  fast: boolean;
  fastChop: [number, number] | null;
}

/** `pcre`. */
export interface PcreMatch {
  readonly k: "pcre";
  readonly spec: PcreSpec;
  readonly relative: boolean;
}

/** `byte_test`. */
export interface ByteTestMatch {
  readonly k: "byte_test";
  readonly n: number;
  readonly op: string;
  readonly negated: boolean;
  readonly value: number;
  readonly offset: number;
  readonly relative: boolean;
  readonly little: boolean;
  /** 0 for binary, else 8, 10 or 16 for a string number. */
  readonly base: number;
  readonly bitmask: number;
}

/** `byte_jump`. */
export interface ByteJumpMatch {
  readonly k: "byte_jump";
  readonly n: number;
  readonly offset: number;
  readonly relative: boolean;
  readonly little: boolean;
  readonly base: number;
  readonly multiplier: number;
  readonly align: boolean;
  readonly fromBeginning: boolean;
  readonly fromEnd: boolean;
  readonly postOffset: number;
  readonly bitmask: number;
}

/** `isdataat`. */
export interface IsDataAtMatch {
  readonly k: "isdataat";
  readonly n: number;
  readonly relative: boolean;
  readonly negated: boolean;
}

/** One payload matcher. */
export type PayloadMatch =
  | ContentMatch
  | PcreMatch
  | ByteTestMatch
  | ByteJumpMatch
  | IsDataAtMatch;

/** The matchers of one buffer (with its transforms). */
export interface BufferList {
  /** Buffer id (see buffers.ts). */
  readonly buf: number;
  /** Transform names in order (`dotprefix`, `to_lowercase`, …). */
  readonly transforms: string[];
  readonly matches: PayloadMatch[];
  /** `bsize` (or `urilen`) on this buffer. */
  size: Cmp | null;
  /** Inspection-buffer index the engine assigns (buffer + transforms). */
  ib: number;
}

/** A flowbits operation. */
export interface FlowbitOp {
  readonly op: "set" | "unset" | "toggle" | "isset" | "isnotset";
  /** Bit ids (engine-wide). */
  readonly bits: readonly number[];
  /** For isset/isnotset with several names: "&" all, "|" any. */
  readonly join: "&" | "|";
}

/** Threshold or detection_filter. */
export interface RateSpec {
  /** "limit", "threshold", "both" or "detection_filter". */
  readonly type: string;
  readonly track: "by_src" | "by_dst" | "by_rule" | "by_both";
  readonly count: number;
  readonly seconds: number;
}

/** A compiled rule. */
export interface Rule {
  /** Position in evaluation order (assigned by the engine). */
  idx: number;
  readonly action: RuleAction;
  readonly sid: number;
  readonly gid: number;
  readonly rev: number;
  readonly msg: string;
  readonly classtype: string;
  /** The classtype's description (EVE `alert.category`). */
  readonly category: string;
  /** 1 (high) … 4; from `priority`, else the classtype's. */
  readonly priority: number;
  /** The `metadata` options' text, joined by ", " (see `parseMetadata`). */
  readonly metadataText: string;
  /** Source file and line, for messages and the dashboard. */
  readonly file: string;
  readonly line: number;
  /** ET category from the msg ("ET MALWARE …" → "MALWARE"), or the file. */
  readonly group: string;

  /** IP protocol (0: any). */
  readonly ipProto: number;
  /** App-layer protocol required ("" none; "http", "dns", "tls", …). */
  readonly app: string;
  readonly appNegated: boolean;
  readonly src: AddrExpr;
  readonly srcPorts: PortExpr;
  readonly dst: AddrExpr;
  readonly dstPorts: PortExpr;
  readonly bidir: boolean;

  /** Direction: 0 to server, 1 to client, -1 either. */
  readonly flowDir: number;
  /** 1 established, 0 not established, -1 either. */
  readonly established: number;
  /** 0 both, 1 only stream, 2 no stream. */
  readonly streamMode: number;
  readonly flowbits: readonly FlowbitOp[];
  /** True when it sets, unsets or toggles a flowbit. */
  readonly setsBits: boolean;
  readonly noalert: boolean;

  readonly dsize: Cmp | null;
  readonly ttl: Cmp | null;
  readonly itype: Cmp | null;
  readonly icode: Cmp | null;
  readonly ipProtoCmp: Cmp | null;
  /** TCP flags: mode "=" exact, "+" all of, "*" any of, "!" none of. */
  readonly flags: { mode: string; want: number; ignore: number } | null;
  readonly streamSize: { side: string; cmp: Cmp } | null;

  readonly lists: BufferList[];
  /** True when any list is a transaction buffer. */
  readonly tx: boolean;
  /** The content used as the prefilter pattern, or null. */
  readonly fast: { list: BufferList; bytes: Uint8Array } | null;
  readonly threshold: RateSpec | null;
  readonly detectionFilter: RateSpec | null;
}
