"""scikit-learn's answers on the rows mlx trains and tests on: the twin of each mlx estimator fitted on
train_test_split(test_size, random_state=42) of the same prepared rows.

usage: sklearn_twins.py CSV FEATURES OUT_DIR
Writes OUT_DIR/test_rows.csv (the test rows, original columns, in split order) and prints JSON:
{"n_rows", "n_test", "models": {mlx_model_name: {"accuracy", "proba": [[p0, p1], ...]}}}.
kNN runs with one thread: scikit-learn's brute-force search resolves equal distances by a heap whose
merge order depends on the thread count; on one thread it is the order mlx follows.
"""
import json
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

csv_path, features, out_dir = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
raw = pd.read_csv(csv_path)
rows = raw.dropna(subset=features + ["Survived"])
X = rows[features].replace({"Sex": {"male": 0, "female": 1}}).astype(float).values
y = rows["Survived"].values
X_train, X_test, y_train, y_test, _, idx_test = train_test_split(
    X, y, np.arange(len(rows)), test_size=0.2, random_state=42
)
rows.iloc[idx_test].to_csv(f"{out_dir}/test_rows.csv", index=False)
models = {}
with threadpool_limits(limits=1):
    for name, est in [
        ("knn", KNeighborsClassifier(algorithm="brute")),
        ("gaussian-nb", GaussianNB()),
    ]:
        est.fit(X_train, y_train)
        models[name] = {
            "accuracy": accuracy_score(y_test, est.predict(X_test)),
            "proba": est.predict_proba(X_test).tolist(),
        }
print(json.dumps({"n_rows": len(rows), "n_test": len(idx_test), "models": models}))
