/**
 * Pure parsers of TLS handshake messages, given one whole handshake message
 * body (the bytes after its 4-byte type and length header): ClientHello and
 * ServerHello (RFC 8446 §4.1.2–4.1.3, RFC 5246 §7.4.1) with the extensions
 * that fingerprints and logs need (server_name RFC 6066 §3, supported_groups
 * and ec_point_formats RFC 8422 §5.1, signature_algorithms RFC 8446 §4.2.3,
 * ALPN RFC 7301 §3.1, supported_versions RFC 8446 §4.2.1), and the TLS ≤ 1.2
 * Certificate message (RFC 5246 §7.4.2: the chain's DER certificates).
 *
 * Each parser reads its own copy of the message, and the fields it returns
 * are views into that copy; a caller that gives up the message (`owned`:
 * nothing changes those bytes afterwards) saves the copy.
 *
 * The bytes are hostile: every length is checked against the structure that
 * encloses it, and a message whose lengths do not add up comes back as a
 * {@link TlsFault} (a string), never as an exception or a partial record.
 * These run once per handshake message, not per packet, so they build plain
 * arrays.
 *
 * @module
 */
import { escapedText, TLS_MAX_SNI } from "../decode/mod.ts";

/** Handshake message types read here (RFC 8446 §4). */
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const HS_CERTIFICATE = 11;

/** Extension types read here (IANA TLS ExtensionType Values). */
export const EXT_SERVER_NAME = 0x0000;
export const EXT_SUPPORTED_GROUPS = 0x000a;
export const EXT_EC_POINT_FORMATS = 0x000b;
export const EXT_SIGNATURE_ALGORITHMS = 0x000d;
export const EXT_ALPN = 0x0010;
export const EXT_SUPPORTED_VERSIONS = 0x002b;

/** Cap on the number of certificates kept from one Certificate message. */
export const TLS_MAX_CERTS = 16;

/** Why a handshake message could not be read. */
export type TlsFault =
  | "tls_hs_short"
  | "tls_hs_bad_len"
  | "tls_hs_bad_session_id"
  | "tls_hs_bad_extension"
  | "tls_hs_trailing";

/** True when `x` is a fault rather than a parsed message. */
export function isTlsFault(x: unknown): x is TlsFault {
  return typeof x === "string";
}

/** A parsed ClientHello. Lists keep wire order and GREASE values. */
export interface ClientHello {
  /** legacy_version (0x0303 for TLS 1.2 and 1.3 clients). */
  readonly version: number;
  /** The 32 random bytes. */
  readonly random: Uint8Array;
  /** legacy_session_id (0–32 bytes). */
  readonly sessionId: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: readonly number[];
  /** Extension types in wire order. */
  readonly extensions: readonly number[];
  /** True when a server_name extension is present (even if empty). */
  readonly hasSni: boolean;
  /** The first host_name, escaped (`\xNN` outside printable ASCII), capped; "" when none. */
  readonly sni: string;
  readonly supportedGroups: readonly number[];
  readonly ecPointFormats: readonly number[];
  /** SignatureScheme values in wire order. */
  readonly signatureAlgorithms: readonly number[];
  /** ALPN protocol names, raw bytes, in wire order. */
  readonly alpn: readonly Uint8Array[];
  /** supported_versions list in wire order (empty when absent). */
  readonly supportedVersions: readonly number[];
}

/** A parsed ServerHello. */
export interface ServerHello {
  /** legacy_version (0x0303 for TLS 1.3). */
  readonly version: number;
  /** The version negotiated: supported_versions when present, else `version`. */
  readonly negotiatedVersion: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  /** Extension types in wire order. */
  readonly extensions: readonly number[];
  /** The ALPN protocol the server selected (raw bytes), or null. */
  readonly alpn: Uint8Array | null;
}

/** True for the 16 GREASE values of RFC 8701 (0x0a0a, 0x1a1a, …, 0xfafa). */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

