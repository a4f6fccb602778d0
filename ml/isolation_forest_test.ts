import assert from "node:assert/strict";
import { blobs, correlated, flowLike, highDim } from "./compare/synthetic.ts";
import { findSklearnPython, runSklearn } from "./compare/sklearn.ts";
import { ModelError } from "./errors.ts";
import {
  averagePathLength,
  type ForestJson,
  matrixFromRows,
  parseForest,
  trainForest,
  trainForestOutOfBag,
} from "./isolation_forest.ts";
import { rocAuc } from "./metrics.ts";

const CI = Deno.env.get("CI") === "true";
const python = await findSklearnPython();
if (CI && python === null) {
  throw new Error(
    "CI=true but no python3 with scikit-learn: apt install python3-sklearn",
  );
}

function close(actual: number, expected: number, tol = 1e-12): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `expected ${expected}, got ${actual}`,
  );
}

Deno.test("averagePathLength() matches c(n) from the paper and scikit-learn", () => {
  assert.equal(averagePathLength(0), 0);
  assert.equal(averagePathLength(1), 0);
  assert.equal(averagePathLength(2), 1);
  // Values printed by scikit-learn 1.2's _average_path_length.
  close(averagePathLength(3), 1.207392357589623);
  close(averagePathLength(10), 3.748880484475504);
  close(averagePathLength(256), 10.244770920119917);
  close(averagePathLength(1000), 12.969940887100172);
});

const SETS = [
  { set: blobs(), floor: 0.98 },
  { set: highDim(), floor: 0.9 },
  { set: flowLike(), floor: 0.99 },
  // Broken correlations are hard for axis-parallel splits at ψ = 256.
  { set: correlated(), floor: 0.7 },
];
const SEEDS = [1, 2, 3];
/** How far our mean AUC may fall below scikit-learn's. */
const MARGIN = 0.01;

Deno.test("trainForest() ranks planted outliers above normal rows", async (t) => {
  for (const { set, floor } of SETS) {
    const ours = SEEDS.map((seed) =>
      rocAuc(
        trainForest(set.matrix, { seed }).scoreMatrix(set.matrix),
        set.labels,
      )
    );
    const mean = ours.reduce((a, b) => a + b, 0) / ours.length;
    await t.step(`${set.name}: AUC ${mean.toFixed(4)} ≥ ${floor}`, () => {
      assert.ok(mean >= floor, `${set.name}: mean AUC ${mean} < ${floor}`);
    });
    await t.step({
      name: `${set.name}: not worse than scikit-learn by more than ${MARGIN}`,
      ignore: python === null,
      fn: async () => {
        let sum = 0;
        for (const seed of SEEDS) {
          const sk = await runSklearn(set.matrix, { seed, python: python! });
          sum += rocAuc(sk.scores, set.labels);
        }
        const ref = sum / SEEDS.length;
        assert.ok(
          mean >= ref - MARGIN,
          `${set.name}: ours ${mean.toFixed(4)}, scikit-learn ${
            ref.toFixed(4)
          }`,
        );
      },
    });
  }
});

