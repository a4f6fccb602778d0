/**
 * Small statistics used to evaluate and calibrate models: ROC AUC and
 * quantiles.
 *
 * @module
 */

/**
 * Area under the ROC curve of `scores` (higher = more likely positive)
 * against `labels` (truthy = positive), as the Mann–Whitney statistic with
 * tied scores counted half. 1 means every positive outranks every negative,
 * 0.5 is chance. Throws a RangeError when the lengths differ or either class
 * is empty.
 *
 * @example
 * ```ts
 * rocAuc([0.9, 0.2, 0.4], [1, 0, 0]); // 1
 * ```
 */
export function rocAuc(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
): number {
  const n = scores.length;
  if (labels.length !== n) {
    throw new RangeError(
      `Cannot compute ROC AUC: ${n} scores but ${labels.length} labels`,
    );
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i]!)) {
      throw new RangeError(`Cannot compute ROC AUC: score ${i} is NaN`);
    }
    order[i] = i;
  }
  order.sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0, rankSum = 0;
  for (let i = 0; i < n;) {
    // A run of tied scores shares the average of its ranks (1-based).
    let j = i + 1;
    while (j < n && scores[order[j]!] === scores[order[i]!]) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (labels[order[k]!]) {
        pos++;
        rankSum += avgRank;
      }
    }
    i = j;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) {
    throw new RangeError(
      `Cannot compute ROC AUC: need both classes, got ${pos} positive and ${neg} negative`,
    );
  }
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of `sorted` (ascending), interpolating linearly
 * between order statistics (type 7, as NumPy's default). Throws a RangeError
 * on an empty array or q outside [0, 1].
 *
 * @example
 * ```ts
 * quantileSorted([1, 2, 3, 4], 0.5); // 2.5
 * ```
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError("Cannot take a quantile of no values");
  if (!(q >= 0 && q <= 1)) {
    throw new RangeError(`Quantile ${q} is outside [0, 1]`);
  }
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}
