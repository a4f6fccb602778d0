/**
 * TLS fingerprints of real captures through the real path (capture file →
 * pipeline: reassembly, app layer, TLS parser), checked against published values (FoxIO's JA4
 * test data for its own captures) and against a second implementation run
 * here: tshark's JA3/JA3S and tests/reference/tls_fingerprints.py, which
 * computes JA3, JA3S and JA4 from the specifications over the hellos tshark
 * reassembles.
 */
import assert from "node:assert/strict";
import {
  BatchBuilder,
  type FrameBatch,
  readCaptureFile,
} from "../capture/mod.ts";
import {
  decodeFrame,
  formatAddr,
  IPPROTO_TCP,
  newPacket,
} from "../decode/mod.ts";
import { protocolEvents } from "../events/mod.ts";
import { Pipeline } from "../engine/mod.ts";
import { type AppRecord, tlsConnectionOf, type TlsHandshake } from "./mod.ts";

const DIR = new URL("../tests/fixtures/tls/", import.meta.url);
const REFERENCE =
  new URL("../tests/reference/tls_fingerprints.py", import.meta.url)
    .pathname;

interface Expected {
  captures: Record<string, { client: string; sni: string; ja4: string }[]>;
}
const EXPECTED = JSON.parse(
  await Deno.readTextFile(new URL("foxio-expected.json", DIR)),
) as Expected;

/**
 * Every tls record the pipeline (reassembly, app layer) makes of a capture,
 * by "client_ip:client_port".
 */
export async function handshakesOf(
  path: string,
): Promise<Map<string, TlsHandshake>> {
  const out = new Map<string, TlsHandshake>();
  const pipeline = new Pipeline({
    observers: [{
      onApp(rec: AppRecord, ctx) {
        if (rec.kind !== "tls") return;
        const c = tlsConnectionOf(rec, ctx);
        out.set(
          `${formatAddr(c.ipVersion, c.clientAddr)}:${c.clientPort}`,
          rec.handshake,
        );
      },
    }],
  });
  for await (const batch of readCaptureFile(path)) pipeline.processBatch(batch);
  pipeline.finish();
  return out;
}

async function toolMissing(cmd: string, args: string[]): Promise<boolean> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    return !o.success;
  } catch {
    return true;
  }
}
const CI = Deno.env.get("CI") === "true";
const noTshark = !CI && await toolMissing("tshark", ["--version"]);
const noPython = !CI && await toolMissing("python3", ["--version"]);

/** The lab's captures (tests/lab/make_fixtures.sh tls12 tls13), relative to DIR. */
const LAB = ["../tls12.pcap", "../tls13.pcap"];

Deno.test("the lab's TLS captures give the certificate tests/lab/tls_certs.sh made, and the versions negotiated", async () => {
  const hs12 = [
    ...(await handshakesOf(new URL(LAB[0]!, DIR).pathname)).values(),
  ];
  const hs13 = [
    ...(await handshakesOf(new URL(LAB[1]!, DIR).pathname)).values(),
  ];
  assert.equal(hs12.length, 2); // openssl s_client, curl
  assert.equal(hs13.length, 2);
  for (const hs of hs12) {
    assert.equal(hs.version, 0x0303);
    assert.equal(hs.sni, "secure.lab.test");
    assert.equal(hs.certs.length, 2); // the leaf and the lab CA
    assert.deepEqual({ ...hs.cert, fingerprint: "" }, {
      subject:
        "C=DE, ST=Berlin, L=Berlin, O=Lab Org, OU=Web, CN=secure.lab.test",
      issuerdn: "C=US, O=NetSentinel Lab, CN=NetSentinel Lab CA",
      serial: "00:8B:AD:F0:0D:01:23:45:67:89",
      fingerprint: "",
      notbefore: "2024-01-01T00:00:00",
      notafter: "2051-06-30T12:34:56",
    });
  }
  for (const hs of hs13) {
    assert.equal(hs.version, 0x0304);
    assert.equal(hs.sni, "secure.lab.test");
    assert.equal(hs.cert, null); // encrypted in TLS 1.3
    assert.match(hs.ja4, /^t13d/);
  }
});

// FoxIO's published JA4 of ALPN 0xba 0xad is "99" (its Python and Rust
// code, older than the specification's current ALPN rule); the
// specification gives the first and last hex digits: "bd".
const SPEC_OVER_PUBLISHED: Record<string, [string, string]> = {
  "192.168.1.168:50112": ["t13d151699_", "t13d1516bd_"],
};

Deno.test("JA4 of FoxIO's reference captures equals the published values", async (t) => {
  for (const [file, rows] of Object.entries(EXPECTED.captures)) {
    await t.step(file, async () => {
      const got = await handshakesOf(new URL(file, DIR).pathname);
      assert.equal(got.size, rows.length);
      for (const row of rows) {
        const hs = got.get(row.client);
        assert.ok(hs, `no handshake from ${row.client}`);
        const fix = SPEC_OVER_PUBLISHED[row.client];
        const want = fix ? row.ja4.replace(fix[0], fix[1]) : row.ja4;
        assert.equal(hs.ja4, want, row.client);
        if (row.sni !== "") assert.equal(hs.sni, row.sni);
      }
    });
  }
});

