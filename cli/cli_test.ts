import assert from "node:assert/strict";
import { COMMANDS } from "./mod.ts";
import { runCli } from "./_testing.ts";

const CORPUS = new URL("../../shared/pcaps/tcpdump-tests/", import.meta.url)
  .pathname;

function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0]!, /^netsentinel: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/, "no stack trace");
}

Deno.test("cli prints help for the program and every command", async (t) => {
  const top = await runCli(["--help"]);
  assert.equal(top.code, 0);
  for (const c of COMMANDS) {
    assert.match(top.stdout, new RegExp(`\\b${c.name}\\b`));
    await t.step(c.name, async () => {
      const r = await runCli([c.name, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: netsentinel ${c.name}`));
    });
  }
});

Deno.test("cli rejects bad usage with one line and exit code 2", async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /./],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["--bogus"], /unknown option "--bogus"/],
    [["analyze"], /no capture file given/],
    [["analyze", "--bogus", "x.pcap"], /Unknown option '--bogus'/],
    [
      ["analyze", "--format", "xml", "x.pcap"],
      /--format: "xml" is not one of eve, table/,
    ],
    [
      ["analyze", "--events", "alert,ftp", "x.pcap"],
      /--events: "ftp" is not one of/,
    ],
    [["analyze", "--format"], /argument missing|needs a value/i],
    [["replay", "x.pcap", "--speed", "abc"], /--speed: "abc" is not a number/],
    [["replay", "x.pcap", "--speed", "0"], /--speed: 0 is out of range/],
    [
      ["replay", "x.pcap", "--max", "--speed", "2"],
      /--speed and --max exclude each other/,
    ],
    [["replay"], /give exactly one capture file/],
    [["run", "--listen", "8080"], /--listen: "8080" is not HOST:PORT/],
    [["run", "--cert", "c.pem"], /--cert and --key go together/],
    [["interfaces", "extra"], /unexpected argument "extra"/],
  ];
  for (const [args, re] of cases) {
    await t.step(args.join(" ") || "(no arguments)", async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      if (args.length === 0) return; // prints the help text
      assertOneLineError(r.stderr, re);
    });
  }
});

Deno.test("analyze reports an unreadable file in its entry and goes on with the rest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stats = `${dir}/stats.json`;
    const garbage = `${dir}/garbage.pcap`;
    await Deno.writeTextFile(garbage, "this is not a capture file at all");
    const r = await runCli([
      "analyze",
      "--stats-json",
      stats,
      `${dir}/missing.pcap`,
      garbage,
      `${CORPUS}dns_udp.pcap`,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing\.pcap.*no such file/);
    assert.match(r.stderr, /garbage\.pcap/);
    const s = JSON.parse(await Deno.readTextFile(stats));
    assert.equal(s.files.length, 3);
    assert.match(s.files[0].error, /no such file/);
    assert.notEqual(s.files[1].error, null);
    assert.equal(s.files[2].error, null);
    assert.equal(s.files[2].packets, 2);
    assert.equal(s.files[2].linktype, "EN10MB");
    assert.equal(s.total.failed, 2);
    assert.equal(s.total.packets, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze refuses to write its statistics over a capture file (--stats-json *.pcap) and leaves it as it was", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cap = `${dir}/first.pcap`;
    const renamed = `${dir}/capture.bin`;
    await Deno.copyFile(`${CORPUS}dns_udp.pcap`, cap);
    await Deno.copyFile(`${CORPUS}dns_udp.pcap`, renamed);
    const before = await Deno.readFile(cap);
    for (const target of [cap, renamed]) {
      const r = await runCli([
        "analyze",
        "--stats-json",
        target,
        `${CORPUS}dns_udp.pcap`,
      ]);
      assert.equal(r.code, 2);
      assertOneLineError(
        r.stderr,
        /--stats-json ".*" is a capture file and would be overwritten \(give the statistics a file of their own/,
      );
      assert.deepEqual(await Deno.readFile(target), before);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze reads a valid pcapng without packets as an empty capture, and a cut one as an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A Section Header Block alone (little-endian, version 1.0, no options).
    const shb = new Uint8Array(28);
    const v = new DataView(shb.buffer);
    v.setUint32(0, 0x0a0d0d0a, true);
    v.setUint32(4, 28, true);
    v.setUint32(8, 0x1a2b3c4d, true);
    v.setUint16(12, 1, true);
    v.setBigInt64(16, -1n, true);
    v.setUint32(24, 28, true);
    await Deno.writeFile(`${dir}/empty.pcapng`, shb);
    await Deno.writeFile(`${dir}/cut.pcapng`, shb.subarray(0, 20));
    const stats = `${dir}/stats.json`;
    const ok = await runCli([
      "analyze",
      "--stats-json",
      stats,
      `${dir}/empty.pcapng`,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "");
    const s = JSON.parse(await Deno.readTextFile(stats));
    assert.equal(s.files[0].error, null);
    assert.equal(s.files[0].packets, 0);
    const bad = await runCli(["analyze", `${dir}/cut.pcapng`]);
    assert.equal(bad.code, 1);
    assertOneLineError(
      bad.stderr,
      /cut\.pcapng: Truncated pcapng block of type 0x0a0d0d0a: length 28, the file has 20 bytes left$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze emits protocol events in EVE form with Suricata's field names", async () => {
  const r = await runCli([
    "analyze",
    "--events",
    "dns,flow",
    `${CORPUS}dns_udp.pcap`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const recs = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const dns = recs.filter((x) => x.event_type === "dns");
  assert.equal(dns.length, 2);
  // Suricata's dns version 3 form: request/response, queries, answers.
  assert.equal(dns[0].dns.version, 3);
  assert.equal(dns[0].dns.type, "request");
  assert.equal(dns[0].dns.rd, true);
  assert.deepEqual(dns[0].dns.queries, [
    { rrname: "www.tcpdump.org", rrtype: "A" },
  ]);
  assert.equal(dns[0].src_port, 43966);
  assert.equal(dns[1].dns.type, "response");
  assert.equal(dns[1].dns.rcode, "NOERROR");
  assert.equal(dns[1].src_port, 53);
  assert.deepEqual(dns[1].dns.answers, [
    { rrname: "www.tcpdump.org", rrtype: "A", ttl: 60, rdata: "192.139.46.66" },
    {
      rrname: "www.tcpdump.org",
      rrtype: "A",
      ttl: 60,
      rdata: "198.199.88.104",
    },
  ]);
  assert.equal(dns[1].dns.authorities[0].rrtype, "NS");
  const flow = recs.filter((x) => x.event_type === "flow");
  assert.equal(flow.length, 1);
  assert.equal(flow[0].flow.pkts_toserver, 1);
  assert.equal(flow[0].flow.pkts_toclient, 1);
  assert.equal(flow[0].dest_port, 53);
  assert.equal(flow[0].app_proto, "dns");
  assert.equal(flow[0].flow_id, dns[0].flow_id);
});

Deno.test("analyze reads a directory of captures and runs from a foreign working directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${CORPUS}dns_udp.pcap`, `${dir}/a.pcap`);
    await Deno.copyFile(`${CORPUS}dns_tcp.pcap`, `${dir}/b.pcap`);
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a capture");
    const r = await runCli(
      ["analyze", "--events", "dns", "--format", "table", "."],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.ok(lines.length >= 4, r.stdout);
    assert.ok(lines.every((l) => / dns /.test(l)), r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
