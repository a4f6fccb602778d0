import assert from "node:assert/strict";
import { runCli } from "./_testing.ts";

const isRoot = Deno.uid() === 0;
const inCi = Deno.env.get("CI") === "true";

async function doctor(
  args: string[],
  wrapper: string[] = [],
): Promise<
  {
    code: number;
    checks: Array<
      { name: string; status: string; detail: string; fix?: string }
    >;
  }
> {
  const out = await runCli(["doctor", "--json", ...args], { wrapper });
  assert.ok(
    out.stdout.startsWith("["),
    `doctor printed: ${out.stdout}\n${out.stderr}`,
  );
  return { code: out.code, checks: JSON.parse(out.stdout) };
}

Deno.test("doctor checks the host and the data directory it is given", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { checks } = await doctor(["--data", dir, "-i", "lo"]);
    const by = new Map(checks.map((c) => [c.name, c]));
    for (
      const name of [
        "capabilities",
        "config",
        "interface",
        "capture",
        "nftables",
        "data directory",
        "database",
        "clock",
        "GeoIP",
        "model",
        "dashboard port",
      ]
    ) assert.ok(by.has(name), `check "${name}" missing`);
    assert.equal(by.get("data directory")!.status, "ok");
    assert.equal(by.get("database")!.status, "ok");
    assert.equal(by.get("clock")!.status, "ok");
    assert.equal(by.get("GeoIP")!.status, "ok");
    assert.equal(by.get("interface")!.status, "ok");
    if (isRoot) assert.equal(by.get("capture")!.status, "ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor names a broken config file and a missing interface", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, '{"capture":{"snaplen":1}}');
    const { code, checks } = await doctor(["--data", dir, "-i", "nosuch0"]);
    assert.equal(code, 1);
    const by = new Map(checks.map((c) => [c.name, c]));
    assert.equal(by.get("config")!.status, "fail");
    assert.match(by.get("config")!.detail, /capture\.snaplen/);
    assert.equal(by.get("interface")!.status, "fail");
    assert.match(by.get("interface")!.detail, /"nosuch0" does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "doctor tells an unprivileged process how to get capture permission" +
    (isRoot || inCi ? "" : " (skipped: needs root to drop capabilities)"),
  ignore: !isRoot && !inCi,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { code, checks } = await doctor(
        ["--data", dir, "-i", "lo"],
        [
          "setpriv",
          "--inh-caps=-all",
          "--ambient-caps=-all",
          "--bounding-set=-all",
        ],
      );
      assert.equal(code, 1);
      const by = new Map(checks.map((c) => [c.name, c]));
      assert.equal(by.get("capabilities")!.status, "fail");
      assert.match(
        by.get("capabilities")!.fix ?? "",
        /setcap cap_net_raw,cap_net_admin=eip/,
      );
      assert.equal(by.get("capture")!.status, "fail");
      assert.match(by.get("capture")!.detail, /permission denied/);
      assert.equal(by.get("nftables")!.status, "warn");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
