/**
 * JA4, the TLS client fingerprint of FoxIO's JA4+ suite, base JA4 only (the
 * one under the BSD 3-Clause licence; JA4S, JA4X and the rest are under
 * FoxIO's own licence and are not implemented). Specification:
 * https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md
 *
 * `t13d1516h2_8daaf6152771_e5627efa2ab1` is, in order:
 * - `t`: TLS over TCP (this module reads TCP only; QUIC would be `q`);
 * - the version: the highest non-GREASE supported_versions value, else the
 *   hello's legacy_version (`13`, `12`, `11`, `10`, `s3`, `s2`; `00` unknown);
 * - `d` when a server_name extension is present, else `i`;
 * - the number of cipher suites and of extensions, GREASE not counted, two
 *   digits, capped at 99 (SNI and ALPN count);
 * - the first and last characters of the first ALPN value, `00` when none
 *   or empty; when its first or last byte is not ASCII alphanumeric, the
 *   first and last characters of the value's hex instead;
 * - the first 12 hex digits of SHA-256 of the cipher suites as 4-digit
 *   lower-case hex, sorted, comma-joined (`000000000000` when none);
 * - the same over the extensions sorted, without GREASE, SNI (0000) and ALPN
 *   (0010), then `_` and the signature algorithms in wire order (no `_` when
 *   there are none); `000000000000` when the extension list is empty.
 *
 * GREASE values are ignored everywhere, as the specification says
 * (signature algorithms and ALPN values included: the first non-GREASE ALPN
 * value counts).
 *
 * Suricata's JA4 (rust/src/ja4.rs) differs in two corners, where this
 * module follows the specification: Suricata hashes an empty list (giving
 * `e3b0c44298fc`) instead of writing `000000000000`, and prints `00` when the
 * first ALPN value is GREASE instead of taking the next one.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  type ClientHello,
  EXT_ALPN,
  EXT_SERVER_NAME,
  isGrease,
} from "./tls_handshake.ts";

const ZERO12 = "000000000000";

/** The two-character JA4 code of a TLS version number. */
export function ja4Version(v: number): string {
  switch (v) {
    case 0x0304:
      return "13";
    case 0x0303:
      return "12";
    case 0x0302:
      return "11";
    case 0x0301:
      return "10";
    case 0x0300:
      return "s3";
    case 0x0002:
      return "s2";
    case 0xfeff:
      return "d1";
    case 0xfefd:
      return "d2";
    case 0xfefc:
      return "d3";
    default:
      return "00";
  }
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a);
}

const HEX = "0123456789abcdef";

/** The JA4 ALPN code of the first ALPN value (`h2`, `h1`, `00`, …). */
export function ja4Alpn(first: Uint8Array | undefined): string {
  if (first === undefined || first.length === 0) return "00";
  const a = first[0]!, z = first[first.length - 1]!;
  if (isAlnum(a) && isAlnum(z)) {
    return String.fromCharCode(a) + String.fromCharCode(z);
  }
  return HEX[a >> 4]! + HEX[z & 15]!;
}

/** First 12 hex digits of SHA-256 of `s`, or `000000000000` for "". */
function hash12(s: string): string {
  if (s === "") return ZERO12;
  return createHash("sha256").update(s).digest("hex").slice(0, 12);
}

function count2(n: number): string {
  return n > 99 ? "99" : n < 10 ? "0" + n : String(n);
}

/** The parts of a JA4 fingerprint before hashing (JA4_r, sorted raw form). */
export interface Ja4Raw {
  /** `t13d1516h2` */
  readonly prefix: string;
  /** Sorted cipher suites, `002f,0035,…` */
  readonly ciphers: string;
  /** Sorted extensions without SNI and ALPN, then `_` and signature algorithms. */
  readonly extensions: string;
}

// Scratch for sorting and writing the lists, grown for longer hellos (a
// list holds at most 32767 values: its length field is 16 bits of bytes).
let SCRATCH = new Uint16Array(256);
let TEXT = new Uint8Array(2 * 256 * 5 + 1);
const LATIN1 = new TextDecoder("latin1");

function room(n: number): void {
  if (n <= SCRATCH.length) return;
  SCRATCH = new Uint16Array(n);
  TEXT = new Uint8Array(2 * n * 5 + 1);
}
const HEXC = new TextEncoder().encode("0123456789abcdef");

/**
 * `values[0, n)` as 4-digit lower-case hex joined by commas, written into
 * TEXT from `at`; returns the end.
 */
function putHexList(values: Uint16Array, n: number, at: number): number {
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (i > 0) TEXT[at++] = 0x2c;
    TEXT[at++] = HEXC[v >> 12]!;
    TEXT[at++] = HEXC[(v >> 8) & 15]!;
    TEXT[at++] = HEXC[(v >> 4) & 15]!;
    TEXT[at++] = HEXC[v & 15]!;
  }
  return at;
}

function text(end: number): string {
  if (end > 4096) return LATIN1.decode(TEXT.subarray(0, end));
  return String.fromCharCode.apply(
    null,
    TEXT.subarray(0, end) as unknown as number[],
  );
}

/**
 * Copies the non-GREASE values of `list` (minus `skipA`, `skipB`) into
 * SCRATCH; returns how many, and how many before skipping.
 */
function collect(
  list: readonly number[],
  skipA = -1,
  skipB = -1,
): [kept: number, all: number] {
  let kept = 0, all = 0;
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!;
    if (isGrease(v)) continue;
    all++;
    if (v === skipA || v === skipB) continue;
    SCRATCH[kept++] = v;
  }
  return [kept, all];
}

/** The first ALPN value that is not a GREASE one (RFC 8701 §2: 0x?A?A). */
function firstAlpn(list: readonly Uint8Array[]): Uint8Array | undefined {
  for (const a of list) {
    if (a.length !== 2 || !isGrease((a[0]! << 8) | a[1]!)) return a;
  }
  return undefined;
}

/** The unhashed parts of a ClientHello's JA4. */
export function ja4Raw(hello: ClientHello): Ja4Raw {
  let version = hello.version;
  let best = -1;
  for (const v of hello.supportedVersions) {
    if (!isGrease(v) && v > best) best = v;
  }
  if (best >= 0) version = best;
  room(Math.max(
    hello.cipherSuites.length,
    hello.extensions.length,
    hello.signatureAlgorithms.length,
  ));

  const [nc, allCiphers] = collect(hello.cipherSuites);
  SCRATCH.subarray(0, nc).sort();
  const ciphers = text(putHexList(SCRATCH, nc, 0));

  const [ne, allExts] = collect(hello.extensions, EXT_SERVER_NAME, EXT_ALPN);
  SCRATCH.subarray(0, ne).sort();
  let end = putHexList(SCRATCH, ne, 0);
  if (ne > 0) {
    const [ns] = collect(hello.signatureAlgorithms);
    if (ns > 0) {
      TEXT[end++] = 0x5f; // _
      end = putHexList(SCRATCH, ns, end);
    }
  }
  const prefix = "t" + ja4Version(version) + (hello.hasSni ? "d" : "i") +
    count2(allCiphers) + count2(allExts) + ja4Alpn(firstAlpn(hello.alpn));
  return { prefix, ciphers, extensions: text(end) };
}

/**
 * The JA4 fingerprint of a ClientHello received over TCP.
 *
 * @example
 * ```ts
 * ja4(hello); // "t13d1516h2_8daaf6152771_e5627efa2ab1"
 * ```
 */
export function ja4(hello: ClientHello): string {
  const r = ja4Raw(hello);
  return `${r.prefix}_${hash12(r.ciphers)}_${hash12(r.extensions)}`;
}