Deno.test("trainForest() gives the same model for the same seed and data", () => {
  const m = highDim({ rows: 2000 }).matrix;
  const a = JSON.stringify(trainForest(m, { seed: 42, trees: 50 }));
  const b = JSON.stringify(trainForest(m, { seed: 42, trees: 50 }));
  const c = JSON.stringify(trainForest(m, { seed: 43, trees: 50 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

Deno.test("a forest read back from JSON scores exactly as the original", () => {
  const set = blobs({ rows: 1000 });
  const f = trainForest(set.matrix, { seed: 5 });
  const g = parseForest(JSON.parse(JSON.stringify(f)));
  assert.deepEqual(g.scoreMatrix(set.matrix), f.scoreMatrix(set.matrix));
  assert.equal(g.trees, 100);
  assert.equal(g.sampleSize, 256);
  assert.equal(g.heightLimit, 8);
});

Deno.test("trainForest() caps the subsample at the row count", () => {
  const f = trainForest(matrixFromRows([[1], [2], [3], [40]]), { seed: 1 });
  assert.equal(f.sampleSize, 4);
  assert.equal(f.heightLimit, 2);
  assert.ok(f.score([40]) > f.score([2]));
});

Deno.test("trainForest() makes single leaves of constant data, scoring 0.5", () => {
  const f = trainForest(matrixFromRows([[3, 1], [3, 1], [3, 1]]), {
    trees: 10,
  });
  assert.equal(f.nodeCount, 10);
  // E[h] = c(ψ) at a root leaf holding all ψ rows, so s = 2^-1.
  close(f.score([3, 1]), 0.5);
  close(f.score([99, -4]), 0.5);
});

Deno.test("trainForest() refuses non-finite values, one row and bad options", () => {
  assert.throws(
    () => trainForest(matrixFromRows([[1, 2], [NaN, 3]])),
    /row 1 column 0 is NaN/,
  );
  assert.throws(() => trainForest(matrixFromRows([[1]])), RangeError);
  const m = matrixFromRows([[1], [2]]);
  assert.throws(() => trainForest(m, { trees: 0 }), /"trees"/);
  assert.throws(() => trainForest(m, { sampleSize: 1.5 }), /"sampleSize"/);
  assert.throws(() => trainForest(m, { seed: -1 }), /"seed"/);
});

Deno.test("parseForest() names the field of a corrupt or incompatible forest", async (t) => {
  const good = trainForest(blobs({ rows: 300 }).matrix, { seed: 3, trees: 5 })
    .toJSON();
  const firstInternal = good.feature.findIndex((f) => f >= 0);
  const firstLeaf = good.feature.findIndex((f) => f < 0);
  const cases: Array<
    [string, (j: Record<string, unknown> & ForestJson) => void, string]
  > = [
    ["wrong format tag", (j) => (j.format = "x" as never), "forest.format"],
    ["newer version", (j) => (j.version = 2 as never), "forest.version"],
    [
      "features not a number",
      (j) => (j.features = "2" as never),
      "forest.features",
    ],
    ["height limit off", (j) => (j.heightLimit = 3), "forest.heightLimit"],
    ["unknown field", (j) => (j.extra = 1), "forest.extra"],
    [
      "missing array",
      (j) => delete (j as Partial<ForestJson>).left,
      "forest.left",
    ],
    ["short array", (j) => j.value.pop(), "forest.value"],
    [
      "null value",
      (j) => (j.value[firstInternal] = null as never),
      `forest.value[${firstInternal}]`,
    ],
    [
      "feature out of range",
      (j) => (j.feature[firstInternal] = 2),
      `forest.feature[${firstInternal}]`,
    ],
    [
      "child before parent",
      (j) => (j.left[firstInternal] = 0),
      `forest.left[${firstInternal}]`,
    ],
    [
      "leaf size too big",
      (j) => (j.value[firstLeaf] = 9999),
      `forest.value[${firstLeaf}]`,
    ],
    [
      "leaf with a child",
      (j) => (j.left[firstLeaf] = 1),
      `forest.left[${firstLeaf}]`,
    ],
    ["first root not 0", (j) => (j.roots[0] = 1), "forest.roots[0]"],
    [
      "roots out of order",
      (j) => (j.roots[2] = j.roots[1]!),
      "forest.roots[2]",
    ],
    ["no trees", (j) => (j.roots = []), "forest.roots"],
    [
      "split outside its range",
      (j) => (j.low[firstInternal] = j.value[firstInternal]!),
      `forest.value[${firstInternal}]`,
    ],
    [
      "leaf with a range",
      (j) => (j.high[firstLeaf] = 1),
      `forest.high[${firstLeaf}]`,
    ],
    [
      "constant offsets short",
      (j) => j.constOffsets.pop(),
      "forest.constOffsets",
    ],
    ["constant feature out of range", (j) => {
      j.constFeature = [7];
      j.constValue = [0];
      j.constOffsets = j.constOffsets.map((_, i) => (i === 0 ? 0 : 1));
    }, "forest.constFeature[0]"],
  ];
  for (const [name, mutate, field] of cases) {
    await t.step(name, () => {
      const j = structuredClone(good) as Record<string, unknown> & ForestJson;
      mutate(j);
      assert.throws(
        () => parseForest(j),
        (e: unknown) => {
          assert.ok(e instanceof ModelError, String(e));
          assert.equal(e.field, field, e.message);
          assert.ok(e.message.includes(`"${field}"`), e.message);
          return true;
        },
      );
    });
  }
  await t.step("not an object", () => {
    assert.throws(() => parseForest([1, 2]), (e: unknown) => {
      assert.ok(e instanceof ModelError);
      assert.equal(e.field, "forest");
      return true;
    });
  });
});

Deno.test("range-aware scoring equals the paper's inside the training ranges", () => {
  const set = blobs({ rows: 200 });
  // ψ ≥ rows: every tree sampled every row, so no row leaves any node's range.
  const f = trainForest(set.matrix, { seed: 4, sampleSize: 256 });
  for (let r = 0; r < set.matrix.rows; r += 7) {
    close(
      f.scoreRangeAware(set.matrix.data, r * 2),
      f.score(set.matrix.data, r * 2),
      1e-12,
    );
  }
});

Deno.test("range-aware scoring grows with the distance beyond the training range", () => {
  const rows: number[][] = [];
  for (let i = 0; i < 500; i++) rows.push([i % 10, (i * 7) % 13, 5]);
  const f = trainForest(matrixFromRows(rows), { seed: 2 });
  // The paper's score cannot tell 10 from 1,000 past a maximum of 9.
  assert.equal(f.score([10, 6, 5]), f.score([1000, 6, 5]));
  const near = f.scoreRangeAware([10, 6, 5]);
  const far = f.scoreRangeAware([1000, 6, 5]);
  assert.ok(f.scoreRangeAware([5, 6, 5]) < near, "inside < just outside");
  assert.ok(near < far, `${near} < ${far}`);
  assert.ok(far > 0.75, String(far));
  // A feature constant in training (always 5) that differs isolates too.
  assert.ok(f.scoreRangeAware([5, 6, 6]) > f.scoreRangeAware([5, 6, 5]) + 0.05);
  assert.equal(f.score([5, 6, 6]), f.score([5, 6, 5]));
});

Deno.test("trainForestOutOfBag() grows the same forest and scores rows with trees that skipped them", () => {
  const set = highDim({ rows: 1000 });
  const plain = trainForest(set.matrix, { seed: 8, trees: 40 });
  const oob = trainForestOutOfBag(set.matrix, { seed: 8, trees: 40 });
  assert.equal(JSON.stringify(oob.forest), JSON.stringify(plain));
  // Each row is left out with probability 1 - 256/1000.
  const mean = oob.trees.reduce((a, b) => a + b, 0) / oob.trees.length;
  assert.ok(Math.abs(mean - 40 * (1 - 256 / 1000)) < 1, String(mean));
  for (let r = 0; r < 1000; r++) {
    if (oob.trees[r] === 0) assert.ok(Number.isNaN(oob.scores[r]!));
    else assert.ok(oob.scores[r]! > 0 && oob.scores[r]! <= 1);
  }
  assert.ok(
    rocAuc(oob.scores.map((s) => (Number.isNaN(s) ? 0.5 : s)), set.labels) >
      0.9,
  );
  const all = trainForestOutOfBag(blobs({ rows: 100 }).matrix, { trees: 5 });
  assert.ok(all.scores.every((s) => Number.isNaN(s)));
});
