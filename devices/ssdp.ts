/**
 * SSDP announcements (UPnP Device Architecture 2.0 §1, UDP 1900): a
 * device's `NOTIFY * HTTP/1.1` with `NTS: ssdp:alive`, or its
 * `HTTP/1.1 200 OK` answer to a search, carries `SERVER` (OS and product
 * tokens, "Linux/5.4 UPnP/1.0 Sonos/70.3"), `NT`/`ST` (the device or
 * service type), `USN` (its UUID) and `LOCATION` (its description URL; not
 * fetched: NetSentinel is passive). Searches (`M-SEARCH`) come from control
 * points and carry `USER-AGENT` at most; they are read for that.
 *
 * @module
 */
import { cleanBytes } from "./text.ts";

/** Facts of one SSDP message. */
export interface SsdpFacts {
  /** "alive", "byebye", "response" or "search". */
  readonly what: "alive" | "byebye" | "response" | "search";
  /** SERVER (announcements) or USER-AGENT (searches), cleaned. */
  readonly server: string;
  /** NT or ST, cleaned. */
  readonly type: string;
  readonly usn: string;
  readonly location: string;
}

/** Header bytes read at most. */
const MAX_HEAD = 4096;

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

function startsWithCi(
  d: Uint8Array,
  o: number,
  end: number,
  s: string,
): boolean {
  if (o + s.length > end) return false;
  for (let i = 0; i < s.length; i++) {
    if (lower(d[o + i]!) !== s.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Reads the SSDP message in the UDP payload `d[start, end)`; null when it
 * is not one (another first line).
 */
export function parseSsdp(
  d: Uint8Array,
  start: number,
  end: number,
): SsdpFacts | null {
  if (end > d.length) end = d.length;
  if (end - start > MAX_HEAD) end = start + MAX_HEAD;
  let what: SsdpFacts["what"];
  if (startsWithCi(d, start, end, "notify * http/1.1")) what = "alive";
  else if (startsWithCi(d, start, end, "http/1.1 200")) what = "response";
  else if (startsWithCi(d, start, end, "m-search * http/1.1")) what = "search";
  else return null;
  let server = "", type = "", usn = "", location = "", nts = "";
  let o = start;
  while (o < end) {
    let e = o;
    while (e < end && d[e] !== 0x0a) e++;
    let le = e;
    if (le > o && d[le - 1] === 0x0d) le--;
    if (o > start) {
      let c = o;
      while (c < le && d[c] !== 0x3a) c++;
      if (c < le) {
        let v = c + 1;
        while (v < le && (d[v] === 0x20 || d[v] === 0x09)) v++;
        const name = (s: string) =>
          c - o === s.length && startsWithCi(d, o, c, s);
        if (name("server") || name("user-agent")) {
          server = cleanBytes(d, v, le, 200);
        } else if (name("nt") || name("st")) type = cleanBytes(d, v, le, 200);
        else if (name("usn")) usn = cleanBytes(d, v, le, 200);
        else if (name("location")) location = cleanBytes(d, v, le, 200);
        else if (name("nts")) nts = cleanBytes(d, v, le, 40);
      } else if (le === o) break; // end of the head
    }
    o = e + 1;
  }
  if (what === "alive" && nts.toLowerCase() === "ssdp:byebye") what = "byebye";
  return { what, server, type, usn, location };
}
