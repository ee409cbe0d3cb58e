#!/usr/bin/env python3
"""What the real MLflow client finds of mlx's models (used by mlx's interop tests).

Usage: mlflow_models.py STORE_DIR RUN_ID [REGISTERED_NAME]
Prints JSON: the logged models search_logged_models finds, the files MLflow downloads for runs:/RUN/model,
and, with a name, the registered versions and what models:/NAME/latest downloads.
"""
import json, os, sys, tempfile, warnings, logging

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
from mlflow.tracking import MlflowClient

store, run_id = os.path.abspath(sys.argv[1]), sys.argv[2]
mlflow.set_tracking_uri("file://" + store)
client = MlflowClient()
run = client.get_run(run_id)
out = {"logged_models": [], "run_outputs": [o.model_id for o in run.outputs.model_outputs]}
for m in mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list"):
    out["logged_models"].append({"model_id": m.model_id, "name": m.name, "source_run_id": m.source_run_id,
                                 "params": m.params, "metrics": {x.key: x.value for x in (m.metrics or [])}})
with tempfile.TemporaryDirectory() as d:
    path = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=d)
    out["runs_uri_files"] = sorted(os.listdir(path))
if len(sys.argv) > 3:
    name = sys.argv[3]
    out["versions"] = [{"version": int(v.version), "run_id": v.run_id, "source": v.source}
                       for v in client.search_model_versions(f"name='{name}'")]
    with tempfile.TemporaryDirectory() as d:
        path = mlflow.artifacts.download_artifacts(f"models:/{name}/latest", dst_path=d)
        out["latest_files"] = sorted(os.listdir(path))
json.dump(out, sys.stdout, indent=1, sort_keys=True)
