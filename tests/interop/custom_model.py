"""The guide's custom model: a `mlflow.pyfunc.PythonModel` whose `load_context` loads a scikit-learn model
from `context.artifacts["model_path"]`, with pre-processing (missing values filled, a derived feature) and
post-processing (a label and a rounded probability per row).

    custom_model.py save OUT_DIR             saves the model folder (mlflow.pyfunc.save_model)
    custom_model.py predict MODEL_DIR CSV    prints mlflow.pyfunc.load_model(MODEL_DIR).predict(CSV) as CSV
    custom_model.py data CSV ROWS            writes ROWS rows of input (id,x1,x2,x3)
"""

import os
import sys
import tempfile

import numpy as np
import pandas as pd

FEATURES = ["x1", "x2", "x3"]


def rows(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).round(4)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame.insert(0, "id", np.arange(n))
    return frame


def save(out):
    import mlflow.pyfunc
    import pickle

    from sklearn.linear_model import LogisticRegression

    class CustomModel(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            with open(context.artifacts["model_path"], "rb") as f:
                self.model = pickle.load(f)

        def predict(self, context, model_input, params=None):
            x = model_input[FEATURES].astype("float64").fillna(0.0)
            x = x.assign(x3=x["x3"] * 2.0)
            proba = self.model.predict_proba(x)[:, 1]
            return pd.DataFrame(
                {"label": np.where(proba > 0.5, "yes", "no"), "score": proba.round(6)}
            )

    train = rows(500, seed=1)
    y = (train["x1"] + 0.5 * train["x2"] - train["x3"] > 0).astype(int)
    x = train[FEATURES].assign(x3=train["x3"] * 2.0)
    fitted = LogisticRegression().fit(x, y)
    work = tempfile.mkdtemp()
    path = os.path.join(work, "model.pkl")
    with open(path, "wb") as f:
        pickle.dump(fitted, f)
    mlflow.pyfunc.save_model(
        out,
        python_model=CustomModel(),
        artifacts={"model_path": path},
        input_example=train[FEATURES].head(3),
    )


def main():
    cmd = sys.argv[1]
    if cmd == "save":
        save(sys.argv[2])
    elif cmd == "predict":
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(sys.argv[2])
        out = model.predict(pd.read_csv(sys.argv[3]))
        sys.stdout.write(pd.DataFrame(out).to_csv(index=False))
    elif cmd == "data":
        rows(int(sys.argv[3])).to_csv(sys.argv[2], index=False)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
