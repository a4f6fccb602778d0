/**
 * Bench: the cost of reading a TLS handshake and fingerprinting it, per
 * handshake in CPU time (user + system of the process, so that other load
 * on the machine does not count), each beside a reference measured in the
 * same run the same way:
 *
 * - the whole TLS 1.2 handshake of a real capture (FoxIO's
 *   `tls-alpn-h2.pcap`: a 46-cipher ClientHello, ServerHello, a 3-certificate
 *   chain) through the stream parser (records, messages, hellos, chain,
 *   X.509 of the leaf, JA3, JA3S, JA4), beside the decoder's one-packet
 *   ClientHello read of the same hello (what TLS cost before);
 * - JA3 + JA3S + JA4 of the parsed hellos, beside the bare hashing they do
 *   (two MD5 and two SHA-256 of strings of the same lengths);
 * - the X.509 facts of the leaf, beside SHA-1 of its DER alone;
 * - the pipeline (reassembly and app layer on) over that connection repeated
 *   with other client ports, per connection, with the shipped app-layer
 *   parsers, beside the same without the TLS parser (the bench's large mixed
 *   capture would not do: its snap length cuts the ClientHellos).
 *
 *   deno run -A bench/tls_handshake.ts [--quick]   (or: deno task bench --only tls)
 *
 * @module
 */
import { createHash } from "node:crypto";
import process from "node:process";
import { BatchBuilder, type FrameBatch } from "../capture/mod.ts";
import {
  decodeFrame,
  IPPROTO_TCP,
  newPacket,
  parseClientHello as decodeHello,
} from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import {
  DEFAULT_PARSERS,
  ja3,
  ja3s,
  ja4,
  parseCertificateDer,
  type ParserSpec,
  TLS_SPEC,
  type TlsHandshake,
  TlsStreamParser,
} from "../protocols/mod.ts";
import type { BenchRow } from "./bench.ts";
import { loadBatches } from "./_batches.ts";

const FIXTURE = new URL(
  "../tests/fixtures/tls/foxio-tls-alpn-h2.pcap",
  import.meta.url,
).pathname;

/** The in-order TCP payload bytes of each direction of the capture's one connection. */
async function streamsOf(path: string): Promise<[Uint8Array, Uint8Array]> {
  const parts: [number[], number[]] = [[], []];
  const seen: [Set<number>, Set<number>] = [new Set(), new Set()];
  const collect: FlowObserver = {
    onPacket(p, ctx) {
      if (p.proto !== IPPROTO_TCP || p.payloadLen === 0) return;
      const d = ctx.dir;
      if (seen[d]!.has(p.tcpSeq)) return; // a retransmission
      seen[d]!.add(p.tcpSeq);
      const bytes = p.data.subarray(
        p.payloadOffset,
        p.payloadOffset + p.payloadLen,
      );
      for (const b of bytes) parts[d]!.push(b);
    },
  };
  const pl = new Pipeline({ observers: [collect] });
  for (const b of await loadBatches(path)) pl.processBatch(b);
  pl.finish();
  return [new Uint8Array(parts[0]), new Uint8Array(parts[1])];
}

/**
 * The frames of `path` (one TCP connection) repeated `n` times as batches,
 * each copy with its own client port and later timestamps.
 */
async function repeated(
  path: string,
  n: number,
): Promise<{ batches: FrameBatch[]; frames: number }> {
  const src = await loadBatches(path);
  const frames: { bytes: Uint8Array; ts: number; lt: number; at: number }[] =
    [];
  const p = newPacket();
  let clientPort = -1;
  for (const b of src) {
    for (let i = 0; i < b.count; i++) {
      if (decodeFrame(p, b, i) !== null || p.proto !== IPPROTO_TCP) continue;
      const off = b.offsets[i]!;
      const bytes = b.data.slice(off, off + b.caplens[i]!);
      if (clientPort < 0) clientPort = p.srcPort; // the SYN's sender
      // Where the client's port sits in this frame: source or destination.
      const at = p.l4Offset - p.frameOffset +
        (p.srcPort === clientPort ? 0 : 2);
      frames.push({ bytes, ts: b.tsUs[i]!, lt: b.linktypes[i]!, at });
    }
  }
  const out: FrameBatch[] = [];
  let builder = new BatchBuilder(4096, 8 << 20);
  const span = frames[frames.length - 1]!.ts - frames[0]!.ts + 1000;
  for (let k = 0; k < n; k++) {
    const port = 1024 + (k % 60000);
    for (const f of frames) {
      f.bytes[f.at] = port >> 8;
      f.bytes[f.at + 1] = port & 255;
      if (builder.full) {
        out.push(builder.take()!);
        builder = new BatchBuilder(4096, 8 << 20);
      }
      const ts = f.ts + k * span;
      builder.push(f.bytes, 0, f.bytes.length, f.bytes.length, ts, f.lt);
    }
  }
  const last = builder.take();
  if (last) out.push(last);
  return { batches: out, frames: frames.length };
}

/**
 * CPU time of this process so far (user + system, all threads, GC
 * included), µs: steadier than wall time on a loaded machine, and what a
 * handshake costs the box.
 */
