#!/usr/bin/env bash
# The whole test suite: unit tests, CLI tests driving the binary, and interop tests against the real
# MLflow Python client (installed here into a venv, once, if missing), and the team-backend tests against a
# real MLflow tracking server on PostgreSQL that this script starts on loopback and stops (team-server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"
if ! "$VENV/bin/python" -c 'import sys, mlflow, psycopg2; sys.exit(mlflow.__version__ != "3.17.2")' 2>/dev/null; then
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
cargo test --all-targets
