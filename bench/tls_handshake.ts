/**
 * Bench: the cost of reading a TLS handshake and fingerprinting it, per
 * handshake, each beside a reference measured in the same run:
 *
 * - the whole TLS 1.2 handshake of a real capture (FoxIO's
 *   `tls-alpn-h2.pcap`: a 46-cipher ClientHello, ServerHello, a 3-certificate
 *   chain) through the stream parser (records, messages, hellos, chain,
 *   X.509 of the leaf, JA3, JA3S, JA4), beside the decoder's one-packet
 *   ClientHello read of the same hello (what TLS cost before);
 * - JA3 + JA3S + JA4 of the parsed hellos, beside the bare hashing they do
 *   (two MD5 and two SHA-256 of strings of the same lengths);
 * - the X.509 facts of the leaf, beside SHA-1 of its DER alone;
 * - the pipeline over the large mixed capture (TLS ClientHellos among its
 *   connections, held in memory) with the TLS observer, beside the pipeline
 *   without observers.
 *
 *   deno run -A bench/tls_handshake.ts [--quick]   (or: deno task bench --only tls)
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type FrameBatch, readCaptureFile } from "../capture/mod.ts";
import {
  IPPROTO_TCP,
  newPacket,
  parseClientHello as decodeHello,
} from "../decode/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import type { FlowObserver } from "../flows/mod.ts";
import {
  ja3,
  ja3s,
  ja4,
  parseCertificateDer,
  type TlsHandshake,
  tlsObserver,
  TlsStreamParser,
} from "../protocols/mod.ts";
import { type BenchRow, largeCapture } from "./bench.ts";

const FIXTURE = new URL(
  "../tests/fixtures/tls/foxio-tls-alpn-h2.pcap",
  import.meta.url,
).pathname;

async function loadBatches(path: string): Promise<FrameBatch[]> {
  const out: FrameBatch[] = [];
  for await (const b of readCaptureFile(path)) out.push(b);
  return out;
}

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

/** Best of `runs` timings of `n` calls of `fn`, in µs per call. */
function perCall(n: number, runs: number, fn: () => unknown): number {
  let sink = 0;
  for (let i = 0; i < Math.min(n, 2000); i++) if (fn()) sink++;
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) if (fn()) sink++;
    best = Math.min(best, (performance.now() - t0) * 1000 / n);
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

  const { path, packets } = await largeCapture(quick ? 200_000 : 1_000_000);
  const batches = await loadBatches(path);
  const pipe = (observers: () => FlowObserver[]) => {
    let best = Infinity, handshakes = 0;
    for (let r = 0; r < runs; r++) {
      const obs = observers();
      const pl = new Pipeline({ observers: obs });
      const t0 = performance.now();
      for (const b of batches) pl.processBatch(b);
      pl.finish();
      best = Math.min(best, performance.now() - t0);
      const tls = obs[0] as ReturnType<typeof tlsObserver> | undefined;
      handshakes = tls?.counters.handshakes ?? 0;
    }
    return { pps: packets / (best / 1000), handshakes };
  };
  const bare = pipe(() => []);
  const withTls = pipe(() => [tlsObserver(() => {})]);

  return [
    {
      section: "tls",
      metric: `whole TLS 1.2 handshake (${
        client.length + server.length
      } B, ${chain.length} certs)`,
      value: whole,
      unit: "µs",
      reference: "decoder's one-packet ClientHello read",
      referenceValue: decoder,
    },
    {
      section: "tls",
      metric: "JA3 + JA3S + JA4 of parsed hellos",
      value: fps,
      unit: "µs",
      reference: "2 MD5 + 2 SHA-256 alone",
      referenceValue: hashes,
    },
    {
      section: "tls",
      metric: `X.509 facts of the leaf (${leaf.length} B)`,
      value: x509,
      unit: "µs",
      reference: "SHA-1 of the DER alone",
      referenceValue: sha1,
    },
    {
      section: "tls",
      metric: `pipeline + TLS observer (${withTls.handshakes} handshakes)`,
      value: withTls.pps,
      unit: "pkts/s",
      reference: "pipeline, no observers",
      referenceValue: bare.pps,
    },
  ];
}

if (import.meta.main) {
  const { formatTable } = await import("./bench.ts");
  const rows = await tlsBench(Deno.args.includes("--quick"));
  Deno.stdout.writeSync(new TextEncoder().encode(formatTable(rows) + "\n"));
}
