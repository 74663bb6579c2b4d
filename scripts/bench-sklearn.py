#!/usr/bin/python3
"""The scikit-learn anchor for `pnpm bench`'s cold case: cosine_similarity + threshold +
connected components (float32 rows).

Run with Debian's interpreter (python3-sklearn, OpenBLAS, python3-threadpoolctl).

  /usr/bin/python3 scripts/bench-sklearn.py [NxD ...]
      synthetic clustered unit vectors, one JSON line per size; threads: OPENBLAS_NUM_THREADS.
  /usr/bin/python3 scripts/bench-sklearn.py --serve <rows.f32> <n> <d> <threshold>
      what `pnpm bench --embeddings` drives: loads n×d float32 rows, then for each line
      {"threads": t} on stdin runs the anchor once with OpenBLAS pinned to t threads
      (threadpoolctl) and answers {"ms", "components", "blas": {architecture, internal_api,
      num_threads}} (the OpenBLAS that ran, as threadpoolctl reports it inside the limit).
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


def serve(path, n, d, threshold):
    from threadpoolctl import threadpool_info, threadpool_limits

    x = np.fromfile(path, dtype=np.float32, count=n * d).reshape(n, d)
    warm = set()
    for line in sys.stdin:
        threads = int(json.loads(line)["threads"])
        with threadpool_limits(limits=threads, user_api="blas"):
            if threads not in warm:
                cluster(x, threshold)
                warm.add(threads)
            t = time.perf_counter()
            count, _ = cluster(x, threshold)
            ms = (time.perf_counter() - t) * 1000
            blas = [{k: i.get(k) for k in ("architecture", "internal_api", "num_threads")} for i in threadpool_info() if i["user_api"] == "blas"]
        print(json.dumps({"ms": ms, "components": int(count), "blas": blas}), flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        path, n, d, threshold = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        serve(path, n, d, threshold)
        return
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
