import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./_testing.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url).pathname;

/** A data directory with local feeds listing what the lab captures show. */
async function dataDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ns-intel-cli-" });
  await Deno.writeTextFile(join(dir, "names.txt"), "# lab names\nlab.test\n");
  // The certificate of tests/lab/tls_certs.sh (tls12.pcap), as SSLBL lists it.
  await Deno.writeTextFile(
    join(dir, "certs.csv"),
    "# Listingdate,SHA1,Listingreason\n" +
      "2026-11-30 08:00:00,c454f14becd264bc898821625bcb9079c7efcf0d,Lab C&C\n",
  );
  // The first client's fingerprints in tls12.pcap (curl through openssl).
  await Deno.writeTextFile(
    join(dir, "ja3.csv"),
    "# ja3_md5,Firstseen,Lastseen,Listingreason\n" +
      "22558766122974704364c9c75c5cce0a,2026-01-01 00:00:00,2026-12-01 00:00:00,Lab\n",
  );
  await Deno.writeTextFile(
    join(dir, "ja4.txt"),
    "t12d2808h1_d943125447b4_e7e480e5a997\n",
  );
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({
      intel: {
        feeds: [
          {
            name: "names",
            path: join(dir, "names.txt"),
            kind: "domain",
            link: "https://example.org/names",
          },
          {
            name: "certs",
            path: join(dir, "certs.csv"),
            format: "sslbl_cert",
          },
          { name: "ja3", path: join(dir, "ja3.csv"), format: "sslbl_ja3" },
          { name: "ja4", path: join(dir, "ja4.txt"), kind: "ja4" },
          { name: "gone", path: join(dir, "missing.txt"), kind: "ip" },
        ],
      },
    }),
  );
  return dir;
}

Deno.test("intel update stores local feeds, says which failed, and lookup names feed, line and date", async () => {
  const dir = await dataDir();
  try {
    const up = await runCli(["intel", "update", "--data", dir]);
    assert.equal(up.code, 1, up.stderr);
    assert.match(up.stdout, /Feed "names" updated: 1 indicators/);
    assert.match(up.stdout, /Feed "certs" updated: 1 indicators/);
    assert.match(
      up.stdout,
      /Cannot update feed "gone": cannot read ".*missing\.txt".*\(no copy yet\)/,
    );
    const hit = await runCli([
      "intel",
      "lookup",
      "git.lab.test",
      "--data",
      dir,
    ]);
    assert.equal(hit.code, 0, hit.stderr);
    assert.match(
      hit.stdout,
      /^names: lab\.test \(domain\) line 2: lab\.test; in the copy of 20/,
    );
    const cert = await runCli([
      "intel",
      "lookup",
      "C4:54:F1:4B:EC:D2:64:BC:89:88:21:62:5B:CB:90:79:C7:EF:CF:0D",
      "--data",
      dir,
      "--json",
    ]);
    const hits = JSON.parse(cert.stdout);
    assert.equal(hits[0].feed, "certs");
    assert.equal(hits[0].listed_since, "2026-11-30 08:00:00");
    const miss = await runCli([
      "intel",
      "lookup",
      "example.com",
      "--data",
      dir,
    ]);
    assert.equal(miss.code, 1);
    assert.match(
      miss.stdout,
      /example\.com: on no feed \(4 feeds loaded, 4 indicators\)/,
    );
    const usage = await runCli(["intel", "frobnicate", "--data", dir]);
    assert.equal(usage.code, 2);
    assert.equal(
      usage.stderr.trim(),
      'netsentinel: intel: unknown subcommand "frobnicate" (update or lookup)',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze --intel raises intel alerts for listed DNS names and certificates in a capture, and plain analyze none", async () => {
  const dir = await dataDir();
  try {
    await runCli(["intel", "update", "--data", dir]);
    const files = [join(FIXTURES, "mixed.pcap"), join(FIXTURES, "tls12.pcap")];
    const out = await runCli([
      "analyze",
      "--no-model",
      "--intel",
      "--data",
      dir,
      ...files,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const intel = out.stdout.split("\n").filter((l) => l !== "").map((l) =>
      JSON.parse(l)
    )
      .filter((a) => a.netsentinel.type === "intel");
    const vias = new Set(
      intel.map((a) =>
        `${a.netsentinel.evidence.feed}/${a.netsentinel.evidence.via}`
      ),
    );
    assert.ok(vias.has("names/dns_query"), [...vias].join(" "));
    assert.ok(vias.has("names/tls_sni"), [...vias].join(" "));
    assert.ok(vias.has("certs/cert_sha1"), [...vias].join(" "));
    assert.ok(vias.has("ja3/ja3"), [...vias].join(" "));
    assert.ok(vias.has("ja4/ja4"), [...vias].join(" "));
    const cert = intel.find((a) => a.netsentinel.evidence.via === "cert_sha1");
    assert.equal(cert.src_ip, "10.99.0.20");
    assert.equal(cert.netsentinel.evidence.internal_host, "10.99.0.20");
    assert.equal(
      cert.netsentinel.evidence.line,
      "2026-11-30 08:00:00,c454f14becd264bc898821625bcb9079c7efcf0d,Lab C&C",
    );
    const plain = await runCli(["analyze", "--no-model", ...files]);
    assert.doesNotMatch(plain.stdout, /"type":"intel"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
