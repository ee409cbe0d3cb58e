#!/usr/bin/env bash
# The whole test suite: unit tests, CLI tests driving the binary, and interop tests against the real
# MLflow Python client (installed here into a venv, once, if missing), and the team-backend tests against a
# real MLflow tracking server on PostgreSQL that this script starts on loopback and stops (team-server.sh).
#
# usage: bash scripts/test.sh [--repeat N]    (--repeat: run the suite N times in a row, stop at the first failure)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=1
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="${2:-}"; shift 2 || { echo "test.sh: --repeat needs a number" >&2; exit 2; } ;;
    --repeat=*) repeat="${1#--repeat=}"; shift ;;
    *) echo "test.sh: unknown argument '$1' (usage: test.sh [--repeat N])" >&2; exit 2 ;;
  esac
done
case "$repeat" in ''|*[!0-9]*|0) echo "test.sh: --repeat takes a positive whole number, not '$repeat'" >&2; exit 2 ;; esac
# What the suite needs from the machine (.ci/run installs these with apt-get): PostgreSQL for the team
# server, Chromium for the `mlx ui` tests, openssl for the TLS test, Java for PySpark's spark_udf test.
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x "${MLX_TEST_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: the suite needs ${missing[*]}; install them (apt-get install ${missing[*]}, as .ci/run does)" >&2
  exit 2
fi
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"
if ! "$VENV/bin/python" -c 'import sys, mlflow, psycopg2, pyspark, lightgbm, xgboost, skops; sys.exit(mlflow.__version__ != "3.17.2")' 2>/dev/null \
   || [ ! -x "$VENV/bin/uv" ]; then
  echo "test.sh: installing tests/requirements.txt into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r tests/requirements.txt
fi
export MLX_TEST_PYTHON="$VENV/bin/python"
# The team-backend tests need a real MLflow tracking server (PostgreSQL-backed); start one unless given.
if [ -z "${MLX_TEST_SERVER_URI:-}" ]; then
  team_dir="$(mktemp -d /tmp/mlx-team.XXXXXX)"
  trap 'bash scripts/team-server.sh stop "$team_dir/server"; rm -rf "$team_dir"' EXIT
  chmod 755 "$team_dir"
  exports=$(MLX_VENV="$VENV" bash scripts/team-server.sh start "$team_dir/server")
  eval "$exports"
  export MLX_TEST_SERVER_URI
fi
for i in $(seq 1 "$repeat"); do
  [ "$repeat" -gt 1 ] && echo "test.sh: run $i of $repeat" >&2
  cargo test --all-targets
done
[ "$repeat" -gt 1 ] && echo "test.sh: $repeat runs in a row passed" >&2
exit 0
