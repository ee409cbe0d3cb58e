#!/usr/bin/env python3
"""Run search queries through the real MLflow client (used by mlx's search interop test).

Usage: mlflow_search.py STORE_DIR_OR_URI < queries.json (a folder, or a URI such as sqlite:////abs/mlflow.db)
queries.json: [{"filter": "...", "order_by": ["..."], "max_results": N}, ...]
Prints a JSON list: for each query, the run ids in MLflow's order, or {"error": message}.
"""
import json, os, sys, warnings, logging

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

target = sys.argv[1]
client = MlflowClient(target if "://" in target else "file://" + os.path.abspath(target))
exp_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
out = []
for q in json.load(sys.stdin):
    try:
        runs = client.search_runs(exp_ids, filter_string=q.get("filter", ""), order_by=q.get("order_by") or None,
                                  max_results=q.get("max_results", 1000))
        out.append([r.info.run_id for r in runs])
    except Exception as e:  # noqa: BLE001 - report MLflow's refusal as data
        out.append({"error": str(e).splitlines()[0]})
json.dump(out, sys.stdout)
