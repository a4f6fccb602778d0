/**
 * JA3 and JA3S TLS fingerprints, as specified by Salesforce
 * (https://github.com/salesforce/ja3, README "How it works" and "JA3S";
 * BSD 3-Clause) and as Suricata logs them (`tls.ja3`, `tls.ja3s`:
 * `{hash, string}`).
 *
 * JA3 is the decimal values of the ClientHello's fields
 * `SSLVersion,Cipher,SSLExtension,EllipticCurve,EllipticCurvePointFormat`,
 * the values of one field joined by `-`, GREASE values (RFC 8701) dropped
 * everywhere, empty fields left empty (`769,4-5-10,,,`); JA3S is
 * `SSLVersion,Cipher,SSLExtension` of the ServerHello. The version is the
 * hello's `legacy_version` (771 for TLS 1.3), not supported_versions. The
 * fingerprint is the MD5 of the string, in lower-case hex.
 *
 * MD5 comes from `node:crypto` (WebCrypto has none); this runs once per
 * handshake, not per packet.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  type ClientHello,
  isGrease,
  type ServerHello,
} from "./tls_handshake.ts";

/** A JA3 or JA3S fingerprint as Suricata logs it. */
export interface JaFingerprint {
  /** MD5 of `string`, 32 lower-case hex digits. */
  readonly hash: string;
  /** The fingerprint string before hashing. */
  readonly string: string;
}

function joinNoGrease(values: readonly number[]): string {
  let s = "";
  for (const v of values) {
    if (isGrease(v)) continue;
    s += s === "" ? String(v) : "-" + v;
  }
  return s;
}

/** Lower-case hex MD5 of a string's UTF-8 bytes. */
export function md5Hex(s: string): string {
  return createHash("md5").update(s).digest("hex");
}

/**
 * The JA3 string of a ClientHello.
 *
 * @example
 * ```ts
 * ja3String(hello); // "771,4865-4866-4867-49195,0-11-10-35-16-22-23-13-43-45-51,29-23-24,0"
 * ```
 */
export function ja3String(hello: ClientHello): string {
  // Point formats are one byte: no GREASE value can match, as in the spec.
  return `${hello.version},${joinNoGrease(hello.cipherSuites)},${
    joinNoGrease(hello.extensions)
  },${joinNoGrease(hello.supportedGroups)},${
    joinNoGrease(hello.ecPointFormats)
  }`;
}

/** The JA3 fingerprint (string and MD5) of a ClientHello. */
export function ja3(hello: ClientHello): JaFingerprint {
  const string = ja3String(hello);
  return { hash: md5Hex(string), string };
}

/** The JA3S string of a ServerHello. */
export function ja3sString(hello: ServerHello): string {
  const cipher = isGrease(hello.cipherSuite) ? "" : String(hello.cipherSuite);
  return `${hello.version},${cipher},${joinNoGrease(hello.extensions)}`;
}

/** The JA3S fingerprint (string and MD5) of a ServerHello. */
export function ja3s(hello: ServerHello): JaFingerprint {
  const string = ja3sString(hello);
  return { hash: md5Hex(string), string };
}
