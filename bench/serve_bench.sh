#!/usr/bin/env bash
# Serve benchmark (issue 6), side by side in one run on loopback: a bare axum endpoint (JSON parse + a
# 4-feature dot product: the ceiling), `mlx serve` with the Titanic logistic regression, and
# `mlflow models serve` with scikit-learn's LogisticRegression on the same features. Each is loaded by a
# bounded wrk run (1 thread, leaving the other core to the server): one-row JSON at 1 and 16 connections, and
# a 1,000-row batch at 1 connection. Also cold start (process start to /ping 200) and resident memory.
#
# Usage: bench/serve_bench.sh [OUT_DIR]   (needs wrk; the venv scripts/test.sh makes, plus scikit-learn and
#        pandas, which this script installs into it if missing). DURATION (default 10s) per load.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-serve-bench}; DURATION=${DURATION:-10s}
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"; PY="$VENV/bin/python"
# `mlflow models serve` runs uvicorn from the venv.
export PATH="$VENV/bin:$PATH"
rm -rf "$OUT"; mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q && cargo build --release -q --example bare_endpoint)
MLX=$ROOT/target/release/mlx
"$PY" -c 'import sklearn, pandas' 2>/dev/null || "$VENV/bin/pip" install -q scikit-learn pandas

# The models: mlx's from its own CLI, MLflow's from scikit-learn (Sex as 0/1, as MLflow's bench does).
export MLX_TRACKING_URI=$OUT/mlruns
"$MLX" train --data "$ROOT/examples/titanic.csv" --target Survived --features Pclass,Sex,Age,Fare \
  --map Sex=male:0,female:1 --register titanic -o json > train.json 2>/dev/null
"$MLX" alias set Champion 1 --model titanic >/dev/null
RUN=$(MLFLOW_ALLOW_FILE_STORE=true "$PY" "$ROOT/bench/serve_train_log_mlflow.py" --store "$OUT/mlflow-store" \
  --csv "$ROOT/examples/titanic.csv" 2>/dev/null | tail -1)

"$PY" - <<'PY'
import json, random
random.seed(0)
rows = [{"Pclass": random.choice([1, 2, 3]), "Sex": random.choice(["male", "female"]),
         "Age": round(random.uniform(1, 80), 1), "Fare": round(random.uniform(5, 300), 2)} for _ in range(1000)]
num = [dict(r, Sex=int(r["Sex"] == "female")) for r in rows]
json.dump({"dataframe_records": rows[:1]}, open("one.json", "w"))
json.dump({"dataframe_records": rows}, open("batch.json", "w"))
json.dump({"dataframe_records": num[:1]}, open("one_num.json", "w"))
json.dump({"dataframe_records": num}, open("batch_num.json", "w"))
PY
cp "$ROOT/bench/wrk_post.lua" post.lua

# rss PGID: resident memory of a whole process group, MiB.
rss() { ps -o rss= -g "$1" | awk '{s += $1} END {printf "%d", s / 1024}'; }
load() { # load NAME PORT BODY CONNS
  local r; r=$(BODY_FILE="$3" wrk -t1 -c"$4" -d"$DURATION" -s post.lua "http://127.0.0.1:$2/invocations" | grep RESULT)
  echo "$1 c=$4 $(basename "$3" .json): $r" | tee -a results.txt
}
bench_server() { # bench_server NAME PORT ONE BATCH CMD...
  local name=$1 port=$2 one=$3 batch=$4; shift 4
  setsid "$@" > "$name.log" 2>&1 &
  local pid=$!
  until curl -sf "http://127.0.0.1:$port/ping" >/dev/null 2>&1 || curl -sf -X POST -H 'Content-Type: application/json' \
      --data @"$one" "http://127.0.0.1:$port/invocations" >/dev/null 2>&1; do sleep 0.05; done
  echo "$name RSS idle: $(rss "$pid") MiB" | tee -a results.txt
  load "$name" "$port" "$one" 1
  load "$name" "$port" "$one" 16
  [ -n "$batch" ] && load "$name" "$port" "$batch" 1
  echo "$name RSS after load: $(rss "$pid") MiB" | tee -a results.txt
  kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}

echo "## cold start (process start to /ping 200)"
for i in 1 2 3 4 5; do
  "$PY" "$ROOT/bench/cold_start.py" 5091 "$MLX" serve --model models:/titanic@Champion --port 5091
done
MLFLOW_TRACKING_URI="file:$OUT/mlflow-store" MLFLOW_ALLOW_FILE_STORE=true "$PY" "$ROOT/bench/cold_start.py" 5092 \
  "$VENV/bin/mlflow" models serve -m "runs:/$RUN/model" --env-manager local -h 127.0.0.1 -p 5092 | sed 's/^/mlflow /'
sleep 1

echo "## load"
bench_server bare 5090 one.json "" "$ROOT/target/release/examples/bare_endpoint" 5090
bench_server mlx 5091 one.json batch.json "$MLX" serve --model models:/titanic@Champion --port 5091
MLFLOW_TRACKING_URI="file:$OUT/mlflow-store" MLFLOW_ALLOW_FILE_STORE=true \
  bench_server mlflow 5092 one_num.json batch_num.json "$VENV/bin/mlflow" models serve -m "runs:/$RUN/model" \
  --env-manager local -h 127.0.0.1 -p 5092

"$PY" - <<'PY'
import re
r = {}
for line in open("results.txt"):
    m = re.match(r"(\w+) c=(\d+) (\w+): RESULT rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+)", line)
    if m:
        r[(m[1], int(m[2]), m[3].startswith("batch"))] = (float(m[4]), float(m[6]))
def get(n, c, b): return r.get((n, c, b), (float("nan"), float("nan")))
print("\n## side by side")
print(f"16 conns, one row: mlx {get('mlx',16,0)[0]:.0f} rps = {get('mlx',16,0)[0]/get('bare',16,0)[0]*100:.0f}% of the bare endpoint"
      f" ({get('bare',16,0)[0]:.0f}), {get('mlx',16,0)[0]/get('mlflow',16,0)[0]:.0f}x MLflow ({get('mlflow',16,0)[0]:.0f})")
print(f"1 conn, one row: mlx p99 {get('mlx',1,0)[1]:.2f} ms (bare {get('bare',1,0)[1]:.2f} ms, MLflow {get('mlflow',1,0)[1]:.2f} ms)")
print(f"1,000-row batch: mlx {get('mlx',1,1)[0]*1000/1e6:.2f} M rows/s = {get('mlx',1,1)[0]/get('mlflow',1,1)[0]:.1f}x MLflow"
      f" ({get('mlflow',1,1)[0]*1000/1e3:.0f} k rows/s)")
PY
