/**
 * Real TLS handshakes through `analyze`: two namespaces, `openssl s_server`
 * with a certificate made here (chosen subject, issuer, serial and
 * validity, tests/lab/tls_certs.sh), `openssl s_client` and `curl` with TLS
 * 1.2 and TLS 1.3, recorded by tcpdump. The EVE `tls` records must carry the
 * version the client says it negotiated, the SNI, the certificate's facts as
 * `openssl x509` reads them (TLS 1.2; none in 1.3, where the certificate is
 * encrypted), and JA3, JA3S, JA4 equal to tshark's and the Python
 * reference's (tests/reference/tls_fingerprints.py) on the same capture.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../cli/_testing.ts";
import { mustRun, poll, recordCapture, runCommand } from "./e2e/_lab.ts";
import { createVethPair } from "./netns.ts";

const TOOLS = [
  "ip",
  "tcpdump",
  "openssl",
  "curl",
  "tshark",
  "python3",
  "ss",
  "ethtool",
];
const CERTS_SH = new URL("./lab/tls_certs.sh", import.meta.url).pathname;
const REFERENCE = new URL("./reference/tls_fingerprints.py", import.meta.url)
  .pathname;
const NAME = "secure.lab.test";
const PORT = 8443;

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces)";
  const missing: string[] = [];
  for (const t of TOOLS) {
    const r = await runCommand(["sh", "-c", `command -v ${t}`]);
    if (!r.success) missing.push(t);
  }
  return missing.length > 0
    ? `missing ${missing.join(", ")} (./run.sh setup test)`
    : null;
}

const why = await unavailable();
const ignore = why !== null && Deno.env.get("CI") !== "true";

/** openssl's view of a PEM certificate, in EVE's forms. */
async function opensslView(pem: string): Promise<Record<string, string>> {
  const text = await mustRun([
    "openssl",
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
  const f: Record<string, string> = {};
  for (const line of text.trim().split("\n")) {
    const i = line.indexOf("=");
    f[line.slice(0, i)] = line.slice(i + 1);
  }
  const date = (s: string) => new Date(s).toISOString().slice(0, 19);
  return {
    subject: f.subject!,
    issuerdn: f.issuer!,
    fingerprint: f["sha1 Fingerprint"]!.toLowerCase(),
    serial: f.serial!,
    notbefore: date(f.notBefore!),
    notafter: date(f.notAfter!),
  };
}

/** `cmd` run inside network namespace `ns`. */
function inNs(ns: string, cmd: string[]): string[] {
  return ["ip", "netns", "exec", ns, ...cmd];
}

/** Starts a long-running `cmd` inside `ns` (its output dropped). */
function spawnIn(ns: string, cmd: string[]): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/**
 * `openssl s_server` in `ns` on `accept` (address:port) with the
 * certificate tests/lab/tls_certs.sh made in `dir` (and its CA's in the
 * chain unless `chain` is false), answering HTTP with a page of its own.
 */
function tlsServer(
  ns: string,
  accept: string,
  dir: string,
  chain = true,
): Deno.ChildProcess {
  return spawnIn(ns, [
    "openssl",
    "s_server",
    "-accept",
    accept,
    "-cert",
    join(dir, "server.pem"),
    "-key",
    join(dir, "server.key"),
    ...(chain ? ["-cert_chain", join(dir, "ca.pem")] : []),
    "-www",
    "-quiet",
  ]);
}

/** Resolves once something in `ns` listens on TCP `port`. */
async function listening(ns: string, port: number, what: string) {
  await poll(`${what} to listen`, async () => {
    const out = await mustRun(inNs(ns, ["ss", "-Hltn", `sport = :${port}`]));
    return out.trim() !== "" ? true : null;
  }, { timeoutMs: 10_000, everyMs: 50 });
}

/**
 * The signature ids `analyze --no-model --rules` raises on `pcap` with the
 * rules `text` (written into `dir`), and its output.
 */
async function signaturesFired(
  dir: string,
  pcap: string,
  text: string,
): Promise<[number[], string]> {
  const rules = join(dir, "test.rules");
  await Deno.writeTextFile(rules, text);
  const al = await runCli(["analyze", "--no-model", "--rules", rules, pcap]);
  assert.equal(al.code, 0, al.stderr);
  const sids = al.stdout.trim().split("\n").filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l).alert?.signature_id);
  return [sids, al.stdout];
}

