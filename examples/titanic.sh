#!/usr/bin/env bash
# The main job on the bundled Titanic data: train the original app's model (MLproject.toml's main entry
# point) into ./mlruns, list the runs, and predict two passengers with the trained model.
set -euo pipefail
cd "$(dirname "$0")/.."
MLX="${MLX:-./target/release/mlx}"
run_id=$("$MLX" run main | tail -n 1)   # piped, `mlx run` prints the run id last
echo "trained run $run_id"
"$MLX" runs list --experiment titanic --output table

"$MLX" predict --model "runs:/$run_id/model" --data examples/passengers.csv --id-column PassengerId --with-proba
