"""The python_function loader's kNN candidate search against a plain replay of scikit-learn's heap over
every training row, on data built to stress it: ties (small integer grids), huge offsets (float32 too
coarse, so the float64 path runs), rounded values, one training row, k larger than the training set.

    python knn_candidates.py LOADER.py      # prints "ok N" or the first mismatch, exits 1
"""

import importlib.util
import sys

import numpy as np

spec = importlib.util.spec_from_file_location("mlx_pyfunc", sys.argv[1])
M = importlib.util.module_from_spec(spec)
spec.loader.exec_module(M)


class Knn(M.MlxModel):
    def __init__(self, t, k):  # only what _neighbours reads
        self.train_x = t
        self.k = k


def brute(t, x, k):
    out = []
    for r in range(len(x)):
        full = np.zeros(len(t))
        for f in range(t.shape[1]):
            d = t[:, f] - x[r, f]
            full += d * d
        out.append(sorted(M._heap_nearest(full, k)))
    return out


rng = np.random.default_rng(7)
cases = 0
for trial in range(48):
    n = int(rng.integers(1, 600)) if trial else 1
    d = int(rng.integers(1, 7))
    k = int(rng.integers(1, 9))
    kind = trial % 4
    if kind == 0:
        t = rng.normal(size=(n, d))
    elif kind == 1:
        t = rng.integers(0, 3, size=(n, d)).astype(float)
    elif kind == 2:
        t = rng.normal(size=(n, d)) * 1e7 + 1e9
    else:
        t = np.round(rng.normal(size=(n, d)), 1) + 1000
    x = np.concatenate([t[: min(25, n)], rng.normal(size=(20, d)) * (t.std() + 1) + t.mean()])
    got = [[] for _ in range(len(x))]
    for block, _, rows, cols in Knn(t, k)._neighbours(x, block=9):
        for r, c in zip(rows, cols):
            got[block.start + r].append(int(c))
    want = brute(t, x, min(k, n))
    for r, (g, w) in enumerate(zip(got, want)):
        if sorted(g) != w:
            print(f"trial {trial} (n={n} d={d} k={k} data kind {kind}) row {r}: loader {sorted(g)}, heap {w}")
            sys.exit(1)
    cases += 1
print("ok", cases)