/** curl in `ns` fetching `url` quietly, trusting the CA made in `dir`. */
async function curlIn(ns: string, dir: string, args: string[], url: string) {
  await mustRun(inNs(ns, [
    "curl",
    "-sS",
    "-o",
    "/dev/null",
    "--max-time",
    "15",
    "--cacert",
    join(dir, "ca.pem"),
    ...args,
    url,
  ]));
}

Deno.test({
  name:
    "TLS 1.2 and 1.3 handshakes of openssl and curl give EVE tls records with openssl's view of the certificate and the fingerprints of tshark and the reference" +
    (ignore ? ` (skipped: ${why})` : ""),
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ns-tls-" });
    try {
      await mustRun(["bash", CERTS_SH, dir, NAME]);
      await using pair = await createVethPair();
      const server = pair.a, client = pair.b;
      const pcap = join(dir, "tls.pcap");
      const stop = await recordCapture(server.ns, server.iface, pcap);
      const s = tlsServer(server.ns, `${server.ip}:${PORT}`, dir);
      try {
        await listening(server.ns, PORT, "openssl s_server");
        // The protocol each client says it negotiated, by what it ran.
        const said: string[] = [];
        for (const v of ["-tls1_2", "-tls1_3"]) {
          const r = await runCommand(
            inNs(client.ns, [
              "openssl",
              "s_client",
              "-connect",
              `${server.ip}:${PORT}`,
              "-servername",
              NAME,
              v,
              "-alpn",
              "http/1.1",
              "-CAfile",
              join(dir, "ca.pem"),
              "-verify_return_error",
              "-ign_eof",
            ]),
            { stdin: "GET / HTTP/1.0\r\n\r\n", timeoutMs: 20_000 },
          );
          assert.ok(r.success, r.stderr);
          said.push(/Protocol\s*:\s*(\S+)/.exec(r.stdout)?.[1] ?? "?");
        }
        assert.deepEqual(said, ["TLSv1.2", "TLSv1.3"]);
        for (const v of [["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]]) {
          await curlIn(
            client.ns,
            dir,
            ["--resolve", `${NAME}:${PORT}:${server.ip}`, ...v],
            `https://${NAME}:${PORT}/`,
          );
        }
      } finally {
        s.kill("SIGTERM");
        await s.status;
        await stop();
      }

      const r = await runCli(["analyze", "--events", "tls", pcap]);
      assert.equal(r.code, 0, r.stderr);
      const recs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(recs.length, 4, r.stdout);
      const versions = recs.map((x) => x.tls.version);
      assert.deepEqual(versions, ["TLS 1.2", "TLS 1.3", "TLS 1.2", "TLS 1.3"]);

      const cert = await opensslView(join(dir, "server.pem"));
      assert.equal(cert.serial, "8BADF00D0123456789");
      for (const rec of recs) {
        assert.equal(rec.src_ip, client.ip);
        assert.equal(rec.dest_ip, server.ip);
        assert.equal(rec.dest_port, PORT);
        assert.equal(rec.tls.sni, NAME);
        if (rec.tls.version === "TLS 1.2") {
          assert.equal(rec.tls.subject, cert.subject);
          assert.equal(rec.tls.issuerdn, cert.issuerdn);
          assert.equal(rec.tls.fingerprint, cert.fingerprint);
          // Suricata writes the DER integer's bytes: the leading 00 stays.
          assert.equal(rec.tls.serial, "00:8B:AD:F0:0D:01:23:45:67:89");
          assert.equal(rec.tls.notbefore, cert.notbefore);
          assert.equal(rec.tls.notafter, cert.notafter);
        } else {
          assert.equal(rec.tls.subject, undefined);
          assert.equal(rec.tls.fingerprint, undefined);
        }
      }
      assert.equal(
        cert.subject,
        "C=DE, ST=Berlin, L=Berlin, O=Lab Org, OU=Web, CN=secure.lab.test",
      );
      assert.equal(cert.notafter, "2051-06-30T12:34:56");

      const ref = JSON.parse(
        await mustRun(["python3", REFERENCE, pcap]),
      ) as Record<
        string,
        Record<string, string>
      >;
      assert.equal(Object.keys(ref).length, 4);
      for (const rec of recs) {
        const x = ref[`${rec.src_ip}:${rec.src_port}`]!;
        assert.ok(x, `no reference for port ${rec.src_port}`);
        assert.deepEqual(rec.tls.ja3, {
          hash: x.tshark_ja3,
          string: x.tshark_ja3_string,
        });
        assert.deepEqual(rec.tls.ja3, { hash: x.ja3, string: x.ja3_string });
        assert.deepEqual(rec.tls.ja3s, {
          hash: x.tshark_ja3s,
          string: x.tshark_ja3s_string,
        });
        assert.deepEqual(rec.tls.ja3s, { hash: x.ja3s, string: x.ja3s_string });
        assert.equal(rec.tls.ja4, x.ja4);
        if (rec.tls.version === "TLS 1.2") {
          assert.equal(rec.tls.fingerprint, x.cert_sha1);
        }
      }
      // The version each client offered, and openssl's ALPN (http/1.1).
      assert.match(recs[0].tls.ja4, /^t12d\d{4}h1_/);
      assert.match(recs[1].tls.ja4, /^t13d\d{4}h1_/);
      assert.match(recs[2].tls.ja4, /^t12d/);
      assert.match(recs[3].tls.ja4, /^t13d/);
      // openssl and curl are different clients.
      assert.notEqual(recs[0].tls.ja3.hash, recs[2].tls.ja3.hash);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a ClientHello the kernel cuts into many segments (MTU 120) still gives its SNI, JA3 and JA4, and tls.sni and ja3.hash rules fire on it" +
    (ignore ? ` (skipped: ${why})` : ""),
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ns-tls-" });
    try {
      await mustRun(["bash", CERTS_SH, dir, NAME]);
      await using pair = await createVethPair();
      const server = pair.a, client = pair.b;
      for (const end of [server, client]) {
        await mustRun([
          "ip",
          "-n",
          end.ns,
          "link",
          "set",
          end.iface,
          "mtu",
          "120",
        ]);
        // Segments as they go on the wire: no TSO/GSO on send, no GRO.
        await mustRun([
          "ip",
          "netns",
          "exec",
          end.ns,
          "ethtool",
          "-K",
          end.iface,
          "tso",
          "off",
          "gso",
          "off",
          "gro",
          "off",
        ]);
      }
      const pcap = join(dir, "small_mtu.pcap");
      const stop = await recordCapture(server.ns, server.iface, pcap);
      const s = tlsServer(server.ns, `${server.ip}:${PORT}`, dir, false);
      try {
        await listening(server.ns, PORT, "openssl s_server");
        const r = await runCommand(
          inNs(client.ns, [
            "openssl",
            "s_client",
            "-connect",
            `${server.ip}:${PORT}`,
            "-servername",
            NAME,
            "-tls1_2",
            "-ign_eof",
          ]),
          { stdin: "GET / HTTP/1.0\r\n\r\n", timeoutMs: 20_000 },
        );
        assert.ok(r.success, r.stderr);
      } finally {
        s.kill("SIGTERM");
        await s.status;
        await stop();
      }
      // The ClientHello really is in several segments (68 bytes at most).
      const dump = await mustRun([
        "tcpdump",
        "-nr",
        pcap,
        `tcp and src host ${client.ip}`,
      ]);
      const sizes = [...dump.matchAll(/length (\d+)/g)]
        .map((m) => Number(m[1])).filter((n) => n > 0);
      assert.ok(sizes.length >= 5 && Math.max(...sizes) <= 80, dump);

      const ev = await runCli(["analyze", "--events", "tls", pcap]);
      assert.equal(ev.code, 0, ev.stderr);
      const recs = ev.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(recs.length, 1, ev.stdout);
      const tls = recs[0].tls;
      assert.equal(tls.sni, NAME);
      assert.equal(tls.version, "TLS 1.2");
      assert.equal(
        tls.issuerdn,
        "C=US, O=NetSentinel Lab, CN=NetSentinel Lab CA",
      );
      const ref = JSON.parse(
        await mustRun(["python3", REFERENCE, pcap]),
      ) as Record<
        string,
        Record<string, string>
      >;
      const x = ref[`${recs[0].src_ip}:${recs[0].src_port}`]!;
      assert.equal(tls.ja3.hash, x.tshark_ja3);
      assert.equal(tls.ja4, x.ja4);

      const [sids, out] = await signaturesFired(
        dir,
        pcap,
        `alert tls any any -> any any (msg:"split sni"; flow:to_server; tls.sni; content:"${NAME}"; bsize:${NAME.length}; sid:3900001;)\n` +
          `alert tls any any -> any any (msg:"split ja3"; ja3.hash; content:"${tls.ja3.hash}"; sid:3900002;)\n`,
      );
      assert.ok(sids.includes(3900001), out);
      assert.ok(sids.includes(3900002), out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "curl through a real HTTP proxy (tinyproxy, CONNECT): the CONNECT is an http record and the tunnelled TLS handshake a tls record with its SNI, JA3 and JA4, which a tls.sni rule matches" +
    (ignore ? ` (skipped: ${why})` : ""),
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ns-tls-" });
    const cleanups: (() => Promise<void>)[] = [];
    try {
      await mustRun(["bash", CERTS_SH, dir, NAME]);
      await using pair = await createVethPair();
      // The server's namespace runs the TLS server and, in front of it,
      // the proxy the client talks to (its connection to the server stays
      // on the namespace's loopback: the capture sees the client's side).
      const server = pair.a, client = pair.b;
      const PROXY_PORT = 8888;
      const conf = join(dir, "tinyproxy.conf");
      await Deno.writeTextFile(
        conf,
        [
          `Port ${PROXY_PORT}`,
          `Listen ${server.ip}`,
          "Timeout 30",
          "MaxClients 10",
          "LogLevel Error",
          `Allow ${client.ip}`,
          `ConnectPort ${PORT}`,
          "",
        ].join("\n"),
      );
      const pcap = join(dir, "proxy.pcap");
      const stop = await recordCapture(server.ns, server.iface, pcap);
      await mustRun(inNs(server.ns, ["ip", "link", "set", "lo", "up"]));
      // The proxy resolves the name to the server's own loopback: `ip netns
      // exec` puts /etc/netns/NS/hosts over /etc/hosts for what it runs.
      const etc = `/etc/netns/${server.ns}`;
      await Deno.mkdir(etc, { recursive: true });
      await Deno.writeTextFile(`${etc}/hosts`, `127.0.0.1 localhost ${NAME}\n`);
      cleanups.push(() => Deno.remove(etc, { recursive: true }));
      const tls = tlsServer(server.ns, `127.0.0.1:${PORT}`, dir);
      const proxy = spawnIn(server.ns, ["tinyproxy", "-d", "-c", conf]);
      try {
        await listening(server.ns, PORT, "openssl s_server");
        await listening(server.ns, PROXY_PORT, "tinyproxy");
        await curlIn(
          client.ns,
          dir,
          [
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "-x",
            `http://${server.ip}:${PROXY_PORT}`,
          ],
          `https://${NAME}:${PORT}/`,
        );
      } finally {
        for (const p of [tls, proxy]) {
          p.kill("SIGTERM");
          await p.status;
        }
        await stop();
      }

      const r = await runCli(["analyze", "--events", "http,tls", pcap]);
      assert.equal(r.code, 0, r.stderr);
      const recs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      const http = recs.filter((x) => x.event_type === "http");
      const tlsRecs = recs.filter((x) => x.event_type === "tls");
      assert.equal(http.length, 1, r.stdout);
      assert.equal(http[0].http.http_method, "CONNECT");
      assert.equal(http[0].http.url, `${NAME}:${PORT}`);
      assert.equal(http[0].http.status, 200);
      assert.equal(tlsRecs.length, 1, r.stdout);
      const t = tlsRecs[0];
      assert.equal(t.src_ip, client.ip);
      assert.equal(t.dest_ip, server.ip);
      assert.equal(t.dest_port, PROXY_PORT);
      assert.equal(t.flow_id, http[0].flow_id, "one connection");
      assert.equal(t.tls.sni, NAME);
      assert.equal(t.tls.version, "TLS 1.2");
      const cert = await opensslView(join(dir, "server.pem"));
      assert.equal(t.tls.subject, cert.subject);
      // The fingerprints equal tshark's and the reference's for the same
      // hello (tshark decodes the tunnelled handshake too).
      const ref = JSON.parse(
        await mustRun(["python3", REFERENCE, pcap]),
      ) as Record<string, Record<string, string>>;
      const x = ref[`${t.src_ip}:${t.src_port}`];
      assert.ok(
        x,
        `no reference for ${t.src_ip}:${t.src_port}: ${JSON.stringify(ref)}`,
      );
      assert.deepEqual(t.tls.ja3, { hash: x.ja3, string: x.ja3_string });
      assert.equal(t.tls.ja4, x.ja4);
      // A signature on the name matches the tunnelled handshake.
      const [sids, out] = await signaturesFired(
        dir,
        pcap,
        `alert tls any any -> any any (msg:"tunnelled sni"; flow:to_server; tls.sni; content:"${NAME}"; bsize:${NAME.length}; sid:3900011;)\n`,
      );
      assert.ok(sids.includes(3900011), out);
    } finally {
      for (const c of cleanups) await c().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
