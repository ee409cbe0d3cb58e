#!/usr/bin/env python3
"""mlx's gradient boosting beside LightGBM 4.7 (and scikit-learn's HistGradientBoosting) on the synthetic
file (100,000 x 20), in one run: fit time and test accuracy on train_test_split(test_size=0.2,
random_state=42), the split `mlx train --seed 42` makes, with the same defaults (31 leaves, lr 0.1,
255 bins, 20 rows a leaf); then regression on the same features with a numeric target made here (RMSE).

mlx's fit time is its `training_time` metric (binning and boosting, as LightGBM's fit() is; not the CSV
read). Each configuration runs REPS times, interleaved (LightGBM, mlx, LightGBM, mlx, ...) so both see
the same machine load; the table shows medians, and the load average is printed before and after.

A second table runs both on one thread (mlx --jobs 1, LightGBM num_threads=1), fastest of REPS: the fit's
wall-clock time (mlx's training_time; LightGBM's fit()) and CPU seconds: LightGBM's fit() alone, and mlx's
WHOLE process (CSV read, binning, boosting, scoring the test and training parts, writing the run), an upper
bound of its fit's. On a machine shared with other work, one thread is timesliced alike on both sides, where
two threads that wait on each other (LightGBM's OpenMP) can lose far more than their share.

Usage: bench/gbdt_bench.py [--reps 3] [--out /tmp/mlx-gbdt-bench] [--no-500] [--no-regression] [--no-cpu]
(run it with the test venv's Python: ~/.cache/mlx-ci/venv/bin/python; it builds mlx in release mode unless
MLX_BIN names a binary)
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def mlx_fit(mlx, data, target, extra, env, cpu=False):
    before = children_cpu()
    out = subprocess.run(
        [mlx, "train", "--data", str(data), "--target", target, "--model", "gradient-boosting",
         "--seed", "42", "-o", "json", *extra],
        check=True, capture_output=True, text=True, env=env,
    )
    m = json.loads(out.stdout)["metrics"]
    score = m.get("accuracy", m.get("rmse"))
    if cpu:
        return m["training_time"], children_cpu() - before, score
    return m["training_time"], score


def timed(fit):
    t = time.perf_counter()
    fit()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="/tmp/mlx-gbdt-bench")
    ap.add_argument("--no-500", action="store_true")
    ap.add_argument("--no-regression", action="store_true")
    ap.add_argument("--no-cpu", action="store_true")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    mlx = os.environ.get("MLX_BIN")  # a binary to measure instead of building this checkout
    if not mlx:
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
        mlx = str(ROOT / "target/release/mlx")
    synth = out / "synth.csv"
    if not synth.exists():
        subprocess.run(["python3", str(ROOT.parent / "shared/data/gen_synth.py"), str(synth)], check=True,
                       capture_output=True)
    env = dict(os.environ, MLX_TRACKING_URI=str(out / "mlruns"))
    df = pd.read_csv(synth)
    X, y = df.drop(columns="target").values, df["target"].values
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=42)
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")

    rows = []

    def lgb_cls(n, cpu=False):
        m = lgb.LGBMClassifier(n_estimators=n, verbose=-1, **({"num_threads": 1} if cpu else {}))
        before = time.process_time()
        t = timed(lambda: m.fit(Xtr, ytr))
        used = time.process_time() - before
        score = accuracy_score(yte, m.predict(Xte))
        return (t, used, score) if cpu else (t, score)

    def hgb_cls():
        m = HistGradientBoostingClassifier(max_iter=100, early_stopping=False)
        t = timed(lambda: m.fit(Xtr, ytr))
        return t, accuracy_score(yte, m.predict(Xte))

    configs = [("100 iterations", 100)] + ([] if a.no_500 else [("500 iterations", 500)])
    for label, n in configs:
        lg, mx = [], []
        for _ in range(a.reps):
            lg.append(lgb_cls(n))
            mx.append(mlx_fit(mlx, synth, "target", ["--n-estimators", str(n)], env))
        rows.append((f"LightGBM 4.7 LGBMClassifier, {label}", lg, "accuracy"))
        rows.append((f"mlx gradient-boosting, {label}", mx, "accuracy"))
    rows.append(("scikit-learn HistGradientBoostingClassifier, 100 iterations",
                 [hgb_cls() for _ in range(a.reps)], "accuracy"))

    if not a.no_regression:
        # A numeric target on the same features: nonlinear, with noise (seeded).
        rng = np.random.RandomState(7)
        f = df.drop(columns="target")
        reg = f.copy()
        reg["value"] = (2.0 * f["f0"] - f["f1"] + 0.5 * f["f2"] * f["f3"] + np.sin(2.0 * f["f4"])
                        + (f["f5"] > 0.3) * 1.5 + rng.normal(0.0, 0.5, len(f)))
        reg_csv = out / "synth_reg.csv"
        reg.to_csv(reg_csv, index=False, float_format="%.6f")
        reg = pd.read_csv(reg_csv)
        Xr, yr = reg.drop(columns="value").values, reg["value"].values
        Rtr, Rte, rtr, rte = train_test_split(Xr, yr, test_size=0.2, random_state=42)
        lg, mx = [], []
        for _ in range(a.reps):
            m = lgb.LGBMRegressor(n_estimators=100, verbose=-1)
            t = timed(lambda: m.fit(Rtr, rtr))
            lg.append((t, math.sqrt(mean_squared_error(rte, m.predict(Rte)))))
            mx.append(mlx_fit(mlx, reg_csv, "value", ["--n-estimators", "100"], env))
        rows.append(("LightGBM 4.7 LGBMRegressor, 100 iterations", lg, "RMSE"))
        rows.append(("mlx gradient-boosting regression, 100 iterations", mx, "RMSE"))

    cpu_rows = []
    if not a.no_cpu:
        for label, n in configs:
            lg, mx = [], []
            for _ in range(a.reps):
                lg.append(lgb_cls(n, cpu=True))
                mx.append(mlx_fit(mlx, synth, "target", ["--n-estimators", str(n), "--jobs", "1"], env,
                                  cpu=True))
            cpu_rows.append((f"LightGBM, num_threads=1, {label} (CPU: fit() only)", lg))
            cpu_rows.append((f"mlx --jobs 1, {label} (CPU: whole process)", mx))

    print(f"load average after: {os.getloadavg()}")
    print(f"\n| model | fit (median of {a.reps}) | test score |")
    print("| --- | --- | --- |")
    for name, runs, what in rows:
        fit = statistics.median(t for t, _ in runs)
        score = statistics.median(s for _, s in runs)
        all_fits = ", ".join(f"{t:.2f}" for t, _ in runs)
        print(f"| {name} | {fit:.2f} s ({all_fits}) | {what} {score:.4f} |")
    if cpu_rows:
        print(f"\n| one thread | fit wall-clock (fastest of {a.reps}) | CPU (fastest) | accuracy |")
        print("| --- | --- | --- | --- |")
        for name, runs in cpu_rows:
            wall = ", ".join(f"{w:.2f}" for w, _, _ in runs)
            cpu = ", ".join(f"{c:.2f}" for _, c, _ in runs)
            print(f"| {name} | {min(w for w, _, _ in runs):.2f} s ({wall}) | "
                  f"{min(c for _, c, _ in runs):.2f} s ({cpu}) | {runs[0][2]:.4f} |")


if __name__ == "__main__":
    main()
