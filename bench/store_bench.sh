#!/usr/bin/env bash
# Store benchmarks (issue 2): mlx beside MLflow 3.17.2 on the same workloads, same machine, same store.
#
# Usage: bench/store_bench.sh [OUT_DIR]        (default /tmp/mlx-store-bench; N=1000 runs)
# Needs: hyperfine (apt-get install hyperfine), the venv scripts/test.sh makes (MLFLOW_PY to override),
#        /usr/bin/time. MLFLOW_N (default 100) sets how many runs MLflow's naive populate writes (it is slow).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-store-bench}; N=${N:-1000}; MLFLOW_N=${MLFLOW_N:-100}
PY=${MLFLOW_PY:-$HOME/.cache/mlx-ci/venv/bin/python}
MLFLOW_BIN=$(dirname "$PY")/mlflow
export MLFLOW_ALLOW_FILE_STORE=true
rm -rf "$OUT"; mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
rustc -O -o read_floor_rs "$ROOT/bench/read_floor.rs"

echo "## start-up"
hyperfine -N -w 5 -r 50 "$MLX --version" --export-markdown version_mlx.md | grep -E "Time|Range"
hyperfine -w 1 -r 3 "$MLFLOW_BIN --version" --export-markdown version_mlflow.md | grep -E "Time|Range"

echo "## populate: $N runs x (10 params, 5 metrics, 100-step loss, 3 tags), one store call per value"
/usr/bin/time -f "mlx populate n=$N wall_s=%e peak_rss_kib=%M" "$MLX" --tracking-uri s1k bench populate --n "$N"
echo "marginal cost with $N runs already in the experiment:"
/usr/bin/time -f "mlx populate +100 wall_s=%e" "$MLX" --tracking-uri s1k bench populate --n 100 >/dev/null
/usr/bin/time -f "mlflow populate n=$MLFLOW_N wall_s=%e" "$PY" "$ROOT/bench/store_populate.py" \
  --store "$OUT/mlflow_$MLFLOW_N" --n "$MLFLOW_N" --quiet-warnings

echo "## the same workload as a shell script would do it: one mlx process per value, 20 runs"
t0=$(date +%s.%N)
for i in $(seq 1 20); do
  id=$("$MLX" --tracking-uri cli log start --experiment bench --name "r$i")
  for p in $(seq 1 10); do "$MLX" --tracking-uri cli log param --run "$id" "p$p" "$p"; done
  for m in accuracy precision recall f1 auc; do "$MLX" --tracking-uri cli log metric --run "$id" "$m" 0.5; done
  for s in $(seq 0 99); do "$MLX" --tracking-uri cli log metric --run "$id" loss 0.1 --step "$s"; done
  for t in a b c; do "$MLX" --tracking-uri cli log tag --run "$id" "$t" x; done
  "$MLX" --tracking-uri cli log end --run "$id"
done
t1=$(date +%s.%N)
echo "mlx CLI per-value, 20 runs: $(echo "($t1 - $t0) / 20 * 1000" | bc -l | cut -c1-6) ms per run (120 processes per run)"

EXP=$("$MLX" --tracking-uri s1k experiments show bench -o json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])')
echo "## runs list over $((N + 100)) runs (experiment $EXP)"
hyperfine -N -w 3 -r 20 \
  "$MLX --tracking-uri s1k runs list --experiment bench -o table" \
  "$MLX --tracking-uri s1k runs list --experiment bench -o json" \
  "./read_floor_rs s1k/$EXP --per-run meta.yaml metrics/accuracy metrics/auc metrics/f1 metrics/loss" \
  "./read_floor_rs s1k/$EXP" --export-markdown list_mlx.md | grep -E "Benchmark|Time|Range"
hyperfine -w 1 -r 3 "MLFLOW_TRACKING_URI=file://$OUT/s1k $MLFLOW_BIN runs list --experiment-id $EXP" \
  --export-markdown list_mlflow.md | grep -E "Time|Range"
echo "## MLflow reads the store mlx wrote"
"$PY" -c "
import os, mlflow, warnings; warnings.filterwarnings('ignore')
mlflow.set_tracking_uri('file://$OUT/s1k')
print('mlflow.search_runs sees', len(mlflow.search_runs(experiment_ids=['$EXP'], max_results=100000)), 'runs')"
