import assert from "node:assert/strict";
import { csvCell, csvRow } from "./alert_csv.ts";

Deno.test("csvCell() neutralises formulas and quotes what needs quoting", async (t) => {
  const cases: [unknown, string][] = [
    ["plain", "plain"],
    ["=1+2", "'=1+2"],
    ["+1", "'+1"],
    ["-1", "'-1"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\tx", "'\tx"],
    ["\rx", `"'\rx"`],
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ["a,b", `"a,b"`],
    ["line\nbreak", `"line\nbreak"`],
    ['say "hi"', `"say ""hi"""`],
    [42, "42"],
    [-3, "'-3"],
    [true, "true"],
    [null, ""],
    [undefined, ""],
    [{ a: "=x" }, `"{""a"":""=x""}"`],
    ["<script>x</script>", "<script>x</script>"],
  ];
  for (const [input, want] of cases) {
    await t.step(
      JSON.stringify(input) ?? "undefined",
      () => assert.equal(csvCell(input), want),
    );
  }
});

Deno.test("csvRow() joins escaped cells with commas", () => {
  assert.equal(csvRow(["a", "=b", 1, "c,d"]), `a,'=b,1,"c,d"`);
});
