/**
 * A box set up online starts offline. A copy of the checkout (its tracked
 * files, as a fresh clone has them) with a Deno cache of its own is set up by
 * `./run.sh setup start` while the registry is reachable; then `./run.sh
 * start --demo` runs inside a network namespace that has only loopback (no
 * route anywhere, so no registry), and the dashboard must answer `/health`
 * and the appliance stop cleanly on SIGTERM. Before set-up built the
 * dashboard bundle, such a start failed with "Cannot build the dashboard
 * bundle" (its esbuild comes from npm).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { mustRun, poll, PollAbort, randomHex, runCommand } from "./e2e/_lab.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TOOLS = ["ip", "curl", "git", "tar"];

async function unavailable(): Promise<string | null> {
  if (Deno.uid() !== 0) return "needs root (network namespaces)";
  for (const t of TOOLS) {
    const r = await runCommand(["sh", "-c", `command -v ${t}`]);
    if (!r.success) return `missing ${t} (./run.sh setup test)`;
  }
  try {
    await Deno.stat(join(ROOT, ".tools/bin/deno"));
  } catch {
    return "no .tools/bin/deno (run ./run.sh setup test first)";
  }
  return null;
}

const why = await unavailable();
const ignore = why !== null && Deno.env.get("CI") !== "true";

Deno.test({
  name:
    `run.sh setup prepares everything a start needs: the appliance starts in a namespace without the registry${
      ignore ? ` (skipped: ${why})` : ""
    }`,
  ignore,
}, async () => {
  if (why !== null) throw new Error(`Cannot run: ${why}`);
  const tmp = await Deno.makeTempDir({ prefix: "offline_start_" });
  const box = join(tmp, "box");
  const ns = `offline-${randomHex(3)}`;
  let child: Deno.ChildProcess | null = null;
  try {
    await Deno.mkdir(box);
    await mustRun([
      "sh",
      "-c",
      `git -C "$1" ls-files -z | tar -C "$1" --null -T - -cf - | tar -C "$2" -xf -`,
      "sh",
      ROOT,
      box,
    ]);
    // The pinned Deno itself is not what this test is about: share it.
    await Deno.symlink(join(ROOT, ".tools"), join(box, ".tools"));
    // A cache of its own, empty: what a new box starts with.
    const env = { DENO_DIR: join(tmp, "deno-dir"), NO_COLOR: "1" };
    await mustRun([join(box, "run.sh"), "setup", "start"], {
      env,
      cwd: box,
      timeoutMs: 300_000,
    });

    await mustRun(["ip", "netns", "add", ns]);
    await mustRun(["ip", "-n", ns, "link", "set", "lo", "up"]);
    const inNs = (cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];
    // The registry is out of reach in there.
    const probe = await runCommand(
      inNs([
        "curl",
        "-sS",
        "-m",
        "5",
        "-o",
        "/dev/null",
        "https://registry.npmjs.org/",
      ]),
    );
    assert.equal(
      probe.success,
      false,
      "the namespace must not reach the registry",
    );

    child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        join(box, "run.sh"),
        "start",
        "--demo",
        "--data",
        join(tmp, "data"),
        "--listen",
        "127.0.0.1:8080",
      ],
      cwd: box,
      env: { ...env, NETSENTINEL_PASSWORD: "offline-start-test" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const stdout = new Response(child.stdout).text();
    const status = child.status;
    let exited = false;
    status.then(() => exited = true);
    await poll("/health answering inside the namespace", async () => {
      if (exited) {
        throw new PollAbort(
          `The appliance exited: ${(await status).code}: ${await stderr}`,
        );
      }
      const r = await runCommand(
        inNs([
          "curl",
          "-s",
          "-m",
          "2",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "http://127.0.0.1:8080/health",
        ]),
      );
      return r.stdout === "200" ? true : null;
    }, { timeoutMs: 60_000 });
    // `ip netns exec` replaces itself with run.sh, which execs deno.
    child.kill("SIGTERM");
    const st = await status;
    child = null;
    assert.equal(st.code, 0, await stderr);
    assert.doesNotMatch(await stderr, /Cannot build the dashboard bundle/);
    await stdout;
  } finally {
    if (child !== null) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
    }
    await runCommand(["ip", "netns", "del", ns]);
    await Deno.remove(tmp, { recursive: true });
  }
});
