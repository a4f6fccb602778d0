import assert from "node:assert/strict";
import { quantileSorted, rocAuc } from "./metrics.ts";

Deno.test("rocAuc() is 1 when every positive outranks every negative", () => {
  assert.equal(rocAuc([0.1, 0.9, 0.8, 0.2], [0, 1, 1, 0]), 1);
});

Deno.test("rocAuc() is 0 when every negative outranks every positive", () => {
  assert.equal(rocAuc([0.9, 0.1, 0.2, 0.8], [0, 1, 1, 0]), 0);
});

Deno.test("rocAuc() counts tied scores as half", () => {
  assert.equal(rocAuc([0.5, 0.5], [1, 0]), 0.5);
  assert.equal(rocAuc([1, 1, 1, 1], [true, false, false, true]), 0.5);
  // One positive above both negatives, one tied with one negative:
  // pairs (p1>n1, p1>n2, p2=n1 → ½, p2>n2) = 3.5 / 4.
  assert.equal(rocAuc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 0.875);
});

Deno.test("rocAuc() matches a pair count on a mixed ranking", () => {
  const scores = [0.3, 0.7, 0.2, 0.9, 0.4, 0.6, 0.1, 0.8];
  const labels = [0, 1, 0, 0, 1, 1, 0, 1];
  let wins = 0, pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    for (let j = 0; j < scores.length; j++) {
      if (labels[i] && !labels[j]) {
        pairs++;
        if (scores[i]! > scores[j]!) wins++;
        else if (scores[i] === scores[j]) wins += 0.5;
      }
    }
  }
  assert.equal(rocAuc(scores, labels), wins / pairs);
});

Deno.test("rocAuc() refuses one-class labels and mismatched lengths", () => {
  assert.throws(() => rocAuc([1, 2], [0, 0]), RangeError);
  assert.throws(() => rocAuc([1, 2], [1]), RangeError);
  assert.throws(() => rocAuc([NaN, 2], [1, 0]), RangeError);
});

Deno.test("quantileSorted() interpolates like NumPy's default", () => {
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 0), 1);
  assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
  assert.ok(Math.abs(quantileSorted([0, 10], 0.99) - 9.9) < 1e-12);
  assert.equal(quantileSorted([7], 0.3), 7);
  assert.throws(() => quantileSorted([], 0.5), RangeError);
  assert.throws(() => quantileSorted([1], 1.5), RangeError);
});
