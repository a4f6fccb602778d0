import assert from "node:assert/strict";
import { measureName, newShape, registeredStart } from "./_dns_name.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const A = "10.99.0.66", R = "10.99.0.10", UP = "198.51.100.53";

function query(name: string, qtype = 1, id = 1): Uint8Array {
  const out: number[] = [id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of name.split(".")) {
    out.push(
      l.length,
      ...[...l].map((c) => c.charCodeAt(0)),
    );
  }
  out.push(0, qtype >> 8, qtype & 255, 0, 1);
  return Uint8Array.from(out);
}

function b32(seed: number, n: number): string {
  const abc = "abcdefghijklmnopqrstuvwxyz234567";
  let s = "", x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >>> 17, x ^= x << 5;
    s += abc[(x >>> 0) % 32];
  }
  return s;
}

Deno.test("dns names: registered domain and subdomain shape", async (t) => {
  await t.step(
    "registered domain is the last two labels, three under co.uk",
    () => {
      const n = "a.b.example.com";
      assert.equal(n.slice(registeredStart(n)), "example.com");
      const u = "x.y.shop.co.uk";
      assert.equal(u.slice(registeredStart(u)), "shop.co.uk");
      assert.equal(registeredStart("localhost"), 0);
    },
  );
  await t.step("a base32 label is long and high-entropy; a word is not", () => {
    const s = measureName(`${b32(1, 50)}.12.x.exfil.test`, newShape());
    assert.equal(s.maxLabel, 50);
    assert.ok(s.entropy > 4, String(s.entropy));
    const w = measureName("www.example.com", newShape());
    assert.equal(w.maxLabel, 3);
    assert.ok(w.entropy < 2);
  });
  await t.step("escaped bytes count as one symbol", () => {
    const s = measureName("\\x01\\xffab.example.com", newShape());
    assert.equal(s.subLen, 4);
  });
});

Deno.test("dns tunnel: a dig loop exfiltrating base32 chunks names the client, not the resolver", () => {
  const t = new Traffic();
  for (let i = 0; i < 40; i++) {
    const name = `${b32(i, 50)}.${i}.x.exfil.test`;
    t.udp(A, 30000 + i, R, 53, query(name, i % 8 === 7 ? 16 : 1, i));
    // The lab resolver forwards the same question upstream.
    t.udp(R, 50000 + i, UP, 53, query(name, i % 8 === 7 ? 16 : 1, 1000 + i));
    t.wait(0.05);
  }
  const r = run(t);
  const tun = ofType(r.alerts, "dns_tunnel");
  assert.equal(tun.length, 1, JSON.stringify(tun.map((a) => a.src_ip)));
  const a = tun[0]!;
  assert.equal(a.src_ip, A);
  assert.equal(a.dest_ip, R);
  assert.equal(a.alert.signature_id, 1000401);
  assert.equal(a.netsentinel.evidence.domain, "exfil.test");
  assert.equal(a.netsentinel.evidence.querier_is_resolver, false);
});

Deno.test("dns tunnel: NULL-type bursts with unique names raise the rrtype variant", () => {
  const t = new Traffic();
  for (let i = 0; i < 60; i++) {
    t.udp(A, 30000, R, 53, query(`p${i}a.t.tun.test`, 10, i));
    t.wait(0.2);
  }
  const [a] = ofType(run(t).alerts, "dns_tunnel");
  assert.equal(a?.alert.signature_id, 1000403);
  assert.equal(a?.netsentinel.evidence.domain, "tun.test");
});

Deno.test("dns tunnel: ordinary lookups, reverse lookups and TXT/MX checks raise nothing", () => {
  const t = new Traffic();
  const names = [
    "www.lab.test",
    "wiki.lab.test",
    "deb.debian.org",
    "www.example.com",
    "example.com",
  ];
  for (let i = 0; i < 400; i++) {
    const c = `10.99.0.${20 + (i % 3)}`;
    t.udp(
      c,
      31000 + i,
      R,
      53,
      query(names[i % names.length]!, i % 10 === 0 ? 16 : 1, i),
    );
    t.udp(c, 32000 + i, R, 53, query(`${i % 200}.0.99.10.in-addr.arpa`, 12, i));
    t.wait(0.5);
  }
  assert.deepEqual(ofType(run(t).alerts, "dns_tunnel"), []);
});

Deno.test("dns tunnel: allow-listed domains are never reported", () => {
  const t = new Traffic();
  for (let i = 0; i < 40; i++) {
    t.udp(A, 30000 + i, R, 53, query(`${b32(i, 40)}.av.vendor.example`, 1, i));
  }
  const policy = {
    detectors: { dns_tunnel: { allow_domains: ["vendor.example"] } },
  };
  assert.deepEqual(ofType(run(t, { policy }).alerts, "dns_tunnel"), []);
});

Deno.test("dns tunnel: the shipped policy leaves antivirus lookups over DNS alone, not the same shape elsewhere", () => {
  // Sophos Live Protection asks about file hashes in long hex labels.
  const hex = (i: number) =>
    [...b32(i, 32)].map((c) => c.charCodeAt(0).toString(16).at(-1)).join("");
  const lookups = (domain: string) => {
    const t = new Traffic();
    for (let i = 0; i < 40; i++) {
      const name = `0.0.0.0.1.0.0.4e.${hex(i)}.i.00.mac.${domain}`;
      t.udp(A, 30000 + i, R, 53, query(name, 1, i));
    }
    return ofType(run(t).alerts, "dns_tunnel");
  };
  assert.deepEqual(lookups("sophosxl.net"), []);
  assert.equal(lookups("sophosxl.example").length, 1);
});
