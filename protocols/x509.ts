/**
 * The X.509 certificate facts Suricata logs for a TLS server certificate,
 * read from DER (RFC 5280 §4.1, X.690 DER) with a small bounded reader of
 * our own: subject and issuer as Suricata writes them (`subject`,
 * `issuerdn`: its x509-parser's form, RDNs joined by ", ", the attributes
 * of a multi-valued RDN by " + ", `C`, `ST`, `L`, `O`, `OU`, `CN`, `DC`,
 * `Email` abbreviated, other attributes by their OID registry short name
 * or as `OID(1.2.3)`, values that are not strings as upper-case hex, e.g.
 * "C=US, O=Let's Encrypt, CN=R3"), the SHA-1
 * `fingerprint` of the whole DER (colon-separated lower-case hex), the
 * `serial` (the INTEGER's content bytes as colon-separated upper-case hex,
 * a leading 00 kept, as Suricata's `raw_serial`), and validity as
 * `notbefore`/`notafter` ("2024-01-01T00:00:00", UTC).
 *
 * The DER is hostile: only the definite-length forms DER allows are read,
 * every length is checked against the element that encloses it, lengths
 * longer than 4 bytes are refused, and the reader only walks the fixed
 * path of a certificate (no recursion driven by the input), so deep
 * nesting costs nothing. A certificate that breaks any of this comes back
 * as an {@link X509Error} (a `SyntaxError`), never as a partial record.
 * Bad bytes inside a name's strings are kept as U+FFFD, not refused.
 *
 * A reader of our own rather than an npm package (pkijs, @peculiar/x509,
 * node-forge): those decode the whole certificate into object trees and
 * bring dependencies, where five fields are wanted once per handshake, with
 * the exact text forms of Suricata that they do not produce anyway.
 *
 * Reference: Suricata `rust/src/x509/mod.rs`, `src/output-json-tls.c`,
 * `src/app-layer-ssl.c` (fingerprint, serial), and `rusticata/x509-parser`
 * `x509name_to_string`.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A certificate that is not valid DER X.509. */
export class X509Error extends SyntaxError {
  override name = "X509Error";
}

/** The facts of one certificate, in Suricata's EVE forms. */
export interface CertInfo {
  /** "C=US, O=Let's Encrypt, CN=R3" */
  readonly subject: string;
  readonly issuerdn: string;
  /** Serial number, "00:8A:…" (upper-case hex of the INTEGER's bytes). */
  readonly serial: string;
  /** SHA-1 of the DER, "aa:bb:…" (lower case). */
  readonly fingerprint: string;
  /** "2024-01-01T00:00:00" (UTC). */
  readonly notbefore: string;
  readonly notafter: string;
}

/** Cap on a name's text, in characters (longer text is cut). */
export const X509_MAX_NAME = 1024;

const TAG_INTEGER = 0x02;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_VERSION = 0xa0; // [0] EXPLICIT, constructed

/** One DER element: its tag, and where its content starts and ends. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** Reads the element at `pos` that must end by `limit`. */
function readTlv(der: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) {
    throw new X509Error("Element header runs past its parent");
  }
  const tag = der[pos]!;
  if ((tag & 0x1f) === 0x1f) {
    throw new X509Error("High tag numbers are not used in X.509");
  }
  let len = der[pos + 1]!;
  let q = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new X509Error("Indefinite length is not DER");
    if (n > 4) throw new X509Error(`Length of ${n} bytes is too long`);
    if (q + n > limit) throw new X509Error("Length runs past its parent");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[q + i]!;
    q += n;
  }
  if (len > limit - q) {
    throw new X509Error(`Length ${len} runs past its parent`);
  }
  return { tag, start: q, end: q + len };
}

function expect(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) {
    throw new X509Error(
      `Expected ${what} (tag 0x${tag.toString(16)}), found tag 0x${
        t.tag.toString(16)
      }`,
    );
  }
  return t;
}

const HEX_LOWER = Array.from(
  { length: 256 },
  (_, b) => b.toString(16).padStart(2, "0"),
);
const HEX_UPPER = HEX_LOWER.map((h) => h.toUpperCase());

/** "aa:bb:…" (or upper case) of `bytes`. */
function hexSep(bytes: Uint8Array, upper: boolean, sep = ":"): string {
  const table = upper ? HEX_UPPER : HEX_LOWER;
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) parts[i] = table[bytes[i]!]!;
  return parts.join(sep);
}

/** SHA-1 of `der`, as Suricata's `fingerprint`: "aa:bb:…" lower case. */
export function certFingerprint(der: Uint8Array): string {
  return hexSep(createHash("sha1").update(der).digest(), false);
}

