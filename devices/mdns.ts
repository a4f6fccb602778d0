/**
 * Names and services a host announces over multicast DNS (RFC 6762, UDP
 * 5353) and link-local multicast name resolution (LLMNR, RFC 4795, UDP
 * 5355) responses read from the datagram (a query
 * names what someone else is looking for). mDNS: A/AAAA records of
 * `name.local` (the host name), PTR records of `_service._tcp.local`
 * pointing at `Instance._service._tcp.local` (a service and its friendly
 * instance name), SRV targets, and TXT keys that name a model (`md=`,
 * `model=`, `ty=`, `usb_MDL=`, `am=`) or the device (`fn=`; Google Cast,
 * Apple, IPP printers). LLMNR: the answered name. Read here rather than
 * by protocols/' DNS reader, which lower-cases names and escapes non-ASCII
 * bytes (right for DNS, wrong for user-chosen instance names).
 *
 * @module
 */
import { cleanText } from "./text.ts";

/** What one mDNS or LLMNR response says about its sender. */
export interface MdnsFacts {
  /** Host names (without `.local`), cleaned. */
  readonly hostnames: string[];
  /** Service types (`_ipp._tcp`, `_googlecast._tcp`, …). */
  readonly services: string[];
  /** Friendly instance names ("Living Room TV"), cleaned. */
  readonly instances: string[];
  /** Model strings from TXT records (`md=Chromecast`, `model=MacBookPro18,1`). */
  readonly models: string[];
}

/** TXT keys that name a model (Cast `md`, device-info `model`, IPP `ty`/`usb_MDL`, AirPlay `am`). */
const TXT_MODEL_KEYS = ["md", "model", "ty", "usb_mdl", "am"];

function add(list: string[], v: string): void {
  if (v !== "" && list.length < 16 && !list.includes(v)) list.push(v);
}

/** Splits `Instance._svc._tcp.local` into instance and service. */
function splitService(
  name: string,
): { instance: string; service: string } | null {
  const m = /^(?:(.*)\.)?(_[^.]+\._(?:tcp|udp))\.local\.?$/i.exec(name);
  if (m === null) return null;
  return { instance: m[1] ?? "", service: m[2]! };
}

/** A name read from the wire: labels decoded as UTF-8, case kept. */
function readName(
  d: Uint8Array,
  o: number,
  end: number,
): { name: string; next: number } | null {
  let name = "";
  let next = -1;
  for (let jumps = 0; jumps < 16;) {
    if (o >= end) return null;
    const n = d[o]!;
    if (n === 0) {
      return { name, next: next < 0 ? o + 1 : next };
    }
    if ((n & 0xc0) === 0xc0) {
      if (o + 1 >= end) return null;
      const to = ((n & 0x3f) << 8) | d[o + 1]!;
      if (next < 0) next = o + 2;
      if (to >= o) return null; // only backwards
      o = to;
      jumps++;
      continue;
    }
    if (n > 63 || o + 1 + n > end) return null;
    // Dots inside a label (DNS-SD instance names may have them) stay dots.
    name += (name ? "." : "") + DEC.decode(d.subarray(o + 1, o + 1 + n));
    if (name.length > 300) return null;
    o += 1 + n;
  }
  return null;
}

const DEC = new TextDecoder("utf-8", { fatal: false });

/**
 * Reads the sender's facts from the mDNS (`llmnr` false) or LLMNR response
 * in `d[start, end)` (every answer, authority and additional record: DNS-SD
 * answers carry SRV, TXT and addresses as additional records); null for
 * queries, malformed messages and responses that say nothing about the
 * sender. Names keep their case and UTF-8 (RFC 6763 §4.1.1 instance names
 * are user-chosen text), cleaned of control characters.
 */
export function parseMdns(
  d: Uint8Array,
  start: number,
  end: number,
  llmnr: boolean,
): MdnsFacts | null {
  if (end > d.length) end = d.length;
  if (start < 0 || end - start < 12) return null;
  const u16 = (o: number) => (d[o]! << 8) | d[o + 1]!;
  if ((d[start + 2]! & 0x80) === 0) return null; // a query
  const qd = u16(start + 4);
  const rr = u16(start + 6) + u16(start + 8) + u16(start + 10);
  const f: MdnsFacts = {
    hostnames: [],
    services: [],
    instances: [],
    models: [],
  };
  let o = start + 12;
  for (let i = 0; i < qd && i < 64; i++) {
    const q = readName(d, o, end);
    if (q === null) return null;
    o = q.next + 4;
  }
  for (let i = 0; i < rr && i < 64; i++) {
    const r = readName(d, o, end);
    if (r === null || r.next + 10 > end) break;
    const type = u16(r.next);
    const len = u16(r.next + 8);
    const rd = r.next + 10;
    if (rd + len > end) break;
    o = rd + len;
    const name = r.name;
    const lname = name.toLowerCase();
    if (llmnr) {
      if (type === 1 || type === 28) add(f.hostnames, cleanText(name));
      continue;
    }
    switch (type) {
      case 1:
      case 28:
        if (lname.endsWith(".local")) {
          add(f.hostnames, cleanText(name.slice(0, -6)));
        }
        break;
      case 12: {
        const t = readName(d, rd, rd + len)?.name ?? "";
        if (lname.endsWith(".in-addr.arpa") || lname.endsWith(".ip6.arpa")) {
          if (t.toLowerCase().endsWith(".local")) {
            add(f.hostnames, cleanText(t.slice(0, -6)));
          }
          break;
        }
        const s = splitService(t);
        if (s && s.service !== "_services._dns-sd._udp") {
          add(f.services, s.service);
          if (s.instance) add(f.instances, cleanText(s.instance));
        }
        break;
      }
      case 33: {
        const s = splitService(name);
        if (s) {
          add(f.services, s.service);
          if (s.instance) add(f.instances, cleanText(s.instance));
        }
        const t = len > 6 ? readName(d, rd + 6, rd + len)?.name ?? "" : "";
        if (t.toLowerCase().endsWith(".local")) {
          add(f.hostnames, cleanText(t.slice(0, -6)));
        }
        break;
      }
      case 16: {
        let p = rd;
        while (p < rd + len) {
          const n = d[p]!;
          const stop = Math.min(rd + len, p + 1 + n);
          const kv = DEC.decode(d.subarray(p + 1, stop));
          p = stop;
          const eq = kv.indexOf("=");
          if (eq < 1) continue;
          const k = kv.slice(0, eq).toLowerCase(), v = kv.slice(eq + 1).trim();
          if (TXT_MODEL_KEYS.includes(k)) add(f.models, cleanText(v, 48));
          else if (k === "fn") add(f.instances, cleanText(v));
        }
        break;
      }
    }
  }
  if (
    f.hostnames.length + f.services.length + f.instances.length +
        f.models.length === 0
  ) return null;
  return f;
}
