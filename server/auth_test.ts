import assert from "node:assert/strict";
import { tempStore } from "../store/_testing.ts";
import {
  ADMIN_USER,
  ensureAdmin,
  generatePassword,
  hashPassword,
  Sessions,
  setAdminPassword,
  verifyPassword,
  WeakPasswordError,
} from "./auth.ts";
import { kvAuth } from "./kv_sources.ts";
import { AttemptLimiter } from "./security.ts";

Deno.test("hashPassword() makes salted PBKDF2 hashes that verifyPassword() accepts only for the password", async () => {
  const a = await hashPassword("correct horse", 1000);
  const b = await hashPassword("correct horse", 1000);
  assert.match(
    a,
    /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/,
  );
  assert.notEqual(a, b, "a fresh salt each time");
  assert.equal(await verifyPassword("correct horse", a), true);
  assert.equal(await verifyPassword("correct horsf", a), false);
  assert.equal(await verifyPassword("correct horse", "md5$abc"), false);
  assert.equal(await verifyPassword("x", "pbkdf2-sha256$0$AAAA$AAAA"), false);
});

Deno.test("ensureAdmin() uses NETSENTINEL_PASSWORD when set, else generates one to print once, and never overwrites", async () => {
  await using k1 = await tempStore();
  const auth1 = kvAuth(k1.store);
  const fromEnv = await ensureAdmin(auth1, "from the environment", {
    iterations: 1000,
  });
  assert.deepEqual(fromEnv, {
    created: true,
    generatedPassword: null,
    from: "env",
  });
  const again = await ensureAdmin(auth1, "something else entirely", {
    iterations: 1000,
  });
  assert.equal(again.created, false);
  const u = await auth1.getUser(ADMIN_USER);
  assert.ok(u && await verifyPassword("from the environment", u.password_hash));
  assert.ok(
    !JSON.stringify(u).includes("from the environment"),
    "only the hash is stored",
  );

  await using k2 = await tempStore();
  const auth2 = kvAuth(k2.store);
  const gen = await ensureAdmin(auth2, undefined, { iterations: 1000 });
  assert.equal(gen.from, "generated");
  assert.match(gen.generatedPassword ?? "", /^[A-Za-z2-9]{20}$/);
  const u2 = await auth2.getUser(ADMIN_USER);
  assert.ok(
    u2 && await verifyPassword(gen.generatedPassword!, u2.password_hash),
  );

  await using k3 = await tempStore();
  await assert.rejects(
    ensureAdmin(kvAuth(k3.store), "short"),
    WeakPasswordError,
  );
});

Deno.test("generatePassword() draws from the alphabet without look-alikes", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const p = generatePassword();
    assert.match(p, /^[A-HJ-NP-Za-km-z2-9]{20}$/);
    seen.add(p);
  }
  assert.equal(seen.size, 50);
});

Deno.test("sessions keep only the hash of the cookie, list admin addresses, and end on a password change", async () => {
  await using k = await tempStore();
  const auth = kvAuth(k.store);
  await ensureAdmin(auth, "first password", { iterations: 1000 });
  const s = new Sessions(auth);
  assert.equal(await s.checkPassword("admin", "first password"), true);
  assert.equal(await s.checkPassword("admin", "wrong password"), false);
  assert.equal(await s.checkPassword("root", "first password"), false);
  const secret = await s.create("admin", "192.0.2.10");
  const rec = await s.resolve(secret);
  assert.equal(rec?.user, "admin");
  assert.notEqual(rec?.id_hash, secret);
  assert.deepEqual(s.adminAddrs(), ["192.0.2.10"]);
  assert.equal(await s.resolve(secret + "x"), null);
  await setAdminPassword(auth, "second password", { iterations: 1000 });
  assert.equal(await s.resolve(secret), null);
  await s.refresh();
  assert.deepEqual(s.adminAddrs(), []);
});

Deno.test("API tokens are shown once, stored hashed, and resolve until deleted", async () => {
  await using k = await tempStore();
  const auth = kvAuth(k.store);
  let now = Date.UTC(2026, 10, 25, 12);
  const s = new Sessions(auth, { now: () => now });
  const { token, record } = await s.createToken("grafana", "admin");
  assert.match(token, /^nst_[A-Za-z0-9_-]{32}$/);
  assert.equal(record.prefix, token.slice(0, 10));
  assert.ok(!JSON.stringify(await auth.listTokens()).includes(token));
  assert.equal((await s.resolveToken(token))?.name, "grafana");
  assert.equal(
    (await auth.getToken(record.hash))?.last_used,
    new Date(now).toISOString(),
  );
  now += 30_000;
  await s.resolveToken(token);
  assert.equal(
    (await auth.getToken(record.hash))?.last_used,
    new Date(now - 30_000).toISOString(),
    "written at most once a minute",
  );
  assert.equal(await s.resolveToken("nst_wrong"), null);
  await auth.deleteToken(record.hash);
  assert.equal(await s.resolveToken(token), null);
});

Deno.test("the sign-in limiter refuses an address after its failures until the window moves on", () => {
  let now = 0;
  const l = new AttemptLimiter({
    max: 3,
    windowMs: 60_000,
    now: () => now,
    maxAddrs: 2,
  });
  for (let i = 0; i < 3; i++) {
    assert.equal(l.retryAfter("192.0.2.1"), 0);
    l.fail("192.0.2.1");
    now += 1000;
  }
  assert.equal(l.retryAfter("192.0.2.1"), 57);
  assert.equal(
    l.retryAfter("192.0.2.2"),
    0,
    "other addresses are not affected",
  );
  now = 60_001;
  assert.equal(l.retryAfter("192.0.2.1"), 0);
  l.fail("a");
  l.fail("b");
  l.fail("c");
  assert.equal(l.size, 2, "bounded");
  l.succeed("c");
  assert.equal(l.retryAfter("c"), 0);
});
