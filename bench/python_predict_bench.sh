#!/usr/bin/env bash
# `mlx predict --python` against `mlflow models predict --env-manager local` (issue 28, point 4): the guide's
# CustomModel (pre-processing, a scikit-learn model from its artifact, post-processing), ROWS rows of CSV,
# whole process each: wall time and peak RSS (GNU time's %M: the largest of the process and the children it
# waited for, so it includes mlx's Python workers and MLflow's own Python).
#
# Usage: bench/python_predict_bench.sh [OUT_DIR] [ROWS] [WORKERS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-python-predict-bench}; ROWS=${2:-1000000}; WORKERS=${3:-2}
PY=${MLX_TEST_PYTHON:-$HOME/.cache/mlx-ci/venv/bin/python}
MLFLOW=$(dirname "$PY")/mlflow
mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
[ -d custom ] || "$PY" "$ROOT/tests/interop/custom_model.py" save custom 2>/dev/null
[ -f rows.csv ] || "$PY" "$ROOT/tests/interop/custom_model.py" data rows.csv "$ROWS"
ls -la rows.csv
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "mlx predict --python --workers $WORKERS: wall_s=%e peak_rss_kib=%M" \
  "$MLX" predict --model custom --data rows.csv --python "$PY" --workers "$WORKERS" --output-file mlx.csv 2>&1 \
  | grep -v '^wrote'
MLFLOW_ALLOW_FILE_STORE=true /usr/bin/time -f "mlflow models predict --env-manager local: wall_s=%e peak_rss_kib=%M" \
  "$MLFLOW" models predict -m custom -i rows.csv -t csv -o mlflow.json --env-manager local 2>&1 \
  | grep -E 'wall_s|Error' || true
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
# Same answers: mlflow's JSON records against mlx's CSV.
"$PY" - <<'PY'
import json, pandas as pd
m = pd.read_csv("mlx.csv")
f = pd.DataFrame(json.load(open("mlflow.json"))["predictions"])
assert len(m) == len(f), (len(m), len(f))
assert (m["label"] == f["label"]).all() and (m["score"] - f["score"]).abs().max() == 0
print(f"same predictions for {len(m)} rows")
PY
