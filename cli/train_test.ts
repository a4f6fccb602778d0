import assert from "node:assert/strict";
import { join } from "node:path";
import { FEATURE_NAMES, readModelFile } from "../ml/mod.ts";
import { runCli } from "./_testing.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url).pathname;

Deno.test("train and features work from capture files to a scored CSV", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ns_train_" });
  try {
    const normal = join(FIXTURES, "benign.pcap");
    const attack = join(FIXTURES, "scan_syn.pcap");
    const model = join(dir, "model.json");

    await t.step("train saves a model and prints a summary", async () => {
      const r = await runCli(["train", normal, "--out", model, "--seed", "3"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Trained on [\d,]+ flows from 1 file/);
      assert.match(
        r.stdout,
        /Threshold: 0\.\d{4} \(target false-positive rate 1\.00%/,
      );
      assert.match(r.stdout, /src_ports_10s +\d+/);
      assert.match(r.stdout, new RegExp(`Saved ${model}`));
      const m = await readModelFile(model);
      assert.equal(m.training.seed, 3);
      assert.deepEqual(m.training.sources, ["benign.pcap"]);
    });

    await t.step(
      "train gives the same file for the same captures and seed",
      async () => {
        const again = join(dir, "again.json");
        const r = await runCli([
          "train",
          normal,
          "--out",
          again,
          "--seed",
          "3",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(
          await Deno.readTextFile(again),
          await Deno.readTextFile(model),
        );
      },
    );

    await t.step(
      "features writes one row per flow with the score",
      async () => {
        const csv = join(dir, "flows.csv");
        const r = await runCli([
          "features",
          attack,
          "--csv",
          csv,
          "--model",
          model,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const lines = (await Deno.readTextFile(csv)).trim().split("\n");
        const header = lines[0]!.split(",");
        assert.deepEqual(header.slice(0, 7), [
          "src_ip",
          "src_port",
          "dest_ip",
          "dest_port",
          "proto",
          "first_ts",
          "last_ts",
        ]);
        assert.deepEqual(header.slice(7, -1), FEATURE_NAMES);
        assert.equal(header.at(-1), "score");
        assert.equal(new Set(header).size, header.length);
        const rows = lines.slice(1).map((l) => l.split(","));
        assert.ok(rows.length >= 1000);
        for (const row of rows) assert.equal(row.length, header.length);
        const m = await readModelFile(model);
        const scan = rows.filter((r) => r[0] === "10.99.0.66");
        assert.equal(scan.length, 1000);
        const flagged = scan.filter((r) => Number(r.at(-1)) >= m.threshold);
        assert.ok(
          flagged.length >= 900,
          `${flagged.length} of 1000 scan flows flagged`,
        );
      },
    );

    await t.step("features without --model has no score column", async () => {
      const r = await runCli(["features", attack, "--csv", "-"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.split("\n")[0]!.endsWith(",score"));
    });

    await t.step("bad usage is one line and exit code 2", async () => {
      for (
        const [args, pattern] of [
          [["features", attack], /--csv OUT is required/],
          [["train"], /no capture file given/],
          [
            ["train", normal, "--contamination", "0.9"],
            /--contamination: 0.9 is out of range/,
          ],
          [
            ["train", normal, "--trees", "1.5"],
            /--trees: "1.5" is not an integer/,
          ],
        ] as Array<[string[], RegExp]>
      ) {
        const r = await runCli(args);
        assert.equal(r.code, 2, args.join(" "));
        assert.match(r.stderr.trim(), pattern);
        assert.equal(r.stderr.trim().split("\n").length, 1);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
