#!/usr/bin/env python3
"""Dump everything the real MLflow client sees in a file store as JSON (used by mlx's interop tests).

Usage: mlflow_dump.py STORE_DIR
Prints {"experiments": [...], "runs": {run_id: {...}}, "search": [...]}: search_experiments (all view types),
search_runs over all experiments (all view types), and per run get_run, get_metric_history for every metric
key, and list_artifacts walked recursively.
"""
import json, os, sys, warnings, logging

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

store = os.path.abspath(sys.argv[1])
uri = "file://" + store
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)


def f(v):
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def walk(run_id, path=None):
    out = []
    for a in client.list_artifacts(run_id, path):
        if a.is_dir:
            out.extend(walk(run_id, a.path))
        else:
            out.append({"path": a.path, "file_size": a.file_size})
    return out


exps = client.search_experiments(view_type=ViewType.ALL)
out = {"experiments": [], "runs": {}, "search": []}
for e in exps:
    out["experiments"].append({
        "experiment_id": e.experiment_id, "name": e.name, "lifecycle_stage": e.lifecycle_stage,
        "artifact_location": e.artifact_location, "tags": dict(e.tags),
    })
ids = [e.experiment_id for e in exps]
df = mlflow.search_runs(experiment_ids=ids, run_view_type=ViewType.ALL, output_format="list")
for r in df:
    out["search"].append(r.info.run_id)
    run = client.get_run(r.info.run_id)
    info = run.info
    hist = {}
    for key in run.data.metrics:
        hist[key] = [[m.timestamp, f(m.value), m.step] for m in client.get_metric_history(info.run_id, key)]
    out["runs"][info.run_id] = {
        "run_name": info.run_name, "experiment_id": info.experiment_id, "status": info.status,
        "lifecycle_stage": info.lifecycle_stage, "user_id": info.user_id, "start_time": info.start_time,
        "end_time": info.end_time, "artifact_uri": info.artifact_uri,
        "params": run.data.params, "tags": run.data.tags,
        "metrics": {k: f(v) for k, v in run.data.metrics.items()},
        "history": hist,
        "artifacts": walk(info.run_id),
        "inputs": [{"name": d.dataset.name, "digest": d.dataset.digest} for d in run.inputs.dataset_inputs],
    }
json.dump(out, sys.stdout, indent=1, sort_keys=True)
