import assert from "node:assert/strict";
import { escapedText, textOf } from "./_text.ts";
import { cat, prng } from "./_test_frames.ts";

const bytes = (s: string) => cat(s);

Deno.test("escapedText() keeps printable ASCII and escapes every other byte", () => {
  const b = cat("a ~", [0, 0x1f, 0x7f, 0x80, 0xff], "\\z");
  assert.equal(
    escapedText(b, 0, b.length, 100),
    "a ~\\x00\\x1f\\x7f\\x80\\xff\\z",
  );
  assert.equal(escapedText(b, 1, 3, 100), " ~");
  assert.equal(escapedText(b, 2, 2, 100), "");
});

Deno.test("escapedText() cuts at the cap and never inside an escape", () => {
  const b = cat("abc", [1], "def");
  assert.equal(escapedText(b, 0, b.length, 3), "abc");
  assert.equal(escapedText(b, 0, b.length, 6), "abc");
  assert.equal(escapedText(b, 0, b.length, 7), "abc\\x01");
  assert.equal(escapedText(b, 0, b.length, 8), "abc\\x01d");
  assert.equal(escapedText(bytes("x".repeat(300)), 0, 300, 255).length, 255);
});

Deno.test("textOf() returns the right text when interned strings share a cache slot", () => {
  // Find two different texts of the same length in one of the 4096 slots.
  const rnd = prng(99);
  const slot = (s: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) {
      h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    }
    return (h ^ (h >>> 16)) & 4095;
  };
  const seen = new Map<number, string>();
  let pair: [string, string] | null = null;
  while (pair === null) {
    const s = Math.floor(rnd() * 1e9).toString(36).padStart(6, "0").slice(0, 6);
    const k = slot(s);
    const other = seen.get(k);
    if (other !== undefined && other !== s) pair = [other, s];
    else seen.set(k, s);
  }
  const [a, b] = pair.map(bytes) as [Uint8Array, Uint8Array];
  for (let i = 0; i < 3; i++) {
    assert.equal(textOf(a, 0, a.length), pair[0]);
    assert.equal(textOf(b, 0, b.length), pair[1]);
    assert.equal(escapedText(a, 0, a.length, 100), pair[0]);
  }
  // Long texts are not cached but still right.
  const long = bytes("L".repeat(1000));
  assert.equal(textOf(long, 0, long.length), "L".repeat(1000));
});
