/**
 * The TLS handshake of one TCP connection, read from its two reassembled
 * byte streams: TLS records (RFC 8446 §5.1, RFC 5246 §6.2) are taken apart,
 * the handshake messages they carry are put back together across records
 * and across the chunks the stream delivers, and ClientHello, ServerHello
 * and (TLS ≤ 1.2) Certificate are parsed. A direction stops being read at
 * its ChangeCipherSpec or first application-data record (what follows is
 * encrypted), at a gap, or at anything that is not TLS. Buffers are
 * bounded: a record body over {@link TLS_MAX_RECORD} or a handshake message
 * over {@link TLS_MAX_HANDSHAKE} ends the direction with a fault.
 *
 * The result, a {@link TlsHandshake}, goes to the sink once: when the
 * server's side of the handshake is over (ServerHelloDone, ChangeCipherSpec
 * or encrypted data), or at the end of the connection if a hello was seen.
 * It carries what Suricata logs for `tls` (negotiated version, SNI, JA3,
 * JA3S, JA4, and the server certificate's subject, issuer, fingerprint,
 * serial and validity) plus the chain's DER for rules (`tls.certs`).
 *
 * @module
 */
import {
  type ClientHello,
  HS_CERTIFICATE,
  HS_CLIENT_HELLO,
  HS_SERVER_HELLO,
  isTlsFault,
  parseCertificate,
  parseClientHello,
  parseServerHello,
  type ServerHello,
  type TlsFault,
} from "./tls_handshake.ts";
import { ja3, ja3s, type JaFingerprint } from "./ja3.ts";
import { ja4 } from "./ja4.ts";
import { type CertInfo, parseCertificateDer, X509Error } from "./x509.ts";

/** Largest record body accepted: 2^14 plus the 2048 of TLS 1.2 ciphertext. */
export const TLS_MAX_RECORD = 16384 + 2048;
/** Largest handshake message kept (certificate chains are the big ones). */
export const TLS_MAX_HANDSHAKE = 128 * 1024;

const CT_CHANGE_CIPHER_SPEC = 20;
const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;
const CT_HEARTBEAT = 24;
const HS_SERVER_HELLO_DONE = 14;
const HS_FINISHED = 20;

/** Default cap on the handshake buffers of all connections together. */
export const TLS_BUFFER_MEMCAP = 32 * 1024 * 1024;

/**
 * The bytes that handshake messages spanning records or segments may hold
 * in all the parsers sharing this budget (one per app layer's TLS spec):
 * an attacker who opens many connections and sends the start of big
 * messages gets each direction given up (`tls_memcap`) once the budget is
 * spent, not memory.
 */
export class TlsBufferBudget {
  /** Bytes held now. */
  used = 0;
  /** Directions given up because the budget was spent. */
  refused = 0;
  /**
   * Buffers of the first size ({@link TLS_FIRST_BUFFER}) that connections
   * let go without a parsed message keeping them, for the next ones (not
   * counted as held).
   */
  readonly spare: Uint8Array[] = [];
  /** A budget of `limit` bytes. */
  constructor(readonly limit: number = TLS_BUFFER_MEMCAP) {}
}

/** Why a direction of a TLS stream stopped being read before its end. */
export type TlsStreamFault =
  | TlsFault
  | "tls_memcap"
  | "tls_not_tls"
  | "tls_record_too_long"
  | "tls_handshake_too_long"
  | "tls_bad_certificate"
  | "tls_gap";

/** What one connection's handshake showed, in the forms Suricata logs. */
export interface TlsHandshake {
  readonly clientHello: ClientHello | null;
  readonly serverHello: ServerHello | null;
  /**
   * The version as negotiated: the ServerHello's (supported_versions for
   * TLS 1.3), else the highest the client offered.
   */
  readonly version: number;
  /** Server name from the ClientHello ("" when none). */
  readonly sni: string;
  readonly ja3: JaFingerprint | null;
  readonly ja3s: JaFingerprint | null;
  /** JA4 of the ClientHello, or "" without one. */
  readonly ja4: string;
  /** The server's certificate chain as DER, leaf first (TLS ≤ 1.2). */
  readonly certs: readonly Uint8Array[];
  /** Facts of the leaf certificate, or null. */
  readonly cert: CertInfo | null;
  /** Faults met on either side (at most one per direction). */
  readonly faults: readonly TlsStreamFault[];
}

