/**
 * HTTP/1.x request grammar checks (RFC 9110/9112) on the bytes of a
 * request's first segment. Pure and allocation-free until a violation is
 * found: then only the evidence strings are made.
 *
 * Checked: the method (a known upper-case token), the request line shape
 * (method SP target SP HTTP/d.d, no stray spaces), header lines (a token
 * name, a colon, no whitespace before it, no obsolete folding), control
 * bytes, absurd lengths and header counts, and request-smuggling signs:
 * Content-Length together with Transfer-Encoding, conflicting or
 * non-numeric Content-Length, repeated or obfuscated Transfer-Encoding,
 * whitespace between a framing header's name and its colon.
 *
 * @module
 */

/** Violation bits. */
export const V_BAD_METHOD = 1 << 0;
/** Version missing or not HTTP/d.d, or a request line of the wrong shape. */
export const V_BAD_VERSION = 1 << 1;
/** Header line without a colon, with an empty or invalid name, or folded. */
export const V_BAD_HEADER = 1 << 2;
/** Request line, header line or header count beyond the limits. */
export const V_TOO_LONG = 1 << 3;
/** Control bytes (or non-ASCII in the request line or a name). */
export const V_NON_PRINTABLE = 1 << 4;
/** Content-Length/Transfer-Encoding conflicts and obfuscations. */
export const V_SMUGGLING = 1 << 5;

/** Variant names of the violation bits, most serious first. */
export const VIOLATION_ORDER: ReadonlyArray<[number, string]> = [
  [V_SMUGGLING, "smuggling"],
  [V_NON_PRINTABLE, "non_printable"],
  [V_BAD_METHOD, "bad_method"],
  [V_BAD_VERSION, "bad_version"],
  [V_BAD_HEADER, "bad_header"],
  [V_TOO_LONG, "too_long"],
];

/** Limits of the checks. */
export interface HttpLimits {
  maxRequestLine: number;
  maxHeaderLine: number;
  maxHeaders: number;
}

/** What the check found: violation bits, specific findings, where. */
export interface HttpCheck {
  violations: number;
  /** Specific findings, e.g. "header_without_colon", "cl_and_te". */
  findings: string[];
  /** End of the request line in the data (exclusive, before CR/LF). */
  lineEnd: number;
  /** Start and end of the first offending header line (-1 when none). */
  badHeaderStart: number;
  badHeaderEnd: number;
  /**
   * Length of the line the segment ends in the middle of (0 at a line
   * boundary), or -1 when the header block ended in the segment: lets a
   * caller follow a request across segments.
   */
  openLine: number;
  /** True when the open line is still the request line. */
  openIsRequestLine: boolean;
  /** Header lines seen so far. */
  headers: number;
}

/** Creates an empty check record. */
export function newHttpCheck(): HttpCheck {
  return {
    violations: 0,
    findings: [],
    lineEnd: 0,
    badHeaderStart: -1,
    badHeaderEnd: -1,
    openLine: -1,
    openIsRequestLine: false,
    headers: 0,
  };
}

const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;

const METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "PRI",
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
  "REPORT",
  "SEARCH",
  "MKCALENDAR",
  "MKACTIVITY",
  "CHECKOUT",
  "MERGE",
  "M-SEARCH",
  "NOTIFY",
  "SUBSCRIBE",
  "UNSUBSCRIBE",
  "PURGE",
  "LINK",
  "UNLINK",
  "ACL",
  "BIND",
  "REBIND",
  "UNBIND",
  "ORDERPATCH",
  "VERSION-CONTROL",
  "UPDATE",
  "LABEL",
  "BASELINE-CONTROL",
  "MKWORKSPACE",
  "UPDATEREDIRECTREF",
].map((m) => Uint8Array.from(m, (c) => c.charCodeAt(0)));

function knownMethod(d: Uint8Array, s: number, e: number): boolean {
  const len = e - s;
  outer: for (const m of METHODS) {
    if (m.length !== len) continue;
    for (let i = 0; i < len; i++) if (d[s + i] !== m[i]) continue outer;
    return true;
  }
  return false;
}