/** OID content bytes in dotted form ("2.5.4.3"). */
function oidText(der: Uint8Array, start: number, end: number): string {
  if (start >= end) throw new X509Error("Empty object identifier");
  const parts: number[] = [];
  let v = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = der[i]!;
    v = v * 128 + (b & 0x7f);
    if (++n > 8) throw new X509Error("Object identifier arc too long");
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
      n = 0;
    }
  }
  if (n !== 0) throw new X509Error("Object identifier ends inside an arc");
  return parts.join(".");
}

/**
 * Attribute names as x509-parser prints them: its abbreviations (`CN`, `C`,
 * `L`, `ST`, `O`, `OU`, `DC`, `Email`), else the short name of its OID
 * registry (rusticata/oid-registry `assets/oid_db.txt`), else `OID(1.2.3)`.
 */
const ATTR_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "Email",
  "0.9.2342.19200300.100.1.1": "uid",
  "1.3.6.1.4.1.311.60.2.1.1": "msJurisdictionLocality",
  "1.3.6.1.4.1.311.60.2.1.2": "msJurisdictionStateOrProvince",
  "1.3.6.1.4.1.311.60.2.1.3": "msJurisdictionCountry",
  "2.5.4.0": "objectClass",
  "2.5.4.1": "aliasedEntryName",
  "2.5.4.2": "knowledgeInformation",
  "2.5.4.4": "surname",
  "2.5.4.5": "serialNumber",
  "2.5.4.9": "streetAddress",
  "2.5.4.12": "title",
  "2.5.4.13": "description",
  "2.5.4.14": "searchGuide",
  "2.5.4.15": "businessCategory",
  "2.5.4.16": "postalAddress",
  "2.5.4.17": "postalCode",
  "2.5.4.41": "name",
  "2.5.4.42": "givenName",
  "2.5.4.43": "initials",
  "2.5.4.44": "generationQualifier",
  "2.5.4.45": "uniqueIdentifier",
  "2.5.4.46": "dnQualifier",
};

/** ATTR_NAMES keyed by the OIDs' DER content bytes (as Latin-1 text). */
const ATTR_BY_DER = new Map<string, string>();

/** The DER content bytes of a dotted OID. */
function oidDer(dotted: string): number[] {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [];
  const put = (v: number) => {
    const tmp = [v & 0x7f];
    while ((v = Math.floor(v / 128)) > 0) tmp.unshift(0x80 | (v & 0x7f));
    out.push(...tmp);
  };
  put(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) put(a);
  return out;
}
for (const [dotted, name] of Object.entries(ATTR_NAMES)) {
  ATTR_BY_DER.set(String.fromCharCode(...oidDer(dotted)), name);
}

/** The name of the attribute whose OID is `der[start, end)`. */
function attrName(der: Uint8Array, start: number, end: number): string {
  const key = String.fromCharCode.apply(
    null,
    der.subarray(start, end) as unknown as number[],
  );
  return ATTR_BY_DER.get(key) ?? `OID(${oidText(der, start, end)})`;
}

const UTF8 = new TextDecoder("utf-8", { fatal: false });

/** UTF-8 text of `bytes`; plain ASCII skips the decoder (most names). */
function utf8(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) return UTF8.decode(bytes);
  }
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}
const LATIN1 = new TextDecoder("latin1");

/** The text of a directory string value, or upper-case hex for other types. */
function attrValue(der: Uint8Array, t: Tlv): string {
  const bytes = der.subarray(t.start, t.end);
  switch (t.tag) {
    case 0x0c: // UTF8String
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x1a: // VisibleString
      return utf8(bytes);
    case 0x14: // TeletexString (T.61; read as Latin-1)
      return LATIN1.decode(bytes);
    case 0x1e: { // BMPString: UTF-16BE
      let s = "";
      for (let i = 0; i + 1 < bytes.length; i += 2) {
        s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
      }
      return s.toWellFormed();
    }
    case 0x1c: { // UniversalString: UTF-32BE
      let s = "";
      for (let i = 0; i + 3 < bytes.length; i += 4) {
        const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) |
          (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
        s += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
      }
      return s.toWellFormed();
    }
    default:
      return hexSep(bytes, true, "");
  }
}

