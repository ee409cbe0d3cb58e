#!/usr/bin/env python3
"""The real MLflow client (3.17.2) on its default store, `sqlite:///mlflow.db`, with no environment variables:
what MLflow writes there for mlx to read, and what mlx wrote there read back by MLflow.

usage: mlflow_sqlite.py DIR seed                  -> seed-style code in DIR (MLflow's defaults): two runs of
                                                     experiment "seed", a skops LogisticRegression registered
                                                     as "seed-model" v1 with alias Champion; writes DIR/rows.csv
                                                     and prints JSON {run_ids, lr_run, predict, search, history}
       mlflow_sqlite.py DIR read NAME ALIAS CSV    -> JSON: every run MLflow finds, the alias's version, the
                                                     metric histories of that version's run, and
                                                     pyfunc.load_model("models:/NAME@ALIAS").predict(CSV)
       mlflow_sqlite.py DIR log                    -> one more run with MLflow's defaults; prints the tracking
                                                     URI MLflow chose (it must still be the sqlite file)
Runs with DIR as the working directory, as a user's script would.
"""
import json
import logging
import os
import sys
import warnings

for k in list(os.environ):
    if k.startswith("MLFLOW_"):
        del os.environ[k]
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
os.chdir(sys.argv[1])

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def seed():
    import skops.io as sio
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    X = iris.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    y = (iris.target == 2).astype(int)
    X_test = X.iloc[::7]
    mlflow.set_experiment("seed")
    run_ids = []
    for c in (0.1, 1.0):
        model = LogisticRegression(C=c, max_iter=500).fit(X, y)
        with mlflow.start_run(run_name=f"lr-{c}") as run:
            mlflow.log_params({"C": c, "max_iter": 500})
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1) + c, step=step)
            mlflow.log_metric("accuracy", float(model.score(X, y)))
            mlflow.set_tag("team", "ml")
            if c == 1.0:
                mlflow.sklearn.log_model(
                    model,
                    name="model",
                    signature=infer_signature(X, model.predict(X)),
                    serialization_format="skops",
                    skops_trusted_types=sio.get_untrusted_types(data=sio.dumps(model)),
                    registered_model_name="seed-model",
                    pip_requirements=[f"scikit-learn=={sklearn.__version__}", "skops==0.16.0"],
                )
                lr_run, lr_model = run.info.run_id, model
        run_ids.append(run.info.run_id)
    MlflowClient().set_registered_model_alias("seed-model", "Champion", 1)
    X_test.to_csv("rows.csv", index=False, float_format="%.17g")
    found = mlflow.search_runs(
        experiment_names=["seed"],
        filter_string="metrics.accuracy > 0.5",
        order_by=["metrics.accuracy DESC", "params.C ASC"],
        max_results=10,
    )
    history = [
        [m.step, m.value] for m in MlflowClient().get_metric_history(lr_run, "loss")
    ]
    json.dump(
        {
            "run_ids": run_ids,
            "lr_run": lr_run,
            "predict": lr_model.predict(X_test).tolist(),
            "search": found["run_id"].tolist(),
            "history": history,
        },
        sys.stdout,
    )


def read(name, alias, csv):
    client = MlflowClient()
    experiments = client.search_experiments()
    runs = {}
    for r in client.search_runs([e.experiment_id for e in experiments], max_results=1000):
        runs[r.info.run_id] = {
            "experiment": client.get_experiment(r.info.experiment_id).name,
            "status": r.info.status,
            "params": r.data.params,
            "metrics": r.data.metrics,
            "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")},
        }
    version = client.get_model_version_by_alias(name, alias)
    histories = {
        key: [[m.step, m.value] for m in client.get_metric_history(version.run_id, key)]
        for key in client.get_run(version.run_id).data.metrics
    }
    model = mlflow.pyfunc.load_model(f"models:/{name}@{alias}")
    rows = pd.read_csv(csv)
    predicted = model.predict(rows)
    predicted = predicted.iloc[:, 0] if isinstance(predicted, pd.DataFrame) else predicted
    json.dump(
        {
            "tracking_uri": mlflow.get_tracking_uri(),
            "runs": runs,
            "alias_version": int(version.version),
            "alias_run_id": version.run_id,
            "histories": histories,
            "predict": np.asarray(predicted).tolist(),
        },
        sys.stdout,
        default=str,
    )


def log():
    mlflow.set_experiment("later")
    with mlflow.start_run():
        mlflow.log_metric("x", 1.0)
    print(mlflow.get_tracking_uri())


mode = sys.argv[2]
if mode == "seed":
    seed()
elif mode == "read":
    read(*sys.argv[3:6])
else:
    log()
