#!/usr/bin/env bash
# `mlx serve`'s one-row path: gradient boosting (100 trees of 31 leaves) against logistic regression, both
# trained by mlx on the synthetic file (100,000 x 20), served one after the other and loaded by wrk (1 thread,
# 1 connection, one-row JSON). ROUNDS alternating rounds (LR, GB, LR, GB, ...) so both see the same machine
# load; prints every round and the medians of p50 latency and requests/s.
#
# Usage: bench/gbdt_serve_bench.sh [OUT_DIR]    (needs wrk; DURATION per load, default 5s; ROUNDS, default 3;
#        MLX_BIN: measure that binary instead of building this checkout)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-gbdt-serve-bench}; DURATION=${DURATION:-5s}; ROUNDS=${ROUNDS:-3}
mkdir -p "$OUT"; cd "$OUT"; rm -rf mlruns results.txt
# MLX_BIN: a binary to measure instead of building this checkout in release mode.
[ -n "${MLX_BIN:-}" ] || (cd "$ROOT" && cargo build --release -q)
MLX=${MLX_BIN:-$ROOT/target/release/mlx}
[ -f synth.csv ] || python3 "$ROOT/../shared/data/gen_synth.py" synth.csv >/dev/null
export MLX_TRACKING_URI=$OUT/mlruns
"$MLX" train --data synth.csv --target target --model logistic-regression --register lr -o json >/dev/null 2>&1
"$MLX" train --data synth.csv --target target --model gradient-boosting --register gb -o json >/dev/null 2>&1
python3 - <<'PY'
import csv, json
with open("synth.csv") as f:
    r = csv.DictReader(f)
    row = next(r)
row.pop("target")
json.dump({"dataframe_records": [{k: float(v) for k, v in row.items()}]}, open("one.json", "w"))
PY
cat > post.lua <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("one.json", "rb")); wrk.body = f:read("*a"); f:close()
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.4f p99_ms=%.4f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
LUA
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  for model in lr gb; do
    setsid "$MLX" serve --model "models:/$model/1" --port 5097 > "serve-$model.log" 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:5097/ping" >/dev/null 2>&1; do sleep 0.05; done
    # A short warm-up, then the measured load.
    wrk -t1 -c1 -d1s -s post.lua http://127.0.0.1:5097/invocations >/dev/null
    r=$(wrk -t1 -c1 -d"$DURATION" -s post.lua http://127.0.0.1:5097/invocations | grep RESULT)
    echo "round $round $model: $r" | tee -a results.txt
    kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - <<'PY'
import re, statistics
r = {"lr": [], "gb": []}
for line in open("results.txt"):
    m = re.match(r"round \d+ (\w+): RESULT rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+)", line)
    if m:
        r[m[1]].append((float(m[2]), float(m[3])))
lr_p50 = statistics.median(p for _, p in r["lr"]); gb_p50 = statistics.median(p for _, p in r["gb"])
lr_rps = statistics.median(x for x, _ in r["lr"]); gb_rps = statistics.median(x for x, _ in r["gb"])
print(f"one row, 1 connection, medians of {len(r['gb'])} rounds: logistic regression p50 {lr_p50*1000:.0f} us,"
      f" {lr_rps:.0f} req/s; gradient boosting (100 trees, 31 leaves) p50 {gb_p50*1000:.0f} us, {gb_rps:.0f} req/s"
      f" -> {100 * (gb_p50 / lr_p50 - 1):+.1f}% latency")
PY
