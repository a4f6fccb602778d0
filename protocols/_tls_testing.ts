/**
 * Test helpers: TLS handshake messages and records built byte by byte from
 * the RFCs' structures, for the protocols tests and the bench.
 *
 * @module
 */

function u16(x: number): number[] {
  return [(x >> 8) & 0xff, x & 0xff];
}

function u24(x: number): number[] {
  return [(x >> 16) & 0xff, (x >> 8) & 0xff, x & 0xff];
}

/** `len16 || bytes` */
function vec16(bytes: readonly number[]): number[] {
  return [...u16(bytes.length), ...bytes];
}

/** One extension: type, length, body. */
export function ext(type: number, body: readonly number[]): number[] {
  return [...u16(type), ...vec16(body)];
}

/** Fields of a test ClientHello; omitted extensions are left out. */
export interface HelloSpec {
  version?: number;
  sessionId?: number;
  ciphers?: readonly number[];
  /** Extensions in wire order, already encoded with {@link ext}. */
  extensions?: readonly (readonly number[])[];
  /** Leave the extensions block out entirely. */
  noExtensions?: boolean;
}

/** server_name extension with one host_name. */
export function sniExt(name: string): number[] {
  const n = [...new TextEncoder().encode(name)];
  return ext(0, vec16([0, ...u16(n.length), ...n]));
}

/** A 16-bit list extension (supported_groups, signature_algorithms). */
export function list16Ext(type: number, values: readonly number[]): number[] {
  return ext(type, vec16(values.flatMap(u16)));
}

/** ec_point_formats. */
export function pointFormatsExt(values: readonly number[]): number[] {
  return ext(11, [values.length, ...values]);
}

/** ALPN with the given protocol names (strings or raw bytes). */
export function alpnExt(
  names: readonly (string | readonly number[])[],
): number[] {
  const list = names.flatMap((n) => {
    const b = typeof n === "string" ? [...new TextEncoder().encode(n)] : [...n];
    return [b.length, ...b];
  });
  return ext(16, vec16(list));
}

/** supported_versions as a client sends it (1-byte length, 16-bit values). */
export function versionsExt(values: readonly number[]): number[] {
  const b = values.flatMap(u16);
  return ext(43, [b.length, ...b]);
}

/** The body of a ClientHello (no handshake header). */
export function clientHelloBody(spec: HelloSpec): Uint8Array {
  const sid = new Array<number>(spec.sessionId ?? 32).fill(0x5a);
  const ciphers = (spec.ciphers ?? [0x1301, 0xc02f]).flatMap(u16);
  const out = [
    ...u16(spec.version ?? 0x0303),
    ...new Array<number>(32).fill(0x11),
    sid.length,
    ...sid,
    ...vec16(ciphers),
    1,
    0,
  ];
  if (!spec.noExtensions) out.push(...vec16((spec.extensions ?? []).flat()));
  return new Uint8Array(out);
}

/** The body of a ServerHello. */
export function serverHelloBody(spec: {
  version?: number;
  cipher?: number;
  extensions?: readonly (readonly number[])[];
}): Uint8Array {
  const out = [
    ...u16(spec.version ?? 0x0303),
    ...new Array<number>(32).fill(0x22),
    32,
    ...new Array<number>(32).fill(0x5a),
    ...u16(spec.cipher ?? 0xc02f),
    0,
  ];
  if (spec.extensions) out.push(...vec16(spec.extensions.flat()));
  return new Uint8Array(out);
}

/** A Certificate body (TLS ≤ 1.2) holding these DER certificates. */
export function certificateBody(certs: readonly Uint8Array[]): Uint8Array {
  const list = certs.flatMap((c) => [...u24(c.length), ...c]);
  return new Uint8Array([...u24(list.length), ...list]);
}

/** A handshake message: type, 24-bit length, body. */
export function handshake(type: number, body: Uint8Array): Uint8Array {
  return new Uint8Array([type, ...u24(body.length), ...body]);
}

/**
 * TLS records of content type `type` carrying `payload`, cut into records
 * of at most `maxRecord` bytes (to spread a message over several).
 */
