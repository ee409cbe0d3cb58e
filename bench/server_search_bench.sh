#!/usr/bin/env bash
# Issue #20 on a real MLflow tracking server (PostgreSQL backend, 2 workers; scripts/team-server.sh), its
# experiments populated in-process through MLflow's own SQL store (bench/server_populate.py):
#  1. the query `metrics.accuracy > 0.9 and params.model = 'rf'`, order `metrics.accuracy DESC`, max 10 on
#     an N-run experiment: `mlx runs list` (release build) and the MLflow client's `search_runs`, whole
#     process each, alternated REPS times; medians; the two top 10s must be the same. Also the query with
#     an OR (answered partly on the client).
#  2. `mlx sync` of S runs: server -> folder, folder -> server (a new experiment), then again (copies nothing).
#  3. the UI's first page of runs over a U-run experiment (GET /api/experiments/ID/runs, as the browser).
# Prints the medians, the load average before and after, and the core count.
#
# usage: bench/server_search_bench.sh [--runs N] [--sync S] [--ui U] [--reps R] [--server-dir DIR] [--no-build]
#   --server-dir: a server already started with `scripts/team-server.sh start DIR` (kept running; give
#   its MLX_TEST_SERVER_URI too);
#   default: one is started in a temp dir and stopped at the end. Experiments of the right name and size
#   are reused. --sync 0 / --ui 0 skip those parts.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=5000 S=10000 U=0 REPS=5 DIR="" BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) N=$2; shift 2 ;;
    --sync) S=$2; shift 2 ;;
    --ui) U=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --server-dir) DIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--runs N] [--sync S] [--ui U] [--reps R] [--server-dir DIR] [--no-build]" >&2; exit 2 ;;
  esac
done
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"
PY="$VENV/bin/python"
[ "$BUILD" = 0 ] || (cd "$ROOT" && cargo build --release -q)
MLX=$ROOT/target/release/mlx
WORK=$(mktemp -d /tmp/mlx-server-bench.XXXXXX); chmod 755 "$WORK"
if [ -z "$DIR" ]; then
  DIR=$WORK/server
  trap 'bash "$ROOT/scripts/team-server.sh" stop "$DIR"; rm -rf "$WORK"' EXIT
  eval "$(bash "$ROOT/scripts/team-server.sh" start "$DIR")"
else
  trap 'rm -rf "$WORK"' EXIT
  : "${MLX_TEST_SERVER_URI:?--server-dir also needs MLX_TEST_SERVER_URI (what team-server.sh start printed)}"
fi
URI=$MLX_TEST_SERVER_URI
DB="postgresql+psycopg2://postgres@127.0.0.1:$(cat "$DIR/pgport")/mlflow"
echo "server $URI, load before: $(cut -d' ' -f1-3 /proc/loadavg), cores: $(nproc)"

# An experiment of N runs, populated unless it is already there.
populate() {
  local name=$1 n=$2
  if ! "$MLX" --tracking-uri "$URI" experiments show "$name" >/dev/null 2>&1; then
    "$PY" "$ROOT/bench/server_populate.py" "$DB" "$name" "$n" >&2
  fi
}
median() { "$PY" -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.2f} s (min {min(v):.2f}, max {max(v):.2f}, n={len(v)})")' "$@"; }
# Seconds a command takes (its stdout kept in $WORK/last.out).
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >"$WORK/last.out"; t1=$(date +%s.%N); "$PY" -c "print(round($t1-$t0, 2))"; }

cat >"$WORK/search.py" <<'PY'
import sys, mlflow
c = mlflow.MlflowClient(sys.argv[1])
e = c.get_experiment_by_name(sys.argv[2])
runs = c.search_runs([e.experiment_id], sys.argv[3], order_by=[sys.argv[4]], max_results=10)
print("\n".join(r.info.run_id for r in runs))
PY

