/**
 * Anomaly detection: an Isolation Forest (Liu, Ting and Zhou, 2008) over
 * per-flow features, trained on traffic declared normal, with a threshold
 * set from a target false-positive rate and explanations in words.
 *
 * - {@link FEATURES}, {@link FeatureExtractor}: the documented feature vector
 *   of a finished flow (flow counters, DNS names, the source's 10 s window).
 * - {@link trainModel}, {@link parseModel}, {@link loadModel}: the model file.
 * - {@link createAnomalyScorer}: a flow observer that reports anomalous
 *   flows; {@link scoreRequest} for `POST /api/detect`;
 *   {@link acceptNewModel} for safe retraining, against the held-out known
 *   anomalies of {@link readProbesFile}; {@link ModelRetrainer} and
 *   {@link FlowReservoir} retrain periodically on flows that raised no alert.
 * - {@link trainForest}: the forest itself, usable on any numeric matrix.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./features.ts";
export * from "./isolation_forest.ts";
export * from "./metrics.ts";
export * from "./model.ts";
export * from "./prng.ts";
export * from "./probes.ts";
export * from "./retrain.ts";
export * from "./scorer.ts";
