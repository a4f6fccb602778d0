import assert from "node:assert/strict";
import { kvAuth, verifyPassword } from "../server/mod.ts";
import { openStore } from "../store/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function passwd(dataDir: string, input: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "passwd", "--data", dataDir],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
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
