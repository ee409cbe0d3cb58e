#!/usr/bin/env python3
"""Train benchmark: every mlx estimator beside its scikit-learn twin, same data, same split, same params.

Usage: train_compare.py MLX_BINARY TITANIC_CSV SYNTH_CSV [--repeat 3]
Prints a markdown table: fit seconds (median) and holdout score for both tools, and their ratio. The split
is train_test_split(test_size=0.2, random_state=42), which `mlx train --seed 42` reproduces exactly.
mlx's fit time is the run's `training_time` metric (the fit alone, as scikit-learn's is timed here).
"""
import json, os, subprocess, sys, tempfile, time, statistics
import numpy as np, pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.linear_model import LogisticRegression, LinearRegression, Ridge, Lasso
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.tree import DecisionTreeClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.metrics import accuracy_score, r2_score

mlx, titanic, synth = sys.argv[1], sys.argv[2], sys.argv[3]
repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
store = tempfile.mkdtemp()

def load_titanic():
    df = pd.read_csv(titanic)[["Survived", "Pclass", "Sex", "Age", "Fare"]].dropna()
    df["Sex"] = df["Sex"].map({"male": 0, "female": 1})
    return df[["Pclass", "Sex", "Age", "Fare"]].values, df["Survived"].values

def load_synth():
    df = pd.read_csv(synth)
    return df.drop(columns="target").values, df["target"].values

TITANIC_ARGS = ["--target", "Survived", "--features", "Pclass,Sex,Age,Fare", "--map", "Sex=male:0,female:1"]
CASES = [
    ("titanic", "logistic-regression", lambda: LogisticRegression(max_iter=1000), []),
    ("titanic", "random-forest", lambda: RandomForestClassifier(n_estimators=100, random_state=42, n_jobs=-1), []),
    ("titanic", "decision-tree", lambda: DecisionTreeClassifier(random_state=42), []),
    ("titanic", "knn", lambda: KNeighborsClassifier(), []),
    ("titanic", "gaussian-nb", lambda: GaussianNB(), []),
    ("synth", "logistic-regression", lambda: LogisticRegression(max_iter=1000), []),
    ("synth", "random-forest", lambda: RandomForestClassifier(n_estimators=100, random_state=42, n_jobs=-1), []),
    ("synth", "decision-tree", lambda: DecisionTreeClassifier(random_state=42), []),
    ("synth", "gaussian-nb", lambda: GaussianNB(), []),
    ("synth-reg", "linear-regression", lambda: LinearRegression(), []),
    ("synth-reg", "ridge", lambda: Ridge(alpha=1.0), []),
    ("synth-reg", "lasso", lambda: Lasso(alpha=0.01), ["--alpha", "0.01"]),
]

data = {"titanic": load_titanic(), "synth": load_synth()}
X, y = data["synth"]
data["synth-reg"] = (X[:, 1:], X[:, 0])  # predict f0 from the others

rows = []
for dataset, model, make, extra in CASES:
    Xd, yd = data[dataset]
    Xtr, Xte, ytr, yte = train_test_split(Xd, yd, test_size=0.2, random_state=42)
    fits, score = [], None
    for _ in range(repeat):
        est = make(); t = time.perf_counter(); est.fit(Xtr, ytr); fits.append(time.perf_counter() - t)
        pred = est.predict(Xte)
        score = r2_score(yte, pred) if dataset == "synth-reg" else accuracy_score(yte, pred)
    if dataset == "titanic":
        args = ["--data", titanic] + TITANIC_ARGS
    elif dataset == "synth":
        args = ["--data", synth, "--target", "target"]
    else:
        args = ["--data", synth, "--target", "f0", "--drop", "target"]
    mlx_fits, mlx_score = [], None
    for _ in range(repeat):
        out = subprocess.run([mlx, "--tracking-uri", store, "train", "--model", model, "-o", "json"] + args + extra,
                             check=True, capture_output=True, text=True).stdout
        m = json.loads(out)["metrics"]
        mlx_fits.append(m["training_time"]); mlx_score = m.get("r2", m.get("accuracy"))
    sk, mx = statistics.median(fits), statistics.median(mlx_fits)
    rows.append((dataset, model, sk, score, mx, mlx_score, mx / sk if sk > 0 else float("nan")))

print("| data | model | scikit-learn fit s | sklearn score | mlx fit s | mlx score | mlx/sklearn time |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for d, m, sk, ss, mx, ms, ratio in rows:
    print(f"| {d} | {m} | {sk:.4f} | {ss:.4f} | {mx:.4f} | {ms:.4f} | {ratio:.2f}× |")
