#!/usr/bin/env bash
# Team backend (issue 7): log 100 runs x (10 params, 5 metrics x 100 steps) to a real MLflow tracking server
# (PostgreSQL backend, started here by scripts/team-server.sh) with mlx and with the MLflow Python client.
#
# Usage: bench/server_log_bench.sh [N]   (default N=100; needs the venv scripts/test.sh makes and PostgreSQL)
# mlx is driven as a shell script would: per run `log start`, `log params --json`, `log metrics --json`
# (the 500 points in one file) and `log end` — four processes per run, each a fresh start.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100}
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
work=$(mktemp -d /tmp/mlx-server-bench.XXXXXX); chmod 755 "$work"
trap 'bash "$ROOT/scripts/team-server.sh" stop "$work/server"; rm -rf "$work"' EXIT
exports=$(MLX_VENV="$VENV" bash "$ROOT/scripts/team-server.sh" start "$work/server")
eval "$exports"
URI=$MLX_TEST_SERVER_URI
echo "server: $URI"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
json.dump({f"p{p}": str(p) for p in range(10)}, open(f"{work}/params.json", "w"))
keys = ["loss", "accuracy", "precision", "recall", "f1"]
json.dump([{"key": k, "value": 1.0 / (s + 1 + j), "step": s} for s in range(100) for j, k in enumerate(keys)],
          open(f"{work}/metrics.json", "w"))
PY

t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  id=$("$MLX" --tracking-uri "$URI" log start --experiment bench-mlx --name "r$i")
  "$MLX" --tracking-uri "$URI" log params --run "$id" --json "$work/params.json"
  "$MLX" --tracking-uri "$URI" log metrics --run "$id" --json "$work/metrics.json"
  "$MLX" --tracking-uri "$URI" log end --run "$id"
done
t1=$(date +%s.%N)
echo "mlx CLI: $N runs in $(echo "$t1 - $t0" | bc -l | cut -c1-6) s = $(echo "($t1 - $t0) / $N * 1000" | bc -l | cut -c1-6) ms/run"
"$MLX" --tracking-uri "$URI" runs list --experiment bench-mlx --max 1 -o json | grep -q '"loss"'

"$VENV/bin/python" "$ROOT/bench/server_log_mlflow.py" --uri "$URI" --n "$N" --mode per-step 2>/dev/null | grep '^mlflow'
"$VENV/bin/python" "$ROOT/bench/server_log_mlflow.py" --uri "$URI" --n "$N" --mode batch 2>/dev/null | grep '^mlflow'