export function records(
  type: number,
  payload: Uint8Array,
  maxRecord = 16384,
): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < payload.length || i === 0; i += maxRecord) {
    const part = payload.subarray(i, Math.min(payload.length, i + maxRecord));
    out.push(type, 3, 3, ...u16(part.length), ...part);
    if (payload.length === 0) break;
  }
  return new Uint8Array(out);
}

/** Concatenates byte arrays. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A TLS 1.3 server's first flight as captured: a ServerHello (TLS_AES_128_
 * GCM_SHA256, supported_versions 1.3) and a ChangeCipherSpec, then `more`
 * (encrypted records, say).
 */
export function tls13ServerFlight(...more: Uint8Array[]): Uint8Array {
  return concat(
    records(
      22,
      handshake(
        2,
        serverHelloBody({ cipher: 0x1301, extensions: [ext(43, [3, 4])] }),
      ),
    ),
    records(20, new Uint8Array([1])),
    ...more,
  );
}

/** A Chrome-like ClientHello body with GREASE, SNI and ALPN. */
export function chromeLikeHello(sni = "www.example.com"): Uint8Array {
  return clientHelloBody({
    ciphers: [
      0x0a0a,
      0x1301,
      0x1302,
      0x1303,
      0xc02b,
      0xc02f,
      0xc02c,
      0xc030,
      0xcca9,
      0xcca8,
      0xc013,
      0xc014,
      0x009c,
      0x009d,
      0x002f,
      0x0035,
    ],
    extensions: [
      ext(0x1a1a, []),
      sniExt(sni),
      ext(0x0017, []),
      ext(0xff01, [0]),
      list16Ext(0x000a, [0x2a2a, 0x001d, 0x0017, 0x0018]),
      pointFormatsExt([0]),
      ext(0x0023, []),
      alpnExt(["h2", "http/1.1"]),
      ext(0x0005, [1, 0, 0, 0, 0]),
      list16Ext(0x000d, [
        0x0403,
        0x0804,
        0x0401,
        0x0503,
        0x0805,
        0x0501,
        0x0806,
        0x0601,
      ]),
      ext(0x0012, []),
      ext(0x0033, [0, 0]),
      ext(0x002d, [1, 1]),
      versionsExt([0x3a3a, 0x0304, 0x0303]),
      ext(0x001b, [2, 0, 2]),
      ext(0x4469, [0, 3, 2, 0x68, 0x32]),
      ext(0x0015, [0, 0]),
      ext(0x4a4a, [0]),
    ],
  });
}

/** One TCP segment of a hand-made IPv4 conversation. */
export interface Segment {
  /** true: client (10.0.0.1:40000) to server (10.0.0.2:443). */
  fromClient: boolean;
  seq: number;
  flags?: number;
  payload?: Uint8Array;
  /** Client port (default 40000). */
  clientPort?: number;
  /** Server port (default 443). */
  serverPort?: number;
  /** Acknowledgment number (default 0, ACK flag as `flags` says). */
  ack?: number;
}

/** An Ethernet + IPv4 + TCP frame (checksums left zero: not checked). */
export function tcpFrame(s: Segment): Uint8Array {
  const payload = s.payload ?? new Uint8Array(0);
  const [src, dst] = s.fromClient
    ? [[10, 0, 0, 1], [10, 0, 0, 2]]
    : [[10, 0, 0, 2], [10, 0, 0, 1]];
  const cport = s.clientPort ?? 40000;
  const sp = s.serverPort ?? 443;
  const [sport, dport] = s.fromClient ? [cport, sp] : [sp, cport];
  const total = 20 + 20 + payload.length;
  const ip = [
    0x45,
    0,
    ...u16(total),
    0,
    1,
    0x40,
    0,
    64,
    6,
    0,
    0,
    ...src,
    ...dst,
  ];
  const seq = s.seq >>> 0;
  const ack = (s.ack ?? 0) >>> 0;
  const tcp = [
    ...u16(sport),
    ...u16(dport),
    seq >>> 24,
    (seq >>> 16) & 255,
    (seq >>> 8) & 255,
    seq & 255,
    ack >>> 24,
    (ack >>> 16) & 255,
    (ack >>> 8) & 255,
    ack & 255,
    0x50,
    s.flags ?? 0x18,
    ...u16(65535),
    0,
    0,
    0,
    0,
  ];
  return concat(
    new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0, ...ip, ...tcp]),
    payload,
  );
}