function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Best of `runs` timings of `n` calls of `fn`, in µs per call. */
function perCall(n: number, runs: number, fn: () => unknown): number {
  let sink = 0;
  for (let i = 0; i < Math.min(n, 2000); i++) if (fn()) sink++;
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = cpuUs();
    for (let i = 0; i < n; i++) if (fn()) sink++;
    best = Math.min(best, (cpuUs() - t0) / n);
  }
  if (sink < 0) throw new Error("unreachable");
  return best;
}

/** The `tls` bench section. */
export async function tlsBench(quick: boolean): Promise<BenchRow[]> {
  const n = quick ? 5_000 : 20_000;
  const runs = quick ? 2 : 3;
  const [client, server] = await streamsOf(FIXTURE);
  let reported = 0;
  const whole = perCall(n, runs, () => {
    const p = new TlsStreamParser(() => reported++);
    p.data(0, client);
    p.data(1, server);
    p.end();
    return true;
  });
  if (reported === 0) throw new Error(`No handshake in ${FIXTURE}`);
  // The first record of the client's stream holds the whole ClientHello.
  const scratch = newPacket().tls;
  const decoder = perCall(n, runs, () => decodeHello(client, scratch) === null);

  let hs: TlsHandshake | null = null;
  const once = new TlsStreamParser((h) => hs = h);
  once.data(0, client);
  once.data(1, server);
  once.end();
  const got = hs as TlsHandshake | null;
  const ch = got?.clientHello, sh = got?.serverHello, chain = got?.certs ?? [];
  if (!ch || !sh || chain.length === 0) {
    throw new Error(`No whole handshake in ${FIXTURE}`);
  }
  const fps = perCall(n, runs, () => ja3(ch).hash && ja3s(sh).hash && ja4(ch));
  const s3 = ja3(ch).string, s3s = ja3s(sh).string;
  const s4 = "x".repeat(ch.cipherSuites.length * 5),
    s4e = "x".repeat(ch.extensions.length * 5 + 80);
  const hashes = perCall(
    n,
    runs,
    () =>
      createHash("md5").update(s3).digest("hex") &&
      createHash("md5").update(s3s).digest("hex") &&
      createHash("sha256").update(s4).digest("hex") &&
      createHash("sha256").update(s4e).digest("hex"),
  );

  const leaf = chain[0]!;
  const x509 = perCall(n, runs, () => parseCertificateDer(leaf).subject);
  const sha1 = perCall(
    n,
    runs,
    () => createHash("sha1").update(leaf).digest("hex"),
  );

  // The fixture's connection repeated as `conns` connections (client port
  // changed per copy), through the pipeline (reassembly and app layer on)
  // with the shipped parsers, and without TLS among them.
  const conns = quick ? 1_000 : 4_000;
  const { batches, frames } = await repeated(FIXTURE, conns);
  const pipe = (parsers: readonly ParserSpec[]) => {
    let best = Infinity, records = 0;
    for (let r = 0; r < runs; r++) {
      // A reader of TLS records: nothing is parsed that nobody reads.
      const pl = new Pipeline({
        parsers,
        observers: [{ appKinds: ["tls"], onApp() {} }],
      });
      const t0 = cpuUs();
      for (const b of batches) pl.processBatch(b);
      pl.finish();
      best = Math.min(best, (cpuUs() - t0) / 1000);
      records = pl.appCounters?.records.tls ?? 0;
    }
    return { usPerConn: best * 1000 / conns, records };
  };
  const bare = pipe(DEFAULT_PARSERS.filter((p) => p !== TLS_SPEC));
  const withTls = pipe(DEFAULT_PARSERS);
  if (withTls.records !== conns) {
    throw new Error(`${withTls.records} tls records of ${conns} connections`);
  }

  return [
    {
      section: "tls",
      metric: `whole TLS 1.2 handshake (${
        client.length + server.length
      } B, ${chain.length} certs)`,
      value: whole,
      unit: "µs CPU",
      reference: "decoder's one-packet ClientHello read",
      referenceValue: decoder,
    },
    {
      section: "tls",
      metric: "JA3 + JA3S + JA4 of parsed hellos",
      value: fps,
      unit: "µs CPU",
      reference: "2 MD5 + 2 SHA-256 alone",
      referenceValue: hashes,
    },
    {
      section: "tls",
      metric: `X.509 facts of the leaf (${leaf.length} B)`,
      value: x509,
      unit: "µs CPU",
      reference: "SHA-1 of the DER alone",
      referenceValue: sha1,
    },
    {
      section: "tls",
      metric:
        `pipeline per TLS 1.2 connection (${frames} frames, TLS parser on)`,
      value: withTls.usPerConn,
      unit: "µs CPU",
      reference: "the same without the TLS parser",
      referenceValue: bare.usPerConn,
    },
  ];
}

if (import.meta.main) {
  const { formatTable } = await import("./bench.ts");
  const rows = await tlsBench(Deno.args.includes("--quick"));
  Deno.stdout.writeSync(new TextEncoder().encode(formatTable(rows) + "\n"));
}