/** A bounded cursor over `b[pos, end)`; every read checks the end. */
class Reader {
  constructor(
    readonly b: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}
  has(n: number): boolean {
    return n >= 0 && this.pos + n <= this.end;
  }
  u8(): number {
    return this.b[this.pos++]!;
  }
  u16(): number {
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u24(): number {
    const v = (this.b[this.pos]! << 16) | (this.b[this.pos + 1]! << 8) |
      this.b[this.pos + 2]!;
    this.pos += 3;
    return v;
  }
  /** A view of the next `n` bytes (the parsers read a private copy). */
  bytes(n: number): Uint8Array {
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}

/**
 * Reads a list of `width`-byte integers whose byte length is given by a
 * `lenBytes`-byte prefix at the reader's position; null when the prefix or
 * the list overrun the reader, or the length is not a multiple of `width`.
 */
function readList(
  r: Reader,
  lenBytes: 1 | 2,
  width: 1 | 2,
): number[] | null {
  if (!r.has(lenBytes)) return null;
  const n = lenBytes === 1 ? r.u8() : r.u16();
  if (!r.has(n) || n % width !== 0) return null;
  const out: number[] = [];
  for (let i = 0; i < n; i += width) out.push(width === 1 ? r.u8() : r.u16());
  return out;
}

/** The head both hellos share: legacy version, random, session id. */
interface HelloHead {
  version: number;
  random: Uint8Array;
  sessionId: Uint8Array;
}

function readHelloHead(r: Reader): HelloHead | TlsFault {
  if (!r.has(2 + 32 + 1)) return "tls_hs_short";
  const version = r.u16();
  const random = r.bytes(32);
  const sidLen = r.u8();
  if (sidLen > 32) return "tls_hs_bad_session_id";
  if (!r.has(sidLen)) return "tls_hs_bad_len";
  return { version, random, sessionId: r.bytes(sidLen) };
}

/**
 * Parses a ClientHello body. SSLv2-compatible hellos (RFC 5246 appendix
 * E.2) are not TLS handshake messages and are not read here.
 *
 * @example
 * ```ts
 * const ch = parseClientHello(body);
 * if (!isTlsFault(ch)) console.log(ch.sni, ch.cipherSuites.length);
 * ```
 */
export function parseClientHello(
  msg: Uint8Array,
  owned = false,
): ClientHello | TlsFault {
  // One copy of the message: the fields kept are views into it.
  const body = owned ? msg : msg.slice();
  const r = new Reader(body, 0, body.length);
  const head = readHelloHead(r);
  if (isTlsFault(head)) return head;
  const { version, random, sessionId } = head;
  const cipherSuites = readList(r, 2, 2);
  if (cipherSuites === null) return "tls_hs_bad_len";
  const compressionMethods = readList(r, 1, 1);
  if (compressionMethods === null) return "tls_hs_bad_len";
  const hello = {
    version,
    random,
    sessionId,
    cipherSuites,
    compressionMethods,
    extensions: [] as number[],
    hasSni: false,
    sni: "",
    supportedGroups: [] as number[],
    ecPointFormats: [] as number[],
    signatureAlgorithms: [] as number[],
    alpn: [] as Uint8Array[],
    supportedVersions: [] as number[],
  };
  if (r.pos === r.end) return hello; // no extensions block
  if (!r.has(2)) return "tls_hs_bad_len";
  const extLen = r.u16();
  if (!r.has(extLen)) return "tls_hs_bad_len";
  if (r.pos + extLen !== r.end) return "tls_hs_trailing";
  while (r.pos < r.end) {
    if (!r.has(4)) return "tls_hs_bad_len";
    const type = r.u16();
    const len = r.u16();
    if (!r.has(len)) return "tls_hs_bad_len";
    const e = new Reader(body, r.pos, r.pos + len);
    r.pos += len;
    hello.extensions.push(type);
    let ok = true;
    switch (type) {
      case EXT_SERVER_NAME:
        hello.hasSni = true;
        if (len > 0) {
          const sni = readServerName(e);
          if (sni === null) ok = false;
          else hello.sni = sni;
        }
        break;
      case EXT_SUPPORTED_GROUPS: {
        const l = readList(e, 2, 2);
        if (l === null) ok = false;
        else hello.supportedGroups = l;
        break;
      }
      case EXT_EC_POINT_FORMATS: {
        const l = readList(e, 1, 1);
        if (l === null) ok = false;
        else hello.ecPointFormats = l;
        break;
      }
      case EXT_SIGNATURE_ALGORITHMS: {
        const l = readList(e, 2, 2);
        if (l === null) ok = false;
        else hello.signatureAlgorithms = l;
        break;
      }
      case EXT_ALPN: {
        const l = readAlpnList(e);
        if (l === null) ok = false;
        else hello.alpn = l;
        break;
      }
      case EXT_SUPPORTED_VERSIONS: {
        const l = readList(e, 1, 2);
        if (l === null) ok = false;
        else hello.supportedVersions = l;
        break;
      }
    }
    if (!ok) return "tls_hs_bad_extension";
  }
  return hello;
}

/** The first host_name of a server_name extension, or null when malformed. */
function readServerName(e: Reader): string | null {
  if (!e.has(2)) return null;
  const listLen = e.u16();
  if (!e.has(listLen)) return null;
  const listEnd = e.pos + listLen;
  let name = "";
  let found = false;
  while (e.pos < listEnd) {
    if (e.pos + 3 > listEnd) return null;
    const nameType = e.u8();
    const n = e.u16();
    if (e.pos + n > listEnd) return null;
    if (nameType === 0 && !found) {
      found = true;
      const cut = n > TLS_MAX_SNI ? TLS_MAX_SNI : n;
      name = escapedText(e.b, e.pos, e.pos + cut, TLS_MAX_SNI * 4);
    }
    e.pos += n;
  }
  return name;
}

/** ALPN ProtocolNameList (RFC 7301 §3.1); null when malformed. */
function readAlpnList(e: Reader): Uint8Array[] | null {
  if (!e.has(2)) return null;
  const listLen = e.u16();
  if (!e.has(listLen)) return null;
  const listEnd = e.pos + listLen;
  const out: Uint8Array[] = [];
  while (e.pos < listEnd) {
    const n = e.u8();
    if (e.pos + n > listEnd) return null;
    out.push(e.bytes(n));
  }
  return out;
}

/** Parses a ServerHello body (TLS 1.3's HelloRetryRequest reads as one too). */
export function parseServerHello(
  msg: Uint8Array,
  owned = false,
): ServerHello | TlsFault {
  const body = owned ? msg : msg.slice();
  const r = new Reader(body, 0, body.length);
  const head = readHelloHead(r);
  if (isTlsFault(head)) return head;
  const { version, random, sessionId } = head;
  if (!r.has(3)) return "tls_hs_bad_len";
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions: number[] = [];
  let negotiatedVersion = version;
  let alpn: Uint8Array | null = null;
  if (r.pos < r.end) {
    if (!r.has(2)) return "tls_hs_bad_len";
    const extLen = r.u16();
    if (!r.has(extLen)) return "tls_hs_bad_len";
    if (r.pos + extLen !== r.end) return "tls_hs_trailing";
    while (r.pos < r.end) {
      if (!r.has(4)) return "tls_hs_bad_len";
      const type = r.u16();
      const len = r.u16();
      if (!r.has(len)) return "tls_hs_bad_len";
      const e = new Reader(body, r.pos, r.pos + len);
      r.pos += len;
      extensions.push(type);
      if (type === EXT_SUPPORTED_VERSIONS) {
        // The server's selected_version: one uint16 (RFC 8446 §4.2.1).
        if (len !== 2) return "tls_hs_bad_extension";
        negotiatedVersion = e.u16();
      } else if (type === EXT_ALPN) {
        const l = readAlpnList(e);
        if (l === null || l.length !== 1) return "tls_hs_bad_extension";
        alpn = l[0]!;
      }
    }
  }
  return {
    version,
    negotiatedVersion,
    random,
    sessionId,
    cipherSuite,
    compressionMethod,
    extensions,
    alpn,
  };
}

/**
 * Parses a TLS ≤ 1.2 Certificate body into the chain's DER certificates
 * (views into one copy of the message), server's first, at most {@link TLS_MAX_CERTS} (the rest are
 * checked and dropped). TLS 1.3 Certificate messages (with a request
 * context and per-entry extensions) are encrypted and never reach this.
 */
export function parseCertificate(
  msg: Uint8Array,
  owned = false,
): Uint8Array[] | TlsFault {
  const body = owned ? msg : msg.slice();
  const r = new Reader(body, 0, body.length);
  if (!r.has(3)) return "tls_hs_short";
  const listLen = r.u24();
  if (!r.has(listLen)) return "tls_hs_bad_len";
  if (r.pos + listLen !== r.end) return "tls_hs_trailing";
  const out: Uint8Array[] = [];
  while (r.pos < r.end) {
    if (!r.has(3)) return "tls_hs_bad_len";
    const n = r.u24();
    if (!r.has(n)) return "tls_hs_bad_len";
    if (out.length < TLS_MAX_CERTS) out.push(r.bytes(n));
    else r.pos += n;
  }
  return out;
}
