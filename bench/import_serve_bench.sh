#!/usr/bin/env bash
# One MLflow-logged scikit-learn model, two servers (issue 15): the Titanic LogisticRegression (Pclass, Sex 0/1,
# Age, Fare) logged by the real MLflow with mlflow.sklearn.log_model (skops, MLflow 3's default), served from
# the same run folder by `mlflow models serve --env-manager local` and by `mlx serve` (read natively, no
# conversion). Same machine, same run, loopback only: cold start (process start to /ping 200, 3 tries each),
# bounded wrk loads (1 thread, one-row JSON at 1 and 16 connections, DURATION each), resident memory of the
# process group idle and after the loads. Both answers are checked equal before loading.
#
# Usage: bench/import_serve_bench.sh [OUT_DIR]   (needs wrk: apt-get install wrk; the venv scripts/test.sh
#        makes). DURATION (default 8s) per load.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-import-serve-bench}; DURATION=${DURATION:-8s}
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"; PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
rm -rf "$OUT"; mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx

RUN=$(MLFLOW_ALLOW_FILE_STORE=true "$PY" "$ROOT/bench/serve_train_log_mlflow.py" --store "$OUT/mlflow-store" \
  --csv "$ROOT/examples/titanic.csv" 2>/dev/null | tail -1)
export MLFLOW_TRACKING_URI="file:$OUT/mlflow-store" MLFLOW_ALLOW_FILE_STORE=true
# mlx reads the same store MLflow wrote.
export MLX_TRACKING_URI="$OUT/mlflow-store"
grep -q "serialization_format: skops" "$(find "$OUT/mlflow-store" -name MLmodel | head -1)"

"$PY" - <<'PY'
import json
json.dump({"dataframe_records": [{"Pclass": 3, "Sex": 0, "Age": 22.0, "Fare": 7.25}]}, open("one.json", "w"))
PY
cp "$ROOT/bench/wrk_post.lua" post.lua

rss() { ps -o rss= -g "$1" | awk '{s += $1} END {printf "%d", s / 1024}'; }
MLX_CMD=("$MLX" serve --model "runs:/$RUN/model" --port 5191)
MLFLOW_CMD=("$VENV/bin/mlflow" models serve -m "runs:/$RUN/model" --env-manager local -h 127.0.0.1 -p 5192)

echo "## cold start (process start to /ping 200)" | tee results.txt
for i in 1 2 3; do
  "$PY" "$ROOT/bench/cold_start.py" 5191 "${MLX_CMD[@]}" | sed 's/^/mlx /' | tee -a results.txt
  "$PY" "$ROOT/bench/cold_start.py" 5192 "${MLFLOW_CMD[@]}" | sed 's/^/mlflow /' | tee -a results.txt
done

bench_server() { # bench_server NAME PORT CMD...
  local name=$1 port=$2; shift 2
  setsid "$@" > "$name.log" 2>&1 &
  local pid=$! waited=0
  until curl -sf "http://127.0.0.1:$port/ping" >/dev/null 2>&1; do
    sleep 0.05; waited=$((waited + 1))
    [ "$waited" -lt 3600 ] || { echo "$name did not start" >&2; kill -TERM -- "-$pid"; exit 1; }
  done
  curl -sf -X POST -H 'Content-Type: application/json' --data @one.json "http://127.0.0.1:$port/invocations" \
    > "$name.answer.json"
  echo "$name answer: $(cat "$name.answer.json")" | tee -a results.txt
  echo "$name RSS idle: $(rss "$pid") MiB" | tee -a results.txt
  for c in 1 16; do
    echo "$name c=$c: $(BODY_FILE=one.json wrk -t1 -c$c -d"$DURATION" -s post.lua \
      "http://127.0.0.1:$port/invocations" | grep RESULT)" | tee -a results.txt
  done
  echo "$name RSS after load: $(rss "$pid") MiB" | tee -a results.txt
  kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}
echo "## load"
bench_server mlx 5191 "${MLX_CMD[@]}"
bench_server mlflow 5192 "${MLFLOW_CMD[@]}"
cmp -s mlx.answer.json mlflow.answer.json || "$PY" -c '
import json, sys
a, b = (json.load(open(f))["predictions"] for f in ("mlx.answer.json", "mlflow.answer.json"))
sys.exit(0 if a == b else f"the servers disagree: mlx {a}, mlflow {b}")'
echo "results in $OUT/results.txt"
