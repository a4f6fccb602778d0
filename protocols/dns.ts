/**
 * DNS messages in full, for UDP datagrams and TCP streams (RFC 1035 §4.2.2:
 * each message after a two-byte length, several per connection): the
 * header, every question, and the answer and authority records with their
 * data for A, AAAA, CNAME, NS, PTR, MX, TXT and SRV, as {@link DnsMessage}
 * records. The EVE form follows Suricata's `dns` version 3 log
 * (https://docs.suricata.io/en/latest/output/eve/eve-json-format.html#event-type-dns).
 *
 * Names are read by the decoder's {@link readDnsName} (compression
 * pointers only backwards, at most 16 jumps, 255 bytes; lower case,
 * non-printable bytes as `\xNN`). A message's header is read and its first
 * question checked at once; its questions and records are read (from a
 * copy of its bytes) when a consumer first asks for them. At most {@link DNS_MAX_RECORDS} records
 * of each section are read; a message whose records run past its end
 * keeps what was read before (`truncated` set).
 *
 * @module
 */
import {
  type DnsName,
  escapedText,
  formatAddr,
  readDnsName,
} from "../decode/mod.ts";
import {
  BUFFER_OVERHEAD,
  type ParserBudget,
  type ParserOutput,
  SlabCopier,
  type StreamParser,
  takeBudget,
} from "./stream_parser.ts";
import { DIR_TO_CLIENT } from "../flows/mod.ts";

/** Records read per section at most. */
export const DNS_MAX_RECORDS = 64;
/** TXT data kept per record, characters. */
const TXT_MAX = 1024;

/** One question. */
export interface DnsQuestion {
  readonly rrname: string;
  readonly rrtype: number;
}

/** One resource record of an answer or authority section. */
export interface DnsRecord {
  readonly rrname: string;
  readonly rrtype: number;
  readonly ttl: number;
  /**
   * The data as text for A and AAAA (an address), CNAME, NS, PTR, MX and
   * SRV (the target name) and TXT (the strings joined, non-printable bytes
   * as `\xNN`); "" for other types.
   */
  readonly rdata: string;
  /** SRV's fields (null for other types). */
  readonly srv: {
    readonly priority: number;
    readonly weight: number;
    readonly port: number;
    readonly name: string;
  } | null;
  /** MX preference (-1 for other types). */
  readonly preference: number;
}

/** One DNS message (query or response). */
export interface DnsMessage {
  readonly kind: "dns";
  readonly id: number;
  /** The header's flags word. */
  readonly flags: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly rcode: number;
  readonly queries: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  /** True when a section ran past the message (what was read is kept). */
  readonly truncated: boolean;
}

const NAME: DnsName = { name: "" };

/** Copies of DNS messages that no caller's buffer shares (1 KiB and less packed in shared slabs). */
const MESSAGE_COPIES = new SlabCopier();

const NONE: readonly never[] = [];

/**
 * A message as {@link parseDnsMessage} returns it: the header read, the
 * first question checked, and the message's bytes copied; the questions
 * and records (names, addresses: strings) are read when first asked for,
 * so a record nobody reads costs no strings.
 */
class Message implements DnsMessage {
  readonly kind = "dns" as const;
  readonly id: number;
  readonly flags: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly rcode: number;
  readonly #raw: Uint8Array;
  #queries: readonly DnsQuestion[] = NONE;
  #answers: readonly DnsRecord[] = NONE;
  #authorities: readonly DnsRecord[] = NONE;
  #truncated = false;
  #read = false;

  constructor(raw: Uint8Array) {
    this.#raw = raw;
    const flags = (raw[2]! << 8) | raw[3]!;
    this.id = (raw[0]! << 8) | raw[1]!;
    this.flags = flags;
    this.qr = (flags & 0x8000) !== 0;
    this.opcode = (flags >> 11) & 15;
    this.rcode = flags & 15;
  }