EXP=scale$N
populate "$EXP" "$N"
AND="metrics.accuracy > 0.9 and params.model = 'rf'"
OR="metrics.accuracy > 0.9 and (params.model = 'rf' or params.model = 'knn')"
ORDER="metrics.accuracy DESC"
mlx_q() { "$MLX" --tracking-uri "$URI" runs list -e "$EXP" --filter "$1" --order-by "$ORDER" --max 10 -o json; }
ids() { "$PY" -c 'import json,sys; print("\n".join(r["run_id"] for r in json.load(sys.stdin)))'; }
mlx_q "$AND" | ids >"$WORK/mlx.ids"
"$PY" "$WORK/search.py" "$URI" "$EXP" "$AND" "$ORDER" >"$WORK/py.ids"
cmp -s "$WORK/mlx.ids" "$WORK/py.ids" || { echo "different top 10s:" >&2; paste "$WORK/mlx.ids" "$WORK/py.ids" >&2; exit 1; }
echo "same top 10 ($(wc -l <"$WORK/mlx.ids") runs) from mlx and the MLflow client"
m=() p=() o=()
for _ in $(seq 1 "$REPS"); do
  m+=("$(secs mlx_q "$AND")")
  p+=("$(secs "$PY" "$WORK/search.py" "$URI" "$EXP" "$AND" "$ORDER")")
  o+=("$(secs mlx_q "$OR")")
done
echo "query on $N runs, mlx runs list:            $(median "${m[@]}")"
echo "query on $N runs, MLflow client search_runs: $(median "${p[@]}")"
echo "query with an OR on $N runs, mlx runs list: $(median "${o[@]}")"

# The whole experiment without --max (streamed page by page): time to the first byte, whole process, peak
# memory; and `experiments show` (it counts the runs, it does not list them).
cat >"$WORK/first.py" <<'PY'
import resource, subprocess, sys, time
t0 = time.time()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
first = p.stdout.read(1)
t1 = time.time()
n = len(first) + sum(len(b) for b in iter(lambda: p.stdout.read(1 << 16), b""))
p.wait()
t2 = time.time()
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"first byte {t1 - t0:.2f} s, whole {t2 - t0:.2f} s, {n / 1e6:.1f} MB, peak RSS {rss:.0f} MB")
PY
echo "runs list -o json of all $N runs:       $("$PY" "$WORK/first.py" "$MLX" --tracking-uri "$URI" runs list -e "$EXP" -o json)"
echo "runs list -o csv of all $N runs:        $("$PY" "$WORK/first.py" "$MLX" --tracking-uri "$URI" runs list -e "$EXP" -o csv)"
x=()
for _ in $(seq 1 "$REPS"); do x+=("$(secs "$MLX" --tracking-uri "$URI" experiments show "$EXP" -o json)"); done
echo "experiments show on $N runs:            $(median "${x[@]}")"
# Requests the server answered since line $1 of its log.
requests() { tail -n +$(($1 + 1)) "$DIR/mlflow.log" | grep -c '"[A-Z]* /'; }

if [ "$S" -gt 0 ]; then
  SEXP=sync$S
  populate "$SEXP" "$S"
  FOLDER=$WORK/mlruns
  before=$(wc -l <"$DIR/mlflow.log")
  t=$(secs "$MLX" sync --from "$URI" --to "$FOLDER" -e "$SEXP" --no-models)
  echo "sync of $S runs, server -> folder:            $t s, $(requests "$before") requests"
  "$MLX" --tracking-uri "$FOLDER" experiments rename "$SEXP" "$SEXP-back-$$" >/dev/null
  t=$(secs "$MLX" sync --from "$FOLDER" --to "$URI" -e "$SEXP-back-$$" --no-models)
  echo "sync of $S runs, folder -> server:            $t s"
  t=$(secs "$MLX" sync --from "$FOLDER" --to "$URI" -e "$SEXP-back-$$" --no-models -o json)
  echo "sync again, folder -> server (nothing to copy): $t s; $(tr -d '\n ' <"$WORK/last.out")"
fi

if [ "$U" -gt 0 ]; then
  UEXP=scale$U
  populate "$UEXP" "$U"
  id=$("$MLX" --tracking-uri "$URI" experiments show "$UEXP" -o json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])')
  "$MLX" --tracking-uri "$URI" ui --port 0 >"$WORK/ui.log" 2>&1 &
  ui_pid=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$WORK/ui.log" && break; sleep 0.2; done
  url=$(grep -o 'listening on http://[0-9.:]*' "$WORK/ui.log" | head -1 | sed 's/listening on //')
  u=()
  for _ in $(seq 1 "$REPS"); do u+=("$(secs curl -fsS "$url/api/experiments/$id/runs?limit=100")"); done
  kill "$ui_pid"
  echo "UI first page (100 runs) over $U runs:        $(median "${u[@]}")"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
