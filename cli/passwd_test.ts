import assert from "node:assert/strict";
import { kvAuth, Sessions, verifyPassword } from "../server/mod.ts";
import { openStore } from "../store/mod.ts";
import { type CliResult, runCli } from "./_testing.ts";

function passwd(dataDir: string, input: string): Promise<CliResult> {
  return runCli(["passwd", "--data", dataDir], { stdin: input });
}

Deno.test("passwd sets the admin password from standard input and refuses a weak one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-passwd-" });
  try {
    const weak = await passwd(dir, "short\n");
    assert.equal(weak.code, 1);
    assert.equal(
      weak.stderr.trim(),
      "netsentinel: Password too short: 5 characters (at least 10)",
    );
    const ok = await passwd(
      dir,
      "a long enough password\nignored second line\n",
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Admin password changed/);
    using store = await openStore(dir);
    const u = await kvAuth(store).getUser("admin");
    assert.ok(u !== null);
    assert.match(u.password_hash, /^pbkdf2-sha256\$600000\$/);
    assert.equal(
      await verifyPassword("a long enough password", u.password_hash),
      true,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("passwd signs every session out and revokes every API token, and says how many", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-passwd-" });
  try {
    {
      using store = await openStore(dir);
      const auth = kvAuth(store);
      const sessions = new Sessions(auth);
      await sessions.create("admin", "192.0.2.1");
      await sessions.create("admin", "192.0.2.2");
      await sessions.createToken("ci", "admin");
    }
    const r = await passwd(dir, "a long enough password\n");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^Admin password changed; 2 sessions signed out and 1 API token revoked/,
    );
    using store = await openStore(dir);
    const auth = kvAuth(store);
    assert.deepEqual(await auth.listSessions(), []);
    assert.deepEqual(await auth.listTokens(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
