#!/usr/bin/env python3
"""Write the same runs into a store with the real MLflow client, for comparing query answers between a
file store and a tracking server (mlx's pushdown test).

Usage: search_population.py TRACKING_URI EXPERIMENT_NAME N
Runs have ties in start time and metric values, missing params/metrics/tags, NaN and ±infinity metrics, a
tag ending in a newline, running and finished runs. Prints {"experiment_id": ...}.
"""
import json, math, os, sys, warnings, logging

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

uri, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out, sys.stdout = sys.stdout, sys.stderr  # MLflow prints links to the runs it ends
if "://" not in uri:
    uri = "file://" + os.path.abspath(uri)
client = MlflowClient(uri)
exp = client.create_experiment(name)
base = 1_700_000_000_000
for i in range(n):
    start = base + (i // 3) * 1000  # three runs per start time
    run = client.create_run(exp, start_time=start, run_name=f"r{i:03d}")
    rid = run.info.run_id
    params = [Param("lr", str(0.1 * (i % 4)))]
    if i % 7 != 0:
        params.append(Param("model", ["rf", "gb", "lr", "RF"][i % 4]))
    metrics = [Metric("loss", ((i * 13) % 20) / 20, start, 0)]
    if i % 5 != 0:
        acc = ((i * 37) % 10) / 10  # ten distinct values: many ties
        if i % 11 == 0:
            acc = float("nan")
        elif i == 13:
            acc = math.inf
        elif i == 17:
            acc = -math.inf
        metrics.append(Metric("accuracy", acc, start, 1))
    tags = []
    if i % 4 != 3:
        tags.append(RunTag("team", ["a", "b"][i % 2]))
    if i % 9 == 0:
        tags.append(RunTag("note", "x\n"))
    client.log_batch(rid, metrics=metrics, params=params, tags=tags)
    if i % 6 != 0:
        status = "FAILED" if i % 8 == 0 else "FINISHED"
        client.set_terminated(rid, status=status, end_time=start + 500 + (i % 5) * 100)
json.dump({"experiment_id": exp}, out)
