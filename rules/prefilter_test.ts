/**
 * The prefilter against a plain search: every rule whose (case-folded)
 * pattern occurs in a buffer is reported, and no other, whatever the
 * automaton's shape (one-byte patterns, patterns that are prefixes and
 * suffixes of others, long runs of one byte, high bytes).
 */
import assert from "node:assert/strict";
import { FOLD } from "./match.ts";
import { Prefilter } from "./prefilter.ts";

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function naive(
  pats: readonly Uint8Array[],
  data: Uint8Array,
): Set<number> {
  const out = new Set<number>();
  pats.forEach((p, r) => {
    for (let i = 0; i + p.length <= data.length; i++) {
      let k = 0;
      while (k < p.length && FOLD[data[i + k]!] === FOLD[p[k]!]) k++;
      if (k === p.length) {
        out.add(r);
        return;
      }
    }
  });
  return out;
}

Deno.test("the prefilter reports exactly the patterns a plain search finds", () => {
  const next = rng(15);
  for (let round = 0; round < 40; round++) {
    // A small alphabet makes overlaps, prefixes and runs common; some
    // rounds use every byte value.
    const wide = round % 4 === 3;
    const byte = () =>
      wide ? next() & 255 : [0, 1, 0x41, 0x61, 0x42, 0xff][next() % 6]!;
    const pats: Uint8Array[] = [];
    const n = 1 + next() % 60;
    for (let i = 0; i < n; i++) {
      const len = 1 + (next() % (i % 5 === 0 ? 2 : 7));
      pats.push(Uint8Array.from({ length: len }, byte));
    }
    const pf = new Prefilter(pats.map((p, r) => [p, r] as const));
    for (let t = 0; t < 20; t++) {
      const len = next() % 300;
      const data = Uint8Array.from({ length: len }, byte);
      const got = new Set<number>();
      pf.scan(data, len, (r) => got.add(r));
      assert.deepEqual(
        [...got].sort((a, b) => a - b),
        [...naive(pats, data)].sort((a, b) => a - b),
        `round ${round} buffer ${t}`,
      );
    }
  }
});

Deno.test("the prefilter scans only the given length", () => {
  const pf = new Prefilter([[Uint8Array.of(0x61, 0x62), 0], [
    Uint8Array.of(0x63),
    1,
  ]]);
  const data = Uint8Array.of(0x41, 0x42, 0x63);
  const got: number[] = [];
  pf.scan(data, 2, (r) => got.push(r));
  assert.deepEqual(got, [0]);
  got.length = 0;
  pf.scan(data, 1, (r) => got.push(r));
  assert.deepEqual(got, []);
});
