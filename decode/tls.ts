/**
 * TLS ClientHello facts from the start of a TCP payload: the server name
 * (SNI) and the highest version offered. A ClientHello often spans several
 * segments (large key shares); what the segment holds is read, and a hello
 * cut by the segment or the capture is not a fault. A length that overruns
 * the structure that encloses it is.
 *
 * @module
 */
import type { AppFault } from "./faults.ts";
import type { TlsFacts } from "./packet.ts";
import { escapedText } from "./_text.ts";

/** Cap on the SNI text, in bytes of the name. */
export const TLS_MAX_SNI = 255;

const EXT_SERVER_NAME = 0;
const EXT_SUPPORTED_VERSIONS = 43;

/** Sets every field of `out` to its empty value. */
export function clearTls(out: TlsFacts): void {
  out.sni = "";
  out.version = 0;
}

/**
 * True when `data[start, end)` starts with a TLS handshake record (content
 * type 22, version 3.x) holding a ClientHello (handshake type 1).
 */
export function isClientHelloStart(
  data: Uint8Array,
  start: number,
  end: number,
): boolean {
  if (end > data.length) end = data.length;
  return start >= 0 && end - start >= 6 && data[start] === 22 &&
    data[start + 1] === 3 && data[start + 2]! <= 4 && data[start + 5] === 1;
}

/**
 * Reads the ClientHello whose record starts at `data[start]` (check with
 * {@link isClientHelloStart} first) into `out`. Returns null on success, or
 * the fault; on a fault `out` holds partial values and should be cleared.
 */
export function readClientHello(
  data: Uint8Array,
  start: number,
  end: number,
  out: TlsFacts,
): AppFault | null {
  if (end > data.length) end = data.length;
  out.sni = "";
  out.version = 0;
  if (start < 0 || end - start < 11) return "tls_short";
  const recLen = (data[start + 3]! << 8) | data[start + 4]!;
  const hsLen = (data[start + 6]! << 16) | (data[start + 7]! << 8) |
    data[start + 8]!;
  // Declared end of the hello, and the end of what this segment holds of it.
  const hsEnd = start + 9 + hsLen;
  let soft = start + 5 + recLen;
  if (soft > end) soft = end;
  if (soft > hsEnd) soft = hsEnd;
  let q = start + 9;
  if (q + 2 > hsEnd) return "tls_bad_len";
  if (q + 2 > soft) return "tls_short";
  out.version = (data[q]! << 8) | data[q + 1]!;
  q += 34; // version, random
  // session id
  if (q + 1 > hsEnd) return "tls_bad_len";
  if (q + 1 > soft) return null;
  const sid = data[q]!;
  if (sid > 32) return "tls_bad_len";
  q += 1 + sid;
  // cipher suites
  if (q + 2 > hsEnd) return "tls_bad_len";
  if (q + 2 > soft) return null;
  q += 2 + ((data[q]! << 8) | data[q + 1]!);
  // compression methods
  if (q + 1 > hsEnd) return "tls_bad_len";
  if (q + 1 > soft) return null;
  q += 1 + data[q]!;
  if (q > hsEnd) return "tls_bad_len";
  if (q === hsEnd) return null; // no extensions
  if (q + 2 > hsEnd) return "tls_bad_len";
  if (q + 2 > soft) return null;
  const extEnd = q + 2 + ((data[q]! << 8) | data[q + 1]!);
  if (extEnd > hsEnd) return "tls_bad_len";
  q += 2;
  while (q + 4 <= extEnd) {
    if (q + 4 > soft) return null;
    const type = (data[q]! << 8) | data[q + 1]!;
    const len = (data[q + 2]! << 8) | data[q + 3]!;
    const body = q + 4;
    const bodyEnd = body + len;
    if (bodyEnd > extEnd) return "tls_bad_len";
    if (bodyEnd > soft) return null;
    if (type === EXT_SERVER_NAME) {
      const f = readServerName(data, body, bodyEnd, out);
      if (f !== null) return f;
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      const f = readSupportedVersions(data, body, bodyEnd, out);
      if (f !== null) return f;
    }
    q = bodyEnd;
  }
  return null;
}

/**
 * Parses a TCP payload that starts with a TLS record holding a ClientHello
 * into `out`. Returns "tls_short" when it is not one, else as
 * {@link readClientHello}.
 */
export function parseClientHello(
  bytes: Uint8Array,
  out: TlsFacts,
): AppFault | null {
  if (!isClientHelloStart(bytes, 0, bytes.length)) return "tls_short";
  return readClientHello(bytes, 0, bytes.length, out);
}

function readServerName(
  data: Uint8Array,
  q: number,
  end: number,
  out: TlsFacts,
): AppFault | null {
  if (q + 2 > end) return "tls_bad_len";
  const listEnd = q + 2 + ((data[q]! << 8) | data[q + 1]!);
  if (listEnd > end) return "tls_bad_len";
  q += 2;
  while (q + 3 <= listEnd) {
    const nameType = data[q]!;
    const nameEnd = q + 3 + ((data[q + 1]! << 8) | data[q + 2]!);
    if (nameEnd > listEnd) return "tls_bad_len";
    if (nameType === 0) {
      const cut = nameEnd - (q + 3) > TLS_MAX_SNI
        ? q + 3 + TLS_MAX_SNI
        : nameEnd;
      out.sni = escapedText(data, q + 3, cut, TLS_MAX_SNI * 4);
      return null;
    }
    q = nameEnd;
  }
  return null;
}

function readSupportedVersions(
  data: Uint8Array,
  q: number,
  end: number,
  out: TlsFacts,
): AppFault | null {
  if (q + 1 > end) return "tls_bad_len";
  const listEnd = q + 1 + data[q]!;
  if (listEnd > end) return "tls_bad_len";
  let best = 0;
  for (let k = q + 1; k + 2 <= listEnd; k += 2) {
    const v = (data[k]! << 8) | data[k + 1]!;
    // Only real versions: SSL 3.0 to TLS 1.3 (GREASE and drafts ignored).
    if (v >= 0x0300 && v <= 0x0304 && v > best) best = v;
  }
  if (best !== 0) out.version = best;
  return null;
}
