import assert from "node:assert/strict";
import { NA_OVERRIDE, NA_ROUTER, NA_SOLICITED } from "../decode/mod.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const R = "fe80::1", R_MAC = "02:99:0a:63:00:01";
const H = "fe80::14", H_MAC = "02:99:0a:63:00:14";
const EVIL = "fe80::42", EVIL_MAC = "02:99:0a:63:00:42";

function lan(): Traffic {
  const t = new Traffic().mac(R, R_MAC).mac(H, H_MAC).mac(EVIL, EVIL_MAC);
  t.nd(R, "ff02::1", 134, { lla: R_MAC });
  t.nd(H, "ff02::1:ff00:1", 135, { target: R, lla: H_MAC });
  t.nd(R, H, 136, {
    target: R,
    flags: NA_ROUTER | NA_SOLICITED | NA_OVERRIDE,
    lla: R_MAC,
  });
  t.nd(EVIL, "ff02::1:ff00:14", 135, { target: H, lla: EVIL_MAC });
  t.nd(H, EVIL, 136, { target: H, flags: NA_SOLICITED, lla: H_MAC });
  return t;
}

Deno.test("nd_spoof names the attacker when unsolicited advertisements claim the router", () => {
  const t = lan().wait(2);
  for (let i = 0; i < 6; i++) {
    t.nd(EVIL, "ff02::1", 136, {
      target: R,
      flags: NA_OVERRIDE,
      lla: EVIL_MAC,
    });
    t.nd(R, "ff02::1", 134, { lla: R_MAC }); // the real router lives on
    t.wait(2);
  }
  const { alerts } = run(t, { only: ["nd_spoof", "rogue_ra"] });
  const a = ofType(alerts, "nd_spoof");
  assert.equal(a.length, 1, JSON.stringify(alerts.map((x) => x.alert)));
  assert.equal(a[0]!.src_ip, EVIL);
  assert.equal(a[0]!.dest_ip, R);
  assert.equal(a[0]!.alert.signature_id, 1001202);
  assert.equal(a[0]!.netsentinel.evidence.attacker_mac, EVIL_MAC);
  assert.equal(ofType(alerts, "rogue_ra").length, 0, "the same router");
});

Deno.test("nd_spoof stays quiet for solicited answers and duplicate address detection", () => {
  const t = lan();
  t.nd("::", "ff02::1:ff00:99", 135, { target: "fe80::99" }); // DAD
  t.nd(H, "ff02::1:ff00:1", 135, { target: R, lla: H_MAC });
  t.nd(R, H, 136, { target: R, flags: NA_SOLICITED | NA_ROUTER, lla: R_MAC });
  const { alerts } = run(t, { only: ["nd_spoof"] });
  assert.deepEqual(ofType(alerts, "nd_spoof"), []);
});

Deno.test("rogue_ra learns the first router and names a second one", () => {
  const t = lan().wait(5);
  t.nd(EVIL, "ff02::1", 134, { lla: EVIL_MAC, lifetime: 1800 });
  t.nd(EVIL, "ff02::1", 134, { lla: EVIL_MAC, lifetime: 1800 });
  const { alerts } = run(t, { only: ["rogue_ra"] });
  const a = ofType(alerts, "rogue_ra");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.src_ip, EVIL);
  assert.equal(a[0]!.netsentinel.count, 2);
  assert.equal(a[0]!.netsentinel.evidence.router_mac, EVIL_MAC);
  assert.deepEqual(a[0]!.netsentinel.evidence.known_routers, [R]);
});

Deno.test("rogue_ra with listed routers names every other one, even the first heard", () => {
  const t = new Traffic().mac(EVIL, EVIL_MAC);
  t.nd(EVIL, "ff02::1", 134, { lla: EVIL_MAC, lifetime: 0 });
  const policy = { detectors: { rogue_ra: { routers: ["fe80::1/128"] } } };
  const { alerts } = run(t, { only: ["rogue_ra"], policy });
  const a = ofType(alerts, "rogue_ra");
  assert.equal(a.length, 1);
  assert.equal(a[0]!.netsentinel.evidence.router_lifetime_s, 0);
  assert.match(a[0]!.netsentinel.explanation, /lifetime 0/);
});

Deno.test("rogue_ra and nd_spoof ignore ND messages with a hop limit below 255", () => {
  // Built by hand: a routed (hop limit 64) RA from a second router.
  const t = lan();
  const frames = new Traffic().mac(EVIL, EVIL_MAC);
  frames.nd(EVIL, "ff02::1", 134, { lla: EVIL_MAC });
  const f = frames.frames[0]!.bytes;
  f[14 + 7] = 64; // IPv6 hop limit
  t.frames.push({ bytes: f, tsUs: t.tUs });
  const { alerts } = run(t, { only: ["rogue_ra", "nd_spoof"] });
  assert.deepEqual(alerts, []);
});