/** First size of a direction's buffer for a message split across chunks, bytes. */
const TLS_FIRST_BUFFER = 256;

/** Receives a connection's handshake once. */
export type TlsSink = (hs: TlsHandshake) => void;

/** Reading state of one direction. */
class Direction {
  /** Record header bytes collected so far, and the ones kept. */
  hdrN = 0;
  hdrType = 0;
  hdrMajor = 0;
  hdrLen = 0;
  /** Content type and body bytes left of the current record (-1: none). */
  recType = -1;
  recLeft = 0;
  /** Handshake bytes carried over between records and chunks. */
  hs: Uint8Array | null = null;
  hsN = 0;
  done = false;
  fault: TlsStreamFault | null = null;
  reset(): void {
    this.hdrN =
      this.hdrType =
      this.hdrMajor =
      this.hdrLen =
        0;
    this.recType = -1;
    this.recLeft = 0;
    this.hs = null;
    this.hsN = 0;
    this.done = false;
    this.fault = null;
  }
}

/**
 * Reads the TLS handshake of one connection from its two in-order byte
 * streams. Direction 0 is the client's (to the server), 1 the server's.
 *
 * @example
 * ```ts
 * const tls = new TlsStreamParser((hs) => log(hs.sni, hs.ja4));
 * tls.data(0, clientBytes);
 * tls.data(1, serverBytes);
 * tls.end();
 * ```
 */
export class TlsStreamParser {
  readonly #sink: TlsSink;
  readonly #dirs = [new Direction(), new Direction()] as const;
  #clientHello: ClientHello | null = null;
  #serverHello: ServerHello | null = null;
  #certs: Uint8Array[] = [];
  #cert: CertInfo | null = null;
  #certFault = false;
  #emitted = false;
  /** The server's handshake flight is over (ServerHelloDone, CCS, data). */
  #serverOver = false;

  readonly #budget: TlsBufferBudget;

  /** A parser reporting to `sink`, its buffers counted in `budget`. */
  constructor(sink: TlsSink, budget: TlsBufferBudget = new TlsBufferBudget()) {
    this.#sink = sink;
    this.#budget = budget;
  }

  /**
   * Back to a new connection's state: buffers still held go back to the
   * budget (spare when of the first size); what was reported is not
   * touched (records keep their own objects).
   */
  reset(): void {
    for (const d of this.#dirs) {
      this.#release(d, true);
      d.reset();
    }
    this.#clientHello = this.#serverHello = null;
    this.#certs = [];
    this.#cert = null;
    this.#certFault = this.#emitted = this.#serverOver = false;
  }

