/**
 * The Isolation Forest comparison harness (not part of the appliance):
 * synthetic data sets with planted outliers, numeric CSV helpers, a driver
 * for scikit-learn's IsolationForest as a reference, and the table that
 * compares ours, npm `ml-isolation-forest` and scikit-learn
 * (`deno run -A ml/compare/compare.ts`).
 *
 * @module
 */
export * from "./compare.ts";
export * from "./csv.ts";
export { flowsOf } from "./flow_csv.ts";
export * from "./sklearn.ts";
export * from "./synthetic.ts";
