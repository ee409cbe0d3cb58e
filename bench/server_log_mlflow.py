#!/usr/bin/env python3
"""The MLflow side of bench/server_log_bench.sh: log N runs x (10 params, 5 metrics x 100 steps) to a tracking
server with the MLflow Python client, either the idiomatic way (log_metrics per step) or in one log_batch."""
import argparse, logging, time, warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
t_import = time.perf_counter()
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

ap = argparse.ArgumentParser()
ap.add_argument("--uri", required=True)
ap.add_argument("--n", type=int, default=100)
ap.add_argument("--mode", choices=["per-step", "batch"], default="per-step")
ap.add_argument("--experiment", default="bench-mlflow")
a = ap.parse_args()
import_s = time.perf_counter() - t_import
mlflow.set_tracking_uri(a.uri)
mlflow.set_experiment(f"{a.experiment}-{a.mode}")
client = MlflowClient(a.uri)
keys = ["loss", "accuracy", "precision", "recall", "f1"]
t0 = time.perf_counter()
for i in range(a.n):
    params = {f"p{p}": str((i * 7 + p) % 13) for p in range(10)}
    with mlflow.start_run() as run:
        if a.mode == "per-step":
            mlflow.log_params(params)
            for step in range(100):
                mlflow.log_metrics({k: 1.0 / (step + 1 + j) for j, k in enumerate(keys)}, step=step)
        else:
            now = int(time.time() * 1000)
            metrics = [Metric(k, 1.0 / (step + 1 + j), now, step) for step in range(100) for j, k in enumerate(keys)]
            client.log_batch(run.info.run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()])
wall = time.perf_counter() - t0
print(f"mlflow {a.mode}: {a.n} runs in {wall:.2f} s = {wall / a.n * 1000:.1f} ms/run (import {import_s:.1f} s not counted)")
