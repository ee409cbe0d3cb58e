#!/usr/bin/env bash
# One page of `mlx ui`'s runs table over an experiment of 10,000 runs (10 params, 5 metrics, a 100-step metric,
# 3 tags each): the JSON the page loads, as the browser asks for it — the first page, and a filtered, sorted one.
# 1,000 runs are logged with `mlx bench populate`, then copied 9 times under new run ids (a bigger store in
# seconds instead of minutes; the copies are runs like the others).
#
# Usage: bench/ui_page_bench.sh [OUT_DIR]      (MLX_BIN=path/to/mlx: that binary instead of this tree's release
#                                               build, e.g. an older build to compare with; same OUT_DIR, same store)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mlx-ui-bench}
mkdir -p "$OUT"; cd "$OUT"
if [ -z "${MLX_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q)
fi
MLX=${MLX_BIN:-$ROOT/target/release/mlx}
export MLX_TRACKING_URI=$OUT/mlruns
if [ ! -d mlruns ]; then
  "$MLX" bench populate --n 1000 --experiment big >/dev/null
  python3 - <<'PY'
import os, shutil, uuid
exp = next(d for d in os.listdir("mlruns") if d not in ("0", ".trash", "models") and not d.startswith("."))
os.chdir(f"mlruns/{exp}")
runs = [d for d in os.listdir(".") if len(d) == 32]
for _ in range(9):
    for r in runs:
        new = uuid.uuid4().hex
        shutil.copytree(r, new, symlinks=True)
        meta = open(f"{new}/meta.yaml").read().replace(r, new)
        open(f"{new}/meta.yaml", "w").write(meta)
PY
fi
exp=$("$MLX" experiments show big -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])')
port=5097
"$MLX" ui --port $port 2>ui.log & pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/experiments" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port/api/experiments/$exp/runs"
page="$base?limit=100"
echo "runs in the experiment: $(curl -s "$base?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
for i in 1 2 3 4 5; do curl -s -o /dev/null -w "first page of 100: %{time_total} s\n" "$page"; done
for i in 1 2 3; do
  curl -s -o /dev/null -w "filtered + sorted page: %{time_total} s\n" \
    "$page&order_by=metrics.accuracy%20DESC&filter=params.model%20%3D%20%27rf%27"
done