  get queries(): readonly DnsQuestion[] {
    if (!this.#read) this.#readAll();
    return this.#queries;
  }
  get answers(): readonly DnsRecord[] {
    if (!this.#read) this.#readAll();
    return this.#answers;
  }
  get authorities(): readonly DnsRecord[] {
    if (!this.#read) this.#readAll();
    return this.#authorities;
  }
  get truncated(): boolean {
    if (!this.#read) this.#readAll();
    return this.#truncated;
  }

  /** The fields as plain data (what `JSON.stringify` writes). */
  toJSON(): Omit<DnsMessage, never> {
    return {
      kind: this.kind,
      id: this.id,
      flags: this.flags,
      qr: this.qr,
      opcode: this.opcode,
      rcode: this.rcode,
      queries: this.queries,
      answers: this.answers,
      authorities: this.authorities,
      truncated: this.truncated,
    };
  }

  #readAll(): void {
    this.#read = true;
    const data = this.#raw;
    const end = data.length;
    const u16 = (o: number) => (data[o]! << 8) | data[o + 1]!;
    const qd = u16(4), an = u16(6), ns = u16(8);
    let pos = 12;
    let truncated = false;
    const queries: DnsQuestion[] = [];
    for (let i = 0; i < qd && i < DNS_MAX_RECORDS; i++) {
      const next = readDnsName(data, 0, pos, end, NAME);
      if (typeof next !== "number" || next + 4 > end) {
        // (The first question was checked when the message was taken.)
        truncated = true;
        break;
      }
      queries.push({ rrname: NAME.name, rrtype: u16(next) });
      pos = next + 4;
    }
    const answers: DnsRecord[] = [];
    const authorities: DnsRecord[] = [];
    if (!truncated && qd <= DNS_MAX_RECORDS) {
      pos = readRecords(data, 0, pos, end, an, answers);
      if (pos < 0) truncated = true;
      else if (an <= DNS_MAX_RECORDS) {
        pos = readRecords(data, 0, pos, end, ns, authorities);
        if (pos < 0) truncated = true;
      }
    }
    this.#queries = queries;
    this.#answers = answers;
    this.#authorities = authorities;
    this.#truncated = truncated;
  }
}

/**
 * Parses the DNS message in `data[start, end)`. Returns null when even the
 * header or the first question cannot be read. The message's bytes are
 * copied (the caller's buffer may be reused at once); its questions and
 * records are read from the copy when first asked for.
 *
 * @example
 * ```ts
 * const m = parseDnsMessage(udpPayload, 0, udpPayload.length);
 * m?.answers[0]?.rdata; // "93.184.216.34"
 * ```
 */
export function parseDnsMessage(
  data: Uint8Array,
  start: number,
  end: number,
): DnsMessage | null {
  if (end > data.length) end = data.length;
  if (start < 0 || end - start < 12) return null;
  const qd = (data[start + 4]! << 8) | data[start + 5]!;
  if (qd > 0) {
    // The first question must be there (checked, no text made).
    const next = readDnsName(data, start, start + 12, end, null);
    if (typeof next !== "number" || next + 4 > end) return null;
  }
  return new Message(MESSAGE_COPIES.copy(data, start, end));
}

/** Reads `count` records into `out`; returns the offset after them, or -1 when they run past `end`. */
function readRecords(
  data: Uint8Array,
  msg: number,
  pos: number,
  end: number,
  count: number,
  out: DnsRecord[],
): number {
  const u16 = (o: number) => (data[o]! << 8) | data[o + 1]!;
  for (let i = 0; i < count && i < DNS_MAX_RECORDS; i++) {
    const next = readDnsName(data, msg, pos, end, NAME);
    if (typeof next !== "number" || next + 10 > end) return -1;
    const rrname = NAME.name;
    const rrtype = u16(next);
    const ttl = ((data[next + 4]! << 24) >>> 0) + (data[next + 5]! << 16) +
      (data[next + 6]! << 8) + data[next + 7]!;
    const rdlen = u16(next + 8);
    const rd = next + 10;
    if (rd + rdlen > end) return -1;
    let rdata = "";
    let srv: DnsRecord["srv"] = null;
    let preference = -1;
    switch (rrtype) {
      case 1: // A
        if (rdlen === 4) {
          rdata = formatAddr(4, [
            ((data[rd]! << 24) >>> 0) + (data[rd + 1]! << 16) +
            (data[rd + 2]! << 8) + data[rd + 3]!,
          ]);
        }
        break;
      case 28: // AAAA
        if (rdlen === 16) {
          const w = [0, 0, 0, 0];
          for (let k = 0; k < 4; k++) {
            const o = rd + k * 4;
            w[k] = ((data[o]! << 24) >>> 0) + (data[o + 1]! << 16) +
              (data[o + 2]! << 8) + data[o + 3]!;
          }
          rdata = formatAddr(6, w);
        }
        break;
      case 2: // NS
      case 5: // CNAME
      case 12: // PTR
        if (typeof readDnsName(data, msg, rd, rd + rdlen, NAME) === "number") {
          rdata = NAME.name;
        }
        break;
      case 15: // MX
        if (
          rdlen > 2 &&
          typeof readDnsName(data, msg, rd + 2, rd + rdlen, NAME) === "number"
        ) {
          preference = u16(rd);
          rdata = NAME.name;
        }
        break;
      case 33: // SRV
        if (
          rdlen > 6 &&
          typeof readDnsName(data, msg, rd + 6, rd + rdlen, NAME) === "number"
        ) {
          rdata = NAME.name;
          srv = {
            priority: u16(rd),
            weight: u16(rd + 2),
            port: u16(rd + 4),
            name: NAME.name,
          };
        }
        break;
      case 16: // TXT: character-strings, joined
        rdata = txtText(data, rd, rd + rdlen);
        break;
    }
    out.push({ rrname, rrtype, ttl, rdata, srv, preference });
    pos = rd + rdlen;
  }
  return pos;
}

function txtText(data: Uint8Array, s: number, e: number): string {
  let out = "";
  while (s < e && out.length < TXT_MAX) {
    const n = data[s]!;
    const stop = Math.min(e, s + 1 + n);
    out += escapedText(data, s + 1, stop, TXT_MAX - out.length);
    s = stop;
  }
  return out;
}

const NO_BYTES = new Uint8Array(0);

/** Longest DNS-over-TCP message (the length prefix's range). */
const TCP_MAX = 65535;

/** One direction of a DNS-over-TCP connection: length-prefixed messages. */
class DnsTcpSide {
  buf = NO_BYTES;
  have = 0;
  need = -1;
  dead = false;
}

/**
 * The DNS-over-TCP parser of one connection: splits each direction into
 * length-prefixed messages (across segments) and emits each as a
 * {@link DnsMessage}. A gap ends the direction (the framing is lost).
 */
export class DnsTcpParser implements StreamParser {
  readonly #sides = [new DnsTcpSide(), new DnsTcpSide()];
  readonly #budget: ParserBudget;

  /** A parser whose buffers count in `budget` (a message split across segments needs one). */
  constructor(budget: ParserBudget = { used: 0, cap: Infinity }) {
    this.#budget = budget;
  }

  /** Grows side `s`'s buffer to `n` bytes within the budget; false when spent. */
  #grow(s: DnsTcpSide, n: number): boolean {
    if (n <= s.buf.length) return true;
    const had = s.buf.length === 0 ? 0 : s.buf.length + BUFFER_OVERHEAD;
    if (!takeBudget(this.#budget, n + BUFFER_OVERHEAD - had)) return false;
    const b = new Uint8Array(n);
    b.set(s.buf.subarray(0, s.have));
    s.buf = b;
    return true;
  }

  data(
    dir: number,
    buf: Uint8Array,
    off: number,
    len: number,
    out: ParserOutput,
  ): void {
    const s = this.#sides[dir]!;
    const end = off + len;
    let i = off;
    while (i < end && !s.dead) {
      if (s.need < 0) {
        // The length prefix, possibly split.
        if (s.have === 0 && end - i >= 2) {
          s.need = (buf[i]! << 8) | buf[i + 1]!;
          i += 2;
        } else {
          if (!this.#grow(s, 2)) {
            s.dead = true;
            return;
          }
          s.buf[s.have++] = buf[i++]!;
          if (s.have < 2) continue;
          s.need = (s.buf[0]! << 8) | s.buf[1]!;
          s.have = 0;
        }
        if (s.need < 12) {
          s.dead = true;
          return;
        }
        continue;
      }
      // A whole message in this chunk and nothing buffered: parse in place.
      if (s.have === 0 && end - i >= s.need) {
        this.#message(dir, buf, i, i + s.need, out);
        i += s.need;
        s.need = -1;
        continue;
      }
      if (!this.#grow(s, Math.min(TCP_MAX, Math.max(s.need, 512)))) {
        s.dead = true; // out of parser memory: this direction is given up
        return;
      }
      const n = Math.min(s.need - s.have, end - i);
      s.buf.set(buf.subarray(i, i + n), s.have);
      s.have += n;
      i += n;
      if (s.have === s.need) {
        this.#message(dir, s.buf, 0, s.need, out);
        s.have = 0;
        s.need = -1;
      }
    }
  }

  #message(
    dir: number,
    buf: Uint8Array,
    s: number,
    e: number,
    out: ParserOutput,
  ): void {
    const m = parseDnsMessage(buf, s, e);
    if (m !== null) out.emit(m, m.qr ? DIR_TO_CLIENT : dir);
  }

  gap(dir: number): void {
    this.#sides[dir]!.dead = true;
  }

  end(dir: number): void {
    this.#sides[dir]!.dead = true;
  }

  close(): void {
    for (const s of this.#sides) {
      s.dead = true;
      if (s.buf.length > 0) this.#budget.used -= s.buf.length + BUFFER_OVERHEAD;
      s.buf = NO_BYTES;
    }
  }
}
