/**
 * `rules update` against a tarball and its `.md5` served by a local HTTP
 * server: the rules land in the folder; a wrong checksum, a corrupt or
 * empty tarball, or an unreachable server leave the previous set as it
 * was; `--file` works offline through the CLI.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { runCli } from "../cli/_testing.ts";
import { UserError } from "../common/errors.ts";
import { readTar, UPDATE_STAMP, updateRules } from "./update.ts";

const SUBSET = join(import.meta.dirname!, "testdata", "etopen");

async function tarball(
  dir: string,
  files: Record<string, string>,
): Promise<Uint8Array<ArrayBuffer>> {
  const src = join(dir, "src");
  await Deno.mkdir(join(src, "rules"), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(src, "rules", name), text);
  }
  const out = join(dir, "emerging.rules.tar.gz");
  const r = await new Deno.Command("tar", {
    args: ["czf", out, "-C", src, "rules"],
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return await Deno.readFile(out);
}

function md5(b: Uint8Array): string {
  return createHash("md5").update(b).digest("hex");
}

/** Serves `routes` on loopback; returns the base address. */
function serve(
  routes: Record<string, Uint8Array<ArrayBuffer> | string>,
): { base: string; server: Deno.HttpServer } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const body = routes[new URL(req.url).pathname];
      return body === undefined
        ? new Response("no", { status: 404 })
        : new Response(body);
    },
  );
  return { base: `http://127.0.0.1:${server.addr.port}`, server };
}

Deno.test("rules update downloads, checks the MD5 and swaps the folder; failures keep the previous set", async () => {
  const tmp = await Deno.makeTempDir();
  const scan = await Deno.readTextFile(join(SUBSET, "emerging-scan.rules"));
  const dns = await Deno.readTextFile(join(SUBSET, "emerging-dns.rules"));
  const good = await tarball(join(tmp, "a"), {
    "emerging-scan.rules": scan,
    "emerging-dns.rules": dns,
  });
  const empty = await tarball(join(tmp, "b"), { "notes.txt": "nothing" });
  const { base, server } = serve({
    "/good.tar.gz": good,
    "/good.tar.gz.md5": `${md5(good)}  emerging.rules.tar.gz\n`,
    "/badsum.tar.gz": good,
    "/badsum.tar.gz.md5": "0123456789abcdef0123456789abcdef\n",
    "/corrupt.tar.gz": good.slice(0, 200),
    "/corrupt.tar.gz.md5": md5(good.slice(0, 200)),
    "/empty.tar.gz": empty,
    "/empty.tar.gz.md5": md5(empty),
  });
  try {
    const dir = join(tmp, "data", "rules");
    const r = await updateRules({ dir, url: `${base}/good.tar.gz` });
    assert.equal(r.md5, md5(good));
    assert.equal(r.files, 2);
    assert.ok(r.loaded > 300);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      UPDATE_STAMP,
      "emerging-dns.rules",
      "emerging-scan.rules",
    ]);
    const before = await Deno.readTextFile(join(dir, UPDATE_STAMP));
    for (
      const [path, msg] of [
        ["/badsum.tar.gz", /Checksum mismatch/],
        ["/corrupt.tar.gz", /Cannot unpack|truncated/],
        ["/empty.tar.gz", /No rules\/\*\.rules/],
        ["/missing.tar.gz", /HTTP 404/],
      ] as const
    ) {
      await assert.rejects(
        updateRules({ dir, url: `${base}${path}` }),
        (e: Error) => {
          assert.ok(e instanceof UserError, String(e));
          assert.match(e.message, msg);
          return true;
        },
      );
      assert.equal(
        await Deno.readTextFile(join(dir, UPDATE_STAMP)),
        before,
        path,
      );
      assert.ok((await Deno.stat(join(dir, "emerging-scan.rules"))).isFile);
    }
    // Nothing left behind beside the folder.
    assert.deepEqual(
      [...Deno.readDirSync(join(tmp, "data"))].map((e) => e.name),
      ["rules"],
    );
  } finally {
    await server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("rules update --file installs a local tarball, checking FILE.md5 when it is there", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const scan = await Deno.readTextFile(join(SUBSET, "emerging-scan.rules"));
    const t = await tarball(join(tmp, "a"), { "emerging-scan.rules": scan });
    const file = join(tmp, "a", "emerging.rules.tar.gz");
    await Deno.writeTextFile(`${file}.md5`, md5(t));
    const data = join(tmp, "data");
    const res = await runCli([
      "rules",
      "update",
      "--file",
      file,
      "--data",
      data,
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /MD5 [0-9a-f]{32} checked/);
    assert.ok(
      (await Deno.stat(join(data, "rules", "emerging-scan.rules"))).isFile,
    );
    await Deno.writeTextFile(`${file}.md5`, "ffffffffffffffffffffffffffffffff");
    const bad = await runCli([
      "rules",
      "update",
      "--file",
      file,
      "--data",
      data,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^netsentinel: Checksum mismatch/);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("readTar refuses hostile archives with a clear error", () => {
  const junk = new Uint8Array(1024).fill(65);
  assert.throws(() => readTar(junk), /bad tar header checksum/);
  assert.deepEqual(readTar(new Uint8Array(1024)), []);
});
