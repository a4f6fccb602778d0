/**
 * The engine's order and state with Suricata's semantics: action order
 * (pass first), flowbits set before tested within one packet, threshold
 * and detection_filter types, header expressions and packet keywords.
 */
import assert from "node:assert/strict";
import { RuleEngine } from "./engine.ts";
import { firing, inspection, loadText } from "./_testing.ts";

function engine(text: string): { e: RuleEngine; out: number[] } {
  const r = loadText(text);
  assert.deepEqual(r.refused, []);
  const out: number[] = [];
  return { e: new RuleEngine(r.rules, (rule) => out.push(rule.sid)), out };
}

Deno.test("a pass rule that matches silences the alerts of that packet whatever the file order", () => {
  const rules = [
    'alert tcp any any -> any any (msg:"a"; content:"evil"; sid:1;)',
    'pass tcp 10.0.0.5 any -> any any (msg:"p"; content:"evil"; sid:2;)',
  ].join("\n");
  assert.deepEqual(
    firing(rules, { src: "10.0.0.5", bufs: { pkt_data: "evil" } }),
    [],
  );
  assert.deepEqual(
    firing(rules, { src: "10.0.0.6", bufs: { pkt_data: "evil" } }),
    [1],
  );
});

Deno.test("flowbits set by one rule are seen by a rule earlier in the file in the same packet", () => {
  const { e, out } = engine([
    'alert tcp any any -> any any (msg:"check"; flowbits:isset,seen; content:"b"; sid:1;)',
    'alert tcp any any -> any any (msg:"set"; content:"a"; flowbits:set,seen; flowbits:noalert; sid:2;)',
  ].join("\n"));
  e.inspectPacket(inspection({ flowId: 7, bufs: { pkt_data: "ab" } }));
  assert.deepEqual(out, [1]);
  // Another flow has no bit.
  out.length = 0;
  e.inspectPacket(inspection({ flowId: 8, bufs: { pkt_data: "b" } }));
  assert.deepEqual(out, []);
  // The bit stays on the flow for later packets, until the flow ends.
  e.inspectPacket(inspection({ flowId: 7, bufs: { pkt_data: "b" } }));
  assert.deepEqual(out, [1]);
  e.flowEnded(7);
  e.inspectPacket(inspection({ flowId: 7, bufs: { pkt_data: "b" } }));
  assert.deepEqual(out, [1]);
});

Deno.test("flowbits isnotset, unset, toggle and the | and & forms", () => {
  const { e, out } = engine([
    'alert tcp any any -> any any (msg:"first"; content:"x"; flowbits:isnotset,done; flowbits:set,done; sid:1;)',
    'alert tcp any any -> any any (msg:"either"; content:"y"; flowbits:isset,done|other; sid:2;)',
    'alert tcp any any -> any any (msg:"both"; content:"z"; flowbits:isset,done&other; sid:3;)',
    'alert tcp any any -> any any (msg:"tog"; content:"t"; flowbits:toggle,other; flowbits:noalert; sid:4;)',
  ].join("\n"));
  const pkt = (s: string) =>
    e.inspectPacket(inspection({ flowId: 1, bufs: { pkt_data: s } }));
  pkt("x");
  pkt("x");
  assert.deepEqual(out, [1]);
  pkt("y");
  pkt("z");
  assert.deepEqual(out, [1, 2]);
  pkt("t");
  pkt("z");
  assert.deepEqual(out, [1, 2, 3]);
  pkt("t");
  pkt("z");
  assert.deepEqual(out, [1, 2, 3]);
});

Deno.test("threshold types limit, threshold and both, and detection_filter, per tracked source", () => {
  const run = (opts: string, n: number, src = "10.0.0.1") => {
    const { e, out } = engine(
      `alert tcp any any -> any any (msg:"t"; content:"a"; ${opts} sid:9;)`,
    );
    for (let i = 0; i < n; i++) {
      e.inspectPacket(
        inspection({ src, tsUs: 1e6 + i * 1e5, bufs: { pkt_data: "a" } }),
      );
    }
    return out.length;
  };
  assert.equal(
    run("threshold:type limit, track by_src, count 2, seconds 60;", 5),
    2,
  );
  assert.equal(
    run("threshold:type threshold, track by_src, count 3, seconds 60;", 7),
    2,
  );
  assert.equal(
    run("threshold:type both, track by_src, count 2, seconds 60;", 5),
    1,
  );
  assert.equal(
    run("detection_filter:track by_src, count 2, seconds 60;", 5),
    3,
  );
  // A new window starts after `seconds`.
  const { e, out } = engine(
    'alert tcp any any -> any any (msg:"t"; content:"a"; threshold:type limit, track by_src, count 1, seconds 1; sid:9;)',
  );
  for (const t of [0, 0.5, 1.2, 1.3]) {
    e.inspectPacket(
      inspection({ tsUs: 1e6 + t * 1e6, bufs: { pkt_data: "a" } }),
    );
  }
  assert.equal(out.length, 2);
});

Deno.test("header addresses, ports, negation, lists and <> select packets", () => {
  const rules = [
    'alert tcp $HOME_NET any -> !$HOME_NET 80 (msg:"out"; content:"q"; sid:1;)',
    'alert tcp any [1024:,!8080] -> any any (msg:"hi"; content:"q"; sid:2;)',
    'alert tcp 192.0.2.0/24 any <> 10.0.0.0/8 any (msg:"bi"; content:"q"; sid:3;)',
    'alert tcp [10.0.0.0/8,!10.0.0.9] any -> any ![80,443] (msg:"neg"; content:"q"; sid:4;)',
  ].join("\n");
  const f = (src: string, sp: number, dst: string, dp: number) =>
    firing(rules, { src, sp, dst, dp, bufs: { pkt_data: "q" } });
  assert.deepEqual(f("10.0.0.1", 40000, "192.0.2.1", 80), [1, 2, 3]);
  assert.deepEqual(f("10.0.0.1", 8080, "10.0.0.2", 22), [4]);
  assert.deepEqual(f("192.0.2.1", 80, "10.0.0.1", 40000), [3]);
  assert.deepEqual(f("10.0.0.9", 80, "10.0.0.1", 22), []);
});