function lowerEq(d: Uint8Array, s: number, e: number, name: string): boolean {
  if (e - s !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = d[s + i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function add(out: HttpCheck, bit: number, finding: string): void {
  out.violations |= bit;
  if (!out.findings.includes(finding) && out.findings.length < 8) {
    out.findings.push(finding);
  }
}

/** Records a finding on header line `d[pos, he)` (the first one is kept for evidence). */
function bad(
  out: HttpCheck,
  bit: number,
  finding: string,
  pos: number,
  he: number,
): void {
  add(out, bit, finding);
  if (out.badHeaderStart < 0) {
    out.badHeaderStart = pos;
    out.badHeaderEnd = he;
  }
}

/**
 * Checks the request starting at `d[start]` (segment ends at `end`) and
 * fills `out`. Returns the violation bits (0 when the request is well formed
 * as far as the segment shows).
 */
export function checkHttpRequest(
  d: Uint8Array,
  start: number,
  end: number,
  lim: HttpLimits,
  out: HttpCheck,
): number {
  out.violations = 0;
  if (out.findings.length > 0) out.findings = [];
  out.badHeaderStart = out.badHeaderEnd = -1;
  out.openLine = -1;
  out.openIsRequestLine = false;
  out.headers = 0;
  if (end > d.length) end = d.length;
  // Request line.
  let eol = start;
  while (eol < end && d[eol] !== 0x0a) eol++;
  let le = eol;
  if (le > start && d[le - 1] === 0x0d) le--;
  out.lineEnd = le;
  const complete = eol < end;
  if (!complete) {
    if (end - start > lim.maxRequestLine) {
      add(out, V_TOO_LONG, "request_line_too_long");
    }
    le = end;
  } else if (le - start > lim.maxRequestLine) {
    add(out, V_TOO_LONG, "request_line_too_long");
  }
  let i = start;
  let nonPrintable = false;
  while (i < le && d[i] !== 0x20) {
    if (TCHAR[d[i]!] !== 1) nonPrintable ||= d[i]! < 0x21 || d[i]! >= 0x7f;
    i++;
  }
  const mEnd = i;
  if (mEnd === start) add(out, V_BAD_METHOD, "empty_method");
  else if (mEnd - start > 24) add(out, V_BAD_METHOD, "method_too_long");
  else if (!knownMethod(d, start, mEnd)) {
    let token = true;
    for (let k = start; k < mEnd; k++) if (TCHAR[d[k]!] !== 1) token = false;
    add(out, V_BAD_METHOD, token ? "unknown_method" : "method_not_a_token");
  }
  // Target and version.
  let spaces = 0;
  let lastSp = -1;
  for (let k = mEnd; k < le; k++) {
    const c = d[k]!;
    if (c === 0x20) {
      spaces++;
      lastSp = k;
    } else if (c < 0x20 || c === 0x7f || c >= 0x80) nonPrintable = true;
  }
  if (nonPrintable) add(out, V_NON_PRINTABLE, "control_bytes_in_request_line");
  if (complete) {
    if (spaces < 2) {
      add(out, V_BAD_VERSION, spaces === 0 ? "no_target" : "missing_version");
    } else {
      if (spaces > 2) add(out, V_BAD_VERSION, "extra_spaces_in_request_line");
      if (mEnd + 1 < le && d[mEnd + 1] === 0x20) {
        add(out, V_BAD_VERSION, "empty_target");
      }
      const v = lastSp + 1;
      const ok = le - v === 8 && d[v] === 0x48 && d[v + 1] === 0x54 &&
        d[v + 2] === 0x54 && d[v + 3] === 0x50 && d[v + 4] === 0x2f &&
        isDigit(d[v + 5]!) && d[v + 6] === 0x2e && isDigit(d[v + 7]!);
      if (!ok) add(out, V_BAD_VERSION, "invalid_version");
      else if (
        d[v + 5] !== 0x31 &&
        !(d[v + 5] === 0x32 && lowerEq(d, start, mEnd, "pri"))
      ) {
        add(out, V_BAD_VERSION, "version_not_1x");
      } else if (d[v + 5] === 0x31 && d[v + 7]! > 0x31) {
        add(out, V_BAD_VERSION, "version_not_1x");
      }
    }
  }
  if (!complete) {
    out.openLine = end - start;
    out.openIsRequestLine = true;
    return out.violations;
  }
  // Header lines.
  let pos = eol + 1;
  let headers = 0;
  let cl = -2; // -2 none, -1 invalid, else value
  let clCount = 0;
  let te = 0;
  out.openLine = 0;
  while (pos < end) {
    let e = pos;
    while (e < end && d[e] !== 0x0a) e++;
    if (e >= end) {
      // A partial last line: only its length can be judged.
      if (end - pos > lim.maxHeaderLine) {
        add(out, V_TOO_LONG, "header_line_too_long");
      }
      out.openLine = end - pos;
      break;
    }
    let he = e;
    if (he > pos && d[he - 1] === 0x0d) he--;
    if (he === pos) {
      out.openLine = -1; // end of headers
      break;
    }
    headers++;
    out.headers = headers;
    if (headers > lim.maxHeaders) {
      add(out, V_TOO_LONG, "too_many_headers");
      out.openLine = -1;
      break;
    }
    if (he - pos > lim.maxHeaderLine) {
      add(out, V_TOO_LONG, "header_line_too_long");
    }
    const c0 = d[pos]!;
    if (c0 === 0x20 || c0 === 0x09) {
      bad(out, V_BAD_HEADER, "obsolete_line_folding", pos, he);
      pos = e + 1;
      continue;
    }
    let colon = pos;
    while (colon < he && d[colon] !== 0x3a) colon++;
    if (colon === he) {
      bad(out, V_BAD_HEADER, "header_without_colon", pos, he);
      pos = e + 1;
      continue;
    }
    if (colon === pos) bad(out, V_BAD_HEADER, "empty_header_name", pos, he);
    let nameEnd = colon;
    let wsBeforeColon = false;
    while (
      nameEnd > pos && (d[nameEnd - 1] === 0x20 || d[nameEnd - 1] === 0x09)
    ) {
      nameEnd--;
      wsBeforeColon = true;
    }
    let nameOk = true;
    for (let k = pos; k < nameEnd; k++) {
      const c = d[k]!;
      if (TCHAR[c] !== 1) {
        nameOk = false;
        if (c < 0x20 || c >= 0x7f) {
          bad(out, V_NON_PRINTABLE, "control_bytes_in_header", pos, he);
        }
      }
    }
    for (let k = colon + 1; k < he; k++) {
      const c = d[k]!;
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
        bad(out, V_NON_PRINTABLE, "control_bytes_in_header", pos, he);
        break;
      }
    }
    const isCl = lowerEq(d, pos, nameEnd, "content-length");
    const isTe = lowerEq(d, pos, nameEnd, "transfer-encoding");
    if (wsBeforeColon) {
      if (isCl || isTe) {
        bad(
          out,
          V_SMUGGLING,
          "whitespace_before_colon_in_framing_header",
          pos,
          he,
        );
      } else bad(out, V_BAD_HEADER, "whitespace_before_colon", pos, he);
    } else if (!nameOk) bad(out, V_BAD_HEADER, "invalid_header_name", pos, he);
    // Header value bounds without surrounding whitespace.
    let vs = colon + 1, ve = he;
    while (vs < ve && (d[vs] === 0x20 || d[vs] === 0x09)) vs++;
    while (ve > vs && (d[ve - 1] === 0x20 || d[ve - 1] === 0x09)) ve--;
    if (isCl) {
      clCount++;
      let val = 0, ok = ve > vs;
      for (let k = vs; k < ve && ok; k++) {
        const c = d[k]!;
        if (!isDigit(c)) ok = false;
        else val = val * 10 + (c - 0x30);
      }
      if (!ok) {
        bad(out, V_SMUGGLING, "invalid_content_length", pos, he);
        cl = -1;
      } else if (cl >= 0 && cl !== val) {
        bad(out, V_SMUGGLING, "conflicting_content_length", pos, he);
      } else if (cl === -2) cl = val;
    } else if (isTe) {
      te++;
      if (te > 1) bad(out, V_SMUGGLING, "repeated_transfer_encoding", pos, he);
      // The last coding must be exactly "chunked"; every coding known.
      let ok = true, last = "";
      let s = vs;
      while (s <= ve && ok) {
        let c = s;
        while (c < ve && d[c] !== 0x2c) c++;
        let a = s, b = c;
        while (a < b && (d[a] === 0x20 || d[a] === 0x09)) a++;
        while (b > a && (d[b - 1] === 0x20 || d[b - 1] === 0x09)) b--;
        if (lowerEq(d, a, b, "chunked")) last = "chunked";
        else if (
          lowerEq(d, a, b, "gzip") || lowerEq(d, a, b, "deflate") ||
          lowerEq(d, a, b, "compress") || lowerEq(d, a, b, "x-gzip") ||
          lowerEq(d, a, b, "identity")
        ) last = "other";
        else ok = false;
        s = c + 1;
      }
      if (!ok || last !== "chunked") {
        bad(out, V_SMUGGLING, "obfuscated_transfer_encoding", pos, he);
      }
    }
    pos = e + 1;
  }
  if (te > 0 && clCount > 0) {
    add(out, V_SMUGGLING, "content_length_and_transfer_encoding");
  }
  return out.violations;
}

/** The most serious violation's variant name ("" when none). */
export function worstViolation(bits: number): string {
  for (const [bit, name] of VIOLATION_ORDER) if (bits & bit) return name;
  return "";
}
