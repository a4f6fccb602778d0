/**
 * End-to-end detection over the lab captures in tests/fixtures (recorded by
 * tests/lab/make_fixtures.sh with real tools): each attack capture yields its
 * alert type naming the attacker, the benign captures yield nothing but
 * informational new_host alerts, and the mixed capture only alerts naming
 * the attacker. Runs `analyzeFiles`, the code behind `analyze`.
 */
import assert from "node:assert/strict";
import { type Alert, parsePolicy, type Policy } from "../alerts/mod.ts";
import { analyzeFiles } from "../cli/analyze.ts";
import type { EveRecord } from "../events/mod.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const ATTACKER = "10.99.0.66";
const VICTIM = "10.99.0.10";
const OUTSIDE = "203.0.113.66";

async function alertsOf(name: string, policy?: Policy): Promise<Alert[]> {
  const out: Alert[] = [];
  const stats = await analyzeFiles([new URL(name, FIXTURES).pathname], {
    events: new Set(["alert"]),
    ...(policy ? { policy } : {}),
    sink: (rec: EveRecord) => out.push(rec as unknown as Alert),
  });
  assert.equal(
    stats.files[0]?.error,
    null,
    `${name}: ${stats.files[0]?.error}`,
  );
  assert.ok(stats.total.packets > 0, `${name} has packets`);
  return out;
}

function summary(alerts: readonly Alert[]): string {
  return alerts.map((a) =>
    `${a.netsentinel.type} ${a.src_ip}->${
      a.dest_ip ?? ""
    } x${a.netsentinel.count}`
  ).join("; ");
}

function notInformational(alerts: readonly Alert[]): Alert[] {
  return alerts.filter((a) => a.netsentinel.type !== "new_host");
}

interface Expect {
  file: string;
  type: string;
  src?: string;
  dest?: string;
  /** Evidence fields that must match. */
  evidence?: Record<string, unknown>;
  signatureId?: number;
}

const ATTACKS: Expect[] = [
  {
    file: "scan_syn.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "syn" },
  },
  {
    // nmap -f: only visible once the fragments are reassembled.
    file: "scan_frag.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "syn" },
  },
  {
    file: "scan_connect.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "connect" },
  },
  {
    file: "scan_fin.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "fin" },
  },
  {
    file: "scan_xmas.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "xmas" },
  },
  {
    file: "scan_null.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "null" },
  },
  {
    file: "scan_ack.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "ack" },
  },
  {
    file: "scan_udp.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "udp" },
  },
  {
    file: "scan_slow.pcap",
    type: "port_scan",
    src: ATTACKER,
    dest: VICTIM,
    evidence: { scan_kind: "syn", slow: true },
  },
  {
    file: "sweep_icmp.pcap",
    type: "host_sweep",
    src: ATTACKER,
    signatureId: 1000101,
  },
  {
    file: "sweep_tcp.pcap",
    type: "host_sweep",
    src: ATTACKER,
    signatureId: 1000102,
    evidence: { port: 22 },
  },
  // hping3 --rand-source: the sources are spoofed, the target is the fact.
  {
    file: "flood_syn.pcap",
    type: "syn_flood",
    dest: VICTIM,
    evidence: { spoofed_likely: true },
  },
  { file: "flood_udp.pcap", type: "udp_flood", src: ATTACKER, dest: VICTIM },
  { file: "flood_icmp.pcap", type: "icmp_flood", src: ATTACKER, dest: VICTIM },
  {
    file: "brute_ssh.pcap",
    type: "brute_force",
    src: ATTACKER,
    dest: VICTIM,
    signatureId: 1000301,
  },
  {
    file: "brute_http.pcap",
    type: "brute_force",
    src: ATTACKER,
    dest: VICTIM,
    signatureId: 1000306,
  },
  // The attacker queries the lab resolver (the victim), which forwards.
  {
    file: "dns_tunnel.pcap",
    type: "dns_tunnel",
    src: ATTACKER,
    evidence: { domain: "tun.test" },
  },
  {
    file: "dns_exfil.pcap",
    type: "dns_tunnel",
    src: ATTACKER,
    evidence: { domain: "exfil.test" },
  },
  {
    file: "malformed_http.pcap",
    type: "malformed_http",
    src: ATTACKER,
    dest: VICTIM,
  },
  {
    file: "suspicious_ports.pcap",
    type: "suspicious_port",
    src: ATTACKER,
    dest: VICTIM,
  },
  {
    file: "external_inbound.pcap",
    type: "external_inbound",
    src: OUTSIDE,
    dest: VICTIM,
  },
];

for (const e of ATTACKS) {
  Deno.test(`${e.file} yields ${e.type}${e.src ? ` naming ${e.src}` : ""}`, async () => {
    const alerts = await alertsOf(e.file);
    const hits = alerts.filter((a) =>
      a.netsentinel.type === e.type &&
      (e.src === undefined || a.src_ip === e.src) &&
      (e.dest === undefined || a.dest_ip === e.dest)
    );
    assert.ok(hits.length > 0, `no ${e.type} in ${e.file}: ${summary(alerts)}`);
    const a = hits[0]!;
    if (e.signatureId !== undefined) {
      assert.equal(a.alert.signature_id, e.signatureId);
    }
    for (const [k, v] of Object.entries(e.evidence ?? {})) {
      assert.deepEqual(
        a.netsentinel.evidence[k],
        v,
        `evidence.${k} of ${e.file}`,
      );
    }
    // The resolver that forwarded the tunnel's queries is not the tunnel.
    if (e.type === "dns_tunnel") {
      assert.ok(
        !alerts.some((x) =>
          x.netsentinel.type === "dns_tunnel" && x.src_ip === VICTIM
        ),
      );
    }
  });
}

for (const file of ["benign.pcap", "benign_holdout.pcap"]) {
  Deno.test(`${file} yields no alert but informational new_host ones`, async () => {
    const alerts = await alertsOf(file);
    assert.deepEqual(summary(notInformational(alerts)), "");
    assert.ok(alerts.every((a) => a.alert.severity === 4));
    assert.ok(alerts.length > 0, "new hosts are reported");
  });
}

Deno.test("mixed.pcap yields only alerts naming the attacker (new_host aside), and the same ones every run", async () => {
  const first = await alertsOf("mixed.pcap");
  const bad = notInformational(first).filter((a) => a.src_ip !== ATTACKER);
  assert.deepEqual(summary(bad), "");
  const types = new Set(notInformational(first).map((a) => a.netsentinel.type));
  assert.ok(types.has("port_scan"), summary(first));
  assert.ok(types.has("brute_force"), summary(first));
  const again = await alertsOf("mixed.pcap");
  assert.deepEqual(again, first);
});

Deno.test("ssh connections that logged in are not guesses: real one-shot commands never add up, hydra's failures do", async () => {
  // Two attempts would be enough to alert.
  const eager = parsePolicy({ detectors: { brute_force: { attempts: 2 } } });
  for (const file of ["benign.pcap", "benign_holdout.pcap"]) {
    // The lab admin runs one-shot `ssh labuser@victim uptime` commands.
    const bf = (await alertsOf(file, eager)).filter((a) =>
      a.netsentinel.type === "brute_force"
    );
    assert.deepEqual(bf, [], `${file}: ${summary(bf)}`);
  }
  const hydra = (await alertsOf("brute_ssh.pcap", eager)).filter((a) =>
    a.netsentinel.type === "brute_force"
  );
  assert.equal(hydra.length, 1, summary(hydra));
  // 15 connections; the last found the password and logged in.
  assert.equal(hydra[0]!.netsentinel.evidence.attempts, 14);
});