/** A Name (SEQUENCE OF RDN) in x509-parser's text form. */
function nameText(der: Uint8Array, name: Tlv): string {
  let out = "";
  let p = name.start;
  while (p < name.end) {
    const rdn = expect(readTlv(der, p, name.end), TAG_SET, "RDN set");
    p = rdn.end;
    let rdnText = "";
    let q = rdn.start;
    while (q < rdn.end) {
      const atv = expect(
        readTlv(der, q, rdn.end),
        TAG_SEQUENCE,
        "attribute",
      );
      q = atv.end;
      const oid = expect(readTlv(der, atv.start, atv.end), TAG_OID, "OID");
      const value = readTlv(der, oid.end, atv.end);
      if (oid.end === oid.start) throw new X509Error("Empty object identifier");
      if (oid.end - oid.start > 64) {
        throw new X509Error("Object identifier longer than 64 bytes");
      }
      const item = `${attrName(der, oid.start, oid.end)}=${
        attrValue(der, value)
      }`;
      rdnText = rdnText === "" ? item : rdnText + " + " + item;
    }
    out = out === "" ? rdnText : out + ", " + rdnText;
    if (out.length > X509_MAX_NAME) return out.slice(0, X509_MAX_NAME);
  }
  return out;
}

function digits(der: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = der[at + i]! - 0x30;
    if (c < 0 || c > 9) throw new X509Error("Time holds a non-digit");
    v = v * 10 + c;
  }
  return v;
}

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** UTCTime or GeneralizedTime (RFC 5280 §4.1.2.5) as "YYYY-MM-DDTHH:MM:SS". */
function timeText(der: Uint8Array, t: Tlv): string {
  let p = t.start;
  let year: number;
  if (t.tag === TAG_UTC_TIME) {
    if (t.end - t.start !== 13) {
      throw new X509Error("UTCTime is not YYMMDDHHMMSSZ");
    }
    const yy = digits(der, p, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p += 2;
  } else if (t.tag === TAG_GENERALIZED_TIME) {
    if (t.end - t.start !== 15) {
      throw new X509Error("GeneralizedTime is not YYYYMMDDHHMMSSZ");
    }
    year = digits(der, p, 4);
    p += 4;
  } else {throw new X509Error(
      "Validity time is neither UTCTime nor GeneralizedTime",
    );}
  if (der[t.end - 1] !== 0x5a) throw new X509Error("Time is not in UTC (Z)");
  const mo = digits(der, p, 2), d = digits(der, p + 2, 2);
  const h = digits(der, p + 4, 2), mi = digits(der, p + 6, 2);
  const s = digits(der, p + 8, 2);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    throw new X509Error("Time is out of range");
  }
  return `${String(year).padStart(4, "0")}-${pad2(mo)}-${pad2(d)}T${pad2(h)}:${
    pad2(mi)
  }:${pad2(s)}`;
}

/**
 * Reads a DER certificate's subject, issuer, serial, validity and SHA-1
 * fingerprint. Throws {@link X509Error} when the DER is malformed.
 *
 * @example
 * ```ts
 * const c = parseCertificateDer(der);
 * c.issuerdn; // "C=US, O=Let's Encrypt, CN=R3"
 * ```
 */
export function parseCertificateDer(der: Uint8Array): CertInfo {
  const cert = expect(readTlv(der, 0, der.length), TAG_SEQUENCE, "Certificate");
  if (cert.end !== der.length) {
    throw new X509Error("Bytes after the certificate");
  }
  const tbs = expect(
    readTlv(der, cert.start, cert.end),
    TAG_SEQUENCE,
    "TBSCertificate",
  );
  let t = readTlv(der, tbs.start, tbs.end);
  if (t.tag === TAG_VERSION) t = readTlv(der, t.end, tbs.end);
  const serial = expect(t, TAG_INTEGER, "serial number");
  if (serial.end === serial.start) throw new X509Error("Empty serial number");
  const sigAlg = expect(
    readTlv(der, serial.end, tbs.end),
    TAG_SEQUENCE,
    "signature algorithm",
  );
  const issuer = expect(
    readTlv(der, sigAlg.end, tbs.end),
    TAG_SEQUENCE,
    "issuer",
  );
  const validity = expect(
    readTlv(der, issuer.end, tbs.end),
    TAG_SEQUENCE,
    "validity",
  );
  const notBefore = readTlv(der, validity.start, validity.end);
  const notAfter = readTlv(der, notBefore.end, validity.end);
  const subject = expect(
    readTlv(der, validity.end, tbs.end),
    TAG_SEQUENCE,
    "subject",
  );
  return {
    subject: nameText(der, subject),
    issuerdn: nameText(der, issuer),
    serial: hexSep(der.subarray(serial.start, serial.end), true),
    fingerprint: certFingerprint(der),
    notbefore: timeText(der, notBefore),
    notafter: timeText(der, notAfter),
  };
}
