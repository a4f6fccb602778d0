import assert from "node:assert/strict";
import { parseCertificateDer, X509Error } from "./x509.ts";

const CERTS_SH = new URL("../tests/lab/tls_certs.sh", import.meta.url).pathname;

/** Why openssl-driven tests cannot run here, or null. */
function opensslMissing(): string | null {
  try {
    new Deno.Command("openssl", { args: ["version"], stdout: "null" })
      .outputSync();
    return null;
  } catch {
    return "openssl missing";
  }
}
const skip = Deno.env.get("CI") === "true" ? null : opensslMissing();

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** "Jun 30 12:34:56 2051 GMT" (openssl -dates) as "2051-06-30T12:34:56". */
function opensslDate(s: string): string {
  return new Date(s).toISOString().slice(0, 19);
}

/** DER of a PEM file's first certificate. */
async function derOf(pem: string): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    await run("openssl", [
      "x509",
      "-in",
      pem,
      "-outform",
      "DER",
      "-out",
      `${dir}/c.der`,
    ]);
    return await Deno.readFile(`${dir}/c.der`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** openssl's own view of a certificate: field → value. */
async function opensslView(pem: string): Promise<Record<string, string>> {
  const text = await run("openssl", [
    "x509",
    "-in",
    pem,
    "-noout",
    "-fingerprint",
    "-sha1",
    "-serial",
    "-dates",
    "-subject",
    "-issuer",
    "-nameopt",
    "utf8,sep_comma_plus_space,sname",
  ]);
  const out: Record<string, string> = {};
  for (const line of text.trim().split("\n")) {
    const i = line.indexOf("=");
    out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

Deno.test({
  name:
    `parseCertificateDer() agrees with openssl x509 on a certificate made by openssl${
      skip ? ` (skipped: ${skip})` : ""
    }`,
  ignore: skip !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await run("bash", [CERTS_SH, dir, "secure.lab.test"]);
      for (const file of ["server.pem", "ca.pem"]) {
        const c = parseCertificateDer(await derOf(`${dir}/${file}`));
        const o = await opensslView(`${dir}/${file}`);
        assert.equal(c.subject, o.subject);
        assert.equal(c.issuerdn, o.issuer);
        assert.equal(c.fingerprint, o["sha1 Fingerprint"]!.toLowerCase());
        // Suricata keeps the INTEGER's bytes (a leading 00 included);
        // openssl prints the number.
        assert.equal(
          c.serial.replaceAll(":", "").replace(/^(00)+(?=.)/, ""),
          o.serial,
        );
        assert.equal(c.notbefore, opensslDate(o.notBefore!));
        assert.equal(c.notafter, opensslDate(o.notAfter!));
      }
      const leaf = parseCertificateDer(await derOf(`${dir}/server.pem`));
      assert.deepEqual(
        { ...leaf, fingerprint: "" },
        {
          subject:
            "C=DE, ST=Berlin, L=Berlin, O=Lab Org, OU=Web, CN=secure.lab.test",
          issuerdn: "C=US, O=NetSentinel Lab, CN=NetSentinel Lab CA",
          serial: "00:8B:AD:F0:0D:01:23:45:67:89",
          fingerprint: "",
          notbefore: "2024-01-01T00:00:00",
          notafter: "2051-06-30T12:34:56",
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A minimal certificate built by hand: tag-length-value helpers. */
function tlv(tag: number, body: number[]): number[] {
  const n = body.length;
  if (n < 128) return [tag, n, ...body];
  if (n < 256) return [tag, 0x81, n, ...body];
  return [tag, 0x82, n >> 8, n & 0xff, ...body];
}
const str = (s: string) => [...new TextEncoder().encode(s)];
function name(parts: [number[], number, number[]][]): number[] {
  return tlv(
    0x30,
    parts.flatMap(([oid, tag, v]) =>
      tlv(0x31, tlv(0x30, [...tlv(6, oid), ...tlv(tag, v)]))
    ),
  );
}
function handCert(
  subject: number[],
  notBefore: number[],
  notAfter: number[],
): Uint8Array {
  const tbs = tlv(0x30, [
    ...tlv(0xa0, tlv(2, [2])),
    ...tlv(2, [1]),
    ...tlv(0x30, tlv(6, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11])),
    ...name([[[0x55, 4, 3], 0x13, str("Hand CA")]]),
    ...tlv(0x30, [...notBefore, ...notAfter]),
    ...subject,
  ]);
  return new Uint8Array(tlv(0x30, [...tbs, ...tlv(0x30, []), ...tlv(3, [0])]));
}
const UTC = tlv(0x17, str("491231235959Z"));
const GEN = tlv(0x18, str("20500101000000Z"));

Deno.test("parseCertificateDer() writes names as Suricata does: multi-valued RDNs, string types, unknown OIDs", () => {
  const subject = tlv(0x30, [
    ...tlv(0x31, [
      ...tlv(0x30, [
        ...tlv(6, [0x55, 4, 10]),
        ...tlv(0x0c, str("Ünïcode Org")),
      ]),
      ...tlv(0x30, [
        ...tlv(6, [0x55, 4, 11]),
        ...tlv(0x1e, [0, 0x42, 0, 0x4d, 0, 0x50]),
      ]),
    ]),
    ...tlv(
      0x31,
      tlv(0x30, [...tlv(6, [0x2a, 3, 4]), ...tlv(0x14, [0x63, 0xe9])]),
    ),
    ...tlv(
      0x31,
      tlv(0x30, [...tlv(6, [0x55, 4, 3]), ...tlv(0x04, [0xde, 0xad])]),
    ),
  ]);
  const c = parseCertificateDer(handCert(subject, UTC, GEN));
  assert.equal(c.subject, "O=Ünïcode Org + OU=BMP, OID(1.2.3.4)=cé, CN=DEAD");
  assert.equal(c.issuerdn, "CN=Hand CA");
  assert.equal(c.serial, "01");
  assert.equal(c.notbefore, "2049-12-31T23:59:59");
  assert.equal(c.notafter, "2050-01-01T00:00:00");
});

Deno.test("parseCertificateDer() refuses hostile DER with an X509Error", async (t) => {
  const good = handCert(name([[[0x55, 4, 3], 0x13, str("x")]]), UTC, GEN);
  const deep = new Uint8Array(20000);
  for (let i = 0; i < deep.length; i += 2) {
    deep[i] = 0x30;
    deep[i + 1] = 0x80;
  }
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["deep nesting, indefinite lengths", deep],
    ["a 5-byte length", new Uint8Array([0x30, 0x85, 1, 0, 0, 0, 0])],
    ["a 4 GiB length", new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0])],
    [
      "a length past the end",
      new Uint8Array([0x30, 0x82, 0x10, 0x00, 0x30, 0]),
    ],
    ["bytes after the certificate", new Uint8Array([...good, 0])],
    [
      "a time that is not a time",
      handCert(name([]), tlv(0x17, str("49123123595AZ")), GEN),
    ],
    [
      "a time of the wrong type",
      handCert(name([]), tlv(0x13, str("491231235959Z")), GEN),
    ],
    ["month 13", handCert(name([]), tlv(0x17, str("491331235959Z")), GEN)],
    ["an RDN that is not a SET", handCert(tlv(0x30, tlv(0x30, [])), UTC, GEN)],
  ];
  for (const [what, der] of cases) {
    await t.step(
      what,
      () => assert.throws(() => parseCertificateDer(der), X509Error),
    );
  }
  await t.step("every truncation", () => {
    for (let n = 0; n < good.length; n++) {
      assert.throws(() => parseCertificateDer(good.subarray(0, n)), X509Error);
    }
  });
});

Deno.test("parseCertificateDer() throws nothing but X509Error on mutated certificates (fuzz)", () => {
  const good = handCert(
    name([[[0x55, 4, 3], 0x13, str("fuzz.example")], [
      [0x55, 4, 6],
      0x13,
      str("US"),
    ]]),
    UTC,
    GEN,
  );
  let seed = 7;
  const rnd = () =>
    (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  let ok = 0;
  for (let i = 0; i < 20000; i++) {
    const b = good.slice();
    const flips = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < flips; k++) {
      b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    }
    try {
      parseCertificateDer(b);
      ok++;
    } catch (e) {
      if (!(e instanceof X509Error)) throw e;
    }
  }
  assert.ok(ok > 0 && ok < 20000);
});
