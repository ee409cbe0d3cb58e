#!/usr/bin/env python3
"""Write a store with the real MLflow client, for mlx to read back (used by mlx's interop tests).

Usage: mlflow_write.py STORE_DIR
Prints the run ids it created as JSON: {"finished": ID, "failed": ID, "deleted": ID, "experiment_id": ID}.
"""
import json, os, sys, warnings, logging, tempfile

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
from mlflow.tracking import MlflowClient

store = os.path.abspath(sys.argv[1])
mlflow.set_tracking_uri("file://" + store)
client = MlflowClient()
exp_id = mlflow.set_experiment("py-exp").experiment_id
client.set_experiment_tag(exp_id, "owner", "python")
with mlflow.start_run(run_name="py-finished") as run:
    mlflow.log_params({"alpha": 0.5, "n_estimators": 100, "nested/key": "x"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metric("accuracy", 0.875)
    mlflow.log_metric("eval/auc", float("nan"))
    mlflow.set_tag("team", "ml")
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "notes.txt")
        open(p, "w").write("hello from python\n")
        mlflow.log_artifact(p)
        mlflow.log_artifact(p, artifact_path="sub/dir")
    finished = run.info.run_id
with mlflow.start_run(run_name="py-failed") as run:
    mlflow.log_metric("accuracy", 0.5)
    failed = run.info.run_id
client.set_terminated(failed, status="FAILED")
with mlflow.start_run(run_name="py-deleted") as run:
    mlflow.log_param("p", "1")
    deleted = run.info.run_id
client.delete_run(deleted)
print(json.dumps({"finished": finished, "failed": failed, "deleted": deleted, "experiment_id": exp_id}))
