import assert from "node:assert/strict";
import { configErrorField } from "../common/_testing.ts";
import {
  DEFAULT_BLOCK_POLICY,
  escalatedDuration,
  NEVER_BLOCK_TYPES,
  parseBlockPolicy,
} from "./policy.ts";

Deno.test("parseBlockPolicy() gives the defaults for a missing blocking key", () => {
  assert.equal(parseBlockPolicy(undefined), DEFAULT_BLOCK_POLICY);
  assert.equal(parseBlockPolicy(null), DEFAULT_BLOCK_POLICY);
  assert.deepEqual(DEFAULT_BLOCK_POLICY.durations, [3600, 14400, 86400]);
});

Deno.test("parseBlockPolicy() reads durations as text or seconds and normalises CIDRs", () => {
  const p = parseBlockPolicy({
    dry_run: true,
    types: ["brute_force"],
    severities: [1],
    durations: ["10m", 3600, "1d"],
    repeat_window: "2d",
    max_blocks_per_minute: 5,
    flood_types: [],
    allow: ["192.168.1.7/24", "2001:db8::1"],
    manual_duration: "90s",
  });
  assert.equal(p.enabled, true);
  assert.equal(p.dry_run, true);
  assert.deepEqual(p.durations, [600, 3600, 86400]);
  assert.equal(p.repeat_window, 172800);
  assert.deepEqual(p.allow, ["192.168.1.0/24", "2001:db8::1"]);
  assert.equal(p.manual_duration, 90);
  // What parseBlockPolicy returns parses again to the same policy.
  assert.deepEqual(parseBlockPolicy(JSON.parse(JSON.stringify(p))), p);
});

Deno.test("parseBlockPolicy() takes milliseconds and long durations", () => {
  const p = parseBlockPolicy({
    durations: ["1500ms", "1s500ms"],
    repeat_window: "250ms",
    max_blocks_per_minute: 1e12,
    manual_duration: 20 * 365 * 86400,
  });
  assert.deepEqual(p.durations, [1.5, 1.5]);
  assert.equal(p.repeat_window, 0.25);
  assert.equal(p.max_blocks_per_minute, 1e12);
  assert.equal(p.manual_duration, 20 * 365 * 86400);
});

Deno.test("parseBlockPolicy() names the bad field", async (t) => {
  const cases: [unknown, string][] = [
    [[], "blocking"],
    [{ enabled: "yes" }, "blocking.enabled"],
    [{ types: ["port_scan", "ddos"] }, "blocking.types[1]"],
    [{ severities: [0] }, "blocking.severities[0]"],
    [{ durations: [] }, "blocking.durations"],
    [{ durations: ["1h", "soon"] }, "blocking.durations[1]"],
    [{ durations: [0] }, "blocking.durations[0]"],
    [{ max_blocks_per_minute: 1.5 }, "blocking.max_blocks_per_minute"],
    [{ allow: ["10.0.0.0/40"] }, "blocking.allow[0]"],
    [{ dryrun: true }, "blocking.dryrun"],
  ];
  for (const [input, field] of cases) {
    await t.step(field, () => {
      assert.equal(configErrorField(() => parseBlockPolicy(input)), field);
    });
  }
});

Deno.test("parseBlockPolicy() refuses spoofing and rogue-server types: blocking them would block the victim", () => {
  for (const t of NEVER_BLOCK_TYPES) {
    assert.throws(
      () => parseBlockPolicy({ types: ["port_scan", t] }),
      (e: Error) =>
        e.message.includes("blocking.types[1]") &&
        e.message.includes("never block"),
    );
  }
  assert.deepEqual(NEVER_BLOCK_TYPES, [
    "arp_spoof",
    "nd_spoof",
    "rogue_ra",
    "rogue_dhcp",
  ]);
  for (const t of NEVER_BLOCK_TYPES) {
    assert.ok(!DEFAULT_BLOCK_POLICY.types.includes(t));
  }
});

Deno.test("escalatedDuration() steps through the ladder and stays on the last step", () => {
  const p = DEFAULT_BLOCK_POLICY;
  assert.deepEqual([0, 1, 2, 3, 9].map((n) => escalatedDuration(p, n)), [
    3600,
    14400,
    86400,
    86400,
    86400,
  ]);
});
