/**
 * Parse coverage over the committed Emerging Threats Open subset
 * (testdata/etopen: scan, user_agents, dns and ftp categories), and ET
 * rules firing on the traffic they describe. The full copy's share is in
 * the README and the bench.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { countByReason, loadClassifications, loadRulePaths } from "./load.ts";
import { ruleVars } from "./rule_vars.ts";
import { RuleEngine } from "./engine.ts";
import { inspection } from "./_testing.ts";

const DIR = join(import.meta.dirname!, "testdata", "etopen");

Deno.test("the ET Open subset loads at least 99% of its enabled rules, each refusal with a reason", async () => {
  const r = await loadRulePaths([DIR], {
    vars: ruleVars(null),
    classes: await loadClassifications(),
  });
  assert.equal(r.files.length, 4);
  assert.equal(r.fileErrors.length, 0);
  const total = r.rules.length + r.refused.length;
  assert.ok(total > 600, `only ${total} enabled rules read`);
  assert.ok(
    r.rules.length / total >= 0.99,
    JSON.stringify(countByReason(r.refused)),
  );
  for (const x of r.refused) {
    assert.ok(
      x.sid !== null && x.line > 0 && x.reason.startsWith("unsupported"),
      x.detail,
    );
  }
  // Every loaded ET rule has its category and sid range.
  for (const rule of r.rules) {
    assert.ok(rule.category !== "", `sid ${rule.sid} has no category`);
    assert.ok(rule.sid >= 2000000 && rule.sid < 2900000);
  }
});

Deno.test("ET scan rules fire on their traffic (with their thresholds) and not on near misses", async () => {
  const r = await loadRulePaths([DIR], {
    vars: ruleVars(["10.0.0.0/8"]),
    classes: await loadClassifications(),
  });
  const hits: number[] = [];
  const e = new RuleEngine(r.rules, (rule) => hits.push(rule.sid));
  const request = (ua: string, src = "192.0.2.9") =>
    e.inspectTx(inspection({
      src,
      dst: "10.0.0.5",
      app: "http",
      tsUs: 1e6 + hits.length,
      bufs: { "http.method": "GET", "http.uri": "/", "http.user_agent": ua },
    }));
  // 2009358: UA starts with "Mozilla/5.0 (compatible; Nmap Scripting Engine" (depth 46, nocase).
  request(
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
  );
  assert.deepEqual(hits, [2009358]);
  hits.length = 0;
  request(
    "X Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
  );
  assert.deepEqual(hits, []);
  // 2009358 is $EXTERNAL_NET -> $HOME_NET: from an inside source only
  // 2024364 ($HOME_NET -> any, " Nmap") fires.
  request("Mozilla/5.0 (compatible; Nmap Scripting Engine)", "10.0.0.7");
  assert.deepEqual(hits, [2024364]);
  hits.length = 0;
  // 2002677 (Nikto): threshold type both, count 5 in 60 s, by_src: one alert at the fifth.
  for (let i = 0; i < 4; i++) {
    request("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)");
  }
  assert.deepEqual(hits, []);
  for (let i = 0; i < 3; i++) {
    request("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)");
  }
  assert.deepEqual(hits, [2002677]);
});
