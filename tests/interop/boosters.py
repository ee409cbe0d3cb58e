"""Log LightGBM and XGBoost models with the real MLflow (3.17.2, each library's own flavor) into a file
store and write what the library itself predicts on held-out rows, for mlx to match.

usage: boosters.py STORE OUT_DIR [NAME ...]
For each model NAME (all when none is given) it logs a run with the model under artifact path "model",
writes OUT_DIR/NAME.csv (held-out rows, some values missing, every float written so it reads back to the
bit) and prints JSON: {NAME: {"run_id", "predict": [...], "proba": [[...]] or null, "classes": [...] or null}}.
A Booster with a classification objective predicts probabilities; mlx gives them as its probabilities
and their argmax as the label, so "predict" is that argmax here and "proba" the library's output
(stacked as 1 - p, p for binary, in the library's precision).
"""
import json
import sys
import warnings

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import mlflow.sklearn
import mlflow.xgboost
import numpy as np
import pandas as pd
import xgboost as xgb
from mlflow.models import infer_signature
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

warnings.filterwarnings("ignore")


def with_gaps(X, seed):
    rng = np.random.default_rng(seed)
    X = X.copy()
    for c in X.columns[:3]:
        X.loc[rng.choice(len(X), len(X) // 12, replace=False), c] = np.nan
    return X


def cancer():
    b = datasets.load_breast_cancer()
    X = pd.DataFrame(b.data[:, :8], columns=[f"f{i}" for i in range(8)])
    return with_gaps(X, 1), pd.Series(b.target)


def wine():
    b = datasets.load_wine()
    X = pd.DataFrame(b.data[:, :6], columns=[f"w{i}" for i in range(6)])
    return with_gaps(X, 2), pd.Series(b.target)


def diabetes():
    b = datasets.load_diabetes()
    X = pd.DataFrame(b.data, columns=[f"x{i}" for i in range(10)])
    return with_gaps(X, 3), pd.Series(b.target)


def no_gaps(data):
    def f():
        X, y = data()
        return X.fillna(X.median()), y

    return f


def lgb_booster(params):
    def fit(X, y):
        return lgb.train({**params, "verbose": -1}, lgb.Dataset(X, y), 40)

    return fit


def xgb_booster(params):
    def fit(X, y):
        return xgb.train(params, xgb.DMatrix(X, y), 30)

    return fit


def sk(make):
    return lambda X, y: make().fit(X, y)


# name: (data, fit, flavor, log_model keyword arguments)
MODELS = {
    "lgb_booster_binary": (cancer, lgb_booster({"objective": "binary"}), "lightgbm", {}),
    "lgb_booster_multiclass": (wine, lgb_booster({"objective": "multiclass", "num_class": 3}), "lightgbm", {}),
    "lgb_booster_regression": (diabetes, lgb_booster({"objective": "regression"}), "lightgbm", {}),
    "lgb_classifier_labels": (
        lambda: (wine()[0], wine()[1].map({0: "red", 1: "rose", 2: "white"})),
        sk(lambda: lgb.LGBMClassifier(n_estimators=30, verbose=-1)),
        "lightgbm",
        {},
    ),
    "lgb_classifier_binary": (cancer, sk(lambda: lgb.LGBMClassifier(n_estimators=30, verbose=-1)), "lightgbm", {}),
    "lgb_regressor": (diabetes, sk(lambda: lgb.LGBMRegressor(n_estimators=30, verbose=-1)), "lightgbm", {}),
    "xgb_booster_binary": (cancer, xgb_booster({"objective": "binary:logistic"}), "xgboost", {}),
    "xgb_booster_regression_json": (
        diabetes,
        xgb_booster({"objective": "reg:squarederror"}),
        "xgboost",
        {"model_format": "json"},
    ),
    "xgb_classifier_multiclass": (wine, sk(lambda: xgb.XGBClassifier(n_estimators=20, max_depth=3)), "xgboost", {}),
    "xgb_classifier_binary": (cancer, sk(lambda: xgb.XGBClassifier(n_estimators=20, max_depth=3)), "xgboost", {}),
    "xgb_regressor": (diabetes, sk(lambda: xgb.XGBRegressor(n_estimators=25, max_depth=4)), "xgboost", {}),
    # Imported with `mlx models import`: a cloudpickle-format scikit-learn model.
    "sk_cloudpickle": (
        no_gaps(cancer),
        sk(lambda: LogisticRegression(max_iter=5000)),
        "sklearn",
        {"serialization_format": "cloudpickle"},
    ),
}


def expected(model, X):
    """(labels, probabilities or None) as the library computes them."""
    if isinstance(model, lgb.Booster) or isinstance(model, xgb.Booster):
        out = model.predict(X if isinstance(model, lgb.Booster) else xgb.DMatrix(X))
        objective = model.params.get("objective", "") if isinstance(model, lgb.Booster) else ""
        if isinstance(model, xgb.Booster):
            objective = json.loads(model.save_config())["learner"]["objective"]["name"]
        if objective in ("binary", "binary:logistic"):
            proba = np.vstack([1 - out, out]).T
        elif out.ndim == 2:
            proba = out
        else:
            return out.tolist(), None
        return proba.argmax(axis=1).tolist(), proba.tolist()
    labels = model.predict(X).tolist()
    proba = model.predict_proba(X).tolist() if hasattr(model, "predict_proba") else None
    return labels, proba


def log(flavor, model, X_train, kwargs):
    sig = infer_signature(X_train)
    # Naming the requirements skips MLflow's inference (a subprocess per model, most of the time here).
    kwargs = {**kwargs, "pip_requirements": [{"sklearn": "scikit-learn"}.get(flavor, flavor)]}
    if flavor == "lightgbm":
        mlflow.lightgbm.log_model(model, name="model", signature=sig, **kwargs)
    elif flavor == "xgboost":
        mlflow.xgboost.log_model(model, name="model", signature=sig, **kwargs)
    else:
        if "serialization_format" not in kwargs:
            import skops.io as sio

            kwargs = {**kwargs, "skops_trusted_types": sio.get_untrusted_types(data=sio.dumps(model))}
        mlflow.sklearn.log_model(model, name="model", signature=sig, **kwargs)


def main():
    store, out_dir, names = sys.argv[1], sys.argv[2], sys.argv[3:] or list(MODELS)
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("boosters")
    result = {}
    for name in names:
        data, fit, flavor, kwargs = MODELS[name]
        X, y = data()
        X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=1)
        model = fit(X_train, y_train)
        with mlflow.start_run(run_name=name) as run:
            log(flavor, model, X_train, kwargs)
        X_test.to_csv(f"{out_dir}/{name}.csv", index=False, float_format="%.17g")
        labels, proba = expected(model, X_test)
        # Class labels in probability order: the wrapper's classes_, a Booster's indices 0..n-1.
        classes = getattr(model, "classes_", None)
        classes = classes.tolist() if classes is not None else list(range(len(proba[0]))) if proba else None
        result[name] = {"run_id": run.info.run_id, "predict": labels, "proba": proba, "classes": classes}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