  /**
   * Gives direction `d` a buffer of `size` bytes holding its first `keep`
   * bytes; false (and the direction given up) when the budget is spent.
   */
  #resize(d: Direction, size: number, keep: number): boolean {
    const b = this.#budget;
    const old = d.hs === null ? 0 : d.hs.length;
    if (b.used - old + size > b.limit) {
      b.refused++;
      this.#stop(d, "tls_memcap");
      return false;
    }
    const next = size === TLS_FIRST_BUFFER && b.spare.length > 0
      ? b.spare.pop()!
      : new Uint8Array(size);
    if (keep > 0) next.set(d.hs!.subarray(0, keep));
    b.used += size - old;
    d.hs = next;
    return true;
  }

  /**
   * Lets direction `d`'s buffer go: given to a parsed message (which keeps
   * it), or dropped (`spare`: no message keeps it, so a buffer of the first
   * size is kept for the next connection).
   */
  #release(d: Direction, spare = false): void {
    const hs = d.hs;
    if (hs === null) return;
    const b = this.#budget;
    b.used -= hs.length;
    if (spare && hs.length === TLS_FIRST_BUFFER && b.spare.length < 256) {
      b.spare.push(hs);
    }
    d.hs = null;
  }

  /** True when both directions are done: no more bytes are wanted. */
  get done(): boolean {
    return this.#emitted || (this.#dirs[0].done && this.#dirs[1].done);
  }

  /** True when direction `dir` wants no more bytes. */
  isDone(dir: number): boolean {
    return this.#emitted || this.#dirs[dir & 1]!.done;
  }

  /**
   * The next in-order bytes of direction `dir`: `bytes[off, off + len)`
   * (default: all of it). Returns false when that direction wants no more
   * (handshake over, fault, or handshake reported).
   */
  data(
    dir: number,
    bytes: Uint8Array,
    off = 0,
    len: number = bytes.length - off,
  ): boolean {
    const d = this.#dirs[dir & 1]!;
    if (d.done || this.#emitted) return false;
    let p = off;
    const n = off + len;
    while (p < n && !d.done) {
      if (d.recType < 0) {
        // Collect the 5-byte record header.
        while (d.hdrN < 5 && p < n) {
          const b = bytes[p++]!;
          switch (d.hdrN++) {
            case 0:
              d.hdrType = b;
              break;
            case 1:
              d.hdrMajor = b;
              break;
            case 3:
              d.hdrLen = b << 8;
              break;
            case 4:
              d.hdrLen |= b;
          }
        }
        if (d.hdrN < 5) break;
        const type = d.hdrType;
        const len = d.hdrLen;
        d.hdrN = 0;
        if (
          type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT ||
          d.hdrMajor !== 3
        ) {
          this.#stop(d, "tls_not_tls");
          break;
        }
        if (len > TLS_MAX_RECORD) {
          this.#stop(d, "tls_record_too_long");
          break;
        }
        if (type === CT_CHANGE_CIPHER_SPEC || type === CT_APPLICATION_DATA) {
          // What follows is encrypted: this side's handshake is over.
          this.#stop(d, null);
          if (dir === 1) this.#serverOver = true;
          break;
        }
        d.recType = type;
        d.recLeft = len;
        if (len === 0) d.recType = -1;
        continue;
      }
      const take = Math.min(d.recLeft, n - p);
      if (d.recType === CT_HANDSHAKE) {
        if (!this.#handshakeBytes(d, dir, bytes, p, p + take)) break;
      }
      // Alerts and heartbeats are skipped.
      p += take;
      d.recLeft -= take;
      if (d.recLeft === 0) d.recType = -1;
    }
    this.#maybeEmit();
    return !d.done && !this.#emitted;
  }

  /** Bytes of direction `dir` were lost: that direction is given up. */
  gap(dir: number): void {
    const d = this.#dirs[dir & 1]!;
    if (!d.done) this.#stop(d, "tls_gap");
    this.#maybeEmit();
  }

  /** End of the connection: reports the handshake if a hello was seen. */
  end(): void {
    this.#emit();
  }

  #stop(d: Direction, fault: TlsStreamFault | null): void {
    d.done = true;
    d.fault = fault;
    // A parsed message let its buffer go before: what is left is spare.
    this.#release(d, true);
    d.hsN = 0;
  }

  /**
   * Appends handshake-record bytes; parses every whole message. Bytes are
   * copied only when a message spans records or chunks, into a buffer that
   * grows with what arrived (at most twice that, and never past the
   * message's declared length or the cap), counted in the budget.
   */
  #handshakeBytes(
    d: Direction,
    dir: number,
    chunk: Uint8Array,
    from: number,
    to: number,
  ): boolean {
    let src = chunk;
    let start = from;
    let end = to;
    if (d.hsN > 0) {
      const need = d.hsN + to - from;
      if (need > d.hs!.length) {
        if (need > TLS_MAX_HANDSHAKE + 4) {
          this.#stop(d, "tls_handshake_too_long");
          return false;
        }
        const wanted = this.#wanted(d.hs!, d.hsN);
        const size = Math.min(
          TLS_MAX_HANDSHAKE + 4,
          Math.max(need, Math.min(d.hs!.length * 2, wanted)),
        );
        if (!this.#resize(d, size, d.hsN)) return false;
      }
      const hs = d.hs!;
      hs.set(chunk.subarray(from, to), d.hsN);
      d.hsN = need;
      src = hs;
      start = 0;
      end = need;
    }
    while (end - start >= 4) {
      const len = (src[start + 1]! << 16) | (src[start + 2]! << 8) |
        src[start + 3]!;
      if (len > TLS_MAX_HANDSHAKE) {
        this.#stop(d, "tls_handshake_too_long");
        return false;
      }
      if (end - start - 4 < len) break;
      const type = src[start]!;
      const body = src.subarray(start + 4, start + 4 + len);
      start += 4 + len;
      if (!this.#message(d, dir, type, body, src === d.hs)) return false;
    }
    // Keep the incomplete rest for the next record or chunk.
    const rest = end - start;
    if (rest === 0) {
      d.hsN = 0;
    } else if (src === d.hs) {
      if (start > 0) d.hs.copyWithin(0, start, end);
      d.hsN = rest;
    } else {
      const piece = src.subarray(start, end);
      // At least the first size: a buffer of it is taken from the spares
      // (most hellos fit), not made per connection.
      const size = Math.max(
        rest,
        TLS_FIRST_BUFFER,
        Math.min(this.#wanted(piece, rest), 2 * rest),
      );
      if (d.hs === null || d.hs.length < size) {
        this.#release(d, true);
        if (!this.#resize(d, size, 0)) return false;
      }
      d.hs!.set(piece, 0);
      d.hsN = rest;
    }
    return true;
  }

  /** Bytes the message starting `buf` needs (header included), or 64 before its header is in. */
  #wanted(buf: Uint8Array, n: number): number {
    if (n < 4) return 64;
    return 4 + ((buf[1]! << 16) | (buf[2]! << 8) | buf[3]!);
  }

  /**
   * Handles one whole handshake message; false when the direction stops.
   * `inBuffer`: the message lies in the direction's own buffer, which a
   * parsed message then keeps (the buffer is let go, not reused).
   */
  #message(
    d: Direction,
    dir: number,
    type: number,
    body: Uint8Array,
    inBuffer: boolean,
  ): boolean {
    if (dir === 0 && type === HS_CLIENT_HELLO && this.#clientHello === null) {
      const ch = parseClientHello(body, inBuffer);
      if (inBuffer) this.#release(d);
      if (isTlsFault(ch)) {
        this.#stop(d, ch);
        return false;
      }
      this.#clientHello = ch;
    } else if (
      dir === 1 && type === HS_SERVER_HELLO && this.#serverHello === null
    ) {
      const sh = parseServerHello(body, inBuffer);
      if (inBuffer) this.#release(d);
      if (isTlsFault(sh)) {
        this.#stop(d, sh);
        return false;
      }
      this.#serverHello = sh;
    } else if (
      dir === 1 && type === HS_CERTIFICATE && this.#certs.length === 0
    ) {
      const chain = parseCertificate(body, inBuffer);
      if (inBuffer) this.#release(d);
      if (isTlsFault(chain)) {
        this.#stop(d, chain);
        return false;
      }
      this.#certs = chain;
      if (chain.length > 0) {
        try {
          this.#cert = parseCertificateDer(chain[0]!);
        } catch (e) {
          if (!(e instanceof X509Error)) throw e;
          this.#certFault = true;
        }
      }
    } else if (
      dir === 1 && (type === HS_SERVER_HELLO_DONE || type === HS_FINISHED)
    ) {
      this.#stop(d, null);
      this.#serverOver = true;
      return false;
    }
    return true;
  }

  /**
   * Reports once the server's side is over and the client's hello is in
   * (or the client's side is over too).
   */
  #maybeEmit(): void {
    const [c, s] = this.#dirs;
    if (
      (this.#serverOver || s.done) &&
      (this.#clientHello !== null || c.done)
    ) this.#emit();
  }

  #emit(): void {
    if (this.#emitted) return;
    if (this.#clientHello === null && this.#serverHello === null) return;
    this.#emitted = true;
    const ch = this.#clientHello, sh = this.#serverHello;
    let version = 0;
    if (sh !== null) version = sh.negotiatedVersion;
    else if (ch !== null) {
      version = ch.version;
      for (const v of ch.supportedVersions) {
        if (v >= 0x0300 && v <= 0x0304 && v > version) version = v;
      }
    }
    const faults: TlsStreamFault[] = [];
    for (const d of this.#dirs) if (d.fault !== null) faults.push(d.fault);
    if (this.#certFault) faults.push("tls_bad_certificate");
    for (const d of this.#dirs) this.#stop(d, d.fault);
    this.#sink({
      clientHello: ch,
      serverHello: sh,
      version,
      sni: ch?.sni ?? "",
      ja3: ch === null ? null : ja3(ch),
      ja3s: sh === null ? null : ja3s(sh),
      ja4: ch === null ? "" : ja4(ch),
      certs: this.#certs,
      cert: this.#cert,
      faults,
    });
  }
}
