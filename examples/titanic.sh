#!/usr/bin/env bash
# The main job on the bundled Titanic data: track a run in ./mlruns and list it.
set -euo pipefail
cd "$(dirname "$0")/.."
MLX="${MLX:-./target/release/mlx}"
DATA=examples/titanic.csv
export MLX_RUN_ID=$("$MLX" log start --experiment titanic --name "survival-baseline" --tag data=titanic)
rows=$(($(wc -l < "$DATA") - 1))
# Survival rate by sex: the baseline every Titanic model has to beat.
# (Survived is the 2nd field, before the quoted Name; Sex is matched as a whole field.)
read -r female male overall < <(awk -F, 'NR>1 { n++; s+=$2; if (/,female,/) { f++; fs+=$2 } else { m++; ms+=$2 } }
  END { printf "%.6f %.6f %.6f\n", fs/f, ms/m, s/n }' "$DATA")
"$MLX" log param data "$DATA"
"$MLX" log param rows "$rows"
"$MLX" log metric survival_rate "$overall"
"$MLX" log metric survival_rate_female "$female"
"$MLX" log metric survival_rate_male "$male"
"$MLX" log artifact "$DATA" --dest data
"$MLX" log end
"$MLX" runs list --experiment titanic --output table