Deno.test("flow direction and state, flags, ttl and ip_proto", () => {
  const rules = [
    'alert tcp any any -> any any (msg:"ts"; flow:established,to_server; content:"q"; sid:1;)',
    'alert tcp any any -> any any (msg:"tc"; flow:to_client; content:"q"; sid:2;)',
    'alert tcp any any -> any any (msg:"syn"; flags:S; sid:3;)',
    'alert tcp any any -> any any (msg:"syn+"; flags:S+; sid:4;)',
    'alert ip any any -> any any (msg:"ttl"; ttl:<5; ip_proto:6; sid:5;)',
    'alert tcp any any -> any any (msg:"ne"; flow:not_established; content:"q"; sid:6;)',
  ].join("\n");
  assert.deepEqual(firing(rules, { dir: 0, bufs: { pkt_data: "q" } }), [1]);
  assert.deepEqual(firing(rules, { dir: 1, bufs: { pkt_data: "q" } }), [2]);
  assert.deepEqual(
    firing(rules, { established: false, bufs: { pkt_data: "q" } }),
    [6],
  );
  assert.deepEqual(firing(rules, { tcpFlags: 0x02 }), [3, 4]);
  assert.deepEqual(firing(rules, { tcpFlags: 0x12 }), [4]);
  assert.deepEqual(firing(rules, { tcpFlags: 0x10, ttl: 3 }), [5]);
});

Deno.test("app-layer rules need their protocol on the flow", () => {
  const rules =
    'alert http any any -> any any (msg:"h"; content:"zz"; sid:1;)\n' +
    'alert tcp any any -> any any (msg:"n"; app-layer-protocol:!http; content:"zz"; sid:2;)';
  assert.deepEqual(firing(rules, { app: "http", bufs: { pkt_data: "zz" } }), [
    1,
  ]);
  assert.deepEqual(firing(rules, { app: "tls", bufs: { pkt_data: "zz" } }), [
    2,
  ]);
});

Deno.test("the prefilter reports every rule sharing a pattern and rules without one still run", () => {
  const lines: string[] = [];
  for (let i = 1; i <= 300; i++) {
    lines.push(
      `alert tcp any any -> any any (msg:"m${i}"; content:"pat${i}x"; sid:${i};)`,
    );
  }
  lines.push(
    'alert tcp any any -> any any (msg:"dup"; content:"PAT7X"; nocase; sid:1000;)',
  );
  lines.push(
    'alert tcp any any -> any any (msg:"nofp"; dsize:>1000; sid:1001;)',
  );
  const text = lines.join("\n");
  assert.deepEqual(firing(text, { bufs: { pkt_data: "..pat7x..pat300x" } }), [
    7,
    300,
    1000,
  ]);
  assert.deepEqual(firing(text, { bufs: { pkt_data: "x".repeat(1001) } }), [
    1001,
  ]);
});

Deno.test("rules without a pattern are found by their narrower addresses or by their ports", () => {
  const rules = [
    // Both sides plain: found by the listed server, not by every home address.
    'alert ip $HOME_NET any -> [198.51.100.7,203.0.113.0/24] any (msg:"cnc"; sid:1;)',
    // Wide addresses, one port: found by the port, either direction with <>.
    'alert tcp $EXTERNAL_NET any -> $HOME_NET 22 (msg:"ssh syn"; flags:S,12; sid:2;)',
    'alert tcp any any <> any [5900:5902,6000] (msg:"vnc"; dsize:0; sid:3;)',
  ].join("\n");
  const home = { src: "10.0.0.1", dst: "198.51.100.7", dp: 443 };
  assert.deepEqual(firing(rules, home), [1]);
  // Not the reply: the rule is one way.
  assert.deepEqual(
    firing(rules, { ...home, src: "198.51.100.7", dst: "10.0.0.1" }),
    [],
  );
  assert.deepEqual(firing(rules, { ...home, dst: "203.0.113.200" }), [1]);
  assert.deepEqual(firing(rules, { ...home, dst: "198.51.100.8" }), []);
  // The home side must hold too.
  assert.deepEqual(firing(rules, { ...home, src: "192.0.2.9" }), []);
  const syn = { src: "192.0.2.9", dst: "10.0.0.1", dp: 22, tcpFlags: 0x02 };
  assert.deepEqual(firing(rules, syn), [2]);
  assert.deepEqual(firing(rules, { ...syn, dp: 23 }), []);
  assert.deepEqual(firing(rules, { ...syn, tcpFlags: 0x12 }), []);
  assert.deepEqual(firing(rules, { ...syn, dst: "192.0.2.10" }), []);
  // Reversed ports: only the <> rule.
  assert.deepEqual(firing(rules, { ...syn, sp: 22, dp: 40000 }), []);
  assert.deepEqual(firing(rules, { dp: 5901 }), [3]);
  assert.deepEqual(firing(rules, { sp: 6000, dp: 40000 }), [3]);
  assert.deepEqual(firing(rules, { dp: 5903 }), []);
  assert.deepEqual(firing(rules, { dp: 5901, bufs: { pkt_data: "x" } }), []);
});
