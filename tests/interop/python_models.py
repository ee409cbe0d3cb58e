"""Log models only Python can run with the real MLflow (3.17.2) into a file store, for `mlx serve --python`.

usage: python_models.py STORE WORK_DIR
STORE is an mlruns folder; WORK_DIR holds the artifacts and the marker files the models write. Registers:
  custom  v1  the guide's CustomModel: `load_context` loads `context.artifacts["model_path"]` (a pickled
              scikit-learn LogisticRegression), `predict` pre-processes (fills missing values, scales) and
              post-processes (labels "yes"/"no" with the probability, one record per row)
  code    v1  a models-from-code model (`python_model="model.py"`): x * 10 + 1
  faulty  v1  x * 2, but raises for a negative x, and never returns for x == 999; for x == 777 it writes
              WORK_DIR/started-<pid> then sleeps (to be killed)
  fewer   v1  one row (the sum of x) whatever it is given
  Both faulty and fewer, given x == 555, write WORK_DIR/gated-<pid> and wait until WORK_DIR/gate exists
  (at most 60 s): a test holds the worker there while it queues requests.
  mixed   v1  scikit-learn (skops, read natively by mlx); v2 the CustomModel; alias "champ" -> v1
Prints JSON {"custom": "models:/custom/1", ...}.
"""
import json
import os
import pickle
import sys
import warnings

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore")


class CustomModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["model_path"], "rb") as f:
            self.model = pickle.load(f)

    def predict(self, context, model_input, params=None):
        x = model_input[["a", "b"]].astype(float).fillna(0.0) / 10.0
        p = self.model.predict_proba(x.to_numpy())[:, 1]
        return pd.DataFrame({"label": np.where(p >= 0.5, "yes", "no"), "p_yes": np.round(p, 6)})


def _gate(marker_dir, x):
    import time

    if (x == 555).any():
        with open(os.path.join(marker_dir, f"gated-{os.getpid()}"), "w") as f:
            f.write("gated")
        for _ in range(600):
            if os.path.exists(os.path.join(marker_dir, "gate")):
                return
            time.sleep(0.1)


class Faulty(mlflow.pyfunc.PythonModel):
    def __init__(self, marker_dir):
        self.marker_dir = marker_dir

    def predict(self, context, model_input, params=None):
        import time

        x = model_input["x"].astype(float)
        _gate(self.marker_dir, x)
        if (x < 0).any():
            raise ValueError(f"x must not be negative, got {x[x < 0].iloc[0]:g}")
        if (x == 777).any():
            with open(os.path.join(self.marker_dir, f"started-{os.getpid()}"), "w") as f:
                f.write("started")
            time.sleep(600)
        if (x == 999).any():
            time.sleep(600)
        return (x * 2).tolist()


class Fewer(mlflow.pyfunc.PythonModel):
    def __init__(self, marker_dir):
        self.marker_dir = marker_dir

    def predict(self, context, model_input, params=None):
        _gate(self.marker_dir, model_input["x"].astype(float))
        return pd.DataFrame({"total": [float(model_input["x"].astype(float).sum())]})


CODE = '''
import mlflow
from mlflow.models import set_model


class TimesTen(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return (model_input["x"].astype(float) * 10 + 1).tolist()


set_model(TimesTen())
'''


def main():
    store, work = sys.argv[1], sys.argv[2]
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("python-models")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)) * 10
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = LogisticRegression().fit(X / 10.0, y)
    model_path = os.path.join(work, "clf.pkl")
    with open(model_path, "wb") as f:
        pickle.dump(clf, f)
    ab = pd.DataFrame({"a": [1.0, -2.0], "b": [3.0, -4.0]})
    xs = pd.DataFrame({"x": [1.0, 2.0]})
    out = {}
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model",
            python_model=CustomModel(),
            artifacts={"model_path": model_path},
            signature=infer_signature(ab),
            registered_model_name="custom",
        )
    out["custom"] = "models:/custom/1"
    code_path = os.path.join(work, "model.py")
    with open(code_path, "w") as f:
        f.write(CODE)
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model",
            python_model=code_path,
            input_example=xs,
            registered_model_name="code",
        )
    out["code"] = "models:/code/1"
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model",
            python_model=Faulty(work),
            signature=infer_signature(xs),
            registered_model_name="faulty",
        )
    out["faulty"] = "models:/faulty/1"
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model", python_model=Fewer(work), signature=infer_signature(xs), registered_model_name="fewer"
        )
    out["fewer"] = "models:/fewer/1"
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            clf,
            name="model",
            signature=infer_signature(ab),
            registered_model_name="mixed",
            serialization_format="skops",
            skops_trusted_types=[],
        )
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="model",
            python_model=CustomModel(),
            artifacts={"model_path": model_path},
            signature=infer_signature(ab),
            registered_model_name="mixed",
        )
    mlflow.MlflowClient().set_registered_model_alias("mixed", "champ", 1)
    out["mixed"] = "models:/mixed@champ"
    print(json.dumps(out))


main()
