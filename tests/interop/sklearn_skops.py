"""Log scikit-learn models with the real MLflow (3.17.2, skops format, the default) into a file store and
write what scikit-learn itself predicts on held-out rows, for mlx to match.

usage: sklearn_skops.py STORE OUT_DIR [NAME ...]
STORE is an mlruns folder. For each model NAME (all when none is given) it logs a run with the model under
artifact path "model" (trusted types as MLflow requires for skops: the ones skops itself reports), writes
OUT_DIR/NAME.csv (the held-out rows, every float written so it reads back to the bit) and prints JSON:
{NAME: {"run_id", "predict": [...], "proba": [[...]] or null, "classes": [...] or null}}.
kNN runs on one thread: scikit-learn's brute-force search resolves equal distances by a heap whose merge
order depends on the thread count; on one thread it is the order mlx follows.
"""
import json
import sys
import warnings
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import skops.io as sio
import sklearn
from mlflow.models import infer_signature
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
)
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

warnings.filterwarnings("ignore")


def frame(bunch, names):
    return pd.DataFrame(bunch.data[:, : len(names)], columns=names)


def iris():
    b = datasets.load_iris()
    X = frame(b, ["sl", "sw", "pl", "pw"])
    return X, pd.Series(np.array(["setosa", "versicolor", "virginica"])[b.target])


def cancer():
    b = datasets.load_breast_cancer()
    return frame(b, [f"f{i}" for i in range(8)]), pd.Series(b.target)


def diabetes():
    b = datasets.load_diabetes()
    return frame(b, [f"x{i}" for i in range(10)]), pd.Series(b.target)


def mixed(regression=False):
    """Numbers with gaps and a text column, for pipelines."""
    rng = np.random.default_rng(7)
    n = 300
    X = pd.DataFrame(
        {
            "age": rng.normal(40, 12, n).round(1),
            "fare": rng.exponential(30, n),
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "level": rng.choice(["low", "mid", "high"], n),
        }
    )
    score = X.age / 10 + X.fare / 20 + (X.city == "rome") * 2 - (X.level == "low")
    X.loc[rng.choice(n, 30, replace=False), "age"] = np.nan
    X.loc[rng.choice(n, 20, replace=False), "fare"] = np.nan
    y = score + rng.normal(0, 0.5, n) if regression else (score > score.median()).astype(int)
    return X, pd.Series(y)


def titanic_like():
    """Integer-valued features with many exact ties, for kNN's tie handling."""
    rng = np.random.default_rng(3)
    n = 200
    X = pd.DataFrame({"a": rng.integers(0, 4, n).astype(float), "b": rng.integers(0, 3, n).astype(float)})
    return X, pd.Series(((X.a + X.b + rng.integers(0, 2, n)) > 3).astype(int))


def titanic():
    """The original app's model: Pclass, Sex as 0/1, Age, Fare of the repo's examples/titanic.csv."""
    raw = pd.read_csv(Path(__file__).resolve().parents[2] / "examples" / "titanic.csv")
    rows = raw.dropna(subset=["Pclass", "Sex", "Age", "Fare", "Survived"])
    X = rows[["Pclass", "Sex", "Age", "Fare"]].assign(Sex=(rows.Sex == "female").astype(int))
    return X, rows.Survived


def with_gaps(data, share=0.1, seed=5):
    """`data` with a share of its cells missing (NaN), in training and held-out rows alike."""

    def make():
        X, y = data()
        rng = np.random.default_rng(seed)
        return X.mask(rng.random(X.shape) < share), y

    return make


def categorical():
    """Text and integer-coded categories beside numbers with gaps, for HistGradientBoosting's own
    categorical support (its internal OrdinalEncoder and category bitsets)."""
    X, y = mixed()
    X = X.assign(level=X.level.map({"low": 0.0, "mid": 1.0, "high": 2.0}))
    X.loc[X.index[:15], "city"] = np.nan
    return X, y


def num_pipe(est, scaler):
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", scaler), ("est", est)])


def mixed_pipe(est, encoder, remainder="drop"):
    num = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    cols = [("num", num, ["age", "fare"]), ("city", encoder, ["city"])]
    if remainder == "drop":
        cols.append(("level", "drop", ["level"]))
    ct = ColumnTransformer(cols, remainder=remainder)
    return Pipeline([("prep", ct), ("est", est)])