Deno.test({
  name:
    `JA3, JA3S and JA4 of the reference captures equal tshark's and the Python reference's${
      noTshark || noPython ? " (skipped: tshark or python3 missing)" : ""
    }`,
  ignore: noTshark || noPython,
  fn: async (t) => {
    for (const file of [...Object.keys(EXPECTED.captures), ...LAB]) {
      await t.step(file, async () => {
        const path = new URL(file, DIR).pathname;
        const out = await new Deno.Command("python3", {
          args: [REFERENCE, path],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        const ref = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<
          string,
          Record<string, string>
        >;
        const got = await handshakesOf(path);
        assert.deepEqual([...got.keys()].sort(), Object.keys(ref).sort());
        for (const [client, r] of Object.entries(ref)) {
          const hs = got.get(client)!;
          assert.equal(hs.ja3?.string, r.tshark_ja3_string, client);
          assert.equal(hs.ja3?.hash, r.tshark_ja3, client);
          assert.equal(hs.ja3?.string, r.ja3_string, client);
          assert.equal(hs.ja3?.hash, r.ja3, client);
          assert.equal(hs.ja4, r.ja4, client);
          assert.equal(hs.ja3s?.string, r.tshark_ja3s_string, client);
          assert.equal(hs.ja3s?.hash, r.tshark_ja3s, client);
          assert.equal(hs.ja3s?.hash, r.ja3s, client);
          if (r.cert_sha1 !== undefined) {
            assert.equal(hs.cert?.fingerprint, r.cert_sha1, client);
          }
        }
      });
    }
  },
});

/**
 * The capture's frames with every TCP payload cut into pieces (`mode`:
 * single bytes, or random sizes with the pieces of a segment after its
 * first reordered and some sent twice), each piece a frame of its own with its sequence number,
 * IP length and flags (FIN only on the last piece) set, at the time of the
 * segment it came from.
 */
async function recut(
  path: string,
  mode: "bytes" | "random",
  seed: number,
): Promise<FrameBatch[]> {
  let x = seed;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const out: FrameBatch[] = [];
  let b = new BatchBuilder(4096, 16 << 20);
  const push = (bytes: Uint8Array, ts: number, lt: number) => {
    if (b.full) {
      out.push(b.take()!);
      b = new BatchBuilder(4096, 16 << 20);
    }
    b.push(bytes, 0, bytes.length, bytes.length, ts, lt);
  };
  const p = newPacket();
  for await (const batch of readCaptureFile(path)) {
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offsets[i]!, cap = batch.caplens[i]!;
      const ts = batch.tsUs[i]!, lt = batch.linktypes[i]!;
      const frame = batch.data.subarray(off, off + cap);
      if (
        decodeFrame(p, batch, i) !== null || p.proto !== IPPROTO_TCP ||
        p.payloadLen === 0 || p.fragment
      ) {
        push(frame, ts, lt);
        continue;
      }
      const head = frame.slice(0, p.payloadOffset - p.frameOffset);
      const payload = frame.subarray(head.length, head.length + p.payloadLen);
      const l3 = p.l3Offset - p.frameOffset, l4 = p.l4Offset - p.frameOffset;
      const pieces: [number, number][] = [];
      for (let o = 0; o < payload.length;) {
        const n = mode === "bytes" ? 1 : 1 + Math.floor(rnd() * 300);
        pieces.push([o, Math.min(payload.length, o + n)]);
        o += n;
      }
      if (mode === "random") {
        // The first piece stays first: a connection picked up mid-way (no
        // SYN in the capture) starts where its first segment starts.
        for (let k = pieces.length - 1; k > 1; k--) {
          const j = 1 + Math.floor(rnd() * k);
          [pieces[k], pieces[j]] = [pieces[j]!, pieces[k]!];
        }
        const dups = pieces.filter(() => rnd() < 0.2);
        pieces.push(...dups);
      }
      const lastEnd = payload.length;
      for (const [s, e] of pieces) {
        const f = new Uint8Array(head.length + (e - s));
        f.set(head);
        f.set(payload.subarray(s, e), head.length);
        const v = new DataView(f.buffer);
        if (p.ipVersion === 4) v.setUint16(l3 + 2, f.length - l3);
        else v.setUint16(l3 + 4, f.length - l3 - 40);
        v.setUint32(l4 + 4, (p.tcpSeq + s) >>> 0);
        if (e !== lastEnd) f[l4 + 13] = f[l4 + 13]! & ~0x01; // FIN on the last piece only
        push(f, ts, lt);
      }
    }
  }
  const last = b.take();
  if (last) out.push(last);
  return out;
}

/** The EVE tls records analyze's pipeline makes of `batches`. */
function tlsEvents(batches: FrameBatch[]): string[] {
  const recs: string[] = [];
  const pipeline = new Pipeline({
    observers: [protocolEvents(new Set(["tls"]), (r) => {
      recs.push(
        JSON.stringify([r.src_ip, r.src_port, r.dest_ip, r.dest_port, r.tls]),
      );
    })],
  });
  for (const b of batches) pipeline.processBatch(b);
  pipeline.finish();
  return recs.sort();
}

Deno.test("tls records are the same when every TCP segment of the captures is re-cut: single bytes, random sizes reordered and duplicated", async (t) => {
  for (const file of [...Object.keys(EXPECTED.captures), ...LAB]) {
    await t.step(file, async () => {
      const path = new URL(file, DIR).pathname;
      const original: FrameBatch[] = [];
      for await (const b of readCaptureFile(path)) original.push(b);
      const want = tlsEvents(original);
      assert.ok(want.length > 0);
      assert.deepEqual(
        tlsEvents(await recut(path, "bytes", 1)),
        want,
        "1-byte segments",
      );
      for (const seed of [2, 3]) {
        assert.deepEqual(
          tlsEvents(await recut(path, "random", seed)),
          want,
          `random cut, seed ${seed}`,
        );
      }
    });
  }
});
