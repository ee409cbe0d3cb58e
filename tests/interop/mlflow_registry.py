#!/usr/bin/env python3
"""The real MLflow client against mlx's registry (used by mlx's registry interop test).

Usage: mlflow_registry.py STORE_DIR read MODEL ALIAS   -> JSON: the version the alias resolves to, all versions
       mlflow_registry.py STORE_DIR write RUN_ID        -> registers 'py-model' v1 and v2 from the run, alias Champion=2
"""
import json, os, sys, warnings, logging

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
from mlflow.tracking import MlflowClient

store, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
mlflow.set_tracking_uri("file://" + store)
client = MlflowClient()
if mode == "read":
    name, alias = sys.argv[3], sys.argv[4]
    v = client.get_model_version_by_alias(name, alias)
    rm = client.get_registered_model(name)
    versions = client.search_model_versions(f"name='{name}'")
    json.dump({
        "alias_version": int(v.version), "alias_run_id": v.run_id, "alias_source": v.source,
        "aliases": {a: int(x) for a, x in rm.aliases.items()},
        "description": rm.description, "tags": rm.tags,
        "versions": sorted(int(x.version) for x in versions),
        "version_tags": {str(x.version): x.tags for x in versions},
    }, sys.stdout, sort_keys=True)
else:
    run_id = sys.argv[3]
    client.create_registered_model("py-model", description="registered by MLflow")
    for _ in range(2):
        client.create_model_version("py-model", source=f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias("py-model", "Champion", 2)
    print("ok")
