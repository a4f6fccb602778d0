/**
 * A tiny authoritative DNS responder on loopback UDP, for tests: answers PTR
 * questions from a table, NXDOMAIN for names it is told to deny, SERVFAIL for
 * names it is told to fail, never answers names it is told to ignore (to
 * exercise timeouts), and counts every question it receives.
 *
 * @module
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";

/** What the responder answers. Names are lower case, without a final dot. */
export interface FakeZone {
  /** PTR answers by question name. */
  ptr?: Record<string, string[]>;
  /** Names answered NXDOMAIN. */
  nxdomain?: string[];
  /** Names answered SERVFAIL. */
  servfail?: string[];
  /** Names never answered. */
  silent?: string[];
}

/** A running responder; close it with `await using` or {@link close}. */
export interface FakeDnsServer extends AsyncDisposable {
  /** The UDP port it listens on at 127.0.0.1. */
  readonly port: number;
  /** How many questions arrived for a name. */
  queries(name: string): number;
  /** Every question so far, as "name/type". */
  readonly log: readonly string[];
  /** Stops listening. */
  close(): Promise<void>;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

function readName(b: Uint8Array, o: number): [string, number] | null {
  const labels: string[] = [];
  while (o < b.length) {
    const len = b[o]!;
    if (len === 0) return [labels.join(".").toLowerCase(), o + 1];
    if (len > 63 || o + 1 + len > b.length) return null;
    labels.push(dec.decode(b.subarray(o + 1, o + 1 + len)));
    o += 1 + len;
  }
  return null;
}

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".")) {
    if (label === "") continue;
    const e = enc.encode(label);
    out.push(e.length, ...e);
  }
  out.push(0);
  return out;
}

/**
 * Starts a responder on 127.0.0.1 at a free port.
 *
 * @example
 * ```ts
 * await using dns = await startFakeDns({ ptr: { "1.2.0.192.in-addr.arpa": ["a.test"] } });
 * await Deno.resolveDns("1.2.0.192.in-addr.arpa", "PTR", { nameServer: { ipAddr: "127.0.0.1", port: dns.port } });
 * ```
 */
export async function startFakeDns(zone: FakeZone): Promise<FakeDnsServer> {
  const sock = dgram.createSocket("udp4");
  const log: string[] = [];
  const counts = new Map<string, number>();
  const nx = new Set(zone.nxdomain ?? []);
  const fail = new Set(zone.servfail ?? []);
  const silent = new Set(zone.silent ?? []);
  sock.on("message", (msg: Buffer, from: { address: string; port: number }) => {
    const b = new Uint8Array(msg);
    if (b.length < 12) return;
    const q = readName(b, 12);
    if (q === null || q[1] + 4 > b.length) return;
    const [name, end] = q;
    const qtype = (b[end]! << 8) | b[end + 1]!;
    log.push(`${name}/${qtype}`);
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if (silent.has(name)) return;
    const answers = qtype === 12 ? zone.ptr?.[name] ?? [] : [];
    const rcode = nx.has(name) ? 3 : fail.has(name) ? 2 : 0;
    const out = [
      b[0]!,
      b[1]!,
      0x84 | (b[2]! & 0x01), // QR, AA, RD copied
      0x80 | rcode, // RA
      0,
      1,
      0,
      rcode === 0 ? answers.length : 0,
      0,
      0,
      0,
      0,
      ...b.subarray(12, end + 4),
    ];
    if (rcode === 0) {
      for (const a of answers) {
        const rdata = encodeName(a);
        out.push(0xc0, 12, 0, 12, 0, 1, 0, 0, 0x0e, 0x10);
        out.push(rdata.length >> 8, rdata.length & 255, ...rdata);
      }
    }
    sock.send(Buffer.from(out), from.port, from.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  const port = (sock.address() as { port: number }).port;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await new Promise<void>((resolve) => sock.close(() => resolve()));
  };
  return {
    port,
    queries: (name) => counts.get(name) ?? 0,
    log,
    close,
    [Symbol.asyncDispose]: close,
  };
}
