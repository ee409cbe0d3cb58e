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
# MLX_BIN: a release mlx built elsewhere (else this checkout's, built now).
if [ -z "${MLX_BIN:-}" ]; then (cd "$ROOT" && cargo build --release -q); fi
MLX=${MLX_BIN:-$ROOT/target/release/mlx}
[ -d custom ] || "$PY" "$ROOT/tests/interop/custom_model.py" save custom 2>/dev/null
[ -f rows.csv ] || "$PY" "$ROOT/tests/interop/custom_model.py" data rows.csv "$ROWS"
ls -la rows.csv
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
# mlx does not wait for its workers' exit (they stop at the end of their input), so GNU time's %M is mlx's
# own; the workers' peak (VmHWM) is sampled from /proc while it runs.
/usr/bin/time -f "mlx predict --python --workers $WORKERS: wall_s=%e peak_rss_kib=%M (mlx itself)" -o mlx.time \
  "$MLX" predict --model custom --data rows.csv --python "$PY" --workers "$WORKERS" --output-file mlx.csv 2>/dev/null &
TPID=$!; WPEAK=0
while kill -0 "$TPID" 2>/dev/null; do
  for m in $(pgrep -P "$TPID"); do for w in $(pgrep -P "$m"); do
    h=$(awk '/VmHWM/ {print $2}' "/proc/$w/status" 2>/dev/null || echo 0)
    [ "${h:-0}" -gt "$WPEAK" ] && WPEAK=$h
  done; done
  sleep 0.2
done
wait "$TPID"; cat mlx.time; echo "mlx's Python workers: peak_rss_kib=$WPEAK (each)"
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
