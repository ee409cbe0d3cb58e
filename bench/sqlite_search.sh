#!/usr/bin/env bash
# Search on MLflow's SQLite store (issue 27): mlx vs MLflow 3.17.2 over mlflow.db files of 10,000 and 100,000
# runs, whole processes. See bench/sqlite_search.py for what is made and measured.
#
# Usage: bench/sqlite_search.sh [OUT_DIR] [N...] (default /tmp/mlx-sqlite-bench, 10000 100000)
# Needs: the venv scripts/test.sh makes (MLFLOW_PY to override). REUSE=1 keeps databases already made.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-sqlite-bench}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
PY=${MLFLOW_PY:-$HOME/.cache/mlx-ci/venv/bin/python}
(cd "$ROOT" && cargo build --release -q)
exec "$PY" "$ROOT/bench/sqlite_search.py" "$ROOT/target/release/mlx" "$OUT" "${SIZES[@]}"
