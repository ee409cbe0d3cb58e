#!/usr/bin/env bash
# The 100-tree forest on the synthetic file, whole processes, mlx beside scikit-learn + MLflow in one run:
# wall time and peak RSS of training, the saved model's size (mlx's trees.bin against the model.skops file
# MLflow 3 writes with mlflow.sklearn.log_model, its default format), and a whole `mlx predict` process
# that loads the forest and predicts one row.
#
# Usage: bench/forest_bench.sh [OUT_DIR]     (PYTHON: a Python with mlflow 3.17.2 and scikit-learn;
#                                             default: the test venv ~/.cache/mlx-ci/venv)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-forest-bench}
PY=${PYTHON:-$HOME/.cache/mlx-ci/venv/bin/python}
mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
[ -f synth.csv ] || python3 "$ROOT/../shared/data/gen_synth.py" synth.csv >/dev/null
rm -rf mlruns sk-mlruns
export MLX_TRACKING_URI=$OUT/mlruns
/usr/bin/time -f "mlx train (random-forest, 100 trees, whole process): wall_s=%e peak_rss_kib=%M" -o mlx-time.txt \
  "$MLX" train --data synth.csv --target target --model random-forest --n-estimators 100 -o json > train.json
cat mlx-time.txt
run=$(python3 -c 'import json; print(json.load(open("train.json"))["run_id"])')
trees=$(find mlruns -name trees.bin | head -1)
echo "mlx trees.bin: $(stat -c %s "$trees") bytes"
head -2 synth.csv | cut -d, -f1-20 > one_row.csv
for i in 1 2 3 4 5; do
  /usr/bin/time -f "mlx predict (load the forest, predict one row, whole process): wall_s=%e" \
    "$MLX" predict --model "runs:/$run/model" --data one_row.csv -o csv >/dev/null
done
MLFLOW_ALLOW_FILE_STORE=true /usr/bin/time -f "scikit-learn + mlflow.sklearn.log_model (whole process): wall_s=%e peak_rss_kib=%M" \
  "$PY" - "$OUT" <<'PY'
import glob, os, sys, warnings
warnings.filterwarnings("ignore")
import mlflow, pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
out = sys.argv[1]
df = pd.read_csv(f"{out}/synth.csv")
X, y = df.drop(columns="target"), df["target"]
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=42)
m = RandomForestClassifier(n_estimators=100, random_state=42, n_jobs=-1).fit(Xtr, ytr)
mlflow.set_tracking_uri(f"file://{out}/sk-mlruns")
with mlflow.start_run():
    mlflow.sklearn.log_model(m, name="model", skops_trusted_types=["sklearn.tree._tree.Tree"])
skops = glob.glob(f"{out}/sk-mlruns/**/model.skops", recursive=True)[0]
print(f"MLflow 3 model.skops (scikit-learn forest): {os.path.getsize(skops)} bytes")
PY
