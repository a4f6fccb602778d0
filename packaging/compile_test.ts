import assert from "node:assert/strict";
import { relative } from "node:path";
import { compileArgs, INCLUDES, TARGETS, V8_FLAGS } from "./compile.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const p = `${dir}${e.name}`;
    if (e.isDirectory && !["tests", "bench", "dist"].includes(e.name)) {
      yield* sources(`${p}/`);
    } else if (
      // Tests and their helpers (`_testing.ts`, `_test_*.ts`) are not in the binary.
      e.isFile && /\.tsx?$/.test(e.name) &&
      !/_test\.tsx?$|^_test_|^_testing\.tsx?$/.test(e.name)
    ) yield p;
  }
}

Deno.test("compile builds both Linux targets with every asset the code loads at run time", async () => {
  for (const t of Object.keys(TARGETS) as (keyof typeof TARGETS)[]) {
    const args = compileArgs(t);
    assert.ok(args.includes(TARGETS[t]));
    assert.ok(args.includes(`dist/netsentinel-${t}`));
    for (const inc of INCLUDES) {
      assert.ok(args.includes(inc), `${t} includes ${inc}`);
    }
  }
  // Every file found through import.meta.url at run time must be embedded.
  const re = /new URL\(\s*"([^"]+)",\s*import\.meta\.url,?\s*\)/g;
  const missing: string[] = [];
  let assets = 0;
  for await (const file of sources(ROOT)) {
    if (file.includes("/packaging/") || file.includes("/tests/lab/")) continue;
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(re)) {
      const target = new URL(m[1]!, `file://${file}`).pathname;
      const rel = relative(ROOT, target) + (m[1]!.endsWith("/") ? "/" : "");
      if (rel.startsWith("..") || rel === "main.ts") continue; // outside the app (corpus) or itself
      // The bundle's sources: only read to build it, never inside a binary
      // (server/bundle.ts checks Deno.build.standalone).
      if (file.endsWith("server/bundle.ts") && !rel.startsWith("static/")) {
        continue;
      }
      assets++;
      if (!INCLUDES.some((inc) => rel === inc || rel.startsWith(inc))) {
        missing.push(`${relative(ROOT, file)} loads ${rel}`);
      }
    }
  }
  assert.ok(assets >= 4, `found ${assets} run-time assets`);
  assert.deepEqual(missing, []);
});

Deno.test("deno task compile --print shows the commands without building", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}packaging/compile.ts`, "--print"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^deno compile .*--target x86_64-unknown-linux-gnu/);
  assert.match(lines[1]!, /--target aarch64-unknown-linux-gnu .*main\.ts$/);
});

Deno.test("the binary and deno task start run with the same V8 heap limits", async () => {
  const flag = `--v8-flags=${V8_FLAGS.join(",")}`;
  for (const t of Object.keys(TARGETS) as (keyof typeof TARGETS)[]) {
    assert.ok(compileArgs(t).includes(flag), `${t}: ${flag}`);
  }
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assert.match(config.tasks.start, new RegExp(` ${flag} .*main\\.ts run`));
});
