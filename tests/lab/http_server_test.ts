import assert from "node:assert/strict";
import { ADMIN_PASSWORD, ADMIN_USER, handle } from "./http_server.ts";

const BASE = "http://10.99.0.10";

function basic(user: string, password: string): HeadersInit {
  return { authorization: `Basic ${btoa(`${user}:${password}`)}` };
}

Deno.test("lab web server challenges /admin/ without credentials", async () => {
  const res = await handle(new Request(`${BASE}/admin/`));
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Basic realm="lab admin"');
  await res.body?.cancel();
});

Deno.test("lab web server refuses a wrong admin password", async () => {
  const res = await handle(
    new Request(`${BASE}/admin/`, { headers: basic(ADMIN_USER, "123456") }),
  );
  assert.equal(res.status, 401);
  await res.body?.cancel();
});

Deno.test("lab web server accepts the admin password from the wordlist", async () => {
  const words = await Deno.readTextFile(
    new URL("./wordlist.txt", import.meta.url),
  );
  assert.equal(words.trimEnd().split("\n").at(-1), ADMIN_PASSWORD);
  const res = await handle(
    new Request(`${BASE}/admin/`, {
      headers: basic(ADMIN_USER, ADMIN_PASSWORD),
    }),
  );
  assert.equal(res.status, 200);
  assert.match(await res.text(), /Admin console/);
});

Deno.test("lab web server sends the same bytes for a download every time", async () => {
  const a = new Uint8Array(
    await (await handle(new Request(`${BASE}/files/64.bin`))).arrayBuffer(),
  );
  const b = new Uint8Array(
    await (await handle(new Request(`${BASE}/files/64.bin`))).arrayBuffer(),
  );
  assert.equal(a.byteLength, 64 * 1024);
  assert.deepEqual(a, b);
});

Deno.test("lab web server answers unknown paths and oversized downloads with errors", async (t) => {
  const cases: [string, number][] = [
    ["/nothing-here", 404],
    ["/files/99999.bin", 400],
    ["/page/weekly-notes.html", 200],
    ["/img/7.png", 200],
  ];
  for (const [path, status] of cases) {
    await t.step(`${path} gives ${status}`, async () => {
      const res = await handle(new Request(`${BASE}${path}`));
      assert.equal(res.status, status);
      await res.body?.cancel();
    });
  }
});
