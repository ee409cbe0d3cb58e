#!/usr/bin/env bash
# `mlx serve --python` against `mlflow models serve`, side by side in one run on loopback (issue 28): the
# guide's CustomModel (pre-processing, a scikit-learn model loaded from its artifact, post-processing, from
# tests/interop/python_models.py), one-row JSON requests from 64 connections (wrk, 1 thread), both servers
# with 2 workers (`--env-manager local` for MLflow). Also mlx with --max-batch-wait-ms 2 and --max-batch-rows
# 32, to pick the batching defaults. Prints req/s, p50, p99, errors, and the load average around each run.
#
# Usage: bench/python_serve_bench.sh [OUT_DIR]   (needs wrk and the venv scripts/test.sh makes)
#        DURATION (default 15s) per load.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-python-serve-bench}; DURATION=${DURATION:-15s}
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"; PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
rm -rf "$OUT"; mkdir -p "$OUT/work"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
MLFLOW_ALLOW_FILE_STORE=true "$PY" "$ROOT/tests/interop/python_models.py" "$OUT/mlruns" "$OUT/work" >/dev/null 2>&1
echo '{"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 3.0]]}}' > one.json
cp "$ROOT/bench/wrk_post.lua" post.lua

load() { # load NAME PORT
  local r; r=$(BODY_FILE=one.json wrk -t1 -c64 -d"$DURATION" --timeout 30s -s post.lua "http://127.0.0.1:$2/invocations" | grep RESULT)
  echo "$1 c=64 one-row: $r load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a results.txt
}
bench_server() { # bench_server NAME PORT CMD...
  local name=$1 port=$2; shift 2
  setsid "$@" > "$name.log" 2>&1 &
  local pid=$!
  until curl -sf -X POST -H 'Content-Type: application/json' --data @one.json \
      "http://127.0.0.1:$port/invocations" >/dev/null 2>&1; do sleep 0.2; done
  # Warm up (both servers' workers), then measure.
  BODY_FILE=one.json wrk -t1 -c64 -d3s -s post.lua "http://127.0.0.1:$port/invocations" >/dev/null
  load "$name" "$port"
  kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  sleep 2
}

echo "load average before: $(cat /proc/loadavg)" | tee results.txt
export MLFLOW_TRACKING_URI="file:$OUT/mlruns" MLFLOW_ALLOW_FILE_STORE=true
bench_server mlx 5093 "$MLX" --tracking-uri "$OUT/mlruns" serve --model models:/custom/1 --python "$PY" \
  --workers 2 --port 5093
bench_server mlflow 5094 "$VENV/bin/mlflow" models serve -m models:/custom/1 --env-manager local --workers 2 \
  -h 127.0.0.1 -p 5094
bench_server mlx-wait2ms 5095 "$MLX" --tracking-uri "$OUT/mlruns" serve --model models:/custom/1 --python "$PY" \
  --workers 2 --port 5095 --max-batch-wait-ms 2
bench_server mlx-rows32 5096 "$MLX" --tracking-uri "$OUT/mlruns" serve --model models:/custom/1 --python "$PY" \
  --workers 2 --port 5096 --max-batch-rows 32
echo "load average after: $(cat /proc/loadavg)" | tee -a results.txt
