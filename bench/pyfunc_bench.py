"""The python_function loader's predict against scikit-learn's predict for the twin estimator.

    python bench/pyfunc_bench.py SYNTH.csv [--mlx target/release/mlx] [--repeat 7] [--only NAME,...] [--loader PY]

SYNTH.csv is the 100,000-row benchmark file (`python gen_synth.py SYNTH.csv`, shared/data). For every estimator ×
task, mlx trains on it (80/20 split, seed 42) and the same rows fit the scikit-learn twin; then both predict all
100,000 rows, single-threaded, from the same DataFrame: the loader's `predict(df)` (preprocessing included, straight
from the model folder's code/mlx_pyfunc.py, as MLflow calls it) and scikit-learn's `predict(df)` (as MLflow's sklearn
flavor calls it). Classification
predicts `target` from f0..f19; regression predicts f0 from f1..f19. kNN is fitted on the first 10,000 rows (its
prediction cost grows with the training set). Prints a markdown table: the fastest of --repeat runs in seconds, ratio.
Run it with the test venv's python (numpy, pandas, scikit-learn).
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn import ensemble, linear_model, naive_bayes, neighbors, tree
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

FEATURES = [f"f{i}" for i in range(20)]
CASES = [
    # name, mlx args, task, twin, kNN-sized training subset
    ("logistic-regression", ["--model", "logistic-regression"], "cls",
     lambda: linear_model.LogisticRegression(C=1.0, max_iter=1000), False),
    ("random-forest", ["--model", "random-forest", "--jobs", "2"], "cls",
     lambda: ensemble.RandomForestClassifier(n_estimators=100, random_state=42, n_jobs=-1), False),
    ("decision-tree", ["--model", "decision-tree"], "cls",
     lambda: tree.DecisionTreeClassifier(random_state=42), False),
    ("gaussian-nb", ["--model", "gaussian-nb"], "cls", lambda: naive_bayes.GaussianNB(), False),
    ("knn", ["--model", "knn"], "cls",
     lambda: neighbors.KNeighborsClassifier(n_neighbors=5, algorithm="brute"), True),
    ("linear-regression", ["--model", "linear-regression"], "reg",
     lambda: linear_model.LinearRegression(), False),
    ("ridge", ["--model", "ridge"], "reg", lambda: linear_model.Ridge(alpha=1.0), False),
    ("lasso", ["--model", "lasso"], "reg", lambda: linear_model.Lasso(alpha=1.0), False),
    ("random-forest", ["--model", "random-forest", "--n-estimators", "30", "--jobs", "2"], "reg",
     lambda: ensemble.RandomForestRegressor(n_estimators=30, random_state=42, n_jobs=-1), False),
    ("decision-tree", ["--model", "decision-tree"], "reg",
     lambda: tree.DecisionTreeRegressor(random_state=42), False),
    ("knn", ["--model", "knn"], "reg",
     lambda: neighbors.KNeighborsRegressor(n_neighbors=5, algorithm="brute"), True),
]


def load_loader(model_dir, loader=None):
    """The loader module shipped in the model folder (or `loader`), imported as MLflow imports it."""
    path = loader or os.path.join(model_dir, "code", "mlx_pyfunc.py")
    spec = importlib.util.spec_from_file_location("mlx_pyfunc", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._load_pyfunc(model_dir)


def timed(fn, repeat):
    """The fastest of `repeat` runs: on a shared machine the other runs measure the neighbours."""
    times = []
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("synth")
    ap.add_argument("--mlx", default="target/release/mlx")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", default="")
    ap.add_argument("--loader", help="a mlx_pyfunc.py to use instead of the model folder's (e.g. src/ml/...)")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    df = pd.read_csv(a.synth)
    work = tempfile.mkdtemp(prefix="pyfunc-bench-")
    small = os.path.join(work, "small.csv")
    df.head(10_000).to_csv(small, index=False)
    rows = []
    for name, args, task, twin, subset in CASES:
        if only and name not in only:
            continue
        data = small if subset else a.synth
        if task == "cls":
            target, features = "target", FEATURES
            extra = ["--target", "target", "--features", ",".join(features)]
        else:
            target, features = "f0", FEATURES[1:]
            extra = ["--target", "f0", "--task", "regression", "--features", ",".join(features)]
        out = subprocess.run(
            [a.mlx, "--tracking-uri", os.path.join(work, "mlruns"), "train", "--data", data, *extra, *args,
             "--output", "json"],
            check=True, capture_output=True, text=True,
        ).stdout
        model_id = json.loads(out)["model_id"]
        model_dir = next(
            os.path.join(root) for root, dirs, _ in os.walk(os.path.join(work, "mlruns"))
            if root.endswith(os.path.join(model_id, "artifacts"))
        )
        loader = load_loader(model_dir, a.loader)
        train_df = pd.read_csv(data)
        x_train, _, y_train, _ = train_test_split(
            train_df[features], train_df[target].to_numpy(), test_size=0.2, random_state=42
        )
        est = twin().fit(x_train, y_train)
        if "n_jobs" in est.get_params():
            est.set_params(n_jobs=1)  # predict single-threaded, like the loader
        x_df = df[features]
        # One thread each: BLAS (numpy's matrix products) and OpenMP (scikit-learn's compiled loops).
        with threadpool_limits(limits=1):
            t_loader, ours = timed(lambda: loader.predict(x_df), a.repeat)
            t_sklearn, theirs = timed(lambda: est.predict(x_df), a.repeat)
        agree = float(np.mean(np.asarray(ours) == np.asarray(theirs))) if task == "cls" else float(
            np.corrcoef(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float))[0, 1])
        rows.append((name, "classification" if task == "cls" else "regression", t_loader, t_sklearn, agree))
        print(f"{name} {task}: loader {t_loader:.3f} s, scikit-learn {t_sklearn:.3f} s", file=sys.stderr)
    print(f"{len(df):,} rows, best of {a.repeat}\n")
    print("| estimator | task | loader predict (s) | scikit-learn predict (s) | ratio | agreement |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, task, tl, ts, agree in rows:
        what = "same label" if task == "classification" else "correlation"
        print(f"| {name} | {task} | {tl:.3f} | {ts:.3f} | {tl / ts:.2f}x | {agree:.4f} {what} |")


if __name__ == "__main__":
    main()
