import assert from "node:assert/strict";
import { openStore } from "../store/mod.ts";
import { learningPeriod } from "./appliance.ts";

Deno.test("a first start learns hosts for a while, a restart keeps the same end, a used install does not learn", async () => {
  const dir = await Deno.makeTempDir();
  try {
    {
      using store = await openStore(dir);
      const t0 = Date.now();
      const until = await learningPeriod(store, 0, 600);
      assert.ok(until >= t0 + 600_000 && until <= Date.now() + 600_000);
      // Restarted during the period: the same end, even with hosts known by now.
      assert.equal(await learningPeriod(store, 12, 600), until);
    }
    const other = await Deno.makeTempDir();
    try {
      using store = await openStore(other);
      assert.equal(
        await learningPeriod(store, 5, 600),
        0,
        "hosts known: no learning",
      );
      assert.equal(
        await learningPeriod(store, 0, 600),
        0,
        "decided once, never restarted",
      );
    } finally {
      await Deno.remove(other, { recursive: true });
    }
    const off = await Deno.makeTempDir();
    try {
      using store = await openStore(off);
      assert.equal(await learningPeriod(store, 0, 0), 0, "switched off");
    } finally {
      await Deno.remove(off, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
