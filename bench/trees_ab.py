#!/usr/bin/env python3
"""Two mlx binaries side by side on the tree models (ABBA-alternated, medians): gradient boosting and the
100-tree random forest fit on the synthetic file (100,000 x 20), then batch prediction of the whole file
(process CPU) and a whole `mlx predict` process that loads the model and predicts one row (wall).

Made to check a change to the tree code: predictions must not change (compare the outputs too) and these
figures must stay within noise, or the change says why.

Usage: bench/trees_ab.py BEFORE_BIN AFTER_BIN [--data synth.csv] [--out /tmp/mlx-trees-ab]
(synth.csv: `python3 ../shared/data/gen_synth.py synth.csv`)
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path


def run(argv, env):
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--data", default="synth.csv")
    ap.add_argument("--out", default="/tmp/mlx-trees-ab")
    a = ap.parse_args()
    bins = {"before": a.before, "after": a.after}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MLX_TRACKING_URI=str(out / "mlruns"))
    header = Path(a.data).open().readline().strip().split(",")
    first = Path(a.data).open().readlines()[1].strip().split(",")
    keep = [i for i, h in enumerate(header) if h != "target"]
    (out / "one.csv").write_text(
        ",".join(header[i] for i in keep) + "\n" + ",".join(first[i] for i in keep) + "\n")

    def ab(label, argv_of, pairs, key):
        t = {"before": [], "after": []}
        outputs = {}
        for i in range(pairs):
            for side in (["before", "after"] if i % 2 == 0 else ["after", "before"]):
                text, cpu, wall = run(argv_of(bins[side]), env)
                t[side].append(key(text, cpu, wall))
                outputs[side] = text
        b, f = statistics.median(t["before"]), statistics.median(t["after"])
        print(f"| {label} | {b:.3f} (min {min(t['before']):.3f}) | {f:.3f} (min {min(t['after']):.3f}) "
              f"| {100 * (f - b) / b:+.1f}% |", flush=True)
        return outputs

    def train(model, *extra):
        return lambda b: [b, "train", "--data", a.data, "--target", "target", "--model", model, "--seed", "42",
                          "-o", "json", "--n-estimators", "100", *extra]

    fit = lambda text, cpu, wall: json.loads(text)["metrics"]["training_time"]
    print("load", os.getloadavg())
    print("| measure | before, median | after, median | change |\n|---|---|---|---|")
    ab("gradient boosting fit, s (2 threads)", train("gradient-boosting"), 4, fit)
    ab("gradient boosting fit, s (`--jobs 1`)", train("gradient-boosting", "--jobs", "1"), 3, fit)
    ab("random forest fit, s (100 trees)", train("random-forest"), 3, fit)
    for model in ["gradient-boosting", "random-forest"]:
        uri = json.loads(run(train(model)(a.before), env)[0])["model_uri"]
        outs = ab(f"{model}: predict 100,000 rows, process CPU s",
                  lambda b: [b, "predict", "-m", uri, "--data", a.data, "--with-proba", "-o", "csv"], 3,
                  lambda text, cpu, wall: cpu)
        assert outs["before"] == outs["after"], f"{model}: the predictions differ"
        ab(f"{model}: load and predict one row, whole process, ms",
           lambda b: [b, "predict", "-m", uri, "--data", str(out / "one.csv"), "-o", "csv"], 8,
           lambda text, cpu, wall: wall * 1000)
    print("load", os.getloadavg())


if __name__ == "__main__":
    main()
