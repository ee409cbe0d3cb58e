"""Re-save a pickled MLflow model in a format mlx reads natively; run by `mlx models import`.

mlx never unpickles: this script runs in the user's own Python (which must have the model's
libraries) and writes a skops file (scikit-learn estimators and pipelines, LightGBM's scikit-learn
wrappers) or XGBoost's UBJSON format, then prints one JSON line describing what it wrote.

Usage: python import_model.py KIND SOURCE OUT_DIR [MODEL_CLASS]
KIND is "pickle" (a pickle or cloudpickle file) or "xgboost" (an XGBoost model file).
"""

import json
import os
import sys


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(3)


def need(module, pip_name):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        fail(f"this Python ({sys.executable}) cannot import {module} ({e}); pip install {pip_name}")


def from_pickle(source, out_dir):
    import pickle

    # cloudpickle files refer to cloudpickle's own helpers; import it when present.
    try:
        import cloudpickle  # noqa: F401
    except ImportError:
        pass
    sio = need("skops.io", "skops")
    try:
        with open(source, "rb") as f:
            model = pickle.load(f)
    except ModuleNotFoundError as e:
        fail(f"the pickle needs the module {e.name!r}, which this Python ({sys.executable}) lacks")
    out = os.path.join(out_dir, "model.skops")
    sio.dump(model, out)
    trusted = sio.get_untrusted_types(file=out)
    # Read it back as MLflow will, so a file skops cannot load is never written as a success.
    sio.load(out, trusted=trusted)
    cls = type(model)
    return {
        "file": "model.skops",
        "format": "skops",
        "trusted_types": trusted,
        "class": f"{cls.__module__}.{cls.__qualname__}",
    }


def from_xgboost(source, out_dir, model_class):
    xgb = need("xgboost", "xgboost")
    name = model_class.rsplit(".", 1)[-1]
    wrappers = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")
    model = getattr(xgb, name)() if name in wrappers else xgb.Booster()
    model.load_model(source)
    model.save_model(os.path.join(out_dir, "model.ubj"))
    return {"file": "model.ubj", "format": "ubj", "class": model_class}


def main():
    if len(sys.argv) < 4:
        fail(__doc__)
    kind, source, out_dir = sys.argv[1:4]
    model_class = sys.argv[4] if len(sys.argv) > 4 else ""
    if kind == "pickle":
        result = from_pickle(source, out_dir)
    elif kind == "xgboost":
        result = from_xgboost(source, out_dir, model_class)
    else:
        fail(f"unknown kind {kind!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
