#!/usr/bin/python3
"""The scikit-learn anchor for `pnpm bench`'s cold case: cosine_similarity + threshold +
connected components, on the same kind of synthetic clustered unit vectors (float32).

Run with Debian's interpreter (python3-sklearn, OpenBLAS): /usr/bin/python3 scripts/bench-sklearn.py
Threads: OPENBLAS_NUM_THREADS=1 (or 2) before the command. Prints one JSON line per case,
like scripts/bench.ts.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.metrics.pairwise import cosine_similarity


def clustered(n, d, seed=1, cos=0.9, singletons=0.25, sizes=(2, 8)):
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n:
        size = 1 if rng.random() < singletons else int(rng.integers(sizes[0], sizes[1] + 1))
        centre = rng.standard_normal(d)
        centre /= np.linalg.norm(centre)
        c = min(0.99, max(0.3, cos + (rng.random() - 0.5) * 0.12))
        sigma = np.sqrt((1 / c - 1) / d)
        for _ in range(min(size, n - len(rows))):
            rows.append(centre + sigma * rng.standard_normal(d))
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cluster(x, threshold):
    s = cosine_similarity(x)
    adjacency = csr_matrix(s >= threshold)
    return connected_components(adjacency, directed=False)


def main():
    runs = int(os.environ.get("RUNS", "7"))
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    cases = [(2000, 1280)] if len(sys.argv) < 2 else [tuple(map(int, a.split("x"))) for a in sys.argv[1:]]
    for n, d in cases:
        x = clustered(n, d)
        cluster(x, 0.8)  # warm-up
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            count, _ = cluster(x, 0.8)
            times.append((time.perf_counter() - t) * 1000)
        print(json.dumps({"case": "cold-sklearn", "n": n, "d": d, "median_ms": round(statistics.median(times), 2),
                          "runs": runs, "threads": threads, "components": int(count)}))


if __name__ == "__main__":
    main()
