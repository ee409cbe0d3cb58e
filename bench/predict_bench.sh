#!/usr/bin/env bash
# Batch-predict benchmark (issue 5): 1,000,000 Titanic-shaped rows through `mlx predict` with the logistic
# regression; rows/s and peak memory, beside a plain parse of the same CSV (the floor).
#
# Usage: bench/predict_bench.sh [OUT_DIR] [ROWS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-predict-bench}; ROWS=${2:-1000000}
mkdir -p "$OUT"; cd "$OUT"
(cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
export MLX_TRACKING_URI=$OUT/mlruns
run=$("$MLX" train --data "$ROOT/examples/titanic.csv" --target Survived --features Pclass,Sex,Age,Fare \
  --map Sex=male:0,female:1 -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
[ -f rows.csv ] || python3 - "$ROWS" <<'PY'
import random, sys
random.seed(0)
n = int(sys.argv[1])
with open("rows.csv", "w") as f:
    f.write("PassengerId,Pclass,Sex,Age,Fare\n")
    for i in range(n):
        f.write(f"{i},{random.choice((1,2,3))},{random.choice(('male','female'))},{random.uniform(1,80):.1f},{random.uniform(5,300):.2f}\n")
PY
ls -la rows.csv
/usr/bin/time -f "mlx predict: wall_s=%e peak_rss_kib=%M" "$MLX" predict --model "runs:/$run/model" --data rows.csv \
  --id-column PassengerId --output preds.csv
/usr/bin/time -f "floor (wc -l, reading the file): wall_s=%e" wc -l rows.csv
/usr/bin/time -f "floor (python csv module parse): wall_s=%e" python3 -c "import csv; sum(1 for _ in csv.reader(open('rows.csv')))"
