#!/usr/bin/env bash
# Search benchmark (issue 4): the same query through mlx and mlflow.search_runs over a 10,000-run store.
#
# Usage: bench/search_bench.sh [OUT_DIR] (default /tmp/mlx-search-bench; N=10000 runs, made by mlx)
# Needs: hyperfine, the venv scripts/test.sh makes (MLFLOW_PY to override).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-search-bench}; N=${N:-10000}
PY=${MLFLOW_PY:-$HOME/.cache/mlx-ci/venv/bin/python}
export MLFLOW_ALLOW_FILE_STORE=true
mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
[ -d store ] || "$MLX" --tracking-uri store bench populate --n "$N" >/dev/null
rustc -O -o read_floor_rs "$ROOT/bench/read_floor.rs"
EXP=$("$MLX" --tracking-uri store experiments show bench -o json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])')
FILTER="metrics.accuracy > 0.9 and params.model = 'rf'"
hyperfine -N -w 2 -r 10 \
  "$MLX --tracking-uri store runs list --experiment bench --filter \"$FILTER\" --order-by 'metrics.accuracy DESC' --max 10 -o json" \
  "$MLX --tracking-uri store runs list --experiment bench --order-by 'metrics.accuracy DESC' --max 10 -o json" \
  "./read_floor_rs store/$EXP --per-run meta.yaml metrics/accuracy params/model" | grep -E "Benchmark|Time|Range"
cat > search.py <<PYEOF
import mlflow, sys, warnings; warnings.filterwarnings("ignore")
mlflow.set_tracking_uri("file://$OUT/store")
r = mlflow.search_runs(experiment_ids=["$EXP"], filter_string="$FILTER", order_by=["metrics.accuracy DESC"], max_results=10)
print(list(r["run_id"]))
PYEOF
hyperfine -w 0 -r 3 "$PY search.py" | grep -E "Time|Range"
echo "same top 10: mlflow then mlx"
"$PY" search.py
"$MLX" --tracking-uri store runs list --experiment bench --filter "$FILTER" --order-by 'metrics.accuracy DESC' --max 10 -o json | "$PY" -c 'import json,sys; print([r["run_id"] for r in json.load(sys.stdin)])'
