#!/usr/bin/env python3
"""Test oracle: scikit-learn's IsolationForest on a CSV, scores to a file.

Usage: sklearn_iforest.py TRAIN_CSV OUT_SCORES [--score CSV] [--trees N]
                          [--sample N] [--seed N]

Both CSVs have one header row and numeric columns. Trains on TRAIN_CSV,
scores the --score CSV (default: the training rows) and writes one score a
line to OUT_SCORES, higher meaning more anomalous (the paper's s(x), i.e.
-score_samples). Prints one JSON line to stdout with the timings in ms and
the peak resident memory in MiB. Not part of the product: a reference for
tests and the comparison harness.
"""
import argparse
import json
import resource
import sys
import time


def rss_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("out")
    ap.add_argument("--score")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--sample", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    try:
        import numpy as np
        from sklearn.ensemble import IsolationForest
    except ImportError as e:
        print(f"sklearn_iforest: {e}", file=sys.stderr)
        return 3
    x = np.loadtxt(a.train, delimiter=",", skiprows=1, ndmin=2)
    y = x if a.score is None else np.loadtxt(a.score, delimiter=",", skiprows=1, ndmin=2)
    base = rss_mib("VmRSS")
    t0 = time.perf_counter()
    model = IsolationForest(
        n_estimators=a.trees,
        max_samples=min(a.sample, x.shape[0]),
        random_state=a.seed,
    ).fit(x)
    t1 = time.perf_counter()
    s = -model.score_samples(y)
    t2 = time.perf_counter()
    np.savetxt(a.out, s, fmt="%.17g")
    print(json.dumps({
        "train_ms": (t1 - t0) * 1000,
        "score_ms": (t2 - t1) * 1000,
        "rows_scored": int(y.shape[0]),
        "base_rss_mib": base,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "version": __import__("sklearn").__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
