import assert from "node:assert/strict";
import {
  DATA_LOCK_FILE,
  InstanceLockError,
  lockDataDir,
  lockNftTable,
} from "./instance_lock.ts";

Deno.test("a locked data directory is refused naming the holder's pid, and free again once released", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-lock-" });
  try {
    const first = await lockDataDir(dir);
    assert.match(
      await Deno.readTextFile(`${dir}/${DATA_LOCK_FILE}`),
      new RegExp(`^${Deno.pid} `),
    );
    const refused = await lockDataDir(dir).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof InstanceLockError, String(refused));
    assert.equal(refused.pid, Deno.pid);
    assert.equal(
      refused.message,
      `Cannot use data directory "${dir}": another NetSentinel (pid ${Deno.pid}) is running on it (stop it, or give this one another --data)`,
    );
    first.release();
    first.release(); // Twice is harmless.
    using again = await lockDataDir(dir);
    assert.equal(again.path, `${dir}/${DATA_LOCK_FILE}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the nftables table lock is per table and network namespace", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "ns-run-" });
  try {
    using first = await lockNftTable("netsentinel", { runDir });
    assert.ok(first !== null);
    await assert.rejects(
      () => lockNftTable("netsentinel", { runDir }),
      (e: unknown) =>
        e instanceof InstanceLockError && e.pid === Deno.pid &&
        /^Cannot keep the nftables table "inet netsentinel": another NetSentinel \(pid \d+\) keeps it in this network namespace/
          .test(e.message),
    );
    // Another table name is another lock.
    using other = await lockNftTable("netsentinel_lab", { runDir });
    assert.ok(other !== null);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("without a writable lock directory the table lock is skipped, not an error", async () => {
  const file = await Deno.makeTempFile({ prefix: "ns-notdir-" });
  try {
    // A file where the directory should be: it cannot be made.
    assert.equal(
      await lockNftTable("netsentinel", { runDir: `${file}/run` }),
      null,
    );
  } finally {
    await Deno.remove(file);
  }
});