MODELS = {
    "titanic": (titanic, lambda: LogisticRegression(max_iter=1000)),
    "logistic_binary": (cancer, lambda: LogisticRegression(max_iter=5000)),
    "logistic_multinomial": (iris, lambda: LogisticRegression(max_iter=1000)),
    "linear_regression": (diabetes, LinearRegression),
    "ridge": (diabetes, lambda: Ridge(alpha=0.5)),
    "lasso": (diabetes, lambda: Lasso(alpha=0.1)),
    "elastic_net": (diabetes, lambda: ElasticNet(alpha=0.01, l1_ratio=0.3)),
    "tree_classifier": (iris, lambda: DecisionTreeClassifier(max_depth=5, random_state=0)),
    "tree_regressor": (diabetes, lambda: DecisionTreeRegressor(max_depth=6, random_state=0)),
    "forest_classifier": (cancer, lambda: RandomForestClassifier(n_estimators=25, random_state=0)),
    "forest_regressor": (diabetes, lambda: RandomForestRegressor(n_estimators=20, random_state=0)),
    "extra_trees_classifier": (iris, lambda: ExtraTreesClassifier(n_estimators=20, random_state=0)),
    "extra_trees_regressor": (diabetes, lambda: ExtraTreesRegressor(n_estimators=15, random_state=0)),
    "knn_classifier": (titanic_like, lambda: KNeighborsClassifier(n_neighbors=7, algorithm="brute")),
    "knn_classifier_distance": (cancer, lambda: KNeighborsClassifier(n_neighbors=4, weights="distance")),
    "knn_regressor": (diabetes, lambda: KNeighborsRegressor(n_neighbors=5)),
    "gaussian_nb": (iris, GaussianNB),
    "gb_classifier_binary": (cancer, lambda: GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0)),
    "gb_classifier_multiclass": (iris, lambda: GradientBoostingClassifier(n_estimators=25, max_depth=2, random_state=0)),
    "gb_classifier_exponential": (cancer, lambda: GradientBoostingClassifier(loss="exponential", n_estimators=20, random_state=0)),
    "gb_classifier_zero_init": (iris, lambda: GradientBoostingClassifier(init="zero", n_estimators=10, random_state=0)),
    "gb_regressor": (diabetes, lambda: GradientBoostingRegressor(n_estimators=50, subsample=0.8, random_state=0)),
    "gb_regressor_huber": (diabetes, lambda: GradientBoostingRegressor(loss="huber", n_estimators=20, random_state=0)),
    "gb_regressor_quantile": (diabetes, lambda: GradientBoostingRegressor(loss="quantile", alpha=0.8, n_estimators=20, random_state=0)),
    "gb_regressor_absolute_error": (diabetes, lambda: GradientBoostingRegressor(loss="absolute_error", n_estimators=20, random_state=0)),
    "hgb_classifier_binary": (with_gaps(cancer), lambda: HistGradientBoostingClassifier(max_iter=40, random_state=0)),
    "hgb_classifier_multiclass": (with_gaps(iris), lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0)),
    "hgb_regressor": (with_gaps(diabetes), lambda: HistGradientBoostingRegressor(max_iter=40, random_state=0)),
    "hgb_regressor_poisson": (with_gaps(diabetes), lambda: HistGradientBoostingRegressor(loss="poisson", max_iter=30, random_state=0)),
    "hgb_categorical": (
        categorical,
        lambda: HistGradientBoostingClassifier(max_iter=30, categorical_features=["city", "level"], random_state=0),
    ),
    "pipeline_onehot_gradient_boosting": (
        mixed,
        lambda: mixed_pipe(GradientBoostingClassifier(n_estimators=20, random_state=0), OneHotEncoder(handle_unknown="ignore")),
    ),
    "pipeline_ordinal_hist_gradient_boosting": (
        lambda: mixed(regression=True),
        lambda: mixed_pipe(HistGradientBoostingRegressor(max_iter=30, random_state=0), OrdinalEncoder()),
    ),
    "pipeline_standard_logistic": (cancer, lambda: num_pipe(LogisticRegression(), StandardScaler())),
    "pipeline_minmax_ridge": (diabetes, lambda: num_pipe(Ridge(), MinMaxScaler())),
    "pipeline_onehot_forest": (
        mixed,
        lambda: mixed_pipe(RandomForestClassifier(n_estimators=10, random_state=0), OneHotEncoder(handle_unknown="ignore")),
    ),
    "pipeline_ordinal_tree": (
        lambda: mixed(regression=True),
        lambda: mixed_pipe(DecisionTreeRegressor(max_depth=6, random_state=0), OrdinalEncoder(), "passthrough_num"),
    ),
    "pipeline_onehot_logistic_passthrough": (
        lambda: mixed(),
        lambda: mixed_pipe(LogisticRegression(), OneHotEncoder(), "passthrough_level"),
    ),
}


def build(name):
    data, make = MODELS[name]
    X, y = data()
    model = make()
    # Pipelines whose remainder is a passthrough column need it numeric.
    if name == "pipeline_ordinal_tree":
        X = X.assign(level=X.level.map({"low": 0.0, "mid": 1.0, "high": 2.0}))
        model.steps[0][1].set_params(remainder="passthrough", transformers=model.steps[0][1].transformers[:2])
    if name == "pipeline_onehot_logistic_passthrough":
        X = X.assign(level=X.level.map({"low": 0.0, "mid": 1.0, "high": 2.0}), age=X.age.fillna(40.0))
        model.steps[0][1].set_params(remainder="passthrough", transformers=model.steps[0][1].transformers[:2])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=1)
    if name == "hgb_categorical":
        # Categories never seen in training go the missing-value way in scikit-learn.
        X_test = X_test.copy()
        X_test.loc[X_test.index[:4], "city"] = "lyon"
        X_test.loc[X_test.index[4:6], "level"] = 7.0
    return model, X_train, X_test, y_train


def main():
    store, out_dir, names = sys.argv[1], sys.argv[2], sys.argv[3:] or list(MODELS)
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("sklearn-skops")
    result = {}
    with threadpool_limits(limits=1):
        for name in names:
            model, X_train, X_test, y_train = build(name)
            model.fit(X_train, y_train)
            trusted = sio.get_untrusted_types(data=sio.dumps(model))
            with mlflow.start_run(run_name=name) as run:
                mlflow.sklearn.log_model(
                    model,
                    name="model",
                    signature=infer_signature(X_train, model.predict(X_train)),
                    skops_trusted_types=trusted,
                    # Given, not inferred: inference re-imports the model in a subprocess, seconds per model.
                    pip_requirements=[f"scikit-learn=={sklearn.__version__}", "skops==0.16.0"],
                )
            X_test.to_csv(f"{out_dir}/{name}.csv", index=False, float_format="%.17g")
            has_proba = hasattr(model, "predict_proba")
            result[name] = {
                "run_id": run.info.run_id,
                "predict": model.predict(X_test).tolist(),
                "proba": model.predict_proba(X_test).tolist() if has_proba else None,
                "classes": model.classes_.tolist() if has_proba else None,
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
