"""Signatures against pandas itself (mlflow 3.17.2's pandas): what `pandas.read_csv` makes of a file, and what
MLflow's pyfunc predicts on exactly that frame.

    python pandas_signature.py write DIR      # pandas-written CSVs (df.to_csv): DIR/wine.csv, DIR/diabetes.csv
    python pandas_signature.py check SPEC.json

SPEC.json (written by tests/it/pyfunc.rs): [{"name", "uri", "data"}...]. `check` prints one JSON line: per
model, the signature's input types, the MLflow types of the dtypes `pd.read_csv(data)` gives those columns,
and `model.predict(pd.read_csv(data))` as a list (or the error MLflow raised, as text).
"""

import json
import os
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def mlflow_type(dtype):
    """The MLflow column type MLflow's schema check accepts for a pandas dtype without conversion."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    return "string"


def write(out):
    rng = np.random.default_rng(7)
    n = 60
    wine = pd.DataFrame(
        {
            # Integral floats: to_csv writes 59.0, 127.0.
            "alcohol": np.round(rng.uniform(9, 14, n)).astype(np.float64),
            "acidity": np.round(rng.uniform(2, 9, n), 2),
            "sulphates": (rng.integers(40, 130, n) * 1.0),
            "organic": rng.integers(0, 2, n).astype(bool),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    wine["quality"] = np.where(wine["alcohol"] + wine["organic"] * 2 > 12, "good", "plain")
    wine.to_csv(os.path.join(out, "wine.csv"), index=False)
    diabetes = pd.DataFrame(
        {
            "age": rng.integers(20, 80, n).astype(np.float64),
            "bmi": np.round(rng.uniform(18, 40, n), 1),
            "bp": rng.integers(60, 130, n).astype(np.float64),
            "visits": rng.integers(0, 9, n),
        }
    )
    diabetes.loc[3, "visits"] = None  # an int column with a gap: float64
    diabetes["progression"] = diabetes["age"] * 1.5 + diabetes["bmi"] * 3.0 + rng.normal(0, 5, n)
    diabetes.to_csv(os.path.join(out, "diabetes.csv"), index=False)
    print(json.dumps(sorted(os.listdir(out))))


def check(spec_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    out = []
    for m in spec:
        signature = mlflow.models.Model.load(m["uri"]).signature
        columns = signature.inputs.input_names()
        df = pd.read_csv(m["data"])
        entry = {
            "name": m["name"],
            "signature": {c.name: c.type.name for c in signature.inputs.inputs},
            "pandas": {c: mlflow_type(df[c].dtype) for c in columns},
        }
        try:
            got = mlflow.pyfunc.load_model(m["uri"]).predict(df)
            entry["predictions"] = [v.item() if hasattr(v, "item") else v for v in np.asarray(got).tolist()]
        except Exception as e:  # noqa: BLE001 — the message is what the test shows
            entry["error"] = str(e)
        out.append(entry)
    print(json.dumps(out))


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
