#!/usr/bin/env bash
# Serve benchmark (issue 6): `mlx serve` with the Titanic logistic regression on loopback, loaded by wrk
# (1 and 16 connections with a one-row JSON body, 1 connection with a 1,000-row body), cold start and memory.
# MLflow's figures for the same workloads come from ../shared/bench (serve_bench.sh) on the same machine kind.
#
# Usage: bench/serve_bench.sh [OUT_DIR]   (needs wrk: apt-get install wrk)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-serve-bench}; DURATION=${DURATION:-10s}; PORT=${PORT:-5099}
rm -rf "$OUT"; mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
export MLX_TRACKING_URI=$OUT/mlruns
"$MLX" train --data "$ROOT/examples/titanic.csv" --target Survived --features Pclass,Sex,Age,Fare \
  --map Sex=male:0,female:1 --register titanic -o json > train.json 2>/dev/null
"$MLX" alias set Champion 1 --model titanic >/dev/null
echo '{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22,"Fare":7.25}]}' > one.json
python3 - <<'PY'
import json, random
random.seed(0)
rows = [{"Pclass": random.choice([1, 2, 3]), "Sex": random.choice(["male", "female"]),
         "Age": round(random.uniform(1, 80), 1), "Fare": round(random.uniform(5, 300), 2)} for _ in range(1000)]
json.dump({"dataframe_records": rows}, open("batch.json", "w"))
PY
cat > post.lua <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb")); wrk.body = f:read("*a"); f:close()
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
LUA
for i in 1 2 3 4 5; do
  python3 "$ROOT/bench/cold_start.py" "$PORT" "$MLX" serve --model models:/titanic@Champion --port "$PORT"
done
"$MLX" serve --model models:/titanic@Champion --port "$PORT" 2> serve.log &
pid=$!
until curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null; do sleep 0.002; done
echo "RSS idle: $(( $(ps -o rss= -p $pid) / 1024 )) MiB"
for c in 1 16; do
  echo "one row, $c connection(s):"
  BODY_FILE=one.json wrk -t1 -c$c -d"$DURATION" -s post.lua "http://127.0.0.1:$PORT/invocations" | grep RESULT
done
echo "1,000-row batch, 1 connection:"
BODY_FILE=batch.json wrk -t1 -c1 -d"$DURATION" -s post.lua "http://127.0.0.1:$PORT/invocations" | grep RESULT
echo "RSS after load: $(( $(ps -o rss= -p $pid) / 1024 )) MiB"
kill -TERM $pid; wait $pid || true
